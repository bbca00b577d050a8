package calib

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qtool/qtool/engine"
)

// sizes is a source whose item i is a float vector of sizes[i] values
// i, i+1, ..., labelled i%3.
type sizes []int

func (s sizes) Len() int          { return len(s) }
func (s sizes) Name(i int) string { return fmt.Sprintf("item%d", i) }
func (s sizes) Item(i int) (Item, error) {
	v := make([]float32, s[i])
	for k := range v {
		v[k] = float32(i + k)
	}
	return Item{Inputs: map[string]*engine.Tensor{"x": engine.NewFloat32([]int{s[i]}, v)}, Label: i % 3}, nil
}

// TestReadBatch: items stacked in order with their labels; items of
// different shapes and out-of-range spans are errors naming them.
func TestReadBatch(t *testing.T) {
	src := sizes{2, 2, 2, 2, 3}
	in, labels, err := ReadBatch(src, 1, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := in["x"]
	if fmt.Sprint(x.Shape) != "[3 2]" || fmt.Sprint(x.F32) != "[1 2 2 3 3 4]" || fmt.Sprint(labels) != "[1 2 0]" {
		t.Errorf("got %v %v, labels %v", x.Shape, x.F32, labels)
	}
	if _, _, err := ReadBatch(src, 2, 5, 0); err == nil || !strings.Contains(err.Error(), "item4") {
		t.Errorf("mixed shapes: %v", err)
	}
	if _, _, err := ReadBatch(src, 3, 6, 0); err == nil {
		t.Error("items past the end were read")
	}
}

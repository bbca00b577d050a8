package calib

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/qtool/qtool/engine"
)

// flaky is a source whose items at the given positions cannot be read.
type flaky struct {
	n     int
	shape []int
	bad   map[int]bool
}

func (f flaky) Len() int          { return f.n }
func (f flaky) Name(i int) string { return fmt.Sprintf("item%d", i) }
func (f flaky) Item(i int) (Item, error) {
	if f.bad[i] {
		return Item{}, errors.New(f.Name(i) + ": unreadable")
	}
	v := engine.NewFloat32(f.shape, nil)
	v.F32[0] = float32(i)
	return Item{Inputs: map[string]*engine.Tensor{"x": v}, Label: -1}, nil
}

// Readable keeps the readable items in order and returns the others'
// errors, across more items than it reads at once.
func TestReadable(t *testing.T) {
	src := flaky{n: 150, shape: []int{2}, bad: map[int]bool{3: true, 64: true, 149: true}}
	good, errs, err := Readable(src, 3)
	if err != nil || good.Len() != 147 || len(errs) != 3 || !strings.Contains(errs[1].Error(), "item64") {
		t.Fatalf("Readable: %d good, errors %v, %v", good.Len(), errs, err)
	}
	for i, want := range []int{0, 1, 2, 4, 5} {
		it, err := good.Item(i)
		if err != nil || it.Inputs["x"].F32[0] != float32(want) || good.Name(i) != src.Name(want) {
			t.Errorf("item %d is %s, want item%d", i, good.Name(i), want)
		}
	}
	if all, errs, err := Readable(flaky{n: 4, shape: []int{2}}, 0); err != nil || all.Len() != 4 || errs != nil {
		t.Errorf("all readable: %v %v", errs, err)
	}
	if _, _, err := Readable(flaky{n: 2, shape: []int{2}, bad: map[int]bool{0: true, 1: true}}, 0); err == nil || !strings.Contains(err.Error(), "none of the 2 items") {
		t.Errorf("none readable: %v", err)
	}
}

// DefaultBatch takes 16 small items per run and one large one.
func TestDefaultBatch(t *testing.T) {
	for _, c := range []struct {
		shape []int
		want  int
	}{
		{[]int{1, 28, 28}, 16},
		{[]int{3, 48, 192}, 9},
		{[]int{3, 224, 224}, 1},
		{[]int{3, 320, 320}, 1},
	} {
		if got := DefaultBatch(flaky{n: 3, shape: c.shape}); got != c.want {
			t.Errorf("%v: batch %d, want %d", c.shape, got, c.want)
		}
	}
	if got := DefaultBatch(flaky{n: 3, shape: []int{2}, bad: map[int]bool{0: true}}); got != 16 {
		t.Errorf("unreadable first item: batch %d", got)
	}
}

package testdeps

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"
)

// The runner itself must work before other tests trust it: Relu of a
// known vector through ONNX Runtime.
func TestRunORT(t *testing.T) {
	model := filepath.Join(Conformance(t), "node", "test_relu", "model.onnx")
	in := make([]byte, 3*4*5*4)
	for i := 0; i < 60; i++ {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(float32(i-30)))
	}
	outs, err := RunORT(t, model, []ORTTensor{{Name: "x", Type: "float32", Dims: []int64{3, 4, 5}, Data: in}})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Type != "float32" || len(outs[0].Data) != 240 {
		t.Fatalf("got %+v", outs)
	}
	for i := 0; i < 60; i++ {
		got := math.Float32frombits(binary.LittleEndian.Uint32(outs[0].Data[4*i:]))
		if want := float32(max(i-30, 0)); got != want {
			t.Fatalf("relu[%d] = %v, want %v", i, got, want)
		}
	}
}

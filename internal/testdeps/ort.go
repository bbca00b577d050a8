package testdeps

import (
	"encoding/binary"
	"math"
	"testing"
)

// ORTTensor is one tensor passed to or returned by ONNX Runtime: raw
// little-endian data in row-major order.
type ORTTensor struct {
	Name string  `json:"name"`
	Type string  `json:"type"` // onnxruntime-node's names: float32, int64, uint8...
	Dims []int64 `json:"dims"`
	Data []byte  `json:"-"`
	// File holds the data instead of Data: an output's, or an input
	// written once and passed to many jobs.
	File string `json:"file"`
}

// RunORT runs the model at path through ONNX Runtime on one thread and
// returns its outputs in the model's output order. It skips or fails (see
// package doc) when ONNX Runtime is not installed.
func RunORT(t testing.TB, model string, inputs []ORTTensor) ([]ORTTensor, error) {
	t.Helper()
	r := RunORTBatch(t, []ORTJob{{Model: model, Inputs: inputs}})[0]
	return r.Outputs, r.Err
}

// ORTFloat32 is a float32 input named name with shape dims (engine
// style, ints) holding data.
func ORTFloat32(name string, dims []int, data []float32) ORTTensor {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	d := make([]int64, len(dims))
	for i, n := range dims {
		d[i] = int64(n)
	}
	return ORTTensor{Name: name, Type: "float32", Dims: d, Data: raw}
}

// Float32s decodes a float32 tensor's data.
func Float32s(t ORTTensor) []float32 {
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v
}

// Package ort runs ONNX models through ONNX Runtime's C API, loaded at run
// time from a libonnxruntime shared library the user names, so that
// `qtool bench --ort LIB` can time ONNX Runtime beside qtool's engine on
// the same inputs in the same process.
//
// Calling C needs cgo, so the binding is built only with the build tag
// ort and cgo on Linux or macOS (go build -tags ort): it dlopens the
// library, so building needs a C compiler but neither ONNX Runtime's
// headers nor its library. Every other build (the default one, and the
// static CGO_ENABLED=0 binaries of `make dist`, which could not dlopen a
// glibc library anyway) has Open return ErrNotBuilt.
package ort

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// ErrNotBuilt is Open's error in a build without the binding.
var ErrNotBuilt = errors.New("this qtool was built without ONNX Runtime support; rebuild with -tags ort " +
	"(needs cgo: CGO_ENABLED=1 and a C compiler, on Linux or macOS)")

// Tensor is an input or output: an ONNX element type (TensorProto's data
// type numbers, which ONNX Runtime shares), the dimensions and the raw
// little-endian data in row-major order.
type Tensor struct {
	Name string
	Type int32
	Dims []int64
	Data []byte
}

// elemSize is the byte size of the element types the binding passes;
// 0 for the others (strings, sub-byte and complex types).
func elemSize(t int32) int {
	switch t {
	case 2, 3, 9: // uint8, int8, bool
		return 1
	case 4, 5, 10, 16: // uint16, int16, float16, bfloat16
		return 2
	case 1, 6, 12: // float, int32, uint32
		return 4
	case 7, 11, 13: // int64, double, uint64
		return 8
	}
	return 0
}

// checkTensor refuses an input whose data does not fill its dimensions.
func checkTensor(t Tensor) error {
	size := elemSize(t.Type)
	if size == 0 {
		return fmt.Errorf("input %q: element type %d is not supported by the ONNX Runtime binding", t.Name, t.Type)
	}
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("input %q: negative dimension in %v", t.Name, t.Dims)
		}
		n *= d
	}
	if int64(len(t.Data)) != n*int64(size) {
		return fmt.Errorf("input %q: %d bytes of data for dimensions %v of %d-byte elements", t.Name, len(t.Data), t.Dims, size)
	}
	return nil
}

// FromEngine is t as an ONNX Runtime input named name.
func FromEngine(name string, t *engine.Tensor) (Tensor, error) {
	var data any
	switch t.Type {
	case onnxio.Float:
		data = t.F32
	case onnxio.Int64:
		data = t.I64
	case onnxio.Int32:
		data = t.I32
	case onnxio.Uint8:
		data = t.U8
	case onnxio.Int8:
		data = t.I8
	case onnxio.Int16:
		data = t.I16
	case onnxio.Uint16:
		data = t.U16
	case onnxio.Bool:
		data = t.Bool // one byte each, as ONNX Runtime holds them
	default:
		return Tensor{}, fmt.Errorf("input %q: element type %s is not supported by the ONNX Runtime binding", name, onnxio.DataTypeName(t.Type))
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, data); err != nil {
		return Tensor{}, fmt.Errorf("input %q: %w", name, err)
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	return Tensor{Name: name, Type: int32(t.Type), Dims: dims, Data: buf.Bytes()}, nil
}

package engine

import (
	"fmt"
	"strconv"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Tensor is a dense row-major tensor. Exactly one of the data slices
// matching Type is set: F32 for FLOAT, I64 for INT64, I32 for INT32, U8
// for UINT8 and UINT4, I8 for INT8 and INT4, I16 for INT16, U16 for
// UINT16, U64 for UINT64 and Bool for BOOL, the element types the engine
// handles (float32 for activations and weights, the others for shape,
// index and mask values, the integer types of quantized tensors between
// QuantizeLinear and DequantizeLinear, and uint64 for the packed sign bits
// of the binary operators). 4-bit values are held one per byte, unpacked.
// A scalar has an empty Shape and one element.
type Tensor struct {
	Type  onnxio.DataType
	Shape []int
	F32   []float32
	I64   []int64
	I32   []int32
	U8    []uint8
	I8    []int8
	I16   []int16
	U16   []uint16
	U64   []uint64
	Bool  []bool
}

// NewFloat32 returns a float32 tensor of shape holding data (not copied).
// data nil allocates zeros.
func NewFloat32(shape []int, data []float32) *Tensor {
	n := numel(shape)
	if data == nil {
		data = make([]float32, n)
	}
	if len(data) != n {
		panic(fmt.Sprintf("engine: NewFloat32: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Type: onnxio.Float, Shape: append([]int{}, shape...), F32: data}
}

// NewInt64 returns an int64 tensor of shape holding data (not copied).
func NewInt64(shape []int, data []int64) *Tensor {
	n := numel(shape)
	if data == nil {
		data = make([]int64, n)
	}
	if len(data) != n {
		panic(fmt.Sprintf("engine: NewInt64: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Type: onnxio.Int64, Shape: append([]int{}, shape...), I64: data}
}

// Zeros returns a zeroed tensor of type dt and the given shape, or an
// error for an element type the engine does not handle.
func Zeros(dt onnxio.DataType, shape []int) (*Tensor, error) {
	if supportedType(dt) {
		return newTensor(dt, shape), nil
	}
	return nil, fmt.Errorf("engine: element type %s is not supported", onnxio.DataTypeName(dt))
}

// newTensor allocates a zeroed tensor of type dt.
func newTensor(dt onnxio.DataType, shape []int) *Tensor {
	t := &Tensor{Type: dt, Shape: append([]int{}, shape...)}
	n := numel(shape)
	switch dt {
	case onnxio.Float:
		t.F32 = make([]float32, n)
	case onnxio.Int64:
		t.I64 = make([]int64, n)
	case onnxio.Int32:
		t.I32 = make([]int32, n)
	case onnxio.Uint8, onnxio.Uint4:
		t.U8 = make([]uint8, n)
	case onnxio.Int8, onnxio.Int4:
		t.I8 = make([]int8, n)
	case onnxio.Int16:
		t.I16 = make([]int16, n)
	case onnxio.Uint16:
		t.U16 = make([]uint16, n)
	case onnxio.Uint64:
		t.U64 = make([]uint64, n)
	case onnxio.Bool:
		t.Bool = make([]bool, n)
	default:
		panic("engine: unsupported element type " + onnxio.DataTypeName(dt))
	}
	return t
}

// supportedType reports whether the engine holds tensors of dt.
func supportedType(dt onnxio.DataType) bool {
	switch dt {
	case onnxio.Float, onnxio.Int64, onnxio.Int32, onnxio.Uint8, onnxio.Int8, onnxio.Bool,
		onnxio.Int16, onnxio.Uint16, onnxio.Int4, onnxio.Uint4, onnxio.Uint64:
		return true
	}
	return false
}

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.Shape) }

// String describes the tensor's type and shape, as "float32[1,3,224,224]".
func (t *Tensor) String() string {
	return onnxio.DataTypeName(t.Type) + shapeString(t.Shape)
}

func shapeString(s []int) string {
	b := make([]byte, 0, 4*len(s)+2)
	b = append(b, '[')
	for i, d := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	return string(append(b, ']'))
}

// view returns a tensor sharing t's data with another shape of the same
// element count.
func (t *Tensor) view(shape []int) *Tensor {
	v := *t
	v.Shape = append([]int{}, shape...)
	return &v
}

// clone deep-copies t.
func (t *Tensor) clone() *Tensor {
	c := newTensor(t.Type, t.Shape)
	copyData(c, t)
	return c
}

// copyData copies src's elements into dst (same type and count).
func copyData(dst, src *Tensor) {
	switch src.Type {
	case onnxio.Float:
		copy(dst.F32, src.F32)
	case onnxio.Int64:
		copy(dst.I64, src.I64)
	case onnxio.Int32:
		copy(dst.I32, src.I32)
	case onnxio.Uint8, onnxio.Uint4:
		copy(dst.U8, src.U8)
	case onnxio.Int8, onnxio.Int4:
		copy(dst.I8, src.I8)
	case onnxio.Int16:
		copy(dst.I16, src.I16)
	case onnxio.Uint16:
		copy(dst.U16, src.U16)
	case onnxio.Uint64:
		copy(dst.U64, src.U64)
	case onnxio.Bool:
		copy(dst.Bool, src.Bool)
	}
}

// ints returns the values of an integer tensor as int64 (shape inputs).
func (t *Tensor) ints() []int64 {
	switch t.Type {
	case onnxio.Int64:
		return t.I64
	case onnxio.Int32:
		out := make([]int64, len(t.I32))
		for i, v := range t.I32 {
			out[i] = int64(v)
		}
		return out
	case onnxio.Uint8, onnxio.Int8, onnxio.Int16, onnxio.Uint16, onnxio.Int4, onnxio.Uint4:
		out := make([]int64, t.Len())
		for i := range out {
			out[i] = int64(t.at(i))
		}
		return out
	case onnxio.Float:
		out := make([]int64, len(t.F32))
		for i, v := range t.F32 {
			out[i] = int64(v)
		}
		return out
	}
	return nil
}

// floats returns the values of a tensor as float32 (scales, constants).
func (t *Tensor) floats() []float32 {
	if t.Type == onnxio.Float {
		return t.F32
	}
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = float32(t.at(i))
	}
	return out
}

// at returns element i as float64, for any type.
func (t *Tensor) at(i int) float64 {
	switch t.Type {
	case onnxio.Float:
		return float64(t.F32[i])
	case onnxio.Int64:
		return float64(t.I64[i])
	case onnxio.Int32:
		return float64(t.I32[i])
	case onnxio.Uint8, onnxio.Uint4:
		return float64(t.U8[i])
	case onnxio.Int8, onnxio.Int4:
		return float64(t.I8[i])
	case onnxio.Int16:
		return float64(t.I16[i])
	case onnxio.Uint16:
		return float64(t.U16[i])
	case onnxio.Uint64:
		return float64(t.U64[i])
	case onnxio.Bool:
		if t.Bool[i] {
			return 1
		}
	}
	return 0
}

// hasData reports whether the tensor holds values (plan-time tensors of
// live values carry only a shape).
func (t *Tensor) hasData() bool {
	return t.F32 != nil || t.I64 != nil || t.I32 != nil || t.U8 != nil || t.I8 != nil || t.I16 != nil || t.U16 != nil || t.U64 != nil || t.Bool != nil || t.Len() == 0
}

// TensorFromProto decodes an ONNX TensorProto (an initializer or a
// conformance test's .pb file). m may be nil when the tensor has no
// external data.
func TensorFromProto(m *onnxio.Model, tp *pb.TensorProto) (*Tensor, error) {
	dt := onnxio.DataType(tp.GetDataType())
	shape := make([]int, len(tp.GetDims()))
	for i, d := range tp.GetDims() {
		shape[i] = int(d)
	}
	t := &Tensor{Type: dt, Shape: shape}
	var err error
	switch dt {
	case onnxio.Float:
		t.F32, err = onnxio.Decode[float32](m, tp)
	case onnxio.Int64:
		t.I64, err = onnxio.Decode[int64](m, tp)
	case onnxio.Int32:
		t.I32, err = onnxio.Decode[int32](m, tp)
	case onnxio.Uint8, onnxio.Uint4:
		t.U8, err = onnxio.Decode[uint8](m, tp)
	case onnxio.Int8, onnxio.Int4:
		t.I8, err = onnxio.Decode[int8](m, tp)
	case onnxio.Int16:
		t.I16, err = onnxio.Decode[int16](m, tp)
	case onnxio.Uint16:
		t.U16, err = onnxio.Decode[uint16](m, tp)
	case onnxio.Uint64:
		t.U64, err = onnxio.Decode[uint64](m, tp)
	case onnxio.Bool:
		t.Bool, err = onnxio.Decode[bool](m, tp)
	default:
		return nil, fmt.Errorf("tensor %q: element type %s is not supported by the engine", tp.GetName(), onnxio.DataTypeName(dt))
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// strides returns row-major strides of shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(a int64, rank int) (int, error) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, rank)
	}
	return int(a), nil
}

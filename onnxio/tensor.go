package onnxio

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// F16 is an IEEE 754 half-precision float, as its bits.
type F16 uint16

// BF16 is a bfloat16 (the top half of a float32), as its bits.
type BF16 uint16

// Elem lists the Go element types tensors convert to and from. int8 also
// holds INT4 and uint8 holds UINT4, one element per byte once unpacked.
type Elem interface {
	float32 | float64 | F16 | BF16 | int8 | uint8 | int16 | uint16 |
		int32 | uint32 | int64 | uint64 | bool
}

// TensorBytes returns t's data as little-endian bytes in row-major order,
// the layout raw_data uses (sub-byte types packed, low bits first), reading
// external data from disk if need be. It works for every fixed-width type,
// whichever field the data is stored in. The result may alias t's raw_data:
// do not modify it. m may be nil for a tensor that is not in a model.
func (m *Model) TensorBytes(t *pb.TensorProto) ([]byte, error) {
	dt := DataType(t.GetDataType())
	bits := ElemBits(dt)
	if bits == 0 {
		if dt == pb.TensorProto_STRING {
			return nil, fmt.Errorf("tensor %q: string tensors have no fixed-width bytes", t.GetName())
		}
		return nil, fmt.Errorf("tensor %q: unknown data type %d; this qtool knows ONNX types up to INT2=26", t.GetName(), t.GetDataType())
	}
	if t.GetSegment() != nil {
		return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", t.GetName())
	}
	n, err := NumElements(t.GetDims())
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	want := ByteSize(dt, n)
	if IsExternal(t) {
		if m == nil {
			return nil, fmt.Errorf("tensor %q: has external data but no model to resolve it against", t.GetName())
		}
		return m.readExternal(t, want)
	}
	if t.RawData != nil {
		if int64(len(t.RawData)) != want {
			return nil, fmt.Errorf("tensor %q: raw_data holds %d bytes but shape %v of %s needs %d", t.GetName(), len(t.RawData), t.GetDims(), DataTypeName(dt), want)
		}
		return t.RawData, nil
	}
	return typedBytes(t, dt, n, want)
}

// typedField names the repeated field that holds t's values when it has
// no raw_data, with how many entries it holds and how many the shape needs.
func typedField(t *pb.TensorProto, dt DataType, n, want int64) (field string, have, need int64) {
	switch dt {
	case pb.TensorProto_FLOAT, pb.TensorProto_COMPLEX64:
		return "float_data", int64(len(t.FloatData)), want / 4
	case pb.TensorProto_DOUBLE, pb.TensorProto_COMPLEX128:
		return "double_data", int64(len(t.DoubleData)), want / 8
	case pb.TensorProto_INT64:
		return "int64_data", int64(len(t.Int64Data)), n
	case pb.TensorProto_UINT32, pb.TensorProto_UINT64:
		return "uint64_data", int64(len(t.Uint64Data)), n
	case pb.TensorProto_STRING:
		return "string_data", int64(len(t.StringData)), n
	}
	// The rest live in int32_data: one element per entry, except sub-byte
	// types, which store one packed byte per entry.
	if ElemBits(dt) < 8 {
		return "int32_data", int64(len(t.Int32Data)), want
	}
	return "int32_data", int64(len(t.Int32Data)), n
}

// typedBytes converts the typed repeated fields into raw_data layout.
func typedBytes(t *pb.TensorProto, dt DataType, n, want int64) ([]byte, error) {
	field, have, need := typedField(t, dt, n, want)
	if have != need {
		return nil, fmt.Errorf("tensor %q: %s holds %d values but shape %v of %s needs %d", t.GetName(), field, have, t.GetDims(), DataTypeName(dt), need)
	}
	b := make([]byte, want)
	switch field {
	case "float_data":
		for i, v := range t.FloatData {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case "double_data":
		for i, v := range t.DoubleData {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
	case "int64_data":
		for i, v := range t.Int64Data {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
		}
	case "uint64_data":
		for i, v := range t.Uint64Data {
			if dt == pb.TensorProto_UINT32 {
				binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
			} else {
				binary.LittleEndian.PutUint64(b[8*i:], v)
			}
		}
	default:
		for i, v := range t.Int32Data {
			switch ElemBits(dt) {
			case 16:
				binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
			case 32:
				binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
			default:
				b[i] = byte(v)
			}
		}
	}
	return b, nil
}

// elemType maps a Go element type to the ONNX types it may hold.
func elemTypes[T Elem]() []DataType {
	var z T
	switch any(z).(type) {
	case float32:
		return []DataType{pb.TensorProto_FLOAT}
	case float64:
		return []DataType{pb.TensorProto_DOUBLE}
	case F16:
		return []DataType{pb.TensorProto_FLOAT16}
	case BF16:
		return []DataType{pb.TensorProto_BFLOAT16}
	case int8:
		return []DataType{pb.TensorProto_INT8, pb.TensorProto_INT4}
	case uint8:
		return []DataType{pb.TensorProto_UINT8, pb.TensorProto_UINT4}
	case int16:
		return []DataType{pb.TensorProto_INT16}
	case uint16:
		return []DataType{pb.TensorProto_UINT16}
	case int32:
		return []DataType{pb.TensorProto_INT32}
	case uint32:
		return []DataType{pb.TensorProto_UINT32}
	case int64:
		return []DataType{pb.TensorProto_INT64}
	case uint64:
		return []DataType{pb.TensorProto_UINT64}
	case bool:
		return []DataType{pb.TensorProto_BOOL}
	}
	panic("unreachable")
}

func goTypeName[T Elem]() string {
	var z T
	return fmt.Sprintf("%T", z)
}

// Decode returns t's elements as a Go slice. T must match the tensor's
// type: float32 for FLOAT, F16 for FLOAT16, int8 for INT8 or INT4 (one
// element per int8, sign-extended), uint8 for UINT8 or UINT4, and so on.
// Use ToFloat32 to convert between types. m may be nil for a tensor that
// does not live in a model with external data.
func Decode[T Elem](m *Model, t *pb.TensorProto) ([]T, error) {
	dt := DataType(t.GetDataType())
	ok := false
	for _, d := range elemTypes[T]() {
		ok = ok || d == dt
	}
	if !ok {
		return nil, fmt.Errorf("tensor %q is %s, not %s", t.GetName(), DataTypeName(dt), goTypeName[T]())
	}
	b, err := m.TensorBytes(t)
	if err != nil {
		return nil, err
	}
	n, _ := NumElements(t.GetDims()) // checked by TensorBytes
	out := make([]T, n)
	switch o := any(out).(type) {
	case []int8:
		if dt == pb.TensorProto_INT4 {
			for i := range o {
				o[i] = int8(nibble(b, i)<<4) >> 4
			}
			return out, nil
		}
	case []uint8:
		if dt == pb.TensorProto_UINT4 {
			for i := range o {
				o[i] = nibble(b, i)
			}
			return out, nil
		}
	}
	if _, err := binary.Decode(b, binary.LittleEndian, out); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	return out, nil
}

// nibble is element i of a 4-bit packed buffer: low nibble first.
func nibble(b []byte, i int) uint8 {
	return b[i/2] >> (4 * (i & 1)) & 0xF
}

// NewTensor builds an initializer-style tensor holding v in raw_data. dt
// says the ONNX type: it must be one T can hold (Int4 for int8 values in
// [-8, 7], Uint4 for uint8 values in [0, 15], or T's natural type).
func NewTensor[T Elem](name string, dt DataType, dims []int64, v []T) (*pb.TensorProto, error) {
	ok := false
	for _, d := range elemTypes[T]() {
		ok = ok || d == dt
	}
	if !ok {
		return nil, fmt.Errorf("tensor %q: %s values cannot be stored as %s", name, goTypeName[T](), DataTypeName(dt))
	}
	n, err := NumElements(dims)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if int64(len(v)) != n {
		return nil, fmt.Errorf("tensor %q: %d values for shape %v (%d elements)", name, len(v), dims, n)
	}
	b := make([]byte, ByteSize(dt, n))
	switch s := any(v).(type) {
	case []int8:
		if dt == pb.TensorProto_INT4 {
			for i, x := range s {
				if x < -8 || x > 7 {
					return nil, fmt.Errorf("tensor %q: value %d at %d is outside int4's [-8, 7]", name, x, i)
				}
				b[i/2] |= (uint8(x) & 0xF) << (4 * (i & 1))
			}
			return rawTensor(name, dt, dims, b), nil
		}
	case []uint8:
		if dt == pb.TensorProto_UINT4 {
			for i, x := range s {
				if x > 15 {
					return nil, fmt.Errorf("tensor %q: value %d at %d is outside uint4's [0, 15]", name, x, i)
				}
				b[i/2] |= x << (4 * (i & 1))
			}
			return rawTensor(name, dt, dims, b), nil
		}
	}
	if _, err := binary.Encode(b, binary.LittleEndian, v); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return rawTensor(name, dt, dims, b), nil
}

func rawTensor(name string, dt DataType, dims []int64, b []byte) *pb.TensorProto {
	return &pb.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(dt)),
		Dims:     append([]int64{}, dims...),
		RawData:  b,
	}
}

// ToFloat32 converts any numeric tensor (float, half, bfloat16, double,
// the integer types including 4-bit, and bool) to float32 values.
func ToFloat32(m *Model, t *pb.TensorProto) ([]float32, error) {
	switch DataType(t.GetDataType()) {
	case pb.TensorProto_FLOAT:
		return Decode[float32](m, t)
	case pb.TensorProto_DOUBLE:
		return convert[float64](m, t)
	case pb.TensorProto_FLOAT16:
		return mapTo(m, t, F16.Float32)
	case pb.TensorProto_BFLOAT16:
		return mapTo(m, t, BF16.Float32)
	case pb.TensorProto_INT8, pb.TensorProto_INT4:
		return convert[int8](m, t)
	case pb.TensorProto_UINT8, pb.TensorProto_UINT4:
		return convert[uint8](m, t)
	case pb.TensorProto_INT16:
		return convert[int16](m, t)
	case pb.TensorProto_UINT16:
		return convert[uint16](m, t)
	case pb.TensorProto_INT32:
		return convert[int32](m, t)
	case pb.TensorProto_UINT32:
		return convert[uint32](m, t)
	case pb.TensorProto_INT64:
		return convert[int64](m, t)
	case pb.TensorProto_UINT64:
		return convert[uint64](m, t)
	case pb.TensorProto_BOOL:
		return mapTo(m, t, func(b bool) float32 {
			if b {
				return 1
			}
			return 0
		})
	}
	return nil, fmt.Errorf("tensor %q: %s does not convert to float32", t.GetName(), DataTypeName(DataType(t.GetDataType())))
}

// ToInt64 converts an integer tensor (as shape and index tensors are) to
// int64 values.
func ToInt64(m *Model, t *pb.TensorProto) ([]int64, error) {
	switch DataType(t.GetDataType()) {
	case pb.TensorProto_INT64:
		return Decode[int64](m, t)
	case pb.TensorProto_INT32:
		return widen[int32](m, t)
	case pb.TensorProto_INT16:
		return widen[int16](m, t)
	case pb.TensorProto_INT8, pb.TensorProto_INT4:
		return widen[int8](m, t)
	case pb.TensorProto_UINT8, pb.TensorProto_UINT4:
		return widen[uint8](m, t)
	case pb.TensorProto_UINT16:
		return widen[uint16](m, t)
	case pb.TensorProto_UINT32:
		return widen[uint32](m, t)
	}
	return nil, fmt.Errorf("tensor %q: %s is not an integer type that fits int64", t.GetName(), DataTypeName(DataType(t.GetDataType())))
}

type realNumber interface {
	float64 | int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64
}

func convert[T realNumber](m *Model, t *pb.TensorProto) ([]float32, error) {
	return mapTo(m, t, func(x T) float32 { return float32(x) })
}

func widen[T int8 | uint8 | int16 | uint16 | int32 | uint32](m *Model, t *pb.TensorProto) ([]int64, error) {
	return mapTo(m, t, func(x T) int64 { return int64(x) })
}

// mapTo decodes t as T and converts each element with f.
func mapTo[T Elem, U any](m *Model, t *pb.TensorProto, f func(T) U) ([]U, error) {
	v, err := Decode[T](m, t)
	if err != nil {
		return nil, err
	}
	out := make([]U, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out, nil
}

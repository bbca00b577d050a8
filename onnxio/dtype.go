package onnxio

import (
	"fmt"
	"math/bits"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// DataType is an ONNX tensor element type.
type DataType = pb.TensorProto_DataType

// The element types, re-exported so callers need not import onnxpb.
const (
	Float      = pb.TensorProto_FLOAT
	Uint8      = pb.TensorProto_UINT8
	Int8       = pb.TensorProto_INT8
	Uint16     = pb.TensorProto_UINT16
	Int16      = pb.TensorProto_INT16
	Int32      = pb.TensorProto_INT32
	Int64      = pb.TensorProto_INT64
	String     = pb.TensorProto_STRING
	Bool       = pb.TensorProto_BOOL
	Float16    = pb.TensorProto_FLOAT16
	Double     = pb.TensorProto_DOUBLE
	Uint32     = pb.TensorProto_UINT32
	Uint64     = pb.TensorProto_UINT64
	Complex64  = pb.TensorProto_COMPLEX64
	Complex128 = pb.TensorProto_COMPLEX128
	BFloat16   = pb.TensorProto_BFLOAT16
	Uint4      = pb.TensorProto_UINT4
	Int4       = pb.TensorProto_INT4
)

// maxElements bounds any tensor's element count. It is far above any real
// model and keeps byte counts well inside int64.
const maxElements = 1 << 48

// ElemBits is the width of one element of dt in bits (4 for int4, 2 for
// int2), or 0 for STRING and for types this version does not know.
func ElemBits(dt DataType) int {
	switch dt {
	case pb.TensorProto_BOOL, pb.TensorProto_INT8, pb.TensorProto_UINT8,
		pb.TensorProto_FLOAT8E4M3FN, pb.TensorProto_FLOAT8E4M3FNUZ,
		pb.TensorProto_FLOAT8E5M2, pb.TensorProto_FLOAT8E5M2FNUZ, pb.TensorProto_FLOAT8E8M0:
		return 8
	case pb.TensorProto_INT16, pb.TensorProto_UINT16, pb.TensorProto_FLOAT16, pb.TensorProto_BFLOAT16:
		return 16
	case pb.TensorProto_INT32, pb.TensorProto_UINT32, pb.TensorProto_FLOAT:
		return 32
	case pb.TensorProto_INT64, pb.TensorProto_UINT64, pb.TensorProto_DOUBLE, pb.TensorProto_COMPLEX64:
		return 64
	case pb.TensorProto_COMPLEX128:
		return 128
	case pb.TensorProto_INT4, pb.TensorProto_UINT4, pb.TensorProto_FLOAT4E2M1:
		return 4
	case pb.TensorProto_INT2, pb.TensorProto_UINT2:
		return 2
	}
	return 0
}

// KnownDataType reports whether dt is an element type of the ONNX schema
// qtool was built with.
func KnownDataType(dt DataType) bool {
	return dt == pb.TensorProto_STRING || ElemBits(dt) > 0
}

// DataTypeName is the ONNX name of dt in lower case ("float", "int8"), as
// inspect prints it, or "type(N)" for an unknown value.
func DataTypeName(dt DataType) string {
	if !KnownDataType(dt) {
		return fmt.Sprintf("type(%d)", int32(dt))
	}
	switch dt {
	case pb.TensorProto_FLOAT:
		return "float32"
	case pb.TensorProto_DOUBLE:
		return "float64"
	}
	return lower(dt.String())
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// NumElements is the product of dims, refusing negative dims and products
// beyond what any real tensor holds, so a hostile header cannot make a
// caller allocate without bound.
func NumElements(dims []int64) (int64, error) {
	n := uint64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, dims)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > maxElements {
			return 0, fmt.Errorf("shape %v has more than 2^48 elements", dims)
		}
		n = lo
	}
	return int64(n), nil
}

// ByteSize is the number of bytes n elements of dt take in raw_data,
// rounding sub-byte types up to whole bytes.
func ByteSize(dt DataType, n int64) int64 {
	b := int64(ElemBits(dt))
	return (n*b + 7) / 8
}

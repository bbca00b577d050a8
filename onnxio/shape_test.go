package onnxio

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// gb builds small graphs for shape tests.
type gb struct {
	g     *pb.GraphProto
	opset int64
}

func newGB(opset int64) *gb { return &gb{g: &pb.GraphProto{Name: proto.String("t")}, opset: opset} }

// in adds a graph input; dims are ints (sizes), strings (symbols) or nil
// (a dim with neither).
func (b *gb) in(name string, elem DataType, dims ...any) *gb {
	sp := &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{}}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			sp.Dim = append(sp.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case string:
			sp.Dim = append(sp.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		default:
			sp.Dim = append(sp.Dim, &pb.TensorShapeProto_Dimension{})
		}
	}
	tt := &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: sp}
	b.g.Input = append(b.g.Input, &pb.ValueInfoProto{Name: proto.String(name),
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: tt}}})
	return b
}

// ints adds an int64 initializer; dims nil means 1-D.
func (b *gb) ints(name string, dims []int64, v ...int64) *gb {
	if dims == nil {
		dims = []int64{int64(len(v))}
	}
	t, err := NewTensor(name, Int64, dims, v)
	if err != nil {
		panic(err)
	}
	b.g.Initializer = append(b.g.Initializer, t)
	return b
}

func (b *gb) floats(name string, dims []int64, v ...float32) *gb {
	if dims == nil {
		dims = []int64{int64(len(v))}
	}
	n, _ := NumElements(dims)
	if len(v) == 0 {
		v = make([]float32, n)
	}
	t, err := NewTensor(name, Float, dims, v)
	if err != nil {
		panic(err)
	}
	b.g.Initializer = append(b.g.Initializer, t)
	return b
}

// node adds a node; ins and outs are space-separated names ("-" for an
// absent input).
func (b *gb) node(op, ins, outs string, attrs ...*pb.AttributeProto) *gb {
	n := &pb.NodeProto{OpType: proto.String(op), Attribute: attrs}
	for _, s := range strings.Fields(ins) {
		if s == "-" {
			s = ""
		}
		n.Input = append(n.Input, s)
	}
	n.Output = strings.Fields(outs)
	b.g.Node = append(b.g.Node, n)
	return b
}

func (b *gb) model() *Model {
	return &Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(8), Graph: b.g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(b.opset)}}}}
}

func aInt(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func aInts(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}

func aFloat(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func aFloats(name string, v ...float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func aStr(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func aTensor(name string, t *pb.TensorProto) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_TENSOR.Enum(), T: t}
}

func mustShape(s string) Shape {
	sh, err := ParseShape(s)
	if err != nil {
		panic(err)
	}
	return sh
}

// Each case names a value and the type inference must give it.
func TestInferShapesRules(t *testing.T) {
	cases := []struct {
		name   string
		b      *gb
		inputs map[string]string
		value  string
		want   string
	}{
		{"broadcast symbols and ones", newGB(13).in("a", Float, "N", 3, 1).in("b", Float, 1, 3, "W").node("Add", "a b", "y"),
			nil, "y", "float32[N,3,W]"},
		{"broadcast symbol against size", newGB(13).in("a", Float, "N", 4).in("b", Float, 5, 1).node("Mul", "a b", "y"),
			nil, "y", "float32[5,4]"},
		{"broadcast two symbols", newGB(13).in("a", Float, "N").in("b", Float, "M").node("Sub", "a b", "y"),
			nil, "y", "float32[unk__1]"},
		{"broadcast equal symbols", newGB(13).in("a", Float, "N", 1).in("b", Float, "N", 7).node("Div", "a b", "y"),
			nil, "y", "float32[N,7]"},
		{"comparison is bool", newGB(13).in("a", Float, 2, 3).in("b", Float, 3).node("Greater", "a b", "y"),
			nil, "y", "bool[2,3]"},
		{"unnamed input dims get fresh symbols", newGB(13).in("x", Float, nil, 3).node("Relu", "x", "y"),
			nil, "y", "float32[unk__1,3]"},
		{"inputs override", newGB(13).in("x", Float, "N", 3, "H", "W").node("Relu", "x", "y"),
			map[string]string{"x": "2,3,224,224"}, "y", "float32[2,3,224,224]"},
		{"same conv keeps the symbol", newGB(13).in("x", Float, "N", 3, "H", "W").floats("w", []int64{8, 3, 3, 3}).
			node("Conv", "x w", "y", aInts("pads", 1, 1, 1, 1)), nil, "y", "float32[N,8,H,W]"},
		{"SAME_UPPER conv keeps the symbol", newGB(13).in("x", Float, "N", 3, "H", "W").floats("w", []int64{8, 3, 5, 5}).
			node("Conv", "x w", "y", aStr("auto_pad", "SAME_UPPER")), nil, "y", "float32[N,8,H,W]"},
		{"strided conv", newGB(13).in("x", Float, "N", 3, "H", "W").floats("w", []int64{8, 3, 3, 3}).
			node("Conv", "x w", "y", aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2)), nil, "y", "float32[N,8,floor((H+1)/2),floor((W+1)/2)]"},
		{"two strided convs", newGB(13).in("x", Float, "N", 3, "H", "W").floats("w", []int64{3, 3, 3, 3}).
			node("Conv", "x w", "y1", aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2)).
			node("Conv", "y1 w", "y", aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2)), nil, "y", "float32[N,3,floor((H+3)/4),floor((W+3)/4)]"},
		{"grouped dilated asymmetric conv", newGB(13).in("x", Float, 1, 4, 10, 11).floats("w", []int64{6, 2, 3, 2}).
			node("Conv", "x w", "y", aInt("group", 2), aInts("dilations", 2, 3), aInts("pads", 0, 1, 2, 0), aInts("strides", 1, 2)),
			nil, "y", "float32[1,6,8,5]"},
		{"SAME_LOWER strided conv", newGB(13).in("x", Float, 1, 1, 7, 8).floats("w", []int64{1, 1, 3, 3}).
			node("Conv", "x w", "y", aStr("auto_pad", "SAME_LOWER"), aInts("strides", 2, 3)), nil, "y", "float32[1,1,4,3]"},
		{"VALID conv", newGB(13).in("x", Float, 1, 1, 7, 8).floats("w", []int64{1, 1, 3, 3}).
			node("Conv", "x w", "y", aStr("auto_pad", "VALID"), aInts("strides", 2, 2)), nil, "y", "float32[1,1,3,3]"},
		{"conv transpose", newGB(13).in("x", Float, "N", 4, "H", 5).floats("w", []int64{4, 2, 2, 2}).
			node("ConvTranspose", "x w", "y", aInts("strides", 2, 2)), nil, "y", "float32[N,2,2*H,10]"},
		{"conv transpose output_padding and pads", newGB(13).in("x", Float, 1, 1, 3, 3).floats("w", []int64{1, 2, 3, 3}).
			node("ConvTranspose", "x w", "y", aInts("strides", 3, 2), aInts("output_padding", 1, 1), aInts("pads", 1, 0, 1, 0)),
			nil, "y", "float32[1,2,8,8]"},
		{"conv transpose output_shape", newGB(13).in("x", Float, 1, 1, 3, 3).floats("w", []int64{1, 2, 3, 3}).
			node("ConvTranspose", "x w", "y", aInts("strides", 3, 2), aInts("output_shape", 10, 8)), nil, "y", "float32[1,2,10,8]"},
		{"max pool ceil mode", newGB(13).in("x", Float, 1, 1, 5, 6).
			node("MaxPool", "x", "y i", aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1)), nil, "i", "int64[1,1,3,3]"},
		{"max pool ceil mode drops a window in the pad", newGB(13).in("x", Float, 1, 1, 5, 5).
			node("MaxPool", "x", "y", aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1), aInt("ceil_mode", 1)), nil, "y", "float32[1,1,3,3]"},
		{"max pool ceil mode drops a window past the input", newGB(13).in("x", Float, 1, 1, 6, 6).
			node("MaxPool", "x", "y", aInts("kernel_shape", 2, 2), aInts("strides", 3, 3), aInt("ceil_mode", 1)), nil, "y", "float32[1,1,2,2]"},
		{"avg pool symbolic", newGB(13).in("x", Float, "N", 3, "H", "W").
			node("AveragePool", "x", "y", aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)), nil, "y", "float32[N,3,floor(H/2),floor(W/2)]"},
		{"global pool", newGB(13).in("x", Float, "N", 3, "H", "W").node("GlobalAveragePool", "x", "y"), nil, "y", "float32[N,3,1,1]"},
		{"gemm transposed", newGB(13).in("a", Float, 5, "N").in("b", Float, 7, 5).in("c", Float, 7).
			node("Gemm", "a b c", "y", aInt("transA", 1), aInt("transB", 1)), nil, "y", "float32[N,7]"},
		{"matmul batched broadcast", newGB(13).in("a", Float, "B", 1, 3, 4).in("b", Float, 6, 4, 5).node("MatMul", "a b", "y"),
			nil, "y", "float32[B,6,3,5]"},
		{"matmul 1-D left", newGB(13).in("a", Float, 4).in("b", Float, 2, 4, 5).node("MatMul", "a b", "y"), nil, "y", "float32[2,5]"},
		{"matmul 1-D both", newGB(13).in("a", Float, 4).in("b", Float, 4).node("MatMul", "a b", "y"), nil, "y", "float32[]"},
		{"flatten symbolic", newGB(13).in("x", Float, "N", 3, "H", "W").node("Flatten", "x", "y"), nil, "y", "float32[N,3*H*W]"},
		{"flatten axis 0", newGB(13).in("x", Float, 2, 3).node("Flatten", "x", "y", aInt("axis", 0)), nil, "y", "float32[1,6]"},
		{"shape gather unsqueeze concat reshape", newGB(13).in("x", Float, "N", 3, "H", "W").ints("zero", []int64{}, 0).ints("ax", nil, 0).ints("m1", nil, -1).
			node("Shape", "x", "s").node("Gather", "s zero", "n").node("Unsqueeze", "n ax", "n1").
			node("Concat", "n1 m1", "shape", aInt("axis", 0)).node("Reshape", "x shape", "y"), nil, "y", "float32[N,3*H*W]"},
		{"reshape 0 and -1", newGB(13).in("x", Float, "N", "C", "H", "W").ints("s", nil, 0, 0, -1).node("Reshape", "x s", "y"),
			nil, "y", "float32[N,C,H*W]"},
		{"reshape allowzero", newGB(14).in("x", Float, 0, 3).ints("s", nil, 3, 0).node("Reshape", "x s", "y", aInt("allowzero", 1)),
			nil, "y", "float32[3,0]"},
		{"reshape from computed shape", newGB(13).in("x", Float, "N", 4, 6).ints("two", []int64{}, 2).ints("idx", nil, 1, 2).
			node("Shape", "x", "s").node("Gather", "s idx", "hw").node("Div", "hw two", "half").
			node("Slice", "s zero one", "n").ints("zero", nil, 0).ints("one", nil, 1).
			node("Mul", "half two", "back").node("Concat", "n back", "shape", aInt("axis", 0)).node("Reshape", "x shape", "y"),
			nil, "y", "float32[N,4,6]"},
		{"shape start end", newGB(15).in("x", Float, "N", 3, "H", "W").node("Shape", "x", "s", aInt("start", 1), aInt("end", -1)).
			node("ConstantOfShape", "s", "y"), nil, "y", "float32[3,H]"},
		{"constant of shape int", newGB(13).in("x", Float, "N", 3).node("Shape", "x", "s").
			node("ConstantOfShape", "s", "y", aTensor("value", mustTensor(NewTensor("v", Int64, []int64{1}, []int64{7})))), nil, "y", "int64[N,3]"},
		{"expand", newGB(13).in("x", Float, 3, 1).ints("s", nil, 2, 1, 6).node("Expand", "x s", "y"), nil, "y", "float32[2,3,6]"},
		{"tile symbolic", newGB(13).in("x", Float, "N", 3).ints("r", nil, 2, 2).node("Tile", "x r", "y"), nil, "y", "float32[2*N,6]"},
		{"transpose", newGB(13).in("x", Float, "N", 3, "H").node("Transpose", "x", "y", aInts("perm", 2, 0, 1)), nil, "y", "float32[H,N,3]"},
		{"concat symbolic", newGB(13).in("a", Float, "N", "C").in("b", Float, "N", 3).node("Concat", "a b", "y", aInt("axis", -1)),
			nil, "y", "float32[N,C+3]"},
		{"split attr", newGB(11).in("x", Float, 2, 10).node("Split", "x", "a b", aInt("axis", 1), aInts("split", 3, 7)), nil, "b", "float32[2,7]"},
		{"split input", newGB(13).in("x", Float, 2, 10).ints("s", nil, 4, 6).node("Split", "x s", "a b", aInt("axis", 1)), nil, "a", "float32[2,4]"},
		{"split even symbolic", newGB(13).in("x", Float, "N", "C").node("Split", "x", "a b", aInt("axis", 0)), nil, "b", "float32[floor(N/2),C]"},
		{"split num_outputs uneven", newGB(18).in("x", Float, 7).node("Split", "x", "a b c", aInt("num_outputs", 3)), nil, "c", "float32[1]"},
		{"slice attrs", newGB(9).in("x", Float, 10, 20).node("Slice", "x", "y", aInts("starts", 2, -5), aInts("ends", 100, -1), aInts("axes", 0, 1)),
			nil, "y", "float32[8,4]"},
		{"slice inputs with steps", newGB(13).in("x", Float, 10, 20).ints("s", nil, -1, 1).ints("e", nil, -100, 100).ints("a", nil, 0, 1).ints("st", nil, -3, 4).
			node("Slice", "x s e a st", "y"), nil, "y", "float32[4,5]"},
		{"slice symbolic", newGB(13).in("x", Float, "N", "H").ints("s", nil, 1, 0).ints("e", nil, -1, 1<<40).
			node("Slice", "x s e", "y"), nil, "y", "float32[N-2,H]"},
		{"squeeze attr", newGB(11).in("x", Float, 1, "N", 1).node("Squeeze", "x", "y", aInts("axes", 0)), nil, "y", "float32[N,1]"},
		{"squeeze input", newGB(13).in("x", Float, 1, "N", 1).ints("a", nil, -1).node("Squeeze", "x a", "y"), nil, "y", "float32[1,N]"},
		{"squeeze all ones", newGB(13).in("x", Float, 1, "N", 1).node("Squeeze", "x", "y"), nil, "y", "float32[N]"},
		{"unsqueeze attr", newGB(11).in("x", Float, "N").node("Unsqueeze", "x", "y", aInts("axes", 0, 2)), nil, "y", "float32[1,N,1]"},
		{"unsqueeze input", newGB(13).in("x", Float, "N").ints("a", nil, -1).node("Unsqueeze", "x a", "y"), nil, "y", "float32[N,1]"},
		{"pad attr", newGB(10).in("x", Float, "N", 3).node("Pad", "x", "y", aInts("pads", 0, 1, 0, 2)), nil, "y", "float32[N,6]"},
		{"pad input", newGB(13).in("x", Float, "N", 3).ints("p", nil, 1, -1, 1, 0).node("Pad", "x p", "y"), nil, "y", "float32[N+2,2]"},
		{"resize scales", newGB(11).in("x", Float, "N", 3, "H", 5).floats("roi", []int64{0}).floats("sc", nil, 1, 1, 2, 0.5).
			node("Resize", "x roi sc", "y"), nil, "y", "float32[N,3,2*H,2]"},
		{"resize sizes from shape", newGB(13).in("x", Float, "N", 3, "H", "W").in("ref", Float, 1, 1, "A", "B").
			node("Shape", "x", "s1").node("Shape", "ref", "s2").ints("lo", nil, 0).ints("mid", nil, 2).ints("hi", nil, 4).
			node("Slice", "s1 lo mid", "nc").node("Slice", "s2 mid hi", "ab").node("Concat", "nc ab", "sz", aInt("axis", 0)).
			node("Resize", "x - - sz", "y"), nil, "y", "float32[N,3,A,B]"},
		{"resize scales via float arithmetic", newGB(13).in("x", Float, 1, 3, 10, 12).
			node("Shape", "x", "s").node("Cast", "s", "sf", aInt("to", int64(Float))).floats("k", nil, 1, 1, 1.5, 0.5).
			node("Mul", "sf k", "szf").node("Cast", "szf", "sz", aInt("to", int64(Int64))).node("Resize", "x - - sz", "y"), nil, "y", "float32[1,3,15,6]"},
		{"upsample attr", newGB(7).in("x", Float, 1, 3, 4, 5).node("Upsample", "x", "y", aFloats("scales", 1, 1, 2, 3)), nil, "y", "float32[1,3,8,15]"},
		{"upsample input", newGB(9).in("x", Float, "N", 3, "H", 5).floats("s", nil, 1, 1, 2, 2).node("Upsample", "x s", "y"), nil, "y", "float32[N,3,2*H,10]"},
		{"reduce attr", newGB(13).in("x", Float, "N", 3, "H").node("ReduceMean", "x", "y", aInts("axes", 1, -1)), nil, "y", "float32[N,1,1]"},
		{"reduce input no keepdims", newGB(18).in("x", Float, "N", 3, "H").ints("a", nil, 1).node("ReduceMax", "x a", "y", aInt("keepdims", 0)),
			nil, "y", "float32[N,H]"},
		{"reducesum noop", newGB(13).in("x", Float, "N", 3).node("ReduceSum", "x", "y", aInt("noop_with_empty_axes", 1)), nil, "y", "float32[N,3]"},
		{"reduce all", newGB(13).in("x", Float, "N", 3).node("ReduceSum", "x", "y", aInt("keepdims", 0)), nil, "y", "float32[]"},
		{"argmax", newGB(13).in("x", Float, "N", 3).node("ArgMax", "x", "y", aInt("axis", 1), aInt("keepdims", 0)), nil, "y", "int64[N]"},
		{"where", newGB(13).in("c", Bool, "N", 1).in("a", Int32, 3).in("b", Int32, 1).node("Where", "c a b", "y"), nil, "y", "int32[N,3]"},
		{"cast", newGB(13).in("x", Float, "N").node("Cast", "x", "y", aInt("to", int64(Float16))), nil, "y", "float16[N]"},
		{"dropout mask", newGB(13).in("x", Float, "N").node("Dropout", "x", "y m"), nil, "m", "bool[N]"},
		{"batchnorm", newGB(13).in("x", Float, "N", 3, "H").floats("s", []int64{3}).node("BatchNormalization", "x s s s s", "y"),
			nil, "y", "float32[N,3,H]"},
		{"layernorm stats", newGB(17).in("x", Float, "N", "T", 8).floats("s", []int64{8}).node("LayerNormalization", "x s", "y m v"),
			nil, "v", "float32[N,T,1]"},
		{"range", newGB(13).ints("a", []int64{}, 2).ints("l", []int64{}, 11).ints("d", []int64{}, 3).node("Range", "a l d", "y"), nil, "y", "int64[3]"},
		{"range symbolic", newGB(13).in("x", Float, "T", 4).ints("z", []int64{}, 0).ints("one", []int64{}, 1).ints("i0", []int64{}, 0).
			node("Shape", "x", "s").node("Gather", "s i0", "t").node("Range", "z t one", "y"), nil, "y", "int64[T]"},
		{"quantize", newGB(13).in("x", Float, "N", 3).floats("s", []int64{}).ints("z", []int64{}, 0).node("QuantizeLinear", "x s", "y"),
			nil, "y", "uint8[N,3]"},
		{"dequantize", newGB(13).in("x", Int8, "N", 3).floats("s", []int64{3}).node("DequantizeLinear", "x s", "y"), nil, "y", "float32[N,3]"},
		{"dynamic quantize", newGB(13).in("x", Float, "N", 3).node("DynamicQuantizeLinear", "x", "y s z"), nil, "z", "uint8[]"},
		{"qlinearconv", newGB(13).in("x", Uint8, "N", 3, "H", "W").in("w", Int8, 8, 3, 3, 3).in("s", Float).in("z", Uint8).in("wz", Int8).in("yz", Int8).
			node("QLinearConv", "x s z w s wz s yz", "y", aInts("pads", 1, 1, 1, 1)), nil, "y", "int8[N,8,H,W]"},
		{"qlinearmatmul", newGB(13).in("a", Uint8, "N", 4).in("b", Uint8, 4, 6).in("s", Float).in("z", Uint8).
			node("QLinearMatMul", "a s z b s z s z", "y"), nil, "y", "uint8[N,6]"},
		{"matmulinteger", newGB(13).in("a", Uint8, "N", 4).in("b", Int8, 4, 6).node("MatMulInteger", "a b", "y"), nil, "y", "int32[N,6]"},
		{"convinteger", newGB(13).in("x", Uint8, "N", 3, 5, 5).in("w", Uint8, 2, 3, 3, 3).node("ConvInteger", "x w", "y"), nil, "y", "int32[N,2,3,3]"},
		{"unknown op", newGB(13).in("x", Float, "N").node("FancyOp", "x", "y"), nil, "y", "?[?]"},
		{"unknown domain", newGB(13).in("x", Float, "N").node("Relu", "x", "y1").node("Relu", "y1", "y"), nil, "y", "float32[N]"},
		{"constant", newGB(13).node("Constant", "", "y", aInts("value_ints", 1, 2, 3)), nil, "y", "int64[3]"},
		{"lstm", newGB(14).in("x", Float, "T", "B", 10).floats("w", []int64{2, 28, 10}).floats("r", []int64{2, 28, 7}).
			node("LSTM", "x w r", "y yh yc", aInt("hidden_size", 7), aStr("direction", "bidirectional")), nil, "y", "float32[T,2,B,7]"},
		{"topk", newGB(13).in("x", Float, "N", 10).ints("k", nil, 3).node("TopK", "x k", "v i"), nil, "i", "int64[N,3]"},
		{"onehot", newGB(13).in("x", Int64, "N").ints("d", []int64{}, 5).floats("v", nil, 0, 1).node("OneHot", "x d v", "y"), nil, "y", "float32[N,5]"},
		{"depth to space", newGB(13).in("x", Float, "N", 8, "H", 3).node("DepthToSpace", "x", "y", aInt("blocksize", 2)), nil, "y", "float32[N,2,2*H,6]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.b.model()
			if c.name == "unknown domain" {
				m.Proto.Graph.Node[0].Domain = proto.String("com.example")
				m.Proto.Graph.Node[1].Domain = proto.String("ai.onnx")
				c.want = "?[?]"
			}
			ins := map[string]Shape{}
			for k, v := range c.inputs {
				ins[k] = mustShape(v)
			}
			types, err := InferShapes(m, ins)
			if err != nil {
				t.Fatal(err)
			}
			if got := types[c.value].String(); got != c.want {
				t.Errorf("%s is %s, want %s", c.value, got, c.want)
			}
		})
	}
}

func mustTensor(t *pb.TensorProto, err error) *pb.TensorProto {
	if err != nil {
		panic(err)
	}
	return t
}

// Malformed nodes of known operators are errors naming the node; none
// may panic.
func TestInferShapesMalformed(t *testing.T) {
	x4 := func(op string) *gb { return newGB(13).in("x", Float, 1, 3, 8, 8) }
	cases := []struct {
		name string
		b    *gb
		want string
	}{
		{"conv weight rank", x4("").floats("w", []int64{4, 3, 3}).node("Conv", "x w", "y"), "weight has rank 3"},
		{"conv channels", x4("").floats("w", []int64{4, 2, 3, 3}).node("Conv", "x w", "y"), "channels"},
		{"conv group", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInt("group", 0)), "group 0"},
		{"conv groups do not divide", x4("").floats("w", []int64{5, 1, 3, 3}).node("Conv", "x w", "y", aInt("group", 3)), "groups"},
		{"conv strides length", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInts("strides", 1, 1, 1)), "strides has 3 entries"},
		{"conv zero stride", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInts("strides", 0, 1)), "stride 0"},
		{"conv negative pad", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInts("pads", -1, 0, 0, 0)), "pad -1"},
		{"conv pads length", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInts("pads", 1, 1)), "pads has 2 entries"},
		{"conv kernel too big", x4("").floats("w", []int64{4, 3, 9, 3}).node("Conv", "x w", "y"), "larger than padded input"},
		{"conv huge dilation", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInts("dilations", 1<<40, 1)), "dilation"},
		{"conv huge pads", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInts("pads", 1<<62, 0, 1<<62, 0)), "pad"},
		{"conv kernel_shape differs", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aInts("kernel_shape", 5, 5)), "kernel_shape"},
		{"conv rank 2 input", newGB(13).in("x", Float, 3, 8).floats("w", []int64{4, 3}).node("Conv", "x w", "y"), "rank 2"},
		{"conv bias size", x4("").floats("w", []int64{4, 3, 3, 3}).floats("b", []int64{5}).node("Conv", "x w b", "y"), "differ"},
		{"conv missing weight", x4("").node("Conv", "x", "y"), "missing"},
		{"conv auto_pad", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aStr("auto_pad", "SOMETIMES")), "auto_pad"},
		{"strides of the wrong type", x4("").floats("w", []int64{4, 3, 3, 3}).node("Conv", "x w", "y", aFloats("strides", 1, 1)), "attribute strides"},
		{"convtranspose channels", x4("").floats("w", []int64{4, 3, 3, 3}).node("ConvTranspose", "x w", "y"), "differ"},
		{"convtranspose negative size", newGB(13).in("x", Float, 1, 1, 1, 1).floats("w", []int64{1, 1, 1, 1}).
			node("ConvTranspose", "x w", "y", aInts("pads", 2, 2, 2, 2)), "negative"},
		{"pool without kernel", x4("").node("MaxPool", "x", "y"), "kernel_shape"},
		{"pool kernel length", x4("").node("AveragePool", "x", "y", aInts("kernel_shape", 2)), "kernel_shape"},
		{"gemm inner", newGB(13).in("a", Float, 2, 3).in("b", Float, 4, 5).node("Gemm", "a b", "y"), "inner dimensions 3 and 4"},
		{"gemm rank", newGB(13).in("a", Float, 2, 3, 1).in("b", Float, 3, 5).node("Gemm", "a b", "y"), "2-D"},
		{"gemm C", newGB(13).in("a", Float, 2, 3).in("b", Float, 3, 5).in("c", Float, 4).node("Gemm", "a b c", "y"), "broadcast"},
		{"matmul inner", newGB(13).in("a", Float, 2, 3).in("b", Float, 4, 5).node("MatMul", "a b", "y"), "inner dimensions 3 and 4"},
		{"matmul batch", newGB(13).in("a", Float, 2, 2, 3).in("b", Float, 3, 3, 5).node("MatMul", "a b", "y"), "broadcast"},
		{"matmul scalar", newGB(13).in("a", Float).in("b", Float, 3).node("MatMul", "a b", "y"), "scalar"},
		{"add broadcast", newGB(13).in("a", Float, 2, 3).in("b", Float, 4).node("Add", "a b", "y"), "do not broadcast"},
		{"concat rank", newGB(13).in("a", Float, 2, 3).in("b", Float, 3).node("Concat", "a b", "y", aInt("axis", 0)), "rank"},
		{"concat sizes", newGB(13).in("a", Float, 2, 3).in("b", Float, 2, 4).node("Concat", "a b", "y", aInt("axis", 0)), "sizes 3 and 4 differ"},
		{"concat axis", newGB(13).in("a", Float, 2, 3).in("b", Float, 2, 3).node("Concat", "a b", "y", aInt("axis", 2)), "axis 2 is out of range"},
		{"concat no axis", newGB(13).in("a", Float, 2, 3).node("Concat", "a", "y"), "axis"},
		{"reshape size", newGB(13).in("x", Float, 2, 3).ints("s", nil, 4, 2).node("Reshape", "x s", "y"), "cannot reshape"},
		{"reshape inferred size", newGB(13).in("x", Float, 2, 3).ints("s", nil, 4, -1).node("Reshape", "x s", "y"), "cannot reshape"},
		{"reshape two -1", newGB(13).in("x", Float, 2, 3).ints("s", nil, -1, -1).node("Reshape", "x s", "y"), "more than one -1"},
		{"reshape -2", newGB(13).in("x", Float, 2, 3).ints("s", nil, -2, 3).node("Reshape", "x s", "y"), "invalid size -2"},
		{"reshape copies missing dim", newGB(13).in("x", Float, 6).ints("s", nil, 1, 0).node("Reshape", "x s", "y"), "copies dimension 1"},
		{"reshape overflow", newGB(13).in("x", Float, 6).ints("s", nil, 1<<40, 1<<40).node("Reshape", "x s", "y"), "overflow"},
		{"reshape 2-D shape", newGB(13).in("x", Float, 6).ints("s", []int64{1, 2}, 2, 3).node("Reshape", "x s", "y"), "1-D"},
		{"transpose perm", newGB(13).in("x", Float, 2, 3).node("Transpose", "x", "y", aInts("perm", 0, 0)), "permutation"},
		{"transpose perm length", newGB(13).in("x", Float, 2, 3).node("Transpose", "x", "y", aInts("perm", 0)), "perm"},
		{"transpose perm range", newGB(13).in("x", Float, 2, 3).node("Transpose", "x", "y", aInts("perm", 1, 1<<62)), "permutation"},
		{"squeeze non-one", newGB(13).in("x", Float, 2, 3).ints("a", nil, 0).node("Squeeze", "x a", "y"), "size 2"},
		{"squeeze axis range", newGB(11).in("x", Float, 1, 3).node("Squeeze", "x", "y", aInts("axes", 5)), "out of range"},
		{"unsqueeze duplicate", newGB(13).in("x", Float, 2, 3).ints("a", nil, 0, 0).node("Unsqueeze", "x a", "y"), "twice"},
		{"unsqueeze range", newGB(13).in("x", Float, 2, 3).ints("a", nil, 3).node("Unsqueeze", "x a", "y"), "out of range"},
		{"unsqueeze no axes", newGB(11).in("x", Float, 2, 3).node("Unsqueeze", "x", "y"), "axes"},
		{"slice step 0", newGB(13).in("x", Float, 2, 3).ints("s", nil, 0).ints("e", nil, 1).ints("a", nil, 0).ints("st", nil, 0).
			node("Slice", "x s e a st", "y"), "step is 0"},
		{"slice lengths", newGB(13).in("x", Float, 2, 3).ints("s", nil, 0, 0).ints("e", nil, 1).node("Slice", "x s e", "y"), "differ in length"},
		{"slice huge bounds", newGB(13).in("x", Float, 2, 3).ints("s", nil, -1<<63).ints("e", nil, 1<<63-1).ints("a", nil, 1).ints("st", nil, -1<<63).
			node("Slice", "x s e a st", "y").node("FancyOp", "y", "z"), ""},
		{"split sum", newGB(13).in("x", Float, 2, 10).ints("s", nil, 3, 3).node("Split", "x s", "a b", aInt("axis", 1)), "sums to 6"},
		{"split count", newGB(13).in("x", Float, 2, 10).ints("s", nil, 10).node("Split", "x s", "a b", aInt("axis", 1)), "1 entries for 2 outputs"},
		{"split uneven", newGB(13).in("x", Float, 2, 9).node("Split", "x", "a b", aInt("axis", 1)), "evenly"},
		{"split negative", newGB(11).in("x", Float, 2, 9).node("Split", "x", "a b", aInt("axis", 1), aInts("split", -1, 10)), "invalid size"},
		{"gather index", newGB(13).in("x", Float, 2, 3).ints("i", nil, 5).node("Gather", "x i", "y", aInt("axis", 1)), "out of range"},
		{"gather axis", newGB(13).in("x", Float, 2, 3).ints("i", nil, 0).node("Gather", "x i", "y", aInt("axis", -3)), "out of range"},
		{"pad length", newGB(13).in("x", Float, 2, 3).ints("p", nil, 1, 1).node("Pad", "x p", "y"), "want 4"},
		{"pad negative result", newGB(13).in("x", Float, 2, 3).ints("p", nil, 0, -2, 0, -2).node("Pad", "x p", "y"), "negative"},
		{"resize scales length", newGB(13).in("x", Float, 1, 3, 4, 4).floats("s", nil, 2, 2).node("Resize", "x - s", "y"), "entries for 4 axes"},
		{"resize negative scale", newGB(13).in("x", Float, 1, 3, 4, 4).floats("s", nil, 1, 1, -2, 2).node("Resize", "x - s", "y"), "positive"},
		{"resize huge scale", newGB(13).in("x", Float, 1, 3, 4, 4).floats("s", nil, 1, 1, 1e30, 2).node("Resize", "x - s", "y"), "positive"},
		{"resize negative size", newGB(13).in("x", Float, 1, 3, 4, 4).ints("s", nil, 1, 3, -4, 4).node("Resize", "x - - s", "y"), "negative"},
		{"resize nothing", newGB(13).in("x", Float, 1, 3, 4, 4).node("Resize", "x", "y"), "scales or sizes"},
		{"upsample scales", newGB(9).in("x", Float, 1, 3, 4, 4).floats("s", nil, 2).node("Upsample", "x s", "y"), "entries for rank 4"},
		{"cast type", newGB(13).in("x", Float, 2).node("Cast", "x", "y", aInt("to", 999)), "unknown type"},
		{"constant of shape negative", newGB(13).ints("s", nil, 2, -3).node("ConstantOfShape", "s", "y"), "negative"},
		{"constant of shape huge", newGB(13).ints("s", nil, 1<<47, 1<<47).node("ConstantOfShape", "s", "y").node("FancyOp", "y", "z"), ""},
		{"constant of shape too huge", newGB(13).ints("s", nil, 1<<50).node("ConstantOfShape", "s", "y"), "2^48"},
		{"expand", newGB(13).in("x", Float, 3).ints("s", nil, 2, 4).node("Expand", "x s", "y"), "do not broadcast"},
		{"tile length", newGB(13).in("x", Float, 3).ints("r", nil, 2, 2).node("Tile", "x r", "y"), "repeats"},
		{"tile negative", newGB(13).in("x", Float, 3).ints("r", nil, -2).node("Tile", "x r", "y"), "negative"},
		{"softmax axis", newGB(13).in("x", Float, 3).node("Softmax", "x", "y", aInt("axis", 4)), "out of range"},
		{"flatten axis", newGB(13).in("x", Float, 3, 4).node("Flatten", "x", "y", aInt("axis", 3)), "out of range"},
		{"depth to space blocksize", newGB(13).in("x", Float, 1, 8, 2, 2).node("DepthToSpace", "x", "y", aInt("blocksize", 0)), "blocksize"},
		{"depth to space channels", newGB(13).in("x", Float, 1, 6, 2, 2).node("DepthToSpace", "x", "y", aInt("blocksize", 2)), "do not divide"},
		{"topk k", newGB(13).in("x", Float, 3, 4).ints("k", nil, 9).node("TopK", "x k", "v i"), "larger than"},
		{"batchnorm scale", newGB(13).in("x", Float, 1, 3, 4).floats("s", []int64{4}).floats("c", []int64{3}).node("BatchNormalization", "x s c c c", "y"), "4 entries for 3 channels"},
		{"quantize per-channel", newGB(13).in("x", Float, 2, 3).floats("s", []int64{4}).node("QuantizeLinear", "x s", "y"), "4 entries"},
		{"range delta 0", newGB(13).ints("a", []int64{}, 0).ints("d", []int64{}, 0).node("Range", "a a d", "y"), "delta is 0"},
		{"range too long", newGB(13).ints("a", []int64{}, 0).ints("l", []int64{}, 1<<62).ints("d", []int64{}, 1).node("Range", "a l d", "y"), "too long"},
		{"undefined input", newGB(13).node("Relu", "nowhere", "y"), "nowhere"},
		{"lstm direction", newGB(13).in("x", Float, 1, 2, 3).in("w", Float, 1, 4, 3).node("LSTM", "x w", "y", aStr("direction", "sideways")), "direction"},
		{"constant without value", newGB(13).node("Constant", "", "y"), "Constant"},
		{"node without outputs", newGB(13).ints("a", []int64{}, 0).ints("d", []int64{}, 1).node("Range", "a a d", "").
			node("Shape", "a", "").ints("v", nil, 1).node("Concat", "v v", "", aInt("axis", 0)), ""},
		{"global pool rank", newGB(13).in("x", Float, 3).node("GlobalAveragePool", "x", "y"), "rank 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := InferShapes(c.b.model(), nil)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, "node #") || strings.Contains(msg, "internal error") {
				t.Errorf("error %q should name the node and contain %q", msg, c.want)
			}
		})
	}
}

func TestInferShapesInputs(t *testing.T) {
	m := newGB(13).in("x", Float, "N", 3, "H", "W").node("Relu", "x", "y").model()
	for _, c := range []struct {
		in   map[string]Shape
		want string
	}{
		{map[string]Shape{"z": mustShape("1")}, `no graph input "z"`},
		{map[string]Shape{"x": mustShape("1,3,4")}, "rank 3"},
		{map[string]Shape{"x": mustShape("1,4,4,4")}, "does not fit"},
		{map[string]Shape{"x": {{Value: -1}, {Value: 3}, {Value: 1}, {Value: 1}}}, "not a size"},
	} {
		if _, err := InferShapes(m, c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("inputs %v: error %v, want one containing %q", c.in, err, c.want)
		}
	}
	types, err := InferShapes(m, map[string]Shape{"x": mustShape("B,3,32,W")})
	if err != nil {
		t.Fatal(err)
	}
	if got := types["y"].String(); got != "float32[B,3,32,W]" {
		t.Errorf("y is %s", got)
	}
	if _, err := ParseShape("1,,2"); err == nil {
		t.Error("ParseShape accepts an empty dimension")
	}
	if _, err := ParseShape("1,-3"); err == nil {
		t.Error("ParseShape accepts a negative size")
	}
	s := mustShape("N, 3,224")
	if s.String() != "[N,3,224]" || s.Known() {
		t.Errorf("ParseShape gives %v", s)
	}
	if n, ok := mustShape("2,3,4").Elements(); !ok || n != 24 {
		t.Errorf("Elements = %d, %v", n, ok)
	}
	if _, ok := mustShape("2,N").Elements(); ok {
		t.Error("Elements of a symbolic shape")
	}
}

func TestAnnotateShapes(t *testing.T) {
	b := newGB(13).in("x", Float, "N", 3).node("Relu", "x", "h").node("Neg", "h", "y")
	b.g.Output = []*pb.ValueInfoProto{{Name: proto.String("y")}}
	m := b.model()
	if err := m.AnnotateShapes(nil); err != nil {
		t.Fatal(err)
	}
	vi := m.Graph().GetValueInfo()
	if len(vi) != 1 || vi[0].GetName() != "h" {
		t.Fatalf("value_info = %v", vi)
	}
	d := m.Graph().GetOutput()[0].GetType().GetTensorType().GetShape().GetDim()
	if len(d) != 2 || d[0].GetDimParam() != "N" || d[1].GetDimValue() != 3 {
		t.Errorf("output type = %v", m.Graph().GetOutput()[0].GetType())
	}
}

// The symbolic algebra: canonical forms compare equal, and evaluating an
// expression matches evaluating the arithmetic that built it.
func TestExprAlgebra(t *testing.T) {
	H, W := symbol("H"), symbol("W")
	for _, c := range []struct {
		e    *expr
		want string
	}{
		{eAdd(H, cst(0)), "H"},
		{eSub(eAdd(H, W), H), "W"},
		{eMul(eAdd(H, cst(1)), eAdd(H, cst(-1))), "H*H-1"},
		{eFloorDiv(eAdd(eScale(H, 4), cst(3)), cst(2)), "2*H+1"},
		{eFloorDiv(eAdd(H, cst(-1)), cst(2)), "floor((H+1)/2)-1"},
		{eFloorDiv(eAdd(eFloorDiv(eAdd(H, cst(1)), cst(2)), cst(1)), cst(2)), "floor((H+3)/4)"},
		{eCeilDiv(H, cst(4)), "floor((H+3)/4)"},
		{divExact(eMul(eMul(cst(3), H), W), eMul(cst(3), W)), "H"},
		{eFloorDiv(H, W), "floor(H/W)"},
		{eAdd(W, H), "H+W"},
	} {
		if c.e == nil || c.e.str != c.want {
			t.Errorf("got %v, want %s", c.e, c.want)
		}
	}
	if !eq(eAdd(W, H), eAdd(H, W)) || eq(H, W) {
		t.Error("equality is wrong")
	}
	// Exhaustive check of floor rewriting against integer arithmetic.
	for h := int64(0); h < 70; h++ {
		env := map[string]int64{"H": h}
		for _, k := range []int64{1, 2, 3, 7} {
			for _, off := range []int64{-5, 0, 1, 6} {
				for _, k2 := range []int64{2, 5} {
					e := eFloorDiv(eAdd(eFloorDiv(eAdd(H, cst(off)), cst(k)), cst(off)), cst(k2))
					want := floorDivTest(floorDivTest(h+off, k)+off, k2)
					if got, ok := evalExpr(e, env); !ok || got != want {
						t.Fatalf("H=%d: %s = %d, want %d", h, e.str, got, want)
					}
				}
			}
		}
	}
	// Coefficient overflow gives nil, never a wrong constant.
	if eMul(cst(1<<62), cst(4)) != nil || eAdd(cst(1<<62), cst(1<<62)) != nil {
		t.Error("overflow not detected")
	}
	big := H
	for i := 0; i < 40; i++ {
		big = eMul(eAdd(big, cst(1)), W)
		if big == nil {
			break
		}
	}
	if big != nil {
		t.Errorf("expression grew without bound: %d chars", len(big.str))
	}
}

func floorDivTest(a, b int64) int64 { q, _ := floorDivInt(a, b); return q }

// evalExpr evaluates e with symbols bound by env; false for an unbound
// symbol.
func evalExpr(e *expr, env map[string]int64) (int64, bool) {
	var sum int64
	for _, t := range e.terms {
		p := t.coef
		for _, a := range t.atoms {
			var v int64
			if a.op == "" {
				x, ok := env[a.name]
				if !ok {
					return 0, false
				}
				v = x
			} else {
				n, ok1 := evalExpr(a.args[0], env)
				d, ok2 := evalExpr(a.args[1], env)
				if !ok1 || !ok2 || d <= 0 {
					return 0, false
				}
				v = floorDivTest(n, d)
			}
			p *= v
		}
		sum += p
	}
	return sum, true
}

// The fixture models keep their dynamic batch to the logits.
func TestInferShapesFixtures(t *testing.T) {
	for _, p := range fixtureModels(t) {
		m, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		name := runtimeInputs(m.Graph())[0].GetName()
		for _, c := range []struct{ in, want string }{
			{"", "float32[N,10]"},
			{"B,1,28,28", "float32[B,10]"},
			{"1,1,28,28", "float32[1,10]"},
			{"64,1,28,28", "float32[64,10]"},
		} {
			ins := map[string]Shape{}
			if c.in != "" {
				ins[name] = mustShape(c.in)
			}
			types, err := InferShapes(m, ins)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			for _, o := range m.Graph().GetOutput() {
				if got := types[o.GetName()].String(); got != c.want {
					t.Errorf("%s with %q: output %s is %s, want %s", p, c.in, o.GetName(), got, c.want)
				}
			}
			// The batch flows unchanged through every activation.
			if c.in == "" {
				for _, n := range m.Graph().GetNode() {
					vt := types[n.GetOutput()[0]]
					if n.GetOpType() != "Constant" && n.GetOpType() != "Identity" && (!vt.RankKnown || len(vt.Shape) < 2 || vt.Shape[0].Param != "N") {
						t.Errorf("%s: %s output %s does not keep batch N", p, n.GetOpType(), vt)
					}
				}
			}
		}
		if testing.Short() {
			continue
		}
		compareWithORT(t, p, []int64{3, 1, 28, 28})
	}
}

// Symbolic runs of the OCR models: no error, and the sizes come out as
// expressions of the input's symbols that agree with concrete runs.
func TestInferShapesOCRSymbolic(t *testing.T) {
	for _, c := range []struct {
		model, in string
		want      map[string]string // value -> type
		concrete  []map[string]int64
	}{
		{"ch_PP-OCRv4_det_infer.onnx", "N,3,H,W", map[string]string{
			"sigmoid_0.tmp_0":           "float32[N,1,32*floor((H+31)/32),32*floor((W+31)/32)]",
			"conv2d_450.tmp_0":          "float32[N,16,floor((H+1)/2),floor((W+1)/2)]",
			"nearest_interp_v2_0.tmp_0": "float32[N,96,2*floor((H+31)/32),2*floor((W+31)/32)]",
		}, []map[string]int64{{"N": 1, "H": 320, "W": 320}, {"N": 2, "H": 64, "W": 96}}},
		{"ch_PP-OCRv4_det_infer.onnx", "", map[string]string{
			"sigmoid_0.tmp_0": "float32[p2o.DynamicDimension.0,1,32*floor((p2o.DynamicDimension.1+31)/32),32*floor((p2o.DynamicDimension.2+31)/32)]",
		}, nil},
		{"ch_PP-OCRv4_det_infer.onnx", "N,3,640,480", map[string]string{"sigmoid_0.tmp_0": "float32[N,1,640,480]"}, nil},
		{"ch_ppocr_mobile_v2.0_cls_infer.onnx", "N,3,H,W", map[string]string{"softmax_0.tmp_0": "float32[N,2]"},
			[]map[string]int64{{"N": 1, "H": 48, "W": 192}, {"N": 3, "H": 97, "W": 131}}},
		{"ch_ppocr_mobile_v2.0_cls_infer.onnx", "", map[string]string{"softmax_0.tmp_0": "float32[p2o.DynamicDimension.0,2]"}, nil},
		{"ch_PP-OCRv4_rec_infer.onnx", "N,3,48,W", map[string]string{"softmax_11.tmp_0": "float32[N,floor((W+3)/8),6625]"},
			[]map[string]int64{{"N": 1, "W": 320}, {"N": 2, "W": 97}}},
	} {
		path := testdeps.OCRModel(t, c.model)
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		ins := map[string]Shape{}
		if c.in != "" {
			ins["x"] = mustShape(c.in)
		}
		vals, err := inferTypes(m, ins)
		if err != nil {
			t.Fatalf("%s %s: %v", c.model, c.in, err)
		}
		for name, want := range c.want {
			if vals[name] == nil {
				t.Errorf("%s: no value %q", c.model, name)
			} else if got := vals[name].String(); got != want {
				t.Errorf("%s %s: %s is %s, want %s", c.model, c.in, name, got, want)
			}
		}
		for _, env := range c.concrete {
			shape := Shape{}
			for _, d := range ins["x"] {
				if d.Param != "" {
					d = Dim{Value: env[d.Param]}
				}
				shape = append(shape, d)
			}
			conc, err := inferTypes(m, map[string]Shape{"x": shape})
			if err != nil {
				t.Fatalf("%s %v: %v", c.model, shape, err)
			}
			checked := 0
			for name, sv := range vals {
				cv := conc[name]
				if !sv.rank || !cv.rank || len(sv.dims) != len(cv.dims) {
					t.Errorf("%s: %s is %s symbolically but %s for %v", c.model, name, sv, cv, shape)
					continue
				}
				for i, d := range sv.dims {
					v, ok := evalExpr(d, env)
					if !ok {
						continue // a fresh symbol
					}
					if w, _ := cv.dims[i].constVal(); v != w {
						t.Errorf("%s: %s is %s, which is %d at %v, but %s for %v", c.model, name, sv, v, env, cv, shape)
					}
					checked++
				}
			}
			if checked < len(vals) {
				t.Errorf("%s: only %d sizes checked for %d values", c.model, checked, len(vals))
			}
		}
	}
}

// A strided conv and a Flatten, symbolic and then concrete.
func TestInferShapesConvFlatten(t *testing.T) {
	b := newGB(13).in("x", Float, "N", 3, "H", "W").floats("w", []int64{8, 3, 3, 3}).
		node("Conv", "x w", "c", aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2)).node("Flatten", "c", "y")
	for _, c := range []struct{ in, want string }{
		{"", "float32[N,8,floor((H+1)/2),floor((W+1)/2)] float32[N,8*floor((H+1)/2)*floor((W+1)/2)]"},
		{"1,3,224," + strconv.Itoa(99), "float32[1,8,112,50] float32[1,44800]"},
	} {
		ins := map[string]Shape{}
		if c.in != "" {
			ins["x"] = mustShape(c.in)
		}
		types, err := InferShapes(b.model(), ins)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(types["c"], " ", types["y"]); got != c.want {
			t.Errorf("%q: got %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzInferShapes feeds mutated small models to inference: it may refuse
// them, but never panic (caught as "internal error") or hang.
func FuzzInferShapes(f *testing.F) {
	seeds := []*gb{
		newGB(13).in("x", Float, "N", 3, 8, 8).floats("w", []int64{4, 3, 3, 3}).
			node("Conv", "x w", "y", aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2), aInts("dilations", 1, 1), aInt("group", 1)),
		newGB(13).in("x", Float, "N", 3, 8, 8).node("MaxPool", "x", "y i", aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInt("ceil_mode", 1)),
		newGB(13).in("x", Float, "N", 3, "H", "W").ints("zero", []int64{}, 0).ints("ax", nil, 0).ints("m1", nil, -1).
			node("Shape", "x", "s").node("Gather", "s zero", "n").node("Unsqueeze", "n ax", "n1").
			node("Concat", "n1 m1", "shape", aInt("axis", 0)).node("Reshape", "x shape", "y"),
		newGB(13).in("x", Float, 10, 20).ints("s", nil, -1, 1).ints("e", nil, -100, 100).ints("a", nil, 0, 1).ints("st", nil, -3, 4).
			node("Slice", "x s e a st", "y").node("Split", "y", "p q", aInt("axis", 1)),
		newGB(13).in("x", Float, "N", 3, "H", 5).floats("roi", []int64{0}).floats("sc", nil, 1, 1, 2, 0.5).node("Resize", "x roi sc", "y").
			node("Pad", "y p", "z").ints("p", nil, 0, 1, 0, 2, 0, 1, 0, 2),
		newGB(13).in("x", Float, 4, 1, 6).ints("s", nil, 2, 4, 1, 6).node("Expand", "x s", "y").ints("r", nil, 1, 2, 3, 1).node("Tile", "y r", "z").
			node("ConstantOfShape", "r", "c").node("ConvTranspose", "c w", "d", aInts("output_padding", 1, 1), aInts("strides", 2, 2)).
			floats("w", []int64{1, 2, 3, 3}),
		newGB(13).in("a", Float, "N", 4).in("b", Float, 4, 6).node("MatMul", "a b", "y").node("Gemm", "y c", "z", aInt("transB", 1)).in("c", Float, 5, 6).
			node("Range", "i j k", "r").ints("i", []int64{}, 0).ints("j", []int64{}, 10).ints("k", []int64{}, 3),
	}
	for _, s := range seeds {
		b, err := marshal(s.model().Proto)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadBytes(data, "")
		if err != nil {
			return
		}
		for _, in := range []map[string]Shape{nil, {"x": mustShape("2,3,9,7")}} {
			if _, err := InferShapes(m, in); err != nil && strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
		}
	})
}

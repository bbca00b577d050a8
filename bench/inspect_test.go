package bench

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

func input(name string, dims ...any) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{}
	for _, d := range dims {
		dim := &pb.TensorShapeProto_Dimension{}
		switch v := d.(type) {
		case int:
			dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}
		case string:
			dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: v}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxio.Float)), Shape: shape}}}}
}

func weight(t *testing.T, name string, dims ...int64) *pb.TensorProto {
	n, _ := onnxio.NumElements(dims)
	w, err := onnxio.NewTensor(name, onnxio.Float, dims, make([]float32, n))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func intAttr(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attr(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}

// Hand counts for the layer kinds the fixtures do not cover: depthwise and
// strided convolutions, transposed convolution, batched MatMul and Gemm
// with a transposed A.
func TestLayerMACsByHand(t *testing.T) {
	g := &pb.GraphProto{
		Input: []*pb.ValueInfoProto{input("x", "N", 8, 10, 10), input("a", 3, 5, 7), input("g", 6, 4)},
		Initializer: []*pb.TensorProto{
			weight(t, "dw", 8, 1, 3, 3), weight(t, "s2", 16, 8, 3, 3), weight(t, "ct", 16, 4, 2, 2),
			weight(t, "b", 7, 9), weight(t, "gw", 6, 2),
		},
		Node: []*pb.NodeProto{
			{OpType: proto.String("Conv"), Name: proto.String("depthwise"), Input: []string{"x", "dw"}, Output: []string{"y1"},
				Attribute: []*pb.AttributeProto{intAttr("group", 8), attr("pads", 1, 1, 1, 1)}},
			{OpType: proto.String("Conv"), Name: proto.String("strided"), Input: []string{"y1", "s2"}, Output: []string{"y2"},
				Attribute: []*pb.AttributeProto{attr("strides", 2, 2)}},
			{OpType: proto.String("ConvTranspose"), Name: proto.String("up"), Input: []string{"y2", "ct"}, Output: []string{"y3"},
				Attribute: []*pb.AttributeProto{attr("strides", 2, 2)}},
			{OpType: proto.String("MatMul"), Name: proto.String("mm"), Input: []string{"a", "b"}, Output: []string{"y4"}},
			{OpType: proto.String("Gemm"), Name: proto.String("gemm"), Input: []string{"g", "gw"}, Output: []string{"y5"},
				Attribute: []*pb.AttributeProto{intAttr("transA", 1)}},
		},
		Output: []*pb.ValueInfoProto{input("y3"), input("y4"), input("y5")},
	}
	b, err := proto.Marshal(&pb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*pb.OperatorSetIdProto{{Version: proto.Int64(13)}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.LoadBytes(b, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"depthwise": 2 * 8 * 10 * 10 * 9, // each of 8x10x10 outputs reads 1 channel x 3x3
		"strided":   2 * 16 * 4 * 4 * 72, // (10-3)/2+1 = 4; 8 channels x 3x3
		"up":        2 * 16 * 4 * 4 * 16, // each input element scatters to 4 outputs x 2x2
		"mm":        3 * 5 * 9 * 7,       // batch 3 of 5x7 times 7x9
		"gemm":      4 * 2 * 6,           // A is 6x4 transposed: Y is 4x2, K = 6
	}
	info, err := Inspect(m, map[string]onnxio.Shape{"x": {{Value: 2}, {Value: 8}, {Value: 10}, {Value: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, l := range info.Layers {
		if l.MACs != want[l.Name] {
			t.Errorf("%s: %d MACs, want %d (in %v w %v out %v)", l.Name, l.MACs, want[l.Name], l.Input, l.Weight, l.Output)
		}
		total += want[l.Name]
	}
	if len(info.Layers) != len(want) || info.MACs != total {
		t.Errorf("%d layers, total %d, want %d and %d", len(info.Layers), info.MACs, len(want), total)
	}
	if p := int64(8*9 + 16*8*9 + 16*4*4 + 7*9 + 12); info.Params != p {
		t.Errorf("params %d, want %d", info.Params, p)
	}
	if len(info.Inputs) != 3 || info.Inputs[0].Shape[0] != "N" {
		t.Errorf("inputs %+v", info.Inputs)
	}
}

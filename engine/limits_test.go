package engine

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// A two-node model asking for a 4 TiB tensor gets an error naming the
// node, not an out-of-memory crash of the whole process.
func TestHostileShapesRefused(t *testing.T) {
	f32 := func(name string, dims ...int64) *pb.ValueInfoProto {
		s := &pb.TensorShapeProto{}
		for _, d := range dims {
			s.Dim = append(s.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
			TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxio.Float)), Shape: s}}}}
	}
	for _, c := range []struct {
		name  string
		shape []int64
		op    string
	}{
		{"expand", []int64{1 << 20, 1 << 21}, "Expand"},
		{"overflow", []int64{1 << 40, 1 << 40}, "Expand"},
		{"constant of shape", []int64{1 << 30, 1 << 30}, "ConstantOfShape"},
	} {
		shape, err := onnxio.NewTensor("s", onnxio.Int64, []int64{int64(len(c.shape))}, c.shape)
		if err != nil {
			t.Fatal(err)
		}
		node := &pb.NodeProto{Name: proto.String("big"), OpType: proto.String(c.op), Input: []string{"x", "s"}, Output: []string{"y"}}
		if c.op == "ConstantOfShape" {
			node.Input = []string{"s"}
		}
		g := &pb.GraphProto{
			Input: []*pb.ValueInfoProto{f32("x", 1)}, Initializer: []*pb.TensorProto{shape},
			Node: []*pb.NodeProto{node}, Output: []*pb.ValueInfoProto{f32("y")},
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
		s, err := Compile(m, Options{})
		if err == nil {
			_, err = s.Run(map[string]*Tensor{"x": NewFloat32([]int{1}, []float32{1})})
		}
		if err == nil || !strings.Contains(err.Error(), `"big"`) || !strings.Contains(err.Error(), "MaxTensorBytes") {
			t.Errorf("%s: error %v, want one naming node big and the limit", c.name, err)
		}
	}
}

// The limit is the caller's to set: a small one stops an ordinary model.
func TestMaxTensorBytesOption(t *testing.T) {
	s := compileFile(t, fixture("cnn"), Options{MaxTensorBytes: 4096})
	_, err := s.Run(map[string]*Tensor{"input": randInput(1, []int{1, 1, 28, 28})})
	if err == nil || !strings.Contains(err.Error(), "4096-byte limit") {
		t.Errorf("error %v", err)
	}
	s = compileFile(t, fixture("cnn"), Options{})
	if _, err := s.Run(map[string]*Tensor{"input": randInput(1, []int{1, 1, 28, 28})}); err != nil {
		t.Error(err)
	}
}

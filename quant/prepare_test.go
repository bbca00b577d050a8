package quant

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Prepare folds every BatchNormalization of the fixtures (resnet's
// shortcut ones read their bias through Identity nodes) and keeps the
// outputs equal up to float rounding.
func TestPrepareFixtures(t *testing.T) {
	src := fixtures.FashionMNIST(t)
	var in map[string]*engine.Tensor
	if err := batches(src, 16, func(b map[string]*engine.Tensor, _ []int) error {
		if in == nil {
			in = b
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures.Names {
		m := fixtures.Model(t, f)
		bns := 0
		for _, n := range m.Graph().GetNode() {
			if n.GetOpType() == "BatchNormalization" {
				bns++
			}
		}
		p := clone(m)
		folded, err := Prepare(p, 21)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range p.Graph().GetNode() {
			if n.GetOpType() == "BatchNormalization" || n.GetOpType() == "Constant" || n.GetOpType() == "Identity" {
				t.Errorf("%s: %s left after Prepare", f, n.GetOpType())
			}
		}
		if folded != bns || p.Opset("") != 21 || p.Proto.GetIrVersion() < 10 {
			t.Errorf("%s: folded %d of %d, opset %d, IR %d", f, folded, bns, p.Opset(""), p.Proto.GetIrVersion())
		}
		run := func(m2 *onnxio.Model) []float32 {
			s, err := engine.Compile(m2, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o, err := s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			return o["logits"].F32
		}
		a, b := run(m), run(p)
		var md, mx float64
		for i := range a {
			md = math.Max(md, math.Abs(float64(a[i]-b[i])))
			mx = math.Max(mx, math.Abs(float64(a[i])))
		}
		if md > 1e-4*mx {
			t.Errorf("%s: prepared model differs by %g (max |logit| %g)", f, md, mx)
		}
	}
}

// FoldAffine folds a chain of per-channel constant maps after a Conv
// (Mul by a scalar first operand, Add of [1,C,1,1], Sub of [C,1,1], Div
// by a scalar, BatchNormalization) and leaves a map over a spatial axis,
// a Sub with the constant first and the Conv read twice alone; outputs
// stay equal to the unfolded model's up to float rounding.
func TestFoldAffine(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	g := &pb.GraphProto{Name: proto.String("affine")}
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32()*2 - 0.5
		}
		return v
	}
	init := func(name string, dims []int64) {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		tp, err := onnxio.NewTensor(name, onnxio.Float, dims, vals(int(n)))
		if err != nil {
			t.Fatal(err)
		}
		g.Initializer = append(g.Initializer, tp)
	}
	node := func(op string, in []string, out string) {
		g.Node = append(g.Node, &pb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}})
	}
	vi := func(name string, dims ...int64) *pb.ValueInfoProto {
		sh := &pb.TensorShapeProto{}
		for _, d := range dims {
			sh.Dim = append(sh.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxio.Float)), Shape: sh}}}}
	}
	init("w", []int64{4, 3, 3, 3})
	init("b", []int64{4})
	init("s", nil)
	init("a", []int64{1, 4, 1, 1})
	init("c", []int64{4, 1, 1})
	init("d", []int64{1})
	init("sp", []int64{1, 1, 6, 1})
	for _, k := range []string{"gamma", "beta", "mean"} {
		init(k, []int64{4})
	}
	v := vals(4)
	for i := range v {
		v[i] = v[i]*v[i] + 0.1 // a variance
	}
	vt, err := onnxio.NewTensor("var", onnxio.Float, []int64{4}, v)
	if err != nil {
		t.Fatal(err)
	}
	g.Initializer = append(g.Initializer, vt)
	node("Conv", []string{"x", "w", "b"}, "c1")
	node("Mul", []string{"s", "c1"}, "m1")
	node("Add", []string{"m1", "a"}, "a1")
	node("Sub", []string{"a1", "c"}, "s1")
	node("Div", []string{"s1", "d"}, "d1")
	node("BatchNormalization", []string{"d1", "gamma", "beta", "mean", "var"}, "bn")
	node("Mul", []string{"bn", "sp"}, "y1") // over H: not per channel
	node("Conv", []string{"x", "w"}, "c2")
	node("Sub", []string{"c", "c2"}, "y2") // constant first: not x·scale+shift
	node("Conv", []string{"x", "w"}, "c3")
	node("Mul", []string{"c3", "s"}, "m3")
	node("Add", []string{"c3", "m3"}, "y3") // c3 read twice
	// ConvTranspose: the output channel is the weight's axis 1 (per group).
	init("wt", []int64{3, 4, 3, 3})
	init("wt2", []int64{4, 3, 2, 2})
	init("a6", []int64{1, 6, 1, 1})
	init("b6", []int64{6})
	node("ConvTranspose", []string{"x", "wt"}, "t1")
	node("BatchNormalization", []string{"t1", "gamma", "beta", "mean", "var"}, "y4")
	node("ConvTranspose", []string{"y1", "wt2", "b6"}, "t2")
	g.Node[len(g.Node)-1].Attribute = []*pb.AttributeProto{
		{Name: proto.String("group"), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(2)},
		{Name: proto.String("strides"), Type: pb.AttributeProto_INTS.Enum(), Ints: []int64{2, 2}}}
	node("Mul", []string{"t2", "a6"}, "y5")
	g.Input = []*pb.ValueInfoProto{vi("x", 2, 3, 8, 6)}
	g.Output = []*pb.ValueInfoProto{vi("y1"), vi("y2"), vi("y3"), vi("y4"), vi("y5")}
	m := &onnxio.Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}}
	p := clone(m)
	n, err := FoldAffine(p)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, nd := range p.Graph().GetNode() {
		ops = append(ops, nd.GetOpType())
	}
	if n != 7 || strings.Join(ops, " ") != "Conv Mul Conv Sub Conv Mul Add ConvTranspose ConvTranspose" {
		t.Errorf("folded %d, left %v", n, ops)
	}
	x := engine.NewFloat32([]int{2, 3, 8, 6}, vals(2*3*8*6))
	run := func(m *onnxio.Model) map[string]*engine.Tensor {
		s, err := engine.Compile(m, engine.Options{NoFusion: true})
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.Run(map[string]*engine.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a, b := run(m), run(p)
	for _, k := range []string{"y1", "y2", "y3", "y4", "y5"} {
		for i, v := range a[k].F32 {
			if d := math.Abs(float64(v - b[k].F32[i])); d > 1e-5*(1+math.Abs(float64(v))) {
				t.Fatalf("%s[%d]: folded %g, unfolded %g", k, i, b[k].F32[i], v)
			}
		}
	}
}

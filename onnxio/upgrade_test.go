package onnxio

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Small builders for hand-made models.

func nd(op string, in, out []string, attrs ...*pb.AttributeProto) *pb.NodeProto {
	return &pb.NodeProto{OpType: proto.String(op), Name: proto.String(op + "_" + strings.Join(out, "_")),
		Input: in, Output: out, Attribute: attrs}
}

func aGraph(name string, g *pb.GraphProto) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_GRAPH.Enum(), G: g}
}

// vi declares a tensor value; dims nil leaves the shape out, a negative
// dim is symbolic.
func vi(name string, dt DataType, dims []int64) *pb.ValueInfoProto {
	tt := &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(dt))}
	if dims != nil {
		tt.Shape = &pb.TensorShapeProto{}
		for _, d := range dims {
			if d < 0 {
				tt.Shape.Dim = append(tt.Shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "n"}})
			} else {
				tt.Shape.Dim = append(tt.Shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
			}
		}
	}
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: tt}}}
}

func f32s(name string, dims []int64, v ...float32) *pb.TensorProto {
	t, err := NewTensor(name, Float, dims, v)
	if err != nil {
		panic(err)
	}
	return t
}

func i64s(name string, dims []int64, v ...int64) *pb.TensorProto {
	t, err := NewTensor(name, Int64, dims, v)
	if err != nil {
		panic(err)
	}
	return t
}

// buildModel makes a checked model at opset.
func buildModel(t testing.TB, opset int64, nodes []*pb.NodeProto, inputs, outputs []*pb.ValueInfoProto, inits ...*pb.TensorProto) *Model {
	t.Helper()
	mp := &pb.ModelProto{
		IrVersion:   proto.Int64(max(minIRVersion(opset), 4)),
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph: &pb.GraphProto{Name: proto.String("g"), Node: nodes, Input: inputs, Output: outputs,
			Initializer: inits},
	}
	m := &Model{Proto: mp}
	if err := m.Check(); err != nil {
		t.Fatalf("test model: %v", err)
	}
	return m
}

func marshalT(t testing.TB, m *Model) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upgradeFails checks that UpgradeOpset fails with an error containing
// every one of want and leaves the model byte for byte as it was.
func upgradeFails(t *testing.T, m *Model, target int64, want ...string) {
	t.Helper()
	before := marshalT(t, m)
	err := m.UpgradeOpset(target)
	if err == nil {
		t.Fatalf("upgrade to %d succeeded, want an error", target)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if after := marshalT(t, m); !bytes.Equal(before, after) {
		t.Errorf("failed upgrade changed the model (%d bytes before, %d after)", len(before), len(after))
	}
}

func TestUpgradeRefusesBadTargets(t *testing.T) {
	x, y := vi("x", Float, nil), vi("y", Float, nil)
	m := buildModel(t, 11, []*pb.NodeProto{nd("Relu", []string{"x"}, []string{"y"})}, []*pb.ValueInfoProto{x}, []*pb.ValueInfoProto{y})
	upgradeFails(t, m, 10, "below the model's opset 11")
	upgradeFails(t, m, 22, "beyond 21")
	old := buildModel(t, 5, []*pb.NodeProto{nd("Relu", []string{"x"}, []string{"y"})}, []*pb.ValueInfoProto{x}, []*pb.ValueInfoProto{y})
	upgradeFails(t, old, 13, "opset 5", "opset 7 or newer")
	// Same opset: nothing to do, nothing changed.
	before := marshalT(t, m)
	if err := m.UpgradeOpset(11); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, marshalT(t, m)) {
		t.Error("upgrade to the current opset changed the model")
	}
}

// Every node without a known history is named, not only the first, and
// nodes that would convert fine are not touched either.
func TestUpgradeUnknownOpsListed(t *testing.T) {
	nodes := []*pb.NodeProto{
		nd("Clip", []string{"x"}, []string{"a"}, aFloat("min", 0)),
		nd("FancyOp", []string{"a"}, []string{"b"}),
		nd("Gelu", []string{"b"}, []string{"c"}), // opset 20, model at 9
		{OpType: proto.String("FancyOp"), Input: []string{"c"}, Output: []string{"d"}},
		nd("Mystery", []string{"d"}, []string{"e"}),
		{OpType: proto.String("Custom"), Domain: proto.String("com.example"), Input: []string{"e"}, Output: []string{"y"}},
	}
	m := buildModel(t, 9, nodes, []*pb.ValueInfoProto{vi("x", Float, nil)}, []*pb.ValueInfoProto{vi("y", Float, nil)})
	upgradeFails(t, m, 13, "3 operator type(s)", `FancyOp: "FancyOp_b" (FancyOp), #3 (FancyOp)`,
		`Gelu: "Gelu_c" (Gelu) (Gelu first appeared at opset 20)`, `Mystery: "Mystery_e"`)
	err := m.UpgradeOpset(13)
	if strings.Contains(err.Error(), "Custom") {
		t.Errorf("error %q names an operator of another domain", err)
	}
}

func TestUpgradeBatchNormSpatial0(t *testing.T) {
	p := func(name string) *pb.TensorProto { return f32s(name, []int64{3}, 1, 2, 3) }
	bn := func(spatial int64, out string) *pb.NodeProto {
		return nd("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{out}, aInt("spatial", spatial))
	}
	nodes := []*pb.NodeProto{
		nd("Clip", []string{"x"}, []string{"c"}, aFloat("max", 6)),
		bn(1, "y1"), bn(0, "y0"),
	}
	m := buildModel(t, 7, nodes, []*pb.ValueInfoProto{vi("x", Float, nil)},
		[]*pb.ValueInfoProto{vi("c", Float, nil), vi("y1", Float, nil), vi("y0", Float, nil)},
		p("s"), p("b"), p("m"), p("v"))
	upgradeFails(t, m, 9, `"BatchNormalization_y0"`, "spatial=0")
	// Below the change nothing is needed.
	if err := m.UpgradeOpset(8); err != nil {
		t.Fatal(err)
	}
	upgradeFails(t, m, 21, "spatial=0")
	if m.Opset("") != 8 {
		t.Errorf("opset %d after failed upgrade, want 8", m.Opset(""))
	}
}

func TestUpgradeOtherErrors(t *testing.T) {
	in, out := []*pb.ValueInfoProto{vi("x", Float, nil)}, []*pb.ValueInfoProto{vi("y", Float, nil)}
	for _, c := range []struct {
		name   string
		opset  int64
		nodes  []*pb.NodeProto
		inits  []*pb.TensorProto
		target int64
		want   []string
		outs   []*pb.ValueInfoProto
	}{
		{"dropout mask used", 9, []*pb.NodeProto{
			nd("Dropout", []string{"x"}, []string{"d", "mask"}),
			nd("Add", []string{"d", "mask"}, []string{"y"})}, nil, 10,
			[]string{`output "mask" is used`}, nil},
		{"dropout mask as graph output", 10, []*pb.NodeProto{
			nd("Dropout", []string{"x"}, []string{"y", "mask"}, aFloat("ratio", 0.1))}, nil, 12,
			[]string{`output "mask" is used`, "all false"}, []*pb.ValueInfoProto{vi("y", Float, nil), vi("mask", Bool, nil)}},
		{"batchnorm training output used", 9, []*pb.NodeProto{
			nd("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y", "mean", "var"})},
			[]*pb.TensorProto{f32s("s", []int64{1}, 1), f32s("b", []int64{1}, 0), f32s("m", []int64{1}, 0), f32s("v", []int64{1}, 1)}, 14,
			[]string{`output "var" is used`, "training-mode outputs"}, []*pb.ValueInfoProto{vi("y", Float, nil), vi("var", Float, nil)}},
		{"resize nearest mixed scales", 10, []*pb.NodeProto{
			nd("Resize", []string{"x", "sc"}, []string{"y"})}, []*pb.TensorProto{f32s("sc", []int64{4}, 1, 1, 2, 0.5)}, 11,
			[]string{"both up- and downsample"}, nil},
		{"resize nearest run-time scales", 10, []*pb.NodeProto{
			nd("Identity", []string{"sc"}, []string{"sc2"}),
			nd("Resize", []string{"x", "sc2"}, []string{"y"})}, []*pb.TensorProto{f32s("sc", []int64{4}, 1, 1, 2, 2)}, 11,
			[]string{"computed at run time"}, nil},
		{"clip with inputs at opset 9", 9, []*pb.NodeProto{
			nd("Clip", []string{"x", "lo", "hi"}, []string{"y"})}, []*pb.TensorProto{f32s("lo", nil, 0), f32s("hi", nil, 6)}, 11,
			[]string{"has 3 inputs", "not valid at its opset"}, nil},
		{"scan 8", 8, []*pb.NodeProto{
			nd("Scan", []string{"", "x"}, []string{"y"}, aInt("num_scan_inputs", 1),
				aGraph("body", &pb.GraphProto{Name: proto.String("b")}))}, nil, 9,
			[]string{"Scan-9 removed the batch axis"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := out
			if c.outs != nil {
				out = c.outs
			}
			m := &Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(7),
				OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(c.opset)}},
				Graph:       &pb.GraphProto{Node: c.nodes, Input: in, Output: out, Initializer: c.inits}}}
			upgradeFails(t, m, c.target, c.want...)
		})
	}
}

func opTypes(g *pb.GraphProto) []string {
	var s []string
	for _, n := range g.GetNode() {
		s = append(s, n.GetOpType())
	}
	return s
}

// The converted forms, as the ORT tests cannot see them: names are fresh,
// types follow the data, the model stays valid.
func TestUpgradeStructure(t *testing.T) {
	nodes := []*pb.NodeProto{
		nd("Cast", []string{"x"}, []string{"h"}, aInt("to", int64(Float16))),
		nd("Clip", []string{"h"}, []string{"c"}, aFloat("min", -1), aFloat("max", 1)),
		nd("Pad", []string{"x"}, []string{"p"}, aInts("pads", 0, 1, 0, 1), aFloat("value", 2)),
		nd("Softmax", []string{"x"}, []string{"s"}),                   // rank 2 declared, default axis 1: last
		nd("Softmax", []string{"p"}, []string{"s2"}, aInt("axis", 0)), // needs Flatten form
		nd("Split", []string{"x"}, []string{"a", "b"}, aInt("axis", 1)),
		nd("ReduceMean", []string{"x"}, []string{"r"}, aInts("axes", 1)),
		nd("Dropout", []string{"x"}, []string{"d", "dmask"}, aFloat("ratio", 0.25)),
	}
	outs := []*pb.ValueInfoProto{vi("c", Float16, nil), vi("s", Float, nil), vi("s2", Float, nil),
		vi("a", Float, nil), vi("b", Float, nil), vi("r", Float, nil), vi("d", Float, nil)}
	m := buildModel(t, 9, nodes, []*pb.ValueInfoProto{vi("x", Float, []int64{2, 4})}, outs,
		f32s("Clip_c_min", nil, 0)) // a name the converter must not reuse
	m.Graph().ValueInfo = []*pb.ValueInfoProto{vi("dmask", Float, nil)}
	if err := m.UpgradeOpset(21); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(); err != nil {
		t.Fatalf("upgraded model fails Check: %v", err)
	}
	if m.Opset("") != 21 || m.Proto.GetIrVersion() != 10 {
		t.Errorf("opset %d IR %d, want 21 and 10", m.Opset(""), m.Proto.GetIrVersion())
	}
	want := []string{"Cast", "Clip", "Pad", "Softmax", "Flatten", "Softmax", "Shape", "Reshape", "Split", "ReduceMean", "Dropout"}
	if got := opTypes(m.Graph()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("nodes %v, want %v", got, want)
	}
	inits := map[string]*pb.TensorProto{}
	for _, in := range m.Graph().GetInitializer() {
		inits[in.GetName()] = in
	}
	g := m.Graph().GetNode()
	clip := g[1]
	if len(clip.GetAttribute()) != 0 || len(clip.GetInput()) != 3 || clip.GetInput()[1] == "Clip_c_min" {
		t.Fatalf("Clip: %v", clip)
	}
	for i, want := range []float32{-1, 1} {
		c := inits[clip.GetInput()[i+1]]
		v, err := Decode[F16](nil, c)
		if err != nil || len(c.GetDims()) != 0 || v[0].Float32() != want {
			t.Errorf("Clip input %d: %v %v, want float16 scalar %v", i+1, c, err, want)
		}
	}
	pad := g[2]
	if v, _ := Decode[int64](nil, inits[pad.GetInput()[1]]); len(v) != 4 || v[1] != 1 {
		t.Errorf("Pad pads %v", v)
	}
	if v, _ := Decode[float32](nil, inits[pad.GetInput()[2]]); len(v) != 1 || v[0] != 2 {
		t.Errorf("Pad value %v", v)
	}
	if a := findAttr(g[3], "axis"); a == nil || a.GetI() != 1 {
		t.Errorf("single Softmax axis %v, want 1", a)
	}
	if a := findAttr(g[8], "num_outputs"); a == nil || a.GetI() != 2 {
		t.Errorf("Split num_outputs %v, want 2", a)
	}
	if len(g[9].GetInput()) != 2 || len(g[9].GetAttribute()) != 0 {
		t.Errorf("ReduceMean %v", g[9])
	}
	if d := g[10]; len(d.GetOutput()) != 1 || len(d.GetInput()) != 2 {
		t.Errorf("Dropout %v", d)
	}
	if len(m.Graph().GetValueInfo()) != 0 {
		t.Errorf("value_info of the dropped mask kept: %v", m.Graph().GetValueInfo())
	}
	// Fresh names are unique across the model.
	seen := map[string]bool{}
	for _, n := range m.Graph().GetNode() {
		if seen[n.GetName()] {
			t.Errorf("two nodes named %q", n.GetName())
		}
		seen[n.GetName()] = true
	}
}

// Subgraph nodes are converted too, their new constants kept in the
// subgraph.
func TestUpgradeSubgraph(t *testing.T) {
	then := &pb.GraphProto{Name: proto.String("then"),
		Node:   []*pb.NodeProto{nd("Unsqueeze", []string{"x"}, []string{"t"}, aInts("axes", 0))},
		Output: []*pb.ValueInfoProto{vi("t", Float, nil)}}
	els := &pb.GraphProto{Name: proto.String("else"),
		Node:   []*pb.NodeProto{nd("Unsqueeze", []string{"x"}, []string{"e"}, aInts("axes", 1))},
		Output: []*pb.ValueInfoProto{vi("e", Float, nil)}}
	m := buildModel(t, 11, []*pb.NodeProto{nd("If", []string{"cond"}, []string{"y"}, aGraph("then_branch", then), aGraph("else_branch", els))},
		[]*pb.ValueInfoProto{vi("cond", Bool, nil), vi("x", Float, nil)}, []*pb.ValueInfoProto{vi("y", Float, nil)})
	if err := m.UpgradeOpset(13); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*pb.GraphProto{then, els} {
		n := g.GetNode()[0]
		if len(n.GetInput()) != 2 || len(g.GetInitializer()) != 1 || g.GetInitializer()[0].GetName() != n.GetInput()[1] {
			t.Errorf("subgraph %s: node %v, initializers %v", g.GetName(), n, g.GetInitializer())
		}
	}
	if len(m.Graph().GetInitializer()) != 0 {
		t.Errorf("main graph got initializers %v", m.Graph().GetInitializer())
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
}

// pseudoRandom gives n deterministic values in [lo, hi).
func pseudoRandom(seed uint64, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	s := seed*0x9E3779B97F4A7C15 + 1
	for i := range v {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		v[i] = lo + (hi-lo)*float32(s>>40)/float32(1<<24)
	}
	return v
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func int64Bytes(v []int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

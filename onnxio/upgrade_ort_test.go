package onnxio

import (
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// These tests take ONNX Runtime, which implements every operator version,
// as the reference: a model and its upgraded copies must compute the same.

func saveTemp(t testing.TB, m *Model, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := m.Save(p, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// upgradedCopy re-reads m and upgrades the copy.
func upgradedCopy(t testing.TB, m *Model, target int64) (*Model, error) {
	t.Helper()
	b := marshalT(t, m)
	c, err := LoadBytes(b, m.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, c.UpgradeOpset(target)
}

// diffOutputs compares two runs' outputs: float outputs give their largest
// difference, absolute, and relative to max(1, |a|); other types must be
// equal.
func diffOutputs(a, b []testdeps.ORTTensor) (maxDiff, maxRel float64, identical bool, err error) {
	if len(a) != len(b) {
		return 0, 0, false, fmt.Errorf("%d outputs, want %d", len(b), len(a))
	}
	identical = true
	for i := range a {
		if a[i].Type != b[i].Type || fmt.Sprint(a[i].Dims) != fmt.Sprint(b[i].Dims) {
			return 0, 0, false, fmt.Errorf("output %d is %s%v, want %s%v", i, b[i].Type, b[i].Dims, a[i].Type, a[i].Dims)
		}
		if len(a[i].Data) != len(b[i].Data) {
			return 0, 0, false, fmt.Errorf("output %d has %d bytes, want %d", i, len(b[i].Data), len(a[i].Data))
		}
		same := string(a[i].Data) == string(b[i].Data)
		if same {
			continue
		}
		identical = false
		if a[i].Type != "float32" {
			return 0, 0, false, fmt.Errorf("output %d (%s) differs", i, a[i].Type)
		}
		for k := 0; k+4 <= len(a[i].Data); k += 4 {
			x := math.Float32frombits(binary.LittleEndian.Uint32(a[i].Data[k:]))
			y := math.Float32frombits(binary.LittleEndian.Uint32(b[i].Data[k:]))
			if math.IsNaN(float64(x)) != math.IsNaN(float64(y)) {
				return math.Inf(1), math.Inf(1), false, nil
			}
			d := math.Abs(float64(x) - float64(y))
			maxDiff = max(maxDiff, d)
			maxRel = max(maxRel, d/max(1, math.Abs(float64(x))))
		}
	}
	return maxDiff, maxRel, identical, nil
}

// The PaddleOCR models, with weights in Constant nodes as exported or
// moved to initializers, compute the same after upgrades to 13 and 21.
func TestUpgradeOCRModelsMatchORT(t *testing.T) {
	type variant struct {
		label  string
		model  string
		inputs []testdeps.ORTTensor
	}
	var jobs []testdeps.ORTJob
	var labels []string
	for mi, c := range []struct {
		name  string
		opset int64
		dims  []int64
	}{
		{"ch_PP-OCRv4_det_infer.onnx", 11, []int64{1, 3, 320, 320}},
		{"ch_ppocr_mobile_v2.0_cls_infer.onnx", 9, []int64{1, 3, 48, 192}},
		// Not in the brief but at opset 9 too, with Softmax on 4-D,
		// Slice, Squeeze and ReduceMean in their old forms.
		{"ch_PP-OCRv4_rec_infer.onnx", 9, []int64{1, 3, 48, 320}},
	} {
		path := testdeps.OCRModel(t, c.name)
		n := int(c.dims[0] * c.dims[1] * c.dims[2] * c.dims[3])
		in := []testdeps.ORTTensor{{Name: "x", Type: "float32", Dims: c.dims, Data: float32Bytes(pseudoRandom(uint64(mi+1), n, 0, 1))}}
		orig, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		// The outputs of the nodes that change are compared too, not only
		// the model's (the classifier's is two numbers).
		probes := exposeOutputs(orig)
		jobs = append(jobs, testdeps.ORTJob{Model: saveTemp(t, orig, "orig.onnx"), Inputs: in})
		labels = append(labels, c.name+" as shipped")
		for _, consts := range []bool{false, true} {
			for _, target := range []int64{13, 21} {
				m, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if m.Opset("") != c.opset {
					t.Fatalf("%s is at opset %d, want %d", c.name, m.Opset(""), c.opset)
				}
				label := fmt.Sprintf("%s at %d, Constant nodes kept", c.name, target)
				if consts {
					if _, err := m.ConstantsToInitializers(); err != nil {
						t.Fatal(err)
					}
					label = fmt.Sprintf("%s at %d, constants as initializers", c.name, target)
				}
				if err := m.UpgradeOpset(target); err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				m.Graph().Output = append(m.Graph().Output, probes...)
				if err := m.Check(); err != nil {
					t.Fatalf("%s: upgraded model fails Check: %v", label, err)
				}
				checkNoOldForms(t, label, m, target)
				jobs = append(jobs, testdeps.ORTJob{Model: saveTemp(t, m, "up.onnx"), Inputs: in})
				labels = append(labels, label)
			}
		}
	}
	res := testdeps.RunORTBatch(t, jobs)
	var ref []testdeps.ORTTensor
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", labels[i], r.Err)
			continue
		}
		if i%5 == 0 {
			ref = r.Outputs
			continue
		}
		d, rel, same, err := diffOutputs(ref, r.Outputs)
		switch {
		case err != nil:
			t.Errorf("%s: %v", labels[i], err)
		case same:
			t.Logf("%s: %d outputs identical to the original's", labels[i], len(ref))
		case rel > 1e-5:
			t.Errorf("%s: max difference %g (%g relative to max(1, |x|)) from the original, want <= 1e-5", labels[i], d, rel)
		default:
			t.Logf("%s: %d outputs, max difference %g (%g relative to max(1, |x|)) from the original", labels[i], len(ref), d, rel)
		}
	}
}

// exposeOutputs makes the first output of every node of a type that has
// conversions a graph output too, and returns the added outputs.
func exposeOutputs(m *Model) []*pb.ValueInfoProto {
	var added []*pb.ValueInfoProto
	types := (&upgrader{}).newScope(m.Graph(), nil) // the inferred element types
	outs := map[string]bool{}
	for _, o := range m.Graph().GetOutput() {
		outs[o.GetName()] = true
	}
	for _, n := range m.Graph().GetNode() {
		if o := n.GetOutput()[0]; changes[n.GetOpType()] != nil && !outs[o] {
			if dt := types.elemType(o); dt != 0 {
				added = append(added, vi(o, dt, nil))
			}
		}
	}
	m.Graph().Output = append(m.Graph().Output, added...)
	return added
}

// checkNoOldForms fails on attributes that moved to inputs by target.
func checkNoOldForms(t *testing.T, label string, m *Model, target int64) {
	t.Helper()
	moved := map[string]int64{"Clip.min": 11, "Clip.max": 11, "Slice.starts": 10, "Squeeze.axes": 13,
		"Unsqueeze.axes": 13, "ReduceMean.axes": 18, "Pad.pads": 11}
	for _, n := range m.Graph().GetNode() {
		for _, a := range n.GetAttribute() {
			if v, ok := moved[n.GetOpType()+"."+a.GetName()]; ok && v <= target {
				t.Errorf("%s: node %s still has attribute %s", label, n.GetName(), a.GetName())
			}
		}
	}
}

// feed is one graph input of a hand-made case: values uniform in [lo, hi).
type feed struct {
	name   string
	dt     DataType
	dims   []int64
	lo, hi float32
}

func (f feed) tensor(seed uint64) testdeps.ORTTensor {
	n := 1
	for _, d := range f.dims {
		n *= int(d)
	}
	v := pseudoRandom(seed, n, f.lo, f.hi)
	t := testdeps.ORTTensor{Name: f.name, Dims: append([]int64{}, f.dims...)}
	switch f.dt {
	case Float:
		t.Type, t.Data = "float32", float32Bytes(v)
	case Bool:
		t.Type, t.Data = "bool", make([]byte, n)
		for i, x := range v {
			if x >= 0.5 {
				t.Data[i] = 1
			}
		}
	default:
		panic("feed type")
	}
	return t
}

// oldForm is a hand-made model using an operator in an old version.
type oldForm struct {
	name    string
	opset   int64
	nodes   []*pb.NodeProto
	feeds   []feed
	inits   []*pb.TensorProto
	outputs []*pb.ValueInfoProto
	declare bool // declare the inputs' shapes
}

func x4(lo, hi float32) []feed { return []feed{{"x", Float, []int64{2, 3, 4, 5}, lo, hi}} }

var yOut = []*pb.ValueInfoProto{vi("y", Float, nil)}

func one(op string, attrs ...*pb.AttributeProto) []*pb.NodeProto {
	return []*pb.NodeProto{nd(op, []string{"x"}, []string{"y"}, attrs...)}
}

func oldForms() []oldForm {
	cs := []oldForm{
		{name: "Clip-6 min max", opset: 7, nodes: one("Clip", aFloat("min", -1), aFloat("max", 1.5)), feeds: x4(-3, 3)},
		{name: "Clip-6 min", opset: 7, nodes: one("Clip", aFloat("min", 0.5)), feeds: x4(-3, 3)},
		{name: "Clip-6 max", opset: 9, nodes: one("Clip", aFloat("max", -0.5)), feeds: x4(-3, 3)},
		{name: "Clip-6 none", opset: 10, nodes: one("Clip"), feeds: x4(-3, 3)},
		{name: "Pad-2 constant", opset: 7, nodes: one("Pad", aInts("pads", 0, 0, 1, 2, 0, 0, 2, 1), aFloat("value", 1.5)), feeds: x4(-3, 3)},
		{name: "Pad-2 zero", opset: 8, nodes: one("Pad", aInts("pads", 1, 0, 0, 0, 0, 0, 0, 1)), feeds: x4(-3, 3)},
		{name: "Pad-2 reflect", opset: 9, nodes: one("Pad", aStr("mode", "reflect"), aInts("pads", 0, 0, 1, 1, 0, 0, 2, 3), aFloat("value", 7)), feeds: x4(-3, 3)},
		{name: "Pad-2 edge", opset: 10, nodes: one("Pad", aStr("mode", "edge"), aInts("pads", 0, 1, 0, 2, 0, 0, 1, 0)), feeds: x4(-3, 3)},
		{name: "Slice-1 axes", opset: 9, nodes: one("Slice", aInts("starts", 1, -3), aInts("ends", 2, 1000), aInts("axes", 1, 3)), feeds: x4(-3, 3)},
		{name: "Slice-1", opset: 7, nodes: one("Slice", aInts("starts", 0, 1, 1, 0), aInts("ends", 1, 3, -1, 5)), feeds: x4(-3, 3)},
		{name: "TopK-1", opset: 9, nodes: []*pb.NodeProto{nd("TopK", []string{"x"}, []string{"y", "i"}, aInt("k", 2), aInt("axis", 2))},
			feeds: x4(-3, 3), outputs: []*pb.ValueInfoProto{vi("y", Float, nil), vi("i", Int64, nil)}},
		{name: "Squeeze-11", opset: 11, nodes: one("Squeeze", aInts("axes", 1, -1)), feeds: []feed{{"x", Float, []int64{2, 1, 4, 1}, -1, 1}}},
		{name: "Squeeze-1 all", opset: 7, nodes: one("Squeeze"), feeds: []feed{{"x", Float, []int64{2, 1, 4, 1}, -1, 1}}},
		{name: "Unsqueeze-11", opset: 11, nodes: one("Unsqueeze", aInts("axes", 0, -1)), feeds: x4(-1, 1)},
		{name: "Unsqueeze-1", opset: 7, nodes: one("Unsqueeze", aInts("axes", 2)), feeds: x4(-1, 1)},
		{name: "Split-11 sizes", opset: 11, nodes: []*pb.NodeProto{nd("Split", []string{"x"}, []string{"y", "z"}, aInt("axis", 1), aInts("split", 1, 2))},
			feeds: x4(-1, 1), outputs: []*pb.ValueInfoProto{vi("y", Float, nil), vi("z", Float, nil)}},
		{name: "Split-11 equal", opset: 11, nodes: []*pb.NodeProto{nd("Split", []string{"x"}, []string{"y", "z"}, aInt("axis", -2))},
			feeds: x4(-1, 1), outputs: []*pb.ValueInfoProto{vi("y", Float, nil), vi("z", Float, nil)}},
		{name: "Split-2 sizes", opset: 7, nodes: []*pb.NodeProto{nd("Split", []string{"x"}, []string{"y", "z"}, aInt("axis", 2), aInts("split", 3, 1))},
			feeds: x4(-1, 1), outputs: []*pb.ValueInfoProto{vi("y", Float, nil), vi("z", Float, nil)}},
		{name: "Split-2 default axis", opset: 9, nodes: []*pb.NodeProto{nd("Split", []string{"x"}, []string{"y", "z"})},
			feeds: x4(-1, 1), outputs: []*pb.ValueInfoProto{vi("y", Float, nil), vi("z", Float, nil)}},
		{name: "ReduceSum-11 all", opset: 11, nodes: one("ReduceSum"), feeds: x4(-1, 1)},
		{name: "Dropout-7", opset: 7, nodes: one("Dropout", aFloat("ratio", 0.3)), feeds: x4(-1, 1)},
		{name: "Dropout-7 unused mask", opset: 9, nodes: []*pb.NodeProto{nd("Dropout", []string{"x"}, []string{"y", "mask"})}, feeds: x4(-1, 1)},
		{name: "Dropout-10 ratio", opset: 10, nodes: []*pb.NodeProto{nd("Dropout", []string{"x"}, []string{"y", "mask"}, aFloat("ratio", 0.2))}, feeds: x4(-1, 1)},
		{name: "BatchNormalization-7 spatial", opset: 7,
			nodes: []*pb.NodeProto{nd("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y"}, aInt("spatial", 1), aFloat("epsilon", 1e-3))},
			feeds: x4(-3, 3), inits: []*pb.TensorProto{f32s("s", []int64{3}, 0.5, 1, 2), f32s("b", []int64{3}, 0, 1, -1),
				f32s("m", []int64{3}, 0.1, -0.2, 0.3), f32s("v", []int64{3}, 1, 2, 0.5)}},
		{name: "BatchNormalization-7", opset: 8,
			nodes: []*pb.NodeProto{nd("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y"})},
			feeds: x4(-3, 3), inits: []*pb.TensorProto{f32s("s", []int64{3}, 0.5, 1, 2), f32s("b", []int64{3}, 0, 1, -1),
				f32s("m", []int64{3}, 0.1, -0.2, 0.3), f32s("v", []int64{3}, 1, 2, 0.5)}},
		{name: "Upsample-7 nearest", opset: 7, nodes: one("Upsample", aFloats("scales", 1, 1, 2, 3)), feeds: x4(-3, 3)},
		{name: "Upsample-7 linear", opset: 8, nodes: one("Upsample", aStr("mode", "linear"), aFloats("scales", 1, 1, 2, 2)), feeds: x4(-3, 3)},
		{name: "Upsample-9 nearest", opset: 9, nodes: []*pb.NodeProto{nd("Upsample", []string{"x", "sc"}, []string{"y"})},
			feeds: x4(-3, 3), inits: []*pb.TensorProto{f32s("sc", []int64{4}, 1, 1, 1.5, 2.5)}},
		{name: "Upsample-9 run-time scales", opset: 9, nodes: []*pb.NodeProto{
			nd("Identity", []string{"sc"}, []string{"sc2"}), nd("Upsample", []string{"x", "sc2"}, []string{"y"})},
			feeds: x4(-3, 3), inits: []*pb.TensorProto{f32s("sc", []int64{4}, 1, 1, 2, 3)}},
		{name: "Upsample-9 linear", opset: 9, nodes: []*pb.NodeProto{nd("Upsample", []string{"x", "sc"}, []string{"y"}, aStr("mode", "linear"))},
			feeds: x4(-3, 3), inits: []*pb.TensorProto{f32s("sc", []int64{4}, 1, 1, 2, 1.5)}},
		{name: "Scatter-9", opset: 9, nodes: []*pb.NodeProto{nd("Scatter", []string{"x", "i", "u"}, []string{"y"}, aInt("axis", 1))},
			feeds: []feed{{"x", Float, []int64{3, 3}, -1, 1}},
			inits: []*pb.TensorProto{i64s("i", []int64{2, 3}, 1, 0, 2, 0, 2, 1), f32s("u", []int64{2, 3}, 10, 11, 12, 13, 14, 15)}},
		{name: "Scatter-9 axis 0", opset: 10, nodes: []*pb.NodeProto{nd("Scatter", []string{"x", "i", "u"}, []string{"y"})},
			feeds: []feed{{"x", Float, []int64{3, 3}, -1, 1}},
			inits: []*pb.TensorProto{i64s("i", []int64{1, 3}, 1, 0, 2), f32s("u", []int64{1, 3}, 10, 11, 12)}},
		{name: "RoiAlign-10", opset: 10, nodes: []*pb.NodeProto{nd("RoiAlign", []string{"x", "rois", "bi"}, []string{"y"},
			aInt("output_height", 3), aInt("output_width", 2), aInt("sampling_ratio", 2))},
			feeds: []feed{{"x", Float, []int64{1, 2, 6, 6}, -1, 1}},
			inits: []*pb.TensorProto{f32s("rois", []int64{2, 4}, 0.5, 0.5, 4.2, 3.7, 1, 1, 5, 5), i64s("bi", []int64{2}, 0, 0)}},
		{name: "GridSample-16 bilinear", opset: 16, nodes: []*pb.NodeProto{nd("GridSample", []string{"x", "grid"}, []string{"y"})},
			feeds: []feed{{"x", Float, []int64{1, 2, 4, 5}, -1, 1}, {"grid", Float, []int64{1, 3, 4, 2}, -1.1, 1.1}}},
		{name: "GridSample-16 bicubic", opset: 17, nodes: []*pb.NodeProto{nd("GridSample", []string{"x", "grid"}, []string{"y"}, aStr("mode", "bicubic"), aInt("align_corners", 1))},
			feeds: []feed{{"x", Float, []int64{1, 2, 4, 5}, -1, 1}, {"grid", Float, []int64{1, 3, 4, 2}, -1.1, 1.1}}},
		{name: "GroupNormalization-18", opset: 18, nodes: []*pb.NodeProto{nd("GroupNormalization", []string{"x", "s", "b"}, []string{"y"}, aInt("num_groups", 2))},
			feeds: []feed{{"x", Float, []int64{2, 4, 3, 3}, -2, 2}}, inits: []*pb.TensorProto{f32s("s", []int64{2}, 0.5, 2), f32s("b", []int64{2}, 1, -1)}},
	}
	for _, sc := range [][]float32{{1, 1, 2, 2}, {1, 1, 1.5, 2.5}, {1, 1, 0.6, 0.5}, {1, 1, 1, 0.4}} {
		for _, mode := range []string{"nearest", "linear"} {
			cs = append(cs, oldForm{name: fmt.Sprintf("Resize-10 %s %v", mode, sc), opset: 10,
				nodes: []*pb.NodeProto{nd("Resize", []string{"x", "sc"}, []string{"y"}, aStr("mode", mode))},
				feeds: x4(-3, 3), inits: []*pb.TensorProto{f32s("sc", []int64{4}, sc...)}})
		}
	}
	for _, sizes := range [][]int64{{2, 3, 7, 8}, {2, 3, 3, 2}, {2, 3, 4, 11}} {
		for _, nm := range []string{"", "floor"} {
			attrs := []*pb.AttributeProto{aStr("coordinate_transformation_mode", "tf_half_pixel_for_nn")}
			if nm != "" {
				attrs = append(attrs, aStr("nearest_mode", nm))
			}
			cs = append(cs, oldForm{name: fmt.Sprintf("Resize-11 tf_half_pixel_for_nn %s %v", nm, sizes), opset: 11,
				nodes: []*pb.NodeProto{nd("Resize", []string{"x", "roi", "scales", "sizes"}, []string{"y"}, attrs...)},
				feeds: x4(-3, 3), inits: []*pb.TensorProto{f32s("roi", []int64{0}), f32s("scales", []int64{0}), i64s("sizes", []int64{4}, sizes...)}})
		}
	}
	for _, op := range append([]string{"ReduceSum"}, reduceAxes...) {
		cs = append(cs,
			oldForm{name: op + "-11 axes", opset: 11, nodes: one(op, aInts("axes", 1, -1), aInt("keepdims", 0)), feeds: x4(0.1, 2)},
			oldForm{name: op + "-1 axes", opset: 9, nodes: one(op, aInts("axes", 2)), feeds: x4(0.1, 2)})
	}
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		for _, c := range []struct {
			label   string
			opset   int64
			axis    []*pb.AttributeProto
			declare bool
		}{
			{"default axis", 9, nil, false},
			{"default axis, rank known", 11, nil, true},
			{"axis 2", 11, []*pb.AttributeProto{aInt("axis", 2)}, false},
			{"axis 3, rank known", 12, []*pb.AttributeProto{aInt("axis", 3)}, true},
			{"axis -1", 11, []*pb.AttributeProto{aInt("axis", -1)}, false},
			{"axis -3", 11, []*pb.AttributeProto{aInt("axis", -3)}, false},
			{"axis 0", 7, []*pb.AttributeProto{aInt("axis", 0)}, true},
		} {
			cs = append(cs, oldForm{name: op + " " + c.label, opset: c.opset, nodes: one(op, c.axis...), feeds: x4(-3, 3), declare: c.declare})
		}
		cs = append(cs, oldForm{name: op + " 2-D default axis, rank known", opset: 9, nodes: one(op),
			feeds: []feed{{"x", Float, []int64{6, 7}, -3, 3}}, declare: true})
	}
	// A subgraph: If whose branches hold old forms, reading x from outside.
	for _, cond := range []float32{0, 1} {
		then := &pb.GraphProto{Name: strp("then"),
			Node:   []*pb.NodeProto{nd("Softmax", []string{"x"}, []string{"t"}, aInt("axis", 1))},
			Output: []*pb.ValueInfoProto{vi("t", Float, nil)}}
		els := &pb.GraphProto{Name: strp("else"),
			Node: []*pb.NodeProto{nd("Unsqueeze", []string{"x"}, []string{"u"}, aInts("axes", 0)),
				nd("ReduceMean", []string{"u"}, []string{"e"}, aInts("axes", 0))},
			Output: []*pb.ValueInfoProto{vi("e", Float, nil)}}
		cs = append(cs, oldForm{name: fmt.Sprintf("If-11 cond %v", cond), opset: 11,
			nodes: []*pb.NodeProto{nd("If", []string{"c"}, []string{"y"}, aGraph("then_branch", then), aGraph("else_branch", els))},
			feeds: []feed{{"c", Bool, nil, cond, cond + 1e-3}, {"x", Float, []int64{2, 3, 4, 5}, -3, 3}}})
	}
	return cs
}

func strp(s string) *string { return &s }

// Each old form, upgraded to every opset after its own, computes what ONNX
// Runtime computes for the original.
func TestUpgradeOldFormsMatchORT(t *testing.T) {
	type run struct {
		c      int
		target int64
	}
	cases := oldForms()
	var jobs []testdeps.ORTJob
	var runs []run
	for ci, c := range cases {
		var ins []*pb.ValueInfoProto
		var feeds []testdeps.ORTTensor
		for i, f := range c.feeds {
			var dims []int64
			if c.declare {
				dims = f.dims
			}
			ins = append(ins, vi(f.name, f.dt, dims))
			feeds = append(feeds, f.tensor(uint64(100*ci+i)))
		}
		outs := c.outputs
		if outs == nil {
			outs = yOut
		}
		m := buildModel(t, c.opset, c.nodes, ins, outs, c.inits...)
		jobs = append(jobs, testdeps.ORTJob{Model: saveTemp(t, m, "orig.onnx"), Inputs: feeds})
		runs = append(runs, run{ci, c.opset})
		for target := c.opset + 1; target <= MaxUpgradeOpset; target++ {
			u, err := upgradedCopy(t, m, target)
			if err != nil {
				t.Errorf("%s: upgrade to %d: %v", c.name, target, err)
				continue
			}
			if err := u.Check(); err != nil {
				t.Errorf("%s: upgraded to %d fails Check: %v", c.name, target, err)
				continue
			}
			jobs = append(jobs, testdeps.ORTJob{Model: saveTemp(t, u, fmt.Sprintf("up%d.onnx", target)), Inputs: feeds})
			runs = append(runs, run{ci, target})
		}
	}
	res := testdeps.RunORTBatch(t, jobs)
	var ref []testdeps.ORTTensor
	checked := 0
	for i, r := range res {
		c := cases[runs[i].c]
		if runs[i].target == c.opset {
			ref = r.Outputs
			if r.Err != nil {
				t.Errorf("%s: the original at opset %d does not run: %v", c.name, c.opset, r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("%s upgraded to %d: %v", c.name, runs[i].target, r.Err)
			continue
		}
		if ref == nil {
			continue
		}
		d, _, same, err := diffOutputs(ref, r.Outputs)
		if err != nil || (!same && d > 1e-6) {
			t.Errorf("%s upgraded to %d: differs from the original: max abs diff %g, %v", c.name, runs[i].target, d, err)
		}
		checked++
	}
	t.Logf("%d hand-made old forms, %d upgraded models checked against ONNX Runtime", len(cases), checked)
}

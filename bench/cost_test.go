package bench

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/binarize"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
	"github.com/qtool/qtool/quant"
)

func quantized(t testing.TB, scheme string) *onnxio.Model {
	t.Helper()
	s, err := quant.SchemeByName(scheme)
	if err != nil {
		t.Fatal(err)
	}
	res, err := quant.Quantize(fixtures.Model(t, "cnn"), calib.Sample(fixtures.FashionMNIST(t), 100, 1), quant.Config{Scheme: s},
		quant.Options{Calib: calib.Config{Quiet: true, BatchSize: 50}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Model
}

// cnnLayer is a weighted layer of the cnn fixture counted by hand
// (testdata/README.md): M output channels from C inputs over a k×k
// kernel at an H×W output, or a Gemm of K inputs to M outputs (k = 0).
type cnnLayer struct {
	name       string
	m, c, k, h int
}

var cnnLayers = []cnnLayer{
	{"/features/features.0/Conv", 16, 1, 3, 28},
	{"/features/features.3/Conv", 16, 16, 3, 28},
	{"/features/features.7/Conv", 32, 16, 3, 14},
	{"/features/features.10/Conv", 32, 32, 3, 14},
	{"/classifier/classifier.1/Gemm", 128, 1568, 0, 1},
	{"/classifier/classifier.3/Gemm", 10, 128, 0, 1},
}

func (l cnnLayer) macs() int64 {
	if l.k == 0 {
		return int64(l.m * l.c)
	}
	return int64(l.h * l.h * l.m * l.c * l.k * l.k)
}

// weights counts the layer's weight elements (its bias is folded in
// from a BatchNormalization only by the engine or quant, except the
// Gemms').
func (l cnnLayer) weights() int64 { return int64(l.m * l.c * max(l.k*l.k, 1)) }

// TestCostCNN: the cost of the float cnn and of its int8 and w4a8 QDQ
// forms made with quant against counts by hand: MACs per layer and in
// total (4 830 720, testdata/README.md), bit-operations at the width of
// each layer's precision, the stored weight bytes, the first layer's
// activation bytes, and times that add up to the total.
func TestCostCNN(t *testing.T) {
	for _, scheme := range []string{"fp32", "int8", "w4a8"} {
		m := fixtures.Model(t, "cnn")
		if scheme != "fp32" {
			m = quantized(t, scheme)
		}
		r, err := Cost(m, CostOptions{Batch: 2, Runs: 5, Warmup: 1})
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]CostRow{}
		var ms float64
		var macs int64
		for i, row := range r.Rows {
			rows[row.Name] = row
			ms += row.Ms
			macs += row.MACs
			if row.Ms <= 0 && i < len(r.Rows)-1 || row.Ms < 0 {
				t.Errorf("%s: %s took %v ms", scheme, row.Name, row.Ms)
			}
		}
		rest := r.Rows[len(r.Rows)-1].Ms
		if r.Total.MACs != 2*4830720 || macs != r.Total.MACs || math.Abs(ms-r.Total.Ms) > 1e-9 {
			t.Errorf("%s: total %d MACs and %v ms; rows sum to %d and %v", scheme, r.Total.MACs, r.Total.Ms, macs, ms)
		}
		// The rest of the run makes the total the median run's time,
		// unless the steps' medians add up to more.
		if rest > 0 && math.Abs(r.Total.Ms-r.WallMs) > 1e-9 || rest == 0 && r.Total.Ms < r.WallMs {
			t.Errorf("%s: total %v ms with %v ms of rest; a run's median is %v ms", scheme, r.Total.Ms, rest, r.WallMs)
		}
		s, err := quant.Compile(m, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(s.Precisions()); len(r.Rows) != n+1 {
			t.Errorf("%s: %d rows for %d steps and the rest of the run", scheme, len(r.Rows), n)
		}
		for i, l := range cnnLayers {
			row, ok := rows[l.name]
			if !ok {
				t.Errorf("%s: no row for %s", scheme, l.name)
				continue
			}
			wb, ab := 32, 32
			bytes := 4 * l.weights() // float32
			if l.k == 0 {
				bytes += 4 * int64(l.m) // the Gemm's float bias
			}
			switch {
			case scheme == "int8" || scheme == "w4a8" && (i == 0 || i == len(cnnLayers)-1):
				// int8 weights; per channel a float scale, an int8 zero
				// point, an int32 bias and its float scale.
				wb, ab = 8, 8
				bytes = l.weights() + 13*int64(l.m)
			case scheme == "w4a8":
				// The same with int4 weights (two a byte) and zero points.
				wb, ab = 4, 8
				bytes = (l.weights()+1)/2 + 4*int64(l.m) + (int64(l.m)+1)/2 + 8*int64(l.m)
			}
			if row.MACs != 2*l.macs() || row.WeightBits != wb || row.ActBits != ab || row.BitOps != row.MACs*int64(wb*ab) {
				t.Errorf("%s %s: %d MACs at %dx%d bits, %d bit-ops; want %d MACs at %dx%d", scheme, l.name, row.MACs, row.WeightBits, row.ActBits, row.BitOps, 2*l.macs(), wb, ab)
			}
			if row.WeightBytes != bytes {
				t.Errorf("%s %s: %d weight bytes, want %d", scheme, l.name, row.WeightBytes, bytes)
			}
		}
		// The first Conv reads 2 images and writes 16 channels of 28x28,
		// in float, or in 8 bits.
		first := rows[cnnLayers[0].name]
		want := int64(2 * 28 * 28 * (1 + 16))
		if scheme == "fp32" {
			want *= 4
		}
		if first.ActBytes != want {
			t.Errorf("%s: the first Conv moved %d activation bytes, want %d", scheme, first.ActBytes, want)
		}
	}
}

// TestBinaryMACs: BinaryConv and BinaryGemm (domain ai.qtool), float and
// packed inputs, counted by hand, before the engine runs them.
func TestBinaryMACs(t *testing.T) {
	node := func(op string, attrs ...*pb.AttributeProto) *pb.NodeProto {
		return &pb.NodeProto{OpType: proto.String(op), Domain: proto.String("ai.qtool"), Name: proto.String(op),
			Input: []string{"x", "w", "mul", "bias"}, Output: []string{"y"}, Attribute: attrs}
	}
	for _, c := range []struct {
		n      *pb.NodeProto
		x, w   []int64
		packed bool
		want   int64
	}{
		// Float NCHW input, 3x3 pads 1: 8x8 outputs, 3 channels x 9 taps.
		{node("BinaryConv", intAttr("in_channels", 3), attr("pads", 1, 1, 1, 1)), []int64{1, 3, 8, 8}, []int64{16, 3, 3, 1}, false, 16 * 8 * 8 * 3 * 9},
		// Packed NHWC input of 40 channels, stride 2: (8+2-3)/2+1 = 4.
		{node("BinaryConv", intAttr("in_channels", 40), attr("pads", 1, 1, 1, 1), attr("strides", 2, 2)), []int64{2, 8, 8, 1}, []int64{16, 3, 3, 1}, true, 2 * 16 * 4 * 4 * 40 * 9},
		// Two groups of 64 channels, 1x1, no padding: 6x5 outputs.
		{node("BinaryConv", intAttr("in_channels", 128), intAttr("group", 2)), []int64{1, 6, 5, 2}, []int64{32, 1, 1, 1}, true, 32 * 6 * 5 * 64},
		{node("BinaryGemm", intAttr("in_features", 100)), []int64{4, 2}, []int64{10, 2}, true, 4 * 10 * 100},
		{node("BinaryGemm", intAttr("in_features", 100)), []int64{4, 100}, []int64{10, 2}, false, 4 * 10 * 100},
	} {
		got, err := countBinary(c.n, c.x, c.w, c.packed)
		if err != nil || got != c.want {
			t.Errorf("%s x %v w %v: %d MACs (%v), want %d", c.n.GetOpType(), c.x, c.w, got, err, c.want)
		}
	}
	if _, err := countBinary(node("BinaryConv"), []int64{1, 3, 8, 8}, []int64{16, 3, 3, 1}, false); err == nil {
		t.Error("a BinaryConv without in_channels was counted")
	}

	// From the value types, as Cost has them: X packed bits.
	types := map[string]onnxio.ValueType{
		"x": {Elem: onnxio.Uint64, RankKnown: true, Shape: onnxio.Shape{{Value: 2}, {Value: 8}, {Value: 8}, {Value: 1}}},
		"w": {Elem: onnxio.Uint64, RankKnown: true, Shape: onnxio.Shape{{Value: 16}, {Value: 3}, {Value: 3}, {Value: 1}}},
	}
	n := node("BinaryConv", intAttr("in_channels", 40), attr("pads", 1, 1, 1, 1), attr("strides", 2, 2))
	if got, err := binaryMACs(n, types); err != nil || got != 2*16*4*4*40*9 {
		t.Errorf("binaryMACs from types: %d (%v), want %d", got, err, 2*16*4*4*40*9)
	}
	delete(types, "w")
	if _, err := binaryMACs(n, types); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("unknown weight shape: %v", err)
	}
}

// TestCostNamelessNodes: nodes without names (or sharing one) get names
// of their own in the report, with their MACs, and the caller's model
// is left as it was.
func TestCostNamelessNodes(t *testing.T) {
	m := fixtures.Model(t, "cnn")
	nodes := m.Graph().GetNode()
	for i, n := range nodes {
		switch {
		case n.GetOpType() == "Conv":
			n.Name = nil
		case i > 0:
			n.Name = proto.String("same")
		}
	}
	r, err := Cost(m, CostOptions{Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, row := range r.Rows[:len(r.Rows)-1] {
		if names[row.Name] || row.Name == "" {
			t.Errorf("row name %q repeats or is empty", row.Name)
		}
		names[row.Name] = true
	}
	if r.Total.MACs != 4830720 {
		t.Errorf("%d MACs, want 4830720", r.Total.MACs)
	}
	if nodes[0].GetName() != "" {
		t.Errorf("the caller's node was renamed %q", nodes[0].GetName())
	}
}

// Inspect on the converted binary fixture: the binary layers keep the
// float layers' MACs, now counted as bit-operations too.
func TestInspectBinaryFixture(t *testing.T) {
	m := fixtures.Model(t, "bnn")
	fi, err := Inspect(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	cm := fixtures.Model(t, "bnn")
	names, err := binarize.Convert(cm)
	if err != nil || len(names) != 6 {
		t.Fatalf("converted %v (%v), want the 6 binary blocks", names, err)
	}
	bi, err := Inspect(cm, nil)
	if err != nil {
		t.Fatal(err)
	}
	var binMACs int64
	for _, l := range fi.Layers {
		if slices.Contains(names, l.Name) {
			binMACs += l.MACs
		}
	}
	if bi.MACs != fi.MACs || bi.BitOps != binMACs || binMACs == 0 {
		t.Errorf("inspect: %d MACs, %d bit-ops; float model %d MACs, %d in the converted layers", bi.MACs, bi.BitOps, fi.MACs, binMACs)
	}
}

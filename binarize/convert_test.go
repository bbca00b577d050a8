package binarize

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// convertCase builds a float model of a binarizing pattern and the layers
// after it; want lists op counts the converted model must have.
type convertCase struct {
	name string
	c    int // input channels
	// rank 2: x is [N, c] (Gemm); else [N, c, H, W].
	rank  int
	build func(b *builder) string
	// onThreshold lists per-channel values some inputs are set to
	// exactly (Where forms: strict and non-strict comparisons).
	onThreshold func(b *builder) []float32
	want        map[string]int
	// bits counts the layers that must write packed bits.
	bits int
}

func TestConvertPatterns(t *testing.T) {
	var thr []float32 // the case's per-channel threshold, for onThreshold
	mkThr := func(b *builder, c int) []float32 { thr = b.randn(c, 0.5); return thr }
	where := func(cmp string, swap bool, hi, lo float32) func(b *builder) string {
		return func(b *builder) string {
			t := b.perChannel(8, 4, mkThr(b, 8))
			in := []string{"x", t}
			if swap {
				in = []string{t, "x"}
			}
			c := b.node(cmp, in)
			s := b.node("Where", []string{c, b.init(nil, []float32{hi}), b.init([]int64{1}, []float32{lo})})
			return b.conv(s, 8, 16, 1, true, true)
		}
	}
	atThr := func(*builder) []float32 { return thr }
	cases := []convertCase{
		{name: "Sign, no kernel_shape", c: 70, build: func(b *builder) string {
			y := b.conv(b.node("Sign", []string{"x"}), 70, 20, 1, true, true)
			conv := b.g.Node[len(b.g.Node)-1]
			conv.Attribute = conv.Attribute[:1] // pads only
			return y
		}, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Sub+Sign, BN, Relu", c: 8, build: func(b *builder) string {
			s := b.node("Sign", []string{b.node("Sub", []string{"x", b.perChannel(8, 4, b.randn(8, 0.5))})})
			return b.node("Relu", []string{b.bn(b.conv(s, 8, 16, 1, false, true), 16)})
		}, want: map[string]int{"ai.qtool.BinaryConv": 1, "BatchNormalization": 0, "Relu": 0, "Sign": 0, "Sub": 0}},
		{name: "scalar Add+Sign, group 2", c: 8, build: func(b *builder) string {
			s := b.node("Sign", []string{b.node("Add", []string{b.init(nil, []float32{0.25}), "x"})})
			return b.conv(s, 8, 16, 2, true, true)
		}, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Where Greater", c: 8, build: where("Greater", false, 1, -1), onThreshold: atThr, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Where GreaterOrEqual", c: 8, build: where("GreaterOrEqual", false, 1, -1), onThreshold: atThr, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Where Less", c: 8, build: where("Less", false, -1, 1), onThreshold: atThr, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Where LessOrEqual", c: 8, build: where("LessOrEqual", false, -1, 1), onThreshold: atThr, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Where Greater swapped", c: 8, build: where("Greater", true, -1, 1), onThreshold: atThr, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Where LessOrEqual swapped", c: 8, build: where("LessOrEqual", true, 1, -1), onThreshold: atThr, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "Where Greater of Sub", c: 8, build: func(b *builder) string {
			d := b.node("Sub", []string{"x", b.perChannel(8, 4, mkThr(b, 8))})
			s := b.node("Where", []string{b.node("Greater", []string{d, b.init(nil, []float32{0})}), b.init(nil, []float32{1}), b.init(nil, []float32{-1})})
			return b.conv(s, 8, 16, 1, true, true)
		}, onThreshold: atThr, want: map[string]int{"ai.qtool.BinaryConv": 1}},
		{name: "±1 weights, Mul scale, Add, Clip", c: 8, build: func(b *builder) string {
			y := b.conv(b.node("Sign", []string{"x"}), 8, 16, 1, false, false)
			y = b.node("Mul", []string{y, b.perChannel(16, 4, b.positive(16, 0.1, 0.4))})
			y = b.node("Add", []string{b.init([]int64{1, 16, 1, 1}, b.randn(16, 0.5)), y})
			return b.node("Clip", []string{y, b.init(nil, []float32{-0.5}), b.init(nil, []float32{0.75})})
		}, want: map[string]int{"ai.qtool.BinaryConv": 1, "Mul": 0, "Add": 0, "Clip": 0}},
		{name: "bits chain", c: 70, build: func(b *builder) string {
			y := b.bn(b.conv(b.node("Sign", []string{"x"}), 70, 66, 1, false, true), 66)
			s := b.node("Sign", []string{b.node("Sub", []string{y, b.perChannel(66, 4, b.randn(66, 0.5))})})
			y = b.bn(b.conv(s, 66, 24, 1, false, true), 24)
			s = b.node("Sign", []string{y})
			return b.conv(s, 24, 10, 1, true, true)
		}, want: map[string]int{"ai.qtool.BinaryConv": 3, "Sign": 0, "Sub": 0, "BatchNormalization": 0}, bits: 2},
		{name: "Gemm chain", c: 100, rank: 2, build: func(b *builder) string {
			s := b.node("Sign", []string{b.node("Sub", []string{"x", b.perChannel(100, 2, b.randn(100, 0.3))})})
			w := b.init([]int64{100, 40}, b.binWeights(100, 40, nil)) // [K, N], transB 0
			y := b.node("Gemm", []string{s, w, b.init([]int64{40}, b.randn(40, 0.5))},
				&pb.AttributeProto{Name: proto.String("alpha"), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(0.125)})
			y = b.bn(y, 40)
			s = b.node("Sign", []string{y})
			w = b.init([]int64{10, 40}, b.binWeights(10, 40, b.positive(10, 0.1, 1)))
			return b.node("Gemm", []string{s, w}, &pb.AttributeProto{Name: proto.String("transB"), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(1)})
		}, want: map[string]int{"ai.qtool.BinaryGemm": 2, "Sign": 0, "BatchNormalization": 0}, bits: 1},
		{name: "not binary: three-valued weights, Sign read twice", c: 8, build: func(b *builder) string {
			s := b.node("Sign", []string{"x"})
			w := b.binWeights(16, 72, nil)
			w[5] = 0.5
			y := b.node("Conv", []string{s, b.init([]int64{16, 8, 3, 3}, w)}, ints("pads", 1, 1, 1, 1))
			z := b.conv(s, 8, 16, 1, false, true)
			return b.node("Add", []string{y, z})
		}, want: map[string]int{"ai.qtool.BinaryConv": 1, "Conv": 1, "Sign": 1}},
	}
	// The float models and inputs, for ONNX Runtime to check the
	// engine's float reference after the loop.
	var jobs []testdeps.ORTJob
	var wants []*engine.Tensor
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shape := []int64{3, int64(c.c), 7, 6}
			if c.rank == 2 {
				shape = []int64{5, int64(c.c)}
			}
			b := newBuilder(t, uint64(i), shape...)
			out := c.build(b)
			m := b.model(out)
			n := 1
			for _, d := range shape {
				n *= int(d)
			}
			x := engine.NewFloat32(toInts(shape), b.randn(n, 1))
			if c.onThreshold != nil {
				tv := c.onThreshold(b)
				per := n / int(shape[0]) / c.c
				for k := 0; k < n; k += 3 {
					x.F32[k] = tv[k/per%c.c]
				}
			}
			want := run(t, m, x)
			path := filepath.Join(dir, fmt.Sprintf("case%d.onnx", i))
			if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: []testdeps.ORTTensor{testdeps.ORTFloat32("x", x.Shape, x.F32)}})
			wants = append(wants, want)
			cm := cloneModel(m)
			names, err := Convert(cm)
			if err != nil {
				t.Fatal(err)
			}
			got := opCounts(cm)
			for op, k := range c.want {
				if got[op] != k {
					t.Errorf("%d %s nodes after conversion, want %d (%v; converted %v)", got[op], op, k, got, names)
				}
			}
			bits := 0
			for _, n := range cm.Graph().GetNode() {
				if a := attr(n, "output"); a != nil && string(a.GetS()) == outBits {
					bits++
				}
			}
			if bits != c.bits {
				t.Errorf("%d layers write bits, want %d", bits, c.bits)
			}
			if cm.Opset(Domain) != DomainVersion {
				t.Errorf("opset %s %d, want %d", Domain, cm.Opset(Domain), DomainVersion)
			}
			closeOutputs(t, c.name, want, run(t, cm, x))
			// The converted model survives a save and load.
			by, err := cm.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(by, &pb.ModelProto{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		if r.Err != nil {
			t.Fatalf("ONNX Runtime, case %d: %v", i, r.Err)
		}
		closeOutputs(t, fmt.Sprintf("engine against ONNX Runtime, case %d", i), engine.NewFloat32(wants[i].Shape, testdeps.Float32s(r.Outputs[0])), wants[i])
	}
}

func toInts(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

// The strict comparison moves the threshold to the next float up.
func TestStrictThreshold(t *testing.T) {
	b := newBuilder(t, 1, 1, 8, 3, 3)
	tv := []float32{0.5, -0.25, 0, 1, 2, -3, 0.125, 7}
	thr := b.perChannel(8, 4, tv)
	s := b.node("Where", []string{b.node("Greater", []string{"x", thr}), b.init(nil, []float32{1}), b.init(nil, []float32{-1})})
	m := b.model(b.conv(s, 8, 4, 1, false, false))
	if _, err := Convert(m); err != nil {
		t.Fatal(err)
	}
	var th []float32
	for _, n := range m.Graph().GetNode() {
		if n.GetOpType() == "BinaryConv" {
			for _, it := range m.Graph().GetInitializer() {
				if it.GetName() == n.GetInput()[4] {
					var err error
					if th, err = onnxio.ToFloat32(m, it); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	for c, v := range tv {
		if len(th) != 8 || th[c] <= v || th[c] != math.Nextafter32(v, 10) {
			t.Fatalf("thresholds %v for Greater than %v", th, tv)
		}
	}
}

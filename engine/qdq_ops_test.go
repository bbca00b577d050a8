package engine

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// qgraph builds small QDQ graphs: every value quantized with parameters
// covering its expected range.
type qgraph struct {
	t  *testing.T
	b  *graphBuilder
	dt onnxio.DataType
	n  int
}

func (q *qgraph) name(p string) string {
	q.n++
	return fmt.Sprintf("%s%d", p, q.n)
}

// scalar adds a float constant of shape [1].
func (q *qgraph) scalar(v float32) string {
	n := q.name("c")
	qinit(q.t, q.b.g, n, NewFloat32([]int{1}, []float32{v}))
	return n
}

// params adds a scale and zero point covering [lo, hi].
func (q *qgraph) params(lo, hi float32) (string, string) {
	s, z := actParams(lo, hi, q.dt)
	sn, zn := q.name("s"), q.name("z")
	qinit(q.t, q.b.g, sn, NewFloat32([]int{}, []float32{s}))
	qinit(q.t, q.b.g, zn, scalarQ(q.dt, z))
	return sn, zn
}

// quant quantizes v for [lo, hi] and returns the quantized value.
func (q *qgraph) quant(v string, lo, hi float32) (string, [2]string) {
	sn, zn := q.params(lo, hi)
	o := q.name("q")
	q.b.node("QuantizeLinear", []string{v, sn, zn}, []string{o})
	return o, [2]string{sn, zn}
}

func (q *qgraph) deq(v string, p [2]string) string {
	o := q.name("d")
	q.b.node("DequantizeLinear", []string{v, p[0], p[1]}, []string{o})
	return o
}

// qdq quantizes v for [lo, hi] and dequantizes it.
func (q *qgraph) qdq(v string, lo, hi float32) string {
	o, p := q.quant(v, lo, hi)
	return q.deq(o, p)
}

func (q *qgraph) op(op string, ins []string, attrs ...*pb.AttributeProto) string {
	o := q.name(op)
	q.b.node(op, ins, []string{o}, attrs...)
	return o
}

func attrFl(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: &name, F: &v, Type: pb.AttributeProto_FLOAT.Enum()}
}

// qopCase is one graph around the operators between convolutions: x
// (and x2) quantized on input, y the dequantized output with step
// outStep.
type qopCase struct {
	name   string
	shape  []int
	shape2 []int // second input, or nil
	lo, hi float32
	build  func(q *qgraph, x, x2 string) string // returns the float value to quantize as y
	ylo    float32
	yhi    float32
	// floatOps are the operators allowed to stay in float besides the
	// input QuantizeLinear and output DequantizeLinear nodes.
	floatOps map[string]bool
}

func qopCases() []qopCase {
	nchw := []int{2, 5, 6, 7}
	return []qopCase{
		{name: "affine", shape: nchw, lo: -2, hi: 3, ylo: -4, yhi: 6, build: func(q *qgraph, x, _ string) string {
			// Learnable affine blocks: each operator quantized.
			m := q.qdq(q.op("Mul", []string{q.scalar(1.7), x}), -4, 6)
			return q.op("Add", []string{m, q.scalar(-0.3)})
		}},
		{name: "hardswish", shape: nchw, lo: -4, hi: 4, ylo: -0.5, yhi: 4, build: func(q *qgraph, x, _ string) string {
			// x·clip(x+3, 0, 6)/6·c with x+3 quantized, as PP-OCR has it.
			t := q.qdq(q.op("Add", []string{x, q.scalar(3)}), -1, 7)
			c := q.op("Clip", []string{t, q.scalar(0), q.scalar(6)})
			d := q.op("Div", []string{q.op("Mul", []string{x, c}), q.scalar(6)})
			return q.op("Mul", []string{q.scalar(0.9), d})
		}},
		{name: "sigmoid-tanh", shape: nchw, lo: -3, hi: 3, ylo: -1, yhi: 1, build: func(q *qgraph, x, _ string) string {
			s := q.op("Sigmoid", []string{x})
			return q.op("Sub", []string{q.op("Tanh", []string{x}), s})
		}},
		{name: "hardsigmoid-leaky", shape: nchw, lo: -3, hi: 3, ylo: -0.5, yhi: 1.5, build: func(q *qgraph, x, _ string) string {
			h := q.op("HardSigmoid", []string{x}, attrFl("alpha", 0.2), attrFl("beta", 0.5))
			return q.op("Add", []string{h, q.op("LeakyRelu", []string{x}, attrFl("alpha", 0.1))})
		}},
		{name: "relu-rescaled", shape: nchw, lo: -1, hi: 2, ylo: 0, yhi: 2.5, build: func(q *qgraph, x, _ string) string {
			return q.op("Relu", []string{x})
		}},
		{name: "add", shape: nchw, shape2: nchw, lo: -2, hi: 2, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			return q.op("Add", []string{x, x2})
		}},
		{name: "add-channel", shape: nchw, shape2: []int{2, 5, 1, 1}, lo: -2, hi: 2, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			return q.op("Add", []string{x2, x})
		}},
		{name: "sub-row", shape: nchw, shape2: []int{7}, lo: -2, hi: 2, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			return q.op("Sub", []string{x, x2})
		}},
		{name: "sub-row-first", shape: nchw, shape2: []int{7}, lo: -2, hi: 2, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			return q.op("Sub", []string{x2, x})
		}},
		{name: "mul-column", shape: nchw, shape2: []int{1, 1, 6, 1}, lo: -2, hi: 2, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			return q.op("Mul", []string{x, x2})
		}},
		{name: "div", shape: []int{3, 1, 8}, shape2: []int{1, 4, 1}, lo: 0.5, hi: 2, ylo: 0, yhi: 4, build: func(q *qgraph, x, x2 string) string {
			return q.op("Div", []string{x, x2})
		}},
		{name: "squeeze-excitation", shape: nchw, shape2: []int{2, 5, 1, 1}, lo: -3, hi: 3, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			h := q.op("HardSigmoid", []string{x2}, attrFl("alpha", 1.0/6), attrFl("beta", 0.5))
			return q.op("Mul", []string{x, h})
		}},
		// Planes of 99 values: the vector byte-table kernels' full steps and
		// tails, b fixed (a row of the transposed table) and a fixed.
		{name: "squeeze-excitation-plane", shape: []int{2, 4, 9, 11}, shape2: []int{2, 4, 1, 1}, lo: -3, hi: 3, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			h := q.op("HardSigmoid", []string{x2}, attrFl("alpha", 1.0/6), attrFl("beta", 0.5))
			return q.op("Mul", []string{x, h})
		}},
		{name: "sub-channel-plane", shape: []int{2, 4, 9, 11}, shape2: []int{2, 4, 1, 1}, lo: -2, hi: 2, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			return q.op("Sub", []string{x2, x})
		}},
		{name: "two-roots-chain", shape: nchw, shape2: []int{2, 5, 1, 1}, lo: -3, hi: 3, ylo: -3, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			// Both roots meet, then more arithmetic before the output.
			m := q.op("Mul", []string{x, q.op("Sigmoid", []string{x2})})
			return q.op("Sub", []string{q.op("Div", []string{m, q.scalar(0.8)}), q.op("Relu", []string{x2})})
		}},
		{name: "rank-grows", shape: []int{5}, lo: -1, hi: 1, ylo: -1, yhi: 2, build: func(q *qgraph, x, _ string) string {
			c := q.name("c")
			qinit(q.t, q.b.g, c, NewFloat32([]int{1, 1, 1}, []float32{0.5}))
			return q.op("Add", []string{x, c})
		}},
		// 2x2 max-pools on NCHW planes: short rows (through channels-last
		// and back) and long ones (words along the rows).
		{name: "maxpool-short-rows", shape: []int{2, 64, 14, 14}, lo: -1, hi: 3, ylo: -1, yhi: 3, build: func(q *qgraph, x, _ string) string {
			return q.op("MaxPool", []string{x}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2))
		}},
		{name: "maxpool-long-rows", shape: []int{1, 3, 6, 41}, lo: -1, hi: 3, ylo: -1, yhi: 3, build: func(q *qgraph, x, _ string) string {
			return q.op("MaxPool", []string{x}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2))
		}},
		{name: "gap", shape: nchw, lo: -1, hi: 3, ylo: -0.5, yhi: 2, build: func(q *qgraph, x, _ string) string {
			return q.op("GlobalAveragePool", []string{x})
		}},
		{name: "averagepool", shape: nchw, lo: -1, hi: 3, ylo: -1, yhi: 3, build: func(q *qgraph, x, _ string) string {
			return q.op("AveragePool", []string{x}, attrIs("kernel_shape", 3, 3), attrIs("strides", 2, 2), attrIs("pads", 1, 1, 1, 1))
		}},
		{name: "averagepool-pads-counted", shape: nchw, lo: -1, hi: 3, ylo: -0.5, yhi: 2, build: func(q *qgraph, x, _ string) string {
			return q.op("AveragePool", []string{x}, attrIs("kernel_shape", 2, 3), attrIs("pads", 1, 0, 0, 1), attrI("count_include_pad", 1))
		}},
		{name: "resize", shape: nchw, lo: -1, hi: 3, ylo: -1, yhi: 3, build: func(q *qgraph, x, _ string) string {
			sc := q.name("scales")
			qinit(q.t, q.b.g, sc, NewFloat32([]int{4}, []float32{1, 1, 2, 2}))
			return q.op("Resize", []string{x, "", sc}, attrS("mode", "nearest"), attrS("coordinate_transformation_mode", "asymmetric"), attrS("nearest_mode", "floor"))
		}},
		{name: "resize-requant", shape: nchw, lo: -1, hi: 3, ylo: -2, yhi: 2, build: func(q *qgraph, x, _ string) string {
			sc := q.name("scales")
			qinit(q.t, q.b.g, sc, NewFloat32([]int{4}, []float32{1, 1, 1.5, 0.6}))
			return q.op("Resize", []string{x, "", sc}, attrS("mode", "nearest"))
		}},
		{name: "concat", shape: nchw, shape2: []int{2, 3, 6, 7}, lo: -1, hi: 3, ylo: -1, yhi: 3, build: func(q *qgraph, x, x2 string) string {
			// x keeps its parameters (the output's: same range), x2 is
			// requantized.
			return q.op("Concat", []string{x, x2, x}, attrI("axis", 1))
		}},
		{name: "concat-last", shape: []int{2, 3, 4}, shape2: []int{2, 3, 9}, lo: -2, hi: 1, ylo: -1, yhi: 1, build: func(q *qgraph, x, x2 string) string {
			return q.op("Concat", []string{x2, x}, attrI("axis", -1))
		}},
	}
}

// build returns the model of case c with activations of type dt, its
// inputs and the output's quantization step.
func (c qopCase) model(t *testing.T, dt onnxio.DataType, rng *rand.Rand) (*onnxio.Model, map[string]*Tensor, float32) {
	b := newGraph()
	q := &qgraph{t: t, b: b, dt: dt}
	in := map[string]*Tensor{"x": randRange(rng.Int63(), c.shape, c.lo, c.hi)}
	b.input("x", onnxio.Float)
	x := q.qdq("x", c.lo, c.hi)
	var x2 string
	if c.shape2 != nil {
		b.input("x2", onnxio.Float)
		// A slightly different range, so the parameters differ.
		in["x2"] = randRange(rng.Int63(), c.shape2, c.lo*0.8, c.hi*1.1)
		x2 = q.qdq("x2", c.lo*0.8, c.hi*1.1)
	}
	y := c.build(q, x, x2)
	yq, p := q.quant(y, c.ylo, c.yhi)
	b.node("DequantizeLinear", []string{yq, p[0], p[1]}, []string{"y"})
	b.output("y", onnxio.Float)
	s, _ := actParams(c.ylo, c.yhi, dt)
	return b.model(t, 13), in, s
}

// TestQOpsExact runs the operators between convolutions in integer and
// checks them against the float path (bit-identical) and ONNX Runtime
// (within one quantization step), and that only the input quantization
// and output dequantization stay in float.
func TestQOpsExact(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	dir := t.TempDir()
	type result struct {
		label string
		got   []float32
		step  float32
	}
	var res []result
	var jobs []testdeps.ORTJob
	for _, c := range qopCases() {
		for _, dt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
			label := c.name + "/" + onnxio.DataTypeName(dt)
			m, in, step := c.model(t, dt, rng)
			s, err := Compile(m, Options{})
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			for _, p := range s.Precisions() {
				if p.Precision != "int8" && p.Op != "QuantizeLinear" && p.Op != "DequantizeLinear" {
					t.Errorf("%s: %s (%s) runs in %s", label, p.Node, p.Op, p.Precision)
				}
			}
			got, err := s.Run(in)
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			want := run1(t, m, Options{NoInteger: true}, in)
			g, w := got["y"], want["y"]
			if fmt.Sprint(g.Shape) != fmt.Sprint(w.Shape) {
				t.Fatalf("%s: shape %v, want %v", label, g.Shape, w.Shape)
			}
			for i, v := range w.F32 {
				if g.F32[i] != v {
					t.Errorf("%s: element %d = %g, float path %g", label, i, g.F32[i], v)
					break
				}
			}
			path := filepath.Join(dir, fmt.Sprintf("case%d.onnx", len(jobs)))
			if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			var ins []testdeps.ORTTensor
			for _, name := range []string{"x", "x2"} {
				if x := in[name]; x != nil {
					ins = append(ins, testdeps.ORTFloat32(name, x.Shape, x.F32))
				}
			}
			jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: ins})
			res = append(res, result{label, g.F32, step})
		}
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		c := res[i]
		if r.Err != nil {
			t.Errorf("%s: ONNX Runtime: %v", c.label, r.Err)
			continue
		}
		want := bytesF32(r.Outputs[0].Data)
		if len(want) != len(c.got) {
			t.Errorf("%s: ONNX Runtime gave %d values, we %d", c.label, len(want), len(c.got))
			continue
		}
		off := 0
		for j, v := range want {
			d := math.Abs(float64(c.got[j]-v)) / float64(c.step)
			if d > 1.001 {
				t.Errorf("%s: element %d = %g, ONNX Runtime %g (%.3g steps)", c.label, j, c.got[j], v, d)
				break
			}
			if d > 0.5 {
				off++
			}
		}
		t.Logf("%s vs ONNX Runtime: %d/%d one step apart", c.label, off, len(want))
	}
}

// conv adds an integer-quantizable Conv of x (cin channels) to cout
// channels: int8 weights per output channel, a float bias.
func (q *qgraph) conv(x string, cin, cout, k, stride int, rng *rand.Rand) string {
	w := newTensor(onnxio.Int8, []int{cout, cin, k, k})
	for i := range w.I8 {
		w.I8[i] = int8(rng.Intn(255) - 127)
	}
	sw := make([]float32, cout)
	for i := range sw {
		sw[i] = float32(1.5 / (127 * math.Sqrt(float64(cin*k*k))) * (0.5 + rng.Float64()))
	}
	wn, sn, zn, bn := q.name("w"), q.name("sw"), q.name("zw"), q.name("b")
	qinit(q.t, q.b.g, wn, w)
	qinit(q.t, q.b.g, sn, NewFloat32([]int{cout}, sw))
	qinit(q.t, q.b.g, zn, newTensor(onnxio.Int8, []int{cout}))
	qinit(q.t, q.b.g, bn, randRange(rng.Int63(), []int{cout}, -0.2, 0.2))
	wd := q.name("wd")
	q.b.node("DequantizeLinear", []string{wn, sn, zn}, []string{wd}, attrI("axis", 0))
	p := int64(k / 2)
	return q.op("Conv", []string{x, wd, bn}, attrIs("strides", int64(stride), int64(stride)), attrIs("pads", p, p, p, p))
}

// TestQOpsChannelsLast puts the operators between integer convolutions,
// where their values stay channels last, and checks the result against
// the same model with those values also graph outputs (which keeps them
// in the logical order): the same bytes. And against ONNX Runtime
// within a few steps (the convolutions round on their own).
func TestQOpsChannelsLast(t *testing.T) {
	cases := []struct {
		name  string
		build func(q *qgraph, x string, rng *rand.Rand) string // x: 2×4×8×8
	}{
		{"table", func(q *qgraph, x string, rng *rand.Rand) string {
			a := q.qdq(q.conv(x, 4, 8, 3, 1, rng), -3, 3)
			t := q.qdq(q.op("Add", []string{a, q.scalar(3)}), 0, 6)
			h := q.op("Div", []string{q.op("Mul", []string{a, q.op("Clip", []string{t, q.scalar(0), q.scalar(6)})}), q.scalar(6)})
			return q.conv(q.qdq(h, -0.4, 3), 8, 5, 3, 1, rng)
		}},
		{"residual", func(q *qgraph, x string, rng *rand.Rand) string {
			a := q.qdq(q.conv(x, 4, 8, 3, 1, rng), -3, 3)
			b := q.qdq(q.conv(a, 8, 8, 1, 1, rng), -3, 3)
			return q.conv(q.qdq(q.op("Add", []string{b, a}), -4, 4), 8, 5, 3, 2, rng)
		}},
		{"squeeze-excitation", func(q *qgraph, x string, rng *rand.Rand) string {
			a := q.qdq(q.conv(x, 4, 8, 3, 1, rng), -3, 3)
			g := q.qdq(q.op("GlobalAveragePool", []string{a}), -1, 1)
			r := q.qdq(q.op("Relu", []string{q.conv(g, 8, 2, 1, 1, rng)}), 0, 2)
			h := q.op("HardSigmoid", []string{q.qdq(q.conv(r, 2, 8, 1, 1, rng), -3, 3)}, attrFl("alpha", 1.0/6), attrFl("beta", 0.5))
			return q.conv(q.qdq(q.op("Mul", []string{a, h}), -3, 3), 8, 5, 1, 1, rng)
		}},
		{"resize-concat", func(q *qgraph, x string, rng *rand.Rand) string {
			a := q.qdq(q.conv(x, 4, 8, 3, 2, rng), -3, 3) // 4×4
			sc := q.name("scales")
			qinit(q.t, q.b.g, sc, NewFloat32([]int{4}, []float32{1, 1, 2, 2}))
			u := q.qdq(q.op("Resize", []string{a, "", sc}, attrS("mode", "nearest"), attrS("coordinate_transformation_mode", "asymmetric"), attrS("nearest_mode", "floor")), -3, 3)
			c := q.qdq(q.conv(x, 4, 6, 3, 1, rng), -2, 2)
			cat := q.qdq(q.op("Concat", []string{u, c}, attrI("axis", 1)), -3, 3)
			return q.conv(cat, 14, 5, 3, 1, rng)
		}},
		{"convtranspose", func(q *qgraph, x string, rng *rand.Rand) string {
			// A detection head's upsampling (kernel = stride: the plain
			// scatter) and an overlapping one (col2im), between
			// channels-last values.
			a := q.qdq(q.conv(x, 4, 8, 3, 1, rng), -3, 3)
			u := q.qdq(q.op("Relu", []string{q.convT(a, 8, 6, 2, 2, 0, 0, rng)}), 0, 3)
			v := q.qdq(q.convT(u, 6, 4, 3, 2, 1, 1, rng), -3, 3)
			return q.conv(v, 4, 5, 3, 2, rng)
		}},
		{"broadcast-ranks", func(q *qgraph, x string, rng *rand.Rand) string {
			// A 1-D convolution's 1×8×8 output broadcast against a 2-D
			// one's 2×8×8×8: the ranks differ.
			a := q.qdq(q.conv(x, 4, 8, 3, 1, rng), -3, 3)
			r := q.op("Reshape", []string{x, q.int64s(1, 4, 128)})
			w := newTensor(onnxio.Int8, []int{8, 4, 3})
			for i := range w.I8 {
				w.I8[i] = int8(rng.Intn(255) - 127)
			}
			qinit(q.t, q.b.g, "w1d", w)
			qinit(q.t, q.b.g, "s1d", NewFloat32([]int{}, []float32{0.004}))
			q.b.node("DequantizeLinear", []string{"w1d", "s1d"}, []string{"w1dd"})
			c := q.op("Conv", []string{q.qdq(r, -1, 1), "w1dd"}, attrIs("strides", 16), attrIs("pads", 1, 1)) // 1×8×8
			b := q.qdq(c, -3, 3)
			return q.conv(q.qdq(q.op("Add", []string{a, b}), -4, 4), 8, 5, 3, 1, rng)
		}},
	}
	dir := t.TempDir()
	for _, dt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		for _, c := range cases {
			label := c.name + "/" + onnxio.DataTypeName(dt)
			var ys [2]*Tensor
			x := randRange(5, []int{2, 4, 8, 8}, -1, 1)
			var m0 *onnxio.Model
			for v, logical := range []bool{false, true} {
				rng := rand.New(rand.NewSource(3))
				b := newGraph()
				q := &qgraph{t: t, b: b, dt: dt}
				b.input("x", onnxio.Float)
				y := c.build(q, q.qdq("x", -1, 1), rng)
				yq, p := q.quant(y, -3, 3)
				b.node("DequantizeLinear", []string{yq, p[0], p[1]}, []string{"y"})
				b.output("y", onnxio.Float)
				if logical {
					for _, n := range b.g.Node {
						if n.GetOpType() == "QuantizeLinear" {
							b.output(n.GetOutput()[0], dt)
						}
					}
				}
				m := b.model(t, 13)
				// One thread channels-last, two in logical order: both splits of
				// the integer kernels give the same bytes.
				s, err := Compile(m, Options{Threads: 1 + v})
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				nhwc := 0
				for _, st := range s.steps {
					if !logical && st.precision == "" && st.op != "QuantizeLinear" && st.op != "DequantizeLinear" && st.op != "Reshape" {
						t.Errorf("%s: %s runs in float", label, st.label)
					}
					if k, ok := st.k.(*qdqConvK); ok && (k.inNHWC || k.outNHWC) {
						nhwc++
					}
					if k, ok := st.k.(*qdqConvTK); ok && (k.inNHWC || k.outNHWC) {
						nhwc++
					}
				}
				if (nhwc > 0) == logical {
					t.Errorf("%s (graph outputs %v): %d convolutions with channels-last values", label, logical, nhwc)
				}
				out, err := s.Run(map[string]*Tensor{"x": x})
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				ys[v] = out["y"]
				if v == 0 {
					m0 = m
					// Average pooling with the table, not vector
					// dequantization: the same bytes.
					var pools []*qpoolK
					for _, st := range s.steps {
						if k, ok := st.k.(*qpoolK); ok && k.vecDeq {
							k.vecDeq = false
							pools = append(pools, k)
						}
					}
					if len(pools) > 0 {
						vec := append([]float32(nil), out["y"].F32...)
						o2, err := s.Run(map[string]*Tensor{"x": x})
						if err != nil {
							t.Fatalf("%s: %v", label, err)
						}
						for i, w := range vec {
							if o2["y"].F32[i] != w {
								t.Errorf("%s: element %d = %g pooling with the table, %g with vectors", label, i, o2["y"].F32[i], w)
								break
							}
						}
					}
					for _, k := range pools {
						k.vecDeq = true
					}
				}
			}
			for i, w := range ys[1].F32 {
				if ys[0].F32[i] != w {
					t.Errorf("%s: element %d = %g channels last, %g in the logical order", label, i, ys[0].F32[i], w)
					break
				}
			}
			path := filepath.Join(dir, label[:len(label)-len(onnxio.DataTypeName(dt))-1]+onnxio.DataTypeName(dt)+".onnx")
			if err := m0.Save(path, onnxio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			o, err := testdeps.RunORT(t, path, []testdeps.ORTTensor{testdeps.ORTFloat32("x", x.Shape, x.F32)})
			if err != nil {
				t.Errorf("%s: ONNX Runtime: %v", label, err)
				continue
			}
			want := bytesF32(o[0].Data)
			step, _ := actParams(-3, 3, dt)
			worst, off := 0.0, 0
			for i, w := range want {
				d := math.Abs(float64(ys[0].F32[i]-w)) / float64(step)
				worst = math.Max(worst, d)
				if d > 0.5 {
					off++
				}
			}
			sim := run1(t, m0, Options{NoInteger: true}, map[string]*Tensor{"x": x})["y"].F32
			worstF, offF := 0.0, 0
			for i, w := range sim {
				d := math.Abs(float64(ys[0].F32[i]-w)) / float64(step)
				worstF = math.Max(worstF, d)
				if d > 0.5 {
					offF++
				}
			}
			// ONNX Runtime's own integer kernels (QLinearAdd, its uint8
			// convolutions) stray from the float path by a few steps
			// after two convolutions: logged, and bounded loosely.
			t.Logf("%s: %d/%d values apart from the float path (at most %.3g steps), %d from ONNX Runtime (at most %.3g)", label, offF, len(want), worstF, off, worst)
			if worstF > 1.001 || offF > len(want)/20 {
				t.Errorf("%s: %d/%d values apart from the float path, at most %.3g steps", label, offF, len(want), worstF)
			}
			if worst > 4 {
				t.Errorf("%s: %d/%d values apart from ONNX Runtime's, at most %.3g steps", label, off, len(want), worst)
			}
		}
	}
}

// int64s adds an int64 constant.
func (q *qgraph) int64s(v ...int64) string {
	n := q.name("i")
	qinit(q.t, q.b.g, n, NewInt64([]int{len(v)}, v))
	return n
}

// TestQResizeShapes runs an integer nearest Resize on inputs of changing
// shapes (its gather indices are kept per shape) and on its fallback for
// large inputs, against the float path.
func TestQResizeShapes(t *testing.T) {
	var c qopCase
	for _, qc := range qopCases() {
		if qc.name == "resize-requant" {
			c = qc
		}
	}
	m, _, _ := c.model(t, onnxio.Uint8, rand.New(rand.NewSource(1)))
	s, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Compile(m, Options{NoInteger: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, shape := range [][]int{{1, 2, 3, 4}, {2, 5, 6, 7}, {1, 2, 3, 4}, {1, 3, 5, 1}} {
		in := map[string]*Tensor{"x": randRange(int64(i), shape, c.lo, c.hi)}
		got, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := sim.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got["y"].Shape) != fmt.Sprint(want["y"].Shape) {
			t.Fatalf("%v: shape %v, want %v", shape, got["y"].Shape, want["y"].Shape)
		}
		for j, v := range want["y"].F32 {
			if got["y"].F32[j] != v {
				t.Fatalf("%v: element %d = %g, float path %g", shape, j, got["y"].F32[j], v)
			}
		}
	}
	// The fallback, on the same input.
	var k *qresizeK
	for _, st := range s.steps {
		if rk, ok := st.k.(*qresizeK); ok {
			k = rk
		}
	}
	if k == nil {
		t.Fatal("no integer Resize step")
	}
	x := newTensor(onnxio.Uint8, []int{2, 5, 6, 7})
	for i := range x.U8 {
		x.U8[i] = uint8(i * 7)
	}
	sp, err := k.infer([]*Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newTensor(onnxio.Uint8, sp[0].shape), newTensor(onnxio.Uint8, sp[0].shape)
	rc := &runCtx{threads: 1}
	if err := k.gather(rc, x, a, k.params); err != nil {
		t.Fatal(err)
	}
	if err := k.gatherValues(rc, x, b, k.params); err != nil {
		t.Fatal(err)
	}
	for i := range a.U8 {
		if a.U8[i] != b.U8[i] {
			t.Fatalf("element %d: gather %d, on the values %d", i, a.U8[i], b.U8[i])
		}
	}
}

// TestQOpsRandomBroadcast runs binary operators of two quantized tensors
// of random shapes and broadcast forms (ranks 1 to 4, either side
// broadcast, the ranks unequal) with random quantization parameters,
// against the float path (bit-identical) and ONNX Runtime (one step).
func TestQOpsRandomBroadcast(t *testing.T) {
	rng := rand.New(rand.NewSource(23))
	dir := t.TempDir()
	type result struct {
		label string
		got   []float32
		step  float32
	}
	var res []result
	var jobs []testdeps.ORTJob
	ops := []string{"Add", "Sub", "Mul", "Div"}
	for trial := 0; trial < 24; trial++ {
		r := 1 + rng.Intn(4)
		full := make([]int, r)
		for i := range full {
			full[i] = 1 + rng.Intn(5)
		}
		// Each side keeps a suffix of the dimensions, some set to 1.
		side := func() []int {
			s := append([]int{}, full[rng.Intn(r):]...)
			for i := range s {
				if rng.Intn(3) == 0 {
					s[i] = 1
				}
			}
			return s
		}
		sa, sb := side(), side()
		if len(sa) < r && len(sb) < r {
			sa = full
		}
		op := ops[rng.Intn(len(ops))]
		dt := []onnxio.DataType{onnxio.Uint8, onnxio.Int8}[rng.Intn(2)]
		lo, hi := float32(-1-2*rng.Float64()), float32(0.5+2*rng.Float64())
		lo2, hi2 := lo, hi
		if op == "Div" { // keep the divisor away from 0
			lo2, hi2 = 0.5, 2
		}
		c := qopCase{name: fmt.Sprintf("%s%v%v", op, sa, sb), shape: sa, shape2: sb, lo: lo, hi: hi, ylo: -4, yhi: 4}
		b := newGraph()
		q := &qgraph{t: t, b: b, dt: dt}
		in := map[string]*Tensor{"x": randRange(rng.Int63(), sa, lo, hi), "x2": randRange(rng.Int63(), sb, lo2, hi2)}
		b.input("x", onnxio.Float)
		b.input("x2", onnxio.Float)
		y := q.op(op, []string{q.qdq("x", lo, hi), q.qdq("x2", lo2, hi2)})
		yq, p := q.quant(y, c.ylo, c.yhi)
		b.node("DequantizeLinear", []string{yq, p[0], p[1]}, []string{"y"})
		b.output("y", onnxio.Float)
		m := b.model(t, 13)
		label := c.name + "/" + onnxio.DataTypeName(dt)
		s, err := Compile(m, Options{})
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		for _, pr := range s.Precisions() {
			if pr.Op == op {
				t.Errorf("%s: %s runs in float", label, op)
			}
		}
		got, err := s.Run(in)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		want := run1(t, m, Options{NoInteger: true}, in)
		if fmt.Sprint(got["y"].Shape) != fmt.Sprint(want["y"].Shape) {
			t.Fatalf("%s: shape %v, want %v", label, got["y"].Shape, want["y"].Shape)
		}
		for i, v := range want["y"].F32 {
			if got["y"].F32[i] != v {
				t.Errorf("%s: element %d = %g, float path %g", label, i, got["y"].F32[i], v)
				break
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("b%d.onnx", trial))
		if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: []testdeps.ORTTensor{
			testdeps.ORTFloat32("x", sa, in["x"].F32), testdeps.ORTFloat32("x2", sb, in["x2"].F32)}})
		step, _ := actParams(c.ylo, c.yhi, dt)
		res = append(res, result{label, got["y"].F32, step})
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		c := res[i]
		if r.Err != nil {
			t.Errorf("%s: ONNX Runtime: %v", c.label, r.Err)
			continue
		}
		want := bytesF32(r.Outputs[0].Data)
		if len(want) != len(c.got) {
			t.Errorf("%s: ONNX Runtime gave %d values, we %d", c.label, len(want), len(c.got))
			continue
		}
		for j, v := range want {
			if d := math.Abs(float64(c.got[j]-v)) / float64(c.step); d > 1.001 {
				t.Errorf("%s: element %d = %g, ONNX Runtime %g (%.3g steps)", c.label, j, c.got[j], v, d)
				break
			}
		}
	}
}

// TestQOpsArith: the two-input groups that are one Add, Sub or Mul take
// the arithmetic form (kernels.QArithBytes), with outputs equal to the
// table form's, on both operand orders and broadcasts.
func TestQOpsArith(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	arith := 0
	for _, c := range qopCases() {
		if c.shape2 == nil {
			continue
		}
		for _, dt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
			m, in, _ := c.model(t, dt, rng)
			s, err := Compile(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, st := range s.steps {
				if k, ok := st.k.(*qbinaryK); ok && k.arith != nil {
					found = true
					k.arith = nil // the table form, for the reference
				}
			}
			if !found {
				continue
			}
			arith++
			want, err := s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got["y"].F32, want["y"].F32) {
				t.Errorf("%s/%s: the arithmetic form differs from the table", c.name, onnxio.DataTypeName(dt))
			}
		}
	}
	if arith < 6 {
		t.Errorf("only %d cases took the arithmetic form", arith)
	}
}

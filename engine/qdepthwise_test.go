package engine

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// TestQDepthwiseMatchesGEMM: the depthwise kernel path gives the GEMM
// path's results exactly (both are exact int32 sums through the same
// output stage), over random 1-D and 2-D geometries, channel
// multipliers, activation and weight types, zero points, output stages,
// layouts and batches.
func TestQDepthwiseMatchesGEMM(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	q8 := []onnxio.DataType{onnxio.Uint8, onnxio.Int8}
	tested := 0
	for it := 0; tested < 400; it++ {
		c := []int{2, 3, 16, 17, 40}[rng.Intn(5)]
		mult := 1 + rng.Intn(2)
		m := c * mult
		ks := [][2]int{{3, 3}, {5, 5}, {3, 1}, {1, 1}, {2, 3}}[rng.Intn(5)]
		n, h, w := 1+rng.Intn(3), 1+rng.Intn(13), 1+rng.Intn(13)
		g := convGeom{kh: ks[0], kw: ks[1], sh: 1 + rng.Intn(2), sw: 1 + rng.Intn(2), dh: 1 + rng.Intn(2), dw: 1 + rng.Intn(2),
			pt: rng.Intn(3), pl: rng.Intn(3), pb: rng.Intn(3), pr: rng.Intn(3)}
		xShape, wShape := []int{n, c, h, w}, []int{m, 1, ks[0], ks[1]}
		if rng.Intn(5) == 0 { // 1-D
			g.kh, g.sh, g.dh, g.pt, g.pb = 1, 1, 1, 0, 0
			xShape, wShape = []int{n, c, w}, []int{m, 1, ks[1]}
		}
		k := qconv{g: g, group: c, inNHWC: rng.Intn(2) == 0, outNHWC: rng.Intn(2) == 0}
		x := newTensor(q8[rng.Intn(2)], xShape)
		os, _, _, _, err := k.shape(x.Shape, wShape)
		if err != nil || os[len(os)-1] <= 0 || (len(os) == 4 && os[2] <= 0) {
			continue
		}
		tested++
		for i := range qbytes(x) {
			qbytes(x)[i] = byte(rng.Intn(256))
		}
		wt := newTensor(q8[rng.Intn(2)], wShape)
		for i := range qbytes(wt) {
			qbytes(wt)[i] = byte(rng.Intn(256))
		}
		var zw []int32
		if nz := []int{0, 1, m}[rng.Intn(3)]; nz > 0 {
			zw = make([]int32, nz)
			for i := range zw {
				zw[i] = int32(rng.Intn(256))
				if wt.Type == onnxio.Int8 {
					zw[i] -= 128
				}
			}
		}
		za := int32(rng.Intn(256))
		if x.Type == onnxio.Int8 {
			za -= 128
		}
		q := randQout(rng, m)
		dw := packConvWeights(wt, zw, c)
		if dw.dw == nil {
			t.Fatalf("weights %v in %d groups not packed for the depthwise kernel", wt.Shape, c)
		}
		gemm := &qconvWeights{gemm: packGemmConvWeights(wt, zw, c)}
		got, want := newTensor(q.dt, os), newTensor(q.dt, os)
		rc := &runCtx{threads: 1 + rng.Intn(2)}
		if err := k.run(rc, x, za, wt.Shape, dw, q, got); err != nil {
			t.Fatal(err)
		}
		if err := k.run(rc, x, za, wt.Shape, gemm, q, want); err != nil {
			t.Fatal(err)
		}
		desc := fmt.Sprintf("x %s %v, W %s %v, zw %d, geom %+v, out %s, nhwc %v/%v", onnxio.DataTypeName(x.Type), x.Shape,
			onnxio.DataTypeName(wt.Type), wt.Shape, len(zw), g, onnxio.DataTypeName(q.dt), k.inNHWC, k.outNHWC)
		for i := 0; i < got.Len(); i++ {
			if a, b := got.at(i), want.at(i); a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Fatalf("%s: element %d = %v, GEMM path %v", desc, i, a, b)
			}
		}
	}
}

// randQout is a random output stage for m channels: int32, float (with
// or without float bias) or requantized uint8/int8 (with or without a
// clamp), per-channel or per-tensor scales, with or without int32 bias.
func randQout(rng *rand.Rand, m int) *qout {
	q := &qout{dt: []onnxio.DataType{onnxio.Int32, onnxio.Float, onnxio.Uint8, onnxio.Int8}[rng.Intn(4)]}
	vals := func(n int, f func() float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = f()
		}
		return v
	}
	nPer := []int{1, m}[rng.Intn(2)]
	if rng.Intn(2) == 0 {
		q.bias = make([]int32, m)
		for i := range q.bias {
			q.bias[i] = int32(rng.Intn(20001) - 10000)
		}
	}
	switch q.dt {
	case onnxio.Float:
		q.scale = vals(nPer, func() float32 { return float32(1e-4 + 1e-3*rng.Float64()) })
		if rng.Intn(2) == 0 {
			q.fbias = vals(nPer, func() float32 { return float32(rng.Float64() - 0.5) })
		}
	case onnxio.Uint8, onnxio.Int8:
		q.scale = vals(nPer, func() float32 { return float32(1e-3 + 5e-3*rng.Float64()) })
		lo, hi := int32(0), int32(255)
		if q.dt == onnxio.Int8 {
			lo, hi = -128, 127
		}
		q.zp = lo + int32(rng.Intn(256))
		if rng.Intn(2) == 0 {
			q.clamp, q.lo, q.hi = true, q.zp, hi // Relu
			if rng.Intn(2) == 0 {
				q.lo, q.hi = max(lo, q.zp-40), min(hi, q.zp+60) // Clip
			}
		}
	}
	return q
}

// qconvChain is a QDQ graph of convolutions in a row, all quantized to
// adt: x -> Q -> DQ -> Conv [-> act] -> Q -> DQ [-> MaxPool -> Q -> DQ]
// -> Conv -> ... -> Q -> DQ -> y, the activation and pool after the first
// only, the last output with step 0.02 (or float).
type qconvChain struct {
	adt        onnxio.DataType
	perChannel bool
	bias       bool
	act        string
	pool       bool // a 2×2 MaxPool after the first convolution
	floatOut   bool // the last convolution's output not quantized
	x          []int
	convs      []qconvSpec
}

// qconvSpec is one convolution of a qconvChain: m output channels, k×k,
// square stride and pads.
type qconvSpec struct{ m, k, stride, pad, group int }

func (c qconvChain) String() string {
	return fmt.Sprintf("%s/x%v/convs%v/perch=%v/bias=%v/%s/pool=%v/float=%v", onnxio.DataTypeName(c.adt), c.x, c.convs, c.perChannel, c.bias, c.act, c.pool, c.floatOut)
}

func (c qconvChain) build(t *testing.T, rng *rand.Rand) (*onnxio.Model, *Tensor) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	g := b.g
	zero := func(v int32) int32 {
		if c.adt == onnxio.Int8 {
			return v - 128
		}
		return v
	}
	quant := func(in, out string, s float32, z int32) {
		qinit(t, g, out+"_s", NewFloat32([]int{}, []float32{s}))
		qinit(t, g, out+"_z", scalarQ(c.adt, zero(z)))
		b.node("QuantizeLinear", []string{in, out + "_s", out + "_z"}, []string{out + "_q"})
		b.node("DequantizeLinear", []string{out + "_q", out + "_s", out + "_z"}, []string{out})
	}
	conv := func(name, in string, cin int, cs qconvSpec) {
		m, k := cs.m, cs.k
		wq := newTensor(onnxio.Int8, []int{m, cin / cs.group, k, k})
		for i := range wq.I8 {
			wq.I8[i] = int8(rng.Intn(255) - 127)
		}
		shape := []int{}
		if c.perChannel {
			shape = []int{m}
		}
		sw := make([]float32, 1)
		if c.perChannel {
			sw = make([]float32, m)
		}
		for i := range sw {
			// About 1/sqrt(K) of the input range over the output's.
			sw[i] = float32((0.5 + rng.Float64()) * 0.6 / math.Sqrt(float64(wq.Len()/m)) / 127)
		}
		qinit(t, g, name+"_w", wq)
		qinit(t, g, name+"_sw", NewFloat32(shape, sw))
		qinit(t, g, name+"_zw", newTensor(onnxio.Int8, shape))
		b.node("DequantizeLinear", []string{name + "_w", name + "_sw", name + "_zw"}, []string{name + "_wd"}, attrI("axis", 0))
		ins := []string{in, name + "_wd"}
		if c.bias {
			qinit(t, g, name+"_b", randRange(rng.Int63(), []int{m}, -0.3, 0.3))
			ins = append(ins, name+"_b")
		}
		s, p := int64(cs.stride), int64(cs.pad)
		b.node("Conv", ins, []string{name}, attrIs("strides", s, s), attrIs("pads", p, p, p, p), attrI("group", int64(cs.group)),
			attrIs("kernel_shape", int64(k), int64(k)))
	}
	x := randRange(rng.Int63(), c.x, -1, 2)
	quant("x", "xd", 3.0/255, 85)
	cur, cin := "xd", c.x[1]
	for i, cs := range c.convs {
		name := fmt.Sprintf("c%d", i)
		conv(name, cur, cin, cs)
		cur, cin = name, cs.m
		if i == 0 && c.act != "" {
			switch c.act {
			case "Relu":
				b.node("Relu", []string{cur}, []string{"a"})
			case "Clip":
				qinit(t, g, "lo", NewFloat32([]int{}, []float32{-0.2}))
				qinit(t, g, "hi", NewFloat32([]int{}, []float32{0.6}))
				b.node("Clip", []string{cur, "lo", "hi"}, []string{"a"})
			}
			cur = "a"
		}
		if i < len(c.convs)-1 {
			quant(cur, cur+"_d", 0.01, 120)
			cur += "_d"
			if i == 0 && c.pool {
				b.node("MaxPool", []string{cur}, []string{"pool"}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2))
				quant("pool", "pool_d", 0.01, 120)
				cur = "pool_d"
			}
		}
	}
	if c.floatOut {
		b.node("Identity", []string{cur}, []string{"y"})
	} else {
		quant(cur, "y", 0.02, 130)
	}
	return b.model(t, 13), x
}

// TestQDepthwiseORT runs random QDQ depthwise convolutions in integer
// and checks them against simulated quantization and ONNX Runtime.
func TestQDepthwiseORT(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	var chains []qconvChain
	for i := 0; i < 24; i++ {
		// Two depthwise convolutions (the value between them passed in
		// NHWC): c·mult channels k×k, then 3×3 stride 1.
		c, mult, k := []int{8, 5, 16, 33}[rng.Intn(4)], 1+(i/2)%2, []int{3, 5}[rng.Intn(2)]
		m := c * mult
		ch := qconvChain{
			adt:        []onnxio.DataType{onnxio.Uint8, onnxio.Int8}[i%2],
			perChannel: rng.Intn(2) == 0,
			bias:       rng.Intn(2) == 0,
			act:        []string{"", "Relu", "Clip"}[rng.Intn(3)],
			x:          []int{1 + rng.Intn(3), c, 5 + rng.Intn(12), 5 + rng.Intn(12)},
			convs:      []qconvSpec{{m, k, 1 + rng.Intn(2), rng.Intn(k/2 + 1), c}, {m, 3, 1, 1, m}},
			floatOut:   i%3 == 2,
		}
		chains = append(chains, ch)
	}
	checkQConvChainsORT(t, rng, chains)
}

// checkQConvChainsORT builds the chains, checks that each convolution
// runs in integer, and that the outputs are within one quantization step
// of simulated quantization and of ONNX Runtime (round-half-to-even ties
// of float products may differ), few of them a step apart; a float output
// within 1e-4 of its largest magnitude.
func checkQConvChainsORT(t *testing.T, rng *rand.Rand, cases []qconvChain) {
	t.Helper()
	dir := t.TempDir()
	var jobs []testdeps.ORTJob
	var got, sim [][]float32
	for i, c := range cases {
		m, x := c.build(t, rng)
		s, err := Compile(m, Options{})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		n8 := 0
		for _, p := range s.Precisions() {
			if p.Precision == "int8" && strings.HasPrefix(p.Op, "Conv") {
				n8++
			}
		}
		if n8 != len(c.convs) {
			t.Errorf("%v: %d int8 Conv steps, want %d: %+v", c, n8, len(c.convs), s.Precisions())
		}
		res, err := s.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		got = append(got, res["y"].F32)
		sim = append(sim, run1(t, m, Options{NoInteger: true}, map[string]*Tensor{"x": x})["y"].F32)
		path := filepath.Join(dir, fmt.Sprintf("chain%d.onnx", i))
		if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: []testdeps.ORTTensor{testdeps.ORTFloat32("x", x.Shape, x.F32)}})
	}
	const step = 0.02
	check := func(c qconvChain, what string, got, want []float32) {
		if len(got) != len(want) {
			t.Errorf("%v vs %s: %d values, want %d", c, what, len(got), len(want))
			return
		}
		if c.floatOut {
			if e := relErr(got, want); e > 1e-4 {
				t.Errorf("%v vs %s: relative error %.3g", c, what, e)
			}
			return
		}
		off := 0
		for i := range want {
			d := math.Abs(float64(got[i]-want[i])) / step
			if d > 1.001 {
				t.Errorf("%v vs %s: element %d = %g, want %g (%.3g steps)", c, what, i, got[i], want[i], d)
				return
			}
			if d > 0.5 {
				off++
			}
		}
		if off > len(want)/50+1 {
			t.Errorf("%v vs %s: %d/%d values one step apart", c, what, off, len(want))
		}
	}
	for i, c := range cases {
		check(c, "simulated", got[i], sim[i])
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		if r.Err != nil {
			t.Errorf("%v: ONNX Runtime: %v", cases[i], r.Err)
			continue
		}
		check(cases[i], "ORT", got[i], bytesF32(r.Outputs[0].Data))
	}
}

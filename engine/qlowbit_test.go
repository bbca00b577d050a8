package engine

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// lowbitCase is one 4-bit or 16-bit QDQ layer (or a chain of two Convs):
// x -> Q -> DQ -> op(DQ(W), bias) [-> Relu] -> Q -> DQ -> y.
type lowbitCase struct {
	op       string // Conv, Gemm, MatMul
	xdt, wdt onnxio.DataType
	block    int  // W block_size along K (4-bit)
	perCh    bool // per output channel scales (else per tensor)
	wzp      bool // nonzero weight zero points (per channel)
	group    int
	stride   int
	transB   bool
	relu     bool
	bias     string // "", "float", "int32"
	chain    bool   // two Convs: the first's output stays integer
	floatOut bool   // no QuantizeLinear after the op
	dw       bool   // depthwise Conv (group = channels)
}

func (c lowbitCase) String() string {
	return fmt.Sprintf("%s x%s w%s b%d pc%v zp%v g%d s%d tB%v relu%v bias%s chain%v fo%v dw%v", c.op, onnxio.DataTypeName(c.xdt), onnxio.DataTypeName(c.wdt),
		c.block, c.perCh, c.wzp, c.group, c.stride, c.transB, c.relu, c.bias, c.chain, c.floatOut, c.dw)
}

func (c lowbitCase) prec() string {
	if c.wdt == onnxio.Int16 {
		return "int16"
	}
	if c.xdt == onnxio.Int4 || c.xdt == onnxio.Uint4 {
		return "w4a4"
	}
	return "w4a8"
}

// pow2Scale is a power-of-two scale covering amax with qmax (dfp16).
func pow2Scale(amax float64, qmax int32) float32 {
	return float32(math.Ldexp(1, int(math.Ceil(math.Log2(amax/float64(qmax))))))
}

// build returns the model, its input and the output's quantization step.
func (c lowbitCase) build(t *testing.T, rng *rand.Rand) (*onnxio.Model, *Tensor, float32) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	g := b.g
	add := func(name string, v *Tensor) { g.Initializer = append(g.Initializer, tensorProto(t, name, v)) }
	dfp := c.xdt == onnxio.Int16
	wlo, whi, _ := qLimits(c.wdt)
	// actQ adds the scale and zero point of an activation in [-1, 3].
	actQ := func(name string, dt onnxio.DataType) (float32, int32) {
		lo, hi, _ := qLimits(dt)
		s, z := float32(4.0/float64(hi-lo)), lo+int32(float64(hi-lo)/4)
		if dfp {
			s, z = pow2Scale(3, hi), 0
		}
		add(name+"_s", NewFloat32([]int{}, []float32{s}))
		add(name+"_z", scalarQ(dt, z))
		return s, z
	}
	var xShape []int
	cin, m := 8, 12
	switch c.op {
	case "Conv":
		if c.block > 0 {
			cin = 2 * c.block
		}
		cin *= max(c.group, 1)
		if c.dw {
			cin, m, c.group = 12, 12, 12
		}
		xShape = []int{2, cin, 7, 6}
	case "Gemm":
		xShape = []int{5, 40}
	case "MatMul":
		xShape = []int{2, 3, 40}
	}
	x := randRange(rng.Int63(), xShape, -1, 3)
	sx, _ := actQ("x", c.xdt)
	b.node("QuantizeLinear", []string{"x", "x_s", "x_z"}, []string{"xq"})
	b.node("DequantizeLinear", []string{"xq", "x_s", "x_z"}, []string{"xd"})
	in := "xd"
	layers := 1
	if c.chain {
		layers = 2
	}
	var step float32
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("l%d_", l)
		var wShape []int
		nOut, kAxis, chAxis := m, 1, 0
		switch c.op {
		case "Conv":
			ci := cin
			if l > 0 {
				ci = m
			}
			wShape = []int{m, ci / max(c.group, 1), 3, 3}
		case "Gemm":
			wShape = []int{40, m}
			kAxis, chAxis = 0, 1
			if c.transB {
				wShape, kAxis, chAxis = []int{m, 40}, 1, 0
			}
		case "MatMul":
			wShape, kAxis, chAxis = []int{40, m}, 0, 1
		}
		wq := newTensor(c.wdt, wShape)
		for i := 0; i < wq.Len(); i++ {
			setAt(wq, i, float64(wlo+rng.Int31n(whi-wlo+1)))
		}
		if dfp { // weights of a realistic magnitude
			for i := range wq.I16 {
				wq.I16[i] /= 64
			}
		}
		add(p+"wq", wq)
		var sShape []int
		var attrs []*pb.AttributeProto
		switch {
		case c.block > 0:
			sShape = append([]int{}, wShape...)
			sShape[kAxis] = (wShape[kAxis] + c.block - 1) / c.block
			attrs = append(attrs, attrI("axis", int64(kAxis)), attrI("block_size", int64(c.block)))
		case c.perCh:
			sShape = []int{nOut}
			attrs = append(attrs, attrI("axis", int64(chAxis)))
		default:
			sShape = []int{}
		}
		sw := NewFloat32(sShape, nil)
		zw := newTensor(c.wdt, sShape)
		for i := range sw.F32 {
			sw.F32[i] = (0.5 + rng.Float32()) / float32(whi) / 4
			if dfp {
				sw.F32[i] = float32(math.Ldexp(1, -12))
			}
			if c.wzp && c.block == 0 {
				setAt(zw, i, float64(wlo+rng.Int31n(whi-wlo+1)))
			}
		}
		add(p+"ws", sw)
		add(p+"wz", zw)
		b.node("DequantizeLinear", []string{p + "wq", p + "ws", p + "wz"}, []string{p + "w"}, attrs...)
		ins := []string{in, p + "w"}
		switch c.bias {
		case "float":
			bv := NewFloat32([]int{m}, nil)
			for i := range bv.F32 {
				bv.F32[i] = rng.Float32() - 0.5
			}
			add(p+"b", bv)
			ins = append(ins, p+"b")
		case "int32":
			bq := newTensor(onnxio.Int32, []int{m})
			for i := range bq.I32 {
				bq.I32[i] = rng.Int31n(2001) - 1000
			}
			add(p+"bq", bq)
			add(p+"bs", NewFloat32([]int{}, []float32{sx * sw.F32[0]}))
			b.node("DequantizeLinear", []string{p + "bq", p + "bs"}, []string{p + "b"})
			ins = append(ins, p+"b")
		}
		var opAttrs []*pb.AttributeProto
		switch c.op {
		case "Conv":
			opAttrs = append(opAttrs, attrIs("pads", 1, 1, 1, 1), attrIs("strides", int64(max(c.stride, 1)), int64(max(c.stride, 1))), attrI("group", int64(max(c.group, 1))))
		case "Gemm":
			if c.transB {
				opAttrs = append(opAttrs, attrI("transB", 1))
			}
		}
		out := p + "o"
		b.node(c.op, ins, []string{out}, opAttrs...)
		if c.relu {
			b.node("Relu", []string{out}, []string{p + "r"})
			out = p + "r"
		}
		if c.floatOut && l == layers-1 {
			b.node("Identity", []string{out}, []string{"y"})
			step = 0
			break
		}
		ydt := c.xdt
		var sy float32
		sy, _ = actQ(p+"y", ydt)
		b.node("QuantizeLinear", []string{out, p + "y_s", p + "y_z"}, []string{p + "yq"})
		next := p + "yd"
		if l == layers-1 {
			next = "y"
		}
		b.node("DequantizeLinear", []string{p + "yq", p + "y_s", p + "y_z"}, []string{next})
		in, sx, step = next, sy, sy
	}
	mod := b.model(t, 21)
	mod.Proto.IrVersion = proto.Int64(10)
	return mod, x, step
}

// TestLowbitQDQORT runs 4-bit and 16-bit QDQ layers on the integer
// kernels and checks them against ONNX Runtime (which dequantizes and
// computes in float): every output within one quantization step (for a
// float output, within 1e-4 relative to the largest value), and against
// the engine's own float path (NoInteger) likewise.
func TestLowbitQDQORT(t *testing.T) {
	i4, u4, i8, u8, i16 := onnxio.Int4, onnxio.Uint4, onnxio.Int8, onnxio.Uint8, onnxio.Int16
	cases := []lowbitCase{
		{op: "Conv", xdt: u8, wdt: i4, perCh: true, relu: true, bias: "int32"},
		{op: "Conv", xdt: i8, wdt: u4, perCh: true, wzp: true, stride: 2, bias: "float"},
		{op: "Conv", xdt: i8, wdt: i4, group: 2, perCh: true, relu: true},
		{op: "Conv", xdt: i8, wdt: i4, perCh: true, chain: true, relu: true, bias: "float"},
		{op: "Conv", xdt: i8, wdt: i4, block: 16, relu: true, bias: "float"},
		{op: "Conv", xdt: u8, wdt: i4, block: 16, floatOut: true, bias: "float"},
		{op: "Conv", xdt: i8, wdt: i4, perCh: true, floatOut: true, bias: "float"},
		// No Relu before an int4 QuantizeLinear: ONNX Runtime's Relu
		// fusion drops it as if the range were int8's.
		{op: "Conv", xdt: i4, wdt: i4, perCh: true, bias: "float"},
		{op: "Conv", xdt: u4, wdt: u4, perCh: true, wzp: true, chain: true},
		{op: "Gemm", xdt: i8, wdt: i4, perCh: true, transB: true, relu: true, bias: "float"},
		{op: "Gemm", xdt: u8, wdt: i4, block: 16, transB: true, bias: "float"},
		{op: "Gemm", xdt: i8, wdt: i4, block: 16, bias: "float"},
		{op: "Gemm", xdt: i4, wdt: i4, perCh: true, bias: "float"},
		{op: "MatMul", xdt: i8, wdt: i4, block: 16, floatOut: true},
		{op: "MatMul", xdt: i8, wdt: u4, perCh: true, wzp: true},
		{op: "Conv", xdt: i16, wdt: i16, relu: true, bias: "int32"},
		{op: "Conv", xdt: i16, wdt: i16, stride: 2, group: 2, bias: "float", chain: true},
		{op: "Conv", xdt: i16, wdt: i16, floatOut: true, bias: "float"},
		// Depthwise: w4a8 on the int8 step (4-bit weights are int8
		// weights), w4a4 and int16 left in float (steps: 0).
		{op: "Conv", xdt: u8, wdt: i4, perCh: true, wzp: true, dw: true, relu: true, bias: "int32"},
		{op: "Conv", xdt: i8, wdt: u4, perCh: true, dw: true, chain: true},
		{op: "Conv", xdt: i4, wdt: i4, perCh: true, dw: true},
		{op: "Conv", xdt: i16, wdt: i16, dw: true, bias: "float"},
		{op: "Gemm", xdt: i16, wdt: i16, transB: true, relu: true, bias: "float"},
		{op: "MatMul", xdt: i16, wdt: i16},
	}
	rng := rand.New(rand.NewSource(4))
	dir := t.TempDir()
	var jobs []testdeps.ORTJob
	type result struct {
		got, sim []float32
		step     float32
	}
	var res []result
	for i, c := range cases {
		m, x, step := c.build(t, rng)
		s, err := Compile(m, Options{})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		n := 0
		for _, p := range s.Precisions() {
			if p.Precision == c.prec() {
				n++
			}
		}
		want := map[bool]int{false: 1, true: 2}[c.chain]
		if c.dw && c.prec() != "w4a8" {
			want = 0
		}
		if n != want {
			t.Errorf("%v: %d steps in %s, want %d: %+v", c, n, c.prec(), want, s.Precisions())
		}
		got, err := s.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		sim := run1(t, m, Options{NoInteger: true}, map[string]*Tensor{"x": x})
		res = append(res, result{got["y"].F32, sim["y"].F32, step})
		path := filepath.Join(dir, fmt.Sprintf("l%d.onnx", i))
		if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: []testdeps.ORTTensor{testdeps.ORTFloat32("x", x.Shape, x.F32)}})
	}
	check := func(c lowbitCase, what string, got, want []float32, step float32) {
		if len(got) != len(want) {
			t.Errorf("%v vs %s: %d values, want %d", c, what, len(got), len(want))
			return
		}
		tol := float64(step) * 1.0001
		if step == 0 {
			amax := 0.0
			for _, v := range want {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			tol = 1e-4 * amax
		}
		diff := 0
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); !(d <= tol) {
				if diff == 0 {
					t.Errorf("%v vs %s: y[%d] = %v, want %v (tolerance %g)", c, what, i, got[i], want[i], tol)
				}
				diff++
			}
		}
		if diff > 0 {
			t.Errorf("%v vs %s: %d of %d values differ", c, what, diff, len(got))
		}
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		if r.Err != nil {
			t.Errorf("%v: ONNX Runtime: %v", cases[i], r.Err)
			continue
		}
		check(cases[i], "ONNX Runtime", res[i].got, bytesF32(r.Outputs[0].Data), res[i].step)
		check(cases[i], "float path", res[i].got, res[i].sim, res[i].step)
	}
}

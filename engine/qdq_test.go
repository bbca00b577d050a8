package engine

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// qdqCase is one small hand-built QDQ graph around a Conv, Gemm or MatMul.
type qdqCase struct {
	op         string // Conv, ConvTranspose, Gemm, MatMul
	adt        onnxio.DataType
	perChannel bool
	group      int
	stride     int
	pad        int
	act        string // "", Relu, Clip
	outQ       bool
	bias       string // "", float, int32
	transB     bool
	kernel     int // ConvTranspose: kernel size (default 3)
	outPad     int // ConvTranspose: output_padding
	outCh      int // ConvTranspose: output channels (default 12)
	dilation   int // ConvTranspose: dilations (default 1)
}

func (c qdqCase) String() string {
	s := fmt.Sprintf("%s/%s", c.op, onnxio.DataTypeName(c.adt))
	if c.perChannel {
		s += "/perch"
	}
	if c.group > 1 {
		s += fmt.Sprintf("/g%d", c.group)
	}
	if c.stride > 1 {
		s += fmt.Sprintf("/s%d", c.stride)
	}
	if c.pad > 0 {
		s += "/pad"
	}
	if c.act != "" {
		s += "/" + c.act
	}
	if c.outQ {
		s += "/q"
	} else {
		s += "/float"
	}
	if c.bias != "" {
		s += "/bias-" + c.bias
	}
	if c.transB {
		s += "/transB"
	}
	if c.kernel > 0 {
		s += fmt.Sprintf("/k%d", c.kernel)
	}
	if c.outPad > 0 {
		s += "/outpad"
	}
	if c.outCh > 0 {
		s += fmt.Sprintf("/m%d", c.outCh)
	}
	if c.dilation > 1 {
		s += fmt.Sprintf("/d%d", c.dilation)
	}
	return s
}

// build returns the model, its input and the output's quantization step
// (0 for a float output).
func (c qdqCase) build(t *testing.T, rng *rand.Rand) (*onnxio.Model, *Tensor, float32) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	var xShape, wShape []int
	m := 12
	switch c.op {
	case "Conv":
		cin := 4 * max(c.group, 1)
		if c.group >= 8 { // depthwise
			cin, m = c.group, c.group
		}
		xShape = []int{2, cin, 9, 7}
		wShape = []int{m, cin / max(c.group, 1), 3, 3}
	case "ConvTranspose":
		// W is [C][M/g][k][k]: per-channel scales on axis 1 hold M/g.
		cin, k := 6*max(c.group, 1), max(c.kernel, 3)
		if c.outCh > 0 {
			m = c.outCh
		}
		xShape = []int{2, cin, 9, 7}
		wShape = []int{cin, m / max(c.group, 1), k, k}
	case "Gemm":
		xShape = []int{5, 20}
		wShape = []int{m, 20}
		if !c.transB {
			wShape = []int{20, m}
		}
	case "MatMul":
		xShape = []int{2, 3, 20}
		wShape = []int{20, m}
	}
	x := randRange(rng.Int63(), xShape, -1, 2)
	zx := int32(-20)
	if c.adt == onnxio.Uint8 {
		zx = 100
	}
	sx := float32(3.0 / 255)
	g := b.g
	qinit(t, g, "sx", NewFloat32([]int{}, []float32{sx}))
	qinit(t, g, "zx", scalarQ(c.adt, zx))
	b.node("QuantizeLinear", []string{"x", "sx", "zx"}, []string{"xq"})
	b.node("DequantizeLinear", []string{"xq", "sx", "zx"}, []string{"xd"})
	wq := newTensor(onnxio.Int8, wShape)
	for i := range wq.I8 {
		wq.I8[i] = int8(rng.Intn(255) - 127)
	}
	chAxis := 0
	if (c.op == "Gemm" && !c.transB) || c.op == "MatMul" || c.op == "ConvTranspose" {
		chAxis = 1
	}
	nsw := 1
	if c.perChannel {
		nsw = wShape[chAxis]
	}
	sw := make([]float32, nsw)
	for i := range sw {
		sw[i] = float32(0.002 + 0.004*rng.Float64())
	}
	qinit(t, g, "wq", wq)
	if c.perChannel {
		qinit(t, g, "sw", NewFloat32([]int{nsw}, sw))
		qinit(t, g, "zw", newTensor(onnxio.Int8, []int{nsw}))
	} else {
		qinit(t, g, "sw", NewFloat32([]int{}, sw))
		qinit(t, g, "zw", newTensor(onnxio.Int8, []int{}))
	}
	b.node("DequantizeLinear", []string{"wq", "sw", "zw"}, []string{"wd"}, attrI("axis", int64(chAxis)))
	ins := []string{"xd", "wd"}
	switch c.bias {
	case "float":
		bf := randRange(rng.Int63(), []int{m}, -0.5, 0.5)
		qinit(t, g, "bias", bf)
		ins = append(ins, "bias")
	case "int32":
		bq := newTensor(onnxio.Int32, []int{m})
		bs := make([]float32, m)
		for i := range bq.I32 {
			bq.I32[i] = int32(rng.Intn(2001) - 1000)
			bs[i] = sx * sw[i%len(sw)]
		}
		qinit(t, g, "bq", bq)
		qinit(t, g, "bs", NewFloat32([]int{m}, bs))
		b.node("DequantizeLinear", []string{"bq", "bs"}, []string{"bias"}, attrI("axis", 0))
		ins = append(ins, "bias")
	}
	var attrs []*pb.AttributeProto
	switch c.op {
	case "Conv":
		s, p := int64(max(c.stride, 1)), int64(c.pad)
		attrs = append(attrs, attrIs("strides", s, s), attrIs("pads", p, p, p, p), attrI("group", int64(max(c.group, 1))))
	case "ConvTranspose":
		s, p := int64(max(c.stride, 1)), int64(c.pad)
		attrs = append(attrs, attrIs("strides", s, s), attrIs("pads", p, p, p, p), attrI("group", int64(max(c.group, 1))))
		if c.outPad > 0 {
			attrs = append(attrs, attrIs("output_padding", int64(c.outPad), int64(c.outPad)))
		}
		if c.dilation > 1 {
			attrs = append(attrs, attrIs("dilations", int64(c.dilation), int64(c.dilation)))
		}
	case "Gemm":
		if c.transB {
			attrs = append(attrs, attrI("transB", 1))
		}
	}
	b.node(c.op, ins, []string{"acc"}, attrs...)
	cur := "acc"
	switch c.act {
	case "Relu":
		b.node("Relu", []string{cur}, []string{"act"})
		cur = "act"
	case "Clip":
		qinit(t, g, "lo", NewFloat32([]int{}, []float32{-0.3}))
		qinit(t, g, "hi", NewFloat32([]int{}, []float32{0.8}))
		b.node("Clip", []string{cur, "lo", "hi"}, []string{"act"})
		cur = "act"
	}
	var step float32
	if c.outQ {
		step = 0.02
		qinit(t, g, "sy", NewFloat32([]int{}, []float32{step}))
		qinit(t, g, "zy", scalarQ(c.adt, zx/2))
		b.node("QuantizeLinear", []string{cur, "sy", "zy"}, []string{"yq"})
		b.node("DequantizeLinear", []string{"yq", "sy", "zy"}, []string{"y"})
	} else {
		b.node("Identity", []string{cur}, []string{"y"})
	}
	return b.model(t, 13), x, step
}

// TestQDQPatternsORT runs hand-built QDQ graphs in integer and checks
// them against simulated quantization and ONNX Runtime: a quantized
// output within one quantization step, a float output within 1e-4 of its
// largest magnitude; and that the pattern did run in int8.
func TestQDQPatternsORT(t *testing.T) {
	var cases []qdqCase
	for _, adt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		cases = append(cases,
			qdqCase{op: "Conv", adt: adt, perChannel: true, pad: 1, act: "Relu", outQ: true, bias: "int32"},
			qdqCase{op: "Conv", adt: adt, perChannel: false, stride: 2, act: "Clip", outQ: true, bias: "float"},
			qdqCase{op: "Conv", adt: adt, perChannel: true, group: 2, pad: 1, outQ: true},
			qdqCase{op: "Conv", adt: adt, perChannel: true, group: 3, stride: 2, pad: 1, outQ: true, bias: "int32"},
			qdqCase{op: "Conv", adt: adt, perChannel: true, group: 8, pad: 1, act: "Relu", outQ: true, bias: "int32"}, // depthwise
			qdqCase{op: "Conv", adt: adt, perChannel: true, pad: 1, outQ: false, bias: "float"},
			qdqCase{op: "Gemm", adt: adt, perChannel: true, transB: true, act: "Relu", outQ: true, bias: "float"},
			qdqCase{op: "Gemm", adt: adt, perChannel: false, outQ: true, bias: "int32"},
			qdqCase{op: "Gemm", adt: adt, perChannel: true, outQ: false, bias: "float"},
			qdqCase{op: "MatMul", adt: adt, perChannel: true, outQ: true},
			qdqCase{op: "MatMul", adt: adt, perChannel: false, act: "Relu", outQ: true},
		)
	}
	runQDQCases(t, cases, rand.New(rand.NewSource(7)))
}

// runQDQCases builds and runs cases, checking each (one int8 step)
// against simulated quantization and ONNX Runtime.
func runQDQCases(t *testing.T, cases []qdqCase, rng *rand.Rand) {
	var jobs []testdeps.ORTJob
	type built struct {
		got, sim []float32
		step     float32
	}
	var res []built
	dir := t.TempDir()
	for i, c := range cases {
		m, x, step := c.build(t, rng)
		s, err := Compile(m, Options{})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		n8 := 0
		for _, p := range s.Precisions() {
			if p.Precision == "int8" {
				n8++
			}
		}
		if n8 != 1 {
			t.Errorf("%v: %d int8 steps, want 1: %+v", c, n8, s.Precisions())
		}
		got, err := s.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		sim := run1(t, m, Options{NoInteger: true}, map[string]*Tensor{"x": x})
		res = append(res, built{got["y"].F32, sim["y"].F32, step})
		path := filepath.Join(dir, fmt.Sprintf("case%d.onnx", i))
		if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		dims := make([]int64, len(x.Shape))
		for j, d := range x.Shape {
			dims[j] = int64(d)
		}
		jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: []testdeps.ORTTensor{{Name: "x", Type: "float32", Dims: dims, Data: f32Bytes(x.F32)}}})
	}
	check := func(c qdqCase, what string, got, want []float32, step float32) {
		if len(got) != len(want) {
			t.Errorf("%v vs %s: %d values, want %d", c, what, len(got), len(want))
			return
		}
		if step == 0 {
			if e := relErr(got, want); e > 1e-4 {
				t.Errorf("%v vs %s: relative error %.3g", c, what, e)
			}
			return
		}
		off := 0
		for i := range want {
			d := math.Abs(float64(got[i]-want[i])) / float64(step)
			if d > 1.001 {
				t.Errorf("%v vs %s: element %d = %g, want %g (%.3g steps)", c, what, i, got[i], want[i], d)
				return
			}
			if d > 0.5 {
				off++
			}
		}
		t.Logf("%v vs %s: %d/%d one step apart", c, what, off, len(want))
	}
	for i, c := range cases {
		check(c, "simulated", res[i].got, res[i].sim, res[i].step)
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		if r.Err != nil {
			t.Errorf("%v: ONNX Runtime: %v", cases[i], r.Err)
			continue
		}
		check(cases[i], "ORT", res[i].got, bytesF32(r.Outputs[0].Data), res[i].step)
	}
}

// TestQLinearConvORT checks QLinearConv and QLinearMatMul forms the
// conformance data lacks (int8 activations, per-channel weight scales and
// zero points, groups, bias) against ONNX Runtime: exact, or one step
// apart on round-half-to-even ties.
func TestQLinearConvORT(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	dir := t.TempDir()
	var jobs []testdeps.ORTJob
	var got []*Tensor
	for i, adt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		b := newGraph()
		b.input("x", adt)
		b.output("y", adt)
		g := b.g
		x := newTensor(adt, []int{2, 6, 8, 8})
		xb := qbytes(x)
		for j := range xb {
			xb[j] = byte(rng.Intn(256))
		}
		w := newTensor(onnxio.Int8, []int{6, 3, 3, 3})
		for j := range w.I8 {
			w.I8[j] = int8(rng.Intn(255) - 127)
		}
		sw := make([]float32, 6)
		for j := range sw {
			sw[j] = float32(0.001 + 0.003*rng.Float64())
		}
		bias := newTensor(onnxio.Int32, []int{6})
		for j := range bias.I32 {
			bias.I32[j] = int32(rng.Intn(4001) - 2000)
		}
		qinit(t, g, "sx", NewFloat32([]int{}, []float32{0.01}))
		qinit(t, g, "zx", scalarQ(adt, 7))
		qinit(t, g, "w", w)
		qinit(t, g, "sw", NewFloat32([]int{6}, sw))
		qinit(t, g, "zw", newTensor(onnxio.Int8, []int{6}))
		qinit(t, g, "sy", NewFloat32([]int{}, []float32{0.05}))
		qinit(t, g, "zy", scalarQ(adt, 3))
		qinit(t, g, "b", bias)
		b.node("QLinearConv", []string{"x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"}, []string{"y"},
			attrI("group", 2), attrIs("pads", 1, 0, 1, 2), attrIs("strides", 1, 2))
		m := b.model(t, 13)
		got = append(got, run1(t, m, Options{}, map[string]*Tensor{"x": x})["y"])
		path := filepath.Join(dir, fmt.Sprintf("qlc%d.onnx", i))
		if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		ty := map[onnxio.DataType]string{onnxio.Uint8: "uint8", onnxio.Int8: "int8"}[adt]
		jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: []testdeps.ORTTensor{{Name: "x", Type: ty, Dims: []int64{2, 6, 8, 8}, Data: append([]byte{}, xb...)}}})
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		want := r.Outputs[0].Data
		g := qbytes(got[i])
		if len(g) != len(want) {
			t.Fatalf("case %d: %d values, ORT %d", i, len(g), len(want))
		}
		off := 0
		for j := range want {
			a, b := int(g[j]), int(want[j])
			if got[i].Type == onnxio.Int8 {
				a, b = int(int8(g[j])), int(int8(want[j]))
			}
			if a != b {
				off++
				if a-b > 1 || b-a > 1 {
					t.Fatalf("case %d: element %d = %d, ORT %d", i, j, a, b)
				}
			}
		}
		t.Logf("QLinearConv %s: %d/%d values one step from ORT", onnxio.DataTypeName(got[i].Type), off, len(want))
	}
}

// TestQDQClampExact: Relu and Clip between equal quantization parameters
// run as a clamp of the bytes, exactly as simulated quantization.
func TestQDQClampExact(t *testing.T) {
	for _, adt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		for _, op := range []string{"Relu", "Clip"} {
			b := newGraph()
			b.input("x", onnxio.Float)
			b.output("y", onnxio.Float)
			qinit(t, b.g, "s", NewFloat32([]int{}, []float32{0.013}))
			qinit(t, b.g, "z", scalarQ(adt, 9))
			b.node("QuantizeLinear", []string{"x", "s", "z"}, []string{"xq"})
			b.node("DequantizeLinear", []string{"xq", "s", "z"}, []string{"xd"})
			if op == "Relu" {
				b.node("Relu", []string{"xd"}, []string{"r"})
			} else {
				qinit(t, b.g, "lo", NewFloat32([]int{}, []float32{-0.2}))
				qinit(t, b.g, "hi", NewFloat32([]int{}, []float32{0.9}))
				b.node("Clip", []string{"xd", "lo", "hi"}, []string{"r"})
			}
			b.node("QuantizeLinear", []string{"r", "s", "z"}, []string{"rq"})
			b.node("DequantizeLinear", []string{"rq", "s", "z"}, []string{"y"})
			m := b.model(t, 13)
			x := randRange(3, []int{4, 100}, -2, 2)
			s, err := Compile(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			n8 := 0
			for _, p := range s.Precisions() {
				if p.Precision == "int8" {
					n8++
				}
			}
			if n8 != 1 {
				t.Errorf("%s %s: %d int8 steps", op, onnxio.DataTypeName(adt), n8)
			}
			got, err := s.Run(map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			want := run1(t, m, Options{NoInteger: true}, map[string]*Tensor{"x": x})
			for i, v := range want["y"].F32 {
				if got["y"].F32[i] != v {
					t.Fatalf("%s %s: element %d = %g, want %g", op, onnxio.DataTypeName(adt), i, got["y"].F32[i], v)
				}
			}
		}
	}
}

// maxPool2x2Q (the word-wise NCHW form) against the plain definition on
// random planes of every width around the eight-output step, int8 and
// uint8, extremes included.
func TestMaxPool2x2Q(t *testing.T) {
	r := rand.New(rand.NewSource(41))
	vals := []uint8{0, 1, 0x7F, 0x80, 0x81, 0xFE, 0xFF}
	for trial := 0; trial < 200; trial++ {
		planes, h, w := 1+r.Intn(3), 2+r.Intn(6), 2+r.Intn(40)
		oh, ow := h/2, w/2
		x := make([]uint8, planes*h*w)
		for i := range x {
			x[i] = uint8(r.Uint32())
			if r.Intn(3) == 0 {
				x[i] = vals[r.Intn(len(vals))]
			}
		}
		got8 := make([]uint8, planes*oh*ow)
		gotS := make([]int8, planes*oh*ow)
		maxPool2x2Q(x, got8, planes, h, w, oh, ow)
		maxPool2x2Q(asInt8(x), gotS, planes, h, w, oh, ow)
		for pl := 0; pl < planes; pl++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					at := func(dy, dx int) uint8 { return x[pl*h*w+(2*oy+dy)*w+2*ox+dx] }
					a, b, c, d := at(0, 0), at(0, 1), at(1, 0), at(1, 1)
					i := (pl*oh+oy)*ow + ox
					if want := max(a, b, c, d); got8[i] != want {
						t.Fatalf("uint8 %dx%dx%d: out[%d] = %d, want %d", planes, h, w, i, got8[i], want)
					}
					if want := max(int8(a), int8(b), int8(c), int8(d)); gotS[i] != want {
						t.Fatalf("int8 %dx%dx%d: out[%d] = %d, want %d", planes, h, w, i, gotS[i], want)
					}
				}
			}
		}
	}
}

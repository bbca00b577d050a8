package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// forEachBinaryPathE runs f with every Binary kernel path this machine
// supports forced in turn (generic first).
func forEachBinaryPathE(t *testing.T, f func(path string)) {
	old := kernels.Binary.Active()
	defer kernels.Binary.Set(old)
	for _, p := range kernels.Binary.SupportedPaths() {
		if err := kernels.Binary.Set(p); err != nil {
			t.Fatal(err)
		}
		f(p)
	}
}

// binCase is one BinaryConv (or, gemm, BinaryGemm) test layer.
type binCase struct {
	n, c, h, w, m  int
	kh, kw         int
	sh, sw, dh, dw int
	pads           [4]int // top, left, bottom, right
	group          int
	padValue       int
	out            string
	clip           bool
	thr            bool
	gemm           bool
}

func (bc binCase) String() string {
	if bc.gemm {
		return fmt.Sprintf("gemm %dx%d->%d %s thr=%v clip=%v", bc.n, bc.c, bc.m, bc.out, bc.thr, bc.clip)
	}
	return fmt.Sprintf("n%d c%d %dx%d m%d k%dx%d s%d,%d d%d,%d p%v g%d pv%d %s clip=%v thr=%v",
		bc.n, bc.c, bc.h, bc.w, bc.m, bc.kh, bc.kw, bc.sh, bc.sw, bc.dh, bc.dw, bc.pads, bc.group, bc.padValue, bc.out, bc.clip, bc.thr)
}

func (bc binCase) outSize() (oh, ow int) {
	oh = (bc.h+bc.pads[0]+bc.pads[2]-(bc.kh-1)*bc.dh-1)/bc.sh + 1
	ow = (bc.w+bc.pads[1]+bc.pads[3]-(bc.kw-1)*bc.dw-1)/bc.sw + 1
	return
}

// binLayer is a layer's random parameters: weight signs (OIHW, ±1),
// multiplier, bias, thresholds and clip bounds.
type binLayer struct {
	bc         binCase
	w          []float32
	mult, bias []float32
	thr        []float32
	lo, hi     float32
}

func newBinLayer(r *rand.Rand, bc binCase) *binLayer {
	if bc.group == 0 {
		bc.group = 1
	}
	cg := bc.c / bc.group
	l := &binLayer{bc: bc, w: make([]float32, bc.m*cg*bc.kh*bc.kw), mult: make([]float32, bc.m), bias: make([]float32, bc.m)}
	for i := range l.w {
		l.w[i] = float32(1 - 2*r.IntN(2))
	}
	k := float64(cg * bc.kh * bc.kw)
	for j := range l.mult {
		// Scales that take int8 outputs past saturation, both signs, and
		// biases of about the dots' spread.
		l.mult[j] = float32((r.Float64()*2 - 0.7) * 300 / math.Sqrt(k))
		l.bias[j] = float32(r.NormFloat64() * 40)
		if j%7 == 3 {
			l.bias[j] = float32(math.Copysign(0, -1))
		}
	}
	if bc.thr {
		l.thr = make([]float32, bc.c)
		for i := range l.thr {
			l.thr[i] = float32(r.NormFloat64() * 0.5)
		}
	}
	l.lo, l.hi = -50, 70
	return l
}

// reference computes the layer on float x (NCHW, or [M, K] for a Gemm) in
// plain loops: binarize against the thresholds to ±1, convolve the ±1
// values as floats, then the output stage. It returns y as float32 NCHW
// ([M, N] for a Gemm).
func (l *binLayer) reference(x []float32) []float32 {
	bc := l.bc
	if bc.gemm {
		bc.h, bc.w, bc.kh, bc.kw, bc.sh, bc.sw, bc.dh, bc.dw, bc.group = 1, 1, 1, 1, 1, 1, 1, 1, 1
	}
	group := max(bc.group, 1)
	cg, mg := bc.c/group, bc.m/group
	b := make([]float32, len(x))
	for i, v := range x {
		t := float32(0)
		if l.thr != nil {
			t = l.thr[i/(bc.h*bc.w)%bc.c]
		}
		b[i] = 1
		if v < t {
			b[i] = -1
		}
	}
	oh, ow := bc.outSize()
	y := make([]float32, bc.n*bc.m*oh*ow)
	for n := 0; n < bc.n; n++ {
		for m := 0; m < bc.m; m++ {
			g := m / mg
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var d float32 // exact: a sum of at most 2^24 ±1
					for ci := 0; ci < cg; ci++ {
						for ky := 0; ky < bc.kh; ky++ {
							for kx := 0; kx < bc.kw; kx++ {
								iy := oy*bc.sh - bc.pads[0] + ky*bc.dh
								ix := ox*bc.sw - bc.pads[1] + kx*bc.dw
								v := float32(bc.padValue) // 0 or +1
								if iy >= 0 && iy < bc.h && ix >= 0 && ix < bc.w {
									v = b[((n*bc.c+g*cg+ci)*bc.h+iy)*bc.w+ix]
								}
								d += v * l.w[((m*cg+ci)*bc.kh+ky)*bc.kw+kx]
							}
						}
					}
					// Two roundings (the conversion keeps arm64 from fusing them into
					// one FMA); -0 -> +0.
					v := float32(d*l.mult[m]) + l.bias[m] + 0
					if bc.clip {
						v = min(max(v, l.lo), l.hi)
					}
					y[((n*bc.m+m)*oh+oy)*ow+ox] = v
				}
			}
		}
	}
	return y
}

// refInt8 is y rounded half to even and saturated.
func refInt8(y []float32) []int8 {
	q := make([]int8, len(y))
	for i, v := range y {
		q[i] = int8(min(max(math.RoundToEven(float64(v)), -128), 127))
	}
	return q
}

// refBits packs NCHW y channels-last: bit 1 where y < 0.
func refBits(y []float32, n, c, pixels int) []uint64 {
	wc := (c + 63) / 64
	out := make([]uint64, n*pixels*wc)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < pixels; p++ {
				if y[(i*c+ch)*pixels+p] < 0 {
					out[(i*pixels+p)*wc+ch/64] |= 1 << (ch % 64)
				}
			}
		}
	}
	return out
}

// packWeights packs OIHW ±1 weights as BinaryConv's W: [M, kH, kW,
// ceil(Cg/64)], bit 1 for -1.
func packWeights(w []float32, m, cg, kh, kw int) []uint64 {
	wg := (cg + 63) / 64
	out := make([]uint64, m*kh*kw*wg)
	for o := 0; o < m; o++ {
		for ci := 0; ci < cg; ci++ {
			for t := 0; t < kh*kw; t++ {
				if w[(o*cg+ci)*kh*kw+t] < 0 {
					out[(o*kh*kw+t)*wg+ci/64] |= 1 << (ci % 64)
				}
			}
		}
	}
	return out
}

func initU64(t testing.TB, b *graphBuilder, name string, shape []int, v []uint64) {
	t.Helper()
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	tp, err := onnxio.NewTensor(name, onnxio.Uint64, dims, v)
	if err != nil {
		t.Fatal(err)
	}
	b.g.Initializer = append(b.g.Initializer, tp)
}

// addNode adds l as node name (domain ai.qtool) from input x to output y,
// with its initializers prefixed by name.
func (l *binLayer) addNode(t testing.TB, b *graphBuilder, name, x, y string) {
	bc := l.bc
	group := max(bc.group, 1)
	cg := bc.c / group
	op := "BinaryConv"
	attrs := []*pb.AttributeProto{attrS("output", bc.out)}
	if bc.gemm {
		op = "BinaryGemm"
		attrs = append(attrs, attrI("in_features", int64(bc.c)))
		initU64(t, b, name+"_W", []int{bc.m, (bc.c + 63) / 64}, packWeights(l.w, bc.m, cg, 1, 1))
	} else {
		attrs = append(attrs, attrI("in_channels", int64(bc.c)), attrIs("kernel_shape", int64(bc.kh), int64(bc.kw)),
			attrIs("strides", int64(bc.sh), int64(bc.sw)), attrIs("dilations", int64(bc.dh), int64(bc.dw)),
			attrIs("pads", int64(bc.pads[0]), int64(bc.pads[1]), int64(bc.pads[2]), int64(bc.pads[3])),
			attrI("group", int64(group)), attrI("pad_value", int64(bc.padValue)))
		initU64(t, b, name+"_W", []int{bc.m, bc.kh, bc.kw, (cg + 63) / 64}, packWeights(l.w, bc.m, cg, bc.kh, bc.kw))
	}
	if bc.clip {
		attrs = append(attrs, attrF32("clip_min", l.lo), attrF32("clip_max", l.hi))
	}
	b.init(t, name+"_mult", NewFloat32([]int{bc.m}, l.mult))
	b.init(t, name+"_bias", NewFloat32([]int{bc.m}, l.bias))
	in := []string{x, name + "_W", name + "_mult", name + "_bias"}
	if l.thr != nil {
		b.init(t, name+"_thr", NewFloat32([]int{bc.c}, l.thr))
		in = append(in, name+"_thr")
	}
	b.g.Node = append(b.g.Node, &pb.NodeProto{Name: proto.String(name), OpType: proto.String(op), Domain: proto.String("ai.qtool"),
		Input: in, Output: []string{y}, Attribute: attrs})
}

func attrF32(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), F: proto.Float32(v), Type: pb.AttributeProto_FLOAT.Enum()}
}

// binModel is b's model importing opset 21 and ai.qtool version 1.
func binModel(t testing.TB, b *graphBuilder) *onnxio.Model {
	t.Helper()
	m := b.model(t, 21)
	m.Proto.OpsetImport = append(m.Proto.OpsetImport, &pb.OperatorSetIdProto{Domain: proto.String("ai.qtool"), Version: proto.Int64(1)})
	return m
}

func outType(out string) onnxio.DataType {
	switch out {
	case "int8":
		return onnxio.Int8
	case "bits":
		return onnxio.Uint64
	}
	return onnxio.Float
}

// randBinInput is float input with values near the thresholds, NaNs and
// zeros.
func randBinInput(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
		switch r.IntN(50) {
		case 0:
			x[i] = float32(math.NaN())
		case 1:
			x[i] = 0
		}
	}
	return x
}

// checkOutput compares a layer's output tensor with the reference y.
func checkOutput(t *testing.T, what string, bc binCase, got *Tensor, y []float32) {
	t.Helper()
	oh, ow := bc.outSize()
	if bc.gemm {
		oh, ow = 1, 1
	}
	switch bc.out {
	case "float":
		for i, v := range y {
			if math.Float32bits(got.F32[i]) != math.Float32bits(v) {
				t.Fatalf("%s: float output %d = %v, want %v", what, i, got.F32[i], v)
			}
		}
	case "int8":
		for i, v := range refInt8(y) {
			if got.I8[i] != v {
				t.Fatalf("%s: int8 output %d = %d, want %d (y %v)", what, i, got.I8[i], v, y[i])
			}
		}
	case "bits":
		for i, v := range refBits(y, bc.n, bc.m, oh*ow) {
			if got.U64[i] != v {
				t.Fatalf("%s: bits word %d = %x, want %x", what, i, got.U64[i], v)
			}
		}
	}
}

func binaryCases() []binCase {
	base := binCase{n: 1, c: 64, h: 7, w: 6, m: 64, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "float"}
	var cs []binCase
	add := func(f func(*binCase)) {
		bc := base
		f(&bc)
		cs = append(cs, bc)
	}
	for _, c := range []int{1, 63, 64, 65, 130} {
		for _, pv := range []int{0, 1} {
			add(func(b *binCase) { b.c, b.padValue, b.m = c, pv, 33 })
		}
	}
	for _, out := range []string{"float", "int8", "bits"} {
		for _, clip := range []bool{false, true} {
			add(func(b *binCase) { b.out, b.clip, b.thr, b.m = out, clip, true, 70 })
		}
	}
	add(func(b *binCase) { b.kh, b.kw, b.pads = 1, 1, [4]int{} })
	add(func(b *binCase) { b.kh, b.kw, b.pads, b.c, b.m = 5, 5, [4]int{2, 1, 2, 0}, 65, 130 })
	add(func(b *binCase) { b.sh, b.sw, b.h, b.w, b.pads = 2, 2, 9, 8, [4]int{1, 0, 1, 1} })
	add(func(b *binCase) { b.dh, b.dw, b.h, b.w, b.pads = 2, 2, 9, 9, [4]int{2, 2, 2, 2} })
	add(func(b *binCase) { b.sh, b.dw, b.padValue, b.out = 2, 3, 1, "bits" })
	add(func(b *binCase) { b.group, b.c, b.m, b.out = 2, 130, 66, "int8" })
	add(func(b *binCase) { b.group, b.c, b.m, b.thr = 4, 64, 64, true })
	add(func(b *binCase) { b.group, b.c, b.m, b.out = 64, 64, 64, "bits" })
	add(func(b *binCase) { b.group, b.c, b.m, b.padValue = 2, 128, 128, 1 })
	add(func(b *binCase) { b.n, b.thr, b.clip = 3, true, true })
	add(func(b *binCase) { b.n, b.c, b.out = 5, 65, "bits" })
	add(func(b *binCase) { b.n, b.c, b.m, b.out = 4, 63, 1, "int8" })
	return cs
}

func TestBinaryConvAgainstFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, bc := range binaryCases() {
		l := newBinLayer(r, bc)
		b := newGraph()
		b.input("x", onnxio.Float)
		b.output("y", outType(bc.out))
		l.addNode(t, b, "bconv", "x", "y")
		s, err := Compile(binModel(t, b), Options{Threads: 2})
		if err != nil {
			t.Fatalf("%v: %v", bc, err)
		}
		x := randBinInput(r, bc.n*bc.c*bc.h*bc.w)
		want := l.reference(x)
		forEachBinaryPathE(t, func(path string) {
			res, err := s.Run(map[string]*Tensor{"x": NewFloat32([]int{bc.n, bc.c, bc.h, bc.w}, x)})
			if err != nil {
				t.Fatalf("%s %v: %v", path, bc, err)
			}
			oh, ow := bc.outSize()
			shape := []int{bc.n, bc.m, oh, ow}
			if bc.out == "bits" {
				shape = []int{bc.n, oh, ow, (bc.m + 63) / 64}
			}
			if y := res["y"]; y.Type != outType(bc.out) || !sameShape(y.Shape, shape) {
				t.Fatalf("%s %v: output %v, want shape %v", path, bc, y, shape)
			}
			checkOutput(t, path+" "+bc.String(), bc, res["y"], want)
		})
	}
}

// TestBinaryConvChained runs two layers, the first's "bits" output the
// second's packed input, against the reference binarizing the first's
// float output at 0.
func TestBinaryConvChained(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, c := range []int{3, 64, 130} {
		l1 := newBinLayer(r, binCase{n: 2, c: c, h: 8, w: 7, m: 65, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "bits", thr: true})
		oh, ow := l1.bc.outSize()
		l2 := newBinLayer(r, binCase{n: 2, c: 65, h: oh, w: ow, m: 40, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "float", clip: true})
		b := newGraph()
		b.input("x", onnxio.Float)
		b.output("y", onnxio.Float)
		l1.addNode(t, b, "l1", "x", "h")
		l2.addNode(t, b, "l2", "h", "y")
		s, err := Compile(binModel(t, b), Options{})
		if err != nil {
			t.Fatal(err)
		}
		x := randBinInput(r, 2*c*8*7)
		l1f := *l1
		l1f.bc.out = "float"
		want := l2.reference(l1f.reference(x))
		forEachBinaryPathE(t, func(path string) {
			res, err := s.Run(map[string]*Tensor{"x": NewFloat32([]int{2, c, 8, 7}, x)})
			if err != nil {
				t.Fatal(err)
			}
			checkOutput(t, fmt.Sprintf("%s c=%d", path, c), l2.bc, res["y"], want)
		})
	}
}

func TestBinaryGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, k := range []int{1, 63, 64, 65, 130} {
		for _, out := range []string{"float", "int8", "bits"} {
			bc := binCase{gemm: true, n: 70, c: k, m: 67, out: out, thr: k%2 == 1, clip: out == "float", h: 1, w: 1, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1}
			l := newBinLayer(r, bc)
			x := randBinInput(r, bc.n*k)
			want := l.reference(x)
			// Float A, and A's signs packed (rows of [M, K] are NCHW
			// images of one pixel) as a graph input.
			packed := refBits(x, bc.n, k, 1)
			for _, pk := range []bool{false, true} {
				if pk && l.thr != nil {
					continue // threshold applies to float input only
				}
				b := newGraph()
				in := onnxio.Float
				if pk {
					in = onnxio.Uint64
				}
				b.input("a", in)
				b.output("y", outType(out))
				l.addNode(t, b, "bgemm", "a", "y")
				s, err := Compile(binModel(t, b), Options{Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				a := NewFloat32([]int{bc.n, k}, x)
				if pk {
					a = &Tensor{Type: onnxio.Uint64, Shape: []int{bc.n, (k + 63) / 64}, U64: packed}
				}
				forEachBinaryPathE(t, func(path string) {
					res, err := s.Run(map[string]*Tensor{"a": a})
					if err != nil {
						t.Fatal(err)
					}
					shape := []int{bc.n, bc.m}
					if out == "bits" {
						shape = []int{bc.n, (bc.m + 63) / 64}
					}
					if !sameShape(res["y"].Shape, shape) {
						t.Fatalf("shape %v, want %v", res["y"].Shape, shape)
					}
					checkOutput(t, fmt.Sprintf("%s %v packed=%v", path, bc, pk), bc, res["y"], want)
				})
			}
		}
	}
}

// addFloatEquivalent adds l as the standard ONNX graph a converter
// rewrites into a BinaryConv: Sign(x - threshold) (Sign(x) without
// thresholds), a float Conv with ±1 weights and zero padding, then Mul by
// the multiplier and Add of the bias.
func (l *binLayer) addFloatEquivalent(t testing.TB, b *graphBuilder, x, y string) {
	bc := l.bc
	in := x
	if l.thr != nil {
		b.init(t, "f_thr", NewFloat32([]int{1, bc.c, 1, 1}, l.thr))
		b.node("Sub", []string{x, "f_thr"}, []string{"f_centred"})
		in = "f_centred"
	}
	b.node("Sign", []string{in}, []string{"f_sign"})
	b.init(t, "f_W", NewFloat32([]int{bc.m, bc.c / bc.group, bc.kh, bc.kw}, l.w))
	b.node("Conv", []string{"f_sign", "f_W"}, []string{"f_d"}, attrIs("kernel_shape", int64(bc.kh), int64(bc.kw)),
		attrIs("strides", int64(bc.sh), int64(bc.sw)), attrIs("dilations", int64(bc.dh), int64(bc.dw)),
		attrIs("pads", int64(bc.pads[0]), int64(bc.pads[1]), int64(bc.pads[2]), int64(bc.pads[3])), attrI("group", int64(bc.group)))
	b.init(t, "f_mult", NewFloat32([]int{1, bc.m, 1, 1}, l.mult))
	b.init(t, "f_bias", NewFloat32([]int{1, bc.m, 1, 1}, l.bias))
	b.node("Mul", []string{"f_d", "f_mult"}, []string{"f_scaled"})
	b.node("Add", []string{"f_scaled", "f_bias"}, []string{y})
}

// TestBinaryInt8ThenDequantize runs the int8 output through a standard
// DequantizeLinear, as converted models do.
func TestBinaryInt8ThenDequantize(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	bc := binCase{n: 2, c: 65, h: 6, w: 5, m: 20, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "int8", thr: true}
	l := newBinLayer(r, bc)
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	l.addNode(t, b, "bconv", "x", "q")
	b.init(t, "scale", NewFloat32(nil, []float32{0.5}))
	zp, err := onnxio.NewTensor("zp", onnxio.Int8, nil, []int8{3})
	if err != nil {
		t.Fatal(err)
	}
	b.g.Initializer = append(b.g.Initializer, zp)
	b.node("DequantizeLinear", []string{"q", "scale", "zp"}, []string{"y"})
	x := randBinInput(r, bc.n*bc.c*bc.h*bc.w)
	got := run1(t, binModel(t, b), Options{}, map[string]*Tensor{"x": NewFloat32([]int{bc.n, bc.c, bc.h, bc.w}, x)})["y"]
	for i, q := range refInt8(l.reference(x)) {
		if want := float32(int(q)-3) * 0.5; got.F32[i] != want {
			t.Fatalf("output %d = %v, want %v", i, got.F32[i], want)
		}
	}
}

// TestBinaryConcurrentRuns runs one session from several goroutines at
// once, on inputs of two sizes (each goroutine takes its own planned
// convolution).
func TestBinaryConcurrentRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	bc := binCase{n: 3, c: 64, h: 6, w: 6, m: 64, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "float"}
	l := newBinLayer(r, bc)
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	l.addNode(t, b, "bconv", "x", "y")
	s, err := Compile(binModel(t, b), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		x    *Tensor
		want []float32
	}
	var jobs []job
	for _, hw := range []int{6, 9} {
		lb := *l
		lb.bc.h, lb.bc.w = hw, hw
		x := randBinInput(r, bc.n*bc.c*hw*hw)
		jobs = append(jobs, job{NewFloat32([]int{bc.n, bc.c, hw, hw}, x), lb.reference(x)})
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 10; i++ {
				j := jobs[(g+i)%len(jobs)]
				res, err := s.Run(map[string]*Tensor{"x": j.x})
				if err == nil {
					for k, v := range j.want {
						if res["y"].F32[k] != v {
							err = fmt.Errorf("goroutine %d run %d: output %d = %v, want %v", g, i, k, res["y"].F32[k], v)
							break
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestBinaryConvMatchesSignConv checks the equivalence the converter
// relies on: the engine's own float Sign/Conv/Mul/Add graph (unfused, so
// the same two roundings after the exact ±1 sums) gives BinaryConv's
// float output, on inputs never exactly at a threshold.
func TestBinaryConvMatchesSignConv(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, bc := range []binCase{
		{n: 2, c: 65, h: 9, w: 7, m: 33, kh: 3, kw: 3, sh: 1, sw: 2, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "float", thr: true},
		{n: 1, c: 130, h: 6, w: 6, m: 64, kh: 5, kw: 5, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{2, 2, 2, 2}, group: 2, out: "float", thr: true},
		{n: 3, c: 1, h: 5, w: 8, m: 8, kh: 3, kw: 1, sh: 2, sw: 1, dh: 2, dw: 1, pads: [4]int{2, 0, 1, 0}, group: 1, out: "float", thr: true},
	} {
		l := newBinLayer(r, bc)
		x := make([]float32, bc.n*bc.c*bc.h*bc.w)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		run := func(add func(b *graphBuilder)) *Tensor {
			b := newGraph()
			b.input("x", onnxio.Float)
			b.output("y", onnxio.Float)
			add(b)
			return run1(t, binModel(t, b), Options{NoFusion: true}, map[string]*Tensor{"x": NewFloat32([]int{bc.n, bc.c, bc.h, bc.w}, x)})["y"]
		}
		got := run(func(b *graphBuilder) { l.addNode(t, b, "bconv", "x", "y") })
		want := run(func(b *graphBuilder) { l.addFloatEquivalent(t, b, "x", "y") })
		if !sameShape(got.Shape, want.Shape) {
			t.Fatalf("%v: shape %v, float graph %v", bc, got.Shape, want.Shape)
		}
		for i := range want.F32 {
			if got.F32[i] != want.F32[i] { // == : the float graph may give -0
				t.Fatalf("%v: output %d = %v, float graph %v", bc, i, got.F32[i], want.F32[i])
			}
		}
	}
}

// TestBinaryBadModels checks that malformed binary nodes and unknown
// operators of other domains are errors naming the node, not panics or
// silent runs of a default-domain op.
func TestBinaryBadModels(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	bc := binCase{n: 1, c: 70, h: 5, w: 5, m: 8, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "float", thr: true}
	l := newBinLayer(r, bc)
	node := func(b *graphBuilder) *pb.NodeProto { return b.g.Node[len(b.g.Node)-1] }
	setAttr := func(n *pb.NodeProto, a *pb.AttributeProto) {
		for i, o := range n.Attribute {
			if o.GetName() == a.GetName() {
				n.Attribute[i] = a
				return
			}
		}
		n.Attribute = append(n.Attribute, a)
	}
	dropAttr := func(n *pb.NodeProto, name string) {
		for i, o := range n.Attribute {
			if o.GetName() == name {
				n.Attribute = append(n.Attribute[:i], n.Attribute[i+1:]...)
				return
			}
		}
	}
	replaceInit := func(b *graphBuilder, name string, tp *pb.TensorProto) {
		for i, o := range b.g.Initializer {
			if o.GetName() == name {
				b.g.Initializer[i] = tp
			}
		}
	}
	u64 := func(name string, dims []int64, n int, v uint64) *pb.TensorProto {
		d := make([]uint64, n)
		for i := range d {
			d[i] = v
		}
		tp, err := onnxio.NewTensor(name, onnxio.Uint64, dims, d)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	f32 := func(name string, n int) *pb.TensorProto {
		tp, err := onnxio.NewTensor(name, onnxio.Float, []int64{int64(n)}, make([]float32, n))
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	cases := []struct {
		name  string
		edit  func(b *graphBuilder, m *onnxio.Model)
		xc    int // input channels given to Run (0: bc.c)
		wants []string
	}{
		{"W word count", func(b *graphBuilder, _ *onnxio.Model) {
			replaceInit(b, "bconv_W", u64("bconv_W", []int64{8, 3, 3, 1}, 72, 0))
		}, 0, []string{"W has shape", "2 words"}},
		{"W unused bits", func(b *graphBuilder, _ *onnxio.Model) {
			replaceInit(b, "bconv_W", u64("bconv_W", []int64{8, 3, 3, 2}, 144, 1<<63))
		}, 0, []string{"W:", "past channel 70"}},
		{"W float", func(b *graphBuilder, _ *onnxio.Model) { replaceInit(b, "bconv_W", f32("bconv_W", 8)) }, 0, []string{"W", "uint64"}},
		{"multiplier length", func(b *graphBuilder, _ *onnxio.Model) { replaceInit(b, "bconv_mult", f32("bconv_mult", 7)) }, 0, []string{"multiplier has shape [7]", "want [8]"}},
		{"bias length", func(b *graphBuilder, _ *onnxio.Model) { replaceInit(b, "bconv_bias", f32("bconv_bias", 9)) }, 0, []string{"bias has shape [9]"}},
		{"threshold length", func(b *graphBuilder, _ *onnxio.Model) { replaceInit(b, "bconv_thr", f32("bconv_thr", 3)) }, 0, []string{"threshold has shape [3]", "want [70]"}},
		{"missing in_channels", func(b *graphBuilder, _ *onnxio.Model) { dropAttr(node(b), "in_channels") }, 0, []string{"in_channels is required"}},
		{"auto_pad", func(b *graphBuilder, _ *onnxio.Model) { setAttr(node(b), attrS("auto_pad", "SAME_UPPER")) }, 0, []string{"auto_pad \"SAME_UPPER\""}},
		{"output", func(b *graphBuilder, _ *onnxio.Model) { setAttr(node(b), attrS("output", "half")) }, 0, []string{"output \"half\""}},
		{"pad_value", func(b *graphBuilder, _ *onnxio.Model) { setAttr(node(b), attrI("pad_value", 2)) }, 0, []string{"pad_value 2"}},
		{"kernel_shape", func(b *graphBuilder, _ *onnxio.Model) { setAttr(node(b), attrIs("kernel_shape", 5, 5)) }, 0, []string{"kernel_shape [5 5] differs"}},
		{"pads", func(b *graphBuilder, _ *onnxio.Model) { setAttr(node(b), attrIs("pads", 1, 1)) }, 0, []string{"pads has 2 values"}},
		{"group", func(b *graphBuilder, _ *onnxio.Model) { setAttr(node(b), attrI("group", 3)) }, 0, []string{"group 3"}},
		{"NaN multiplier", func(b *graphBuilder, _ *onnxio.Model) {
			tp, _ := onnxio.NewTensor("bconv_mult", onnxio.Float, []int64{8}, []float32{1, 1, float32(math.NaN()), 1, 1, 1, 1, 1})
			replaceInit(b, "bconv_mult", tp)
		}, 0, []string{"multiplier NaN"}},
		{"clip", func(b *graphBuilder, _ *onnxio.Model) {
			setAttr(node(b), attrF32("clip_min", 3))
			setAttr(node(b), attrF32("clip_max", 1))
		}, 0, []string{"clamp [3, 1]"}},
		{"X channels", nil, 64, []string{"64 channels, in_channels is 70"}},
		{"unknown ai.qtool op", func(b *graphBuilder, _ *onnxio.Model) { node(b).OpType = proto.String("BinaryPool") }, 0,
			[]string{"\"bconv\" (BinaryPool)", "BinaryPool not supported in domain \"ai.qtool\"", "ai.qtool.BinaryPool"}},
		{"other domain", func(b *graphBuilder, _ *onnxio.Model) {
			n := node(b)
			n.OpType, n.Domain = proto.String("Conv"), proto.String("com.microsoft")
		}, 0, []string{"\"bconv\" (Conv)", "Conv not supported in domain \"com.microsoft\"", "com.microsoft.Conv"}},
		{"no ai.qtool import", func(_ *graphBuilder, m *onnxio.Model) { m.Proto.OpsetImport = m.Proto.OpsetImport[:1] }, 0,
			[]string{"\"bconv\" (BinaryConv)", "does not import opset ai.qtool"}},
		{"ai.qtool version 2", func(_ *graphBuilder, m *onnxio.Model) { m.Proto.OpsetImport[1].Version = proto.Int64(2) }, 0,
			[]string{"\"bconv\" (BinaryConv)", "version 2; the engine implements version 1"}},
	}
	for _, tc := range cases {
		b := newGraph()
		b.input("x", onnxio.Float)
		b.output("y", onnxio.Float)
		l.addNode(t, b, "bconv", "x", "y")
		m := binModel(t, b)
		if tc.edit != nil {
			tc.edit(b, m)
		}
		s, err := Compile(m, Options{})
		if err == nil {
			c := bc.c
			if tc.xc != 0 {
				c = tc.xc
			}
			_, err = s.Run(map[string]*Tensor{"x": NewFloat32([]int{1, c, 5, 5}, nil)})
		}
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		for _, w := range append(tc.wants, "bconv") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
	}
}

// TestBinaryPackedInputChecks checks packed inputs: unused bits set, a
// threshold with packed input, and a wrong word count are errors.
func TestBinaryPackedInputChecks(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct {
		thr   bool
		words int
		bit   uint64
		want  string
	}{
		{false, 2, 1 << 40, "bits set past channel 70"},
		{true, 2, 0, "threshold applies to float input only"},
		{false, 1, 0, "want [N, H, W, 2] for in_channels 70"},
	} {
		l := newBinLayer(r, binCase{n: 1, c: 70, h: 4, w: 4, m: 8, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "float", thr: tc.thr})
		b := newGraph()
		b.input("x", onnxio.Uint64)
		b.output("y", onnxio.Float)
		l.addNode(t, b, "bconv", "x", "y")
		s, err := Compile(binModel(t, b), Options{})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]uint64, 16*tc.words)
		x[len(x)-1] = tc.bit
		_, err = s.Run(map[string]*Tensor{"x": {Type: onnxio.Uint64, Shape: []int{1, 4, 4, tc.words}, U64: x}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bconv") {
			t.Errorf("error %v, want one naming bconv and saying %q", err, tc.want)
		}
	}
}

// BenchmarkBinaryConv compares a 64->64 3×3 BinaryConv at 14×14 (float
// input and output, as a drop-in for the float layers) with the float
// Sign/Conv/Mul/Add graph it replaces (fused as the engine runs it).
func BenchmarkBinaryConv(b *testing.B) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{1, 64} {
		bc := binCase{n: n, c: 64, h: 14, w: 14, m: 64, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [4]int{1, 1, 1, 1}, group: 1, out: "float"}
		l := newBinLayer(r, bc)
		x := NewFloat32([]int{n, 64, 14, 14}, randBinInput(r, n*64*14*14))
		// bits: packed input and output, as between two binary layers.
		bits := &Tensor{Type: onnxio.Uint64, Shape: []int{n, 14, 14, 1}, U64: kernels.PackSignsNCHW(nil, x.F32, n, 64, 14*14, nil)}
		lb := *l
		lb.bc.out = "bits"
		for _, kind := range []string{"binary", "float", "bits"} {
			b.Run(fmt.Sprintf("batch%d/%s", n, kind), func(b *testing.B) {
				g := newGraph()
				in := map[string]*Tensor{"x": x}
				switch kind {
				case "binary":
					g.input("x", onnxio.Float)
					g.output("y", onnxio.Float)
					l.addNode(b, g, "bconv", "x", "y")
				case "float":
					g.input("x", onnxio.Float)
					g.output("y", onnxio.Float)
					l.addFloatEquivalent(b, g, "x", "y")
				case "bits":
					g.input("x", onnxio.Uint64)
					g.output("y", onnxio.Uint64)
					lb.addNode(b, g, "bconv", "x", "y")
					in["x"] = bits
				}
				s, err := Compile(binModel(b, g), Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Run(in); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := s.Run(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

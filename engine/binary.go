package engine

import (
	"fmt"
	"math"
	"sync"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// qtool's binary operators (domain ai.qtool, version 1; the contract is
// in the README, "Binary operators"): BinaryConv and BinaryGemm, XNOR and
// popcount products of ±1 activations and weights with a fused
// per-channel output stage, on kernels.BinaryConv. A BinaryGemm is a 1×1
// BinaryConv over its M rows.

// binaryDomain is the operator set of qtool's binary operators.
const binaryDomain = "ai.qtool"

func init() {
	registerDomain(binaryDomain, 1, buildBinaryConv, "BinaryConv")
	registerDomain(binaryDomain, 1, buildBinaryGemm, "BinaryGemm")
}

// Output kinds of a binary operator (its output attribute).
const (
	binOutFloat = iota
	binOutInt8
	binOutBits
)

// binOpK is a BinaryConv or BinaryGemm node: its constant operands, and
// the kernels' planned convolutions per input size.
type binOpK struct {
	gemm   bool
	inC    int // in_channels (in_features)
	m      int // output channels
	group  int
	params kernels.BinaryConvParams // geometry; InH and InW set per input size
	w      []float32                // the weights as ±1, OIHW, for kernels.NewBinaryConv
	thr    []float32                // per input channel, nil for all 0
	stage  kernels.BinaryOutput
	out    int

	mu    sync.Mutex
	sizes map[[2]int]*sync.Pool // per input H×W: *binaryWorker
}

// binaryWorker is one goroutine's planned convolution and buffers.
type binaryWorker struct {
	conv *kernels.BinaryConv
	bits []uint64  // packed input images
	f32  []float32 // NHWC float output, before the transpose
	i8   []int8
}

func buildBinaryConv(c *nodeCtx) (kernel, error) { return buildBinOp(c, false) }

func buildBinaryGemm(c *nodeCtx) (kernel, error) { return buildBinOp(c, true) }

func buildBinOp(c *nodeCtx, gemm bool) (kernel, error) {
	k := &binOpK{gemm: gemm, group: 1, sizes: map[[2]int]*sync.Pool{}}
	inName := "in_channels"
	if gemm {
		inName = "in_features"
	}
	if c.attr(inName) == nil {
		return nil, fmt.Errorf("attribute %s is required", inName)
	}
	k.inC = int(c.attrInt(inName, 0))
	if k.inC <= 0 {
		return nil, fmt.Errorf("%s %d (must be positive)", inName, k.inC)
	}
	switch o := c.attrString("output", "float"); o {
	case "float":
		k.out = binOutFloat
	case "int8":
		k.out = binOutInt8
	case "bits":
		k.out = binOutBits
	default:
		return nil, fmt.Errorf("output %q (want \"float\", \"int8\" or \"bits\")", o)
	}
	if n := len(c.n.GetInput()); n < 4 || n > 5 {
		return nil, fmt.Errorf("%d inputs (want X, W, multiplier, bias and an optional threshold)", n)
	}
	konst := func(i int, name string, dt onnxio.DataType) (*Tensor, error) {
		t := c.constInput(i)
		if t == nil {
			return nil, unsupported("%s %q is not a constant (initializer)", name, c.n.GetInput()[i])
		}
		if t.Type != dt {
			return nil, fmt.Errorf("%s %q is %s, want %s", name, c.n.GetInput()[i], onnxio.DataTypeName(t.Type), onnxio.DataTypeName(dt))
		}
		return t, nil
	}
	if !c.hasInput(1) || !c.hasInput(2) || !c.hasInput(3) {
		return nil, fmt.Errorf("inputs W, multiplier and bias are required")
	}
	w, err := konst(1, "W", onnxio.Uint64)
	if err != nil {
		return nil, err
	}
	p := &k.params
	p.InC = k.inC
	if gemm {
		if len(w.Shape) != 2 {
			return nil, fmt.Errorf("W has shape %v, want [N, %d]", w.Shape, kernels.BitWords(k.inC))
		}
		p.KH, p.KW = 1, 1
	} else if err := k.readGeometry(c, w.Shape); err != nil {
		return nil, err
	}
	k.m = w.Shape[0]
	p.OutC, p.Groups = k.m, k.group
	if k.m <= 0 || k.m%k.group != 0 {
		return nil, fmt.Errorf("W has %d output channels, not a positive multiple of group %d", k.m, k.group)
	}
	cg := k.inC / k.group
	if want := kernels.BitWords(cg); w.Shape[len(w.Shape)-1] != want {
		return nil, fmt.Errorf("W has shape %v: its last axis must be %d words (ceil(%d channels per group / 64))", w.Shape, want, cg)
	}
	if k.w, err = unpackBinaryWeights(w.U64, k.m, p.KH*p.KW, cg); err != nil {
		return nil, fmt.Errorf("W: %w", err)
	}
	mult, err := konst(2, "multiplier", onnxio.Float)
	if err != nil {
		return nil, err
	}
	bias, err := konst(3, "bias", onnxio.Float)
	if err != nil {
		return nil, err
	}
	for _, v := range []struct {
		name string
		t    *Tensor
	}{{"multiplier", mult}, {"bias", bias}} {
		if len(v.t.Shape) != 1 || v.t.Shape[0] != k.m {
			return nil, fmt.Errorf("%s has shape %v, want [%d] (one per output channel)", v.name, v.t.Shape, k.m)
		}
	}
	if c.hasInput(4) {
		thr, err := konst(4, "threshold", onnxio.Float)
		if err != nil {
			return nil, err
		}
		if len(thr.Shape) != 1 || thr.Shape[0] != k.inC {
			return nil, fmt.Errorf("threshold has shape %v, want [%d] (one per input channel)", thr.Shape, k.inC)
		}
		k.thr = thr.F32
	}
	k.stage = kernels.BinaryOutput{Multiplier: mult.F32, Bias: bias.F32, Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}
	if c.attr("clip_min") != nil {
		k.stage.Clamp, k.stage.Lo = true, c.attrFloat("clip_min", 0)
	}
	if c.attr("clip_max") != nil {
		k.stage.Clamp, k.stage.Hi = true, c.attrFloat("clip_max", 0)
	}
	// Plan a 1×1 image once to check the output stage now.
	probe := *p
	probe.InH, probe.InW, probe.PadTop, probe.PadLeft, probe.PadBottom, probe.PadRight = 1, 1, 0, 0, 0, 0
	probe.KH, probe.KW, probe.StrideH, probe.StrideW, probe.DilationH, probe.DilationW = 1, 1, 1, 1, 1, 1
	conv, err := kernels.NewBinaryConv(probe, make([]float32, k.m*cg))
	if err == nil {
		err = conv.SetOutput(k.stage)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// readGeometry reads BinaryConv's window attributes, checking them
// against W's shape [M, kH, kW, words].
func (k *binOpK) readGeometry(c *nodeCtx, wShape []int) error {
	if ap := c.attrString("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "" {
		return fmt.Errorf("auto_pad %q is not supported (give explicit pads)", ap)
	}
	if len(wShape) != 4 {
		return fmt.Errorf("W has shape %v, want [M, kH, kW, words]", wShape)
	}
	p := &k.params
	p.KH, p.KW = wShape[1], wShape[2]
	pair := func(name string, def int, dst ...*int) error {
		v, ok := c.attrInts(name)
		if !ok {
			for _, d := range dst {
				*d = def
			}
			return nil
		}
		if len(v) != len(dst) {
			return fmt.Errorf("%s has %d values, want %d", name, len(v), len(dst))
		}
		for i, d := range dst {
			if v[i] < 0 || v[i] > 1<<20 {
				return fmt.Errorf("%s %v out of range", name, v)
			}
			*d = int(v[i])
		}
		return nil
	}
	var kh, kw int
	for _, e := range []error{
		pair("kernel_shape", 0, &kh, &kw),
		pair("strides", 1, &p.StrideH, &p.StrideW),
		pair("dilations", 1, &p.DilationH, &p.DilationW),
		pair("pads", 0, &p.PadTop, &p.PadLeft, &p.PadBottom, &p.PadRight),
	} {
		if e != nil {
			return e
		}
	}
	if _, ok := c.attrInts("kernel_shape"); ok && (kh != p.KH || kw != p.KW) {
		return fmt.Errorf("kernel_shape [%d %d] differs from W's %dx%d", kh, kw, p.KH, p.KW)
	}
	if p.StrideH < 1 || p.StrideW < 1 || p.DilationH < 1 || p.DilationW < 1 || p.KH < 1 || p.KW < 1 {
		return fmt.Errorf("strides, dilations and kernel sizes must be positive")
	}
	k.group = int(c.attrInt("group", 1))
	if k.group < 1 || k.inC%k.group != 0 {
		return fmt.Errorf("group %d does not divide in_channels %d", k.group, k.inC)
	}
	switch pv := c.attrInt("pad_value", 0); pv {
	case 0:
		p.ZeroPad = true
	case 1:
	default:
		return fmt.Errorf("pad_value %d (want 0 or 1)", pv)
	}
	return nil
}

// unpackBinaryWeights turns packed weight signs (m × taps × BitWords(cg)
// words, bit 1 = -1) into ±1 floats in OIHW order.
func unpackBinaryWeights(w []uint64, m, taps, cg int) ([]float32, error) {
	wg := kernels.BitWords(cg)
	if len(w) != m*taps*wg {
		return nil, fmt.Errorf("%d words, want %d", len(w), m*taps*wg)
	}
	if err := checkUnusedBits(w, cg); err != nil {
		return nil, err
	}
	out := make([]float32, m*cg*taps)
	for o := 0; o < m; o++ {
		for t := 0; t < taps; t++ {
			ws := w[(o*taps+t)*wg:]
			for ci := 0; ci < cg; ci++ {
				out[(o*cg+ci)*taps+t] = 1 - 2*float32(ws[ci>>6]>>(ci&63)&1)
			}
		}
	}
	return out, nil
}

// checkUnusedBits checks that the bits past c channels in each
// BitWords(c)-word group of w are 0, as the packed format requires (the
// kernels count them otherwise).
func checkUnusedBits(w []uint64, c int) error {
	if c%64 == 0 {
		return nil
	}
	wc := kernels.BitWords(c)
	mask := ^uint64(0) << (c % 64)
	for i := wc - 1; i < len(w); i += wc {
		if w[i]&mask != 0 {
			return fmt.Errorf("word %d has bits set past channel %d (unused bits must be 0)", i, c)
		}
	}
	return nil
}

// dims returns batch, height and width of input x, checking its type and
// channels.
func (k *binOpK) dims(x *Tensor) (n, h, w int, err error) {
	wc := kernels.BitWords(k.inC)
	switch {
	case k.gemm && x.Type == onnxio.Float && len(x.Shape) == 2:
		if x.Shape[1] != k.inC {
			return 0, 0, 0, fmt.Errorf("A has shape %v: %d features, in_features is %d", x.Shape, x.Shape[1], k.inC)
		}
		return x.Shape[0], 1, 1, nil
	case k.gemm && x.Type == onnxio.Uint64 && len(x.Shape) == 2:
		if x.Shape[1] != wc {
			return 0, 0, 0, fmt.Errorf("packed A has shape %v, want [M, %d] for in_features %d", x.Shape, wc, k.inC)
		}
		return x.Shape[0], 1, 1, nil
	case !k.gemm && x.Type == onnxio.Float && len(x.Shape) == 4:
		if x.Shape[1] != k.inC {
			return 0, 0, 0, fmt.Errorf("X has shape %v: %d channels, in_channels is %d", x.Shape, x.Shape[1], k.inC)
		}
		return x.Shape[0], x.Shape[2], x.Shape[3], nil
	case !k.gemm && x.Type == onnxio.Uint64 && len(x.Shape) == 4:
		if x.Shape[3] != wc {
			return 0, 0, 0, fmt.Errorf("packed X has shape %v, want [N, H, W, %d] for in_channels %d", x.Shape, wc, k.inC)
		}
		return x.Shape[0], x.Shape[1], x.Shape[2], nil
	}
	if k.gemm {
		return 0, 0, 0, fmt.Errorf("A is %s, want float32[M, K] or packed uint64[M, ceil(K/64)]", x)
	}
	return 0, 0, 0, fmt.Errorf("X is %s, want float32[N, C, H, W] or packed uint64[N, H, W, ceil(C/64)]", x)
}

// workers returns the pool of planned convolutions for h×w inputs,
// planning the first one now.
func (k *binOpK) workers(h, w int) (*sync.Pool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pl := k.sizes[[2]int{h, w}]; pl != nil {
		return pl, nil
	}
	p := k.params
	p.InH, p.InW = h, w
	conv, err := kernels.NewBinaryConv(p, k.w)
	if err != nil {
		return nil, err
	}
	if err := conv.SetOutput(k.stage); err != nil {
		return nil, err
	}
	pl := &sync.Pool{New: func() any { return &binaryWorker{conv: conv.Clone()} }}
	if len(k.sizes) >= maxPlans {
		clear(k.sizes) // inputs of ever new sizes: keep the cache bounded
	}
	k.sizes[[2]int{h, w}] = pl
	return pl, nil
}

func (k *binOpK) infer(in []*Tensor) ([]spec, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("input 0 (X or A) is required")
	}
	x := in[0]
	n, h, w, err := k.dims(x)
	if err != nil {
		return nil, err
	}
	if x.Type == onnxio.Uint64 && k.thr != nil {
		return nil, fmt.Errorf("threshold applies to float input only, the input is packed bits")
	}
	pl, err := k.workers(h, w)
	if err != nil {
		return nil, err
	}
	wk := pl.Get().(*binaryWorker)
	oh, ow := wk.conv.OutputSize()
	pl.Put(wk)
	if k.gemm {
		if k.out == binOutBits {
			return []spec{{onnxio.Uint64, []int{n, kernels.BitWords(k.m)}}}, nil
		}
		return []spec{{k.outType(), []int{n, k.m}}}, nil
	}
	if k.out == binOutBits {
		return []spec{{onnxio.Uint64, []int{n, oh, ow, kernels.BitWords(k.m)}}}, nil
	}
	return []spec{{k.outType(), []int{n, k.m, oh, ow}}}, nil
}

func (k *binOpK) outType() onnxio.DataType {
	if k.out == binOutInt8 {
		return onnxio.Int8
	}
	return onnxio.Float
}

func (k *binOpK) run(rc *runCtx, in, out []*Tensor) error {
	x, y := in[0], out[0]
	n, h, w, err := k.dims(x)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	pl, err := k.workers(h, w)
	if err != nil {
		return err
	}
	if x.Type == onnxio.Uint64 {
		if err := checkUnusedBits(x.U64, k.inC); err != nil {
			return fmt.Errorf("packed input: %w", err)
		}
	}
	hw := h * w
	// Images (rows of a BinaryGemm) split across threads, each with its
	// own planned convolution.
	grain := 1
	if k.gemm {
		grain = 64
	}
	parallelFor(rc.threads, n, grain, func(lo, hi int) {
		wk := pl.Get().(*binaryWorker)
		defer pl.Put(wk)
		oh, ow := wk.conv.OutputSize()
		op := oh * ow
		// Chunks of images whose intermediate buffers stay in cache.
		step := max(1, binaryChunkElems/max(k.m*op, k.inC*hw))
		for c0 := lo; c0 < hi; c0 += step {
			k.runChunk(wk, x, y, c0, min(c0+step, hi), hw, op)
		}
	})
	return nil
}

// binaryChunkElems bounds the input or output elements of the images one
// worker packs, convolves and transposes at a time (256 KiB of float32).
const binaryChunkElems = 64 << 10

// runChunk computes images (or rows) [lo, hi) of x into y.
func (k *binOpK) runChunk(wk *binaryWorker, x, y *Tensor, lo, hi, hw, op int) {
	b := hi - lo
	wc := kernels.BitWords(k.inC)
	var src []uint64
	if x.Type == onnxio.Uint64 {
		src = x.U64[lo*hw*wc : hi*hw*wc]
	} else {
		wk.bits = kernels.PackSignsNCHW(wk.bits, x.F32[lo*k.inC*hw:hi*k.inC*hw], b, k.inC, hw, k.thr)
		src = wk.bits
	}
	per := k.m * op
	switch k.out {
	case binOutBits:
		wo := kernels.BitWords(k.m)
		wk.conv.RunBits(y.U64[lo*op*wo:hi*op*wo], src, b)
	case binOutFloat:
		dst := y.F32[lo*per : hi*per]
		if op == 1 {
			wk.conv.RunF32(dst, src, b)
			return
		}
		wk.f32 = grow(wk.f32, b*per)
		wk.conv.RunF32(wk.f32, src, b)
		nhwcToNCHW(dst, wk.f32, b, op, k.m)
	case binOutInt8:
		dst := y.I8[lo*per : hi*per]
		if op == 1 {
			wk.conv.RunInt8(dst, src, b)
			return
		}
		wk.i8 = grow(wk.i8, b*per)
		wk.conv.RunInt8(wk.i8, src, b)
		nhwcToNCHW(dst, wk.i8, b, op, k.m)
	}
}

// nhwcToNCHW transposes batch images of pixels×channels into channels×
// pixels.
func nhwcToNCHW[T any](dst, src []T, batch, pixels, channels int) {
	per := pixels * channels
	for n := 0; n < batch; n++ {
		transposeInto(dst[n*per:(n+1)*per], pixels, src[n*per:(n+1)*per], pixels, channels)
	}
}

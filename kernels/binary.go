package kernels

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// Binary (1-bit) kernels: sign packing, XNOR/popcount GEMM and
// convolution with a fused output stage, binary max-pool.
//
// Bit order and layout. A value x is one bit: 1 for x < 0 (the value -1),
// 0 for x >= 0 (the value +1). Tensors are channels-last (NHWC); each
// pixel's C channels occupy BitWords(C) = ceil(C/64) uint64 words, channel
// c in bit c%64 (least significant first) of word c/64. Bits past C in the
// last word are always 0. A binary product of two bits is +1 when they
// agree and -1 when they differ, so a dot product over K real bits is
// K - 2*popcount(a XOR w): padding bits (0 in both operands) never count.
//
// Weights are packed once at plan time, per group, into panels of
// binaryNR (32) output channels: panel[p*32+j] is the p-th K word of output
// channel j (zero words for channels past the group's count), where the K
// words of a convolution are the kernel taps in (ky, kx) order, each tap
// the group's input channels in ceil(Cg/64) words. Every path (pure Go,
// scalar POPCNT, AVX2, AVX-512 VPOPCNTDQ, NEON) reads this one layout.
//
// Every path computes the same integer popcounts, so results are
// bit-identical: the float output stage is the same two roundings
// (multiply, then add) everywhere, with -0 kept out (see BinaryOutput).

// Binary is the binary kernel family: its paths, slowest first.
var Binary = newFamily("binary", "generic", "popcnt", "neon", "avx2", "avx512vpopcnt")

// Indices of Binary's paths (positions in newFamily's list).
const (
	bpGeneric = iota
	bpPopcnt
	bpNEON
	bpAVX2
	bpAVX512
	numBinaryPaths
)

// binaryNR is the panel width of packed binary weights (output channels).
const binaryNR = 32

// bkernel is a binary GEMM microkernel. fn computes, for i < rows (a
// multiple of mr) and j < nr,
//
//	c[i*ldc+j] = Σ_{p<k} popcount(A(i,p) XOR b[p*32+j])
//
// where A(i,p) is the word at byte address a[i/mr] + (i%mr)*lda + off[p],
// k >= 1: a holds one base per tile of mr rows. With an im2col buffer the
// bases are mr rows apart, off[p] is 8p and lda 8k; reading the input
// image directly (the indirect form), each base is a tile's first output
// position, lda steps one position and off[p] reaches each tap's words, so
// one call covers tiles from many output rows. It reads exactly those A
// words and the k×nr words of b it uses, and writes exactly the rows×nr
// tile of c.
type bkernel struct {
	name   string
	mr, nr int
	fn     bgemmFn
}

type bgemmFn func(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int)

// boutF32 is a vectorized float output stage for rows of n outputs: see
// outF32Go for what it computes. nil means the Go loop.
type boutF32 func(rows, n int, pop []int32, ldp int, kc []*int32, mult, bias []float32, lo, hi float32, dst []*float32)

// boutI8 is boutF32 to int8 (see BinaryOutput); nil means the Go loop.
type boutI8 func(rows, n int, pop []int32, ldp int, kc []*int32, mult, bias []float32, lo, hi float32, dst []*int8)

// boutBits writes each row's BitWords(n) words in full: bit j is
// thr[j] > (d XOR sgn[j]); nil means the Go loop.
type boutBits func(rows, n int, pop []int32, ldp int, kc []*int32, sgn, thr []int32, dst []*uint64)

type binaryImpl struct {
	gemm    bkernel
	outF32  boutF32
	outI8   boutI8
	outBits boutBits
	// pack packs words×64 floats into words words (see PackSigns), words
	// >= 1; nil means the Go loop.
	pack func(dst *uint64, x *float32, words int)
	// peak runs the path's register-only XOR+POPCNT+ADD loop for iters
	// iterations and returns the operations done (a bit multiply-accumulate
	// counts as two); nil for the generic path.
	peak func(iters int) float64
	// maxK bounds k per microkernel call (0: no bound).
	maxK int
}

var binaryImpls = [numBinaryPaths]binaryImpl{
	bpGeneric: {gemm: bkernel{"bgemm_4x8_generic", 4, 8, bgemmGeneric}},
}

// identityOffsets is 8p for p < n: the offsets of an im2col row.
func identityOffsets(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = 8 * i
	}
	return o
}

// binaryActive is the implementation of the active Binary path.
func binaryActive() *binaryImpl { return &binaryImpls[Binary.activeIndex()] }

// BitWords is the number of uint64 words that hold c channels.
func BitWords(c int) int { return (c + 63) >> 6 }

// PackSigns packs pixels×channels float32 values x (channels-last) into
// sign bits (1 for x < 0), pixels×BitWords(channels) words, and returns
// them; dst is reused when large enough. NaN packs as 0 (+1).
func PackSigns(dst []uint64, x []float32, pixels, channels int) []uint64 {
	wc := BitWords(channels)
	if len(x) < pixels*channels {
		panic(fmt.Sprintf("kernels: PackSigns: %d values for %d×%d", len(x), pixels, channels))
	}
	if cap(dst) < pixels*wc {
		dst = make([]uint64, pixels*wc)
	}
	dst = dst[:pixels*wc]
	pack := binaryActive().pack
	full := channels / 64
	switch {
	case pack != nil && channels%64 == 0 && pixels > 0:
		pack(&dst[0], &x[0], pixels*full)
	case pack != nil && full > 0:
		for p := 0; p < pixels; p++ {
			pack(&dst[p*wc], &x[p*channels], full)
			packSignsRow(dst[p*wc+full:(p+1)*wc], x[p*channels+full*64:(p+1)*channels])
		}
	default:
		for p := 0; p < pixels; p++ {
			packSignsRow(dst[p*wc:(p+1)*wc], x[p*channels:(p+1)*channels])
		}
	}
	return dst
}

// PackSignsNCHW packs batch images of channels planes of pixels float32
// values each (NCHW) into channels-last sign bits, batch×pixels×
// BitWords(channels) words, and returns them; dst is reused when large
// enough. The bit of channel c is 1 (the value -1) where x < thr[c]; nil
// thr means all 0 (then it is PackSigns of the transposed image). NaN
// packs as 0 (+1).
func PackSignsNCHW(dst []uint64, x []float32, batch, channels, pixels int, thr []float32) []uint64 {
	wc := BitWords(channels)
	if len(x) < batch*channels*pixels || thr != nil && len(thr) < channels {
		panic(fmt.Sprintf("kernels: PackSignsNCHW: %d values and %d thresholds for %d×%d×%d", len(x), len(thr), batch, channels, pixels))
	}
	if cap(dst) < batch*pixels*wc {
		dst = make([]uint64, batch*pixels*wc)
	}
	dst = dst[:batch*pixels*wc]
	for n := 0; n < batch; n++ {
		img := x[n*channels*pixels : (n+1)*channels*pixels]
		out := dst[n*pixels*wc : (n+1)*pixels*wc]
		for w := 0; w < wc; w++ {
			c0 := w * 64
			cn := min(64, channels-c0)
			// Eight pixels' words at a time, built in registers from
			// eight consecutive values of each channel's plane.
			p := 0
			for ; p+8 <= pixels; p += 8 {
				var a0, a1, a2, a3, a4, a5, a6, a7 uint64
				for c := 0; c < cn; c++ {
					var t float32
					if thr != nil {
						t = thr[c0+c]
					}
					r := img[(c0+c)*pixels+p:]
					r = r[:8]
					a0 |= boolBit(r[0] < t) << c
					a1 |= boolBit(r[1] < t) << c
					a2 |= boolBit(r[2] < t) << c
					a3 |= boolBit(r[3] < t) << c
					a4 |= boolBit(r[4] < t) << c
					a5 |= boolBit(r[5] < t) << c
					a6 |= boolBit(r[6] < t) << c
					a7 |= boolBit(r[7] < t) << c
				}
				o := out[p*wc+w:]
				_ = o[7*wc]
				o[0], o[wc], o[2*wc], o[3*wc] = a0, a1, a2, a3
				o[4*wc], o[5*wc], o[6*wc], o[7*wc] = a4, a5, a6, a7
			}
			for ; p < pixels; p++ {
				var a uint64
				for c := 0; c < cn; c++ {
					var t float32
					if thr != nil {
						t = thr[c0+c]
					}
					a |= boolBit(img[(c0+c)*pixels+p] < t) << c
				}
				out[p*wc+w] = a
			}
		}
	}
	return dst
}

// UnpackSigns writes ±1 for each packed bit (1 -> -1, 0 -> +1):
// pixels×channels values, channels-last.
func UnpackSigns(dst []float32, src []uint64, pixels, channels int) {
	wc := BitWords(channels)
	for p := 0; p < pixels; p++ {
		row := dst[p*channels : (p+1)*channels]
		ws := src[p*wc : (p+1)*wc]
		for c := range row {
			row[c] = 1 - 2*float32(ws[c>>6]>>(c&63)&1)
		}
	}
}

// BinaryConvParams describes a 2-D binary convolution (NHWC activations).
type BinaryConvParams struct {
	InH, InW  int // input height and width
	InC, OutC int // channels, both divisible by Groups
	KH, KW    int // kernel size
	StrideH   int // default 1
	StrideW   int // default 1
	DilationH int // default 1
	DilationW int // default 1
	PadTop    int
	PadLeft   int
	PadBottom int
	PadRight  int
	Groups    int // default 1
	ZeroPad   bool
	// ZeroPad false is one-padding: padded pixels count as +1 (free: the
	// packed zero bit). ZeroPad true pads with 0, as a float convolution
	// does: a per-output-position correction computed at plan time removes
	// the padded taps' contribution.
}

// BinaryOutput is the fused output stage: for each output channel j, from
// the integer dot d (in [-K, K]),
//
//	y = float32(float32(d) * Multiplier[j]) + Bias[j]   (two roundings)
//	y = min(max(y, Lo), Hi)                             (when Clamp)
//
// Multiplier and Bias fold the weight scale, the K - 2*count transform
// and a following BatchNorm; nil Multiplier means all 1, nil Bias all 0.
// With Clamp, Lo and Hi bound y (ReLU: Lo 0, Hi +Inf; ReLU6: Lo 0, Hi 6).
// Multipliers and biases must be finite; a Bias or bound of -0 is taken as
// +0, so y is never -0.
//
// To int8, y is then rounded half to even and saturated to [-128, 127]
// (fold 1/scale into Multiplier and the zero point into Bias). To bits,
// the output bit is 1 exactly when y < 0, which is a per-channel integer
// threshold on d computed when the stage is set.
type BinaryOutput struct {
	Multiplier []float32
	Bias       []float32
	Clamp      bool
	Lo, Hi     float32
}

// BinaryConv is a planned binary convolution: packed weights, the output
// stage and the zero-padding correction. Its Run methods reuse internal
// buffers: one BinaryConv must not run on several goroutines at once.
type BinaryConv struct {
	p       BinaryConvParams
	oh, ow  int
	cg, ocg int // channels per group
	wc      int // input words per pixel
	wg      int // words per tap (group channels)
	kw      int // K in words: taps*wg
	kbits   int // K in bits: taps*cg
	npanel  int // panels per group
	w       []uint64
	yclass  []int32 // per output row: class of valid ky
	xclass  []int32 // per output column: class of valid kx
	nxclass int
	kc      []int32 // per pattern (yclass*nxclass+xclass): OutC values K - correction
	mult    []float32
	bias    []float32
	lo, hi  float32
	// Bits output: bit j = thrX[j] > (d XOR sgn[j]); sgn[j] is -1 where the
	// multiplier is negative (then the bit is d > thr, i.e. ^d < ^thr).
	thrX []int32
	sgn  []int32
	// Direct (indirect-addressed) multiplication from the image: for
	// output rows whose kernel rows all lie inside (rowFull), the columns
	// [xa, xb) whose kernel columns all do. Only when a group's channels
	// are whole words (direct).
	direct    bool
	rowFull   []bool
	xa, xb    int
	offDirect []int // byte offset of each K word from a position's first tap
	offIm2col []int // 8p
	runBuf    *binaryRun
}

// NewBinaryConv plans a binary convolution. weights are float32 in ONNX
// order OIHW (OutC × InC/Groups × KH × KW); only their signs matter (x < 0
// is -1). The output stage starts as identity (Multiplier 1, Bias 0, no
// clamp), so RunF32 gives the integer dots.
func NewBinaryConv(p BinaryConvParams, weights []float32) (*BinaryConv, error) {
	def := func(v *int) {
		if *v == 0 {
			*v = 1
		}
	}
	def(&p.StrideH)
	def(&p.StrideW)
	def(&p.DilationH)
	def(&p.DilationW)
	def(&p.Groups)
	if p.InH <= 0 || p.InW <= 0 || p.InC <= 0 || p.OutC <= 0 || p.KH <= 0 || p.KW <= 0 ||
		p.StrideH < 0 || p.StrideW < 0 || p.DilationH < 0 || p.DilationW < 0 || p.Groups < 0 ||
		p.PadTop < 0 || p.PadLeft < 0 || p.PadBottom < 0 || p.PadRight < 0 {
		return nil, fmt.Errorf("kernels: binary conv: bad parameters %+v", p)
	}
	if p.KH > 64 || p.KW > 64 {
		return nil, fmt.Errorf("kernels: binary conv: kernel %dx%d larger than 64", p.KH, p.KW)
	}
	if p.InC%p.Groups != 0 || p.OutC%p.Groups != 0 {
		return nil, fmt.Errorf("kernels: binary conv: %d groups do not divide %d and %d channels", p.Groups, p.InC, p.OutC)
	}
	c := &BinaryConv{p: p, cg: p.InC / p.Groups, ocg: p.OutC / p.Groups, wc: BitWords(p.InC)}
	c.oh = (p.InH+p.PadTop+p.PadBottom-(p.KH-1)*p.DilationH-1)/p.StrideH + 1
	c.ow = (p.InW+p.PadLeft+p.PadRight-(p.KW-1)*p.DilationW-1)/p.StrideW + 1
	if p.InH+p.PadTop+p.PadBottom < (p.KH-1)*p.DilationH+1 || p.InW+p.PadLeft+p.PadRight < (p.KW-1)*p.DilationW+1 {
		return nil, errors.New("kernels: binary conv: kernel larger than the padded input")
	}
	taps := p.KH * p.KW
	if len(weights) != p.OutC*c.cg*taps {
		return nil, fmt.Errorf("kernels: binary conv: %d weights, want %d", len(weights), p.OutC*c.cg*taps)
	}
	c.wg = BitWords(c.cg)
	c.kw = taps * c.wg
	c.kbits = taps * c.cg
	c.npanel = (c.ocg + binaryNR - 1) / binaryNR
	c.w = make([]uint64, p.Groups*c.npanel*c.kw*binaryNR)
	// popW[oc*taps+t]: -1 bits of tap t of output channel oc, for the
	// zero-padding correction.
	popW := make([]int32, p.OutC*taps)
	for oc := 0; oc < p.OutC; oc++ {
		g, j := oc/c.ocg, oc%c.ocg
		panel := c.w[(g*c.npanel+j/binaryNR)*c.kw*binaryNR:]
		for t := 0; t < taps; t++ {
			for ci := 0; ci < c.cg; ci++ {
				if weights[(oc*c.cg+ci)*taps+t] < 0 {
					panel[(t*c.wg+ci>>6)*binaryNR+j%binaryNR] |= 1 << (ci & 63)
					popW[oc*taps+t]++
				}
			}
		}
	}
	// Classes of output rows (columns) by which kernel rows (columns) fall
	// inside the input.
	classes := func(n, in, k, s, d, pad int) ([]int32, []uint64) {
		cl := make([]int32, n)
		var masks []uint64
		for o := 0; o < n; o++ {
			var m uint64
			for t := 0; t < k; t++ {
				if i := o*s - pad + t*d; i >= 0 && i < in {
					m |= 1 << t
				}
			}
			idx := -1
			for q, v := range masks {
				if v == m {
					idx = q
				}
			}
			if idx < 0 {
				idx = len(masks)
				masks = append(masks, m)
			}
			cl[o] = int32(idx)
		}
		return cl, masks
	}
	var ym, xm []uint64
	c.yclass, ym = classes(c.oh, p.InH, p.KH, p.StrideH, p.DilationH, p.PadTop)
	c.xclass, xm = classes(c.ow, p.InW, p.KW, p.StrideW, p.DilationW, p.PadLeft)
	c.nxclass = len(xm)
	c.kc = make([]int32, len(ym)*len(xm)*p.OutC)
	for yi := range ym {
		for xi := range xm {
			row := c.kc[(yi*len(xm)+xi)*p.OutC:][:p.OutC]
			for oc := range row {
				row[oc] = int32(c.kbits)
			}
			if !p.ZeroPad {
				continue
			}
			for ky := 0; ky < p.KH; ky++ {
				for kx := 0; kx < p.KW; kx++ {
					if ym[yi]>>ky&1 != 0 && xm[xi]>>kx&1 != 0 {
						continue
					}
					t := ky*p.KW + kx
					for oc := range row {
						// A padded tap adds Cg - 2*popW with one-padding and
						// must add 0.
						row[oc] -= int32(c.cg) - 2*popW[oc*taps+t]
					}
				}
			}
		}
	}
	c.direct = p.Groups == 1 || c.cg%64 == 0
	c.rowFull = make([]bool, c.oh)
	for oy := range c.rowFull {
		c.rowFull[oy] = ym[c.yclass[oy]] == 1<<p.KH-1
	}
	full := func(ox int) bool { return xm[c.xclass[ox]] == 1<<p.KW-1 }
	for c.xa = 0; c.xa < c.ow && !full(c.xa); c.xa++ {
	}
	for c.xb = c.xa; c.xb < c.ow && full(c.xb); c.xb++ {
	}
	c.offDirect = make([]int, c.kw)
	c.offIm2col = make([]int, c.kw)
	for ky := 0; ky < p.KH; ky++ {
		for kx := 0; kx < p.KW; kx++ {
			for w := 0; w < c.wg; w++ {
				q := (ky*p.KW+kx)*c.wg + w
				c.offDirect[q] = ((ky*p.DilationH*p.InW+kx*p.DilationW)*c.wc + w) * 8
				c.offIm2col[q] = q * 8
			}
		}
	}
	if err := c.SetOutput(BinaryOutput{}); err != nil {
		return nil, err
	}
	return c, nil
}

// Clone returns a BinaryConv sharing c's packed weights and output stage
// with buffers of its own, to run on another goroutine than c.
func (c *BinaryConv) Clone() *BinaryConv {
	d := *c
	d.runBuf = nil
	return &d
}

// OutputSize is the output height and width.
func (c *BinaryConv) OutputSize() (oh, ow int) { return c.oh, c.ow }

// K is the number of binary inputs per output (InC/Groups × KH × KW).
func (c *BinaryConv) K() int { return c.kbits }

// Params returns the parameters with defaults filled in.
func (c *BinaryConv) Params() BinaryConvParams { return c.p }

// SetOutput sets the fused output stage (see BinaryOutput) and derives the
// per-channel thresholds of RunBits.
func (c *BinaryConv) SetOutput(o BinaryOutput) error {
	n := c.p.OutC
	if o.Multiplier != nil && len(o.Multiplier) != n || o.Bias != nil && len(o.Bias) != n {
		return fmt.Errorf("kernels: binary output stage: %d multipliers and %d biases for %d channels", len(o.Multiplier), len(o.Bias), n)
	}
	finite := func(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }
	mult, bias := make([]float32, n), make([]float32, n)
	for j := range mult {
		mult[j] = 1
		if o.Multiplier != nil {
			mult[j] = o.Multiplier[j]
		}
		if o.Bias != nil {
			bias[j] = o.Bias[j] + 0 // -0 -> +0
		}
		if !finite(mult[j]) || !finite(bias[j]) {
			return fmt.Errorf("kernels: binary output stage: channel %d: multiplier %v, bias %v", j, mult[j], bias[j])
		}
	}
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if o.Clamp {
		if math.IsNaN(float64(o.Lo)) || math.IsNaN(float64(o.Hi)) || o.Lo > o.Hi {
			return fmt.Errorf("kernels: binary output stage: clamp [%v, %v]", o.Lo, o.Hi)
		}
		lo, hi = o.Lo+0, o.Hi+0
	}
	c.mult, c.bias, c.lo, c.hi = mult, bias, lo, hi
	// y(d) is monotone in d (nondecreasing for m >= 0, else nonincreasing),
	// so y < 0 is d < thr or d > thr.
	c.thrX = make([]int32, n)
	c.sgn = make([]int32, n)
	kb := int32(c.kbits)
	for j := range c.thrX {
		neg := func(d int32) bool { return outF32One(d, c.mult[j], c.bias[j], c.lo, c.hi) < 0 }
		if c.mult[j] >= 0 {
			// smallest d in [-K, K+1] with !neg(d); bit = d < thr.
			lo, hi := -kb, kb+1
			for lo < hi {
				mid := lo + (hi-lo)/2
				if mid <= kb && neg(mid) {
					lo = mid + 1
				} else {
					hi = mid
				}
			}
			c.thrX[j] = lo
		} else {
			// largest d in [-K-1, K] with !neg(d); bit = d > thr.
			lo, hi := -kb-1, kb
			for lo < hi {
				mid := lo + (hi-lo+1)/2
				if mid >= -kb && neg(mid) {
					hi = mid - 1
				} else {
					lo = mid
				}
			}
			c.thrX[j], c.sgn[j] = ^lo, -1
		}
	}
	return nil
}

// Output kinds of run.
const (
	kindF32 = iota
	kindInt8
	kindBits
	kindDot
)

// checkRun validates a Run call's buffers.
func (c *BinaryConv) checkRun(src []uint64, batch int, dstLen, perPixel int) {
	in := batch * c.p.InH * c.p.InW * c.wc
	if batch < 0 || len(src) < in {
		panic(fmt.Sprintf("kernels: binary conv: input has %d words, needs %d", len(src), in))
	}
	if out := batch * c.oh * c.ow * perPixel; dstLen < out {
		panic(fmt.Sprintf("kernels: binary conv: output has %d elements, needs %d", dstLen, out))
	}
}

// RunF32 convolves batch packed images src (NHWC, BitWords(InC) words per
// pixel, bits past InC zero as PackSigns and RunBits leave them) into dst
// (NHWC float32, OutC per pixel) through the output stage.
func (c *BinaryConv) RunF32(dst []float32, src []uint64, batch int) {
	c.checkRun(src, batch, len(dst), c.p.OutC)
	c.run(src, batch, kindF32, unsafe.Pointer(unsafe.SliceData(dst)))
}

// RunInt8 is RunF32 with y rounded half to even and saturated to int8.
func (c *BinaryConv) RunInt8(dst []int8, src []uint64, batch int) {
	c.checkRun(src, batch, len(dst), c.p.OutC)
	c.run(src, batch, kindInt8, unsafe.Pointer(unsafe.SliceData(dst)))
}

// RunBits writes packed bits (BitWords(OutC) words per pixel, bit 1 where
// the output stage's y < 0), ready for the next binary layer.
func (c *BinaryConv) RunBits(dst []uint64, src []uint64, batch int) {
	c.checkRun(src, batch, len(dst), BitWords(c.p.OutC))
	c.run(src, batch, kindBits, unsafe.Pointer(unsafe.SliceData(dst)))
}

// RunDot writes the integer dots d (NHWC int32), before the output stage.
func (c *BinaryConv) RunDot(dst []int32, src []uint64, batch int) {
	c.checkRun(src, batch, len(dst), c.p.OutC)
	c.run(src, batch, kindDot, unsafe.Pointer(unsafe.SliceData(dst)))
}

// binaryPopBytes bounds a batch's popcounts (rows × padded output
// channels × 4 bytes), so the output stage reads them from L1.
const binaryPopBytes = 16 << 10

// binaryBlockRows is the most im2col rows one batch gathers.
const binaryBlockRows = 96

// binaryRun holds one Run's buffers and state.
type binaryRun struct {
	c       *BinaryConv
	mr      int
	block   int // rows per batch, a multiple of mr
	impl    *binaryImpl
	kind    int
	dst     unsafe.Pointer
	g       int
	a       []uint64 // im2col rows
	pending int      // rows gathered in a
	pos     []int32  // output position of each gathered row
	pop     []int32  // popcounts, ldp per row
	kcRows  []*int32 // K - correction of each row
	fRows   []*float32
	qRows   []*int8
	wRows   []*uint64
	bases   []*uint64 // tile bases of the gathered rows
	// The same for direct tiles, gathered alongside.
	posD    []int32
	popD    []int32
	kcRowsD []*int32
	basesD  []*uint64
	nd      int // rows in the direct batch
}

// bufs returns the buffers of a Run, allocated on first use.
func (c *BinaryConv) bufs(impl *binaryImpl, kind int, dst unsafe.Pointer) *binaryRun {
	mr := impl.gemm.mr
	r := c.runBuf
	if r == nil || r.mr != mr {
		// Batches of whole tiles whose popcounts fit binaryPopBytes.
		tiles := max(1, binaryPopBytes/(mr*c.npanel*binaryNR*4))
		rows := min(tiles*mr, (binaryBlockRows+mr-1)/mr*mr)
		r = &binaryRun{
			c:       c,
			mr:      mr,
			block:   rows,
			a:       make([]uint64, rows*c.kw),
			pos:     make([]int32, rows),
			pop:     make([]int32, rows*c.npanel*binaryNR),
			kcRows:  make([]*int32, rows),
			bases:   make([]*uint64, rows/mr),
			fRows:   make([]*float32, rows),
			qRows:   make([]*int8, rows),
			wRows:   make([]*uint64, rows),
			posD:    make([]int32, rows),
			popD:    make([]int32, rows*c.npanel*binaryNR),
			kcRowsD: make([]*int32, rows),
			basesD:  make([]*uint64, rows/mr),
		}
		c.runBuf = r
	}
	r.impl, r.kind, r.dst, r.pending, r.nd = impl, kind, dst, 0, 0
	return r
}

func (c *BinaryConv) run(src []uint64, batch, kind int, dst unsafe.Pointer) {
	if batch == 0 {
		return
	}
	impl := binaryActive()
	r := c.bufs(impl, kind, dst)
	p := c.p
	mr := impl.gemm.mr
	imgWords := p.InH * p.InW * c.wc
	for g := 0; g < p.Groups; g++ {
		r.g = g
		for n := 0; n < batch; n++ {
			img := src[n*imgWords : (n+1)*imgWords]
			for oy := 0; oy < c.oh; oy++ {
				xa, xb := c.ow, c.ow
				if c.direct && c.rowFull[oy] {
					// Whole tiles of mr rows only: the leftover columns
					// cost less through im2col than a padded tile's
					// wasted multiplication would.
					xa = c.xa
					xb = xa + (c.xb-xa)/mr*mr
				}
				pat := int(c.yclass[oy]) * c.nxclass
				base := int32((n*c.oh + oy) * c.ow)
				for ox := 0; ox < c.ow; ox++ {
					if ox == xa && xb > xa {
						r.direct(img, n, oy, xa, xb-xa)
						ox = xb - 1
						continue
					}
					c.im2colRow(r.a[r.pending*c.kw:(r.pending+1)*c.kw], img, oy, ox, g)
					r.pos[r.pending] = base + int32(ox)
					r.kcRows[r.pending] = &c.kc[(pat+int(c.xclass[ox]))*p.OutC+g*c.ocg]
					r.pending++
					if r.pending == r.block {
						r.flush()
					}
				}
			}
		}
		r.flush()
		r.flushDirect()
	}
}

// flush multiplies and outputs the gathered im2col rows.
func (r *binaryRun) flush() {
	if r.pending == 0 {
		return
	}
	c, mr := r.c, r.mr
	rows := r.pending
	rowsPad := (rows + mr - 1) / mr * mr
	clear(r.a[rows*c.kw : rowsPad*c.kw])
	for t := 0; t < rowsPad/mr; t++ {
		r.bases[t] = &r.a[t*mr*c.kw]
	}
	r.multiply(rowsPad, r.bases, c.kw*8, &c.offIm2col[0], r.pop)
	r.c.output(r, rows, r.pop, r.pos, r.kcRows)
	r.pending = 0
}

// direct gathers rows output positions (oy, x0...) (a multiple of mr),
// multiplied straight from the input image: every tap of each lies inside
// it, and consecutive positions are sw pixels apart, so a tile's A(i,p) is
// its first position's first tap + i*lda + offDirect[p].
func (r *binaryRun) direct(img []uint64, n, oy, x0, rows int) {
	c := r.c
	p := c.p
	iy := oy*p.StrideH - p.PadTop
	woff := 0
	if p.Groups > 1 {
		woff = r.g * c.cg / 64
	}
	pat := int(c.yclass[oy])*c.nxclass + int(c.xclass[x0])
	kc := &c.kc[pat*p.OutC+r.g*c.ocg]
	base := int32((n*c.oh+oy)*c.ow + x0)
	for t := 0; t < rows; t += r.mr {
		if r.nd == len(r.posD) {
			r.flushDirect()
		}
		ix := (x0+t)*p.StrideW - p.PadLeft
		r.basesD[r.nd/r.mr] = &img[(iy*p.InW+ix)*c.wc+woff]
		for i := 0; i < r.mr; i++ {
			r.posD[r.nd] = base + int32(t+i)
			r.kcRowsD[r.nd] = kc
			r.nd++
		}
	}
}

// flushDirect multiplies and outputs the gathered direct tiles.
func (r *binaryRun) flushDirect() {
	if r.nd == 0 {
		return
	}
	c := r.c
	r.multiply(r.nd, r.basesD, c.p.StrideW*c.wc*8, &c.offDirect[0], r.popD)
	c.output(r, r.nd, r.popD, r.posD, r.kcRowsD)
	r.nd = 0
}

// multiply runs the microkernel over rows (a multiple of mr) whose tile
// bases are bases, for every panel of the group, into pop.
func (r *binaryRun) multiply(rows int, bases []*uint64, lda int, off *int, pop []int32) {
	c, impl := r.c, r.impl
	uk := impl.gemm
	ldp := c.npanel * binaryNR
	if impl.maxK != 0 && c.kw > impl.maxK {
		// K beyond the accumulators' range: a Go kernel without bound,
		// tile by tile over whole panels.
		for q := 0; q < c.npanel; q++ {
			wp := c.w[(r.g*c.npanel+q)*c.kw*binaryNR:]
			for t := 0; t < rows/uk.mr; t++ {
				bgemmGenericAny(uk.mr, c.kw, bases[t], lda, off, &wp[0], &pop[t*uk.mr*ldp+q*binaryNR], ldp)
			}
		}
		return
	}
	for q := 0; q < c.npanel; q++ {
		wp := c.w[(r.g*c.npanel+q)*c.kw*binaryNR:]
		for j := 0; j < binaryNR; j += uk.nr {
			uk.fn(rows, c.kw, &bases[0], lda, off, &wp[j], &pop[q*binaryNR+j], ldp)
		}
	}
}

// im2colRow writes output position (oy, ox)'s patch row of group g: the
// taps in (ky, kx) order, each wg words of the group's channels, zero
// words for padded taps (one-padding).
func (c *BinaryConv) im2colRow(row []uint64, img []uint64, oy, ox, g int) {
	p := c.p
	wc, wg := c.wc, c.wg
	whole := p.Groups == 1 || c.cg%64 == 0
	woff := 0
	if whole {
		woff = g * c.cg / 64
	}
	iy0 := oy*p.StrideH - p.PadTop
	ix0 := ox*p.StrideW - p.PadLeft
	// Word loops, not copy and clear: the runs are a few words, shorter
	// than a memmove call costs.
	t := 0
	for ky := 0; ky < p.KH; ky++ {
		iy := iy0 + ky*p.DilationH
		if iy < 0 || iy >= p.InH {
			z := row[t*wg : (t+p.KW)*wg]
			for i := range z {
				z[i] = 0
			}
			t += p.KW
			continue
		}
		line := img[iy*p.InW*wc : (iy+1)*p.InW*wc]
		for kx := 0; kx < p.KW; kx++ {
			ix := ix0 + kx*p.DilationW
			d := row[t*wg : (t+1)*wg]
			t++
			if ix < 0 || ix >= p.InW {
				for i := range d {
					d[i] = 0
				}
				continue
			}
			px := line[ix*wc : (ix+1)*wc]
			if whole {
				px = px[woff : woff+wg]
				for i := range d {
					d[i] = px[i]
				}
			} else {
				extractBits(d, px, g*c.cg, c.cg)
			}
		}
	}
}

// extractBits copies bits [start, start+n) of src into dst (bit 0 of dst
// first), zeroing dst's bits past n.
func extractBits(dst, src []uint64, start, n int) {
	for w := range dst {
		bit := start + w*64
		wi, sh := bit>>6, uint(bit&63)
		v := src[wi] >> sh
		if sh != 0 && wi+1 < len(src) {
			v |= src[wi+1] << (64 - sh)
		}
		if rem := n - w*64; rem < 64 {
			v &= 1<<uint(rem) - 1
		}
		dst[w] = v
	}
}

// output applies the output stage to rows of pop (ldp apart), whose output
// positions are pos and K - correction rows kcRows.
func (c *BinaryConv) output(r *binaryRun, rows int, pop, pos []int32, kcRows []*int32) {
	oc, ocg := c.p.OutC, c.ocg
	j0 := r.g * ocg
	ldp := c.npanel * binaryNR
	kcRows, pos = kcRows[:rows], pos[:rows]
	switch r.kind {
	case kindF32:
		out := unsafe.Slice((*float32)(r.dst), (int(pos[rows-1])+1)*oc)
		fRows := r.fRows[:rows]
		for i, ps := range pos {
			fRows[i] = &out[int(ps)*oc+j0]
		}
		if r.impl.outF32 != nil {
			r.impl.outF32(rows, ocg, pop, ldp, kcRows, c.mult[j0:], c.bias[j0:], c.lo, c.hi, fRows)
		} else {
			outF32Go(rows, ocg, pop, ldp, kcRows, c.mult[j0:], c.bias[j0:], c.lo, c.hi, fRows)
		}
	case kindInt8:
		out := unsafe.Slice((*int8)(r.dst), (int(pos[rows-1])+1)*oc)
		qRows := r.qRows[:rows]
		for i, ps := range pos {
			qRows[i] = &out[int(ps)*oc+j0]
		}
		if r.impl.outI8 != nil {
			r.impl.outI8(rows, ocg, pop, ldp, kcRows, c.mult[j0:], c.bias[j0:], max(c.lo, -128), min(c.hi, 127), qRows)
		} else {
			outI8Go(rows, ocg, pop, ldp, kcRows, c.mult[j0:], c.bias[j0:], c.lo, c.hi, qRows)
		}
	case kindDot:
		out := unsafe.Slice((*int32)(r.dst), (int(pos[rows-1])+1)*oc)
		for i, ps := range pos {
			kr := unsafe.Slice(kcRows[i], ocg)
			pr := pop[i*ldp : i*ldp+ocg]
			dr := out[int(ps)*oc+j0 : int(ps)*oc+j0+ocg]
			for j := range dr {
				dr[j] = kr[j] - 2*pr[j]
			}
		}
	case kindBits:
		wo := BitWords(oc)
		out := unsafe.Slice((*uint64)(r.dst), (int(pos[rows-1])+1)*wo)
		if c.p.Groups == 1 {
			wRows := r.wRows[:rows]
			for i, ps := range pos {
				wRows[i] = &out[int(ps)*wo]
			}
			if r.impl.outBits != nil {
				r.impl.outBits(rows, ocg, pop, ldp, kcRows, c.sgn, c.thrX, wRows)
			} else {
				outBitsGo(rows, ocg, pop, ldp, kcRows, c.sgn, c.thrX, wRows)
			}
			return
		}
		thr, sgn := c.thrX[j0:j0+ocg], c.sgn[j0:j0+ocg]
		for i, ps := range pos {
			kr := unsafe.Slice(kcRows[i], ocg)
			pr := pop[i*ldp : i*ldp+ocg]
			dr := out[int(ps)*wo : (int(ps)+1)*wo]
			if r.g == 0 {
				clear(dr)
			}
			for j := range pr {
				b := boolBit(thr[j] > (kr[j]-2*pr[j])^sgn[j])
				ch := j0 + j
				dr[ch>>6] |= b << (ch & 63)
			}
		}
	}
}

func boolBit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// BinaryPoolParams describes a 2-D max-pool window over NHWC packed bits.
type BinaryPoolParams struct {
	InH, InW  int // input height and width
	C         int // channels
	KH, KW    int // window
	StrideH   int // default 1
	StrideW   int // default 1
	PadTop    int // each pad smaller than the window
	PadLeft   int
	PadBottom int
	PadRight  int
}

// BinaryMaxPool is max-pooling of packed ±1 values: the max is +1 (bit 0)
// when any input in the window is +1, so the output word is the AND of
// the window's words. Padded positions are ignored. src holds batch NHWC
// images with BitWords(C) words per pixel; dst gets oh×ow pixels per
// image, oh = (InH+PadTop+PadBottom-KH)/StrideH+1 (likewise ow), which it
// returns.
func BinaryMaxPool(dst, src []uint64, batch int, p BinaryPoolParams) (oh, ow int) {
	if p.StrideH == 0 {
		p.StrideH = 1
	}
	if p.StrideW == 0 {
		p.StrideW = 1
	}
	h, w, c, kh, kw, sh, sw := p.InH, p.InW, p.C, p.KH, p.KW, p.StrideH, p.StrideW
	pt, pl, pb, pr := p.PadTop, p.PadLeft, p.PadBottom, p.PadRight
	if h <= 0 || w <= 0 || c <= 0 || kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || pt < 0 || pl < 0 || pb < 0 || pr < 0 ||
		pt >= kh || pl >= kw || pb >= kh || pr >= kw || h+pt+pb < kh || w+pl+pr < kw {
		panic(fmt.Sprintf("kernels: BinaryMaxPool: bad parameters %+v", p))
	}
	oh = (h+pt+pb-kh)/sh + 1
	ow = (w+pl+pr-kw)/sw + 1
	wc := BitWords(c)
	if len(src) < batch*h*w*wc || len(dst) < batch*oh*ow*wc {
		panic("kernels: BinaryMaxPool: buffers too small")
	}
	for n := 0; n < batch; n++ {
		img := src[n*h*w*wc : (n+1)*h*w*wc]
		out := dst[n*oh*ow*wc : (n+1)*oh*ow*wc]
		for oy := 0; oy < oh; oy++ {
			y0, y1 := max(oy*sh-pt, 0), min(oy*sh-pt+kh, h)
			for ox := 0; ox < ow; ox++ {
				x0, x1 := max(ox*sw-pl, 0), min(ox*sw-pl+kw, w)
				o := out[(oy*ow+ox)*wc : (oy*ow+ox+1)*wc]
				for i := range o {
					o[i] = ^uint64(0)
				}
				for y := y0; y < y1; y++ {
					line := img[(y*w+x0)*wc : (y*w+x1)*wc]
					for x := 0; x < len(line); x += wc {
						px := line[x : x+wc]
						for i := range o {
							o[i] &= px[i]
						}
					}
				}
			}
		}
	}
	return oh, ow
}

// BinaryGemm is a binary matrix product with the fused output stage: a
// 1×1 convolution over m pixels. Weights are n×k float32 (row j is output
// channel j's k inputs; signs only); A is m rows of BitWords(k) words.
type BinaryGemm struct{ conv *BinaryConv }

// NewBinaryGemm packs the n×k weights (row-major) once.
func NewBinaryGemm(n, k int, weights []float32) (*BinaryGemm, error) {
	c, err := NewBinaryConv(BinaryConvParams{InH: 1, InW: 1, InC: k, OutC: n, KH: 1, KW: 1}, weights)
	if err != nil {
		return nil, err
	}
	return &BinaryGemm{c}, nil
}

// SetOutput sets the output stage, as BinaryConv.SetOutput.
func (g *BinaryGemm) SetOutput(o BinaryOutput) error { return g.conv.SetOutput(o) }

// RunF32 computes m rows of n outputs (row-major, ld n) from m packed rows.
func (g *BinaryGemm) RunF32(dst []float32, a []uint64, m int) { g.conv.RunF32(dst, a, m) }

// RunInt8 is RunF32 to int8 (see BinaryOutput).
func (g *BinaryGemm) RunInt8(dst []int8, a []uint64, m int) { g.conv.RunInt8(dst, a, m) }

// RunBits is RunF32 to packed bits, BitWords(n) words per row.
func (g *BinaryGemm) RunBits(dst []uint64, a []uint64, m int) { g.conv.RunBits(dst, a, m) }

// RunDot writes the integer dots k - 2*popcount(a XOR w), m×n.
func (g *BinaryGemm) RunDot(dst []int32, a []uint64, m int) { g.conv.RunDot(dst, a, m) }

// BinaryMicrokernel describes the active path's binary GEMM microkernel.
func BinaryMicrokernel() (name string, mr, nr int) {
	uk := binaryActive().gemm
	return uk.name, uk.mr, uk.nr
}

// BinaryMicrokernelLoop prepares L1-resident operands for the active
// path's microkernel (4 tiles of mr rows by the 32 columns of a panel, k
// words deep) and returns a function that runs it iters times and returns
// the operations done (bit multiply-accumulates × 2), for benchmarks
// against BinaryPeakOps. The function keeps the path active now.
func BinaryMicrokernelLoop(k int) func(iters int) float64 {
	uk := binaryActive().gemm
	rows := uk.mr * 4
	a := make([]uint64, rows*k)
	b := make([]uint64, k*binaryNR)
	for i := range a {
		a[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	for i := range b {
		b[i] = uint64(i) * 0xc2b2ae3d27d4eb4f
	}
	c := make([]int32, rows*binaryNR)
	off := identityOffsets(k)
	bases := make([]*uint64, 4)
	for t := range bases {
		bases[t] = &a[t*uk.mr*k]
	}
	return func(iters int) float64 {
		for it := 0; it < iters; it++ {
			for j := 0; j < binaryNR; j += uk.nr {
				uk.fn(rows, k, &bases[0], k*8, &off[0], &b[j], &c[j], binaryNR)
			}
		}
		return float64(iters) * float64(rows*binaryNR*k*64) * 2
	}
}

// BinaryPeakOps runs the active path's register-only XOR+POPCNT+ADD loop
// iters times and returns the operations done (bit multiply-accumulates ×
// 2), or 0 on the generic path, which has none.
func BinaryPeakOps(iters int) float64 {
	if f := binaryActive().peak; f != nil {
		return f(iters)
	}
	return 0
}

// outF32Vector runs an assembly float output stage on the columns that
// fill whole vectors of w and the Go one on the rest.
func outF32Vector(fn func(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32), w int) boutF32 {
	return func(rows, n int, pop []int32, ldp int, kc []*int32, mult, bias []float32, lo, hi float32, dst []*float32) {
		nv := n / w * w
		if nv > 0 {
			_ = pop[(rows-1)*ldp+nv-1]
			_, _, _ = kc[rows-1], dst[rows-1], mult[nv-1]+bias[nv-1]
			fn(rows, nv, &pop[0], ldp, &kc[0], &mult[0], &bias[0], lo, hi, &dst[0])
		}
		if nv == n {
			return
		}
		for r := 0; r < rows; r++ {
			kr := unsafe.Slice(kc[r], n)
			dr := unsafe.Slice(dst[r], n)
			for j := nv; j < n; j++ {
				dr[j] = outF32One(kr[j]-2*pop[r*ldp+j], mult[j], bias[j], lo, hi)
			}
		}
	}
}

// outI8Vector is outF32Vector for the int8 stage (lo and hi come narrowed
// to [-128, 127], which the Go tail's satInt8 does anyway).
func outI8Vector(fn func(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **int8), w int) boutI8 {
	return func(rows, n int, pop []int32, ldp int, kc []*int32, mult, bias []float32, lo, hi float32, dst []*int8) {
		nv := n / w * w
		if nv > 0 {
			_ = pop[(rows-1)*ldp+nv-1]
			_, _, _ = kc[rows-1], dst[rows-1], mult[nv-1]+bias[nv-1]
			fn(rows, nv, &pop[0], ldp, &kc[0], &mult[0], &bias[0], lo, hi, &dst[0])
		}
		if nv == n {
			return
		}
		for r := 0; r < rows; r++ {
			kr := unsafe.Slice(kc[r], n)
			dr := unsafe.Slice(dst[r], n)
			for j := nv; j < n; j++ {
				dr[j] = satInt8(outF32One(kr[j]-2*pop[r*ldp+j], mult[j], bias[j], lo, hi))
			}
		}
	}
}

// outBitsVector runs an assembly bits stage on the whole vectors of w
// channels and the Go one on the rest of each row's words.
func outBitsVector(fn func(rows, n int, pop *int32, ldp int, kc **int32, sgn, thr *int32, dst **uint64), w int) boutBits {
	return func(rows, n int, pop []int32, ldp int, kc []*int32, sgn, thr []int32, dst []*uint64) {
		nv := n / w * w
		if nv > 0 {
			_ = pop[(rows-1)*ldp+nv-1]
			_, _, _ = kc[rows-1], dst[rows-1], sgn[nv-1]+thr[nv-1]
			fn(rows, nv, &pop[0], ldp, &kc[0], &sgn[0], &thr[0], &dst[0])
		}
		if nv < n || nv%64 != 0 {
			outBitsGoFrom(nv, rows, n, pop, ldp, kc, sgn, thr, dst)
		}
	}
}

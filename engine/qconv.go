package engine

import (
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// Integer convolution and matrix products on the INT8 GEMM kernels
// (kernels.QGemmU8/QGemmS8). The engine's activations are NCHW; the
// kernels want pixels × K with K contiguous, so each image is turned NHWC
// (unless it already is) and, per group, unfolded by a byte im2col in
// pixel-major order (row p = output pixel p, its K = Cg·kh·kw input values
// in [kh][kw][Cg] order, the weights reordered to match, padding taps
// holding the input zero point, which contributes 0), a block of output
// rows at a time; a 1×1 stride-1 convolution multiplies the NHWC image
// itself. The GEMM writes pixels × channels: the NHWC output directly, or
// a buffer transposed into the NCHW output. The output stage (int32,
// float32 or requantized uint8/int8, with bias and clamp) runs in the
// kernel. Depthwise convolutions run on their own kernel (qdepthwise.go).

// qbytes returns the bytes of a uint8 or int8 tensor (int8 reinterpreted).
func qbytes(t *Tensor) []uint8 {
	if t.Type == onnxio.Int8 {
		return asUint8(t.I8)
	}
	return t.U8
}

func asInt8(b []uint8) []int8 {
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

func isQ8(dt onnxio.DataType) bool { return dt == onnxio.Uint8 || dt == onnxio.Int8 }

// zeroPoints reads a zero point input: nil (absent: 0), or its values.
func zeroPoints(t *Tensor) []int32 {
	if t == nil {
		return nil
	}
	z := make([]int32, t.Len())
	for i := range z {
		z[i] = int32(t.at(i))
	}
	return z
}

// scalarZP is the single zero point of t (0 when absent); ok is false
// when t has more than one value.
func scalarZP(t *Tensor) (int32, bool) {
	if t == nil {
		return 0, true
	}
	if t.Len() != 1 {
		return 0, false
	}
	return int32(t.at(0)), true
}

// packQ packs n×k weights (rows ldw apart, uint8 or int8 bytes) with zero
// points zp (nil, one, or n values) for the Int8 kernels.
func packQ(dt onnxio.DataType, n, k int, w []uint8, ldw int, zp []int32) *kernels.QPackedWeights {
	if dt == onnxio.Uint8 {
		return kernels.PackUint8Weights(n, k, w, ldw, zp...)
	}
	return kernels.PackInt8Weights(n, k, asInt8(w), ldw, zp...)
}

// qout describes a GEMM output stage with per-channel parameters for all
// M channels (or one value for all).
type qout struct {
	dt     onnxio.DataType // Int32, Float, Uint8 or Int8
	bias   []int32         // nil, 1 or M values
	scale  []float32       // Float: sx·sw; Uint8/Int8: sx·sw/sy; 1 or M values
	fbias  []float32       // Float: added after scaling; nil, 1 or M values
	zp     int32
	clamp  bool
	lo, hi int32
}

func sub[T any](v []T, lo, hi int) []T {
	if len(v) <= 1 {
		return v
	}
	return v[lo:hi]
}

// stage returns the kernels' output stage for channels [c0, c0+n) (a
// value: the kernels copy what they keep, so it stays on the caller's
// stack).
func (q *qout) stage(c0, n int) kernels.QOutput {
	o := kernels.QOutput{Ldc: n, Bias: sub(q.bias, c0, c0+n)}
	switch q.dt {
	case onnxio.Int32:
	case onnxio.Float:
		o.Scale, o.FloatBias = sub(q.scale, c0, c0+n), sub(q.fbias, c0, c0+n)
	default:
		o.Scale, o.ZeroPoint, o.Clamp, o.Min, o.Max = sub(q.scale, c0, c0+n), q.zp, q.clamp, q.lo, q.hi
	}
	return o
}

// stageInto is stage(c0, n) writing rows×n results into dst (of q.dt's
// element type) from element off, rows ldc apart (0: n).
func (q *qout) stageInto(c0, n, rows int, dst *Tensor, off, ldc int) kernels.QOutput {
	if ldc == 0 {
		ldc = n
	}
	o := q.stage(c0, n)
	o.Ldc = ldc
	end := off + (rows-1)*ldc + n
	switch q.dt {
	case onnxio.Int32:
		o.Int32 = dst.I32[off:end]
	case onnxio.Float:
		o.Float32 = dst.F32[off:end]
	case onnxio.Uint8:
		o.Uint8 = dst.U8[off:end]
	case onnxio.Int8:
		o.Int8 = dst.I8[off:end]
	}
	return o
}

// gemm runs C(m×n) = stage((A - za)·Wᵀ) into dst (of q.dt's element
// type) from element off, rows ldc apart (0: n).
func (q *qout) gemm(rc *runCtx, m int, a []uint8, lda int, signed bool, za int32, w *kernels.QPackedWeights, c0 int, dst *Tensor, off, ldc int) {
	n := w.N()
	if m == 0 || n == 0 {
		return
	}
	o := q.stageInto(c0, n, m, dst, off, ldc)
	if signed {
		kernels.QGemmS8(m, asInt8(a), lda, int8(za), w, &o, rc.threads)
	} else {
		kernels.QGemmU8(m, a, lda, uint8(za), w, &o, rc.threads)
	}
}

// transposeInto writes src (p×n, row-major) into dst as n rows of p,
// rows ldd apart: dst[j*ldd+i] = src[i*n+j]. It works in 16×16 tiles.
func transposeInto[T any](dst []T, ldd int, src []T, p, n int) {
	const bs = 16
	if p == 0 || n == 0 {
		return
	}
	_ = dst[(n-1)*ldd+p-1]
	switch d := any(dst).(type) {
	case []uint8:
		kernels.TransposeBytes(d, ldd, any(src).([]uint8), p, n, 0)
		return
	case []int8:
		kernels.TransposeBytes(asUint8(d), ldd, asUint8(any(src).([]int8)), p, n, 0)
		return
	case []float32:
		kernels.TransposeFloat32(d, ldd, any(src).([]float32), p, n)
		return
	}
	for i0 := 0; i0 < p; i0 += bs {
		i1 := min(i0+bs, p)
		for j0 := 0; j0 < n; j0 += bs {
			j1 := min(j0+bs, n)
			for i := i0; i < i1; i++ {
				row := src[i*n+j0 : i*n+j1]
				d := dst[j0*ldd+i:]
				for jj, v := range row {
					d[jj*ldd] = v
				}
			}
		}
	}
}

func asUint8(b []int8) []uint8 {
	return unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

func transposeTensor(dst *Tensor, doff, ldd int, src *Tensor, soff, p, n int) {
	switch dst.Type {
	case onnxio.Int32:
		transposeInto(dst.I32[doff:], ldd, src.I32[soff:soff+p*n], p, n)
	case onnxio.Float:
		transposeInto(dst.F32[doff:], ldd, src.F32[soff:soff+p*n], p, n)
	case onnxio.Uint8, onnxio.Uint4:
		transposeInto(dst.U8[doff:], ldd, src.U8[soff:soff+p*n], p, n)
	case onnxio.Int8, onnxio.Int4:
		transposeInto(dst.I8[doff:], ldd, src.I8[soff:soff+p*n], p, n)
	case onnxio.Int16:
		transposeInto(dst.I16[doff:], ldd, src.I16[soff:soff+p*n], p, n)
	case onnxio.Uint16:
		transposeInto(dst.U16[doff:], ldd, src.U16[soff:soff+p*n], p, n)
	}
}

// qconv is the geometry and weights of one integer 2-D (or 1-D)
// convolution.
type qconv struct {
	g      convGeom
	group  int
	packed *qconvWeights // when the weights are constant
	bufs   sync.Pool     // *qconvBufs
	// inNHWC and outNHWC: the input (output) holds its N×C×H×W values
	// in N×H×W×C order (between two integer steps, see qdq.go).
	inNHWC, outNHWC bool
	// post, when set, max-pools each image's requantized output (still
	// in cache) into the step's output.
	post *qpoolPost
}

// qconvBufs is one run's scratch: the NHWC image, the unfolded rows, the
// GEMM's pixels × channels output and the call's multiplier.
type qconvBufs struct {
	nhwc, col []uint8
	tmp       *Tensor
	mul       int8Mul
}

// byteScratch holds byte buffers for the scratch of one call on one
// thread (scratchBytes): per-call allocations would be most of a small
// model's garbage, and their collection a visible share of its time.
var byteScratch = sync.Pool{New: func() any { return new([]byte) }}

// scratchBytes returns a pooled buffer of n bytes (unspecified contents)
// and its handle, for byteScratch.Put when done.
func scratchBytes(n int) (*[]byte, []byte) {
	bp := byteScratch.Get().(*[]byte)
	*bp = grow(*bp, n)
	return bp, *bp
}

// grow returns b with length n, reallocated when too small.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// qconvShape checks X and W and returns the output shape and geometry.
func (k *qconv) shape(x, w []int) (out []int, g convGeom, oh, ow int, err error) {
	if g, oh, ow, err = k.geom(x, w); err != nil {
		return nil, g, 0, 0, err
	}
	if len(x) == 3 {
		return []int{x[0], w[0], ow}, g, oh, ow, nil
	}
	return []int{x[0], w[0], oh, ow}, g, oh, ow, nil
}

// geom is shape without the output shape, which the steps that run
// need not allocate.
func (k *qconv) geom(x, w []int) (g convGeom, oh, ow int, err error) {
	if len(w) != len(x) {
		return g, 0, 0, fmt.Errorf("X %v and W %v differ in rank", x, w)
	}
	if len(x) != 3 && len(x) != 4 || k.g.wide {
		return g, 0, 0, unsupported("integer convolution of rank %d (only 1-D and 2-D)", len(x))
	}
	_, c, h, wd, _ := as4(x)
	_, cg, kh, kw, _ := as4(w)
	if cg*k.group != c || w[0]%k.group != 0 {
		return g, 0, 0, fmt.Errorf("%d input channels, weight %v in %d groups", c, w, k.group)
	}
	g = k.g
	if g.kh == 0 {
		g.kh, g.kw = kh, kw
	}
	if g.kh != kh || g.kw != kw {
		return g, 0, 0, fmt.Errorf("kernel_shape %dx%d, weight %v", g.kh, g.kw, w)
	}
	g, oh, ow = g.forInput(h, wd, false)
	return g, oh, ow, nil
}

// qconvWeights are a convolution's packed weights: per group for the
// GEMM, or for the depthwise kernel.
type qconvWeights struct {
	gemm []*kernels.QPackedWeights
	dw   *kernels.QDepthwiseWeights
	// rows, for a first layer's few input channels (int8 weights, zero
	// point 0), runs on kernels.QConvRows where it applies.
	rows *kernels.QConvRowsWeights
}

// packConvWeights packs W ([M][Cg][kh][kw], uint8 or int8) with zero
// points zp (nil, one, or M values): for the depthwise kernel when each
// group has one input channel, else for the GEMM.
func packConvWeights(w *Tensor, zp []int32, group int) *qconvWeights {
	if dw := packDepthwise(w, zp, group); dw != nil {
		return &qconvWeights{dw: dw}
	}
	return &qconvWeights{gemm: packGemmConvWeights(w, zp, group), rows: packConvRows(w, zp, group)}
}

// packConvRows packs W for kernels.QConvRows when it could run there
// (int8 weights of zero point 0, one group, a 2-D kernel), else nil.
func packConvRows(w *Tensor, zp []int32, group int) *kernels.QConvRowsWeights {
	if group != 1 || w.Type != onnxio.Int8 || len(w.Shape) != 4 || slices.ContainsFunc(zp, func(z int32) bool { return z != 0 }) {
		return nil
	}
	m, c, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	if !kernels.QConvRowsFits(m, c, kh, kw, kernels.QConvGeom{}) {
		return nil
	}
	return kernels.PackConvRowsWeights(m, c, kh, kw, w.I8)
}

// packGemmConvWeights packs W per group for the GEMM, each channel's K
// weights reordered to [kh][kw][Cg], the order of im2colNHWC's rows.
func packGemmConvWeights(w *Tensor, zp []int32, group int) []*kernels.QPackedWeights {
	m := w.Shape[0]
	_, cg, kh, kw, _ := as4(w.Shape)
	kk := cg * kh * kw
	mg := m / group
	b := qbytes(w)
	r := make([]uint8, len(b))
	for o := 0; o < m; o++ {
		for ci := 0; ci < cg; ci++ {
			for t := 0; t < kh*kw; t++ {
				r[o*kk+t*cg+ci] = b[o*kk+ci*kh*kw+t]
			}
		}
	}
	ps := make([]*kernels.QPackedWeights, group)
	for gi := range ps {
		ps[gi] = packQ(w.Type, mg, kk, r[gi*mg*kk:], kk, sub(zp, gi*mg, (gi+1)*mg))
	}
	return ps
}

// run convolves x (uint8 or int8, zero point za) into o (NCHW, of q.dt).
// Depthwise weights go to runDepthwise. Otherwise each image is turned
// NHWC once; a 1×1 convolution of stride 1 over all channels multiplies
// it directly, others unfold it (im2colNHWC) per group.
func (k *qconv) run(rc *runCtx, x *Tensor, za int32, wShape []int, weights *qconvWeights, q *qout, o *Tensor) error {
	g, oh, ow, err := k.geom(x.Shape, wShape)
	if err != nil {
		return err
	}
	if weights.dw != nil {
		return k.runDepthwise(rc, x, za, weights.dw, g, wShape[0], oh, ow, q, o)
	}
	if weights.rows != nil && k.runRows(rc, x, za, weights.rows, g, wShape[0], oh, ow, q, o) {
		return nil
	}
	bufs, _ := k.bufs.Get().(*qconvBufs)
	if bufs == nil {
		bufs = &qconvBufs{}
	}
	defer k.bufs.Put(bufs)
	// (The multiplier lives in the pooled buffers: as an interface value
	// of its own it would be allocated on every call.)
	bufs.mul = int8Mul{rc: rc, q: q, packed: weights.gemm, signed: x.Type == onnxio.Int8, za: za, mg: wShape[0] / k.group}
	k.drive(rc, x, 1, byte(za), false, wShape[0], g, oh, ow, &bufs.mul, bufs, q.dt, o)
	bufs.mul = int8Mul{}
	return nil
}

// convMul multiplies a convolution's unfolded rows for drive: rows×N
// outputs of group gi from A (rows of lda elements) into dst from element
// off, rows ldc apart (0: N, the group's channels).
type convMul interface {
	mul(rows int, a []byte, lda, gi int, dst *Tensor, off, ldc int)
}

// int8Mul is the INT8 GEMM with q's output stage.
type int8Mul struct {
	rc     *runCtx
	q      *qout
	packed []*kernels.QPackedWeights
	signed bool
	za     int32
	mg     int
}

func (j *int8Mul) mul(rows int, a []byte, lda, gi int, dst *Tensor, off, ldc int) {
	j.q.gemm(j.rc, rows, a, lda, j.signed, j.za, j.packed[gi], gi*j.mg, dst, off, ldc)
}

// drive convolves x (elements of es bytes; za padding bytes pad) into o
// (m channels of type dt) on mul: each chunk of images is turned
// channels-last once; a 1×1 convolution of stride 1 over all channels
// multiplies it directly, others unfold it (im2colNHWC) per group, a
// block of output rows at a time (with flip, the unfolded bytes are
// XORed 0x80 before the multiply). mul writes pixels × channels: the
// channels-last output directly, or a buffer transposed into planes or
// max-pooled (k.post).
func (k *qconv) drive(rc *runCtx, x *Tensor, es int, pad byte, flip bool, m int, g convGeom, oh, ow int, mul convMul, bufs *qconvBufs, dt onnxio.DataType, o *Tensor) {
	n, c, h, wd, _ := as4(x.Shape)
	mg, cg := m/k.group, c/k.group
	kk := cg * g.kh * g.kw
	p := oh * ow
	if n == 0 || p == 0 || m == 0 {
		return
	}
	xb := rawBytes(x)
	direct := k.group == 1 && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && oh == h && ow == wd
	// The GEMM takes images in chunks of about qconvColBytes of unfolded
	// rows, amortising its per-call work over several small images; a
	// larger image is unfolded a block of output rows at a time, so that
	// its rows are still in cache when the GEMM packs them.
	chunk := max(1, min(n, qconvColBytes/max(p*kk*es, 1)))
	rows := oh // output rows per block
	if chunk == 1 && !direct {
		rows = max(1, min(oh, qconvColBytes/max(ow*kk*es, 1)))
	}
	img := c * h * wd
	if !k.inNHWC {
		bufs.nhwc = grow(bufs.nhwc, chunk*img*es)
	}
	var col []uint8
	if !direct || flip {
		bufs.col = grow(bufs.col, max(chunk*rows*ow*kk, chunk*img)*es)
		col = bufs.col
	}
	tmpLen := chunk * rows * ow * mg
	if k.post != nil {
		tmpLen = chunk * p * m
	}
	if (!k.outNHWC || k.post != nil) && (bufs.tmp == nil || bufs.tmp.Type != dt || bufs.tmp.Len() < tmpLen) {
		bufs.tmp = newTensor(dt, []int{tmpLen})
	}
	tmp := bufs.tmp
	for n0 := 0; n0 < n; n0 += chunk {
		nb := min(chunk, n-n0)
		nhwc := xb[n0*img*es : (n0+nb)*img*es]
		if !k.inNHWC {
			nhwc = bufs.nhwc[:nb*img*es]
			j := imagesNHWC{dst: nhwc, src: xb[n0*img*es : (n0+nb)*img*es], c: c, hw: h * wd, es: es}
			if rc.threads <= 1 {
				j.run(0, nb)
			} else {
				parallelFor(rc.threads, nb, 1, j.par())
			}
		}
		for gi := 0; gi < k.group; gi++ {
			for oy0 := 0; oy0 < oh; oy0 += rows {
				// Output rows [oy0, oy1) of the chunk's images (all of
				// them when nb > 1): pb pixels per image.
				oy1 := min(oh, oy0+rows)
				pb := (oy1 - oy0) * ow
				var a []byte
				lda := kk
				switch {
				case direct && flip:
					a, lda = col[:len(nhwc)], c
					flipInto(a, nhwc)
				case direct:
					a, lda = nhwc, c
				default:
					a = col[:nb*pb*kk*es]
					j := unfold{col: a, x: nhwc, img: img * es, c: c * es, c0: gi * cg * es, cg: cg * es, h: h, w: wd, g: g, oy0: oy0, oy1: oy1, ow: ow, pad: pad}
					if rc.threads <= 1 {
						j.run(0, nb*(oy1-oy0))
					} else {
						parallelFor(rc.threads, nb*(oy1-oy0), 1, j.par())
					}
					if flip {
						flipInto(a, a)
					}
				}
				switch {
				case k.post != nil:
					mul.mul(nb*pb, a, lda, gi, tmp, oy0*ow*m+gi*mg, m)
				case k.outNHWC:
					mul.mul(nb*pb, a, lda, gi, o, (n0*p+oy0*ow)*m+gi*mg, m)
				default:
					mul.mul(nb*pb, a, lda, gi, tmp, 0, 0)
					for b := 0; b < nb; b++ {
						transposeTensor(o, ((n0+b)*m+gi*mg)*p+oy0*ow, p, tmp, b*pb*mg, pb, mg)
					}
				}
			}
		}
		if k.post != nil {
			j := pooled{pp: k.post, src: qbytes(tmp), signed: dt == onnxio.Int8, c: m, h: oh, w: ow, dst: qbytes(o), n0: n0}
			if rc.threads <= 1 {
				j.run(0, nb)
			} else {
				parallelFor(rc.threads, nb, 1, j.par())
			}
		}
	}
}

// imagesNHWC, unfold and pooled are the parts of a convolution split
// over threads: run does a range of the work, and par returns run as
// the closure parallelFor takes, the only one allocated (a run on one
// thread allocates none: small models make many such calls).

// imagesNHWC turns images [lo, hi) of src (c planes of hw elements of
// es bytes each) to channels last in dst.
type imagesNHWC struct {
	dst, src  []uint8
	c, hw, es int
}

func (j imagesNHWC) par() func(lo, hi int) { return j.run }

func (j imagesNHWC) run(lo, hi int) {
	img := j.c * j.hw
	for b := lo; b < hi; b++ {
		transposeRaw(j.dst, b*img, j.c, j.src, b*img, j.c, j.hw, j.es)
	}
}

// unfold is im2colNHWC of output rows [oy0, oy1) of channels [c0,
// c0+cg) of the channels-last images at x (img bytes apart) into col
// (channel counts in bytes: wider elements unfold as several bytes);
// run does units [lo, hi): image u/(oy1-oy0), row u%(oy1-oy0).
type unfold struct {
	col, x         []uint8
	img, c, c0, cg int
	h, w           int
	g              convGeom
	oy0, oy1, ow   int
	pad            byte
}

func (j unfold) par() func(lo, hi int) { return j.run }

func (j unfold) run(lo, hi int) {
	rows := j.oy1 - j.oy0
	kk := j.cg * j.g.kh * j.g.kw
	pb := rows * j.ow
	for u := lo; u < hi; {
		b, r := u/rows, u%rows
		r1 := min(rows, r+hi-u)
		im2colNHWC(j.col[(b*pb+r*j.ow)*kk:(b*pb+r1*j.ow)*kk], j.x[b*j.img:(b+1)*j.img], j.c, j.c0, j.cg, j.h, j.w, j.g, j.oy0+r, j.oy0+r1, j.ow, j.pad)
		u += r1 - r
	}
}

// pooled applies a fused MaxPool to images [lo, hi) of src (channels-last
// h×w×c each), writing images n0+lo.. of dst.
type pooled struct {
	pp       *qpoolPost
	src, dst []uint8
	signed   bool
	c, h, w  int
	n0       int
}

func (j pooled) par() func(lo, hi int) { return j.run }

func (j pooled) run(lo, hi int) {
	bp := byteScratch.Get().(*[]byte)
	defer byteScratch.Put(bp)
	p := j.h * j.w * j.c
	for b := lo; b < hi; b++ {
		j.pp.apply(j.src[b*p:(b+1)*p], j.signed, j.c, j.h, j.w, j.dst, j.n0+b, bp)
	}
}

// runRows convolves x into o on kernels.QConvRows, image by image, and
// reports whether it did: for NCHW input, a requantized output and no
// fused pooling, where that kernel runs in SIMD.
func (k *qconv) runRows(rc *runCtx, x *Tensor, za int32, w *kernels.QConvRowsWeights, g convGeom, m, oh, ow int, q *qout, o *Tensor) bool {
	geom := kernels.QConvGeom{StrideH: g.sh, StrideW: g.sw, PadTop: g.pt, PadLeft: g.pl, PadBottom: g.pb, PadRight: g.pr, DilationH: g.dh, DilationW: g.dw}
	_, c, h, wd, _ := as4(x.Shape)
	if k.inNHWC || k.post != nil || !isQ8(q.dt) || len(x.Shape) != 4 || !kernels.QConvRowsFits(m, c, g.kh, g.kw, geom) || !kernels.QConvRowsFast() {
		return false
	}
	p := oh * ow
	var tmp *Tensor
	if k.outNHWC {
		bufs, _ := k.bufs.Get().(*qconvBufs)
		if bufs == nil {
			bufs = &qconvBufs{}
		}
		defer k.bufs.Put(bufs)
		if bufs.tmp == nil || bufs.tmp.Type != q.dt || bufs.tmp.Len() < p*m {
			bufs.tmp = newTensor(q.dt, []int{p * m})
		}
		tmp = bufs.tmp
	}
	xb := qbytes(x)
	img := c * h * wd
	for b := 0; b < x.Shape[0]; b++ {
		dst, off := o, b*m*p
		if tmp != nil {
			dst, off = tmp, 0
		}
		// m planes of p bytes, plane stride p.
		out := q.stage(0, m)
		out.Ldc = p
		if q.dt == onnxio.Int8 {
			out.Int8 = dst.I8[off : off+m*p]
		} else {
			out.Uint8 = dst.U8[off : off+m*p]
		}
		kernels.QConvRows(xb[b*img:(b+1)*img], x.Type == onnxio.Int8, za, h, wd, w, geom, &out, rc.threads)
		if tmp != nil {
			transposeTensor(o, b*p*m, m, tmp, 0, m, p)
		}
	}
	return true
}

// qconvColBytes bounds the unfolded rows given to one GEMM call.
const qconvColBytes = 256 << 10

// qpoolPost is a MaxPool fused after an integer convolution.
type qpoolPost struct {
	pk      *poolK
	outNHWC bool
}

func (pp *qpoolPost) shape(s []int) ([]int, error) {
	sp, err := pp.pk.infer([]*Tensor{{Type: onnxio.Float, Shape: s}})
	if err != nil {
		return nil, err
	}
	return sp[0].shape, nil
}

// apply pools one NHWC image (h×w pixels of c channels) into image ni of
// o (NHWC or NCHW), with scratch for the NCHW case.
func (pp *qpoolPost) apply(x []uint8, signed bool, c, h, w int, o []uint8, ni int, scratch *[]uint8) {
	g, oh, ow := pp.pk.geometry([]int{1, c, h, w})
	dst := o[ni*oh*ow*c : (ni+1)*oh*ow*c]
	if !pp.outNHWC {
		*scratch = grow(*scratch, oh*ow*c)
		dst = *scratch
	}
	fast := g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1 && g.pt == 0 && g.pl == 0 && 2*oh <= h && 2*ow <= w
	switch {
	case fast && signed:
		maxPool2x2QNHWC(asInt8(x), asInt8(dst), 1, c, h, w, oh, ow)
	case fast:
		maxPool2x2QNHWC(x, dst, 1, c, h, w, oh, ow)
	case signed:
		maxPoolQNHWC(asInt8(x), asInt8(dst), 1, c, h, w, g, oh, ow)
	default:
		maxPoolQNHWC(x, dst, 1, c, h, w, g, oh, ow)
	}
	if !pp.outNHWC {
		transposeInto(o[ni*oh*ow*c:], oh*ow, dst, oh*ow, c)
	}
}

// im2colNHWC unfolds channels [c0, c0+cg) of one NHWC image (h·w pixels
// of c channels) for output rows [oy0, oy1) into col: a row of K =
// kh·kw·cg in [ky][kx][ci] order per output pixel, padding taps set to
// pad. With all channels and no dilation, the kw taps of a kernel row are
// one contiguous copy.
func im2colNHWC(col, x []uint8, c, c0, cg, h, w int, g convGeom, oy0, oy1, ow int, pad byte) {
	kk := cg * g.kh * g.kw
	rowLen := g.kw * cg
	contiguous := cg == c && g.dw == 1
	if contiguous {
		im2colRows(col, x, c, h, w, g, oy0, oy1, ow, pad)
		return
	}
	for oy := oy0; oy < oy1; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := col[((oy-oy0)*ow+ox)*kk : ((oy-oy0)*ow+ox+1)*kk]
			ix0 := ox*g.sw - g.pl
			for ky := 0; ky < g.kh; ky++ {
				seg := row[ky*rowLen : (ky+1)*rowLen]
				iy := oy*g.sh - g.pt + ky*g.dh
				if iy < 0 || iy >= h {
					for i := range seg {
						seg[i] = pad
					}
					continue
				}
				xr := x[iy*w*c : (iy+1)*w*c]
				if contiguous && ix0 >= 0 && ix0+g.kw <= w {
					src := xr[ix0*c : (ix0+g.kw)*c]
					if len(src) < 32 {
						src = src[:len(seg)]
						for i := range seg {
							seg[i] = src[i]
						}
					} else {
						copy(seg, src)
					}
					continue
				}
				for kx := 0; kx < g.kw; kx++ {
					ix := ix0 + kx*g.dw
					d := seg[kx*cg : (kx+1)*cg]
					switch {
					case ix < 0 || ix >= w:
						for i := range d {
							d[i] = pad
						}
					case cg == 1:
						d[0] = xr[ix*c+c0]
					default:
						copy(d, xr[ix*c+c0:ix*c+c0+cg])
					}
				}
			}
		}
	}
}

// im2colRows is im2colNHWC over all channels with horizontal dilation 1:
// each input row is laid out once with its padding, and the output
// pixels' kernel rows are slices of it, ls bytes apart: one strided copy
// (kernels.CopyByteRows) per input row.
func im2colRows(col, x []uint8, c, h, w int, g convGeom, oy0, oy1, ow int, pad byte) {
	kk := c * g.kh * g.kw
	rowLen := g.kw * c
	cols := (ow-1)*g.sw + g.kw // input columns -pl .. cols-1-pl
	bp, padded := scratchBytes(cols * c)
	defer byteScratch.Put(bp)
	ls := g.sw * c // from one output pixel's slice to the next
	for oy := oy0; oy < oy1; oy++ {
		base := ((oy - oy0) * ow) * kk
		for ky := 0; ky < g.kh; ky++ {
			padRow(padded, x, c, h, w, g, oy*g.sh-g.pt+ky*g.dh, cols, pad)
			kernels.CopyByteRows(col[base+ky*rowLen:], padded, ow, rowLen, kk, ls)
		}
	}
}

// padRow lays out input row iy (pad when outside the image) as cols
// columns of c bytes starting at input column -pl, padding outside it.
func padRow(padded, x []uint8, c, h, w int, g convGeom, iy, cols int, pad byte) {
	padded = padded[:cols*c]
	if iy < 0 || iy >= h {
		fillBytes(padded, pad)
		return
	}
	// Input columns [lo, hi) of padded are in the image.
	lo := min(g.pl, cols)
	hi := max(lo, min(cols, g.pl+w))
	fillBytes(padded[:lo*c], pad)
	if hi > lo {
		copy(padded[lo*c:hi*c], x[(iy*w+lo-g.pl)*c:(iy*w+hi-g.pl)*c])
	}
	fillBytes(padded[hi*c:], pad)
}

func fillBytes(b []uint8, v uint8) {
	for i := range b {
		b[i] = v
	}
}

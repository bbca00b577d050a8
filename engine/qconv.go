package engine

import (
	"fmt"
	"unsafe"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// Integer convolution and matrix products on the INT8 GEMM kernels
// (kernels.QGemmU8/QGemmS8). The engine's activations are NCHW; the
// kernels want pixels × K with K contiguous, so each image and group is
// unfolded by a byte im2col in pixel-major order (row p = output pixel p,
// its K = Cg·kh·kw input values in the weight's [Cg][kh][kw] order,
// padding taps holding the input zero point, which contributes 0), the
// GEMM writes pixels × channels, and the result is transposed into the
// NCHW output. The output stage (int32, float32 or requantized
// uint8/int8, with bias and clamp) runs in the kernel.

// qbytes returns the bytes of a uint8 or int8 tensor (int8 reinterpreted).
func qbytes(t *Tensor) []uint8 {
	if t.Type == onnxio.Int8 {
		return unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(t.I8))), len(t.I8))
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

// stage returns the kernels' output stage for channels [c0, c0+n).
func (q *qout) stage(c0, n int) *kernels.QOutput {
	o := &kernels.QOutput{Ldc: n, Bias: sub(q.bias, c0, c0+n)}
	switch q.dt {
	case onnxio.Int32:
	case onnxio.Float:
		o.Scale, o.FloatBias = sub(q.scale, c0, c0+n), sub(q.fbias, c0, c0+n)
	default:
		o.Scale, o.ZeroPoint, o.Clamp, o.Min, o.Max = sub(q.scale, c0, c0+n), q.zp, q.clamp, q.lo, q.hi
	}
	return o
}

// gemm runs C(m×n) = stage((A - za)·Wᵀ) into dst (m×n, row-major, of
// q.dt's element type, as a Tensor's data slice).
func (q *qout) gemm(rc *runCtx, m int, a []uint8, lda int, signed bool, za int32, w *kernels.QPackedWeights, c0 int, dst *Tensor, off int) {
	n := w.N()
	o := q.stage(c0, n)
	switch q.dt {
	case onnxio.Int32:
		o.Int32 = dst.I32[off : off+m*n]
	case onnxio.Float:
		o.Float32 = dst.F32[off : off+m*n]
	case onnxio.Uint8:
		o.Uint8 = dst.U8[off : off+m*n]
	case onnxio.Int8:
		o.Int8 = dst.I8[off : off+m*n]
	}
	if m == 0 || n == 0 {
		return
	}
	if signed {
		kernels.QGemmS8(m, asInt8(a), lda, int8(za), w, o, rc.threads)
	} else {
		kernels.QGemmU8(m, a, lda, uint8(za), w, o, rc.threads)
	}
}

// transposeInto writes src (p×n, row-major) into dst as n rows of p,
// rows ldd apart: dst[j*ldd+i] = src[i*n+j].
func transposeInto[T any](dst []T, ldd int, src []T, p, n int) {
	const bs = 32
	for i0 := 0; i0 < p; i0 += bs {
		i1 := min(i0+bs, p)
		for j := 0; j < n; j++ {
			d := dst[j*ldd:]
			for i := i0; i < i1; i++ {
				d[i] = src[i*n+j]
			}
		}
	}
}

func transposeTensor(dst *Tensor, doff, ldd int, src *Tensor, p, n int) {
	switch dst.Type {
	case onnxio.Int32:
		transposeInto(dst.I32[doff:], ldd, src.I32, p, n)
	case onnxio.Float:
		transposeInto(dst.F32[doff:], ldd, src.F32, p, n)
	case onnxio.Uint8:
		transposeInto(dst.U8[doff:], ldd, src.U8, p, n)
	case onnxio.Int8:
		transposeInto(dst.I8[doff:], ldd, src.I8, p, n)
	}
}

// qconv is the geometry and weights of one integer 2-D (or 1-D)
// convolution.
type qconv struct {
	g      convGeom
	group  int
	packed []*kernels.QPackedWeights // per group, when the weights are constant
}

// qconvShape checks X and W and returns the output shape and geometry.
func (k *qconv) shape(x, w []int) (out []int, g convGeom, oh, ow int, err error) {
	if len(w) != len(x) {
		return nil, g, 0, 0, fmt.Errorf("X %v and W %v differ in rank", x, w)
	}
	if len(x) != 3 && len(x) != 4 || k.g.wide {
		return nil, g, 0, 0, unsupported("integer convolution of rank %d (only 1-D and 2-D)", len(x))
	}
	n, c, h, wd, _ := as4(x)
	_, cg, kh, kw, _ := as4(w)
	if cg*k.group != c || w[0]%k.group != 0 {
		return nil, g, 0, 0, fmt.Errorf("%d input channels, weight %v in %d groups", c, w, k.group)
	}
	g = k.g
	if g.kh == 0 {
		g.kh, g.kw = kh, kw
	}
	if g.kh != kh || g.kw != kw {
		return nil, g, 0, 0, fmt.Errorf("kernel_shape %dx%d, weight %v", g.kh, g.kw, w)
	}
	g, oh, ow = g.forInput(h, wd, false)
	if len(x) == 3 {
		return []int{n, w[0], ow}, g, oh, ow, nil
	}
	return []int{n, w[0], oh, ow}, g, oh, ow, nil
}

// packConvWeights packs W ([M][Cg][kh][kw], uint8 or int8) per group with
// zero points zp (nil, one, or M values).
func packConvWeights(w *Tensor, zp []int32, group int) []*kernels.QPackedWeights {
	m := w.Shape[0]
	kk := numel(w.Shape[1:])
	mg := m / group
	b := qbytes(w)
	ps := make([]*kernels.QPackedWeights, group)
	for gi := range ps {
		ps[gi] = packQ(w.Type, mg, kk, b[gi*mg*kk:], kk, sub(zp, gi*mg, (gi+1)*mg))
	}
	return ps
}

// run convolves x (uint8 or int8, zero point za) into o (NCHW, of q.dt).
func (k *qconv) run(rc *runCtx, x *Tensor, za int32, wShape []int, packed []*kernels.QPackedWeights, q *qout, o *Tensor) error {
	_, g, oh, ow, err := k.shape(x.Shape, wShape)
	if err != nil {
		return err
	}
	n, c, h, wd, _ := as4(x.Shape)
	m := wShape[0]
	mg, cg := m/k.group, c/k.group
	kk := cg * g.kh * g.kw
	p := oh * ow
	if n == 0 || p == 0 || m == 0 {
		return nil
	}
	xb := qbytes(x)
	signed := x.Type == onnxio.Int8
	col := make([]uint8, p*kk)
	tmp := newTensor(q.dt, []int{p * mg})
	direct := g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && oh == h && ow == wd
	for ni := 0; ni < n; ni++ {
		for gi := 0; gi < k.group; gi++ {
			src := xb[(ni*c+gi*cg)*h*wd : (ni*c+(gi+1)*cg)*h*wd]
			if direct {
				transposeInto(col, cg, src, cg, p) // 1×1: col is the group's NHWC image
			} else {
				im2colQ(col, src, cg, h, wd, g, oh, ow, byte(za))
			}
			q.gemm(rc, p, col, kk, signed, za, packed[gi], gi*mg, tmp, 0)
			transposeTensor(o, (ni*m+gi*mg)*p, p, tmp, p, mg)
		}
	}
	return nil
}

// im2colQ unfolds one group of one image (cg×h×w bytes) into col, p rows
// of K = cg·kh·kw, padding taps set to pad.
func im2colQ(col, x []uint8, cg, h, w int, g convGeom, oh, ow int, pad byte) {
	kk := cg * g.kh * g.kw
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := col[(oy*ow+ox)*kk : (oy*ow+ox+1)*kk]
			i := 0
			for ci := 0; ci < cg; ci++ {
				xc := x[ci*h*w : (ci+1)*h*w]
				for ky := 0; ky < g.kh; ky++ {
					iy := oy*g.sh - g.pt + ky*g.dh
					if iy < 0 || iy >= h {
						for kx := 0; kx < g.kw; kx++ {
							row[i+kx] = pad
						}
						i += g.kw
						continue
					}
					xr := xc[iy*w : (iy+1)*w]
					ix := ox*g.sw - g.pl
					for kx := 0; kx < g.kw; kx++ {
						if ix >= 0 && ix < w {
							row[i] = xr[ix]
						} else {
							row[i] = pad
						}
						ix += g.dw
						i++
					}
				}
			}
		}
	}
}

package kernels

import (
	"fmt"
	"sync"
	"unsafe"
)

// INT8 depthwise 2-D convolution, NHWC: one image of inH×inW pixels with C
// contiguous uint8 channels (zero point za), one kh×kw filter per channel
// (int8, zero point per tensor or per channel), output OH×OW pixels of C
// channels through the same fused output stage as QGemmU8 (QOutput with N
// = C, Ldc = the distance between output pixels, >= C).
//
// Each output is Σ over taps of (x - za)·(w - zw[c]), exact in int32:
// the weights are stored minus their zero point as int32 at packing, so
// zero points cost nothing per tap; padding taps read a row of za bytes
// (an indirection buffer, as XNNPACK does), which contributes 0; and the
// za term, -za·Σ_t (w - zw), is folded with the bias into the starting
// value of each channel, so a tap is one widening load and one
// multiply-add (VPDPWSSD with AVX512-VNNI: x and w are both exact int16).
// The per-pixel kernel (Go, or AVX-512 where available, 16 channels per
// vector) produces the int32 row of C channels; the output stage is the
// shared Go/SIMD one, so every path gives identical results.

// QDepthwiseWeights are depthwise filters packed for QDepthwiseConvU8:
// w[t*C + c] = W[c][t] - zw[c] as int32, taps t = ky*kw + kx.
type QDepthwiseWeights struct {
	c, kh, kw int
	w         []int32
	colSum    []int32 // Σ_t w[t*C+c]
}

// PackDepthwiseInt8 packs depthwise filters given in ONNX layout
// [C][1][kh][kw] (each channel's kh·kw weights contiguous). zeroPoint is
// none, one, or C values in [-128, 127].
func PackDepthwiseInt8(c, kh, kw int, w []int8, zeroPoint ...int32) *QDepthwiseWeights {
	if c <= 0 || kh <= 0 || kw <= 0 {
		panic(fmt.Sprintf("kernels: PackDepthwiseInt8: bad size %d×%d×%d", c, kh, kw))
	}
	taps := kh * kw
	if len(w) < c*taps {
		panic(fmt.Sprintf("kernels: PackDepthwiseInt8: %d weights for %d×%d×%d", len(w), c, kh, kw))
	}
	if len(zeroPoint) > 1 && len(zeroPoint) != c {
		panic(fmt.Sprintf("kernels: PackDepthwiseInt8: %d zero points for %d channels", len(zeroPoint), c))
	}
	for _, z := range zeroPoint {
		if z < -128 || z > 127 {
			panic(fmt.Sprintf("kernels: PackDepthwiseInt8: zero point %d out of int8 range", z))
		}
	}
	d := &QDepthwiseWeights{c: c, kh: kh, kw: kw, w: make([]int32, taps*c), colSum: make([]int32, c)}
	for ch := 0; ch < c; ch++ {
		var zw int32
		if len(zeroPoint) > 0 {
			zw = zeroPoint[min(ch, len(zeroPoint)-1)]
		}
		for t := 0; t < taps; t++ {
			d.w[t*c+ch] = int32(w[ch*taps+t]) - zw
			d.colSum[ch] += d.w[t*c+ch]
		}
	}
	return d
}

// QConvGeom is a 2-D convolution's geometry. Zero strides and dilations
// mean 1.
type QConvGeom struct {
	StrideH, StrideW                     int
	PadTop, PadLeft, PadBottom, PadRight int
	DilationH, DilationW                 int
}

func (g QConvGeom) norm() QConvGeom {
	g.StrideH, g.StrideW = max(g.StrideH, 1), max(g.StrideW, 1)
	g.DilationH, g.DilationW = max(g.DilationH, 1), max(g.DilationW, 1)
	return g
}

// OutSize is the output height and width for an inH×inW input and a
// kh×kw filter.
func (g QConvGeom) OutSize(inH, inW, kh, kw int) (oh, ow int) {
	g = g.norm()
	oh = (inH+g.PadTop+g.PadBottom-g.DilationH*(kh-1)-1)/g.StrideH + 1
	ow = (inW+g.PadLeft+g.PadRight-g.DilationW*(kw-1)-1)/g.StrideW + 1
	return max(oh, 0), max(ow, 0)
}

// QDepthwiseConvU8 computes the depthwise convolution of in (inH×inW×C
// uint8, NHWC, zero point za) with dw into out (OH·OW pixels; see
// QGemmU8 for the output stages). threads > 1 splits the output rows.
func QDepthwiseConvU8(in []uint8, inH, inW int, za uint8, dw *QDepthwiseWeights, geom QConvGeom, out *QOutput, threads int) {
	g := geom.norm()
	C := dw.c
	if inH < 0 || inW < 0 || len(in) < inH*inW*C {
		panic(fmt.Sprintf("kernels: QDepthwiseConvU8: input has %d elements for %d×%d×%d", len(in), inH, inW, C))
	}
	if g.PadTop < 0 || g.PadLeft < 0 || g.PadBottom < 0 || g.PadRight < 0 {
		panic("kernels: QDepthwiseConvU8: negative padding")
	}
	oh, ow := g.OutSize(inH, inW, dw.kh, dw.kw)
	if oh == 0 || ow == 0 {
		return
	}
	st := newQoutStage(oh*ow, C, dw.kh*dw.kw, int32(za), dw.colSum, nil, out)
	zrow := make([]uint8, C)
	for i := range zrow {
		zrow[i] = za
	}
	threads = max(1, min(threads, oh))
	run := func(y0, y1 int) {
		taps := dw.kh * dw.kw
		ptrs := make([]unsafe.Pointer, taps)
		acc := make([]int32, C)
		for oy := y0; oy < y1; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ky := 0; ky < dw.kh; ky++ {
					iy := oy*g.StrideH - g.PadTop + ky*g.DilationH
					for kx := 0; kx < dw.kw; kx++ {
						ix := ox*g.StrideW - g.PadLeft + kx*g.DilationW
						p := unsafe.Pointer(&zrow[0])
						if iy >= 0 && iy < inH && ix >= 0 && ix < inW {
							p = unsafe.Pointer(&in[(iy*inW+ix)*C])
						}
						ptrs[ky*dw.kw+kx] = p
					}
				}
				qdwPixel(ptrs, dw.w, C, st.colCorr, acc)
				st.apply(acc, C, oy*ow+ox, 1, 0, C)
			}
		}
	}
	if threads == 1 {
		run(0, oh)
		return
	}
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		y0, y1 := oh*t/threads, oh*(t+1)/threads
		wg.Add(1)
		go func() { defer wg.Done(); run(y0, y1) }()
	}
	wg.Wait()
}

// qdwPixel computes one output pixel's C int32 sums: acc[c] = init[c] +
// Σ_t x_t[c]·w[t*C+c], x_t the C uint8 channels at ptrs[t].
func qdwPixel(ptrs []unsafe.Pointer, w []int32, c int, init, acc []int32) {
	if qdwPixelAsm != nil && !qrequantNoAsm && len(ptrs) > 0 {
		_ = w[len(ptrs)*c-1]
		_ = init[c-1]
		_ = acc[c-1]
		qdwPixelAsm(&ptrs[0], len(ptrs), &w[0], c, &init[0], &acc[0])
		return
	}
	qdwPixelGo(ptrs, w, c, init, acc)
}

func qdwPixelGo(ptrs []unsafe.Pointer, w []int32, c int, init, acc []int32) {
	acc = acc[:c]
	copy(acc, init[:c])
	for t, p := range ptrs {
		xs := unsafe.Slice((*uint8)(p), c)
		ws := w[t*c : t*c+c]
		for ch := range acc {
			acc[ch] += int32(xs[ch]) * ws[ch]
		}
	}
}

// qdwPixelAsm, where set, is qdwPixel in SIMD.
var qdwPixelAsm func(ptrs *unsafe.Pointer, ntaps int, w *int32, c int, init, acc *int32)

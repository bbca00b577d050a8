package kernels

import (
	"fmt"
	"slices"
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
// shared Go/SIMD one, so every path gives identical results. With
// AVX512-VNNI and weights that fit int8, the quad form (qdwQuadRows)
// packs four neighbouring columns' bytes of a channel into a dword so
// that one VPDPBUSD adds four taps (1.3-1.9x the pointer form on 5x5
// filters, BenchmarkQDepthwiseConv); its kernel also does the float
// requantization as it stores, in the output stage's exact steps.

// QDepthwiseWeights are depthwise filters packed for QDepthwiseConvU8:
// w[t*C + c] = W[c][t] - zw[c] as int32, taps t = ky*kw + kx.
type QDepthwiseWeights struct {
	c, kh, kw int
	w         []int32
	colSum    []int32 // Σ_t w[t*C+c]
	// The quad form, when every w fits int8: nq = ceil(kw/4) quads of
	// taps per kernel row, wq[(ky*nq+q)*C + c] holding taps 4q..4q+3 of
	// row ky as four int8 (0 past kw), for qdwQuadAsm.
	nq int
	wq []int32
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
	if qdwQuadAsm != nil && !slices.ContainsFunc(d.w, func(v int32) bool { return v < -128 || v > 127 }) {
		d.nq = (kw + 3) / 4
		// (qdwQuadAsm reads whole vectors: up to 15 int32 past the end.)
		d.wq = make([]int32, kh*d.nq*c, kh*d.nq*c+15)
		for ky := 0; ky < kh; ky++ {
			for kx := 0; kx < kw; kx++ {
				q := (ky*d.nq + kx/4) * c
				for ch := 0; ch < c; ch++ {
					d.wq[q+ch] |= int32(uint32(uint8(d.w[(ky*kw+kx)*c+ch])) << (8 * (kx % 4)))
				}
			}
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
	qdepthwise(in, false, inH, inW, za, dw, geom, out, threads)
}

// QDepthwiseConvS8 is QDepthwiseConvU8 for int8 activations with zero
// point za. The quad form turns them into uint8 (x XOR 0x80 = x + 128)
// as it builds its quads; the per-pixel form reads a flipped copy.
func QDepthwiseConvS8(in []int8, inH, inW int, za int8, dw *QDepthwiseWeights, geom QConvGeom, out *QOutput, threads int) {
	u := unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(in))), len(in))
	zu := uint8(za) ^ 0x80
	g := geom.norm()
	if _, ow := g.OutSize(inH, inW, dw.kh, dw.kw); dw.quadForm(g, ow) {
		qdepthwise(u, true, inH, inW, zu, dw, geom, out, threads)
		return
	}
	bp := qdwFlipPool.Get().(*[]uint8)
	defer qdwFlipPool.Put(bp)
	n := min(len(u), max(0, inH*inW*dw.c))
	*bp = grow8(*bp, n)
	for i, v := range u[:n] {
		(*bp)[i] = v ^ 0x80
	}
	qdepthwise(*bp, false, inH, inW, zu, dw, geom, out, threads)
}

var qdwFlipPool = sync.Pool{New: func() any { return new([]uint8) }}

// quadForm reports whether qdwQuadRows runs dw with geometry g (normed)
// and ow output columns.
func (dw *QDepthwiseWeights) quadForm(g QConvGeom, ow int) bool {
	// (The quad rows take (kh·DilationH + 1)·(about OW·StrideW)·C·4
	// bytes: a very wide image keeps the pointer form. The quads need
	// VPDPBUSD zmm: with another Int8 path forced, the pointer form runs,
	// as on a CPU without it.)
	return dw.wq != nil && qdwQuadAsm != nil && !qrequantNoAsm && Int8.Active() == "avx512vnni" &&
		g.DilationW == 1 && (dw.kh*g.DilationH+1)*(ow*g.StrideW+dw.kw)*dw.c*4 <= qdwQuadMaxBytes
}

// qdepthwise is QDepthwiseConvU8; with flip, in holds int8 codes that
// the quad form flips to uint8 (only the quad form takes them).
func qdepthwise(in []uint8, flip bool, inH, inW int, za uint8, dw *QDepthwiseWeights, geom QConvGeom, out *QOutput, threads int) {
	g := geom.norm()
	C := dw.c
	if inH < 0 || inW < 0 || len(in) < inH*inW*C {
		panic(fmt.Sprintf("kernels: QDepthwiseConv: input has %d elements for %d×%d×%d", len(in), inH, inW, C))
	}
	if g.PadTop < 0 || g.PadLeft < 0 || g.PadBottom < 0 || g.PadRight < 0 {
		panic("kernels: QDepthwiseConv: negative padding")
	}
	oh, ow := g.OutSize(inH, inW, dw.kh, dw.kw)
	if oh == 0 || ow == 0 {
		return
	}
	quad := dw.quadForm(g, ow)
	if flip && !quad {
		panic("kernels: qdepthwise: int8 input on the per-pixel form")
	}
	st := newQoutStage(oh*ow, C, dw.kh*dw.kw, int32(za), dw.colSum, nil, out)
	defer st.release()
	zb := qdwPool.Get().(*qdwBuf)
	defer qdwPool.Put(zb)
	zb.zrow = grow8(zb.zrow, C)
	zrow := zb.zrow
	for i := range zrow {
		zrow[i] = za
	}
	taps := dw.kh * dw.kw
	// Output columns [oxLo, oxHi) read no padding along x: their taps'
	// pointers move by StrideW pixels from one to the next, so a whole
	// segment is one qdwRow call; the others are segments of one.
	oxLo := min(ow, (g.PadLeft+g.StrideW-1)/g.StrideW)
	oxHi := max(oxLo, min(ow, (inW-1+g.PadLeft-(dw.kw-1)*g.DilationW)/g.StrideW+1))
	if inW-1+g.PadLeft-(dw.kw-1)*g.DilationW < 0 {
		oxHi = oxLo
	}
	run := func(y0, y1 int) {
		if quad {
			qdwQuadRows(in, flip, zrow, inH, inW, za, dw, g, ow, st, y0, y1)
			return
		}
		b := qdwPool.Get().(*qdwBuf)
		defer b.put(taps)
		if cap(b.ptrs) < taps {
			b.ptrs, b.strides = make([]unsafe.Pointer, taps), make([]int, taps)
		}
		ptrs, strides := b.ptrs[:taps], b.strides[:taps]
		b.acc = growInt32(b.acc, ow*C)
		acc := b.acc
		segment := func(oy, ox0, ox1 int) {
			for ky := 0; ky < dw.kh; ky++ {
				iy := oy*g.StrideH - g.PadTop + ky*g.DilationH
				for kx := 0; kx < dw.kw; kx++ {
					ix := ox0*g.StrideW - g.PadLeft + kx*g.DilationW
					t := ky*dw.kw + kx
					ptrs[t], strides[t] = unsafe.Pointer(&zrow[0]), 0
					if iy >= 0 && iy < inH && ix >= 0 && ix < inW {
						ptrs[t], strides[t] = unsafe.Pointer(&in[(iy*inW+ix)*C]), g.StrideW*C
					}
				}
			}
			n := ox1 - ox0
			qdwRow(ptrs, strides, n, dw.w, C, st.colCorr, acc[:n*C])
			st.apply(acc, C, oy*ow+ox0, n, 0, C)
		}
		for oy := y0; oy < y1; oy++ {
			for ox := 0; ox < oxLo; ox++ {
				segment(oy, ox, ox+1)
			}
			if oxHi > oxLo {
				segment(oy, oxLo, oxHi)
			}
			for ox := oxHi; ox < ow; ox++ {
				segment(oy, ox, ox+1)
			}
		}
	}
	splitRows(threads, oh, run)
}

// qdwQuadRows computes output rows [y0, y1) in the quad form (kernel
// width dilation 1, int8 weights): each input row in use is turned once
// into quads, Q[j][c] = the bytes of padded columns j..j+3 of channel c
// (padding columns read zrow, C bytes of za), kept in a ring of slots
// (row iy in slot iy mod kh·DilationH, so one output row's rows never
// share a slot); then a kernel row's taps 4q..4q+3 for output pixel ox
// are the one dword Q[ox·StrideW + 4q][c] and VPDPBUSD adds all four.
// Rows above or below the image use a row of za quads. Quads take four
// times the input's bytes, so the channels go in blocks whose ring fits
// in about half of L1, where the kh output rows that read a quad row
// find it.
func qdwQuadRows(in []uint8, flip bool, zrow []uint8, inH, inW int, za uint8, dw *QDepthwiseWeights, g QConvGeom, ow int, st *qoutStage, y0, y1 int) {
	C, kh := dw.c, dw.kh
	cols := (ow-1)*g.StrideW + 4*(dw.nq-1) + 1 // quads per row
	xcols := cols + 3                          // padded input columns
	slots := kh * g.DilationH
	l1 := cacheSizes().L1D
	if l1 <= 0 {
		l1 = 32 << 10
	}
	cb := min(C, max(16, l1/2/((slots+1)*cols*4)/16*16))
	b := qdwPool.Get().(*qdwBuf)
	if cap(b.ptrs) < kh {
		b.ptrs, b.strides = make([]unsafe.Pointer, kh), make([]int, kh)
	}
	defer b.put(kh)
	rows := b.ptrs[:kh]
	// Padded columns [0, lo) and [hi, xcols) read zrow, [lo, hi) the image.
	lo := min(g.PadLeft, xcols)
	hi := max(lo, min(xcols, g.PadLeft+inW))
	segs := &b.segs
	segs[0] = qdwSeg{unsafe.Pointer(&zrow[0]), 0, lo, 0}
	segs[2] = qdwSeg{unsafe.Pointer(&zrow[0]), 0, xcols - hi, 0}
	var x uint32 // flips the image's bytes (not zrow's) where int8
	if flip {
		x = 0x80
	}
	// (+15: qdwQuadAsm reads whole vectors, up to 15 int32 past a row.)
	b.quad = growInt32(b.quad, slots*cols*cb+15)
	// A float requantization without weight zero points (the common
	// case) is done by the kernel as it stores: no int32 pass.
	// (qrequantNoAsm keeps the quad form off altogether.)
	fused := st.kind == qoutQuant && st.zp == nil
	var out []byte
	if fused {
		out = st.Uint8
		if st.signed {
			out = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(st.Int8))), len(st.Int8))
		}
		if !st.perCh {
			// The kernel reads a scale per channel.
			b.scale = slices.Grow(b.scale[:0], cb)[:cb]
			for i := range b.scale {
				b.scale[i] = st.Scale[0]
			}
		}
	} else {
		b.acc = growInt32(b.acc, ow*cb)
	}
	b.tags = slices.Grow(b.tags[:0], slots)[:slots]
	// The row of za quads stays filled in the pool from call to call: on
	// small images, filling it took a fifth of the time.
	zq := int32(uint32(za) * 0x01010101)
	if cap(b.pad) < cols*cb+15 {
		b.pad = make([]int32, cols*cb+15)
		b.padZ = 0
	}
	pad := b.pad[:cap(b.pad)]
	if b.padZ != zq {
		for i := range pad {
			pad[i] = zq
		}
		b.padZ = zq
	}
	for c0 := 0; c0 < C; c0 += cb {
		n := min(cb, C-c0)
		for i := range b.tags {
			b.tags[i] = -1
		}
		for oy := y0; oy < y1; oy++ {
			for ky := range kh {
				iy := oy*g.StrideH - g.PadTop + ky*g.DilationH
				if iy < 0 || iy >= inH {
					rows[ky] = unsafe.Pointer(&pad[0])
					continue
				}
				s := iy % slots
				q := b.quad[s*cols*cb : (s+1)*cols*cb]
				if b.tags[s] != iy {
					segs[1] = qdwSeg{unsafe.Pointer(&zrow[0]), C, hi - lo, x}
					if hi > lo {
						segs[1].p = unsafe.Pointer(&in[(iy*inW+lo-g.PadLeft)*C])
					}
					qdwQuadBuildAsm(&q[0], &segs[0], n, c0)
					b.tags[s] = iy
				}
				rows[ky] = unsafe.Pointer(&q[0])
			}
			if fused {
				sc := b.scale
				if st.perCh {
					sc = st.Scale[c0 : c0+n]
				}
				o := oy*ow*st.Ldc + c0
				_ = out[o+(ow-1)*st.Ldc+n-1]
				qdwQuadAsm(&rows[0], kh, dw.nq, g.StrideW*n*4, ow, &dw.wq[c0], n, C, &st.colCorr[c0], unsafe.Pointer(&out[o]), st.Ldc, &sc[0], st.flo, st.fhi, st.ZeroPoint)
				continue
			}
			// Int32 sums (pixels n apart) for the shared output stage.
			qdwQuadAsm(&rows[0], kh, dw.nq, g.StrideW*n*4, ow, &dw.wq[c0], n, C, &st.colCorr[c0], unsafe.Pointer(&b.acc[0]), 4*n, nil, 0, 0, 0)
			st.apply(b.acc, n, oy*ow, ow, c0, n)
		}
	}
}

// qdwBuf is the scratch of a QDepthwiseConvU8 call (zrow) or of one of
// its threads (the rest), pooled: small models make many short calls.
type qdwBuf struct {
	zrow    []uint8
	ptrs    []unsafe.Pointer
	strides []int
	acc     []int32
	quad    []int32 // quad rows (qdwQuadRows)
	pad     []int32 // quads of za, padZ, in all of pad[:cap(pad)]
	padZ    int32
	scale   []float32 // a per-tensor scale per channel (qdwQuadRows)
	segs    [3]qdwSeg
	tags    []int // the input row in each quad slot
}

var qdwPool = sync.Pool{New: func() any { return new(qdwBuf) }}

// put returns b to the pool, dropping the pointers into the caller's
// input so the pool does not keep it alive.
func (b *qdwBuf) put(taps int) {
	clear(b.ptrs[:taps])
	b.segs = [3]qdwSeg{}
	qdwPool.Put(b)
}

// grow8 returns b resized to n, reallocated only when too small.
func grow8(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

// qdwRow computes npix output pixels' C int32 sums: acc[p*C+c] = init[c]
// + Σ_t x_t[c]·w[t*C+c], x_t the C uint8 channels at ptrs[t], each
// pointer moving by strides[t] bytes from one pixel to the next. ptrs may
// be left at any pixel of the segment.
func qdwRow(ptrs []unsafe.Pointer, strides []int, npix int, w []int32, c int, init, acc []int32) {
	if npix <= 0 {
		return
	}
	_ = acc[npix*c-1]
	if qdwRowAsm != nil && !qrequantNoAsm && len(ptrs) > 0 {
		_ = strides[len(ptrs)-1]
		_ = w[len(ptrs)*c-1]
		_ = init[c-1]
		cv := c &^ (qdwRowAsmStep - 1)
		if cv == 0 {
			qdwRowGo(ptrs, strides, npix, w, c, 0, c, init, acc)
			return
		}
		// The channels the vectors leave first: the kernel moves ptrs.
		if cv < c {
			qdwRowGo(ptrs, strides, npix, w, c, cv, c, init, acc)
		}
		qdwRowAsm(&ptrs[0], &strides[0], len(ptrs), npix, &w[0], c, &init[0], &acc[0])
		return
	}
	qdwRowGo(ptrs, strides, npix, w, c, 0, c, init, acc)
}

// qdwRowGo is qdwRow for channels [c0, c1); it leaves ptrs alone.
func qdwRowGo(ptrs []unsafe.Pointer, strides []int, npix int, w []int32, c, c0, c1 int, init, acc []int32) {
	if c0 >= c1 {
		return // (a pointer c0 bytes on could be past its allocation)
	}
	for p := 0; p < npix; p++ {
		a := acc[p*c+c0 : p*c+c1]
		copy(a, init[c0:c1])
		for t, q := range ptrs {
			xs := unsafe.Slice((*uint8)(unsafe.Add(q, p*strides[t]+c0)), c1-c0)
			ws := w[t*c+c0 : t*c+c1]
			for ch := range a {
				a[ch] += int32(xs[ch]) * ws[ch]
			}
		}
	}
}

// qdwSeg is a run of n byte columns for qdwQuadBuildAsm: the first at p,
// the next ones stride bytes apart (0: the same column again).
type qdwSeg struct {
	p         unsafe.Pointer
	stride, n int
	flip      uint32 // XORed into each column's bytes as they are read
}

// qdwQuadMaxBytes bounds the quad rows of one thread.
const qdwQuadMaxBytes = 8 << 20

// qdwQuadAsm and qdwQuadBuildAsm, where set, are the quad form's row
// kernel and quad builder (see qdwQuadRows and their assembly). The row
// kernel stores pixel p's c channels at dst + p·ldd: requantized bytes as
// qrequantRow makes them with a scale per channel (scale[:c]), or with
// scale nil the int32 sums (ldd is in bytes either way).
var (
	qdwQuadAsm      func(rows *unsafe.Pointer, kh, nq, sws, npix int, wq *int32, c, wstride int, init *int32, dst unsafe.Pointer, ldd int, scale *float32, flo, fhi float32, zp int32)
	qdwQuadBuildAsm func(dst *int32, segs *qdwSeg, c, off int)
)

// qdwRowAsm, where set, is qdwRow in SIMD for channels [0, C &^
// (qdwRowAsmStep-1)) (all of them for masked AVX-512).
var (
	qdwRowAsm     func(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)
	qdwRowAsmStep = 1
)

package kernels

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// INT8 convolution of an image with few input channels (a network's first
// layer: the 1 to 4 planes of a gray or RGB input), planes in and planes
// out (NCHW). The GEMM form would unfold such an image into rows of
// K = Cin·kh·kw, as short as 27 bytes, and multiply them by as few as 8
// output channels, where its 32-wide tiles run a quarter full; here the
// output pixels run along the vector lanes instead (as XNNPACK's conv-hwc
// kernels do for float first layers): for each input channel and kernel
// row, one byte permutation (VPERMB) gathers each of 16 output pixels' kw
// (<= 4) input bytes into a dword, and one VPDPBUSD per output channel
// adds those kw taps for the 16 pixels. The requantization is fused in
// and each channel's 16 bytes are stored into its plane.
//
// Each output is Σ over taps of (x - za)·w, exact in int32; padding
// reads za, which contributes 0; -za·Σw and the bias start the sums.

// QConvRowsWeights are a convolution's filters packed for QConvRows.
type QConvRowsWeights struct {
	cout, cin, kh, kw int
	nc                int     // channels per kernel call (8 or 16)
	w                 []int32 // [cin·kh][nc] dwords: bytes kx < kw = W[co][ci][ky][kx]
	colSum            []int32 // Σ W[co]
}

// QConvRowsFits reports whether a convolution can run on QConvRows: at
// most 16 output and 4 input channels, kernels of at most 16 rows of 4
// taps, horizontal stride 1 or 2, no dilation.
func QConvRowsFits(cout, cin, kh, kw int, g QConvGeom) bool {
	g = g.norm()
	return cout >= 1 && cout <= 16 && cin >= 1 && cin <= 4 && kh >= 1 && kh <= 16 && kw >= 1 && kw <= 4 &&
		(g.StrideW == 1 || g.StrideW == 2) && g.DilationH == 1 && g.DilationW == 1
}

// QConvRowsFast reports whether QConvRows runs in SIMD on the active Int8
// path (the GEMM form is faster than its Go loops).
func QConvRowsFast() bool {
	return qconvRowsAsm[0] != nil && Int8.Active() == "avx512vnni"
}

// PackConvRowsWeights packs cout filters of cin×kh×kw int8 weights (ONNX
// layout [cout][cin][kh][kw]) with zero point 0 for QConvRows.
func PackConvRowsWeights(cout, cin, kh, kw int, w []int8) *QConvRowsWeights {
	if cout < 1 || cout > 16 || cin < 1 || cin > 4 || kh < 1 || kh > 16 || kw < 1 || kw > 4 {
		panic(fmt.Sprintf("kernels: PackConvRowsWeights: %d×%d×%d×%d filters", cout, cin, kh, kw))
	}
	if len(w) < cout*cin*kh*kw {
		panic(fmt.Sprintf("kernels: PackConvRowsWeights: %d weights for %d×%d×%d×%d", len(w), cout, cin, kh, kw))
	}
	nc := 8
	if cout > 8 {
		nc = 16
	}
	p := &QConvRowsWeights{cout: cout, cin: cin, kh: kh, kw: kw, nc: nc, w: make([]int32, cin*kh*nc), colSum: make([]int32, cout)}
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			for ky := 0; ky < kh; ky++ {
				var d uint32
				for kx := 0; kx < kw; kx++ {
					v := w[((co*cin+ci)*kh+ky)*kw+kx]
					d |= uint32(uint8(v)) << (8 * kx)
					p.colSum[co] += int32(v)
				}
				p.w[(ci*kh+ky)*nc+co] = int32(d)
			}
		}
	}
	return p
}

// QConvRows convolves one image (cin planes of inH×inW bytes: uint8 codes,
// or int8 with signed; zero point za) with wts into out's cout planes of
// OH·OW bytes, plane stride out.Ldc (>= OH·OW), through out's float
// requantization (Uint8 or Int8 with Scale of 1 or cout values, Bias,
// ZeroPoint, Clamp: see QOutput; Multiplier is not taken). threads > 1
// splits the output rows.
func QConvRows(in []byte, signed bool, za int32, inH, inW int, wts *QConvRowsWeights, geom QConvGeom, out *QOutput, threads int) {
	g := geom.norm()
	if !QConvRowsFits(wts.cout, wts.cin, wts.kh, wts.kw, g) {
		panic(fmt.Sprintf("kernels: QConvRows: %+v does not fit", g))
	}
	if inH < 0 || inW < 0 || len(in) < wts.cin*inH*inW {
		panic(fmt.Sprintf("kernels: QConvRows: %d bytes for %d planes of %d×%d", len(in), wts.cin, inH, inW))
	}
	oh, ow := g.OutSize(inH, inW, wts.kh, wts.kw)
	if oh == 0 || ow == 0 {
		return
	}
	st := newConvRowsStage(wts, oh*ow, signed, za, out, g.StrideW)
	defer convRowsStages.Put(st)
	// Padded rows: input row iy (from -PadTop) of channel ci at
	// pad[(ci*rows + iy+PadTop)*lp:], its column ix at ix+PadLeft, za
	// around, long enough for every block's 64-byte window; then one row
	// of za, the source of the padding's copies.
	nblk := (ow + 15) / 16
	lp := max((nblk-1)*16*g.StrideW+64, g.PadLeft+inW)
	rows := (oh-1)*g.StrideH + wts.kh
	bp := qconvRowsPool.Get().(*[]byte)
	defer qconvRowsPool.Put(bp)
	*bp = grow8(*bp, (wts.cin*rows+1)*lp)
	pad := *bp
	zrow := pad[wts.cin*rows*lp:]
	fillByte(zrow, byte(st.za))
	var flip byte
	if signed {
		flip = 0x80
	}
	top := min(g.PadTop, rows)
	img := max(0, min(inH, rows-top))
	for ci := 0; ci < wts.cin; ci++ {
		p := pad[ci*rows*lp : (ci+1)*rows*lp]
		byteRows(p, zrow, top, lp, lp, 0, 0)
		if img > 0 {
			q := p[top*lp:]
			byteRows(q, zrow, img, g.PadLeft, lp, 0, 0)
			byteRows(q[g.PadLeft:], in[ci*inH*inW:], img, inW, lp, inW, flip)
			byteRows(q[g.PadLeft+inW:], zrow, img, lp-g.PadLeft-inW, lp, 0, 0)
		}
		byteRows(p[(top+img)*lp:], zrow, rows-top-img, lp, lp, 0, 0)
	}
	run := func(y0, y1 int) {
		var ptrs [4 * 16]unsafe.Pointer
		taps := wts.cin * wts.kh
		for oy := y0; oy < y1; oy++ {
			for ci := 0; ci < wts.cin; ci++ {
				for ky := 0; ky < wts.kh; ky++ {
					ptrs[ci*wts.kh+ky] = unsafe.Pointer(&pad[(ci*rows+oy*g.StrideH+ky)*lp])
				}
			}
			st.row(ptrs[:taps], pad, lp, wts, g.StrideW, oy, ow, nblk)
		}
	}
	splitRows(threads, oh, run)
}

var qconvRowsPool = sync.Pool{New: func() any { return new([]byte) }}

// byteRows is copyByteRowsXor for rows that may be none or empty.
func byteRows(dst, src []byte, rows, n, dstStride, srcStride int, x byte) {
	if rows > 0 && n > 0 {
		copyByteRowsXor(dst, src, rows, n, dstStride, srcStride, x)
	}
}

// convRowsStage is QConvRows' validated output stage and the kernels'
// byte gather for its stride.
type convRowsStage struct {
	dst      unsafe.Pointer // plane 0's first byte
	ldp      int            // plane stride
	cout     int
	za       int32 // the uint8 zero point of the flipped input
	init     [16]int32
	scale    []float32
	perCh    bool
	flo, fhi float32
	zp       int32
	idx      [64]byte // lane l's dword: bytes sw·l + j
	kmask    uint64   // the bytes j < kw
}

// convRowsStages recycles stages (a first layer runs once per image).
var convRowsStages = sync.Pool{New: func() any { return new(convRowsStage) }}

func newConvRowsStage(wts *QConvRowsWeights, plane int, signed bool, za int32, out *QOutput, sw int) *convRowsStage {
	st := convRowsStages.Get().(*convRowsStage)
	*st = convRowsStage{cout: wts.cout, ldp: out.Ldc, za: za, zp: out.ZeroPoint}
	for l := 0; l < 16; l++ {
		for j := 0; j < 4; j++ {
			st.idx[4*l+j] = byte(sw*l + j)
			if j < wts.kw {
				st.kmask |= 1 << (4*l + j)
			}
		}
	}
	lo, hi := int32(0), int32(255)
	var n int
	switch {
	case out.Uint8 != nil && out.Int8 == nil:
		st.dst, n = unsafe.Pointer(unsafe.SliceData(out.Uint8)), len(out.Uint8)
	case out.Int8 != nil && out.Uint8 == nil:
		st.dst, n = unsafe.Pointer(unsafe.SliceData(out.Int8)), len(out.Int8)
		lo, hi = -128, 127
	default:
		panic("kernels: QConvRows: QOutput needs one of Uint8, Int8")
	}
	if signed {
		st.za += 128
	}
	if st.za < 0 || st.za > 255 {
		panic(fmt.Sprintf("kernels: QConvRows: input zero point %d out of range", za))
	}
	if out.Ldc < plane || n < (wts.cout-1)*out.Ldc+plane {
		panic(fmt.Sprintf("kernels: QConvRows: output of %d bytes, plane stride %d, for %d planes of %d", n, out.Ldc, wts.cout, plane))
	}
	if out.Multiplier != nil || (len(out.Scale) != 1 && len(out.Scale) != wts.cout) || (out.Bias != nil && len(out.Bias) != wts.cout) {
		panic("kernels: QConvRows: want Scale of 1 or cout values and Bias of cout or none")
	}
	for _, s := range out.Scale {
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			panic("kernels: QConvRows: non-finite Scale")
		}
	}
	if out.ZeroPoint < lo || out.ZeroPoint > hi {
		panic(fmt.Sprintf("kernels: QConvRows: output zero point %d out of range", out.ZeroPoint))
	}
	if out.Clamp {
		if out.Min < lo || out.Max > hi || out.Min > out.Max {
			panic(fmt.Sprintf("kernels: QConvRows: clamp [%d, %d] out of range", out.Min, out.Max))
		}
		lo, hi = out.Min, out.Max
	}
	st.flo, st.fhi = float32(lo-out.ZeroPoint), float32(hi-out.ZeroPoint)
	st.scale, st.perCh = out.Scale, len(out.Scale) > 1
	for co := 0; co < wts.cout; co++ {
		st.init[co] = -st.za * wts.colSum[co]
		if out.Bias != nil {
			st.init[co] += out.Bias[co]
		}
	}
	return st
}

// row computes output row oy from the tap rows ptrs (input channel ci,
// kernel row ky at ci·kh + ky), in SIMD where it runs, else in Go.
func (st *convRowsStage) row(ptrs []unsafe.Pointer, pad []byte, lp int, wts *QConvRowsWeights, sw, oy, ow, nblk int) {
	dst := unsafe.Add(st.dst, oy*ow)
	if k := qconvRowsAsm[wts.nc/8-1]; k != nil && QConvRowsFast() {
		last := uint32(1)<<(ow-(nblk-1)*16) - 1
		k(&ptrs[0], len(ptrs), sw, &st.idx[0], st.kmask, &wts.w[0], nblk, last, &st.init[0], &st.scale[0], b2i(st.perCh), st.flo, st.fhi, st.zp, (*byte)(dst), st.ldp, st.cout)
		return
	}
	acc := make([]int32, ow)
	for co := 0; co < st.cout; co++ {
		for ox := range acc {
			s := st.init[co]
			for t, p := range ptrs {
				d := uint32(wts.w[t*wts.nc+co])
				for kx := 0; kx < wts.kw; kx++ {
					x := *(*byte)(unsafe.Add(p, ox*sw+kx))
					s += int32(x) * int32(int8(d>>(8*kx)))
				}
			}
			acc[ox] = s
		}
		sc := st.scale[min(co, len(st.scale)-1):]
		qrequantRowGo(acc, unsafe.Slice((*byte)(unsafe.Add(dst, co*st.ldp)), ow), sc[:1], false, st.flo, st.fhi, st.zp)
	}
}

// qconvRowsAsm, where set, are the kernels of 8 and 16 channels per call.
var qconvRowsAsm [2]func(rows *unsafe.Pointer, ntap, step int, idx *byte, kmask uint64, w *int32, nblk int, lastMask uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, dst *byte, plane, cout int)

func fillByte(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// xorCopy copies src to dst (len(src) bytes) with each byte XOR x.
func xorCopy(dst, src []byte, x byte) {
	dst = dst[:len(src)]
	if x == 0 {
		copy(dst, src)
		return
	}
	x64 := uint64(x) * 0x0101010101010101
	n := len(src) &^ 7
	for o := 0; o < n; o += 8 {
		*(*uint64)(unsafe.Pointer(&dst[o])) = *(*uint64)(unsafe.Pointer(&src[o])) ^ x64
	}
	for o := n; o < len(src); o++ {
		dst[o] = src[o] ^ x
	}
}

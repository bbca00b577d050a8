package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// 4-bit and 16-bit QDQ patterns on the integer kernels.
//
// The Conv/Gemm/MatMul patterns of qdq.go with other element types than
// int8 × int8 (qtool's w4a8, w4a4 and dfp16 schemes):
//
//   - w4a8, w4a4: int4/uint4 weights, per tensor, per output channel or
//     per block along the input channels (block_size), times uint8, int8,
//     uint4 or int4 activations, on kernels.QGemmW4U8 (signed activations
//     are moved to unsigned bytes: a+128 with the zero point likewise,
//     which leaves every a - za unchanged). Per channel the int32 sums go
//     through the INT8 output stage (float requantization, as for int8);
//     blocked, each block's sum is scaled in float and the sum quantized
//     by the per-tensor QuantizeLinear kernel. int4/uint4 outputs are the
//     int8/uint8 stage clamped to the 4-bit range.
//   - int16 (dfp16): int16 activations and weights with zero point 0 and
//     power-of-two scales, on kernels.GemmInt16 (exact int64 sums): the
//     requantization sx·sw/sy is a power of two 2^-s, so the output is the
//     sum shifted right by s, rounded half to even and saturated (exact,
//     where ONNX Runtime rounds a float sum); a float output is the sum
//     times 2^-s.
//
// Anything else (an int16 scale that is not a power of two, a block that
// does not line up with the kernels' K order, a nonzero int16 zero point)
// stays float.

// lowbitPrec is the precision of a pattern with activations of xdt and
// weights of wdt: "" for int8 × int8 (qdq.go), "w4a8", "w4a4" or "int16",
// or "-" when no integer kernel takes the pair.
func lowbitPrec(xdt, wdt onnxio.DataType) string {
	w4 := wdt == onnxio.Int4 || wdt == onnxio.Uint4
	switch {
	case isQ8(xdt) && isQ8(wdt):
		return ""
	case isQ8(xdt) && w4:
		return "w4a8"
	case (xdt == onnxio.Int4 || xdt == onnxio.Uint4) && w4:
		return "w4a4"
	case xdt == onnxio.Int16 && wdt == onnxio.Int16:
		return "int16"
	}
	return "-"
}

// lowbitOutType reports whether a pattern of precision prec can write a
// QuantizeLinear output of dt.
func lowbitOutType(prec string, dt onnxio.DataType) bool {
	switch prec {
	case "":
		return isQ8(dt)
	case "w4a8", "w4a4":
		return isQ8(dt) || dt == onnxio.Int4 || dt == onnxio.Uint4
	case "int16":
		return dt == onnxio.Int16
	}
	return false
}

// pow2Exp returns e with v = 2^e exactly, ok false if v is not a power of two.
func pow2Exp(v float64) (int, bool) {
	f, e := math.Frexp(v)
	return e - 1, f == 0.5
}

// bounds are the output clamp of a requantized match in its type: the
// type's range, narrowed by a fused Relu/Clip.
func (m *qdqMatch) bounds() (lo, hi int32) {
	lo, hi, _ = qLimits(m.ydt)
	if m.clamp {
		if !math.IsInf(float64(m.lo), -1) {
			lo = kernels.QuantizeValue(m.lo, m.sy, m.zy, lo, hi)
		}
		if !math.IsInf(float64(m.hi), 1) {
			hi = kernels.QuantizeValue(m.hi, m.sy, m.zy, lo, hi)
		}
	}
	return lo, hi
}

// lowbitK is a matched 4-bit or 16-bit Conv, Gemm or MatMul.
type lowbitK struct {
	qconv         // geometry, groups and layout (Conv)
	conv   bool   // Conv (else Gemm or MatMul)
	gemm   bool   // Gemm: 2-D A
	prec   string // w4a8, w4a4, int16
	wShape []int  // Conv W
	n, k   int    // output channels (all groups), K per group
	w4     []*kernels.QPacked4Weights
	w16    []*kernels.QPacked16Weights
	za     int32 // activation zero point, as unsigned bytes for w4
	flip   bool  // signed 8/4-bit activations: bytes XOR 0x80 before the kernels
	dt     onnxio.DataType
	// Per-channel w4: the INT8 output stage.
	q *qout
	// Blocked w4: Float32 sums (scale ascale, bias fbias), then quantized
	// with sy, zy into [lo, hi] when outQ.
	blocked bool
	ascale  float32
	fbias   []float32
	outQ    bool
	sy      float32
	zy      int32
	lo, hi  int32
	// int16: shift and bias of the sums.
	shift  int
	bias64 []int64
	clamp  bool
	lbufs  sync.Pool // *lowbitBufs
}

// lowbitBufs is one run's scratch.
type lowbitBufs struct {
	qconvBufs
	ftmp []float32
	lmul lowbitMul
}

// elemBytes is the size of one quantized element of dt as the engine holds it.
func elemBytes(dt onnxio.DataType) int {
	if dt == onnxio.Int16 || dt == onnxio.Uint16 {
		return 2
	}
	return 1
}

// rawBytes returns the memory of a quantized tensor's elements.
func rawBytes(t *Tensor) []byte {
	switch {
	case t.I16 != nil:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.I16))), 2*len(t.I16))
	case t.U16 != nil:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.U16))), 2*len(t.U16))
	case t.I8 != nil:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.I8))), len(t.I8))
	}
	return t.U8
}

func asInt16(b []byte) []int16 {
	return unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/2)
}

// transposeRaw is transposeInto on the raw elements of quantized tensors
// (es bytes each): dst[doff + j·ldd + i] = src[soff + i·n + j].
func transposeRaw(dst []byte, doff, ldd int, src []byte, soff, p, n, es int) {
	if es == 2 {
		transposeInto(asInt16(dst)[doff:], ldd, asInt16(src)[soff:soff+p*n], p, n)
		return
	}
	transposeInto(dst[doff:], ldd, src[soff:soff+p*n], p, n)
}

// lowbitOK checks that a matched 4-bit or 16-bit pattern fits the
// kernels (see the top of this file); the pattern stays float otherwise.
func lowbitOK(m *qdqMatch) bool {
	op := m.n.GetOpType()
	if m.outQ && !lowbitOutType(m.prec, m.ydt) {
		return false
	}
	if op == "Conv" && attrInt(m.n, "group", 1) > 1 && m.w.Shape[1] == 1 {
		// Depthwise: the 4-bit and 16-bit kernels are GEMMs, one call
		// per channel here, slower than the float path (measured on the
		// mobilenet fixture). 4-bit weights with 8-bit activations and
		// outputs are exactly int8 weights: the int8 step runs them.
		if m.prec != "w4a8" || m.wblock != 0 || (m.outQ && !isQ8(m.ydt)) {
			return false
		}
		m.w, m.w8 = widen4(m.w), true
	}
	if m.prec == "int16" {
		if m.za != 0 || len(m.sw) != 1 || (m.outQ && m.zy != 0) {
			return false
		}
		for _, z := range m.zw {
			if z != 0 {
				return false
			}
		}
		f := float64(m.sx) * float64(m.sw[0]) * float64(m.alpha)
		if m.outQ {
			f /= float64(m.sy)
		}
		e, ok := pow2Exp(f)
		return ok && -e >= 0 && -e <= 62
	}
	if m.wblock == 0 {
		return true
	}
	// Blocked 4-bit weights: the block axis must be K's, and the blocks
	// must be whole multiples of 4 in the kernels' K order.
	b := m.wblock
	switch op {
	case "Conv":
		cg := m.w.Shape[1]
		bk := min(b, cg)
		return m.wbaxis == 1 && cg%bk == 0 && bk%4 == 0
	case "Gemm":
		kAxis := 0 // W is K×N, or N×K with transB
		if attrInt(m.n, "transB", 0) != 0 {
			kAxis = 1
		}
		return b%4 == 0 && m.wbaxis == kAxis
	case "MatMul":
		return b%4 == 0 && m.wbaxis == 0
	}
	return false
}

// widen4 returns 4-bit weights as int8 (int4) or uint8 (uint4) ones.
func widen4(w *Tensor) *Tensor {
	t := *w
	if w.Type == onnxio.Int4 {
		t.Type = onnxio.Int8
	} else {
		t.Type = onnxio.Uint8
	}
	return &t
}

// reorderConvK reorders Conv weights [M][Cg][T] (T = kh·kw taps) to
// [M][T][Cg], the K order of im2colNHWC's rows.
func reorderConvK[E any](w []E, m, cg, t int) []E {
	r := make([]E, len(w))
	kk := cg * t
	for o := 0; o < m; o++ {
		for ci := 0; ci < cg; ci++ {
			for x := 0; x < t; x++ {
				r[o*kk+x*cg+ci] = w[o*kk+ci*t+x]
			}
		}
	}
	return r
}

// buildLowbitStep makes the kernel of a 4-bit or 16-bit match.
func (s *Session) buildLowbitStep(c *nodeCtx, m *qdqMatch) (kernel, error) {
	op := c.n.GetOpType()
	k := &lowbitK{conv: op == "Conv", gemm: op == "Gemm", prec: m.prec, n: m.w.Shape[0], dt: onnxio.Float}
	if m.outQ {
		k.dt = m.ydt
	}
	k.za = m.za
	if m.xdt == onnxio.Int8 || m.xdt == onnxio.Int4 {
		k.flip, k.za = true, m.za+128
	}
	group, taps := 1, 1
	if k.conv {
		g, err := readGeom(c)
		if err != nil {
			return nil, err
		}
		k.qconv = qconv{g: g, group: int(c.attrInt("group", 1)), inNHWC: m.inNHWC, outNHWC: m.outNHWC}
		group = k.group
		if group < 1 || k.n%group != 0 {
			return nil, fmt.Errorf("group %d for %d channels", group, k.n)
		}
		k.wShape = m.w.Shape
		_, _, kh, kw, _ := as4(m.w.Shape)
		taps = kh * kw
	}
	cg := m.w.Shape[1]
	k.k = cg * taps
	mg := k.n / group
	if m.prec == "int16" {
		return k, k.packInt16(m, group, cg, taps, mg)
	}
	return k, k.packInt4(m, group, cg, taps, mg)
}

// packInt16 packs the int16 weights per group and sets the shift stage.
func (k *lowbitK) packInt16(m *qdqMatch, group, cg, taps, mg int) error {
	w := m.w.I16
	if k.conv {
		w = reorderConvK(w, k.n, cg, taps)
	}
	for gi := 0; gi < group; gi++ {
		k.w16 = append(k.w16, kernels.PackInt16Weights(mg, k.k, w[gi*mg*k.k:], k.k))
	}
	f := float64(m.sx) * float64(m.sw[0]) * float64(m.alpha)
	if m.outQ {
		f /= float64(m.sy)
		k.lo, k.hi = m.bounds()
		k.clamp = k.lo > math.MinInt16 || k.hi < math.MaxInt16
	}
	e, _ := pow2Exp(f)
	k.shift = -e
	acc := float64(m.sx) * float64(m.sw[0]) * float64(m.alpha) // the sums' scale
	switch {
	case m.ibias != nil:
		k.bias64 = make([]int64, k.n)
		for c, b := range m.ibias {
			k.bias64[c] = int64(b)
		}
	case m.fbias != nil && m.outQ:
		k.bias64 = make([]int64, k.n)
		for c, b := range m.fbias {
			k.bias64[c] = int64(max(-(1 << 62), min(1<<62, math.RoundToEven(float64(b)/acc))))
		}
	case m.fbias != nil:
		k.fbias = m.fbias
	}
	return nil
}

// packInt4 packs the 4-bit weights per group with their zero points (and
// block scales) and sets the output stage.
func (k *lowbitK) packInt4(m *qdqMatch, group, cg, taps, mg int) error {
	signed := m.w.Type == onnxio.Int4
	vals := m.w.I8
	if !signed {
		vals = asInt8(m.w.U8)
	}
	if k.conv {
		vals = reorderConvK(vals, k.n, cg, taps)
	}
	var scales []float32 // [n][kernel block], blocked only
	bk := 0
	if m.wblock != 0 {
		k.blocked = true
		scales, bk = m.kernelBlockScales(k.conv, cg, taps)
	}
	for gi := 0; gi < group; gi++ {
		q := kernels.Int4Quant{Signed: signed, BlockSize: bk, ZeroPoints: sub(m.zw, gi*mg, (gi+1)*mg)}
		if m.wblock != 0 {
			q.ZeroPoints = nil
			q.Scales = scales[gi*mg*(len(scales)/k.n) : (gi+1)*mg*(len(scales)/k.n)]
		}
		k.w4 = append(k.w4, kernels.PackInt4Weights(mg, k.k, kernels.PackNibbles(vals[gi*mg*k.k:(gi+1)*mg*k.k]), q))
	}
	if !k.blocked {
		q, err := m.stage(k.n)
		if err != nil {
			return err
		}
		if m.outQ {
			q.clamp = true
			q.lo, q.hi = m.bounds()
		}
		k.q = q
		return nil
	}
	k.ascale = m.sx * m.alpha
	k.fbias = m.fbias
	if m.ibias != nil {
		return fmt.Errorf("internal error: int32 bias at the scale of blocked weights")
	}
	if m.outQ {
		k.outQ, k.sy, k.zy = true, m.sy, m.zy
		k.lo, k.hi = m.bounds()
	}
	return nil
}

// kernelBlockScales returns W's block scales as [n][kernel block] in the
// kernels' K order, and the kernel block size: Gemm/MatMul blocks are
// along K as they are; a Conv's K is [taps][Cg], so a block of input
// channels at each tap is one kernel block of min(block, Cg) channels.
func (m *qdqMatch) kernelBlockScales(conv bool, cg, taps int) ([]float32, int) {
	sc := m.wscale.F32
	n := m.w.Shape[0]
	if !conv {
		if m.wbaxis == 1 { // [N, nb] already
			return sc, m.wblock
		}
		nb := m.wscale.Shape[0] // [nb, N]
		out := make([]float32, len(sc))
		for b := 0; b < nb; b++ {
			for j := 0; j < n; j++ {
				out[j*nb+b] = sc[b*n+j]
			}
		}
		return out, m.wblock
	}
	bk := min(m.wblock, cg)
	nbc := cg / bk // kernel blocks per tap
	nbw := m.wscale.Shape[1]
	out := make([]float32, n*taps*nbc)
	for j := 0; j < n; j++ {
		for t := 0; t < taps; t++ {
			for cb := 0; cb < nbc; cb++ {
				wb := cb * bk / m.wblock // W's block of these channels
				out[(j*taps+t)*nbc+cb] = sc[(j*nbw+wb)*taps+t]
			}
		}
	}
	return out, bk
}

func (k *lowbitK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	if k.conv {
		os, _, _, _, err := k.shape(x.Shape, k.wShape)
		if err != nil {
			return nil, err
		}
		return []spec{{k.dt, os}}, nil
	}
	if len(x.Shape) < 1 || (k.gemm && len(x.Shape) != 2) || x.Shape[len(x.Shape)-1] != k.k {
		return nil, fmt.Errorf("A %v for %d×%d weights", x.Shape, k.k, k.n)
	}
	os := append([]int{}, x.Shape[:len(x.Shape)-1]...)
	return []spec{{k.dt, append(os, k.n)}}, nil
}

// flipInto writes src XOR 0x80 to dst (signed bytes to unsigned).
func flipInto(dst, src []byte) {
	dst = dst[:len(src)]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^0x8080808080808080)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ 0x80
	}
}

// mul runs C (rows×mg of group gi) = out(A·Wᵀ) into dst from element
// off, rows ldc apart. a holds rows of lda elements (unsigned bytes for
// w4, int16 for int16).
func (k *lowbitK) mul(rc *runCtx, bufs *lowbitBufs, rows int, a []byte, lda, gi int, dst *Tensor, off, ldc int) {
	mg := k.n / k.groups()
	c0 := gi * mg
	if rows == 0 || mg == 0 {
		return
	}
	end := off + (rows-1)*ldc + mg
	if k.prec == "int16" {
		o := &kernels.I16Output{Ldc: ldc, Shift: k.shift, Bias: sub(k.bias64, c0, c0+mg)}
		if dst.Type == onnxio.Float {
			o.Float32 = dst.F32[off:end]
		} else {
			o.Int16 = dst.I16[off:end]
		}
		kernels.GemmInt16(rows, asInt16(a), lda, k.w16[gi], o, rc.threads)
		for r := 0; r < rows; r++ {
			row := off + r*ldc
			if k.clamp {
				for i, v := range dst.I16[row : row+mg] {
					dst.I16[row+i] = int16(min(max(int32(v), k.lo), k.hi))
				}
			}
			if k.fbias != nil {
				for i := range dst.F32[row : row+mg] {
					dst.F32[row+i] += k.fbias[c0+i]
				}
			}
		}
		return
	}
	if !k.blocked {
		o := k.q.stage(c0, mg)
		o.Ldc = ldc
		switch dst.Type {
		case onnxio.Float:
			o.Float32 = dst.F32[off:end]
		case onnxio.Int8, onnxio.Int4:
			o.Int8 = dst.I8[off:end]
		default:
			o.Uint8 = dst.U8[off:end]
		}
		kernels.QGemmW4U8(rows, a, lda, uint8(k.za), k.w4[gi], &o, rc.threads)
		return
	}
	o := &kernels.QOutput{Scale: []float32{k.ascale}, FloatBias: sub(k.fbias, c0, c0+mg), Ldc: ldc}
	if !k.outQ {
		o.Float32 = dst.F32[off:end]
		kernels.QGemmW4U8(rows, a, lda, uint8(k.za), k.w4[gi], o, rc.threads)
		return
	}
	if cap(bufs.ftmp) < rows*mg {
		bufs.ftmp = make([]float32, rows*mg)
	}
	f := bufs.ftmp[:rows*mg]
	o.Float32, o.Ldc = f, mg
	kernels.QGemmW4U8(rows, a, lda, uint8(k.za), k.w4[gi], o, rc.threads)
	for r := 0; r < rows; r++ {
		quantizeSeg(dst, off+r*ldc, f[r*mg:(r+1)*mg], k.sy, k.zy, k.lo, k.hi)
	}
}

func (k *lowbitK) groups() int {
	if k.conv {
		return k.qconv.group
	}
	return 1
}

func (k *lowbitK) run(rc *runCtx, in, out []*Tensor) error {
	bufs, _ := k.lbufs.Get().(*lowbitBufs)
	if bufs == nil {
		bufs = &lowbitBufs{}
	}
	defer k.lbufs.Put(bufs)
	x, o := in[0], out[0]
	if !k.conv {
		rows := 0
		if k.k > 0 {
			rows = x.Len() / k.k
		}
		a := rawBytes(x)
		if k.flip {
			bufs.col = grow(bufs.col, len(a))
			flipInto(bufs.col, a)
			a = bufs.col
		}
		k.mul(rc, bufs, rows, a, k.k, 0, o, 0, k.n)
		return nil
	}
	return k.runConv(rc, bufs, x, o)
}

// runConv runs the convolution on qconv's driver with the 4-bit or
// 16-bit kernels (signed 8- and 4-bit activations flipped to unsigned
// after unfolding, their padding flipped back in advance).
func (k *lowbitK) runConv(rc *runCtx, bufs *lowbitBufs, x, o *Tensor) error {
	g, oh, ow, err := k.geom(x.Shape, k.wShape)
	if err != nil {
		return err
	}
	pad := byte(k.za)
	if k.flip {
		pad = byte(k.za - 128)
	}
	bufs.lmul = lowbitMul{k: k, rc: rc, bufs: bufs}
	k.drive(rc, x, elemBytes(x.Type), pad, k.flip, k.n, g, oh, ow, &bufs.lmul, &bufs.qconvBufs, o.Type, o)
	bufs.lmul = lowbitMul{}
	return nil
}

// lowbitMul is lowbitK.mul for qconv's driver.
type lowbitMul struct {
	k    *lowbitK
	rc   *runCtx
	bufs *lowbitBufs
}

func (j *lowbitMul) mul(rows int, a []byte, lda, gi int, dst *Tensor, off, ldc int) {
	if ldc == 0 {
		ldc = j.k.n / j.k.groups()
	}
	j.k.mul(j.rc, j.bufs, rows, a, lda, gi, dst, off, ldc)
}

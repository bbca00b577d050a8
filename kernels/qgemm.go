package kernels

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// INT8 GEMM (XNNPACK conventions): C = requant((A - za)·(W - zw)ᵀ + bias).
//
//   - A, the activations: M×K, row-major with row stride lda, uint8 with
//     zero point za (QGemmU8) or int8 with zero point za (QGemmS8). M is
//     the output pixels of an NHWC convolution, K is contiguous.
//   - W, the weights: int8, N×K (each output channel's K weights
//     contiguous: an ONNX Conv weight [OC][IC/g][kh][kw] flattened, or a
//     Gemm Bᵀ), with a zero point per tensor or per output channel, packed
//     once by PackInt8Weights for the path active at that time.
//   - C: M×N row-major with row stride ldc (NHWC), in the format the
//     QOutput stage asks for.
//
// Accumulation is int32 arithmetic modulo 2^32, the same on every path: it
// equals the true sum whenever that fits in int32, always for K <= 33025
// (|a-za|, |w-zw| <= 255). Σ_k (a-za)(w-zw) expands to
//
//	Σ a·w  - za·colsum[n] - zw[n]·rowsum[m] + K·za·zw[n]
//
// The microkernels compute only Σ a·w (u8 × s8). colsum (Σ_k w[n,k]) is
// computed once at packing. rowsum (Σ_k a[m,k]) is needed only when some
// weight zero point is non-zero, and is then computed once per call, one
// pass over A (M·K byte adds, about 1/N of the GEMM's work), and
// subtracted per output element in the output stage: symmetric weights,
// the common case, cost nothing. The za and bias terms fold into one int32
// per column, computed once per call (O(N)), which the microkernels take as
// their accumulators' starting value.
//
// int8 activations go through the +128 trick: a+128 is a uint8 and
// (a - za) = ((a+128) - (za+128)), so A is flipped (XOR 0x80) while it is
// packed and the u8 path does the rest with zero point za+128.
//
// Bit-exactness: every path computes the same exact int32 sums; the tile
// is then finished by one shared output stage (qoutStage: Go, with AVX-512
// versions of the float32 and the float requantization rows doing the
// same IEEE float32 operations in the same order), so results never depend
// on the path, the tile shape or the thread split. Full int32 tiles
// without row corrections are written by the microkernel straight to C.
//
// Driver: like Sgemm's (Goto/BLIS) without K blocking: for each NC-wide
// block of packed weights (kept in L2), for each MC-high block of A
// (packed into MR-high micro-panels: groups of 4 bytes per row, K padded
// with zeros, so a K tail is never read past a row's end), for each A
// micro-panel (L1), the microkernel runs the whole K loop for each weight
// micro-panel of the block into an int32 tile, which the output stage
// turns into C. Each microkernel call does at most qmaxGroups K groups
// (assembly is not preemptible); longer K accumulates over several calls.

// Int8 is the INT8 GEMM family: generic (pure Go); on arm64 neon
// (SMULL + SADALP) and neondot (SDOT); on amd64 avx2 (VPMADDWD on
// int16-widened operands), avxvnni (VEX VPDPBUSD ymm) and avx512vnni
// (VPDPBUSD zmm).
var Int8 = newFamily("int8", "generic", "neon", "neondot", "avx2", "avxvnni", "avx512vnni")

// qkernel is one path's INT8 microkernel: fn computes the mr×nr int32 tile
//
//	c[i*ldc+j] = start[i][j] + Σ over kg groups of a[g*mr*4+i*4+t]·b[g*nr*4+j*4+t]
//
// where start is c's current tile when load != 0, else init[j] (nr int32,
// the same for each row), and a group holds 4 uint8 of A and 4 int8 of W
// (c4), or, with wide, 2 int16 of each (c2: both widened at packing, so a
// group is still 4 bytes per row or column). It writes exactly the tile.
//
// With signedA the kernel multiplies int8 A by int8 W (arm64's SDOT, for
// instance): A is packed as a-128 (XOR 0x80 of uint8 activations, int8
// activations as they are) and the zero point moves by 128 likewise, which
// leaves every (a - za) unchanged.
type qkernel struct {
	name    string
	mr, nr  int
	wide    bool
	signedA bool
	fn      func(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)
	// small, where set, takes products of fewer than qsmallRows rows (a
	// matrix-vector product wastes most of a tall tile): same packed
	// weights, mr 1.
	small *qkernel
	// fused, where set, are the path's kernels with the requantization
	// fused in (same packed weights).
	fused *qfused
}

// qfused are a path's microkernels with the float requantization fused
// in, reading A in place. For quantized outputs without weight zero
// points and K within one call they replace packing A, the int32 tile and
// the separate output stage, which are most of the time of the small
// GEMMs of a mobile network (1x1 convolutions of 8 to 200 channels).
type qfused struct {
	small  qfusedKernel // m < qsmallRows
	wide   qfusedKernel // panels of more than 16 columns
	narrow qfusedKernel // panels of at most 16 columns
}

// qfusedKernel computes an mr × 16·nv tile of requantized outputs:
//
//	dst[i*ldd + j] = byte(round_half_even(clamp(float32(acc)·scale[j or 0],
//	    flo, fhi)) + zp),  acc = init[j] + Σ_g Σ_t (A(i, 4g+t) XOR flip)·b[g*128 + j*4 + t]
//
// for i < rows and the columns j whose bit is set in masks (bit j, 16
// per vector), where A(i, p) is the byte a[i*lda + p]: every one of the
// mr rows is read for 4·kg bytes (kg >= 1). b points into a 32-wide panel
// (128 bytes per group) and scale at the tile's first column's scale
// (perCh != 0) or the one scale. The float steps are qrequantRow's.
type qfusedKernel struct {
	name   string
	mr, nv int
	fn     func(kg int, a unsafe.Pointer, lda int, b, dst unsafe.Pointer, ldd, rows int, masks uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, flip uint32)
}

// qsmallRows is the row count below which a kernel's small variant runs.
const qsmallRows = 4

// kgroup is the number of K elements per 4-byte group.
func (uk *qkernel) kgroup() int {
	if uk.wide {
		return 2
	}
	return 4
}

// int8Kernels holds each Int8 path's microkernel, by path index;
// architecture files fill in theirs.
//
// Adding a path (arm64's neon / neondot, say): name it in Int8's
// newFamily list (slowest first), set its qkernel here from the
// architecture's file and call Int8.support with the CPU test, as
// qgemm_amd64.go does. The qkernel says everything the driver needs: the
// tile (mr, nr), the group format (c4 bytes, or c2 int16 with wide) and
// whether A is int8 (signedA, for s8×s8 dot products such as SDOT); the
// packing, zero-point corrections, K tail, threads and output stage are
// shared, so the new path is bit-identical by construction once its
// kernel computes the exact int32 sums (the tests force each supported
// path in turn). QPackedWeights records the path it was packed for and
// is repacked when used under another layout.
var int8Kernels = func() []*qkernel {
	ks := make([]*qkernel, len(Int8.paths))
	ks[0] = &qkernel{name: "qgemm_4x8c4_generic", mr: 4, nr: 8, fn: qgemm4x8c4Generic}
	return ks
}()

// qmaxGroups bounds the K groups per microkernel call.
const qmaxGroups = 2048

// QPackedWeights is an int8 weight matrix W (N×K) packed for one Int8 path
// (the one active at PackInt8Weights), with its column sums and zero
// points.
//
// Layout: ceil(N/NR) micro-panels of NR output channels; panel q holds
// ceil(K/G) groups, group g holding, for each of its NR channels j, the G
// weights W[q*NR+j][g*G .. g*G+G) (zero past K and past N):
//
//	generic     NR=8,  G=4 int8   panel[g*NR*4 + j*4 + t]
//	avx2        NR=16, G=2 int16  panel[(g*NR + j)*2 + t] (widened)
//	avxvnni     NR=16, G=4 int8
//	avx512vnni  NR=32, G=4 int8   (A micro-panels: MR = 4, 6, 6, 12)
//	neon        NR=12, G=4 int8   (signedA, MR = 4)
//	neondot     NR=12, G=4 int8   (signedA, MR = 8)
//
// so a group is always 4 bytes per channel; Path/NR tell which. Used under a
// different active path the weights are repacked on every call: pack
// again after Int8.Set.
type QPackedWeights struct {
	n, k   int
	nr     int
	wide   bool
	path   int
	groups int     // ceil(K/G)
	data   []byte  // ceil(N/NR) panels of groups*NR*4 bytes
	colSum []int32 // Σ_k W[n,k], len N
	zp     []int32 // weight zero point per channel (len N), or nil when all are 0
}

// N is the number of output channels; K the reduction length.
func (w *QPackedWeights) N() int { return w.n }

// K is the reduction length.
func (w *QPackedWeights) K() int { return w.k }

// Path names the Int8 path whose layout w has.
func (w *QPackedWeights) Path() string { return Int8.paths[w.path].name }

// PackInt8Weights packs W (n×k int8, row j = output channel j's k weights,
// rows ldw apart) for the active Int8 path. zeroPoint is the weights' zero
// point: none or one value for the whole tensor, or n values (one per
// output channel); each in [-128, 127].
func PackInt8Weights(n, k int, w []int8, ldw int, zeroPoint ...int32) *QPackedWeights {
	return packInt8WeightsFor(Int8.activeIndex(), n, k, w, ldw, zeroPoint)
}

// PackInt8WeightsKN packs weights stored K×N (row p holds the N weights
// of input p, rows ldb apart: a MatMul B, a Gemm B without transB), the
// transpose of PackInt8Weights's layout.
func PackInt8WeightsKN(k, n int, b []int8, ldb int, zeroPoint ...int32) *QPackedWeights {
	if n > 0 && k > 0 && (ldb < n || len(b) < (k-1)*ldb+n) {
		panic(fmt.Sprintf("kernels: PackInt8WeightsKN: %d weights with ldb %d for %dx%d", len(b), ldb, k, n))
	}
	t := make([]int8, n*k)
	for p := 0; p < k; p++ {
		for j, v := range b[p*ldb : p*ldb+n] {
			t[j*k+p] = v
		}
	}
	return PackInt8Weights(n, k, t, k, zeroPoint...)
}

// PackUint8Weights packs uint8 weights (N×K, as PackInt8Weights) with
// their zero points (none means 0; each in [0, 255]): w - zw equals
// (w-128) - (zw-128), so they are stored as int8 with shifted zero points,
// exactly.
func PackUint8Weights(n, k int, w []uint8, ldw int, zeroPoint ...int32) *QPackedWeights {
	s := make([]int8, len(w))
	for i, v := range w {
		s[i] = int8(v ^ 0x80)
	}
	zp := []int32{-128}
	if len(zeroPoint) > 0 {
		zp = make([]int32, len(zeroPoint))
		for i, z := range zeroPoint {
			if z < 0 || z > 255 {
				panic(fmt.Sprintf("kernels: PackUint8Weights: zero point %d out of uint8 range", z))
			}
			zp[i] = z - 128
		}
	}
	return PackInt8Weights(n, k, s, ldw, zp...)
}

func packInt8WeightsFor(path, n, k int, w []int8, ldw int, zeroPoint []int32) *QPackedWeights {
	if n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: PackInt8Weights: negative size %dx%d", n, k))
	}
	if n > 0 && k > 0 && (ldw < k || len(w) < (n-1)*ldw+k) {
		panic(fmt.Sprintf("kernels: PackInt8Weights: %d weights with ldw %d for %dx%d", len(w), ldw, n, k))
	}
	uk := int8Kernels[path]
	p := &QPackedWeights{n: n, k: k, nr: uk.nr, wide: uk.wide, path: path, colSum: make([]int32, n)}
	switch len(zeroPoint) {
	case 0:
	case 1, n:
		zero := true
		for _, z := range zeroPoint {
			if z < -128 || z > 127 {
				panic(fmt.Sprintf("kernels: PackInt8Weights: zero point %d out of int8 range", z))
			}
			zero = zero && z == 0
		}
		if !zero {
			p.zp = make([]int32, n)
			for j := range p.zp {
				p.zp[j] = zeroPoint[min(j, len(zeroPoint)-1)]
			}
		}
	default:
		panic(fmt.Sprintf("kernels: PackInt8Weights: %d zero points for %d channels", len(zeroPoint), n))
	}
	G := uk.kgroup()
	p.groups = (k + G - 1) / G
	np := (n + uk.nr - 1) / uk.nr
	p.data = alignedBytes(np * p.groups * uk.nr * 4)
	for j := 0; j < n; j++ {
		row := w[j*ldw : j*ldw+k]
		var s int32
		for _, v := range row {
			s += int32(v)
		}
		p.colSum[j] = s
		panel := p.data[(j/uk.nr)*p.groups*uk.nr*4:]
		jj := j % uk.nr
		for q, v := range row {
			g, t := q/G, q%G
			if uk.wide {
				o := (g*uk.nr+jj)*4 + t*2
				u := uint16(int16(v))
				panel[o], panel[o+1] = byte(u), byte(u>>8)
			} else {
				panel[g*uk.nr*4+jj*4+t] = byte(v)
			}
		}
	}
	return p
}

// unpack rebuilds the n×k weights.
func (p *QPackedWeights) unpack() []int8 {
	w := make([]int8, p.n*p.k)
	G := 4
	if p.wide {
		G = 2
	}
	for j := 0; j < p.n; j++ {
		panel := p.data[(j/p.nr)*p.groups*p.nr*4:]
		jj := j % p.nr
		for q := 0; q < p.k; q++ {
			g, t := q/G, q%G
			if p.wide {
				o := (g*p.nr+jj)*4 + t*2
				w[j*p.k+q] = int8(int16(uint16(panel[o]) | uint16(panel[o+1])<<8))
			} else {
				w[j*p.k+q] = int8(panel[g*p.nr*4+jj*4+t])
			}
		}
	}
	return w
}

// forPath returns p packed for path (itself when it already is).
func (p *QPackedWeights) forPath(path int) *QPackedWeights {
	if p.path == path {
		return p
	}
	uk := int8Kernels[path]
	if uk.nr == p.nr && uk.wide == p.wide {
		return p
	}
	q := packInt8WeightsFor(path, p.n, p.k, p.unpack(), p.k, nil)
	q.zp = p.zp
	return q
}

// alignedBytes allocates n bytes starting on a 64-byte boundary.
func alignedBytes(n int) []byte {
	s := make([]byte, n+63)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(s))) & 63)
	if off != 0 {
		off = 64 - off
	}
	return s[off : off+n : off+n]
}

// QOutput is the fused output stage of QGemmU8/QGemmS8 and where it
// writes. Exactly one of Int32, Float32, Uint8, Int8 is set; C's row
// stride is Ldc (>= N). Per-column parameters (Bias, Scale, FloatBias,
// Multiplier, Shift) have length 1 (per tensor) or N (per output channel);
// Bias may be nil.
//
// First acc = Σ(a-za)(w-zw) + Bias[n] (int32, wrapping). Then:
//
//   - Int32: C = acc (MatMulInteger / ConvInteger).
//   - Float32: C = float32(acc)·Scale[n] + FloatBias[n] (FloatBias may be
//     nil), each operation rounded to float32 (no FMA), e.g. Scale =
//     sx·sw[n] for a following DequantizeLinear.
//   - Uint8 / Int8 with Scale (float requantization, as QLinearConv and
//     ONNX Runtime's MLAS do it, Scale = sx·sw[n]/sy as float32):
//     x = float32(acc)·Scale[n] (float32), clamped to [Min-ZeroPoint,
//     Max-ZeroPoint], rounded half to even, + ZeroPoint. Scale must be
//     finite.
//   - Uint8 / Int8 with Multiplier and Shift (fixed point, gemmlowp/TFLite
//     style but rounded once): y = round_half_even(acc·Multiplier[n] /
//     2^(31+Shift[n])), exact (int64), clamped to [Min-ZeroPoint,
//     Max-ZeroPoint], + ZeroPoint. Multiplier is Q0.31 (QuantizeMultiplier
//     makes one from a real factor); 31+Shift in [0, 62].
//
// Min and Max clamp in the quantized domain when Clamp is set (a fused
// Relu is Min = ZeroPoint; Clip(lo, hi) is Min = round(lo/sy)+zy, ...);
// otherwise the output type's range applies. ZeroPoint, Min and Max must
// lie in the output type's range.
type QOutput struct {
	Int32   []int32
	Float32 []float32
	Uint8   []uint8
	Int8    []int8
	Ldc     int

	Bias []int32

	Scale     []float32
	FloatBias []float32

	Multiplier []int32
	Shift      []int32

	ZeroPoint int32
	Clamp     bool
	Min, Max  int32
}

// QuantizeMultiplier splits a positive real factor into a Q0.31 multiplier
// and shift for QOutput, so that real ≈ m·2^-(31+shift), m in [2^30, 2^31).
func QuantizeMultiplier(real float64) (m int32, shift int32) {
	if !(real > 0) || math.IsInf(real, 0) {
		panic(fmt.Sprintf("kernels: QuantizeMultiplier(%v)", real))
	}
	frac, exp := math.Frexp(real) // real = frac·2^exp, frac in [0.5, 1)
	q := int64(math.RoundToEven(frac * (1 << 31)))
	if q == 1<<31 {
		q /= 2
		exp++
	}
	return int32(q), int32(-exp)
}

// QGemmU8 computes C = out((A - za)·(W - zw)ᵀ): A m×K uint8 with row
// stride lda, W packed by PackInt8Weights (N×K). threads > 1 splits the
// work across goroutines (runtime.GOMAXPROCS(0) for all cores). Elements
// of C outside the m×N window are never touched.
func QGemmU8(m int, a []uint8, lda int, za uint8, w *QPackedWeights, out *QOutput, threads int) {
	qgemm(m, a, lda, false, int32(za), w, out, threads)
}

// QGemmS8 is QGemmU8 for int8 activations with zero point za.
func QGemmS8(m int, a []int8, lda int, za int8, w *QPackedWeights, out *QOutput, threads int) {
	au := unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
	qgemm(m, au, lda, true, int32(za)+128, w, out, threads)
}

type qoutKind int

const (
	qoutInt32 qoutKind = iota
	qoutFloat32
	qoutQuant
	qoutFixed
)

// qoutStage is a validated QOutput for one call, with the per-column
// correction folded: colCorr[n] = Bias[n] - za·colsum[n] + K·za·zw[n].
type qoutStage struct {
	QOutput  // a copy: the caller's stays its own (and on its stack)
	kind     qoutKind
	signed   bool // Int8 output
	perCh    bool // per-column parameters have length N
	lo, hi   int32
	colCorr  []int32
	zp       []int32 // weight zero points or nil
	rowSum   []int32 // Σ_k a[m,k] (flipped for s8) when zp != nil
	flo, fhi float32 // float clamp bounds, relative to ZeroPoint
}

func qgemm(m int, a []uint8, lda int, flip bool, za int32, w *QPackedWeights, out *QOutput, threads int) {
	if m < 0 {
		panic("kernels: QGemm: negative m")
	}
	n, k := w.n, w.k
	if m == 0 || n == 0 {
		return
	}
	if k > 0 && (lda < k || len(a) < (m-1)*lda+k) {
		panic(fmt.Sprintf("kernels: QGemm: A has %d elements with lda %d for %dx%d", len(a), lda, m, k))
	}
	path := Int8.activeIndex()
	uk := int8Kernels[path]
	w = w.forPath(path)
	if uk.small != nil && m < qsmallRows {
		uk = uk.small
	}
	if uk.signedA {
		flip, za = !flip, za-128
	}
	st := newQoutStage(m, n, k, za, w.colSum, w.zp, out)
	defer st.release()
	if st.zp != nil {
		st.rowSum = growInt32(st.rowSum, m)
		x := byte(0)
		if flip {
			x = 0x80
		}
		for i := range st.rowSum {
			var s int32
			if uk.signedA {
				for _, v := range a[i*lda : i*lda+k] {
					s += int32(int8(v ^ x))
				}
			} else {
				for _, v := range a[i*lda : i*lda+k] {
					s += int32(v ^ x)
				}
			}
			st.rowSum[i] = s
		}
	}
	j := qjob{m: m, n: n, k: k, a: a, lda: lda, flip: flip, w: w, uk: uk, st: st}
	j.blockSizes()
	if f := int8Kernels[path].fused; f != nil && st.kind == qoutQuant && st.zp == nil && k > 0 && k <= qfusedMaxK && !qrequantNoAsm && !qfusedOff {
		j.fused = f
	}
	j.runThreads(threads)
}

// qfusedMaxK bounds the K of the fused kernels: on longer K the output
// stage weighs little, and packed A (read contiguously, flipped once)
// does better (BenchmarkQGemmRequant: 0.95x at K = 256, 0.7x at 1152).
const qfusedMaxK = 256

// qfusedOff makes tests and benchmarks compare the fused kernels with the
// packed path and its separate output stage.
var qfusedOff bool

// newQoutStage validates out for an m×n result of K-long sums and folds
// the per-column terms; colSum and zp may be nil (no za or zw terms).
func newQoutStage(m, n, k int, za int32, colSum, zp []int32, out *QOutput) *qoutStage {
	st := qoutStagePool.Get().(*qoutStage)
	*st = qoutStage{QOutput: *out, zp: zp, colCorr: st.colCorr, rowSum: st.rowSum}
	set := 0
	need := 0
	switch {
	case out.Int32 != nil:
		set++
		st.kind, need = qoutInt32, len(out.Int32)
	}
	if out.Float32 != nil {
		set++
		st.kind, need = qoutFloat32, len(out.Float32)
	}
	if out.Uint8 != nil {
		set++
		st.kind, need = qoutQuant, len(out.Uint8)
		st.lo, st.hi = 0, 255
	}
	if out.Int8 != nil {
		set++
		st.kind, need, st.signed = qoutQuant, len(out.Int8), true
		st.lo, st.hi = -128, 127
	}
	if set != 1 {
		panic("kernels: QGemm: QOutput needs exactly one of Int32, Float32, Uint8, Int8")
	}
	if out.Ldc < n || need < (m-1)*out.Ldc+n {
		panic(fmt.Sprintf("kernels: QGemm: C too small (len %d, ldc %d) for %dx%d", need, out.Ldc, m, n))
	}
	perCol := func(name string, l int) {
		if l != 1 && l != n {
			panic(fmt.Sprintf("kernels: QGemm: %s has length %d, want 1 or %d", name, l, n))
		}
		st.perCh = l == n && n != 1
	}
	if out.Bias != nil && len(out.Bias) != n {
		panic(fmt.Sprintf("kernels: QGemm: Bias has length %d, want %d", len(out.Bias), n))
	}
	switch st.kind {
	case qoutFloat32:
		perCol("Scale", len(out.Scale))
		if out.FloatBias != nil && len(out.FloatBias) != len(out.Scale) {
			panic("kernels: QGemm: FloatBias and Scale differ in length")
		}
	case qoutQuant:
		if out.ZeroPoint < st.lo || out.ZeroPoint > st.hi {
			panic(fmt.Sprintf("kernels: QGemm: output zero point %d out of range", out.ZeroPoint))
		}
		if out.Clamp {
			if out.Min < st.lo || out.Max > st.hi || out.Min > out.Max {
				panic(fmt.Sprintf("kernels: QGemm: clamp [%d, %d] out of range", out.Min, out.Max))
			}
			st.lo, st.hi = out.Min, out.Max
		}
		if out.Multiplier != nil {
			st.kind = qoutFixed
			perCol("Multiplier", len(out.Multiplier))
			if len(out.Shift) != len(out.Multiplier) {
				panic("kernels: QGemm: Shift and Multiplier differ in length")
			}
			for _, s := range out.Shift {
				if s < -31 || s > 31 {
					panic(fmt.Sprintf("kernels: QGemm: shift %d out of [-31, 31]", s))
				}
			}
		} else {
			perCol("Scale", len(out.Scale))
			for _, s := range out.Scale {
				if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
					panic("kernels: QGemm: non-finite Scale")
				}
			}
		}
		st.flo, st.fhi = float32(st.lo-out.ZeroPoint), float32(st.hi-out.ZeroPoint)
	}
	// Padded so the last panel's microkernel reads init within bounds.
	st.colCorr = growInt32(st.colCorr, n+maxNR)
	clear(st.colCorr[n:])
	K := int32(k)
	for j := range st.colCorr[:n] {
		var c int32
		if colSum != nil {
			c = -za * colSum[j]
		}
		if st.zp != nil {
			c += K * za * st.zp[j]
		}
		if out.Bias != nil {
			c += out.Bias[j]
		}
		st.colCorr[j] = c
	}
	return st
}

// qoutStagePool recycles output stages and their per-column buffers:
// small models run many short calls, whose allocations would otherwise
// set the pace of garbage collection.
var qoutStagePool = sync.Pool{New: func() any { return new(qoutStage) }}

// release returns st to the pool once its call is over (a stage not
// released is simply collected).
func (st *qoutStage) release() {
	st.QOutput, st.zp = QOutput{}, nil
	qoutStagePool.Put(st)
}

// growInt32 returns b resized to n, reallocated only when too small; its
// contents are unspecified.
func growInt32(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

// roundMagic rounds a float32 of magnitude below 2^22 to the nearest
// integer, ties to even (adding and removing 1.5·2^23 leaves no fraction
// bits; float32 addition rounds half to even).
const roundMagic = 12582912

// apply finishes rows [r0, r0+rows) × columns [c0, c0+cols) of C from the
// int32 tile t (row stride nr), which already includes colCorr.
func (st *qoutStage) apply(t []int32, nr, r0, rows, c0, cols int) {
	ldc := st.Ldc
	if st.kind == qoutQuant && st.zp == nil && qrequantTileAsm != nil && !qrequantNoAsm && rows > 0 && cols > 0 {
		// The whole tile in one SIMD call.
		sc := st.Scale
		if st.perCh {
			sc = sc[c0 : c0+cols]
		}
		_ = t[(rows-1)*nr+cols-1]
		last := (r0+rows-1)*ldc + c0 + cols - 1
		var dst *byte
		if st.signed {
			_ = st.Int8[last]
			dst = (*byte)(unsafe.Pointer(&st.Int8[r0*ldc+c0]))
		} else {
			_ = st.Uint8[last]
			dst = &st.Uint8[r0*ldc+c0]
		}
		qrequantTileAsm(&t[0], nr, dst, ldc, rows, cols, &sc[0], b2i(st.perCh), st.flo, st.fhi, st.ZeroPoint)
		return
	}
	for i := 0; i < rows; i++ {
		row := t[i*nr : i*nr+cols]
		if st.zp != nil {
			rs := st.rowSum[r0+i]
			zp := st.zp[c0 : c0+cols]
			for x := range row {
				row[x] -= zp[x] * rs
			}
		}
		o := (r0+i)*ldc + c0
		switch st.kind {
		case qoutInt32:
			copy(st.Int32[o:o+cols], row)
		case qoutFloat32:
			dst := st.Float32[o : o+cols]
			sc, fb := st.Scale, st.FloatBias
			if st.perCh {
				sc = sc[c0 : c0+cols]
				if fb != nil {
					fb = fb[c0 : c0+cols]
				}
			}
			qfloatRow(row, dst, sc, fb, st.perCh)
		case qoutQuant:
			sc := st.Scale
			if st.perCh {
				sc = sc[c0 : c0+cols]
			}
			var dst []byte
			if st.signed {
				dst = unsafe.Slice((*byte)(unsafe.Pointer(&st.Int8[o])), cols)
			} else {
				dst = st.Uint8[o : o+cols]
			}
			qrequantRow(row, dst, sc, st.perCh, st.flo, st.fhi, st.ZeroPoint)
		case qoutFixed:
			mult, shift := st.Multiplier, st.Shift
			if st.perCh {
				mult, shift = mult[c0:c0+cols], shift[c0:c0+cols]
			}
			var dst []byte
			if st.signed {
				dst = unsafe.Slice((*byte)(unsafe.Pointer(&st.Int8[o])), cols)
			} else {
				dst = st.Uint8[o : o+cols]
			}
			qfixedRow(row, dst, mult, shift, st.perCh, st.lo-st.ZeroPoint, st.hi-st.ZeroPoint, st.ZeroPoint)
		}
	}
}

// qfixedRow is the fixed-point requantization of one row: dst[x] =
// byte(clamp(round_half_even(src[x]·mult[x or 0] / 2^(31+shift[x or 0])),
// lo, hi) + zp), exactly (int64). qfixedRowAsm, where set, does the same
// in SIMD.
func qfixedRow(src []int32, dst []byte, mult, shift []int32, perCh bool, lo, hi, zp int32) {
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	if qfixedRowAsm != nil && !qrequantNoAsm {
		if perCh {
			_, _ = mult[len(src)-1], shift[len(src)-1]
		}
		qfixedRowAsm(&src[0], &dst[0], len(src), &mult[0], &shift[0], b2i(perCh), lo, hi, zp)
		return
	}
	qfixedRowGo(src, dst, mult, shift, perCh, lo, hi, zp)
}

func qfixedRowGo(src []int32, dst []byte, mult, shift []int32, perCh bool, lo, hi, zp int32) {
	dst = dst[:len(src)]
	p := b2i(perCh)
	for x, v := range src {
		y := roundShiftEven(int64(v)*int64(mult[x*p]), uint(31+shift[x*p]))
		y = min(max(y, int64(lo)), int64(hi)) + int64(zp)
		dst[x] = byte(y)
	}
}

// qrequantTileAsm, where set, is qrequantRow on a tile: rows rows of n
// elements, src rows srcStride int32 apart, dst rows dstStride bytes apart.
var qrequantTileAsm func(src *int32, srcStride int, dst *byte, dstStride int, rows, n int, scale *float32, perCh int, flo, fhi float32, zp int32)

// qfixedRowAsm, where set, is qfixedRow in SIMD (whole rows).
var qfixedRowAsm func(src *int32, dst *byte, n int, mult, shift *int32, perCh int, lo, hi, zp int32)

// qrequantRow is the float requantization of one row:
// dst[x] = byte(int32(round_half_even(min(max(float32(src[x])·sc[x or 0],
// flo), fhi))) + zp), in float32 operations, rounding by adding and
// removing 1.5·2^23. qrequantRowAsm, where set, does the same operations
// in SIMD (bit-identical: IEEE float32 throughout, no FMA).
func qrequantRow(src []int32, dst []byte, sc []float32, perCh bool, flo, fhi float32, zp int32) {
	if len(src) == 0 {
		return
	}
	if qrequantRowAsm != nil && !qrequantNoAsm {
		_ = dst[len(src)-1]
		if perCh {
			_ = sc[len(src)-1]
		}
		n := len(src) &^ (qrowAsmStep - 1)
		if n > 0 {
			qrequantRowAsm(&src[0], &dst[0], n, &sc[0], b2i(perCh), flo, fhi, zp)
		}
		if n == len(src) {
			return
		}
		src, dst = src[n:], dst[n:]
		if perCh {
			sc = sc[n:]
		}
	}
	qrequantRowGo(src, dst, sc, perCh, flo, fhi, zp)
}

func qrequantRowGo(src []int32, dst []byte, sc []float32, perCh bool, flo, fhi float32, zp int32) {
	dst = dst[:len(src)]
	if !perCh {
		s := sc[0]
		for x, v := range src {
			y := min(max(float32(float32(v)*s), flo), fhi)
			y = (y + roundMagic) - roundMagic
			dst[x] = byte(int32(y) + zp)
		}
		return
	}
	sc = sc[:len(src)]
	for x, v := range src {
		y := min(max(float32(float32(v)*sc[x]), flo), fhi)
		y = (y + roundMagic) - roundMagic
		dst[x] = byte(int32(y) + zp)
	}
}

// qfloatRow is the float32 output stage of one row: dst[x] =
// float32(src[x])·sc[x or 0] (+ fb[x or 0] when fb is not nil), each
// operation rounded to float32; qfloatRowAsm, where set, does the same in
// SIMD.
func qfloatRow(src []int32, dst []float32, sc, fb []float32, perCh bool) {
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	if qfloatRowAsm != nil && !qrequantNoAsm {
		var fp *float32
		if perCh {
			_ = sc[len(src)-1]
		}
		if fb != nil {
			if perCh {
				_ = fb[len(src)-1]
			}
			fp = &fb[0]
		}
		n := len(src) &^ (qrowAsmStep - 1)
		if n > 0 {
			qfloatRowAsm(&src[0], &dst[0], n, &sc[0], fp, b2i(perCh))
		}
		if n == len(src) {
			return
		}
		src, dst = src[n:], dst[n:]
		if perCh {
			sc = sc[n:]
			if fb != nil {
				fb = fb[n:]
			}
		}
	}
	qfloatRowGo(src, dst, sc, fb, perCh)
}

func qfloatRowGo(src []int32, dst []float32, sc, fb []float32, perCh bool) {
	dst = dst[:len(src)]
	p := b2i(perCh)
	for x, v := range src {
		y := float32(float32(v) * sc[x*p])
		if fb != nil {
			y += fb[x*p]
		}
		dst[x] = y
	}
}

var (
	qfloatRowAsm   func(src *int32, dst *float32, n int, scale, fbias *float32, perCh int)
	qrequantRowAsm func(src *int32, dst *byte, n int, scale *float32, perCh int, flo, fhi float32, zp int32)
	// qrowAsmStep is the multiple of elements qfloatRowAsm and
	// qrequantRowAsm take (1 for masked AVX-512, 8 for AVX2); Go does the
	// rest of a row.
	qrowAsmStep = 1
	// qrequantNoAsm makes tests compare the Go and SIMD output stages.
	qrequantNoAsm bool
)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roundShiftEven returns x / 2^s rounded to nearest, ties to even.
func roundShiftEven(x int64, s uint) int64 {
	if s == 0 {
		return x
	}
	q := x >> s // floor
	rem := x - q<<s
	half := int64(1) << (s - 1)
	if rem > half || (rem == half && q&1 != 0) {
		q++
	}
	return q
}

// qjob is one QGemm call, or one thread's share: rows [i0, i0+m), columns
// [j0, j0+n).
type qjob struct {
	m, n, k int
	i0, j0  int
	a       []uint8
	lda     int
	flip    bool
	w       *QPackedWeights
	uk      *qkernel
	st      *qoutStage
	mc, nc  int
	fused   *qfused // the fused kernels to run instead, when they apply
}

// blockSizes: NC puts a block of packed weights in half of L2, MC an A
// block in a quarter.
func (j *qjob) blockSizes() {
	c := cacheSizes()
	l2 := c.L2
	if l2 <= 0 {
		l2 = 256 << 10
	}
	mr, nr := j.uk.mr, j.uk.nr
	rowBytes := max(1, j.w.groups*4)
	j.nc = max(nr, min(8192, l2/2/rowBytes/nr*nr))
	j.mc = max(mr, min(1024, l2/4/rowBytes/mr*mr))
	if qblockOverride != nil {
		j.mc, j.nc = qblockOverride(mr, nr)
	}
}

// qblockOverride lets tests force tiny blocks (multiples of mr and nr) so
// every loop of the driver runs.
var qblockOverride func(mr, nr int) (mc, nc int)

// runThreads splits the job over threads goroutines (splitWork).
func (j *qjob) runThreads(threads int) {
	if threads <= 1 {
		j.run() // j does not escape: one-thread calls allocate nothing
		return
	}
	whole := *j
	mr := whole.uk.mr
	if whole.fused != nil {
		mr = whole.fused.narrow.mr // a multiple of the wide kernel's
	}
	splitWork(threads, whole.m, whole.n, mr, whole.uk.nr, func(i0, m, j0, n int) {
		s := whole
		s.i0, s.m, s.j0, s.n = whole.i0+i0, m, whole.j0+j0, n
		s.run()
	})
}

type qbuf struct {
	a    []byte
	tile []int32
}

var qbufPool = sync.Pool{New: func() any { return new(qbuf) }}

func (j *qjob) run() {
	if j.fused != nil {
		j.runFused()
		return
	}
	uk, w := j.uk, j.w
	mr, nr := uk.mr, uk.nr
	groups := w.groups
	buf := qbufPool.Get().(*qbuf)
	defer qbufPool.Put(buf)
	if cap(buf.tile) < mr*nr {
		buf.tile = make([]int32, mr*nr)
	}
	tile := buf.tile[:mr*nr]
	panelBytes := groups * nr * 4
	apanel := groups * mr * 4
	direct := j.st.kind == qoutInt32 && j.st.zp == nil
	for jc := 0; jc < j.n; jc += j.nc {
		nc := min(j.nc, j.n-jc)
		ncp := (nc + nr - 1) / nr
		for ic := 0; ic < j.m; ic += j.mc {
			mc := min(j.mc, j.m-ic)
			mcp := (mc + mr - 1) / mr
			if cap(buf.a) < mcp*apanel+64 {
				buf.a = alignedBytes(mcp*apanel + 64)
			}
			ab := buf.a[:mcp*apanel]
			for r := 0; r < mcp; r++ {
				j.packA(ab[r*apanel:(r+1)*apanel], j.i0+ic+r*mr, min(mr, mc-r*mr))
			}
			for r := 0; r < mcp; r++ {
				rows := min(mr, mc-r*mr)
				row := j.i0 + ic + r*mr
				for q := 0; q < ncp; q++ {
					col := j.j0 + jc + q*nr
					cols := min(nr, nc-q*nr)
					// Full tiles of int32 output without row corrections
					// go straight to C.
					direct := direct && rows == mr && cols == nr && groups > 0
					c, ldc := &tile[0], nr
					if direct {
						c, ldc = &j.st.Int32[row*j.st.Ldc+col], j.st.Ldc
					}
					if groups == 0 {
						for i := 0; i < mr; i++ {
							copy(tile[i*nr:(i+1)*nr], j.st.colCorr[col:col+nr])
						}
					}
					for g := 0; g < groups; g += qmaxGroups {
						ap := unsafe.Pointer(&ab[r*apanel+g*mr*4])
						bp := unsafe.Pointer(&w.data[(col/nr)*panelBytes+g*nr*4])
						kg := min(qmaxGroups, groups-g)
						load := 0
						if g > 0 {
							load = 1
						}
						uk.fn(kg, ap, bp, c, ldc, &j.st.colCorr[col], load)
					}
					if !direct {
						j.st.apply(tile, nr, row, rows, col, cols)
					}
				}
			}
		}
	}
}

// runFused runs the job on the fused kernels: for each block of rows, for
// each weight panel, tiles of the kernel's rows read from A in place (or
// from a zero-padded copy where the tile's reads would pass A's end).
func (j *qjob) runFused() {
	f, w, st := j.fused, j.w, j.st
	groups := w.groups
	kb := groups * 4 // the bytes read from each row
	panelBytes := groups * w.nr * 4
	var out unsafe.Pointer
	if st.signed {
		out = unsafe.Pointer(unsafe.SliceData(st.Int8))
	} else {
		out = unsafe.Pointer(unsafe.SliceData(st.Uint8))
	}
	perCh := b2i(st.perCh)
	// Each block of step rows stays in L1 while it meets every panel of
	// the N block (in L2). It is read in place, or from a copy where its
	// reads would pass A's end (zero-padded) or where it meets enough
	// panels that flipping int8 activations once beats flipping them in
	// the kernel for every panel.
	step := f.narrow.mr
	if j.m < qsmallRows {
		step = f.small.mr
	}
	flip := uint32(0)
	copyFlip := j.flip && j.n > 2*w.nr
	if j.flip && !copyFlip {
		flip = 0x80808080
	}
	var buf *qbuf
	defer func() {
		if buf != nil {
			qbufPool.Put(buf)
		}
	}()
	for r0 := 0; r0 < j.m; r0 += step {
		rows0 := min(step, j.m-r0)
		a, lda := unsafe.Pointer(nil), j.lda
		if row := j.i0 + r0; copyFlip || (row+step-1)*lda+kb > len(j.a) {
			if buf == nil {
				buf = qbufPool.Get().(*qbuf)
				if cap(buf.a) < step*kb {
					buf.a = make([]byte, step*kb)
				}
			}
			blk := buf.a[:step*kb]
			j.copyRows(blk, kb, row, rows0, copyFlip)
			a, lda = unsafe.Pointer(&blk[0]), kb
		} else {
			a = unsafe.Pointer(&j.a[row*lda])
		}
		for jc := 0; jc < j.n; jc += w.nr {
			col := j.j0 + jc
			cols := min(w.nr, j.n-jc)
			uk := &f.wide
			switch {
			case j.m < qsmallRows:
				uk = &f.small
			case cols <= 16:
				uk = &f.narrow
			}
			masks := uint32(1)<<cols - 1
			if cols == 32 {
				masks = ^uint32(0)
			}
			b := unsafe.Pointer(&w.data[(col/w.nr)*panelBytes])
			sc := &st.Scale[col*perCh]
			for r := 0; r < rows0; r += uk.mr {
				dst := unsafe.Add(out, (j.i0+r0+r)*st.Ldc+col)
				uk.fn(groups, unsafe.Add(a, r*lda), lda, b, dst, st.Ldc, min(uk.mr, rows0-r), masks, &st.colCorr[col], sc, perCh, st.flo, st.fhi, st.ZeroPoint, flip)
			}
		}
	}
}

// copyRows copies rows [row, row+rows) of A (XOR 0x80 with flip) into
// dst, rows kb bytes apart, zero past K and past the rows.
func (j *qjob) copyRows(dst []byte, kb, row, rows int, flip bool) {
	clear(dst[rows*kb:])
	var x byte
	if flip {
		x = 0x80
	}
	for i := 0; i < rows; i++ {
		xorCopy(dst[i*kb:], j.a[(row+i)*j.lda:(row+i)*j.lda+j.k], x)
		clear(dst[i*kb+j.k : (i+1)*kb])
	}
}

// packA packs rows [r0, r0+rows) of A into one micro-panel of groups:
// dst[g*MR*4 + i*4 + t] = A[r0+i][g*G+t] (XOR 0x80 when flipping int8
// activations; widened to int16 pairs for wide kernels), zero past K and
// past rows.
func (j *qjob) packA(dst []byte, r0, rows int) {
	mr, k := j.uk.mr, j.k
	groups := j.w.groups
	x := byte(0)
	if j.flip {
		x = 0x80
	}
	x32 := uint32(x) * 0x01010101
	// Gather the rows' addresses (bounds checked once per row), then write
	// the panel sequentially, group by group.
	var srcs [qmaxMR]unsafe.Pointer
	for i := 0; i < rows; i++ {
		row := j.a[(r0+i)*j.lda : (r0+i)*j.lda+k]
		if k > 0 {
			srcs[i] = unsafe.Pointer(unsafe.SliceData(row))
		}
	}
	if groups == 0 {
		return
	}
	// Stores go through d0+o (never a pointer past dst's end).
	d0, o := unsafe.Pointer(&dst[0]), 0
	if j.uk.wide {
		// Pairs of bytes widened to two int16 (zero- or, for signedA,
		// sign-extended).
		full := k / 2
		x16 := uint16(x) * 0x0101
		signed := j.uk.signedA
		for g := 0; g < full; g++ {
			off := uintptr(g) * 2
			for i := 0; i < rows; i++ {
				u := *(*uint16)(unsafe.Add(srcs[i], off)) ^ x16
				v := uint32(u&0xff) | uint32(u>>8)<<16
				if signed {
					v = uint32(uint16(int16(int8(u)))) | uint32(int32(int8(u>>8)))<<16
				}
				*(*uint32)(unsafe.Add(d0, o)) = v
				o += 4
			}
			for i := rows; i < mr; i++ {
				*(*uint32)(unsafe.Add(d0, o)) = 0
				o += 4
			}
		}
		if full < groups {
			for i := 0; i < mr; i++ {
				var v uint32
				if i < rows {
					b := *(*byte)(unsafe.Add(srcs[i], k-1)) ^ x
					v = uint32(b)
					if signed {
						v = uint32(uint16(int16(int8(b))))
					}
				}
				*(*uint32)(unsafe.Add(d0, o)) = v
				o += 4
			}
		}
		return
	}
	full := k / 4
	// Quads of rows through the SIMD transposes where there are some:
	// chunks of qpackA4Chunk groups, then the rest of the whole groups; the
	// other rows in Go.
	rsimd := 0
	if qpackA4SmallAsm != nil && !qrequantNoAsm && full > 0 && rows >= 4 {
		rsimd = rows / 4 * 4
		for q := 0; q < rsimd; q += 4 {
			g0 := 0
			if full >= qpackA4Chunk {
				chunks := full / qpackA4Chunk
				qpackA4Asm(unsafe.Add(d0, q*4), mr*4, srcs[q], srcs[q+1], srcs[q+2], srcs[q+3], chunks, x32)
				g0 = chunks * qpackA4Chunk
			}
			if g0 < full {
				off := uintptr(g0) * 4
				qpackA4SmallAsm(unsafe.Add(d0, g0*mr*4+q*4), mr*4, unsafe.Add(srcs[q], off), unsafe.Add(srcs[q+1], off),
					unsafe.Add(srcs[q+2], off), unsafe.Add(srcs[q+3], off), full-g0, x32)
			}
		}
	}
	for g := 0; g < full; g++ {
		off := uintptr(g) * 4
		dg := unsafe.Add(d0, g*mr*4)
		for i := rsimd; i < rows; i++ {
			*(*uint32)(unsafe.Add(dg, i*4)) = *(*uint32)(unsafe.Add(srcs[i], off)) ^ x32
		}
		for i := rows; i < mr; i++ {
			*(*uint32)(unsafe.Add(dg, i*4)) = 0
		}
	}
	o = full * mr * 4
	if full < groups {
		// The last, partial group: one 4-byte load, masked, where the
		// bytes after the row are still in A (the next row's).
		mask := uint32(1)<<(8*(k-full*4)) - 1
		for i := 0; i < mr; i++ {
			var v uint32
			switch {
			case i >= rows:
			case (r0+i)*j.lda+full*4+4 <= len(j.a):
				v = (*(*uint32)(unsafe.Add(srcs[i], full*4)) ^ x32) & mask
			default:
				for t := 0; full*4+t < k; t++ {
					v |= uint32(*(*byte)(unsafe.Add(srcs[i], full*4+t))^x) << (8 * t)
				}
			}
			*(*uint32)(unsafe.Add(d0, o)) = v
			o += 4
		}
	}
}

// qpackA4Asm, where set, packs 4 rows (src0..src3) × qpackA4Chunk·chunks groups of
// 4 bytes (XOR x) into dst[g*stride + i*4] (a 4×4 dword transpose).
var qpackA4Asm func(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, chunks int, x uint32)

// qpackA4SmallAsm, where set, packs 4 rows × groups groups (any number)
// as qpackA4Asm does, reading only those groups' bytes; it is set wherever
// qpackA4Asm is.
var qpackA4SmallAsm func(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, groups int, x uint32)

// qpackA4Chunk is the number of groups per chunk of qpackA4Asm (16 for
// AVX-512, 8 for AVX2).
var qpackA4Chunk = 16

// qmaxMR bounds the INT8 microkernels' tile height.
const qmaxMR = 16

// qgemm4x8c4Generic is the pure-Go microkernel (4×8 tile, c4 groups): one
// row at a time with its 8 sums in registers (1.45x an accumulator array).
func qgemm4x8c4Generic(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int) {
	const mr, nr = 4, 8
	as := unsafe.Slice((*uint8)(a), kg*mr*4)
	bs := unsafe.Slice((*int8)(b), kg*nr*4)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	in := unsafe.Slice(init, nr)
	for i := 0; i < mr; i++ {
		var c0, c1, c2, c3, c4, c5, c6, c7 int32
		if load != 0 {
			r := cs[i*ldc : i*ldc+nr]
			c0, c1, c2, c3, c4, c5, c6, c7 = r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
		} else {
			c0, c1, c2, c3, c4, c5, c6, c7 = in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
		}
		for g := 0; g < kg; g++ {
			ag := as[g*mr*4+i*4 : g*mr*4+i*4+4]
			a0, a1, a2, a3 := int32(ag[0]), int32(ag[1]), int32(ag[2]), int32(ag[3])
			w := bs[g*nr*4 : g*nr*4+32]
			c0 += a0*int32(w[0]) + a1*int32(w[1]) + a2*int32(w[2]) + a3*int32(w[3])
			c1 += a0*int32(w[4]) + a1*int32(w[5]) + a2*int32(w[6]) + a3*int32(w[7])
			c2 += a0*int32(w[8]) + a1*int32(w[9]) + a2*int32(w[10]) + a3*int32(w[11])
			c3 += a0*int32(w[12]) + a1*int32(w[13]) + a2*int32(w[14]) + a3*int32(w[15])
			c4 += a0*int32(w[16]) + a1*int32(w[17]) + a2*int32(w[18]) + a3*int32(w[19])
			c5 += a0*int32(w[20]) + a1*int32(w[21]) + a2*int32(w[22]) + a3*int32(w[23])
			c6 += a0*int32(w[24]) + a1*int32(w[25]) + a2*int32(w[26]) + a3*int32(w[27])
			c7 += a0*int32(w[28]) + a1*int32(w[29]) + a2*int32(w[30]) + a3*int32(w[31])
		}
		r := cs[i*ldc : i*ldc+nr]
		r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] = c0, c1, c2, c3, c4, c5, c6, c7
	}
}

// PeakInt8 runs the named Int8 path's register-only dot-product loop for
// iters iterations and returns the operations it did (a multiply-add
// counts as two), or 0 for a path without such a loop (generic) or not
// built here. Divided by the time taken it is the path's ceiling. The
// caller must check the path is supported.
func PeakInt8(path string, iters int) float64 { return qpeak(path, iters) }

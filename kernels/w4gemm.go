package kernels

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// 4-bit weights (W4A8, W4A4): C = (A - za)·(W - zw)ᵀ with W stored at
// 4 bits in memory and expanded to int8 in registers right before the
// INT8 dot products.
//
// Weights come as ONNX int4/uint4 data: an N×K tensor (output channel n's
// K weights contiguous, as a Gemm Bᵀ, a MatMulNBits B or a flattened Conv
// weight), two elements per byte, element e = n·K + k in byte e/2, low
// nibble first. Zero points and scales are per output channel or per
// block of BlockSize weights along K (ONNX blocked quantization, opset 21;
// MatMulNBits).
//
// Arithmetic: a nibble is stored as u in [0, 15] (int4 values s as s+8,
// with their zero point moved by 8 likewise), so every weight is
// w - zw = u - zu with zu in [0, 15]. Kernels compute, per block,
//
//	dot[m][n] = Σ_k a[m][k]·(u[n][k] - zu[n][blk]) - za·Σ_k (u - zu)
//
// exactly in int32 (u - zu is an int8 in [-15, 15], subtracted in
// registers; the za term is each block's start value), so no row sums of
// A are ever needed.
//
//   - Per output channel (BlockSize 0): one block spans K; the int32 sums
//     go through the INT8 output stage (QOutput: int32, float32, uint8 or
//     int8, float or fixed-point requantization), like QGemmU8.
//   - Per block: each block's int32 dot is scaled in float32 and summed in
//     block order, starting from the bias:
//
//     C[m][n] = FloatBias[n]  (or 0)
//     for each block b: C[m][n] = fma(float32(dot_b), S[n][b], C[m][n])   (rounded once to float32)
//     S[n][b] = float32(scale[n][b]·Scale[n or 0])                        (once per call)
//
//     with QOutput.Float32 the only output (Scale: the activation scale, per
//     tensor or per column). Every path does exactly these operations in
//     this order, so results are bit-identical across paths.
//
// Packed layout (the same for every path, so weights never need
// repacking): ceil(N/32) panels of 32 output channels; panel p holds
// G = nblk·ceil(BlockSize/4) groups of 4 K elements (K padded with zeros
// to whole blocks), each group 64 bytes:
//
//	byte b of group g: low nibble  u[32p + b/4][4g + b%4]
//	                   high nibble u[32p + 16 + b/4][4g + b%4]
//
// so the low nibbles of a 64-byte group are exactly an INT8 c4 weight
// vector for channels 0-15 of the panel and the high nibbles one for
// channels 16-31. Per panel and block, zu is stored as 128 bytes (channel
// j's zu repeated 4 times, the same c4 order), the block's start sums
// Σ(u - zu) as 32 int32 and its scales as 32 float32.

// Int4 is the 4-bit-weight GEMM family (W4A8, W4A4): generic (pure Go),
// neon (arm64 SMULL/SADALP) and neondot (arm64 SDOT) on int8 a-128,
// avx2 (VPMADDUBSW, exact with 4-bit weights, + VPMADDWD), avxvnni (VEX
// VPDPBUSD ymm) and avx512vnni (VPDPBUSD zmm); the assembly paths expand
// the nibbles in registers (VPSRLW, VPAND 0x0F, VPSUBB zero points).
var Int4 = newFamily("int4", "generic", "neon", "neondot", "avx2", "avxvnni", "avx512vnni")

// w4nr is the panel width of the packed 4-bit weights (all paths).
const w4nr = 32

// w4kernel is one Int4 path's pair of microkernels on a 32-channel
// panel, both reading nibble-packed groups (64 bytes) and expanding them
// to u - zu in registers:
//
//   - fn (per channel): the INT8 qkernel contract, c[i][j] = start +
//     Σ over kg groups a·(u - zu), start = c (load != 0) or init[j];
//     zu: 128 bytes.
//   - blk (per block): for each of nblk blocks of gpb groups,
//     d[i][j] = init[b*32+j] + Σ a·(u - zu_b); f[i*ldf+j] = fma(float32(d),
//     sc[b*32+j], f[i*ldf+j]) (one rounding, fmaf32), zu advancing 128
//     bytes per block.
//
// With half, fn and blk cover channels 0-15 only (the low nibbles) and
// fnHi and blkHi channels 16-31 (the high nibbles); the driver passes
// them zu, init, sc and c/f advanced to channel 16.
type w4kernel struct {
	name string
	mr   int
	half bool
	// signedA: A is packed as a-128 (int8, for s8×s8 products such as
	// arm64's SDOT and SMULL) and the zero point moves by 128 likewise
	// (the block start values become -(za-128)·Σ(u - zu)), which leaves
	// every (a - za) unchanged; A's padding past K stays 0.
	signedA bool
	fn      func(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)
	blk     func(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)
	fnHi    func(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)
	blkHi   func(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)
}

var w4Kernels = func() []*w4kernel {
	ks := make([]*w4kernel, len(Int4.paths))
	ks[0] = &w4kernel{name: "w4gemm_4x32_generic", mr: 4, fn: w4gemm4x32Generic, blk: w4blk4x32Generic}
	return ks
}()

// QPacked4Weights is a 4-bit weight matrix W (N×K) packed for the Int4
// kernels (see the layout above), with its zero points and, for blocked
// quantization, its scales.
type QPacked4Weights struct {
	n, k      int
	signed    bool
	block     int     // BlockSize; 0 = per output channel
	nblk      int     // blocks along K (1 per channel)
	gpb       int     // groups per block
	data      []byte  // panels of nblk*gpb*64 bytes
	zu        []byte  // panels × blocks × 128 bytes
	colSum    []int32 // Σ_k (u - zu), [panel][blk][32]
	scale     []float32
	hasZPoint bool
}

// Int4Quant describes how a 4-bit weight tensor is quantized.
type Int4Quant struct {
	// Signed: the nibbles are int4 ([-8, 7]); otherwise uint4 ([0, 15]).
	Signed bool
	// BlockSize is the block length along K for blocked quantization
	// (a multiple of 4: 16, 32, 64, 128... as MatMulNBits and ONNX
	// QuantizeLinear with block_size use), or 0 for per output channel
	// (or per tensor) parameters.
	BlockSize int
	// ZeroPoints, unpacked (one value per int32, in the type's range): nil
	// (all 0, as ONNX's default; MatMulNBits' default is 8 for uint4 and
	// must be passed), one value, N values (per channel), or N·ceil(K/BlockSize)
	// values (per block, [n][block]).
	ZeroPoints []int32
	// Scales, for blocked quantization only: N·ceil(K/BlockSize) values
	// ([n][block]), finite. Per-channel scales belong in QOutput.
	Scales []float32
}

// N is the number of output channels.
func (w *QPacked4Weights) N() int { return w.n }

// K is the reduction length.
func (w *QPacked4Weights) K() int { return w.k }

// BlockSize is the quantization block along K, 0 for per channel.
func (w *QPacked4Weights) BlockSize() int { return w.block }

// Nibble returns the ONNX-order element e (two per byte, low nibble first)
// of packed 4-bit data: int4 sign-extended when signed.
func Nibble(data []byte, e int, signed bool) int8 {
	v := data[e/2] >> (4 * uint(e&1)) & 15
	if signed {
		return int8(v<<4) >> 4
	}
	return int8(v)
}

// PackNibbles packs 4-bit values (int4 in [-8, 7] or uint4 in [0, 15])
// two per byte in ONNX order (element 2i in the low nibble).
func PackNibbles(v []int8) []byte {
	out := make([]byte, (len(v)+1)/2)
	for e, x := range v {
		out[e/2] |= byte(x&15) << (4 * uint(e&1))
	}
	return out
}

// PackInt4Weights packs W, n×k 4-bit values in ONNX order (data holds at
// least ceil(n·k/2) bytes; element n·k+q is weight q of channel n), with
// the quantization q describes.
func PackInt4Weights(n, k int, data []byte, q Int4Quant) *QPacked4Weights {
	if n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: PackInt4Weights: negative size %dx%d", n, k))
	}
	if len(data) < (n*k+1)/2 {
		panic(fmt.Sprintf("kernels: PackInt4Weights: %d bytes for %dx%d nibbles", len(data), n, k))
	}
	p := &QPacked4Weights{n: n, k: k, signed: q.Signed, block: q.BlockSize}
	if q.BlockSize < 0 || q.BlockSize%4 != 0 {
		panic(fmt.Sprintf("kernels: PackInt4Weights: block size %d is not a multiple of 4", q.BlockSize))
	}
	if q.BlockSize == 0 {
		p.nblk, p.gpb = 1, (k+3)/4
		if len(q.Scales) != 0 {
			panic("kernels: PackInt4Weights: per-channel scales belong in QOutput")
		}
	} else {
		p.nblk, p.gpb = (k+q.BlockSize-1)/q.BlockSize, q.BlockSize/4
		if len(q.Scales) != n*p.nblk {
			panic(fmt.Sprintf("kernels: PackInt4Weights: %d scales, want %d (%d channels × %d blocks)", len(q.Scales), n*p.nblk, n, p.nblk))
		}
		for _, s := range q.Scales {
			if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
				panic("kernels: PackInt4Weights: non-finite scale")
			}
		}
	}
	zlo, zhi := int32(0), int32(15)
	if q.Signed {
		zlo, zhi = -8, 7
	}
	zpAt := func(j, b int) int32 { return 0 }
	switch len(q.ZeroPoints) {
	case 0:
	case 1:
		zpAt = func(j, b int) int32 { return q.ZeroPoints[0] }
	case n:
		zpAt = func(j, b int) int32 { return q.ZeroPoints[j] }
	case n * p.nblk:
		zpAt = func(j, b int) int32 { return q.ZeroPoints[j*p.nblk+b] }
	default:
		panic(fmt.Sprintf("kernels: PackInt4Weights: %d zero points for %d channels and %d blocks", len(q.ZeroPoints), n, p.nblk))
	}
	for _, z := range q.ZeroPoints {
		if z < zlo || z > zhi {
			panic(fmt.Sprintf("kernels: PackInt4Weights: zero point %d out of range", z))
		}
		p.hasZPoint = p.hasZPoint || z != 0
	}
	np := (n + w4nr - 1) / w4nr
	G := p.nblk * p.gpb
	p.data = alignedBytes(np * G * 64)
	clear(p.data)
	p.zu = alignedBytes(np * p.nblk * 128)
	clear(p.zu)
	p.colSum = make([]int32, np*p.nblk*w4nr)
	if q.BlockSize != 0 {
		p.scale = make([]float32, np*p.nblk*w4nr)
	}
	bs := q.BlockSize
	if bs == 0 {
		bs = max(k, 1)
	}
	for j := 0; j < n; j++ {
		pn, jj := j/w4nr, j%w4nr
		panel := p.data[pn*G*64:]
		shift, lane := uint(0), jj
		if jj >= 16 {
			shift, lane = 4, jj-16
		}
		for b := 0; b < p.nblk; b++ {
			zu := zpAt(j, b)
			if q.Signed {
				zu += 8
			}
			zo := (pn*p.nblk+b)*128 + jj*4
			for t := 0; t < 4; t++ {
				p.zu[zo+t] = byte(zu)
			}
			var s int32
			for x := b * bs; x < min(k, (b+1)*bs); x++ {
				u := int32(Nibble(data, j*k+x, false))
				if q.Signed {
					u ^= 8
				}
				s += u - zu
				g := b*p.gpb + (x-b*bs)/4
				panel[g*64+lane*4+(x-b*bs)%4] |= byte(u) << shift
			}
			p.colSum[(pn*p.nblk+b)*w4nr+jj] = s
			if p.scale != nil {
				p.scale[(pn*p.nblk+b)*w4nr+jj] = q.Scales[j*p.nblk+b]
			}
		}
	}
	return p
}

// QGemmW4U8 computes C = out((A - za)·(W - zw)ᵀ) for uint8 activations A
// (m×K, row stride lda) and 4-bit weights W packed by PackInt4Weights.
// Per-channel weights take any QOutput (as QGemmU8); blocked weights
// take Float32 output only (see the top of w4gemm.go for the exact
// float operations). threads > 1 splits the work across goroutines.
func QGemmW4U8(m int, a []uint8, lda int, za uint8, w *QPacked4Weights, out *QOutput, threads int) {
	w4gemm(m, a, lda, int32(za), w, out, threads)
}

// QGemmW4A4 is QGemmW4U8 for 4-bit activations: A holds m×K int4
// (signed) or uint4 values in ONNX order with row stride lda elements
// (element i·lda+q at byte (i·lda+q)/2, low nibble first), with zero point
// za in the type's range. The values are expanded to bytes (int4 + 8) and
// run through the W4A8 kernels.
func QGemmW4A4(m int, a []byte, lda int, signed bool, za int8, w *QPacked4Weights, out *QOutput, threads int) {
	k := w.k
	if m < 0 || (m > 0 && k > 0 && (lda < k || len(a) < ((m-1)*lda+k+1)/2)) {
		panic(fmt.Sprintf("kernels: QGemmW4A4: A has %d bytes with lda %d for %dx%d", len(a), lda, m, k))
	}
	z := int32(za)
	if signed {
		if z < -8 || z > 7 {
			panic(fmt.Sprintf("kernels: QGemmW4A4: int4 zero point %d", z))
		}
		z += 8
	} else if z < 0 || z > 15 {
		panic(fmt.Sprintf("kernels: QGemmW4A4: uint4 zero point %d", z))
	}
	bp := w4a4Pool.Get().(*[]uint8)
	defer w4a4Pool.Put(bp)
	if cap(*bp) < m*k {
		*bp = make([]uint8, m*k)
	}
	au := (*bp)[:m*k]
	x := byte(0)
	if signed {
		x = 0x88
	}
	for i := 0; i < m; i++ {
		row := au[i*k : i*k+k]
		e := i * lda
		q := 0
		if e&1 != 0 && k > 0 { // row starts on a high nibble
			row[0] = (a[e/2] ^ x) >> 4
			q = 1
		}
		src := a[(e+q)/2:]
		for ; q+1 < k; q += 2 {
			v := src[0] ^ x
			src = src[1:]
			row[q], row[q+1] = v&15, v>>4
		}
		if q < k {
			row[q] = (src[0] ^ x) & 15
		}
	}
	w4gemm(m, au, k, z, w, out, threads)
}

var w4a4Pool = sync.Pool{New: func() any { return new([]uint8) }}

func w4gemm(m int, a []uint8, lda int, za int32, w *QPacked4Weights, out *QOutput, threads int) {
	if m < 0 {
		panic("kernels: QGemmW4: negative m")
	}
	n, k := w.n, w.k
	if m == 0 || n == 0 {
		return
	}
	if k > 0 && (lda < k || len(a) < (m-1)*lda+k) {
		panic(fmt.Sprintf("kernels: QGemmW4: A has %d elements with lda %d for %dx%d", len(a), lda, m, k))
	}
	uk := w4Kernels[Int4.activeIndex()]
	if uk.signedA {
		za -= 128
	}
	np := (n + w4nr - 1) / w4nr
	j := &w4job{m: m, n: n, k: k, nn: n, a: a, lda: lda, w: w, uk: uk}
	// Block start values -za·Σ(u - zu), per call.
	j.init = make([]int32, len(w.colSum))
	for i, s := range w.colSum {
		j.init[i] = -za * s
	}
	if w.block == 0 {
		colCorr := make([]int32, n)
		for c := range colCorr {
			colCorr[c] = w.colSum[(c/w4nr)*w4nr+c%w4nr]
		}
		j.st = newQoutStage(m, n, k, za, colCorr, nil, out)
		// newQoutStage folded -za·colsum and the bias into colCorr (n+pad).
		j.init = make([]int32, np*w4nr)
		copy(j.init, j.st.colCorr[:n])
	} else {
		if out.Float32 == nil || out.Int32 != nil || out.Uint8 != nil || out.Int8 != nil {
			panic("kernels: QGemmW4: blocked weights need QOutput.Float32 (only)")
		}
		if out.Ldc < n || len(out.Float32) < (m-1)*out.Ldc+n {
			panic(fmt.Sprintf("kernels: QGemmW4: C too small (len %d, ldc %d) for %dx%d", len(out.Float32), out.Ldc, m, n))
		}
		if len(out.Scale) != 1 && len(out.Scale) != n {
			panic(fmt.Sprintf("kernels: QGemmW4: Scale has length %d, want 1 or %d", len(out.Scale), n))
		}
		if out.FloatBias != nil && len(out.FloatBias) != 1 && len(out.FloatBias) != n {
			panic(fmt.Sprintf("kernels: QGemmW4: FloatBias has length %d, want 1 or %d", len(out.FloatBias), n))
		}
		if out.Bias != nil {
			panic("kernels: QGemmW4: blocked weights take FloatBias, not Bias")
		}
		j.out = out
		j.sc = make([]float32, len(w.scale))
		for pn := 0; pn < np; pn++ {
			for b := 0; b < w.nblk; b++ {
				for jj := 0; jj < w4nr; jj++ {
					c := pn*w4nr + jj
					if c >= n {
						break
					}
					i := (pn*w.nblk+b)*w4nr + jj
					j.sc[i] = float32(w.scale[i] * pick1(out.Scale, c))
				}
			}
		}
	}
	j.runThreads(threads)
}

func pick1(s []float32, j int) float32 {
	if len(s) == 1 {
		return s[0]
	}
	return s[j]
}

// w4job is one QGemmW4 call or one thread's share of it: rows [i0,
// i0+m), columns [j0, j0+nn).
type w4job struct {
	m, n, k int
	i0      int
	j0, nn  int
	a       []uint8
	lda     int
	w       *QPacked4Weights
	uk      *w4kernel
	init    []int32   // per-block start values [panel][blk][32]
	sc      []float32 // per-block scales × the activation scale
	st      *qoutStage
	out     *QOutput // blocked
}

// w4maxM bounds the rows of A packed at once.
const w4maxM = 256

func (j *w4job) runThreads(threads int) {
	splitWork(threads, j.m, j.n, j.uk.mr, w4nr, func(i0, m, j0, n int) {
		s := *j
		s.i0, s.m, s.j0, s.nn = i0, m, j0, n
		s.run()
	})
}

type w4buf struct {
	a    []byte
	tile []int32
	f    []float32
}

var w4bufPool = sync.Pool{New: func() any { return new(w4buf) }}

func (j *w4job) run() {
	uk, w := j.uk, j.w
	mr := uk.mr
	G := w.nblk * w.gpb
	buf := w4bufPool.Get().(*w4buf)
	defer w4bufPool.Put(buf)
	if cap(buf.tile) < mr*w4nr {
		buf.tile = make([]int32, mr*w4nr)
		buf.f = make([]float32, mr*w4nr)
	}
	tile, ftile := buf.tile[:mr*w4nr], buf.f[:mr*w4nr]
	apanel := G * mr * 4
	// Packs A rows through the INT8 packer (c4 groups), then zero-pads
	// the groups of the last block.
	pk := &qjob{k: j.k, a: j.a, lda: j.lda, flip: uk.signedA, uk: &qkernel{mr: mr, signedA: uk.signedA}, w: &QPackedWeights{groups: (j.k + 3) / 4}}
	kg0 := (j.k + 3) / 4
	panelBytes := G * 64
	blocksPerCall := max(1, qmaxGroups/max(1, w.gpb))
	for ic := 0; ic < j.m; ic += w4maxM {
		mc := min(w4maxM, j.m-ic)
		mcp := (mc + mr - 1) / mr
		if cap(buf.a) < mcp*apanel+64 {
			buf.a = alignedBytes(mcp*apanel + 64)
		}
		ab := buf.a[:mcp*apanel]
		for r := 0; r < mcp; r++ {
			pk.packA(ab[r*apanel:], j.i0+ic+r*mr, min(mr, mc-r*mr))
			clear(ab[r*apanel+kg0*mr*4 : (r+1)*apanel])
		}
		for q := j.j0 / w4nr; q*w4nr < j.j0+j.nn; q++ {
			col := q * w4nr
			cols := min(w4nr, j.j0+j.nn-col)
			bp := unsafe.Pointer(unsafe.SliceData(w.data[q*panelBytes:]))
			zp := unsafe.Pointer(unsafe.SliceData(w.zu[q*w.nblk*128:])) // K = 0 blocked: no blocks
			for r := 0; r < mcp; r++ {
				rows := min(mr, mc-r*mr)
				row := j.i0 + ic + r*mr
				ap := unsafe.Pointer(unsafe.SliceData(ab[r*apanel:]))
				if w.block == 0 {
					init := &j.init[col]
					// Full tiles of int32 output go straight to C.
					direct := j.st.kind == qoutInt32 && rows == mr && cols == w4nr && G > 0
					c, ldc := tile, w4nr
					if direct {
						c, ldc = j.st.Int32[row*j.st.Ldc+col:], j.st.Ldc
					}
					if G == 0 {
						for i := 0; i < mr; i++ {
							copy(tile[i*w4nr:(i+1)*w4nr], j.init[col:col+w4nr])
						}
					}
					for g := 0; g < G; g += qmaxGroups {
						kg := min(qmaxGroups, G-g)
						load := 0
						if g > 0 {
							load = 1
						}
						a, b := unsafe.Add(ap, g*mr*4), unsafe.Add(bp, g*64)
						uk.fn(kg, a, b, zp, &c[0], ldc, init, load)
						if uk.half {
							uk.fnHi(kg, a, b, unsafe.Add(zp, 64), &c[16], ldc, &j.init[col+16], load)
						}
					}
					if !direct {
						j.st.apply(tile, w4nr, row, rows, col, cols)
					}
					continue
				}
				// Blocked: accumulate in C directly for full tiles, else
				// in ftile; start from the bias.
				f, ldf := ftile, w4nr
				direct := rows == mr && cols == w4nr
				if direct {
					f, ldf = j.out.Float32[row*j.out.Ldc+col:], j.out.Ldc
				}
				for i := 0; i < rows; i++ {
					dst := f[i*ldf : i*ldf+cols]
					if fb := j.out.FloatBias; fb == nil {
						clear(dst)
					} else if len(fb) == 1 {
						for x := range dst {
							dst[x] = fb[0]
						}
					} else {
						copy(dst, fb[col:col+cols])
					}
				}
				for b := 0; b < w.nblk; b += blocksPerCall {
					nb := min(blocksPerCall, w.nblk-b)
					o := (q*w.nblk + b) * w4nr
					a, bb, z := unsafe.Add(ap, b*w.gpb*mr*4), unsafe.Add(bp, b*w.gpb*64), unsafe.Add(zp, b*128)
					uk.blk(nb, w.gpb, a, bb, z, unsafe.Pointer(&j.sc[o]), &j.init[o], &f[0], ldf)
					if uk.half {
						uk.blkHi(nb, w.gpb, a, bb, unsafe.Add(z, 64), unsafe.Pointer(&j.sc[o+16]), &j.init[o+16], &f[16], ldf)
					}
				}
				if !direct {
					for i := 0; i < rows; i++ {
						copy(j.out.Float32[(row+i)*j.out.Ldc+col:(row+i)*j.out.Ldc+col+cols], ftile[i*w4nr:])
					}
				}
			}
		}
	}
}

// w4expand returns u - zu for the 32 channels × 4 K of one group.
func w4expand(grp, zu []byte) (v [w4nr * 4]int8) {
	for b := 0; b < 64; b++ {
		v[b] = int8(grp[b]&15) - int8(zu[b])
		v[64+b] = int8(grp[b]>>4) - int8(zu[64+b])
	}
	return v
}

// w4gemm4x32Generic is the pure-Go per-channel microkernel (4×32 tile).
func w4gemm4x32Generic(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int) {
	const mr, nr = 4, w4nr
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var acc [mr * nr]int32
	if load != 0 {
		for i := 0; i < mr; i++ {
			copy(acc[i*nr:i*nr+nr], cs[i*ldc:])
		}
	} else {
		in := unsafe.Slice(init, nr)
		for i := 0; i < mr; i++ {
			copy(acc[i*nr:i*nr+nr], in)
		}
	}
	w4dotGeneric(&acc, kg, unsafe.Slice((*uint8)(a), kg*mr*4), unsafe.Slice((*byte)(b), kg*64), unsafe.Slice((*byte)(zu), 128))
	for i := 0; i < mr; i++ {
		copy(cs[i*ldc:i*ldc+nr], acc[i*nr:])
	}
}

func w4dotGeneric(acc *[4 * w4nr]int32, kg int, as, bs, zu []byte) {
	const mr, nr = 4, w4nr
	for g := 0; g < kg; g++ {
		v := w4expand(bs[g*64:g*64+64], zu)
		ag := as[g*mr*4 : g*mr*4+mr*4]
		for i := 0; i < mr; i++ {
			a0, a1, a2, a3 := int32(ag[i*4]), int32(ag[i*4+1]), int32(ag[i*4+2]), int32(ag[i*4+3])
			ac := acc[i*nr : i*nr+nr]
			for jj := 0; jj < nr; jj++ {
				bw := v[jj*4 : jj*4+4]
				ac[jj] += a0*int32(bw[0]) + a1*int32(bw[1]) + a2*int32(bw[2]) + a3*int32(bw[3])
			}
		}
	}
}

// w4blk4x32Generic is the pure-Go per-block microkernel (4×32 tile).
func w4blk4x32Generic(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int) {
	const mr, nr = 4, w4nr
	fs := unsafe.Slice(f, (mr-1)*ldf+nr)
	as := unsafe.Slice((*uint8)(a), nblk*gpb*mr*4)
	bs := unsafe.Slice((*byte)(b), nblk*gpb*64)
	zs := unsafe.Slice((*byte)(zu), nblk*128)
	ss := unsafe.Slice((*float32)(sc), nblk*nr)
	ins := unsafe.Slice(init, nblk*nr)
	var acc [mr * nr]int32
	for bl := 0; bl < nblk; bl++ {
		for i := 0; i < mr; i++ {
			copy(acc[i*nr:i*nr+nr], ins[bl*nr:])
		}
		w4dotGeneric(&acc, gpb, as[bl*gpb*mr*4:], bs[bl*gpb*64:], zs[bl*128:])
		s := ss[bl*nr : bl*nr+nr]
		for i := 0; i < mr; i++ {
			fr := fs[i*ldf : i*ldf+nr]
			for x := range fr {
				fr[x] = fmaf32(float32(acc[i*nr+x]), s[x], fr[x])
			}
		}
	}
}

package kernels

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// 16-bit dynamic fixed point (DFP16): C = A·Wᵀ with int16 A (M×K) and
// int16 W (N×K), exact int64 sums, then an output stage that shifts by a
// power of two (each tensor shares one exponent: value = q·2^-f, so the
// product of A (fa) and W (fw) has exponent fa+fw and an output with
// exponent fy is acc·2^-(fa+fw-fy), rounded half to even).
//
// Exactness. int16×int16 products reach 2^30 and the SIMD instructions
// (VPDPWSSD, VPMADDWD) add them in pairs into int32: with every value
// -32768 a single pair is 2^31, which wraps. No chunk of several pairs at
// full range fits int32, so the kernels use one of three schemes, chosen
// at packing from the weights' actual range and the active path:
//
//   - One plane, |w| <= 511 (checked on the weights, never assumed):
//     VPDPWSSD/VPMADDWD sums over chunks of floor((2^31-1)/(32768·max|w|))
//     K elements (>= 128) fit int32; after each chunk the int32 sums are
//     widened to int64. One dot product per multiply-accumulate.
//
//   - Two planes (full range; avx2, neon and generic): w = 256·wh + wl with
//     wh = w>>8 in [-128, 127] and wl = w&255 in [0, 255]; Σ a·wh and
//     Σ a·wl accumulate separately in int32 over chunks of 256 K:
//     |a·wl| <= 32768·255, so a chunk is at most 256·32768·255 =
//     2139095040 < 2^31 in magnitude (a·wh: 2^30); each chunk adds
//     256·hi + lo to the int64 tile. Two dot products per
//     multiply-accumulate. (neon instead joins the planes back into
//     int16 in registers and adds exact int32 products pairwise into
//     int64 with SMULL + SADALP: no chunks.)
//
//   - Estimate (full range; avx512vnni): L = Σ a·w accumulates with
//     VPDPWSSD in int32, wrapping: exact modulo 2^32 however large the
//     sum. Beside it E = Σ ah·wh over the high bytes (ah = a>>8, s8×s8
//     through VPDPBUSD on (ah+128)·wh, minus 128·Σwh stored with the
//     weights per chunk), a four-way byte dot product at half the cost.
//     With a = 256·ah + al, w = 256·wh + wl: a·w - 2^16·ah·wh =
//     256·(ah·wl + al·wh) + al·wl, at most 256·(128·255 + 255·128) +
//     255·255 = 16776705 in magnitude, so over a chunk of 128 K
//     (2147418240 < 2^31) the exact sum S satisfies |S - 2^16·E| < 2^31
//     and S = 2^16·E + int32(L - 2^16·E) (wrapping int32 subtraction),
//     widened to int64 after each chunk. Three dot instructions per four
//     multiply-accumulates of two int16 pairs instead of four.
//
// Nothing can overflow, for any values and any K; the worst case (every
// value -32768) is tested with long K. Every path computes the exact
// sums, so the results are bit-identical across paths by construction;
// the output stage is shared (Go, or SIMD with the same rounding).
//
// Packed layouts (ceil(N/32) panels of 32 output channels):
//
//	one or two planes: ceil(K/2) groups of 2 K elements, each group
//	  Planes × 32 channels × 2 int16: int16 at ((g·Planes + q)·32 + j)·2 + t
//	  is plane q of W[32p + j][2g + t] (plane 0 = wh, 1 = wl when split;
//	  plane 0 = w otherwise).
//	estimate: steps of 4 K elements, 384 bytes each: two groups as above
//	  (32 channels × 2 int16, 128 bytes each), then 32 channels × 4 high
//	  bytes wh (s8); after every 32 steps (and after the last), 32 int32
//	  128·Σ wh over those steps.
//
// Weights packed in the estimate layout and run on a path without it
// (generic, avx2) are repacked on every call: pack again after Int16.Set.

// Int16 is the 16-bit dynamic-fixed-point GEMM family: generic (pure Go),
// neon (arm64 SMLAL/SMLAL2 int16×int16 → int32 widened per chunk, and
// SMULL + SADALP into int64 over the full range),
// avx2 (VPMADDWD + VPADDD ymm) and avx512vnni (VPDPWSSD zmm).
var Int16 = newFamily("int16", "generic", "neon", "avx2", "avx512vnni")

const i16nr = 32

// i16kernel is one Int16 path's microkernels on a 32-channel panel: fn[p]
// for p+1 planes adds to the int64 tile c (row stride ldc) the sums over
// kg groups of a·w, accumulating in int32 over chunks of chunk groups (the
// last may be shorter) and widening to int64 after each (a kernel whose
// sums are exact without chunks may ignore chunk); with load 0 the
// first chunk's sums are stored instead of added (c's tile is not read). With half, fn
// covers channels 0-15 of the panel only and is called again with b
// advanced 64 bytes and c 16 columns for channels 16-31.
type i16kernel struct {
	name string
	half bool
	// est, when set, runs the estimate layout (full range, exact; see the
	// top of i16gemm.go) over ks steps of 4 K with mr rows mrEst.
	est   func(ks, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)
	mrEst int
	mr    [2]int
	fn    [2]func(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)
}

var i16Kernels = func() []*i16kernel {
	ks := make([]*i16kernel, len(Int16.paths))
	ks[0] = &i16kernel{name: "i16gemm_4x32_generic", mr: [2]int{4, 4}, fn: [2]func(int, int, unsafe.Pointer, unsafe.Pointer, *int64, int, int){
		func(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc, load int) {
			i16gemmGeneric(1, kg, a, b, c, ldc, load)
		},
		func(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc, load int) {
			i16gemmGeneric(2, kg, a, b, c, ldc, load)
		},
	}}
	return ks
}()

// QPacked16Weights is an int16 weight matrix W (N×K) packed for the Int16
// kernels (layout above).
type QPacked16Weights struct {
	n, k   int
	planes int
	est    bool // estimate layout (planes is 2 then: full range)
	chunk  int  // groups (steps for est) per int32 chunk
	groups int  // ceil(K/2) (est: steps, ceil(K/4))
	maxAbs int32
	data   []byte
}

// N is the number of output channels.
func (w *QPacked16Weights) N() int { return w.n }

// K is the reduction length.
func (w *QPacked16Weights) K() int { return w.k }

// Planes is 1 when every |w| <= 511 (one dot product per
// multiply-accumulate), else 2 (full range: the two-plane split or, on
// avx512vnni, the estimate layout).
func (w *QPacked16Weights) Planes() int { return w.planes }

// i16chunkK is the longest chunk of K whose sum of a·w fits int32 for any
// int16 a and |w| <= maxAbs.
func i16chunkK(maxAbs int32) int {
	if maxAbs == 0 {
		return math.MaxInt32
	}
	return int((1<<31 - 1) / (32768 * int64(maxAbs)))
}

// PackInt16Weights packs W (n×k int16, row j = output channel j, rows ldw
// apart) for the Int16 kernels.
func PackInt16Weights(n, k int, w []int16, ldw int) *QPacked16Weights {
	return packInt16For(i16Kernels[Int16.activeIndex()], n, k, w, ldw)
}

// i16estChunk is the estimate layout's chunk: 32 steps of 4 K (see
// i16gemm.go's top comment for the bound).
const i16estChunk = 32

func packInt16For(uk *i16kernel, n, k int, w []int16, ldw int) *QPacked16Weights {
	if n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: PackInt16Weights: negative size %dx%d", n, k))
	}
	if n > 0 && k > 0 && (ldw < k || len(w) < (n-1)*ldw+k) {
		panic(fmt.Sprintf("kernels: PackInt16Weights: %d weights with ldw %d for %dx%d", len(w), ldw, n, k))
	}
	p := &QPacked16Weights{n: n, k: k, groups: (k + 1) / 2}
	for j := 0; j < n; j++ {
		for _, v := range w[j*ldw : j*ldw+k] {
			p.maxAbs = max(p.maxAbs, int32(v), -int32(v))
		}
	}
	p.planes = 1
	ck := i16chunkK(p.maxAbs)
	if ck < 128 {
		p.planes, ck = 2, 256
	}
	p.chunk = min(ck/2, qmaxGroups)
	np := (n + i16nr - 1) / i16nr
	if p.planes == 2 && uk.est != nil {
		p.est, p.groups, p.chunk = true, (k+3)/4, i16estChunk
		pb := i16estPanelBytes(p.groups)
		p.data = alignedBytes(np * pb)
		clear(p.data)
		for j := 0; j < n; j++ {
			panel := p.data[(j/i16nr)*pb:]
			jj := j % i16nr
			row := w[j*ldw : j*ldw+k]
			for c0 := 0; c0 < p.groups; c0 += i16estChunk {
				base := panel[(c0/i16estChunk)*(i16estChunk*384+128):]
				c1 := min(p.groups, c0+i16estChunk)
				var hs int32
				for st := c0; st < c1; st++ {
					sb := base[(st-c0)*384:]
					for t := 0; t < 4 && 4*st+t < k; t++ {
						v := row[4*st+t]
						o := (t/2)*128 + jj*4 + (t%2)*2
						u := uint16(v)
						sb[o], sb[o+1] = byte(u), byte(u>>8)
						sb[256+jj*4+t] = byte(int8(v >> 8))
						hs += int32(v >> 8)
					}
				}
				cb := base[(c1-c0)*384+jj*4:]
				c := uint32(128 * hs)
				cb[0], cb[1], cb[2], cb[3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
			}
		}
		return p
	}
	gb := p.planes * i16nr * 4
	p.data = alignedBytes(np * p.groups * gb)
	clear(p.data)
	d := unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(p.data))), len(p.data)/2)
	for j := 0; j < n; j++ {
		panel := d[(j/i16nr)*p.groups*gb/2:]
		jj := j % i16nr
		for q, v := range w[j*ldw : j*ldw+k] {
			g, t := q/2, q%2
			if p.planes == 1 {
				panel[(g*i16nr+jj)*2+t] = v
			} else {
				panel[((g*2)*i16nr+jj)*2+t] = v >> 8
				panel[((g*2+1)*i16nr+jj)*2+t] = v & 255
			}
		}
	}
	return p
}

// i16estPanelBytes is the size of one estimate-layout panel of steps
// steps: 384 bytes a step and 128 per chunk.
func i16estPanelBytes(steps int) int {
	return steps*384 + (steps+i16estChunk-1)/i16estChunk*128
}

// unpack rebuilds the n×k weights.
func (p *QPacked16Weights) unpack() []int16 {
	w := make([]int16, p.n*p.k)
	np := (p.n + i16nr - 1) / i16nr
	for j := 0; j < p.n; j++ {
		jj := j % i16nr
		for q := 0; q < p.k; q++ {
			var v int16
			switch {
			case p.est:
				pb := len(p.data) / max(1, np)
				st := q / 4
				o := (j/i16nr)*pb + (st/i16estChunk)*(i16estChunk*384+128) + (st%i16estChunk)*384 + ((q%4)/2)*128 + jj*4 + (q%2)*2
				v = int16(uint16(p.data[o]) | uint16(p.data[o+1])<<8)
			case p.planes == 1:
				o := (j/i16nr)*p.groups*128 + ((q/2)*i16nr+jj)*4 + (q%2)*2
				v = int16(uint16(p.data[o]) | uint16(p.data[o+1])<<8)
			default:
				o := (j/i16nr)*p.groups*256 + ((q/2)*2*i16nr+jj)*4 + (q%2)*2
				hi := int16(uint16(p.data[o]) | uint16(p.data[o+1])<<8)
				lo := int16(uint16(p.data[o+128]) | uint16(p.data[o+129])<<8)
				v = hi<<8 | lo
			}
			w[j*p.k+q] = v
		}
	}
	return w
}

// I16Output is the output stage of GemmInt16 and where it writes. Exactly
// one of Int64, Int32, Int16, Float32 is set; C's row stride is Ldc.
// acc = Σ_k a·w + Bias[n] (exact int64; Bias may be nil), then
//
//   - Int64: C = acc (Shift must be 0).
//   - Int32, Int16: C = saturate(round_half_even(acc / 2^Shift)).
//   - Float32: C = float32(float64(acc)·2^-Shift): rounded once to
//     float32, half to even, whenever |acc| < 2^53 (always without a
//     bias beyond that: |Σ a·w| <= K·2^30).
//
// Shift is in [0, 62]: for DFP tensors with exponents fa, fw and fy
// (value = q·2^-f), Shift = fa + fw - fy.
type I16Output struct {
	Int64   []int64
	Int32   []int32
	Int16   []int16
	Float32 []float32
	Ldc     int
	Bias    []int64
	Shift   int
}

// GemmInt16 computes C = out(A·Wᵀ): A m×K int16 with row stride lda, W
// packed by PackInt16Weights. threads > 1 splits the work (whole panels
// of output channels, or of rows when there are too few channels) across
// goroutines.
func GemmInt16(m int, a []int16, lda int, w *QPacked16Weights, out *I16Output, threads int) {
	if m < 0 {
		panic("kernels: GemmInt16: negative m")
	}
	n, k := w.n, w.k
	if m == 0 || n == 0 {
		return
	}
	if k > 0 && (lda < k || len(a) < (m-1)*lda+k) {
		panic(fmt.Sprintf("kernels: GemmInt16: A has %d elements with lda %d for %dx%d", len(a), lda, m, k))
	}
	set, need := 0, 0
	for _, l := range []int{len(out.Int64), len(out.Int32), len(out.Int16), len(out.Float32)} {
		if l > 0 {
			set++
			need = l
		}
	}
	if set != 1 {
		panic("kernels: GemmInt16: I16Output needs exactly one of Int64, Int32, Int16, Float32")
	}
	if out.Ldc < n || need < (m-1)*out.Ldc+n {
		panic(fmt.Sprintf("kernels: GemmInt16: C too small (len %d, ldc %d) for %dx%d", need, out.Ldc, m, n))
	}
	if out.Shift < 0 || out.Shift > 62 || (out.Int64 != nil && out.Shift != 0) {
		panic(fmt.Sprintf("kernels: GemmInt16: shift %d", out.Shift))
	}
	if out.Bias != nil && len(out.Bias) != n {
		panic(fmt.Sprintf("kernels: GemmInt16: Bias has length %d, want %d", len(out.Bias), n))
	}
	uk := i16Kernels[Int16.activeIndex()]
	if w.est && uk.est == nil {
		// Packed for another path: repacked on every call (pack again
		// after Int16.Set).
		w = packInt16For(uk, n, k, w.unpack(), k)
	}
	j := &i16job{m: m, n: n, k: k, a: a, lda: lda, w: w, uk: uk, out: out}
	splitWork(threads, m, n, j.mr(), i16nr, func(i0, mm, j0, nn int) {
		s := *j
		s.i0, s.m, s.j0, s.nn = i0, mm, j0, nn
		s.run()
	})
}

// i16job is one GemmInt16 call or one thread's share of it: rows [i0,
// i0+m), columns [j0, j0+nn).
type i16job struct {
	m, n, k int
	i0      int
	j0, nn  int
	a       []int16
	lda     int
	w       *QPacked16Weights
	uk      *i16kernel
	out     *I16Output
}

type i16buf struct {
	a    []byte
	tile []int64
}

var i16bufPool = sync.Pool{New: func() any { return new(i16buf) }}

// mr is the tile height of the kernel that runs j's weight layout.
func (j *i16job) mr() int {
	if j.w.est {
		return j.uk.mrEst
	}
	return j.uk.mr[j.w.planes-1]
}

func (j *i16job) run() {
	w, out := j.w, j.out
	mr := j.mr()
	G := w.groups
	buf := i16bufPool.Get().(*i16buf)
	defer i16bufPool.Put(buf)
	// Per group (est: step): A bytes per row, weight bytes; woff is the
	// weight offset of group g (a multiple of the chunk for est).
	aunit, wunit := 4, w.planes*i16nr*4
	fn := func(kg int, a, b unsafe.Pointer, c *int64, ldc, load int) {
		j.uk.fn[w.planes-1](kg, w.chunk, a, b, c, ldc, load)
	}
	woff := func(g int) int { return g * wunit }
	panelBytes := G * wunit
	if w.est {
		aunit, wunit = 12, 384
		fn = func(kg int, a, b unsafe.Pointer, c *int64, ldc, load int) {
			j.uk.est(kg, w.chunk, a, b, c, ldc, load)
		}
		woff = func(g int) int { return g / i16estChunk * (i16estChunk*384 + 128) }
		panelBytes = i16estPanelBytes(G)
	}
	apanel := G * mr * aunit
	// K blocks of kc groups keep a panel's weight slice in L1 (32 KiB)
	// while every A micro-panel of the row block goes through it; the
	// int64 sums of the row block × panel accumulate in buf.tile. A call
	// restarts its int32 chunks, so any split is exact (est: K blocks are
	// whole chunks, whose corrections follow them in the weights).
	kc := max(1, i16kcBytes/wunit)
	if w.est {
		kc = max(1, kc/i16estChunk) * i16estChunk
	}
	mcMax := min(w4maxM, j.m)
	mcMax = (mcMax + mr - 1) / mr * mr
	if cap(buf.tile) < mcMax*i16nr {
		buf.tile = make([]int64, mcMax*i16nr)
	}
	for ic := 0; ic < j.m; ic += w4maxM {
		mc := min(w4maxM, j.m-ic)
		mcp := (mc + mr - 1) / mr
		tile := buf.tile[:mcp*mr*i16nr]
		if cap(buf.a) < mcp*apanel+64 {
			buf.a = alignedBytes(mcp*apanel + 64)
		}
		ab := buf.a[:mcp*apanel]
		for r := 0; r < mcp; r++ {
			if w.est {
				j.packAEst(ab[r*apanel:(r+1)*apanel], j.i0+ic+r*mr, min(mr, mc-r*mr), mr)
			} else {
				j.packA(ab[r*apanel:(r+1)*apanel], j.i0+ic+r*mr, min(mr, mc-r*mr), mr)
			}
		}
		for q := j.j0 / i16nr; q*i16nr < j.j0+j.nn; q++ {
			col := q * i16nr
			cols := min(i16nr, j.j0+j.nn-col)
			bp := unsafe.Pointer(unsafe.SliceData(w.data[q*panelBytes:]))
			// Full micro-panels of int64 output accumulate in C itself.
			direct := 0
			if out.Int64 != nil && cols == i16nr && i16direct {
				direct = mc / mr
			}
			cbase := func(r int) (*int64, int) {
				if r < direct {
					return &out.Int64[(j.i0+ic+r*mr)*out.Ldc+col], out.Ldc
				}
				return &tile[r*mr*i16nr], i16nr
			}
			// Without a bias the first K block stores its sums (load 0)
			// instead of adding them to a cleared tile.
			load0 := 0
			if out.Bias != nil || G == 0 {
				load0 = 1
				for r := 0; r < mcp; r++ {
					c, ldc := cbase(r)
					cs := unsafe.Slice(c, (mr-1)*ldc+i16nr)
					for i := 0; i < mr; i++ {
						dst := cs[i*ldc : i*ldc+cols]
						if out.Bias == nil {
							clear(dst)
						} else {
							copy(dst, out.Bias[col:col+cols])
						}
					}
				}
			}
			for g := 0; g < G; g += kc {
				kg := min(kc, G-g)
				b := unsafe.Add(bp, woff(g))
				load := load0
				if g > 0 {
					load = 1
				}
				for r := 0; r < mcp; r++ {
					a := unsafe.Pointer(unsafe.SliceData(ab[r*apanel+g*mr*aunit:]))
					c, ldc := cbase(r)
					fn(kg, a, b, c, ldc, load)
					if j.uk.half {
						fn(kg, a, unsafe.Add(b, 64), (*int64)(unsafe.Add(unsafe.Pointer(c), 16*8)), ldc, load)
					}
				}
			}
			if direct < mcp {
				j.store(tile[direct*mr*i16nr:], j.i0+ic+direct*mr, mc-direct*mr, col, cols)
			}
		}
	}
}

// packA packs rows [r0, r0+rows) of A into one micro-panel:
// int16 at (g·mr + i)·2 + t = A[r0+i][2g+t], zero past K and past rows.
func (j *i16job) packA(dst []byte, r0, rows, mr int) {
	G := j.w.groups
	k := j.k
	if G == 0 {
		return
	}
	_ = dst[G*mr*4-1]
	// Row addresses (bounds checked once per row), then the panel is
	// written sequentially, group by group, 4 bytes (a pair) per row.
	var srcs [qmaxMR]unsafe.Pointer
	for i := 0; i < rows; i++ {
		row := j.a[(r0+i)*j.lda : (r0+i)*j.lda+k]
		srcs[i] = unsafe.Pointer(unsafe.SliceData(row))
	}
	d := unsafe.Pointer(unsafe.SliceData(dst))
	full := k / 2
	for g := 0; g < full; g++ {
		off := uintptr(g) * 4
		for i := 0; i < rows; i++ {
			*(*uint32)(d) = *(*uint32)(unsafe.Add(srcs[i], off))
			d = unsafe.Add(d, 4)
		}
		for i := rows; i < mr; i++ {
			*(*uint32)(d) = 0
			d = unsafe.Add(d, 4)
		}
	}
	if full < G { // odd K: the last pair is (A[.][k-1], 0)
		for i := 0; i < mr; i++ {
			var v uint32
			if i < rows {
				v = uint32(*(*uint16)(unsafe.Add(srcs[i], uintptr(k-1)*2)))
			}
			*(*uint32)(d) = v
			d = unsafe.Add(d, 4)
		}
	}
}

// packAEst packs rows [r0, r0+rows) of A for the estimate layout: per
// step of 4 K, two groups of mr int16 pairs, then mr × 4 bytes
// (a >> 8) + 128 (zero pairs and 128 past K and past rows).
func (j *i16job) packAEst(dst []byte, r0, rows, mr int) {
	S := j.w.groups
	k := j.k
	if S == 0 {
		return
	}
	_ = dst[S*12*mr-1]
	var srcs [qmaxMR]unsafe.Pointer
	for i := 0; i < rows; i++ {
		row := j.a[(r0+i)*j.lda : (r0+i)*j.lda+k]
		srcs[i] = unsafe.Pointer(unsafe.SliceData(row))
	}
	d := unsafe.Pointer(unsafe.SliceData(dst))
	full := k / 4
	for st := 0; st < S; st++ {
		g0, g1, hb := d, unsafe.Add(d, mr*4), unsafe.Add(d, 2*mr*4)
		for i := 0; i < mr; i++ {
			var v uint64 // four int16, little-endian
			switch {
			case i >= rows:
			case st < full:
				v = *(*uint64)(unsafe.Add(srcs[i], st*8))
			default:
				for t := 0; 4*st+t < k; t++ {
					v |= uint64(*(*uint16)(unsafe.Add(srcs[i], (4*st+t)*2))) << (16 * t)
				}
			}
			*(*uint32)(unsafe.Add(g0, i*4)) = uint32(v)
			*(*uint32)(unsafe.Add(g1, i*4)) = uint32(v >> 32)
			// High bytes + 128: bytes 1, 3, 5, 7 of v, each XOR 0x80.
			h := uint32(v>>8&0xff) | uint32(v>>24&0xff)<<8 | uint32(v>>40&0xff)<<16 | uint32(v>>56&0xff)<<24
			*(*uint32)(unsafe.Add(hb, i*4)) = h ^ 0x80808080
		}
		d = unsafe.Add(d, 12*mr)
	}
}

// store runs the output stage on a tile (row stride i16nr).
func (j *i16job) store(t []int64, r0, rows, c0, cols int) {
	out := j.out
	s := uint(out.Shift)
	for i := 0; i < rows; i++ {
		src := t[i*i16nr : i*i16nr+cols]
		o := (r0+i)*out.Ldc + c0
		switch {
		case out.Int64 != nil:
			copy(out.Int64[o:o+cols], src)
		case out.Int32 != nil:
			dst := out.Int32[o : o+cols]
			v8 := i16shiftSIMD(src, unsafe.Pointer(unsafe.SliceData(dst)), s, 0)
			for x, v := range src[v8:] {
				dst[v8+x] = int32(min(max(roundShiftEven(v, s), math.MinInt32), math.MaxInt32))
			}
		case out.Int16 != nil:
			dst := out.Int16[o : o+cols]
			v8 := i16shiftSIMD(src, unsafe.Pointer(unsafe.SliceData(dst)), s, 1)
			for x, v := range src[v8:] {
				dst[v8+x] = int16(min(max(roundShiftEven(v, s), math.MinInt16), math.MaxInt16))
			}
		default:
			dst := out.Float32[o : o+cols]
			f := math.Ldexp(1, -int(s))
			for x, v := range src {
				dst[x] = float32(float64(v) * f)
			}
		}
	}
}

// i16gemmGeneric is the pure-Go microkernel (4×32 tile, int64 sums,
// either plane layout).
func i16gemmGeneric(planes, kg int, a, b unsafe.Pointer, c *int64, ldc, load int) {
	const mr, nr = 4, i16nr
	as := unsafe.Slice((*int16)(a), kg*mr*2)
	bs := unsafe.Slice((*int16)(b), kg*planes*nr*2)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var acc [mr * nr]int64
	var wv [nr * 2]int64
	for g := 0; g < kg; g++ {
		bg := bs[g*planes*nr*2:]
		for x := range wv {
			if planes == 1 {
				wv[x] = int64(bg[x])
			} else {
				wv[x] = 256*int64(bg[x]) + int64(bg[nr*2+x])
			}
		}
		for i := 0; i < mr; i++ {
			a0, a1 := int64(as[(g*mr+i)*2]), int64(as[(g*mr+i)*2+1])
			ac := acc[i*nr : i*nr+nr]
			for jj := range ac {
				ac[jj] += a0*wv[jj*2] + a1*wv[jj*2+1]
			}
		}
	}
	for i := 0; i < mr; i++ {
		r := cs[i*ldc : i*ldc+nr]
		for x := range r {
			if load == 0 {
				r[x] = 0
			}
			r[x] += acc[i*nr+x]
		}
	}
}

// DFPFrac returns the largest fraction length f (value = q·2^-f) such
// that maxAbs·2^f fits a signed bits-wide integer: 2^(bits-1)-1 >=
// maxAbs·2^f. maxAbs must be positive and finite.
func DFPFrac(maxAbs float32, bits int) int {
	if !(maxAbs > 0) || math.IsInf(float64(maxAbs), 0) {
		panic(fmt.Sprintf("kernels: DFPFrac(%v)", maxAbs))
	}
	lim := float64(int64(1)<<(bits-1) - 1)
	_, e := math.Frexp(float64(maxAbs)) // maxAbs < 2^e
	f := bits - 1 - e
	for float64(maxAbs)*math.Ldexp(1, f) > lim {
		f--
	}
	return f
}

// QuantizeDFP16 writes dst[i] = saturate(round_half_even(x[i]·2^frac)),
// the DFP16 value of x with fraction length frac.
func QuantizeDFP16(dst []int16, x []float32, frac int) {
	s := math.Ldexp(1, frac)
	for i, v := range x {
		dst[i] = int16(min(max(math.RoundToEven(float64(v)*s), math.MinInt16), math.MaxInt16))
	}
}

// ShiftRequant returns the QOutput Multiplier and Shift that requantize
// INT8 GEMM sums by a rounding arithmetic shift, y = round_half_even(acc /
// 2^s) (DFP8: s = fa + fw - fy; negative s shifts left), exactly, for s in
// [-30, 32]: Multiplier 2^30 and Shift s-1.
func ShiftRequant(s int) (multiplier, shift int32) {
	if s < -30 || s > 32 {
		panic(fmt.Sprintf("kernels: ShiftRequant(%d) out of [-30, 32]", s))
	}
	return 1 << 30, int32(s - 1)
}

// PeakInt16 runs the named Int16 path's register-only VPDPWSSD loop for
// iters iterations and returns the operations it did (a multiply-add
// counts as two), or 0 for a path without one (generic). The caller must
// check the path is supported.
func PeakInt16(path string, iters int) float64 { return i16peak(path, iters) }

// i16kcBytes is the size of a panel's weight slice per K block.
var i16kcBytes = 32 << 10

// i16direct lets full micro-panels of Int64 output accumulate in C.
var i16direct = true

// i16shiftRowAsm, where set, does the shifted Int16/Int32 output stage of
// 8 sums at a time in SIMD, bit-identical to roundShiftEven and the clamp.
var i16shiftRowAsm func(src *int64, dst unsafe.Pointer, n int, s int, half int64, out16 int)

// i16shiftSIMD runs i16shiftRowAsm on the longest multiple of 8 of src
// (when set and s > 0) and returns how many it did.
func i16shiftSIMD(src []int64, dst unsafe.Pointer, s uint, out16 int) int {
	n := len(src) &^ 7
	if i16shiftRowAsm == nil || qrequantNoAsm || s == 0 || n == 0 {
		return 0
	}
	i16shiftRowAsm(&src[0], dst, n, int(s), int64(1)<<(s-1), out16)
	return n
}

package kernels

import (
	"fmt"
	"sync"
	"unsafe"
)

// FP32 GEMM: C = A·B (+ epilogue), A m×k, B k×n, C m×n, all row-major.
//
// Results are bit-identical on every path by construction: each output
// element is one sequential chain of correctly rounded float32 fused
// multiply-adds over k, acc = fma(A[i,p], B[p,j], acc) for p = 0..k-1,
// starting from +0. Blocking over K stores the float32 partial sums in C
// and reloads them, which is exact, so the cache blocking, the tile shape
// and the thread split never change a result. The epilogue runs in shared
// Go code. The assembly paths use VFMADD231PS; the Go path emulates a
// float32 FMA exactly (fmaf32).
//
// Driver (Goto/BLIS): for each NC-wide column block of B, for each KC-deep
// slice, B's slice is packed into NR-wide micro-panels (the block kept in
// L2), then for each MC-high row block A is packed into MR-high
// micro-panels, and for each A micro-panel (kept in L1) the microkernel
// computes the MR×NR tiles of C along the row, keeping the whole KC loop
// inside one call (bounded work: assembly is not preemptible).

// microkernel computes one mr×nr tile: c[i*ldc+j] (=|+=) Σ_p a[p*mr+i]·b[p*nr+j]
// over p < k, loading c first when load != 0. It may read mr*k floats at a
// and nr*k floats at b and writes exactly the mr×nr tile. next is only a
// prefetch hint: the C tile of the following call (same ldc).
//
// fnOff, where a path has it, is the same computation with B read in
// place: row p of the tile's B is the nr floats at b plus boff[p] bytes
// (see Rows). Same FMAs in the same order, so the same bits.
type microkernel struct {
	name   string
	mr, nr int
	fn     func(k int, a, b, c *float32, ldc int, load int, next *float32)
	fnOff  func(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)
	// rows[r] and rowsOff[r] (0 < r < mr), where a path has them, are fn
	// and fnOff computing only the first r rows (A panels still mr
	// high): the last rows of M then cost r/mr of a tile, not a whole one.
	rows    []func(k int, a, b, c *float32, ldc int, load int, next *float32)
	rowsOff []func(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)
	// fnOffMask, where a path has it, is fnOff for the last columns of
	// N: bit j of mask enables column j of B and C, and nothing outside
	// them is read or written.
	fnOffMask func(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32, mask int)
}

// Operand is a GEMM input: a dense row-major matrix (optionally
// transposed) or an operand packed once by PackA or PackB.
type Operand struct {
	data  []float32
	ld    int
	trans bool
	off   []int // Rows: where each row starts in data
	pa    *PackedA
	pb    *PackedB
}

// Dense describes a row-major matrix with leading dimension ld (the
// distance between rows, >= its width). With trans set the operand is the
// transpose of what is stored: A (m×k) stored k×m, or B (k×n) stored n×k.
func Dense(data []float32, ld int, trans bool) Operand {
	return Operand{data: data, ld: ld, trans: trans}
}

// Rows describes a B operand (k×n) whose row p is data[off[p]:off[p]+n],
// with len(off) == k. Rows may overlap: the taps of a convolution are
// shifted windows of one padded image, so a GEMM over Rows computes a
// convolution without the im2col copy, and the paths that have in-place
// microkernels (avx2, avx512) don't pack B either. Results are identical
// to the same matrix given Dense.
func Rows(data []float32, off []int) Operand {
	return Operand{data: data, off: off}
}

// PackedA is A (m×k) repacked into MR-high micro-panels of the path active
// when it was packed (PackA). Used under another path it is still correct
// but is unpacked and repacked on every call: pack again after SetPath.
type PackedA struct {
	m, k int
	mr   int
	path Path
	data []float32 // ceil(m/mr) panels of k*mr floats: panel[p*mr+i]
}

// PackedB is B (k×n) repacked into NR-wide micro-panels of the path active
// when it was packed (PackB); like PackedA, it is repacked per call when
// used under another path.
type PackedB struct {
	k, n int
	nr   int
	path Path
	data []float32 // ceil(n/nr) panels of k*nr floats: panel[p*nr+j]
}

// Operand returns p as a GEMM operand.
func (p *PackedA) Operand() Operand { return Operand{pa: p} }

// Operand returns p as a GEMM operand.
func (p *PackedB) Operand() Operand { return Operand{pb: p} }

// Path reports the path whose layout p has.
func (p *PackedA) Path() Path { return p.path }

// Path reports the path whose layout p has.
func (p *PackedB) Path() Path { return p.path }

// PackA packs A (m×k; with transA stored k×m) for the active path, once,
// for use as the A operand of many Sgemm calls (convolution weights via
// im2col, where M is the output channels).
func PackA(m, k int, a []float32, lda int, transA bool) *PackedA {
	uk := pathKernel(ActivePath())
	checkDense("A", m, k, a, lda, transA)
	mp := (m + uk.mr - 1) / uk.mr
	p := &PackedA{m: m, k: k, mr: uk.mr, path: ActivePath(), data: alignedFloats(mp * k * uk.mr)}
	for ip := 0; ip < mp; ip++ {
		packA(p.data[ip*k*uk.mr:], uk.mr, a, lda, transA, ip*uk.mr, min(uk.mr, m-ip*uk.mr), 0, k)
	}
	return p
}

// PackB packs B (k×n; with transB stored n×k) for the active path, once,
// for use as the B operand of many Sgemm calls (Gemm and MatMul weights).
func PackB(k, n int, b []float32, ldb int, transB bool) *PackedB {
	uk := pathKernel(ActivePath())
	checkDense("B", k, n, b, ldb, transB)
	np := (n + uk.nr - 1) / uk.nr
	p := &PackedB{k: k, n: n, nr: uk.nr, path: ActivePath(), data: alignedFloats(np * k * uk.nr)}
	packB(p.data, uk.nr, b, ldb, transB, 0, k, 0, n)
	return p
}

// unpack rebuilds the dense row-major matrix a PackedA holds.
func (p *PackedA) unpack() []float32 {
	d := make([]float32, p.m*p.k)
	for i := 0; i < p.m; i++ {
		panel := p.data[(i/p.mr)*p.k*p.mr:]
		for q := 0; q < p.k; q++ {
			d[i*p.k+q] = panel[q*p.mr+i%p.mr]
		}
	}
	return d
}

// unpack rebuilds the dense row-major matrix a PackedB holds.
func (p *PackedB) unpack() []float32 {
	d := make([]float32, p.k*p.n)
	for j := 0; j < p.n; j++ {
		panel := p.data[(j/p.nr)*p.k*p.nr:]
		for q := 0; q < p.k; q++ {
			d[q*p.n+j] = panel[q*p.nr+j%p.nr]
		}
	}
	return d
}

func checkDense(name string, rows, cols int, d []float32, ld int, trans bool) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: %s has negative size %dx%d", name, rows, cols))
	}
	if trans {
		rows, cols = cols, rows
	}
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels: %s leading dimension %d < %d", name, ld, cols))
	}
	if len(d) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels: %s has %d elements, needs %d", name, len(d), (rows-1)*ld+cols))
	}
}

// packA packs rows [i0, i0+mr') × cols [p0, p0+kc) of A into one MR-high
// micro-panel dst[p*MR+i], zero-padding rows past mr'.
func packA(dst []float32, MR int, a []float32, lda int, trans bool, i0, rows, p0, kc int) {
	dst = dst[:kc*MR]
	if trans { // A[i,p] = a[p*lda+i]: rows of a are contiguous in i
		for p := 0; p < kc; p++ {
			src := a[(p0+p)*lda+i0:]
			d := dst[p*MR : p*MR+MR]
			copy(d, src[:rows])
			clear(d[rows:])
		}
		return
	}
	// Row-major A: gather the rows at once so the writes are sequential
	// (through unsafe pointers: bounds are checked once per row above).
	var srcs [maxMR]unsafe.Pointer
	for i := 0; i < rows; i++ {
		row := a[(i0+i)*lda+p0 : (i0+i)*lda+p0+kc]
		srcs[i] = unsafe.Pointer(unsafe.SliceData(row))
	}
	if kc == 0 {
		return
	}
	// At most 8 rows per pass: rows lda*4 = 4096 bytes apart share one L1
	// set, and more than its 12 ways would thrash.
	d0 := unsafe.Pointer(&dst[0])
	for g := 0; g < MR; g += 8 {
		ge := min(g+8, MR)
		for p := 0; p < kc; p++ {
			off := uintptr(p) * 4
			d := unsafe.Add(d0, (p*MR+g)*4)
			for i := g; i < ge; i++ {
				if i < rows {
					*(*float32)(d) = *(*float32)(unsafe.Add(srcs[i], off))
				} else {
					*(*float32)(d) = 0
				}
				d = unsafe.Add(d, 4)
			}
		}
	}
}

// maxMR bounds the microkernels' tile height.
const maxMR = 32

// packB packs rows [p0, p0+kc) × cols [j0, j0+cols) of B into NR-wide
// micro-panels dst[q*kc*NR + p*NR + j], zero-padding past cols.
func packB(dst []float32, NR int, b []float32, ldb int, trans bool, p0, kc, j0, cols int) {
	if !trans {
		packBRows(dst, NR, b, func(p int) int { return p * ldb }, p0, kc, j0, cols)
		return
	}
	np := (cols + NR - 1) / NR
	dst = dst[:np*kc*NR]
	for q := 0; q < np; q++ { // B[p,j] = b[j*ldb+p]
		w := min(NR, cols-q*NR)
		var srcs [maxNR][]float32
		for j := 0; j < w; j++ {
			srcs[j] = b[(j0+q*NR+j)*ldb+p0 : (j0+q*NR+j)*ldb+p0+kc]
		}
		for p := 0; p < kc; p++ {
			d := dst[q*kc*NR+p*NR : q*kc*NR+p*NR+NR]
			for j := 0; j < w; j++ {
				d[j] = srcs[j][p]
			}
			clear(d[w:])
		}
	}
}

// packBRows is packB for B stored by rows, row p starting at b[rowOff(p)];
// row by row, so reads are sequential.
func packBRows(dst []float32, NR int, b []float32, rowOff func(int) int, p0, kc, j0, cols int) {
	np := (cols + NR - 1) / NR
	dst = dst[:np*kc*NR]
	for p := 0; p < kc; p++ {
		o := rowOff(p0+p) + j0
		src := b[o : o+cols]
		for q := 0; q < np; q++ {
			d := dst[q*kc*NR+p*NR : q*kc*NR+p*NR+NR]
			n := copy(d, src[q*NR:])
			clear(d[n:])
		}
	}
}

// maxNR bounds the microkernels' tile width.
const maxNR = 64

// blocking holds a path's cache blocking: KC deep slices, MC-high A blocks
// (multiple of MR), NC-wide B blocks (multiple of NR).
type blocking struct{ kc, mc, nc int }

var (
	cpuOnce sync.Once
	cpuInfo CPU
)

func cacheSizes() CPU {
	cpuOnce.Do(func() { cpuInfo = DetectCPU() })
	return cpuInfo
}

// blockingFor sizes the blocks from the caches (defaults where cpuid says
// nothing). The tile loop runs each A micro-panel (KC×MR, kept in L1)
// against all the B micro-panels of the block (KC×NC, kept in L2), so:
// KC puts a B micro-panel in half of L1D, NC the B block in half of L2,
// and MC only bounds the A packing buffer. Measured on a 48 KiB L1D / 2 MiB
// L2 Xeon with the 14x32 AVX-512 kernel, KC 192-256 and the largest NC
// were best; smaller NC repacks A more often.
func blockingFor(uk *microkernel) blocking {
	if blockingOverride != nil {
		return blockingOverride(uk)
	}
	c := cacheSizes()
	l1, l2 := c.L1D, c.L2
	if l1 <= 0 {
		l1 = 32 << 10
	}
	if l2 <= 0 {
		l2 = 256 << 10
	}
	// The A and B micro-panels of one k slice both stay in L1 (less a
	// little for the C tile and the stack): kc = 256 for 14x32 tiles on
	// a 48 KiB L1. Under load, thread CPU time for 1024^3 read 161
	// GFLOP/s with it against 147 with kc = 264 or 384; wall-clock time
	// on a quiet machine stayed at 147 either way.
	kc := (l1 - 2048) / ((uk.mr + uk.nr) * 4)
	kc = max(64, min(512, kc&^7))
	mc := max(uk.mr, 512/uk.mr*uk.mr)
	nc := l2 / 2 / (kc * 4)
	nc = max(uk.nr, min(4096, nc/uk.nr*uk.nr))
	return blocking{kc, mc, nc}
}

// blockingOverride lets tests force tiny blocks so every loop of the
// driver runs.
var blockingOverride func(*microkernel) blocking

func pathKernel(p Path) *microkernel { return paths[p].sgemm }

// Activation is the nonlinearity an Epilogue applies last.
type Activation int

const (
	ActNone        Activation = iota
	ActRelu                   // max(x, 0)
	ActClip                   // min(max(x, Alpha), Beta)
	ActLeakyRelu              // x < 0 ? Alpha*x : x
	ActHardSigmoid            // max(0, min(1, Alpha*x + Beta))
	ActHardSwish              // x * max(0, min(1, x/6 + 1/2))
)

// Epilogue is applied to each output tile while it is in cache, after the
// last K slice: x = acc + RowBias[i] + ColBias[j] + Residual[i,j], added in
// that order in float32, then x = Act(x). Nil slices are skipped.
type Epilogue struct {
	RowBias    []float32 // len m: per output row (per output channel in im2col convolution)
	ColBias    []float32 // len n: per output column (Gemm bias)
	Residual   []float32 // m×n, row stride LdResidual (may alias nothing in C)
	LdResidual int
	Act        Activation
	Alpha      float32
	Beta       float32
}

// Sgemm computes C = A·B with A m×k and B k×n (after the operands'
// transposes), writing the m×n result to c with row stride ldc and
// applying ep if not nil. Elements of c outside the m×n window are never
// touched. threads > 1 splits the work (N, or M when N is narrow) across
// that many goroutines; callers pass runtime.GOMAXPROCS(0) for all cores.
// A must be Dense or from PackA, B Dense or from PackB, with matching sizes.
//
// The result does not depend on the path, the blocking or threads: see the
// package comment above.
func Sgemm(m, n, k int, a, b Operand, c []float32, ldc int, ep *Epilogue, threads int) {
	if a.pb != nil || b.pa != nil {
		panic("kernels: Sgemm: PackedB given as A or PackedA as B")
	}
	if m < 0 || n < 0 || k < 0 {
		panic("kernels: Sgemm: negative size")
	}
	if m == 0 || n == 0 {
		return
	}
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels: Sgemm: C too small (len %d, ldc %d) for %dx%d", len(c), ldc, m, n))
	}
	sgemmWith(pathKernel(ActivePath()), m, n, k, a, b, c, ldc, ep, threads)
}

// sgemmWith is Sgemm with a given microkernel. A packed operand whose
// panel height (A) or width (B) matches the kernel's is used as is: the
// layout depends on nothing else.
func sgemmWith(uk *microkernel, m, n, k int, a, b Operand, c []float32, ldc int, ep *Epilogue, threads int) {
	j := job{m: m, n: n, k: k, c: c, ldc: ldc, ep: ep, uk: uk, blk: blockingFor(uk)}
	if blockingOverride == nil && k > j.blk.kc {
		// K in equal slices (K = 288 as 144+144, not 256+32): a thin
		// last slice costs a C round trip for little work.
		slices := (k + j.blk.kc - 1) / j.blk.kc
		j.blk.kc = ((k+slices-1)/slices + 7) &^ 7
	}
	if pa := a.pa; pa != nil {
		if pa.m != m || pa.k != k {
			panic(fmt.Sprintf("kernels: Sgemm: PackedA is %dx%d, want %dx%d", pa.m, pa.k, m, k))
		}
		if pa.mr == uk.mr {
			j.apk = pa.data
		} else {
			j.a, j.lda = pa.unpack(), k
		}
	} else {
		checkDense("A", m, k, a.data, a.ld, a.trans)
		j.a, j.lda, j.transA = a.data, a.ld, a.trans
	}
	if pb := b.pb; pb != nil {
		if pb.k != k || pb.n != n {
			panic(fmt.Sprintf("kernels: Sgemm: PackedB is %dx%d, want %dx%d", pb.k, pb.n, k, n))
		}
		if pb.nr == uk.nr {
			j.bpk = pb.data
		} else {
			j.b, j.ldb = pb.unpack(), n
		}
	} else if b.off != nil {
		if len(b.off) != k {
			panic(fmt.Sprintf("kernels: Sgemm: Rows has %d row offsets, want k = %d", len(b.off), k))
		}
		for p, o := range b.off {
			if o < 0 || o+n > len(b.data) {
				panic(fmt.Sprintf("kernels: Sgemm: Rows row %d [%d, %d) outside data (len %d)", p, o, o+n, len(b.data)))
			}
		}
		j.b, j.boff = b.data, b.off
		if uk.fnOff != nil {
			buf := packPool.Get().(*packBuf)
			defer packPool.Put(buf)
			if cap(buf.offs) < k {
				buf.offs = make([]int, k)
			}
			j.boffBytes = buf.offs[:k]
			for p, o := range b.off {
				j.boffBytes[p] = o * 4
			}
		}
	} else {
		checkDense("B", k, n, b.data, b.ld, b.trans)
		j.b, j.ldb, j.transB = b.data, b.ld, b.trans
	}
	if ep != nil {
		if ep.RowBias != nil && len(ep.RowBias) < m {
			panic("kernels: Sgemm: RowBias shorter than m")
		}
		if ep.ColBias != nil && len(ep.ColBias) < n {
			panic("kernels: Sgemm: ColBias shorter than n")
		}
		if ep.Residual != nil && (ep.LdResidual < n || len(ep.Residual) < (m-1)*ep.LdResidual+n) {
			panic("kernels: Sgemm: Residual too small")
		}
	}
	j.runThreads(threads)
}

// job is one Sgemm call (or one thread's share of it: rows [i0, i0+m),
// columns [j0, j0+n) of the whole).
type job struct {
	m, n, k int
	i0, j0  int
	a       []float32 // dense A, or nil when apk
	lda     int
	transA  bool
	apk     []float32 // A prepacked in uk.mr panels of full K
	b       []float32
	ldb     int
	transB  bool
	boff    []int // Rows: row starts in b
	// boffBytes are boff in bytes, for an fnOff microkernel; nil when B
	// is packed instead.
	boffBytes []int
	bpk       []float32
	c         []float32
	ldc       int
	ep        *Epilogue
	uk        *microkernel
	blk       blocking
}

// runThreads splits the job over threads goroutines (splitWork): each
// thread packs its own B columns, or its own A rows.
func (j *job) runThreads(threads int) {
	if threads <= 1 {
		j.run() // j does not escape: one-thread calls allocate nothing
		return
	}
	whole := *j
	splitWork(threads, whole.m, whole.n, whole.uk.mr, whole.uk.nr, func(i0, m, j0, n int) {
		s := whole
		s.i0, s.m, s.j0, s.n = whole.i0+i0, m, whole.j0+j0, n
		s.run()
	})
}

var packPool = sync.Pool{New: func() any { return new(packBuf) }}

type packBuf struct {
	a, b []float32
	tile []float32
	offs []int // Rows offsets in bytes (sgemmWith)
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return alignedFloats(n)
	}
	return s[:n]
}

// alignedFloats allocates n floats starting on a 64-byte boundary, so the
// microkernels' vector loads of packed panels never split cache lines.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+15)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(s)))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}

// run computes rows [i0, i0+m) × columns [j0, j0+n) of C.
func (j *job) run() {
	uk, blk := j.uk, j.blk
	mr, nr := uk.mr, uk.nr
	buf := packPool.Get().(*packBuf)
	defer packPool.Put(buf)
	buf.tile = grow(buf.tile, mr*nr)
	K := j.k
	if K == 0 {
		// No products: C = 0 then the epilogue.
		for i := 0; i < j.m; i++ {
			clear(j.c[(j.i0+i)*j.ldc+j.j0 : (j.i0+i)*j.ldc+j.j0+j.n])
		}
		j.epilogue(0, j.m, 0, j.n)
		return
	}
	for jc := 0; jc < j.n; jc += blk.nc {
		nc := min(blk.nc, j.n-jc)
		ncp := (nc + nr - 1) / nr
		for pc := 0; pc < K; pc += blk.kc {
			kc := min(blk.kc, K-pc)
			last := pc+kc == K
			load := 0
			if pc > 0 {
				load = 1
			}
			// B panels for this (jc, pc): the prepacked ones (panel stride
			// K*nr, offset pc*nr), or packed now, or read in place (Rows
			// with an fnOff kernel: only a narrow last panel is packed).
			var bp []float32
			bstride, bpoff := 0, 0
			inPlace := j.boffBytes != nil
			switch {
			case j.bpk != nil:
				bp, bstride, bpoff = j.bpk[((j.j0+jc)/nr)*K*nr:], K*nr, pc*nr
			case inPlace:
				// The narrow last panel goes through the masked kernel
				// where there is one.
				if w := nc % nr; w != 0 && uk.fnOffMask == nil {
					buf.b = grow(buf.b, kc*nr)
					packBRows(buf.b, nr, j.b, func(p int) int { return j.boff[p] }, pc, kc, j.j0+jc+nc-w, w)
					bp = buf.b[:kc*nr]
				}
			case j.boff != nil:
				buf.b = grow(buf.b, ncp*kc*nr)
				packBRows(buf.b, nr, j.b, func(p int) int { return j.boff[p] }, pc, kc, j.j0+jc, nc)
				bp, bstride = buf.b, kc*nr
			default:
				buf.b = grow(buf.b, ncp*kc*nr)
				packB(buf.b, nr, j.b, j.ldb, j.transB, pc, kc, j.j0+jc, nc)
				bp, bstride = buf.b, kc*nr
			}
			for ic := 0; ic < j.m; ic += blk.mc {
				mc := min(blk.mc, j.m-ic)
				mcp := (mc + mr - 1) / mr
				var ap []float32
				astride, aoff := 0, 0
				if j.apk != nil {
					ap, astride, aoff = j.apk[((j.i0+ic)/mr)*K*mr:], K*mr, pc*mr
				} else {
					buf.a = grow(buf.a, mcp*kc*mr)
					for q := 0; q < mcp; q++ {
						packA(buf.a[q*kc*mr:], mr, j.a, j.lda, j.transA, j.i0+ic+q*mr, min(mr, mc-q*mr), pc, kc)
					}
					ap, astride = buf.a, kc*mr
				}
				// A micro-panel (L1) outer, B micro-panels (L2) inner: the C
				// tiles go along rows, so a tile's loads never wait on the
				// previous tile's stores through 4K aliasing (which they did
				// going down a column when ldc*4 is a multiple of 4096).
				for r := 0; r < mcp; r++ {
					aptr := &ap[r*astride+aoff]
					rows := min(mr, mc-r*mr)
					row := j.i0 + ic + r*mr
					for q := 0; q < ncp; q++ {
						cols := min(nr, nc-q*nr)
						col := j.j0 + jc + q*nr
						// kern computes this tile into c (row stride ldc).
						kern := func(c *float32, ldc int, next *float32) {
							if inPlace && cols == nr {
								uk.fnOff(kc, aptr, &j.b[col], &j.boffBytes[pc], c, ldc, load, next)
							} else if inPlace && uk.fnOffMask != nil {
								uk.fnOffMask(kc, aptr, &j.b[col], &j.boffBytes[pc], c, ldc, load, next, 1<<cols-1)
							} else if inPlace {
								uk.fn(kc, aptr, &bp[0], c, ldc, load, next)
							} else {
								uk.fn(kc, aptr, &bp[q*bstride+bpoff], c, ldc, load, next)
							}
						}
						if rows == mr && cols < nr && inPlace && uk.fnOffMask != nil {
							cp := &j.c[row*j.ldc+col]
							uk.fnOffMask(kc, aptr, &j.b[col], &j.boffBytes[pc], cp, j.ldc, load, cp, 1<<cols-1)
						} else if rows < mr && cols == nr && uk.rows != nil {
							// The last rows of M, straight into C.
							cp := &j.c[row*j.ldc+col]
							if inPlace {
								uk.rowsOff[rows](kc, aptr, &j.b[col], &j.boffBytes[pc], cp, j.ldc, load, cp)
							} else {
								uk.rows[rows](kc, aptr, &bp[q*bstride+bpoff], cp, j.ldc, load, cp)
							}
						} else if rows == mr && cols == nr {
							next := &j.c[row*j.ldc+col]
							if cols+nr <= nc-q*nr {
								next = &j.c[row*j.ldc+col+nr]
							}
							kern(&j.c[row*j.ldc+col], j.ldc, next)
						} else {
							// Edge tile: through a full temporary tile so the
							// microkernel never writes outside C's window.
							t := buf.tile
							if load != 0 {
								for i := 0; i < rows; i++ {
									copy(t[i*nr:i*nr+cols], j.c[(row+i)*j.ldc+col:])
								}
							}
							kern(&t[0], nr, &t[0])
							for i := 0; i < rows; i++ {
								copy(j.c[(row+i)*j.ldc+col:(row+i)*j.ldc+col+cols], t[i*nr:i*nr+cols])
							}
						}
					}
					// The epilogue over the panel's whole row block (still
					// in L1/L2): one call per row, not per tile row.
					if last && j.ep != nil {
						j.epilogue(ic+r*mr, rows, jc, nc)
					}
				}
			}
		}
	}
}

// ApplyEpilogue applies ep to the m×n matrix c (row stride ldc) as Sgemm
// would have: for output stages that run after a GEMM (a convolution
// whose GEMM computed padded rows, for one).
func ApplyEpilogue(m, n int, c []float32, ldc int, ep *Epilogue) {
	if ep == nil || m == 0 || n == 0 {
		return
	}
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels: ApplyEpilogue: C too small (len %d, ldc %d) for %dx%d", len(c), ldc, m, n))
	}
	j := job{m: m, n: n, c: c, ldc: ldc, ep: ep}
	j.epilogue(0, m, 0, n)
}

// epilogue applies j.ep to rows [r0, r0+rows) × cols [c0, c0+cols) of this
// job's window (job-relative coordinates).
func (j *job) epilogue(r0, rows, c0, cols int) {
	ep := j.ep
	if ep == nil {
		return
	}
	for i := r0; i < r0+rows; i++ {
		gi := j.i0 + i
		gj := j.j0 + c0
		row := j.c[gi*j.ldc+gj : gi*j.ldc+gj+cols]
		var bias *float32
		if ep.RowBias != nil {
			bias = &ep.RowBias[gi]
		}
		var res []float32
		if ep.Residual != nil {
			res = ep.Residual[gi*ep.LdResidual+gj : gi*ep.LdResidual+gj+cols]
		}
		if ep.ColBias != nil {
			cb := ep.ColBias[gj : gj+cols]
			if bias != nil {
				bv := *bias
				for x := range row {
					row[x] += bv
				}
				bias = nil
			}
			for x := range row {
				row[x] += cb[x]
			}
		}
		if !biasActRow(row, bias, res, ep.Act, ep.Alpha, ep.Beta) {
			biasActRowGo(row, bias, res, ep.Act, ep.Alpha, ep.Beta)
		}
	}
}

// biasActRowGo is the epilogue of one row after any column bias: row
// (+ *bias) (+ res), then act.
func biasActRowGo(row []float32, bias *float32, res []float32, act Activation, alpha, beta float32) {
	if bias != nil {
		bv := *bias
		for x := range row {
			row[x] += bv
		}
	}
	if res != nil {
		res = res[:len(row)]
		for x := range row {
			row[x] += res[x]
		}
	}
	activate(row, act, alpha, beta)
}

// activate applies act in place. Products are converted to float32
// explicitly so no compiler fuses them into an FMA: the result is the same
// on every architecture.
func activate(x []float32, act Activation, alpha, beta float32) {
	switch act {
	case ActNone:
	// Relu and Clip use min/max rather than branches: on data of mixed
	// sign a mispredicted branch per element cost 5x. NaN stays NaN; -0
	// becomes +0.
	case ActRelu:
		for i, v := range x {
			x[i] = max(v, 0)
		}
	case ActClip:
		for i, v := range x {
			x[i] = min(max(v, alpha), beta)
		}
	case ActLeakyRelu:
		for i, v := range x {
			if v < 0 {
				x[i] = float32(alpha * v)
			}
		}
	case ActHardSigmoid:
		for i, v := range x {
			x[i] = hardSigmoid(v, alpha, beta)
		}
	case ActHardSwish:
		for i, v := range x {
			x[i] = float32(v * hardSigmoid(v, 1.0/6, 0.5))
		}
	default:
		panic(fmt.Sprintf("kernels: unknown activation %d", act))
	}
}

func hardSigmoid(v, alpha, beta float32) float32 {
	y := float32(alpha*v) + beta
	if y < 0 {
		y = 0
	}
	if y > 1 {
		y = 1
	}
	return y
}

package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// withFamilyPath runs f with each supported path of fam active.
func withFamilyPath(t *testing.T, fam *Family, f func(t *testing.T)) {
	old := fam.Active()
	defer fam.Set(old)
	for _, p := range fam.SupportedPaths() {
		if err := fam.Set(p); err != nil {
			t.Fatal(err)
		}
		t.Run(p, f)
	}
}

// w4case turns a random INT8 problem into a W4 one: weights 4-bit
// (ldw = k), zero points in the 4-bit range, uint8 activations.
func w4case(r *rand.Rand, m, n, k int, signed bool) (*qcase, []byte) {
	c := randQcase(r, m, n, k)
	c.s8 = false
	c.za = int32(uint8(c.za))
	c.ldw = k
	c.w = make([]int8, n*k)
	lo, span := int32(0), int32(16)
	if signed {
		lo = -8
	}
	for i := range c.w {
		c.w[i] = int8(lo + r.Int32N(span))
	}
	for j := range c.zw {
		c.zw[j] = lo + r.Int32N(span)
	}
	return c, PackNibbles(c.w)
}

// TestW4PerChannel: every Int4 path against the INT8 reference (same
// output stage), random shapes, strides, zero points and output kinds.
func TestW4PerChannel(t *testing.T) {
	withFamilyPath(t, Int4, func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 8))
		budget := 3e7
		if testing.Short() || raceEnabled {
			budget = 3e6
		}
		for budget > 0 {
			m, n, k := qdims[r.IntN(len(qdims))], qdims[r.IntN(len(qdims))], qdims[r.IntN(len(qdims))]
			if m*n*k > 8e6 {
				continue
			}
			budget -= float64(m * n * k)
			signed := r.IntN(2) == 0
			c, data := w4case(r, m, n, k, signed)
			pw := PackInt4Weights(n, k, data, Int4Quant{Signed: signed, ZeroPoints: c.zw})
			got := c.runWith(t, func(out *QOutput) { QGemmW4U8(c.m, c.a, c.lda, uint8(c.za), pw, out, c.threads) })
			acc := c.refAcc()
			for e, g := range got {
				if want := c.refOut(acc[e], e%n); g != want {
					t.Fatalf("%s signed=%v %v: C[%d,%d] = %d, want %d", Int4.Active(), signed, c, e/n, e%n, g, want)
				}
			}
		}
	})
}

// w4blockRef is the blocked W4A8 result by the documented operations,
// the fused multiply-adds computed exactly (refFMA32).
func w4blockRef(m, n, k int, a []uint8, lda int, za int32, w []int8, zw []int32, bs int, scale []float32, sa, fb []float32) []float32 {
	nblk := (k + bs - 1) / bs
	c := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var y float32
			if fb != nil {
				y = pick(fb, j)
			}
			for b := 0; b < nblk; b++ {
				z := int32(0)
				switch len(zw) {
				case 1:
					z = zw[0]
				case n * nblk:
					z = zw[j*nblk+b]
				case n:
					z = zw[j]
				}
				var d int32
				for q := b * bs; q < min(k, (b+1)*bs); q++ {
					d += (int32(a[i*lda+q]) - za) * (int32(w[j*k+q]) - z)
				}
				s := float32(scale[j*nblk+b] * pick(sa, j))
				y = refFMA32(float32(d), s, y)
			}
			c[i*n+j] = y
		}
	}
	return c
}

// TestW4Blocked: blocked weights (block 16/32/64/128), per-block zero
// points and scales, every path bit-identical to the reference, guards
// around C.
func TestW4Blocked(t *testing.T) {
	withFamilyPath(t, Int4, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 9))
		budget := 3e7
		if testing.Short() || raceEnabled {
			budget = 3e6
		}
		for budget > 0 {
			m, n, k := qdims[r.IntN(len(qdims))], qdims[r.IntN(len(qdims))], qdims[r.IntN(len(qdims))]
			if m*n*k > 8e6 {
				continue
			}
			budget -= float64(m * n * k)
			signed := r.IntN(2) == 0
			bs := []int{16, 32, 64, 128}[r.IntN(4)]
			nblk := (k + bs - 1) / bs
			c, data := w4case(r, m, n, k, signed)
			var zw []int32
			lo := int32(0)
			if signed {
				lo = -8
			}
			switch r.IntN(4) {
			case 1:
				zw = []int32{lo + r.Int32N(16)}
			case 2:
				zw = make([]int32, n)
			case 3:
				zw = make([]int32, n*nblk)
			}
			for x := range zw {
				zw[x] = lo + r.Int32N(16)
			}
			scale := make([]float32, n*nblk)
			for x := range scale {
				scale[x] = float32(r.Float64()*0.02 + 1e-4)
			}
			sa := []float32{float32(r.Float64()*0.1 + 0.001)}
			if r.IntN(2) == 0 {
				sa = make([]float32, n)
				for x := range sa {
					sa[x] = float32(r.Float64()*0.1 + 0.001)
				}
			}
			var fb []float32
			if r.IntN(2) == 0 {
				fb = make([]float32, n)
				for x := range fb {
					fb[x] = float32(r.NormFloat64())
				}
			}
			pw := PackInt4Weights(n, k, data, Int4Quant{Signed: signed, BlockSize: bs, ZeroPoints: zw, Scales: scale})
			want := w4blockRef(m, n, k, c.a, c.lda, c.za, c.w, zw, bs, scale, sa, fb)
			got, guardOK := guardedF32(m, n, c.ldc, func(out []float32) {
				QGemmW4U8(m, c.a, c.lda, uint8(c.za), pw, &QOutput{Float32: out, Ldc: c.ldc, Scale: sa, FloatBias: fb}, c.threads)
			})
			if !guardOK {
				t.Fatalf("m%d n%d k%d: guard overwritten", m, n, k)
			}
			for e := range want {
				if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
					t.Fatalf("%s m%d n%d k%d bs%d signed=%v zw=%d: C[%d,%d] = %v, want %v", Int4.Active(), m, n, k, bs, signed, len(zw), e/n, e%n, got[e], want[e])
				}
			}
		}
	})
}

// guardedF32 runs call on an m×n float32 C (row stride ldc) inside a
// guarded buffer; it returns C packed (m×n) and whether the guards held.
func guardedF32(m, n, ldc int, call func([]float32)) ([]float32, bool) {
	const pad = 16
	size := (m-1)*ldc + n
	buf := make([]float32, size+2*pad)
	g := math.Float32frombits(0x7fc0dead)
	for i := range buf {
		buf[i] = g
	}
	call(buf[pad : pad+size])
	ok := true
	res := make([]float32, m*n)
	for e := range buf {
		x := e - pad
		in := x >= 0 && x < size && x%ldc < n
		if !in && math.Float32bits(buf[e]) != 0x7fc0dead {
			ok = false
		}
		if in {
			res[(x/ldc)*n+x%ldc] = buf[e]
		}
	}
	return res, ok
}

// TestW4A4: 4-bit activations (packed, signed and unsigned, odd row
// strides) give the W4A8 result of the expanded values.
func TestW4A4(t *testing.T) {
	withFamilyPath(t, Int4, func(t *testing.T) {
		r := rand.New(rand.NewPCG(6, 1))
		for it := 0; it < 30; it++ {
			m, n, k := qdims[r.IntN(6)], qdims[r.IntN(6)], qdims[r.IntN(len(qdims))]
			signedA := r.IntN(2) == 0
			lda := k + r.IntN(3)
			av := make([]int8, (m-1)*lda+k)
			lo := int8(0)
			if signedA {
				lo = -8
			}
			for x := range av {
				av[x] = lo + int8(r.IntN(16))
			}
			za := lo + int8(r.IntN(16))
			signedW := r.IntN(2) == 0
			_, data := w4case(r, m, n, k, signedW)
			pw := PackInt4Weights(n, k, data, Int4Quant{Signed: signedW})
			// Unsigned view of the weights for the reference.
			wv := make([]int32, n*k)
			for x := range wv {
				wv[x] = int32(Nibble(data, x, pw.signed))
			}
			out := make([]int32, m*n)
			QGemmW4A4(m, PackNibbles(av), lda, signedA, za, pw, &QOutput{Int32: out, Ldc: n}, 1+r.IntN(2))
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s int32
					for q := 0; q < k; q++ {
						s += (int32(av[i*lda+q]) - int32(za)) * wv[j*k+q]
					}
					if out[i*n+j] != s {
						t.Fatalf("%s m%d n%d k%d: C[%d,%d] = %d, want %d", Int4.Active(), m, n, k, i, j, out[i*n+j], s)
					}
				}
			}
		}
	})
}

func TestNibbles(t *testing.T) {
	v := []int8{-8, 7, 3, -1, 5}
	p := PackNibbles(v)
	if len(p) != 3 || p[0] != 0x78 || p[1] != 0xF3 || p[2] != 0x05 {
		t.Fatalf("PackNibbles = %x", p)
	}
	for e, x := range v {
		if g := Nibble(p, e, true); g != x {
			t.Errorf("Nibble(%d) = %d, want %d", e, g, x)
		}
	}
	if g := Nibble(p, 0, false); g != 8 {
		t.Errorf("uint4 nibble = %d", g)
	}
}

// i16ref is the exact int64 product A·Wᵀ + bias.
func i16ref(m, n, k int, a []int16, lda int, w []int16, ldw int, bias []int64) []int64 {
	c := make([]int64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int64
			for q := 0; q < k; q++ {
				s += int64(a[i*lda+q]) * int64(w[j*ldw+q])
			}
			if bias != nil {
				s += bias[j]
			}
			c[i*n+j] = s
		}
	}
	return c
}

func randI16(r *rand.Rand, n int, lim int32, extreme bool) []int16 {
	v := make([]int16, n)
	for i := range v {
		switch {
		case extreme && r.IntN(2) == 0:
			// The extremes within lim (-32768 only at full range, so
			// limited weights keep their one-plane packing).
			ext := []int16{-lim16(lim), lim16(lim)}
			if lim >= 32767 {
				ext = append(ext, -32768)
			}
			v[i] = ext[r.IntN(len(ext))]
		default:
			v[i] = int16(r.Int32N(2*lim+1) - lim)
		}
	}
	return v
}

func lim16(l int32) int16 { return int16(min(l, 32767)) }

// TestInt16Shapes: every Int16 path against the exact reference, random
// shapes and strides, one- and two-plane weights, every output kind,
// guards around C.
func TestInt16Shapes(t *testing.T) {
	withFamilyPath(t, Int16, func(t *testing.T) {
		r := rand.New(rand.NewPCG(16, 2))
		budget := 3e7
		if testing.Short() || raceEnabled {
			budget = 3e6
		}
		for budget > 0 {
			m, n, k := qdims[r.IntN(len(qdims))], qdims[r.IntN(len(qdims))], qdims[r.IntN(len(qdims))]
			if m*n*k > 8e6 {
				continue
			}
			budget -= float64(m * n * k)
			lda, ldw, ldc := k+r.IntN(3), k+r.IntN(2)*3, n+r.IntN(2)*5
			wl := []int32{32768, 511, 255, 7}[r.IntN(4)]
			if wl == 32768 {
				wl = 32767
			}
			a := randI16(r, (m-1)*lda+k, 32767, true)
			w := randI16(r, (n-1)*ldw+k, wl, true)
			if wl == 32767 && r.IntN(2) == 0 {
				w[r.IntN(len(w))] = -32768
			}
			var bias []int64
			if r.IntN(2) == 0 {
				bias = make([]int64, n)
				for j := range bias {
					bias[j] = r.Int64N(1<<40) - 1<<39
				}
			}
			pw := PackInt16Weights(n, k, w, ldw)
			want := i16ref(m, n, k, a, lda, w, ldw, bias)
			kind := r.IntN(4)
			shift := 0
			if kind != 0 {
				shift = r.IntN(40)
			}
			checkI16(t, m, n, ldc, kind, shift, want, func(out *I16Output) {
				out.Bias = bias
				GemmInt16(m, a, lda, pw, out, 1+r.IntN(3))
			})
		}
	})
}

// checkI16 runs call with an output of kind (0 int64, 1 int32, 2 int16,
// 3 float32) and shift in a guarded buffer and checks it against the
// exact sums want.
func checkI16(t *testing.T, m, n, ldc, kind, shift int, want []int64, call func(*I16Output)) {
	t.Helper()
	const pad = 8
	size := (m-1)*ldc + n
	buf := make([]int64, size+2*pad)
	const guard = 0x5a5a5a5a5a5a5a5a
	for i := range buf {
		buf[i] = guard
	}
	p := unsafe.Pointer(&buf[pad])
	out := &I16Output{Ldc: ldc, Shift: shift}
	switch kind {
	case 0:
		out.Int64 = unsafe.Slice((*int64)(p), size)
	case 1:
		out.Int32 = unsafe.Slice((*int32)(p), size)
	case 2:
		out.Int16 = unsafe.Slice((*int16)(p), size)
	case 3:
		out.Float32 = unsafe.Slice((*float32)(p), size)
	}
	call(out)
	esz := []int{8, 4, 2, 4}[kind]
	bytes := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
	for b := range bytes {
		e := (b - pad*8)
		in := e >= 0 && e/esz < size && (e/esz)%ldc < n
		if !in && bytes[b] != 0x5a {
			t.Fatalf("%s m%d n%d ldc%d kind%d: byte %d outside C overwritten", Int16.Active(), m, n, ldc, kind, b)
		}
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			v := want[i*n+j]
			e := i*ldc + j
			var g, w int64
			switch kind {
			case 0:
				g, w = out.Int64[e], v
			case 1:
				g, w = int64(out.Int32[e]), min(max(refRoundShift(v, shift), math.MinInt32), math.MaxInt32)
			case 2:
				g, w = int64(out.Int16[e]), min(max(refRoundShift(v, shift), math.MinInt16), math.MaxInt16)
			case 3:
				g, w = int64(math.Float32bits(out.Float32[e])), int64(math.Float32bits(float32(math.Ldexp(float64(v), -shift))))
			}
			if g != w {
				t.Fatalf("%s m%d n%d kind%d shift%d: C[%d,%d] = %d, want %d (sum %d)", Int16.Active(), m, n, kind, shift, i, j, g, w, v)
			}
		}
	}
}

// TestInt16WorstCase drives the overflow worst case: every value -32768
// (each pair 2^31, each K-chunk at its bound), and the extreme mixed
// signs, with long K.
func TestInt16WorstCase(t *testing.T) {
	withFamilyPath(t, Int16, func(t *testing.T) {
		for _, k := range []int{1, 2, 3, 255, 256, 257, 1000, 4096, 4097} {
			// Patterns: all -32768; -32768 × 32767; mixed; and the largest
			// gaps between a·w and its high-byte estimate (a = w = -32513:
			// high byte -128, low byte 255; a = w = 32767).
			for _, pat := range []int{0, 1, 2, 3, 4} {
				m, n := 13, 35
				a, w := make([]int16, m*k), make([]int16, n*k)
				for x := range a {
					a[x] = -32768
					if pat == 2 && x%2 == 0 {
						a[x] = 32767
					}
					if pat == 3 {
						a[x] = -32513
					}
					if pat == 4 {
						a[x] = 32767
					}
				}
				for x := range w {
					w[x] = -32768
					if pat == 1 {
						w[x] = 32767
					}
					if pat == 2 && x%3 == 0 {
						w[x] = 255
					}
					if pat == 3 {
						w[x] = -32513
					}
					if pat == 4 {
						w[x] = 32767
					}
				}
				pw := PackInt16Weights(n, k, w, k)
				want := i16ref(m, n, k, a, k, w, k, nil)
				if pat == 0 && want[0] != int64(k)<<30 {
					t.Fatalf("reference %d", want[0])
				}
				checkI16(t, m, n, n, 0, 0, want, func(out *I16Output) { GemmInt16(m, a, k, pw, out, 1) })
			}
		}
		// One-plane weights at their bound: |w| = 511 and chunks of 128.
		k := 4096
		a, w := make([]int16, 5*k), make([]int16, 33*k)
		for x := range a {
			a[x] = -32768
		}
		for x := range w {
			w[x] = -511
		}
		pw := PackInt16Weights(33, k, w, k)
		if pw.Planes() != 1 {
			t.Fatalf("planes %d", pw.Planes())
		}
		checkI16(t, 5, 33, 33, 0, 0, i16ref(5, 33, k, a, k, w, k, nil), func(out *I16Output) { GemmInt16(5, a, k, pw, out, 1) })
	})
}

func TestInt16Planes(t *testing.T) {
	for _, c := range []struct {
		max    int16
		planes int
		chunk  int
	}{{0, 1, qmaxGroups}, {1, 1, qmaxGroups}, {255, 1, 128}, {511, 1, 64}, {512, 2, 128}, {32767, 2, 128}} {
		w := []int16{c.max, 0}
		p := packInt16For(i16Kernels[0], 1, 2, w, 2)
		if p.planes != c.planes || p.chunk != c.chunk {
			t.Errorf("max %d: planes %d chunk %d, want %d %d", c.max, p.planes, p.chunk, c.planes, c.chunk)
		}
		if K := 2 * p.chunk; p.planes == 1 && int64(K)*32768*int64(c.max) > math.MaxInt32 {
			t.Errorf("max %d: chunk %d overflows", c.max, K)
		}
	}
	if p := PackInt16Weights(1, 1, []int16{-32768}, 1); p.planes != 2 {
		t.Error("-32768 in one plane")
	}
	// Every layout unpacks to the weights, and weights packed for one path
	// run (repacked) on the others.
	r := rand.New(rand.NewPCG(9, 9))
	for _, uk := range i16Kernels {
		if uk == nil {
			continue
		}
		for _, lim := range []int32{32767, 511} {
			n, k := 37, 133
			w := randI16(r, n*k, lim, lim > 511)
			p := packInt16For(uk, n, k, w, k)
			if p.est != (uk.est != nil && lim > 511) {
				t.Errorf("%s max %d: est %v", uk.name, lim, p.est)
			}
			u := p.unpack()
			for x := range w {
				if u[x] != w[x] {
					t.Fatalf("%s max %d: unpack[%d] = %d, want %d", uk.name, lim, x, u[x], w[x])
				}
			}
			withFamilyPath(t, Int16, func(t *testing.T) {
				m := 7
				a := randI16(r, m*k, 32767, true)
				checkI16(t, m, n, n, 0, 0, i16ref(m, n, k, a, k, w, k, nil), func(out *I16Output) { GemmInt16(m, a, k, p, out, 1) })
			})
		}
	}
}

// TestRoundShiftTies: the DFP requantization rounds half to even, in the
// Int16 output stage and through ShiftRequant in the INT8 stage (DFP8).
func TestRoundShiftTies(t *testing.T) {
	cases := []struct{ x, s, want int64 }{
		{1, 1, 0}, {3, 1, 2}, {5, 1, 2}, {-1, 1, 0}, {-3, 1, -2}, {-5, 1, -2},
		{6, 2, 2}, {10, 2, 2}, {-6, 2, -2}, {-10, 2, -2}, {7, 2, 2}, {-7, 2, -2}, {9, 2, 2},
	}
	for _, c := range cases {
		if g := roundShiftEven(c.x, uint(c.s)); g != c.want {
			t.Errorf("roundShiftEven(%d, %d) = %d, want %d", c.x, c.s, g, c.want)
		}
	}
	// Int16 GEMM with k = 1: C = a·w, shifted.
	w := PackInt16Weights(1, 1, []int16{1}, 1)
	for _, c := range cases {
		out := make([]int32, 1)
		GemmInt16(1, []int16{int16(c.x)}, 1, w, &I16Output{Int32: out, Ldc: 1, Shift: int(c.s)}, 1)
		if int64(out[0]) != c.want {
			t.Errorf("GemmInt16 %d >> %d = %d, want %d", c.x, c.s, out[0], c.want)
		}
	}
	// DFP8 through the INT8 fixed-point stage: acc = x (a = x+za, w = 1).
	pw := PackInt8Weights(1, 1, []int8{1}, 1)
	for _, c := range cases {
		for _, s := range []int{int(c.s), -3, 0, 32} {
			mult, sh := ShiftRequant(s)
			out := make([]int8, 1)
			QGemmU8(1, []uint8{uint8(c.x + 100)}, 1, 100, pw, &QOutput{Int8: out, Ldc: 1, Multiplier: []int32{mult}, Shift: []int32{sh}}, 1)
			var want int64
			if s >= 0 {
				want = refRoundShift(c.x, s)
			} else {
				want = c.x << -s
			}
			want = min(max(want, -128), 127)
			if int64(out[0]) != want {
				t.Errorf("DFP8 %d >> %d = %d, want %d", c.x, s, out[0], want)
			}
		}
	}
}

func TestDFPHelpers(t *testing.T) {
	if f := DFPFrac(1, 16); f != 14 {
		t.Errorf("DFPFrac(1, 16) = %d", f)
	}
	if f := DFPFrac(0.9, 16); f != 15 {
		t.Errorf("DFPFrac(0.9, 16) = %d", f)
	}
	if f := DFPFrac(100, 8); f != 0 {
		t.Errorf("DFPFrac(100, 8) = %d", f)
	}
	d := make([]int16, 4)
	QuantizeDFP16(d, []float32{0.25, 0.375, -0.125, 1e9}, 2) // 1, 1.5, -0.5, big
	if d[0] != 1 || d[1] != 2 || d[2] != 0 || d[3] != 32767 {
		t.Errorf("QuantizeDFP16 = %v", d)
	}
}

// BenchmarkLowbit: the active Int16, Int4 and Int8 paths on one shape
// (GOPS: a multiply-accumulate counts 2).
func BenchmarkLowbit(b *testing.B) {
	const m, n, k = 384, 512, 1024
	r := rand.New(rand.NewPCG(1, 1))
	gops := func(b *testing.B) {
		b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
	}
	a8 := make([]uint8, m*k)
	for i := range a8 {
		a8[i] = uint8(r.Uint32())
	}
	w8 := make([]int8, n*k)
	for i := range w8 {
		w8[i] = int8(r.IntN(16)) - 8
	}
	b.Run("int8", func(b *testing.B) {
		pw := PackInt8Weights(n, k, w8, k)
		out := &QOutput{Int32: make([]int32, m*n), Ldc: n}
		for b.Loop() {
			QGemmU8(m, a8, k, 128, pw, out, 1)
		}
		gops(b)
	})
	for _, bs := range []int{0, 32, 128} {
		b.Run(fmt.Sprintf("w4a8/block%d", bs), func(b *testing.B) {
			q := Int4Quant{Signed: true, BlockSize: bs}
			out := &QOutput{Int32: make([]int32, m*n), Ldc: n}
			if bs > 0 {
				nb := (k + bs - 1) / bs
				q.Scales = make([]float32, n*nb)
				q.ZeroPoints = make([]int32, n*nb)
				for i := range q.Scales {
					q.Scales[i] = 0.01
				}
				out = &QOutput{Float32: make([]float32, m*n), Ldc: n, Scale: []float32{0.5}}
			}
			pw := PackInt4Weights(n, k, PackNibbles(w8), q)
			for b.Loop() {
				QGemmW4U8(m, a8, k, 128, pw, out, 1)
			}
			gops(b)
		})
	}
	for _, lim := range []int32{32767, 511} {
		b.Run(fmt.Sprintf("int16/max%d", lim), func(b *testing.B) {
			a, w := randI16(r, m*k, 32767, false), randI16(r, n*k, lim, false)
			pw := PackInt16Weights(n, k, w, k)
			out := &I16Output{Int64: make([]int64, m*n), Ldc: n}
			for b.Loop() {
				GemmInt16(m, a, k, pw, out, 1)
			}
			gops(b)
		})
	}
}

// TestLowbitZeroK: K = 0 gives the bias (or zero) on every path.
func TestLowbitZeroK(t *testing.T) {
	withFamilyPath(t, Int4, func(t *testing.T) {
		pw := PackInt4Weights(40, 0, nil, Int4Quant{})
		c := make([]int32, 3*40)
		bias := make([]int32, 40)
		for j := range bias {
			bias[j] = int32(j - 7)
		}
		QGemmW4U8(3, nil, 0, 9, pw, &QOutput{Int32: c, Ldc: 40, Bias: bias}, 1)
		for e, v := range c {
			if v != bias[e%40] {
				t.Fatalf("per channel: C[%d] = %d", e, v)
			}
		}
		pb := PackInt4Weights(40, 0, nil, Int4Quant{BlockSize: 32})
		f := make([]float32, 3*40)
		QGemmW4U8(3, nil, 0, 9, pb, &QOutput{Float32: f, Ldc: 40, Scale: []float32{1}, FloatBias: []float32{2.5}}, 1)
		for e, v := range f {
			if v != 2.5 {
				t.Fatalf("blocked: C[%d] = %v", e, v)
			}
		}
	})
	withFamilyPath(t, Int16, func(t *testing.T) {
		pw := PackInt16Weights(40, 0, nil, 0)
		c := make([]int64, 3*40)
		bias := make([]int64, 40)
		for j := range bias {
			bias[j] = int64(j) << 33
		}
		GemmInt16(3, nil, 0, pw, &I16Output{Int64: c, Ldc: 40, Bias: bias}, 2)
		for e, v := range c {
			if v != bias[e%40] {
				t.Fatalf("int16: C[%d] = %d", e, v)
			}
		}
	})
}

func TestLowbitPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	d := make([]byte, 64)
	mustPanic("block 6", func() { PackInt4Weights(2, 8, d, Int4Quant{BlockSize: 6}) })
	mustPanic("scales", func() { PackInt4Weights(2, 8, d, Int4Quant{BlockSize: 4, Scales: make([]float32, 3)}) })
	mustPanic("zero point", func() { PackInt4Weights(2, 8, d, Int4Quant{Signed: true, ZeroPoints: []int32{8}}) })
	mustPanic("short data", func() { PackInt4Weights(20, 8, d, Int4Quant{}) })
	pb := PackInt4Weights(2, 8, d, Int4Quant{BlockSize: 4, Scales: make([]float32, 4)})
	mustPanic("blocked int32", func() { QGemmW4U8(1, make([]uint8, 8), 8, 0, pb, &QOutput{Int32: make([]int32, 2), Ldc: 2}, 1) })
	mustPanic("a4 zero point", func() {
		QGemmW4A4(1, d, 8, true, 8, PackInt4Weights(2, 8, d, Int4Quant{}), &QOutput{Int32: make([]int32, 2), Ldc: 2}, 1)
	})
	w := PackInt16Weights(2, 3, make([]int16, 6), 3)
	mustPanic("shift", func() {
		GemmInt16(1, make([]int16, 3), 3, w, &I16Output{Int32: make([]int32, 2), Ldc: 2, Shift: 63}, 1)
	})
	mustPanic("int64 shift", func() { GemmInt16(1, make([]int16, 3), 3, w, &I16Output{Int64: make([]int64, 2), Ldc: 2, Shift: 1}, 1) })
	mustPanic("two outputs", func() {
		GemmInt16(1, make([]int16, 3), 3, w, &I16Output{Int64: make([]int64, 2), Int32: make([]int32, 2), Ldc: 2}, 1)
	})
	mustPanic("short A", func() { GemmInt16(2, make([]int16, 3), 3, w, &I16Output{Int64: make([]int64, 4), Ldc: 2}, 1) })
	mustPanic("ShiftRequant", func() { ShiftRequant(33) })
}

// TestLowbitThreads: row splits (few channels) and column splits give
// the single-thread results.
func TestLowbitThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, s := range [][2]int{{1000, 17}, {37, 33}, {5, 300}} {
		m, n, k := s[0], s[1], 65
		a := make([]uint8, m*k)
		for i := range a {
			a[i] = uint8(r.Uint32())
		}
		wv := make([]int8, n*k)
		for i := range wv {
			wv[i] = int8(r.IntN(16)) - 8
		}
		nb := (k + 31) / 32
		q := Int4Quant{Signed: true, BlockSize: 32, Scales: make([]float32, n*nb), ZeroPoints: make([]int32, n*nb)}
		for i := range q.Scales {
			q.Scales[i] = float32(r.Float64())
			q.ZeroPoints[i] = int32(r.IntN(16)) - 8
		}
		pb := PackInt4Weights(n, k, PackNibbles(wv), q)
		pc := PackInt4Weights(n, k, PackNibbles(wv), Int4Quant{Signed: true, ZeroPoints: []int32{3}})
		a16, w16 := randI16(r, m*k, 32767, true), randI16(r, n*k, 32767, true)
		p16 := PackInt16Weights(n, k, w16, k)
		var f [2][]float32
		var c [2][]int32
		var c16 [2][]int64
		for x, th := range []int{1, 3} {
			f[x], c[x], c16[x] = make([]float32, m*n), make([]int32, m*n), make([]int64, m*n)
			QGemmW4U8(m, a, k, 7, pb, &QOutput{Float32: f[x], Ldc: n, Scale: []float32{0.5}}, th)
			QGemmW4U8(m, a, k, 7, pc, &QOutput{Int32: c[x], Ldc: n}, th)
			GemmInt16(m, a16, k, p16, &I16Output{Int64: c16[x], Ldc: n}, th)
		}
		for e := range f[0] {
			if f[0][e] != f[1][e] || c[0][e] != c[1][e] || c16[0][e] != c16[1][e] {
				t.Fatalf("m%d n%d: element %d differs with 3 threads", m, n, e)
			}
		}
	}
}

// refFMA32 is x·y+z rounded once to float32 (half to even), through
// exact big.Float arithmetic.
func refFMA32(x, y, z float32) float32 {
	p := new(big.Float).SetPrec(200).SetFloat64(float64(x))
	p.Mul(p, new(big.Float).SetPrec(200).SetFloat64(float64(y)))
	p.Add(p, new(big.Float).SetPrec(200).SetFloat64(float64(z)))
	f, _ := p.Float32()
	return f
}

// TestI16ShiftSIMD: the SIMD Int16/Int32 output stage against
// roundShiftEven and the clamp, ties and extremes included, every shift.
func TestI16ShiftSIMD(t *testing.T) {
	if i16shiftRowAsm == nil {
		t.Skip("no SIMD output stage here")
	}
	r := rand.New(rand.NewPCG(3, 3))
	for s := uint(1); s <= 62; s++ {
		var src []int64
		for _, q := range []int64{0, 1, 2, 3, -1, -2, -3, 1 << 20, -(1 << 20) - 1} {
			for _, rem := range []int64{0, 1, int64(1)<<(s-1) - 1, int64(1) << (s - 1), int64(1)<<(s-1) + 1, int64(1)<<s - 1} {
				if q>>(63-s) == 0 || q>>(63-s) == -1 {
					src = append(src, q<<s+rem)
				}
			}
		}
		for range 40 {
			src = append(src, int64(r.Uint64())>>r.IntN(64))
		}
		src = append(src, math.MaxInt64, math.MinInt64, math.MaxInt64-1, math.MinInt64+1)
		src = src[:len(src)&^7]
		d16, d32 := make([]int16, len(src)), make([]int32, len(src))
		i16shiftRowAsm(&src[0], unsafe.Pointer(&d16[0]), len(src), int(s), int64(1)<<(s-1), 1)
		i16shiftRowAsm(&src[0], unsafe.Pointer(&d32[0]), len(src), int(s), int64(1)<<(s-1), 0)
		for x, v := range src {
			q := roundShiftEven(v, s)
			if w := int16(min(max(q, math.MinInt16), math.MaxInt16)); d16[x] != w {
				t.Fatalf("s=%d x=%d: int16 %d, want %d", s, v, d16[x], w)
			}
			if w := int32(min(max(q, math.MinInt32), math.MaxInt32)); d32[x] != w {
				t.Fatalf("s=%d x=%d: int32 %d, want %d", s, v, d32[x], w)
			}
		}
	}
}

package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// qcase is one INT8 GEMM problem with every parameter of the output stage.
type qcase struct {
	m, n, k       int
	lda, ldw, ldc int
	s8            bool
	a             []byte // uint8, or int8 bits when s8
	za            int32
	w             []int8
	zw            []int32 // nil, len 1 or n
	bias          []int32
	kind          string // int32 float32 u8 s8 u8fixed s8fixed
	scale, fbias  []float32
	mult, shift   []int32
	zy            int32
	clamp         bool
	lo, hi        int32
	threads       int
}

func (c *qcase) String() string {
	return fmt.Sprintf("m%d n%d k%d lda%d ldc%d s8=%v za=%d zw=%d/%v bias=%v %s perch=%v zy=%d clamp=%v[%d,%d] thr=%d",
		c.m, c.n, c.k, c.lda, c.ldc, c.s8, c.za, len(c.zw), c.zw != nil && len(c.zw) > 0, c.bias != nil, c.kind,
		len(c.scale) > 1 || len(c.mult) > 1, c.zy, c.clamp, c.lo, c.hi, c.threads)
}

// randQcase builds a random problem: random strides above the widths,
// zero points, scales, output kind.
func randQcase(r *rand.Rand, m, n, k int) *qcase {
	c := &qcase{m: m, n: n, k: k, threads: 1 + r.IntN(3)}
	c.lda = k + r.IntN(3)*r.IntN(9)
	c.ldw = k + r.IntN(2)*r.IntN(5)
	c.ldc = n + r.IntN(2)*r.IntN(7)
	c.s8 = r.IntN(2) == 0
	c.a = make([]byte, max(0, (m-1)*c.lda+k))
	for i := range c.a {
		c.a[i] = byte(r.Uint32())
	}
	c.w = make([]int8, max(0, (n-1)*c.ldw+k))
	for i := range c.w {
		c.w[i] = int8(r.Uint32())
	}
	if c.s8 {
		c.za = int32(int8(r.Uint32()))
	} else {
		c.za = int32(uint8(r.Uint32()))
	}
	switch r.IntN(3) {
	case 1:
		c.zw = []int32{int32(int8(r.Uint32()))}
	case 2:
		c.zw = make([]int32, n)
		for j := range c.zw {
			c.zw[j] = int32(int8(r.Uint32()))
		}
	}
	if r.IntN(2) == 0 {
		c.bias = make([]int32, n)
		for j := range c.bias {
			c.bias[j] = r.Int32N(1<<20) - 1<<19
		}
	}
	c.kind = []string{"int32", "float32", "u8", "s8", "u8fixed", "s8fixed"}[r.IntN(6)]
	perCh := r.IntN(2) == 0
	nc := 1
	if perCh {
		nc = n
	}
	// Typical magnitudes: acc ~ 2^14·sqrt(K); the requantization factor
	// brings that to ±a few hundred.
	mag := 1 / (float64(int(1)<<14) * math.Sqrt(float64(max(k, 1))) / 128)
	switch c.kind {
	case "float32":
		c.scale = make([]float32, nc)
		for j := range c.scale {
			c.scale[j] = float32(r.Float64() * 1e-3)
		}
		if r.IntN(2) == 0 {
			c.fbias = make([]float32, nc)
			for j := range c.fbias {
				c.fbias[j] = float32(r.NormFloat64())
			}
		}
	case "u8", "s8":
		c.scale = make([]float32, nc)
		for j := range c.scale {
			c.scale[j] = float32(mag * (0.25 + 2*r.Float64()))
		}
	case "u8fixed", "s8fixed":
		c.mult, c.shift = make([]int32, nc), make([]int32, nc)
		for j := range c.mult {
			c.mult[j], c.shift[j] = QuantizeMultiplier(mag * (0.25 + 2*r.Float64()))
		}
	}
	lo, hi := int32(0), int32(255)
	if c.kind == "s8" || c.kind == "s8fixed" {
		lo, hi = -128, 127
	}
	c.zy = lo + r.Int32N(hi-lo+1)
	if r.IntN(3) == 0 {
		c.clamp = true
		c.lo = lo + r.Int32N(hi-lo+1)
		c.hi = c.lo + r.Int32N(hi-c.lo+1)
		if r.IntN(2) == 0 {
			c.lo = c.zy // Relu
			c.hi = hi
		}
	}
	return c
}

// refAcc is the plain reference: exact int64 sums of (a-za)(w-zw) + bias.
func (c *qcase) refAcc() []int64 {
	acc := make([]int64, c.m*c.n)
	for i := 0; i < c.m; i++ {
		for j := 0; j < c.n; j++ {
			zw := int64(0)
			if len(c.zw) > 0 {
				zw = int64(c.zw[min(j, len(c.zw)-1)])
			}
			var s int64
			for q := 0; q < c.k; q++ {
				av := int64(c.a[i*c.lda+q])
				if c.s8 {
					av = int64(int8(c.a[i*c.lda+q]))
				}
				s += (av - int64(c.za)) * (int64(c.w[j*c.ldw+q]) - zw)
			}
			if c.bias != nil {
				s += int64(c.bias[j])
			}
			acc[i*c.n+j] = s
		}
	}
	return acc
}

func pick[T any](s []T, j int) T { return s[min(j, len(s)-1)] }

// refRoundShift is round_half_even(x / 2^s) through big integers.
func refRoundShift(x int64, s int) int64 {
	num := big.NewInt(x)
	den := new(big.Int).Lsh(big.NewInt(1), uint(s))
	q, m := new(big.Int).DivMod(num, den, new(big.Int)) // Euclidean: m >= 0
	m2 := new(big.Int).Lsh(m, 1)
	switch m2.Cmp(den) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}

// refOut is the expected output element for reference accumulator v (as a
// float64 holding an integer for the quantized kinds; float32 bits for
// float32).
func (c *qcase) refOut(v int64, j int) int64 {
	acc := int32(v)
	switch c.kind {
	case "int32":
		return int64(acc)
	case "float32":
		y := float32(acc) * pick(c.scale, j)
		y = float32(y)
		if c.fbias != nil {
			y += pick(c.fbias, j)
		}
		return int64(math.Float32bits(y))
	}
	lo, hi := int64(0), int64(255)
	if c.kind == "s8" || c.kind == "s8fixed" {
		lo, hi = -128, 127
	}
	if c.clamp {
		lo, hi = int64(c.lo), int64(c.hi)
	}
	var q int64
	if c.kind == "u8" || c.kind == "s8" {
		x := float64(float32(float32(acc) * pick(c.scale, j)))
		r := math.RoundToEven(x)
		r = math.Max(math.Min(r, 1e6), -1e6)
		q = int64(r)
	} else {
		q = refRoundShift(int64(acc)*int64(pick(c.mult, j)), 31+int(pick(c.shift, j)))
	}
	return min(max(q+int64(c.zy), lo), hi)
}

const guardByte = 0x5a

// run packs W and runs the GEMM on the active path, checking the guards
// around C; it returns the m×n outputs as int64 (float32 as bits).
func (c *qcase) run(t testing.TB) []int64 {
	t.Helper()
	pw := PackInt8Weights(c.n, c.k, c.w, c.ldw, c.zw...)
	return c.runWith(t, func(out *QOutput) {
		if c.s8 {
			QGemmS8(c.m, unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(c.a))), len(c.a)), c.lda, int8(c.za), pw, out, c.threads)
		} else {
			QGemmU8(c.m, c.a, c.lda, uint8(c.za), pw, out, c.threads)
		}
	})
}

// runWith calls call with c's output stage writing into a guarded C
// (m×n, row stride ldc) and returns the outputs.
func (c *qcase) runWith(t testing.TB, call func(*QOutput)) []int64 {
	t.Helper()
	out := &QOutput{Ldc: c.ldc, Bias: c.bias, Scale: c.scale, FloatBias: c.fbias,
		Multiplier: c.mult, Shift: c.shift, ZeroPoint: c.zy, Clamp: c.clamp, Min: c.lo, Max: c.hi}
	// C has a guard row before and after and guard columns between rows
	// (ldc > n): every element outside the window must keep its value.
	const pad = 16
	size := max(0, (c.m-1)*c.ldc+c.n)
	buf := make([]byte, (size+2*pad)*4)
	for i := range buf {
		buf[i] = guardByte
	}
	ptr := unsafe.Pointer(&buf[0])
	var elem int
	switch c.kind {
	case "int32":
		elem = 4
		out.Int32 = unsafe.Slice((*int32)(unsafe.Add(ptr, pad*4)), size)
	case "float32":
		elem = 4
		out.Float32 = unsafe.Slice((*float32)(unsafe.Add(ptr, pad*4)), size)
	case "u8", "u8fixed":
		elem = 1
		out.Uint8 = unsafe.Slice((*uint8)(unsafe.Add(ptr, pad)), size)
	case "s8", "s8fixed":
		elem = 1
		out.Int8 = unsafe.Slice((*int8)(unsafe.Add(ptr, pad)), size)
	}
	call(out)
	inside := func(e int) bool { // e: element index from the start of C
		if e < 0 || e >= size {
			return false
		}
		return e%c.ldc < c.n
	}
	res := make([]int64, c.m*c.n)
	for b := 0; b < len(buf); b++ {
		e := (b - pad*elem)
		if e < 0 {
			e -= elem - 1
		}
		e /= elem
		if !inside(e) {
			if buf[b] != guardByte {
				t.Fatalf("%v: byte %d of C's buffer (element %d) outside the window was overwritten", c, b, e)
			}
		}
	}
	for i := 0; i < c.m; i++ {
		for j := 0; j < c.n; j++ {
			e := i*c.ldc + j
			var v int64
			switch c.kind {
			case "int32":
				v = int64(out.Int32[e])
			case "float32":
				v = int64(math.Float32bits(out.Float32[e]))
			case "u8", "u8fixed":
				v = int64(out.Uint8[e])
			default:
				v = int64(out.Int8[e])
			}
			res[i*c.n+j] = v
		}
	}
	return res
}

// check runs c on the active path and compares with the reference.
func (c *qcase) check(t testing.TB) {
	t.Helper()
	got := c.run(t)
	acc := c.refAcc()
	bad := 0
	for i := 0; i < c.m; i++ {
		for j := 0; j < c.n; j++ {
			want := c.refOut(acc[i*c.n+j], j)
			if g := got[i*c.n+j]; g != want {
				if bad < 5 {
					t.Errorf("%s %v: C[%d,%d] = %d, want %d (acc %d)", Int8.Active(), c, i, j, g, want, acc[i*c.n+j])
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s %v: %d wrong outputs", Int8.Active(), c, bad)
	}
}

// withInt8Path runs f with each supported Int8 path active.
func withInt8Path(t *testing.T, f func(t *testing.T)) {
	old := Int8.Active()
	defer Int8.Set(old)
	for _, p := range Int8.SupportedPaths() {
		if err := Int8.Set(p); err != nil {
			t.Fatal(err)
		}
		t.Run(p, f)
	}
}

var qdims = []int{1, 3, 15, 17, 63, 65, 257, 1000}

// TestQGemmShapes: every supported path against the independent reference
// on random combinations of the sizes, strides, zero points, scales and
// output kinds.
func TestQGemmShapes(t *testing.T) {
	budget := 3e6
	if raceEnabled {
		budget = 2e5
	}
	withInt8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, m := range qdims {
			for _, n := range qdims {
				for _, k := range qdims {
					if float64(m*n*k) > budget {
						continue
					}
					randQcase(r, m, n, k).check(t)
				}
			}
		}
		// The big ones once each.
		for _, s := range [][3]int{{1000, 65, 63}, {63, 1000, 65}, {65, 63, 1000}, {257, 257, 17}} {
			if raceEnabled && s[0]*s[1]*s[2] > 1e6 {
				continue
			}
			randQcase(r, s[0], s[1], s[2]).check(t)
		}
	})
}

// TestQGemmFused covers the shapes where the fused kernels' edges are:
// rows around their tile heights (1, 12, 24), columns around the 16- and
// 32-wide panels, K not a multiple of 4 with A ending right after the last
// row (the padded copy), and N over two panels (activations flipped
// before the kernel rather than in it), for quantized outputs without
// weight zero points, against the reference.
func TestQGemmFused(t *testing.T) {
	withInt8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, m := range []int{1, 3, 4, 11, 12, 13, 23, 24, 25, 49} {
			for _, n := range []int{1, 8, 16, 17, 31, 32, 33, 65, 97} {
				for _, k := range []int{1, 3, 4, 5, 27, 64, 255, 256, 257} {
					c := randQcase(r, m, n, k)
					for c.kind != "u8" && c.kind != "s8" {
						c = randQcase(r, m, n, k)
					}
					c.zw = nil
					c.check(t)
				}
			}
		}
	})
}

// TestQGemmBlocking forces tiny blocks and long K (several microkernel
// calls per tile) so every loop of the driver runs.
func TestQGemmBlocking(t *testing.T) {
	qblockOverride = func(mr, nr int) (int, int) { return 2 * mr, 3 * nr }
	defer func() { qblockOverride = nil }()
	withInt8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, s := range [][3]int{{65, 257, 17}, {3, 17, 4*qmaxGroups*2 + 5}, {17, 65, 0}, {40, 100, 63}} {
			for range 3 {
				randQcase(r, s[0], s[1], s[2]).check(t)
			}
		}
	})
}

// TestQGemmExtremes: values where u8·s8 pair sums saturate int16 in
// VPMADDUBSW (255·-128·2), and the extremes of both signs.
func TestQGemmExtremes(t *testing.T) {
	withInt8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, av := range []byte{255, 0, 128, 127} {
			for _, wv := range []int8{-128, 127, -1} {
				for _, s8 := range []bool{false, true} {
					for _, k := range []int{1, 4, 7, 1000} {
						c := randQcase(r, 17, 33, k)
						c.s8, c.kind, c.za, c.zw, c.bias = s8, "int32", 0, nil, nil
						for i := range c.a {
							c.a[i] = av
						}
						for i := range c.w {
							c.w[i] = wv
						}
						c.check(t)
					}
				}
			}
		}
	})
}

// TestQuantRoundingTies: x.5 results round half to even, as
// math.RoundToEven, in both the float and the fixed-point stages.
func TestQuantRoundingTies(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		for _, signed := range []bool{false, true} {
			// acc = a - 0 for k=1, w=1; scale 1/2 makes every odd a a tie.
			a := make([]uint8, 256)
			for i := range a {
				a[i] = uint8(i)
			}
			pw := PackInt8Weights(1, 1, []int8{1}, 1)
			out := &QOutput{Ldc: 1, Scale: []float32{0.5}}
			if fixed {
				out.Scale = nil
				out.Multiplier, out.Shift = []int32{1 << 30}, []int32{0} // 2^30 / 2^31
			}
			u8 := make([]uint8, 256)
			s8 := make([]int8, 256)
			if signed {
				out.Int8 = s8
				out.ZeroPoint = -100
			} else {
				out.Uint8 = u8
				out.ZeroPoint = 3
			}
			QGemmU8(256, a, 1, 0, pw, out, 1)
			for i := range a {
				want := math.RoundToEven(float64(i)/2) + float64(out.ZeroPoint)
				got := float64(u8[i])
				if signed {
					want = math.Min(want, 127)
					got = float64(s8[i])
				}
				if got != want {
					t.Errorf("fixed=%v signed=%v: %d/2 -> %v, want %v", fixed, signed, i, got, want)
				}
			}
		}
	}
	// The rounding shift itself on negative and positive ties.
	for x := int64(-40); x <= 40; x++ {
		for s := uint(0); s < 5; s++ {
			want := int64(math.RoundToEven(float64(x) / float64(int64(1)<<s)))
			if got := roundShiftEven(x, s); got != want {
				t.Errorf("roundShiftEven(%d, %d) = %d, want %d", x, s, got, want)
			}
		}
	}
	// Float stage: the magic-number rounding against math.RoundToEven on
	// every multiple of 1/4 in the clamp range.
	for x := float32(-600); x <= 600; x += 0.25 {
		if got, want := (x+roundMagic)-roundMagic, float32(math.RoundToEven(float64(x))); got != want {
			t.Errorf("round(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestQuantizeMultiplier(t *testing.T) {
	for _, real := range []float64{1, 0.5, 0.75, 1e-3, 3.7e-5, 0.999999999999, 2.5} {
		m, s := QuantizeMultiplier(real)
		got := float64(m) / math.Ldexp(1, 31+int(s))
		if m < 1<<30 || math.Abs(got-real) > real*1e-9 {
			t.Errorf("QuantizeMultiplier(%v) = %d, %d (%v)", real, m, s, got)
		}
	}
}

// Packed weights carry their path: used under another path they are
// repacked and give the same result.
func TestQPackedWeightsOtherPath(t *testing.T) {
	paths := Int8.SupportedPaths()
	old := Int8.Active()
	defer Int8.Set(old)
	r := rand.New(rand.NewPCG(9, 9))
	c := randQcase(r, 33, 47, 29)
	c.zw = []int32{3}
	for _, p := range paths {
		Int8.Set(p)
		pw := PackInt8Weights(c.n, c.k, c.w, c.ldw, c.zw...)
		if pw.Path() != p {
			t.Errorf("packed under %s says %s", p, pw.Path())
		}
		if got := pw.unpack(); !slices.Equal(got, denseW(c)) {
			t.Errorf("%s: unpack differs", p)
		}
		for _, q := range paths {
			Int8.Set(q)
			out := make([]int32, c.m*c.n)
			QGemmU8(c.m, c.a, c.lda, uint8(c.za), pw, &QOutput{Int32: out, Ldc: c.n}, 1)
			acc := c.refAcc()
			for i := range out {
				var b int64
				if c.bias != nil {
					b = int64(c.bias[i%c.n])
				}
				if c.s8 {
					continue // refAcc reads A as int8; this run is u8
				}
				if int64(out[i]) != acc[i]-b {
					t.Fatalf("packed %s run %s: C[%d] = %d, want %d", p, q, i, out[i], acc[i]-b)
				}
			}
		}
	}
}

func denseW(c *qcase) []int8 {
	w := make([]int8, c.n*c.k)
	for j := 0; j < c.n; j++ {
		copy(w[j*c.k:(j+1)*c.k], c.w[j*c.ldw:])
	}
	return w
}

// FuzzQGemm compares every supported path with generic on fuzzed
// operands, sizes and output stages.
func FuzzQGemm(f *testing.F) {
	f.Add([]byte("\x05\x07\x09seed-bytes-for-the-operands"), uint64(1))
	f.Add([]byte{1, 1, 1, 255, 128}, uint64(2))
	f.Add([]byte{20, 40, 70, 0, 255, 1, 2, 3}, uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		if len(data) < 3 {
			return
		}
		m, n, k := 1+int(data[0])%40, 1+int(data[1])%70, int(data[2])%90
		r := rand.New(rand.NewPCG(seed, 0))
		c := randQcase(r, m, n, k)
		// The fuzzer's bytes as the operands (cycled).
		rest := data[3:]
		if len(rest) > 0 {
			for i := range c.a {
				c.a[i] = rest[i%len(rest)]
			}
			for i := range c.w {
				c.w[i] = int8(rest[(i*7+3)%len(rest)])
			}
		}
		old := Int8.Active()
		defer Int8.Set(old)
		Int8.Set("generic")
		want := c.run(t)
		for _, p := range Int8.SupportedPaths()[1:] {
			Int8.Set(p)
			if got := c.run(t); !slices.Equal(got, want) {
				t.Fatalf("%s differs from generic on %v", p, c)
			}
		}
	})
}

func TestQGemmPanics(t *testing.T) {
	pw := PackInt8Weights(4, 8, make([]int8, 32), 8)
	for name, f := range map[string]func(){
		"two outputs": func() {
			QGemmU8(2, make([]uint8, 16), 8, 0, pw, &QOutput{Int32: make([]int32, 8), Float32: make([]float32, 8), Ldc: 4}, 1)
		},
		"short C": func() { QGemmU8(2, make([]uint8, 16), 8, 0, pw, &QOutput{Int32: make([]int32, 7), Ldc: 4}, 1) },
		"short A": func() { QGemmU8(2, make([]uint8, 15), 8, 0, pw, &QOutput{Int32: make([]int32, 8), Ldc: 4}, 1) },
		"scale len": func() {
			QGemmU8(2, make([]uint8, 16), 8, 0, pw, &QOutput{Uint8: make([]uint8, 8), Ldc: 4, Scale: []float32{1, 2}}, 1)
		},
		"nan scale": func() {
			QGemmU8(2, make([]uint8, 16), 8, 0, pw, &QOutput{Uint8: make([]uint8, 8), Ldc: 4, Scale: []float32{float32(math.NaN())}}, 1)
		},
		"zy range": func() {
			QGemmU8(2, make([]uint8, 16), 8, 0, pw, &QOutput{Int8: make([]int8, 8), Ldc: 4, Scale: []float32{1}, ZeroPoint: 200}, 1)
		},
		"zw range": func() { PackInt8Weights(4, 8, make([]int8, 32), 8, 300) },
		"zw count": func() { PackInt8Weights(4, 8, make([]int8, 32), 8, 1, 2) },
		"short W":  func() { PackInt8Weights(4, 8, make([]int8, 31), 8) },
		"shift range": func() {
			QGemmU8(2, make([]uint8, 16), 8, 0, pw, &QOutput{Uint8: make([]uint8, 8), Ldc: 4, Multiplier: []int32{1}, Shift: []int32{40}}, 1)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkQGemm(b *testing.B) {
	old := Int8.Active()
	defer Int8.Set(old)
	for _, p := range Int8.SupportedPaths() {
		for _, s := range benchShapes {
			if p == "generic" && s.m*s.n*s.k > 1<<26 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", p, s.m, s.n, s.k), func(b *testing.B) {
				Int8.Set(p)
				benchQGemm(b, int8Kernels[Int8.activeIndex()], s.m, s.n, s.k)
			})
		}
	}
}

// BenchmarkQGemmShape compares the alternative tile shapes on 1024^3.
func BenchmarkQGemmShape(b *testing.B) {
	old := Int8.Active()
	defer Int8.Set(old)
	for i := range int8ExtraKernels {
		uk := &int8ExtraKernels[i]
		path := qkernelPath(uk)
		if ok, _ := Int8.Supported(path); !ok {
			continue
		}
		b.Run(uk.name, func(b *testing.B) {
			Int8.Set(path)
			benchQGemm(b, uk, 1024, 1024, 1024)
		})
	}
}

// qkernelPath is the Int8 path whose CPU features a kernel needs: the
// name part after the shape ("neon" in qgemm_4x12c4_neon, not in
// qgemm_8x12c4_neondot).
func qkernelPath(uk *qkernel) string {
	for _, p := range Int8.Paths() {
		if strings.Contains(uk.name+"_", "_"+p+"_") {
			return p
		}
	}
	return "generic"
}

// Every alternative tile shape (in the slot of its path) against the
// reference: shapes not registered today must stay correct to be chosen
// later.
func TestQGemmExtraKernels(t *testing.T) {
	old := Int8.Active()
	defer Int8.Set(old)
	r := rand.New(rand.NewPCG(15, 16))
	for i := range int8ExtraKernels {
		uk := &int8ExtraKernels[i]
		path := qkernelPath(uk)
		if ok, _ := Int8.Supported(path); !ok {
			continue
		}
		t.Run(uk.name, func(t *testing.T) {
			Int8.Set(path)
			idx := Int8.activeIndex()
			saved := int8Kernels[idx]
			defer func() { int8Kernels[idx] = saved }()
			int8Kernels[idx] = uk
			for _, s := range [][3]int{{1, 1, 1}, {17, 65, 63}, {65, 17, 257}, {3, 100, 9}} {
				for range 3 {
					randQcase(r, s[0], s[1], s[2]).check(t)
				}
			}
		})
	}
}

func benchQGemm(b *testing.B, uk *qkernel, m, n, k int) {
	a, w := benchOperands(m, n, k)
	saved := int8Kernels[Int8.activeIndex()]
	int8Kernels[Int8.activeIndex()] = uk
	defer func() { int8Kernels[Int8.activeIndex()] = saved }()
	pw := PackInt8Weights(n, k, w, k)
	c := make([]int32, m*n)
	out := &QOutput{Int32: c, Ldc: n}
	QGemmU8(m, a, k, 3, pw, out, 1)
	b.ResetTimer()
	for b.Loop() {
		QGemmU8(m, a, k, 3, pw, out, 1)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
}

// BenchmarkQKernel: each microkernel alone on cache-resident panels.
func BenchmarkQKernel(b *testing.B) {
	for i := range int8ExtraKernels {
		uk := &int8ExtraKernels[i]
		path := qkernelPath(uk)
		if ok, _ := Int8.Supported(path); !ok {
			continue
		}
		b.Run(uk.name, func(b *testing.B) {
			const kg = 128
			a := alignedBytes(kg * uk.mr * 4)
			w := alignedBytes(kg * uk.nr * 4)
			c := make([]int32, uk.mr*uk.nr)
			init := make([]int32, uk.nr)
			for b.Loop() {
				uk.fn(kg, unsafe.Pointer(&a[0]), unsafe.Pointer(&w[0]), &c[0], uk.nr, &init[0], 0)
			}
			b.ReportMetric(2*float64(kg*4*uk.mr*uk.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// benchOperands returns seeded random A (m×k bytes) and W (n×k) for the
// benchmarks.
func benchOperands(m, n, k int) ([]uint8, []int8) {
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]uint8, m*k)
	w := make([]int8, n*k)
	for i := range a {
		a[i] = uint8(r.Uint32())
	}
	for i := range w {
		w[i] = int8(r.Uint32())
	}
	return a, w
}

// BenchmarkQGemmRequant: best path with a per-channel requantized int8
// output from int8 activations (a QDQ convolution), to weigh the output
// stage: the default choice (the fused kernels up to qfusedMaxK) against
// the packed path with its separate stage, on large shapes, the 1x1
// convolutions of a mobile network (PP-OCR's classifier: few channels,
// short K) and shapes around the crossover.
func BenchmarkQGemmRequant(b *testing.B) {
	shapes := append(benchShapes[:2:2], []struct{ m, n, k int }{
		{2304, 8, 27}, {2304, 8, 8}, {1152, 24, 8}, {576, 8, 32}, {288, 88, 16},
		{288, 16, 88}, {192, 200, 32}, {192, 32, 200}, {1, 200, 50}, {784, 64, 288}, {784, 64, 576}, {196, 128, 1152}, {3136, 24, 144}, {3136, 256, 64}, {784, 512, 128}, {196, 1024, 256}}...)
	for _, s := range shapes {
		for _, packed := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/%s", Int8.Active(), s.m, s.n, s.k, map[bool]string{true: "packed", false: "default"}[packed]), func(b *testing.B) {
				qfusedOff = packed
				defer func() { qfusedOff = false }()
				m, n, k := s.m, s.n, s.k
				a, w := benchOperands(m, n, k)
				pw := PackInt8Weights(n, k, w, k)
				sc := make([]float32, n)
				for i := range sc {
					sc[i] = 1e-4
				}
				out := &QOutput{Int8: make([]int8, m*n), Ldc: n, Scale: sc, ZeroPoint: 3, Bias: make([]int32, n)}
				for b.Loop() {
					QGemmS8(m, asS8(a), k, 3, pw, out, 1)
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
		}
	}
}

// The SIMD float requantization (where built) against the Go one: every
// length up to a few vectors, ties, values far outside the clamp range,
// per tensor and per channel.
func TestQRequantRowAsm(t *testing.T) {
	if qrequantRowAsm == nil {
		t.Skip("no SIMD output stage on this CPU or build")
	}
	r := rand.New(rand.NewPCG(11, 12))
	for it := 0; it < 3000; it++ {
		n := r.IntN(70)
		src := make([]int32, n)
		sc := make([]float32, max(n, 1))
		for x := range src {
			switch r.IntN(4) {
			case 0:
				src[x] = int32(r.Uint32())
			case 1:
				src[x] = r.Int32N(2001) - 1000
			default:
				src[x] = r.Int32N(1<<20) - 1<<19
			}
		}
		for x := range sc {
			sc[x] = float32(math.Ldexp(r.Float64()+0.5, -r.IntN(16)))
			if r.IntN(4) == 0 {
				sc[x] = 0.5 // ties
			}
		}
		perCh := r.IntN(2) == 0
		lo, hi := int32(0), int32(255)
		if r.IntN(2) == 0 {
			lo, hi = -128, 127
		}
		zp := lo + r.Int32N(hi-lo+1)
		flo, fhi := float32(lo-zp), float32(hi-zp)
		want := make([]byte, n+8)
		got := make([]byte, n+8)
		for x := range want {
			want[x], got[x] = 0xa5, 0xa5
		}
		qrequantRowGo(src, want[:n], sc, perCh, flo, fhi, zp)
		qrequantRow(src, got[:n], sc, perCh, flo, fhi, zp)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d perCh=%v zp=%d: SIMD %v, Go %v (src %v)", n, perCh, zp, got, want, src)
		}
	}
}

// qgemm4x8c4GenericS8 is the generic kernel with int8 A (signedA), as an
// s8×s8 dot-product kernel (arm64 SDOT) would compute.
func qgemm4x8c4GenericS8(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int) {
	const mr, nr = 4, 8
	as := unsafe.Slice((*int8)(a), kg*mr*4)
	bs := unsafe.Slice((*int8)(b), kg*nr*4)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var acc [mr * nr]int32
	for i := 0; i < mr; i++ {
		if load != 0 {
			copy(acc[i*nr:i*nr+nr], cs[i*ldc:])
		} else {
			copy(acc[i*nr:i*nr+nr], unsafe.Slice(init, nr))
		}
	}
	for g := 0; g < kg; g++ {
		for i := 0; i < mr; i++ {
			for jj := 0; jj < nr; jj++ {
				for t := 0; t < 4; t++ {
					acc[i*nr+jj] += int32(as[g*mr*4+i*4+t]) * int32(bs[g*nr*4+jj*4+t])
				}
			}
		}
	}
	for i := 0; i < mr; i++ {
		copy(cs[i*ldc:i*ldc+nr], acc[i*nr:])
	}
}

// The signedA plumbing (A packed as int8, zero point moved by 128) that
// s8×s8 kernels rely on, through a Go s8×s8 kernel in the generic slot.
func TestQGemmSignedAKernel(t *testing.T) {
	old := Int8.Active()
	defer Int8.Set(old)
	Int8.Set("generic")
	saved := int8Kernels[0]
	defer func() { int8Kernels[0] = saved }()
	r := rand.New(rand.NewPCG(13, 14))
	for _, uk := range []*qkernel{
		{name: "qgemm_4x8c4_generic_s8", mr: 4, nr: 8, signedA: true, fn: qgemm4x8c4GenericS8},
		{name: "qgemm_4x8c2_generic_s16", mr: 4, nr: 8, wide: true, signedA: true, fn: qgemm4x8c2GenericI16},
		{name: "qgemm_4x8c2_generic_u16", mr: 4, nr: 8, wide: true, fn: qgemm4x8c2GenericI16},
	} {
		int8Kernels[0] = uk
		for _, s := range [][3]int{{1, 1, 1}, {17, 15, 63}, {65, 3, 257}, {3, 65, 17}, {5, 9, 2}} {
			for range 6 {
				randQcase(r, s[0], s[1], s[2]).check(t)
			}
		}
	}
}

// qgemm4x8c2GenericI16 is a Go kernel on widened (c2, int16) operands, as
// the avx2 kernels take them, signed or not.
func qgemm4x8c2GenericI16(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int) {
	const mr, nr = 4, 8
	as := unsafe.Slice((*int16)(a), kg*mr*2)
	bs := unsafe.Slice((*int16)(b), kg*nr*2)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var acc [mr * nr]int32
	for i := 0; i < mr; i++ {
		if load != 0 {
			copy(acc[i*nr:i*nr+nr], cs[i*ldc:])
		} else {
			copy(acc[i*nr:i*nr+nr], unsafe.Slice(init, nr))
		}
	}
	for g := 0; g < kg; g++ {
		for i := 0; i < mr; i++ {
			for jj := 0; jj < nr; jj++ {
				for t := 0; t < 2; t++ {
					acc[i*nr+jj] += int32(as[g*mr*2+i*2+t]) * int32(bs[g*nr*2+jj*2+t])
				}
			}
		}
	}
	for i := 0; i < mr; i++ {
		copy(cs[i*ldc:i*ldc+nr], acc[i*nr:])
	}
}

// The SIMD float32 output stage against the Go one, bit for bit (signed
// zeros included).
func TestQFloatRowAsm(t *testing.T) {
	if qfloatRowAsm == nil {
		t.Skip("no SIMD output stage on this CPU or build")
	}
	r := rand.New(rand.NewPCG(17, 18))
	for it := 0; it < 2000; it++ {
		n := r.IntN(70)
		src := make([]int32, n)
		for x := range src {
			src[x] = int32(r.Uint32()) >> r.IntN(32)
		}
		sc := make([]float32, max(n, 1))
		fb := make([]float32, max(n, 1))
		for x := range sc {
			sc[x] = float32(r.NormFloat64())
			fb[x] = float32(r.NormFloat64() * 100)
			if r.IntN(5) == 0 {
				fb[x] = float32(math.Copysign(0, -1))
			}
		}
		if r.IntN(3) == 0 {
			fb = nil
		}
		perCh := r.IntN(2) == 0
		want := make([]float32, n+3)
		got := make([]float32, n+3)
		qfloatRowGo(src, want[:n], sc, fb, perCh)
		qfloatRow(src, got[:n], sc, fb, perCh)
		for x := range want {
			if math.Float32bits(got[x]) != math.Float32bits(want[x]) {
				t.Fatalf("n=%d perCh=%v fb=%v: [%d] SIMD %v, Go %v", n, perCh, fb != nil, x, got[x], want[x])
			}
		}
	}
}

// K = 0: no products, C = the output stage of the bias alone, in full
// tiles (written straight to C for int32) and edge tiles.
func TestQGemmZeroK(t *testing.T) {
	withInt8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(19, 20))
		for _, kind := range []string{"int32", "float32", "u8", "s8fixed"} {
			for _, mn := range [][2]int{{24, 64}, {25, 65}} {
				c := randQcase(r, mn[0], mn[1], 0)
				c.kind, c.zw, c.zy, c.clamp = kind, nil, 3, false
				c.bias = make([]int32, c.n)
				for j := range c.bias {
					c.bias[j] = r.Int32N(2000) - 1000
				}
				c.scale, c.fbias, c.mult, c.shift = []float32{0.01}, nil, nil, nil
				if kind == "s8fixed" {
					c.scale, c.mult, c.shift = nil, []int32{1 << 30}, []int32{-3}
				}
				c.check(t)
			}
		}
	})
}

// BenchmarkQGemmThreads: best path, 2 threads, int32 output.
func BenchmarkQGemmThreads(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", Int8.Active(), s.m, s.n, s.k), func(b *testing.B) {
			m, n, k := s.m, s.n, s.k
			a, w := benchOperands(m, n, k)
			pw := PackInt8Weights(n, k, w, k)
			out := &QOutput{Int32: make([]int32, m*n), Ldc: n}
			for b.Loop() {
				QGemmU8(m, a, k, 3, pw, out, 2)
			}
			b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// The K×N and uint8 weight packers give the same products as the N×K
// int8 one on the equivalent weights.
func TestPackWeightsVariants(t *testing.T) {
	withInt8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(23, 24))
		for _, s := range [][3]int{{5, 17, 9}, {33, 3, 65}} {
			m, n, k := s[0], s[1], s[2]
			a := make([]uint8, m*k)
			for i := range a {
				a[i] = uint8(r.Uint32())
			}
			w := make([]int8, n*k)
			for i := range w {
				w[i] = int8(r.Uint32())
			}
			kn := make([]int8, k*(n+2))
			for j := 0; j < n; j++ {
				for p := 0; p < k; p++ {
					kn[p*(n+2)+j] = w[j*k+p]
				}
			}
			wu := make([]uint8, n*k)
			zpu := make([]int32, n)
			zps := make([]int32, n)
			for j := range zpu {
				zps[j] = int32(int8(r.Uint32()))
				zpu[j] = zps[j] + 128
			}
			for i := range wu {
				wu[i] = uint8(int32(w[i]) + 128)
			}
			run := func(pw *QPackedWeights) []int32 {
				c := make([]int32, m*n)
				QGemmU8(m, a, k, 7, pw, &QOutput{Int32: c, Ldc: n}, 1)
				return c
			}
			want := run(PackInt8Weights(n, k, w, k, zps...))
			if got := run(PackInt8WeightsKN(k, n, kn, n+2, zps...)); !slices.Equal(got, want) {
				t.Errorf("%v: K×N packing differs", s)
			}
			if got := run(PackUint8Weights(n, k, wu, k, zpu...)); !slices.Equal(got, want) {
				t.Errorf("%v: uint8 packing differs", s)
			}
			want0 := run(PackInt8Weights(n, k, w, k, -128))
			if got := run(PackUint8Weights(n, k, wu, k)); !slices.Equal(got, want0) {
				t.Errorf("%v: uint8 packing with zero point 0 differs", s)
			}
		}
	})
}

// A packing with and without the SIMD transpose, byte for byte, for tile
// heights 4..16, partial panels, K around the 64-byte chunks, flipped or
// not.
func TestQPackASIMD(t *testing.T) {
	if qpackA4Asm == nil {
		t.Skip("no SIMD packing here")
	}
	defer func() { qrequantNoAsm = false }()
	r := rand.New(rand.NewPCG(25, 26))
	for _, mr := range []int{4, 6, 12, 14, 16} {
		for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 27, 28, 33, 40, 63, 64, 65, 68, 130, 257, 1000} {
			for rows := 1; rows <= mr; rows++ {
				lda := k + r.IntN(5)
				a := make([]uint8, (rows-1)*lda+k)
				for i := range a {
					a[i] = uint8(r.Uint32())
				}
				flip := r.IntN(2) == 0
				groups := (k + 3) / 4
				j := &qjob{k: k, a: a, lda: lda, flip: flip, uk: &qkernel{mr: mr, nr: 8}, w: &QPackedWeights{groups: groups}}
				// Guard bytes past the panel catch stray stores.
				want := make([]byte, groups*mr*4+64)
				got := make([]byte, groups*mr*4+64)
				for i := range want {
					want[i], got[i] = 0xA5, 0xA5
				}
				qrequantNoAsm = true
				j.packA(want[:groups*mr*4], 0, rows)
				qrequantNoAsm = false
				j.packA(got[:groups*mr*4], 0, rows)
				if !slices.Equal(got, want) {
					t.Fatalf("mr %d k %d rows %d flip %v: SIMD packing differs", mr, k, rows, flip)
				}
			}
		}
	}
}

func BenchmarkQPackA(b *testing.B) {
	for _, simd := range []bool{false, true} {
		b.Run(fmt.Sprintf("simd=%v", simd), func(b *testing.B) {
			const mr, k, m = 12, 1024, 96
			a := make([]uint8, m*k)
			j := &qjob{k: k, a: a, lda: k, uk: &qkernel{mr: mr, nr: 32}, w: &QPackedWeights{groups: k / 4}}
			dst := make([]byte, k*mr)
			qrequantNoAsm = !simd
			defer func() { qrequantNoAsm = false }()
			for b.Loop() {
				for r := 0; r < m; r += mr {
					j.packA(dst, r, mr)
				}
			}
			b.ReportMetric(float64(m*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// The SIMD fixed-point requantization against the Go one: all lengths up
// to a few vectors, exact ties, every shift, extreme accumulators and
// multipliers.
func TestQFixedRowAsm(t *testing.T) {
	if qfixedRowAsm == nil {
		t.Skip("no SIMD fixed-point stage on this CPU or build")
	}
	r := rand.New(rand.NewPCG(27, 28))
	for it := 0; it < 4000; it++ {
		n := r.IntN(40)
		src := make([]int32, n)
		mult := make([]int32, max(n, 1))
		shift := make([]int32, max(n, 1))
		for x := range src {
			switch r.IntN(4) {
			case 0:
				src[x] = int32(r.Uint32())
			case 1:
				src[x] = []int32{math.MinInt32, math.MaxInt32, 0, -1, 1}[r.IntN(5)]
			default:
				src[x] = r.Int32N(1<<20) - 1<<19
			}
		}
		for x := range mult {
			mult[x] = int32(r.Uint32() >> 1)
			shift[x] = r.Int32N(63) - 31
			if r.IntN(4) == 0 { // ties: M = 2^30, small shifts
				mult[x], shift[x] = 1<<30, r.Int32N(4)-1
			}
			if r.IntN(8) == 0 {
				mult[x] = math.MaxInt32
			}
		}
		perCh := r.IntN(2) == 0
		lo, hi := int32(0), int32(255)
		if r.IntN(2) == 0 {
			lo, hi = -128, 127
		}
		zp := lo + r.Int32N(hi-lo+1)
		want := make([]byte, n+9)
		got := make([]byte, n+9)
		for x := range want {
			want[x], got[x] = 0x5a, 0x5a
		}
		qfixedRowGo(src, want[:n], mult, shift, perCh, lo-zp, hi-zp, zp)
		qfixedRow(src, got[:n], mult, shift, perCh, lo-zp, hi-zp, zp)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d perCh=%v: SIMD %v, Go %v (src %v mult %v shift %v)", n, perCh, got, want, src, mult, shift)
		}
	}
}

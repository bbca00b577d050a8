package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/qtool/qtool/internal/testdeps"
)

// fmaExact is x*y+z rounded once to float32, via exact big.Float
// arithmetic.
func fmaExact(x, y, z float32) float32 {
	if math.IsNaN(float64(x)) || math.IsNaN(float64(y)) || math.IsNaN(float64(z)) ||
		math.IsInf(float64(x), 0) || math.IsInf(float64(y), 0) || math.IsInf(float64(z), 0) {
		return float32(float64(x)*float64(y) + float64(z))
	}
	p := new(big.Float).SetPrec(0).SetMode(big.ToNearestEven)
	bx := new(big.Float).SetPrec(200).SetFloat64(float64(x))
	p.SetPrec(200).Mul(bx, new(big.Float).SetFloat64(float64(y)))
	p.Add(p, new(big.Float).SetPrec(200).SetFloat64(float64(z)))
	if p.Sign() == 0 {
		// IEEE: exact zero sum has sign + unless both addends are -0.
		return float32(float64(x)*float64(y) + float64(z))
	}
	f, _ := p.Float32()
	return f
}

func TestFmaf32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type c struct{ x, y, z float32 }
	cases := []c{
		{1 + 1.0/(1<<12), 1 + 1.0/(1<<12), -1}, // classic double-rounding shape
		{1, 1 + 1.0/(1<<23), 1.0 / (1 << 24)},
		{0x1p-70, 0x1p-70, 0x1p-149},
		{0x1p-75, 0x1.8p-75, 0x1p-149},
		{-0.0, 1, 0},
		{-0.0, 1, -0.0},
		{0, 0, -0.0},
		{float32(math.Inf(1)), 0, 1},
		{float32(math.Inf(1)), 1, float32(math.Inf(-1))},
		{math.MaxFloat32, 2, -math.MaxFloat32},
		{math.MaxFloat32, 1.5, 0},
	}
	// Ties: x*y exactly halfway between two float32s plus a tiny z that
	// decides the rounding (float32(math.FMA(...)) gets these wrong).
	for i := 0; i < 2000; i++ {
		x := float32(1<<12 + 2*r.IntN(1<<11) + 1) // odd, 13 bits
		y := float32(1<<12 + 2*r.IntN(1<<11) + 1)
		e := r.IntN(60) - 30
		x = float32(math.Ldexp(float64(x), e))
		z := float32(math.Ldexp(1, e-60-r.IntN(40)))
		if r.IntN(2) == 0 {
			z = -z
		}
		cases = append(cases, c{x, y, z})
	}
	for i := 0; i < 20000; i++ {
		f := func() float32 {
			switch r.IntN(4) {
			case 0:
				return math.Float32frombits(r.Uint32())
			case 1:
				return float32(math.Ldexp(r.Float64()*2-1, r.IntN(60)-100))
			default:
				return float32(r.Float64()*2 - 1)
			}
		}
		cases = append(cases, c{f(), f(), f()})
	}
	bad := 0
	for _, tc := range cases {
		got, want := fmaf32(tc.x, tc.y, tc.z), fmaExact(tc.x, tc.y, tc.z)
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			if bad++; bad < 10 {
				t.Errorf("fmaf32(%g, %g, %g) = %g (%#x), want %g (%#x)", tc.x, tc.y, tc.z, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// The microkernel registered for each supported path and every alternative
// shape agree bit for bit with the generic microkernel on one tile.
func TestMicrokernels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var uks []*microkernel
	for _, p := range SupportedPaths() {
		uks = append(uks, pathKernel(p))
	}
	if ok, _ := Supported(PathAVX512); ok {
		for i := range extraKernels {
			uks = append(uks, &extraKernels[i])
		}
	}
	for _, uk := range uks {
		for _, k := range []int{0, 1, 3, 4, 5, 17, 64} {
			for load := 0; load < 2; load++ {
				a := randSlice(r, k*uk.mr+1, 1)
				b := randSlice(r, k*uk.nr+1, 1)
				ldc := uk.nr + 3
				c0 := randSlice(r, uk.mr*ldc, 1)
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				uk.fn(k, &a[0], &b[0], &got[0], ldc, load, &got[0])
				refTile(uk.mr, uk.nr, k, a, b, want, ldc, load)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s k=%d load=%d: c[%d] = %g, want %g", uk.name, k, load, i, got[i], want[i])
					}
				}
				if uk.fnOff == nil {
					continue
				}
				// The same panel scattered: row p at a random place in
				// a bigger buffer.
				big := randSlice(r, (k+2)*uk.nr*3, 1)
				offs := make([]int, k+1)
				for p := 0; p < k; p++ {
					o := r.IntN(len(big) - uk.nr + 1)
					copy(big[o:o+uk.nr], b[p*uk.nr:])
					offs[p] = o * 4
				}
				// Later rows may overwrite earlier ones: rebuild the
				// panel from what the offsets now point at.
				for p := 0; p < k; p++ {
					copy(b[p*uk.nr:(p+1)*uk.nr], big[offs[p]/4:])
				}
				want = append(want[:0], c0...)
				got = append(got[:0], c0...)
				uk.fnOff(k, &a[0], &big[0], &offs[0], &got[0], ldc, load, &got[0])
				refTile(uk.mr, uk.nr, k, a, b, want, ldc, load)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s in place k=%d load=%d: c[%d] = %g, want %g", uk.name, k, load, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func refTile(mr, nr, k int, a, b, c []float32, ldc, load int) {
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			var acc float32
			if load != 0 {
				acc = c[i*ldc+j]
			}
			for p := 0; p < k; p++ {
				acc = fmaf32(a[p*mr+i], b[p*nr+j], acc)
			}
			c[i*ldc+j] = acc
		}
	}
}

func randSlice(r *rand.Rand, n int, hard int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = randVal(r, hard)
	}
	return s
}

// randVal draws from [-1, 1], or with hard set, a mix that makes float32
// rounding ties and subnormal products likely: small integers scaled by
// powers of two, some tiny.
func randVal(r *rand.Rand, hard int) float32 {
	if hard == 0 || r.IntN(2) == 0 {
		return float32(r.Float64()*2 - 1)
	}
	v := float64(r.IntN(4097) - 2048)
	e := r.IntN(8) - 4
	if r.IntN(8) == 0 {
		e -= 70
	}
	return float32(math.Ldexp(v, e))
}

const sentinelBits = 0x7fc0dead

var sentinel = math.Float32frombits(sentinelBits)

type gemmCase struct {
	m, n, k       int
	aMode, bMode  int // 0 dense, 1 dense transposed, 2 packed, 3 (B only) Rows
	aPackPath     Path
	bPackPath     Path
	lda, ldb, ldc int
	ep            int // 0 none, 1.. variants
	threads       int
	hard          int
	seed          uint64
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("%dx%dx%d/a%d(%v)/b%d(%v)/ld%d,%d,%d/ep%d/t%d/h%d", tc.m, tc.n, tc.k,
		tc.aMode, tc.aPackPath, tc.bMode, tc.bPackPath, tc.lda, tc.ldb, tc.ldc, tc.ep, tc.threads, tc.hard)
}

// gemmInputs are one case's operands in dense form.
type gemmInputs struct {
	a, b       []float32 // as stored (transposed when the mode says so)
	boff       []int     // Rows: row p of B is b[boff[p]:]
	ep         *Epilogue
	cOff, cLen int
}

func (tc gemmCase) inputs() gemmInputs {
	r := rand.New(rand.NewPCG(tc.seed, 7))
	var in gemmInputs
	ar, ac := tc.m, tc.k
	if tc.aMode == 1 {
		ar, ac = ac, ar
	}
	in.a = randSlice(r, max(0, (ar-1)*tc.lda+ac), tc.hard)
	br, bc := tc.k, tc.n
	if tc.bMode == 1 {
		br, bc = bc, br
	}
	in.b = randSlice(r, max(0, (br-1)*tc.ldb+bc), tc.hard)
	if tc.bMode == 3 {
		// Rows anywhere in b, overlapping and out of order, the last
		// ending exactly at b's end so an over-read would show.
		in.boff = make([]int, tc.k)
		for p := range in.boff {
			in.boff[p] = r.IntN(len(in.b) - tc.n + 1)
		}
		if tc.k > 0 {
			in.boff[r.IntN(tc.k)] = len(in.b) - tc.n
		}
	}
	in.cOff = 2*tc.ldc + 3
	in.cLen = in.cOff + tc.m*tc.ldc + 2*tc.ldc + 5
	if tc.ep != 0 {
		ep := &Epilogue{Act: Activation((tc.ep - 1) % 6)}
		switch ep.Act {
		case ActClip:
			ep.Alpha, ep.Beta = -0.5, 0.75
		case ActLeakyRelu:
			ep.Alpha = 0.1
		case ActHardSigmoid:
			ep.Alpha, ep.Beta = 0.2, 0.5
		}
		if tc.ep > 6 || r.IntN(2) == 0 {
			ep.RowBias = randSlice(r, tc.m, 0)
		}
		if tc.ep > 6 || r.IntN(2) == 0 {
			ep.ColBias = randSlice(r, tc.n, 0)
		}
		if tc.ep > 6 || r.IntN(2) == 0 {
			ep.LdResidual = tc.n + r.IntN(3)
			ep.Residual = randSlice(r, (tc.m-1)*ep.LdResidual+tc.n, 0)
		}
		in.ep = ep
	}
	return in
}

// run computes the case on the active path and returns the whole C buffer
// (guards included).
func (tc gemmCase) run(t *testing.T, in gemmInputs) []float32 {
	t.Helper()
	cur := ActivePath()
	var a, b Operand
	switch tc.aMode {
	case 2:
		must(t, SetPath(tc.aPackPath))
		a = PackA(tc.m, tc.k, in.a, tc.lda, false).Operand()
	default:
		a = Dense(in.a, tc.lda, tc.aMode == 1)
	}
	switch tc.bMode {
	case 2:
		must(t, SetPath(tc.bPackPath))
		b = PackB(tc.k, tc.n, in.b, tc.ldb, false).Operand()
	case 3:
		b = Rows(in.b, in.boff)
	default:
		b = Dense(in.b, tc.ldb, tc.bMode == 1)
	}
	must(t, SetPath(cur))
	c := make([]float32, in.cLen)
	for i := range c {
		c[i] = sentinel
	}
	Sgemm(tc.m, tc.n, tc.k, a, b, c[in.cOff:], tc.ldc, in.ep, tc.threads)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkGuards fails when anything outside C's m×n window changed.
func (tc gemmCase) checkGuards(t *testing.T, in gemmInputs, c []float32, path Path) {
	t.Helper()
	for x := range c {
		i, j := (x-in.cOff)/tc.ldc, (x-in.cOff)%tc.ldc
		inside := x >= in.cOff && i < tc.m && j < tc.n
		if !inside && math.Float32bits(c[x]) != sentinelBits {
			t.Fatalf("%v %v: guard element %d (row %d col %d) overwritten with %g", path, tc, x, i, j, c[x])
		}
	}
}

// checkRef compares the generic result with a float64 reference within a
// relative tolerance scaled by K.
func (tc gemmCase) checkRef(t *testing.T, in gemmInputs, c []float32) {
	t.Helper()
	A := func(i, p int) float64 {
		if tc.aMode == 1 {
			return float64(in.a[p*tc.lda+i])
		}
		return float64(in.a[i*tc.lda+p])
	}
	B := func(p, j int) float64 {
		if tc.bMode == 1 {
			return float64(in.b[j*tc.ldb+p])
		}
		if tc.bMode == 3 {
			return float64(in.b[in.boff[p]+j])
		}
		return float64(in.b[p*tc.ldb+j])
	}
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, mag float64
			for p := 0; p < tc.k; p++ {
				s += A(i, p) * B(p, j)
				mag += math.Abs(A(i, p) * B(p, j))
			}
			if ep := in.ep; ep != nil {
				if ep.RowBias != nil {
					s += float64(ep.RowBias[i])
					mag += math.Abs(float64(ep.RowBias[i]))
				}
				if ep.ColBias != nil {
					s += float64(ep.ColBias[j])
					mag += math.Abs(float64(ep.ColBias[j]))
				}
				if ep.Residual != nil {
					v := float64(ep.Residual[i*ep.LdResidual+j])
					s += v
					mag += math.Abs(v)
				}
				s = act64(s, ep)
			}
			got := float64(c[in.cOff+i*tc.ldc+j])
			tol := 1e-5*(1+float64(tc.k)/32)*mag + 1e-30
			if !(math.Abs(got-s) <= tol) {
				t.Fatalf("generic %v: C[%d,%d] = %g, float64 reference %g (tol %g)", tc, i, j, got, s, tol)
			}
		}
	}
}

func act64(x float64, ep *Epilogue) float64 {
	a, b := float64(ep.Alpha), float64(ep.Beta)
	hs := func(x, a, b float64) float64 { return math.Max(0, math.Min(1, a*x+b)) }
	switch ep.Act {
	case ActRelu:
		return math.Max(x, 0)
	case ActClip:
		return math.Min(math.Max(x, a), b)
	case ActLeakyRelu:
		if x < 0 {
			return a * x
		}
		return x
	case ActHardSigmoid:
		return hs(x, a, b)
	case ActHardSwish:
		return x * hs(x, 1.0/6, 0.5)
	}
	return x
}

var testSizes = []int{1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 65, 257}

func gemmCases(short bool) []gemmCase {
	r := rand.New(rand.NewPCG(11, 12))
	sup := SupportedPaths()
	mk := func(m, n, k int) gemmCase {
		tc := gemmCase{m: m, n: n, k: k, aMode: r.IntN(3), bMode: r.IntN(4),
			aPackPath: sup[r.IntN(len(sup))], bPackPath: sup[r.IntN(len(sup))],
			ep: r.IntN(13), threads: 1, hard: r.IntN(2), seed: r.Uint64()}
		if r.IntN(2) == 0 {
			tc.threads = 3
		}
		aw, bw := k, n
		if tc.aMode == 1 {
			aw = m
		}
		if tc.bMode == 1 {
			bw = k
		}
		tc.lda, tc.ldb, tc.ldc = aw+r.IntN(2)*r.IntN(5), bw+r.IntN(2)*r.IntN(5), n+r.IntN(4)
		return tc
	}
	var cs []gemmCase
	small := testSizes[:7]
	for _, m := range small {
		for _, n := range small {
			for _, k := range small {
				if short && r.IntN(4) != 0 {
					continue
				}
				cs = append(cs, mk(m, n, k))
			}
		}
	}
	nbig := 60
	if short {
		nbig = 15
	}
	for range nbig {
		m, n, k := testSizes[r.IntN(len(testSizes))], testSizes[r.IntN(len(testSizes))], testSizes[r.IntN(len(testSizes))]
		cs = append(cs, mk(m, n, k))
	}
	// K = 0: C = epilogue(0).
	cs = append(cs, mk(5, 9, 0), mk(33, 17, 0))
	cs[len(cs)-1].ep = 8
	return cs
}

func withPath(t testing.TB, p Path, f func()) {
	old := ActivePath()
	if err := SetPath(p); err != nil {
		t.Fatal(err)
	}
	defer SetPath(old)
	f()
}

// Every path the CPU can run gives bit-identical results to the generic
// path (under the default cache blocking and under tiny blocks that run
// every driver loop), never writes outside C's window, and the generic
// path agrees with a float64 reference.
func TestSgemmPathsBitIdentical(t *testing.T) {
	short := testing.Short() || raceEnabled
	for _, tiny := range []bool{false, true} {
		if tiny {
			blockingOverride = func(uk *microkernel) blocking { return blocking{kc: 8, mc: 2 * uk.mr, nc: 2 * uk.nr} }
		} else {
			blockingOverride = nil
		}
		for _, tc := range gemmCases(short || tiny) {
			in := tc.inputs()
			var want []float32
			withPath(t, PathGeneric, func() { want = tc.run(t, in) })
			tc.checkGuards(t, in, want, PathGeneric)
			if !tiny {
				tc.checkRef(t, in, want)
			}
			for _, p := range SupportedPaths()[1:] {
				var got []float32
				withPath(t, p, func() { got = tc.run(t, in) })
				tc.checkGuards(t, in, got, p)
				for x := range got {
					if math.Float32bits(got[x]) != math.Float32bits(want[x]) {
						i, j := (x-in.cOff)/tc.ldc, (x-in.cOff)%tc.ldc
						t.Fatalf("tiny=%v %v %v: C[%d,%d] = %g (%#x), generic %g (%#x)", tiny, p, tc, i, j,
							got[x], math.Float32bits(got[x]), want[x], math.Float32bits(want[x]))
					}
				}
			}
		}
	}
	blockingOverride = nil
}

// The paths listed as supported are exactly those the CPU features allow.
func TestSupportedPaths(t *testing.T) {
	c := DetectCPU()
	want := map[Path]bool{PathGeneric: true}
	if runtime.GOARCH == "amd64" && !puregoBuild {
		want[PathAVX2] = c.Has("avx2") && c.Has("fma")
		want[PathAVX512] = want[PathAVX2] && c.Has("avx512f")
	}
	if runtime.GOARCH == "arm64" && !puregoBuild {
		want[PathNEON] = c.Has("asimd")
	}
	for p := Path(0); p < numPaths; p++ {
		if ok, why := Supported(p); ok != want[p] {
			t.Errorf("Supported(%v) = %v (%s), want %v", p, ok, why, want[p])
		}
	}
	if err := SetPath(Path(99)); err == nil {
		t.Error("SetPath(99) succeeded")
	}
	if ActivePath() != bestPath() && os.Getenv(EnvPath) == "" {
		t.Errorf("ActivePath %v, best %v", ActivePath(), bestPath())
	}
}

// QTOOL_KERNELS forces the path at init in a fresh process; unsupported or
// unknown names fall back to the best supported path with a note.
func TestEnvForcing(t *testing.T) {
	best := bestPath()
	cases := map[string]Path{"bogus": best}
	for p := Path(0); p < numPaths; p++ {
		want := best
		if ok, _ := Supported(p); ok {
			want = p
		}
		cases[p.String()] = want
		cases[strings.ToUpper(p.String())] = want
	}
	for env, want := range cases {
		cmd := testdeps.SelfCommand(t, "envpath")
		cmd.Env = append(cmd.Env, EnvPath+"="+env)
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s=%s: %v", EnvPath, env, err)
			continue
		}
		got, note, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
		if got != want.String() {
			t.Errorf("%s=%s: active path %s, want %s (%s)", EnvPath, env, got, want, note)
		}
		if p, _ := ParsePath(env); p.String() != got && !strings.Contains(note, "ignored") {
			t.Errorf("%s=%s: fallback without a note: %q", EnvPath, env, note)
		}
	}
}

// TestMain makes the test binary report the path init chose when it runs
// as TestEnvForcing's child.
func TestMain(m *testing.M) {
	if os.Getenv(testdeps.ChildEnv) == "envpath" {
		fmt.Println(ActivePath(), PathNote())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The epilogue's order and each activation, on exact values.
func TestEpilogue(t *testing.T) {
	// 1×3 by 3×1 gives acc = 2; add row bias 1, col bias 0.5, residual -4:
	// x = -0.5 before the activation.
	a := []float32{1, 1, 0}
	b := []float32{1, 1, 5}
	for _, tc := range []struct {
		act         Activation
		alpha, beta float32
		want        float32
	}{
		{ActNone, 0, 0, -0.5},
		{ActRelu, 0, 0, 0},
		{ActClip, -0.25, 1, -0.25},
		{ActLeakyRelu, 0.5, 0, -0.25},
		{ActHardSigmoid, 0.5, 0.5, 0.25},
		{ActHardSwish, 0, 0, -0.5 * (0.5 - 0.5/6)},
	} {
		for _, p := range SupportedPaths() {
			withPath(t, p, func() {
				c := []float32{7}
				Sgemm(1, 1, 3, Dense(a, 3, false), Dense(b, 1, false), c, 1, &Epilogue{
					RowBias: []float32{1}, ColBias: []float32{0.5}, Residual: []float32{-4}, LdResidual: 1,
					Act: tc.act, Alpha: tc.alpha, Beta: tc.beta}, 1)
				if c[0] != tc.want {
					t.Errorf("%v act %d: %g, want %g", p, tc.act, c[0], tc.want)
				}
			})
		}
	}
}

func TestAlignedFloats(t *testing.T) {
	for n := 1; n < 100; n += 7 {
		s := alignedFloats(n)
		if len(s) != n || uintptr(unsafe.Pointer(&s[0]))&63 != 0 {
			t.Fatalf("alignedFloats(%d): len %d at %p", n, len(s), &s[0])
		}
	}
}

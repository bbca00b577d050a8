package kernels

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// forEachBinaryPath runs f with every Binary path this machine supports
// forced in turn.
func forEachBinaryPath(t testing.TB, f func(path string)) {
	old := Binary.Active()
	defer Binary.Set(old)
	for _, p := range Binary.SupportedPaths() {
		if err := Binary.Set(p); err != nil {
			t.Fatal(err)
		}
		f(p)
	}
}

// pm1 returns n random ±1 floats.
func pm1(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
		if r.IntN(2) == 0 {
			x[i] = -1
		}
	}
	return x
}

// refBinaryConv is a float convolution of ±1 values (x NHWC, w OIHW) with
// padded pixels worth padVal (0 or +1), independent of the packed path.
func refBinaryConv(p BinaryConvParams, x, w []float32, batch int, padVal float32) (out []int32, oh, ow int) {
	oh = (p.InH+p.PadTop+p.PadBottom-(p.KH-1)*p.DilationH-1)/p.StrideH + 1
	ow = (p.InW+p.PadLeft+p.PadRight-(p.KW-1)*p.DilationW-1)/p.StrideW + 1
	cg, ocg := p.InC/p.Groups, p.OutC/p.Groups
	out = make([]int32, batch*oh*ow*p.OutC)
	for n := 0; n < batch; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for oc := 0; oc < p.OutC; oc++ {
					g := oc / ocg
					var s float32
					for ci := 0; ci < cg; ci++ {
						for ky := 0; ky < p.KH; ky++ {
							for kx := 0; kx < p.KW; kx++ {
								iy := oy*p.StrideH - p.PadTop + ky*p.DilationH
								ix := ox*p.StrideW - p.PadLeft + kx*p.DilationW
								v := padVal
								if iy >= 0 && iy < p.InH && ix >= 0 && ix < p.InW {
									v = x[((n*p.InH+iy)*p.InW+ix)*p.InC+g*cg+ci]
								}
								s += v * w[((oc*cg+ci)*p.KH+ky)*p.KW+kx]
							}
						}
					}
					out[((n*oh+oy)*ow+ox)*p.OutC+oc] = int32(s)
				}
			}
		}
	}
	return out, oh, ow
}

var binaryChannels = []int{1, 3, 31, 33, 63, 64, 65, 127, 129, 257}

func randomBinaryParams(r *rand.Rand) (BinaryConvParams, int) {
	for {
		p := BinaryConvParams{
			InH: 1 + r.IntN(8), InW: 1 + r.IntN(8),
			KH: 1 + r.IntN(3), KW: 1 + r.IntN(3),
			StrideH: 1 + r.IntN(2), StrideW: 1 + r.IntN(2),
			DilationH: 1 + r.IntN(2), DilationW: 1 + r.IntN(2),
			PadTop: r.IntN(3), PadLeft: r.IntN(3), PadBottom: r.IntN(3), PadRight: r.IntN(3),
			Groups:  []int{1, 1, 1, 2, 3}[r.IntN(5)],
			ZeroPad: r.IntN(2) == 0,
		}
		p.InC = binaryChannels[r.IntN(len(binaryChannels))] * p.Groups
		p.OutC = binaryChannels[r.IntN(len(binaryChannels))] * p.Groups
		if p.InC*p.OutC > 40000 {
			continue
		}
		if p.InH+p.PadTop+p.PadBottom < (p.KH-1)*p.DilationH+1 || p.InW+p.PadLeft+p.PadRight < (p.KW-1)*p.DilationW+1 {
			continue
		}
		return p, 1 + r.IntN(2)
	}
}

const guardWords = 7

// withGuards returns a slice of n elements inside guard values.
func withGuards[T any](n int, guard T) (full, inner []T) {
	full = make([]T, n+2*guardWords)
	for i := range full {
		full[i] = guard
	}
	return full, full[guardWords : guardWords+n]
}

func checkGuards[T comparable](t *testing.T, what string, full []T, guard T) {
	t.Helper()
	n := len(full) - 2*guardWords
	for i := 0; i < guardWords; i++ {
		if full[i] != guard || full[guardWords+n+i] != guard {
			t.Fatalf("%s: guard overwritten", what)
		}
	}
}

func TestBinaryConvAgainstFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 60
	if testing.Short() {
		n = 20
	}
	for it := 0; it < n; it++ {
		p, batch := randomBinaryParams(r)
		x := pm1(r, batch*p.InH*p.InW*p.InC)
		w := pm1(r, p.OutC*p.InC/p.Groups*p.KH*p.KW)
		padVal := float32(1)
		if p.ZeroPad {
			padVal = 0
		}
		want, oh, ow := refBinaryConv(p, x, w, batch, padVal)
		conv, err := NewBinaryConv(p, w)
		if err != nil {
			t.Fatal(err)
		}
		if h, ww := conv.OutputSize(); h != oh || ww != ow {
			t.Fatalf("%+v: output %dx%d, want %dx%d", p, h, ww, oh, ow)
		}
		src := PackSigns(nil, x, batch*p.InH*p.InW, p.InC)
		out := batch * oh * ow * p.OutC
		// A random output stage.
		o := BinaryOutput{Multiplier: make([]float32, p.OutC), Bias: make([]float32, p.OutC)}
		for j := range o.Multiplier {
			o.Multiplier[j] = float32(r.NormFloat64())
			o.Bias[j] = float32(r.NormFloat64() * 3)
		}
		if r.IntN(2) == 0 {
			o.Clamp, o.Lo, o.Hi = true, 0, 6
		}
		forEachBinaryPath(t, func(path string) {
			what := fmt.Sprintf("%s %+v batch %d", path, p, batch)
			if err := conv.SetOutput(BinaryOutput{}); err != nil {
				t.Fatal(err)
			}
			fd, dots := withGuards[int32](out, 12345)
			conv.RunDot(dots, src, batch)
			checkGuards(t, what+" dot", fd, 12345)
			for i := range want {
				if dots[i] != want[i] {
					t.Fatalf("%s: dot %d = %d, want %d", what, i, dots[i], want[i])
				}
			}
			ff, f := withGuards[float32](out, -7.5)
			conv.RunF32(f, src, batch)
			checkGuards(t, what+" f32", ff, -7.5)
			for i := range want {
				if f[i] != float32(want[i]) {
					t.Fatalf("%s: identity f32 %d = %v, want %d", what, i, f[i], want[i])
				}
			}
			if err := conv.SetOutput(o); err != nil {
				t.Fatal(err)
			}
			conv.RunF32(f, src, batch)
			checkGuards(t, what+" f32 stage", ff, -7.5)
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			if o.Clamp {
				lo, hi = o.Lo, o.Hi
			}
			for i := range want {
				j := i % p.OutC
				e := outF32One(want[i], o.Multiplier[j], o.Bias[j], lo, hi)
				if math.Float32bits(f[i]) != math.Float32bits(e) {
					t.Fatalf("%s: f32 %d = %v, want %v", what, i, f[i], e)
				}
			}
			fi, q := withGuards[int8](out, 99)
			conv.RunInt8(q, src, batch)
			checkGuards(t, what+" int8", fi, 99)
			for i := range q {
				if q[i] != satInt8(f[i]) {
					t.Fatalf("%s: int8 %d = %d, want %d (from %v)", what, i, q[i], satInt8(f[i]), f[i])
				}
			}
			wo := BitWords(p.OutC)
			fb, bitsOut := withGuards[uint64](batch*oh*ow*wo, 0xdead)
			conv.RunBits(bitsOut, src, batch)
			checkGuards(t, what+" bits", fb, 0xdead)
			wantBits := PackSigns(nil, f, batch*oh*ow, p.OutC)
			for i := range wantBits {
				if bitsOut[i] != wantBits[i] {
					t.Fatalf("%s: bits word %d = %x, want %x", what, i, bitsOut[i], wantBits[i])
				}
			}
		})
	}
}

func TestPackSigns(t *testing.T) {
	nan := float32(math.NaN())
	vals := []float32{1, -1, 0, float32(math.Copysign(0, -1)), nan, -nan, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45, -3}
	forEachBinaryPath(t, func(path string) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, c := range append(binaryChannels, 128, 192) {
			x := make([]float32, 3*c)
			for i := range x {
				x[i] = vals[r.IntN(len(vals))]
			}
			p := PackSigns(nil, x, 3, c)
			if len(p) != 3*BitWords(c) {
				t.Fatalf("c=%d: %d words", c, len(p))
			}
			for px := 0; px < 3; px++ {
				for ch := 0; ch < BitWords(c)*64; ch++ {
					got := p[px*BitWords(c)+ch/64] >> (ch % 64) & 1
					want := uint64(0)
					if ch < c && x[px*c+ch] < 0 {
						want = 1
					}
					if got != want {
						t.Fatalf("%s c=%d pixel %d channel %d: bit %d for %v", path, c, px, ch, got, x[px*c+min(ch, c-1)])
					}
				}
			}
			u := make([]float32, 3*c)
			UnpackSigns(u, p, 3, c)
			for i, v := range u {
				if (v < 0) != (x[i] < 0) || (v != 1 && v != -1) {
					t.Fatalf("unpack %d: %v from %v", i, v, x[i])
				}
			}
		}
	})
}

func TestPackSignsNCHW(t *testing.T) {
	nan := float32(math.NaN())
	vals := []float32{1, -1, 0, float32(math.Copysign(0, -1)), nan, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45, -3, 0.5, 0.25}
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range append(binaryChannels, 128, 130) {
		for _, pixels := range []int{1, 5, 16} {
			const batch = 2
			x := make([]float32, batch*c*pixels)
			for i := range x {
				x[i] = vals[r.IntN(len(vals))]
			}
			thr := make([]float32, c)
			for i := range thr {
				thr[i] = vals[r.IntN(len(vals))]
			}
			for _, th := range [][]float32{nil, thr} {
				// A dirty reused buffer: every word must be rewritten.
				dst := make([]uint64, batch*pixels*BitWords(c))
				for i := range dst {
					dst[i] = ^uint64(0)
				}
				p := PackSignsNCHW(dst, x, batch, c, pixels, th)
				if len(p) != len(dst) {
					t.Fatalf("c=%d: %d words", c, len(p))
				}
				for n := 0; n < batch; n++ {
					for px := 0; px < pixels; px++ {
						for ch := 0; ch < BitWords(c)*64; ch++ {
							got := p[(n*pixels+px)*BitWords(c)+ch/64] >> (ch % 64) & 1
							want := uint64(0)
							if ch < c {
								t0 := float32(0)
								if th != nil {
									t0 = th[ch]
								}
								if v := x[(n*c+ch)*pixels+px]; v < t0 {
									want = 1
								}
							}
							if got != want {
								t.Fatalf("c=%d pixels=%d image %d pixel %d channel %d (thresholds %v): bit %d", c, pixels, n, px, ch, th != nil, got)
							}
						}
					}
				}
			}
		}
	}
}

func TestBinaryGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{1, 63, 64, 65, 200, 513} {
		for _, nn := range []int{1, 7, 32, 33, 70} {
			m := 1 + r.IntN(40)
			a := pm1(r, m*k)
			w := pm1(r, nn*k)
			g, err := NewBinaryGemm(nn, k, w)
			if err != nil {
				t.Fatal(err)
			}
			pa := PackSigns(nil, a, m, k)
			forEachBinaryPath(t, func(path string) {
				d := make([]int32, m*nn)
				g.RunDot(d, pa, m)
				for i := 0; i < m; i++ {
					for j := 0; j < nn; j++ {
						var s float32
						for q := 0; q < k; q++ {
							s += a[i*k+q] * w[j*k+q]
						}
						if d[i*nn+j] != int32(s) {
							t.Fatalf("%s k=%d n=%d m=%d: [%d,%d] = %d, want %v", path, k, nn, m, i, j, d[i*nn+j], s)
						}
					}
				}
			})
		}
	}
}

// Every microkernel against a direct popcount, writing only its tile.
func TestBinaryMicrokernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for p := range binaryImpls {
		uk := binaryImpls[p].gemm
		if ok, _ := Binary.Supported(Binary.paths[p].name); !ok || uk.fn == nil {
			continue
		}
		for _, k := range []int{1, 2, 3, 7, 9, 18, 31, 32, 33, 64, 100} {
			rows := uk.mr * 3
			a := make([]uint64, rows*k)
			b := make([]uint64, k*binaryNR)
			for i := range a {
				a[i] = r.Uint64()
			}
			for i := range b {
				b[i] = r.Uint64()
			}
			ldc := uk.nr + 5
			full, c := withGuards[int32](rows*ldc, -3)
			for i := range c {
				c[i] = -3
			}
			// Rows 3 words apart beyond their k words, offsets reversed.
			lda := (k + 3) * 8
			a = make([]uint64, rows*(k+3))
			for i := range a {
				a[i] = r.Uint64()
			}
			off := make([]int, k)
			for q := range off {
				off[q] = (k - 1 - q) * 8
			}
			// Tiles in reverse order, so bases are not mr rows apart.
			nt := rows / uk.mr
			bases := make([]*uint64, nt)
			for tt := range bases {
				bases[tt] = &a[(nt-1-tt)*uk.mr*lda/8]
			}
			A := func(i, q int) uint64 { return a[((nt-1-i/uk.mr)*uk.mr*lda+(i%uk.mr)*lda+off[q])/8] }
			for j0 := 0; j0+uk.nr <= binaryNR; j0 += 3 * uk.nr {
				uk.fn(rows, k, &bases[0], lda, &off[0], &b[j0], &c[0], ldc)
				for i := 0; i < rows; i++ {
					for j := 0; j < ldc; j++ {
						want := int32(-3)
						if j < uk.nr {
							want = 0
							for q := 0; q < k; q++ {
								want += int32(bits.OnesCount64(A(i, q) ^ b[q*binaryNR+j0+j]))
							}
						}
						if c[i*ldc+j] != want {
							t.Fatalf("%s k=%d col0 %d: c[%d][%d] = %d, want %d", uk.name, k, j0, i, j, c[i*ldc+j], want)
						}
					}
				}
				checkGuards(t, uk.name, full, -3)
			}
		}
	}
}

func TestBinaryMaxPool(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for it := 0; it < 30; it++ {
		c := binaryChannels[r.IntN(len(binaryChannels))]
		h, w := 1+r.IntN(7), 1+r.IntN(7)
		kh, kw := 1+r.IntN(3), 1+r.IntN(3)
		sh, sw := 1+r.IntN(2), 1+r.IntN(2)
		pt, pl, pb, pr := r.IntN(kh), r.IntN(kw), r.IntN(kh), r.IntN(kw)
		if h+pt+pb < kh || w+pl+pr < kw {
			continue
		}
		x := pm1(r, 2*h*w*c)
		src := PackSigns(nil, x, 2*h*w, c)
		oh, ow := (h+pt+pb-kh)/sh+1, (w+pl+pr-kw)/sw+1
		dst := make([]uint64, 2*oh*ow*BitWords(c))
		if gh, gw := BinaryMaxPool(dst, src, 2, BinaryPoolParams{InH: h, InW: w, C: c, KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadTop: pt, PadLeft: pl, PadBottom: pb, PadRight: pr}); gh != oh || gw != ow {
			t.Fatalf("size %dx%d, want %dx%d", gh, gw, oh, ow)
		}
		got := make([]float32, 2*oh*ow*c)
		UnpackSigns(got, dst, 2*oh*ow, c)
		for n := 0; n < 2; n++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					for ch := 0; ch < c; ch++ {
						m := float32(math.Inf(-1))
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								iy, ix := oy*sh-pt+ky, ox*sw-pl+kx
								if iy >= 0 && iy < h && ix >= 0 && ix < w {
									m = max(m, x[((n*h+iy)*w+ix)*c+ch])
								}
							}
						}
						if g := got[((n*oh+oy)*ow+ox)*c+ch]; g != m {
							t.Fatalf("pool %d,%d,%d,%d = %v, want %v", n, oy, ox, ch, g, m)
						}
					}
				}
			}
		}
	}
}

// The threshold of RunBits matches y < 0 for every d, at the edges of
// monotone stages (zero, negative and tiny multipliers, clamps).
func TestBinaryThresholds(t *testing.T) {
	conv, err := NewBinaryConv(BinaryConvParams{InH: 1, InW: 1, InC: 9, OutC: 8, KH: 1, KW: 1}, pm1(rand.New(rand.NewPCG(1, 1)), 72))
	if err != nil {
		t.Fatal(err)
	}
	o := BinaryOutput{
		Multiplier: []float32{0, 0, -1, 1, 0.5, -0.25, 1e-30, 3},
		Bias:       []float32{-1, 1, 2.5, -2, 0, 0, -1e-30, 30},
	}
	inf := float32(math.Inf(1))
	for _, clamp := range [][2]float32{{-inf, inf}, {0, inf}, {0, 6}, {-1, -0.5}, {0, 0}} {
		o.Clamp, o.Lo, o.Hi = true, clamp[0], clamp[1]
		if err := conv.SetOutput(o); err != nil {
			t.Fatal(err)
		}
		for j := range o.Multiplier {
			for d := int32(-9); d <= 9; d++ {
				want := outF32One(d, conv.mult[j], conv.bias[j], conv.lo, conv.hi) < 0
				got := conv.thrX[j] > d^conv.sgn[j]
				if got != want {
					t.Errorf("clamp %v channel %d d %d: bit %v, want %v (thr %d sgn %d)", clamp, j, d, got, want, conv.thrX[j], conv.sgn[j])
				}
			}
		}
	}
}

func TestBinaryPaths(t *testing.T) {
	if got := Binary.Paths(); fmt.Sprint(got) != "[generic popcnt neon avx2 avx512vpopcnt]" {
		t.Errorf("paths %v", got)
	}
	for _, p := range Binary.SupportedPaths() {
		i := Binary.index(p)
		if binaryImpls[i].gemm.fn == nil {
			t.Errorf("%s supported without a microkernel", p)
		}
		if (binaryImpls[i].peak == nil) != (p == "generic") {
			t.Errorf("%s: peak loop present %v", p, binaryImpls[i].peak != nil)
		}
	}
	if FamilyByName("binary") != Binary {
		t.Error("binary family not registered")
	}
}

// FuzzBinaryConv checks every path against the generic one on shapes
// chosen by the fuzzer.
func FuzzBinaryConv(f *testing.F) {
	f.Add(uint64(1), uint8(5), uint8(5), uint8(65), uint8(33), uint8(0x5b), uint8(1))
	f.Add(uint64(2), uint8(9), uint8(3), uint8(3), uint8(129), uint8(0x12), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, h, w, ci, co, geom, groups uint8) {
		p := BinaryConvParams{
			InH: 1 + int(h%12), InW: 1 + int(w%12),
			KH: 1 + int(geom%3), KW: 1 + int(geom>>2%3),
			StrideH: 1 + int(geom>>4&1), StrideW: 1 + int(geom>>5&1),
			DilationH: 1 + int(geom>>6&1), DilationW: 1 + int(geom>>7&1),
			PadTop: int(geom % 2), PadLeft: int(geom >> 1 % 2), PadBottom: int(geom >> 3 % 2), PadRight: int(geom >> 6 % 2),
			Groups: 1 + int(groups%3), ZeroPad: seed&1 == 1,
		}
		p.InC = (1 + int(ci)%200) * p.Groups
		p.OutC = (1 + int(co)%100) * p.Groups
		r := rand.New(rand.NewPCG(seed, 1))
		conv, err := NewBinaryConv(p, pm1(r, p.OutC*p.InC/p.Groups*p.KH*p.KW))
		if err != nil {
			return
		}
		oh, ow := conv.OutputSize()
		src := PackSigns(nil, pm1(r, p.InH*p.InW*p.InC), p.InH*p.InW, p.InC)
		var want []int32
		forEachBinaryPath(t, func(path string) {
			d := make([]int32, oh*ow*p.OutC)
			conv.RunDot(d, src, 1)
			if want == nil {
				want = d
				return
			}
			for i := range d {
				if d[i] != want[i] {
					t.Fatalf("%s %+v: dot %d = %d, generic %d", path, p, i, d[i], want[i])
				}
			}
		})
	})
}

// A K beyond a path's bound (NEON's halfword accumulators) falls back to
// a Go kernel: force it with a small bound on every path.
func TestBinaryMaxKFallback(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	p := BinaryConvParams{InH: 5, InW: 7, InC: 130, OutC: 40, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1,
		PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, ZeroPad: true}
	x := pm1(r, p.InH*p.InW*p.InC)
	w := pm1(r, p.OutC*p.InC*9)
	want, oh, ow := refBinaryConv(p, x, w, 1, 0)
	conv, err := NewBinaryConv(p, w)
	if err != nil {
		t.Fatal(err)
	}
	src := PackSigns(nil, x, p.InH*p.InW, p.InC)
	forEachBinaryPath(t, func(path string) {
		impl := &binaryImpls[Binary.index(path)]
		old := impl.maxK
		impl.maxK = 2
		defer func() { impl.maxK = old }()
		d := make([]int32, oh*ow*p.OutC)
		conv.RunDot(d, src, 1)
		for i := range d {
			if d[i] != want[i] {
				t.Fatalf("%s: dot %d = %d, want %d", path, i, d[i], want[i])
			}
		}
	})
}

// Each path's output stages against the Go ones on edge values: ties at
// .5 (int8 rounds half to even), saturation, clamps, negative and zero
// multipliers, row widths that leave vector tails.
func TestBinaryOutputStages(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100} {
		const rows = 3
		ldp := n + 3
		pop := make([]int32, rows*ldp)
		kcv := make([]int32, rows*n)
		kc := make([]*int32, rows)
		for i := range pop {
			pop[i] = int32(r.IntN(300))
		}
		for i := range kcv {
			kcv[i] = int32(r.IntN(600) - 100)
		}
		for i := range kc {
			kc[i] = &kcv[i*n]
		}
		mult, bias := make([]float32, n), make([]float32, n)
		sgn, thr := make([]int32, n), make([]int32, n)
		for j := range mult {
			mult[j] = []float32{0.5, -0.5, 1, -1, 0, 3.25, 1e-3, 1e6}[r.IntN(8)]
			bias[j] = []float32{0, 0.5, -0.5, 100, -100, 2.75}[r.IntN(6)]
			thr[j] = int32(r.IntN(400) - 200)
			sgn[j] = -int32(r.IntN(2))
		}
		for _, clamp := range [][2]float32{{float32(math.Inf(-1)), float32(math.Inf(1))}, {0, 6}, {-300.5, 200.25}} {
			lo, hi := clamp[0], clamp[1]
			wantF := make([]float32, rows*n)
			wantQ := make([]int8, rows*n)
			wantB := make([]uint64, rows*BitWords(n))
			fRows, qRows, bRows := make([]*float32, rows), make([]*int8, rows), make([]*uint64, rows)
			for i := 0; i < rows; i++ {
				fRows[i], qRows[i], bRows[i] = &wantF[i*n], &wantQ[i*n], &wantB[i*BitWords(n)]
			}
			outF32Go(rows, n, pop, ldp, kc, mult, bias, lo, hi, fRows)
			outI8Go(rows, n, pop, ldp, kc, mult, bias, lo, hi, qRows)
			outBitsGo(rows, n, pop, ldp, kc, sgn, thr, bRows)
			forEachBinaryPath(t, func(path string) {
				impl := binaryActive()
				gotF := make([]float32, rows*n)
				gotQ := make([]int8, rows*n)
				gotB := make([]uint64, rows*BitWords(n))
				for i := range gotB {
					gotB[i] = 0xdeadbeef
				}
				for i := 0; i < rows; i++ {
					fRows[i], qRows[i], bRows[i] = &gotF[i*n], &gotQ[i*n], &gotB[i*BitWords(n)]
				}
				if impl.outF32 != nil {
					impl.outF32(rows, n, pop, ldp, kc, mult, bias, lo, hi, fRows)
					for i := range gotF {
						if math.Float32bits(gotF[i]) != math.Float32bits(wantF[i]) {
							t.Fatalf("%s n=%d clamp %v: f32 %d = %v, want %v", path, n, clamp, i, gotF[i], wantF[i])
						}
					}
				}
				if impl.outI8 != nil {
					impl.outI8(rows, n, pop, ldp, kc, mult, bias, max(lo, -128), min(hi, 127), qRows)
					for i := range gotQ {
						if gotQ[i] != wantQ[i] {
							t.Fatalf("%s n=%d clamp %v: int8 %d = %v, want %v", path, n, clamp, i, gotQ[i], wantQ[i])
						}
					}
				}
				if impl.outBits != nil {
					impl.outBits(rows, n, pop, ldp, kc, sgn, thr, bRows)
					for i := range gotB {
						if gotB[i] != wantB[i] {
							t.Fatalf("%s n=%d: bits word %d = %x, want %x", path, n, i, gotB[i], wantB[i])
						}
					}
				}
			})
		}
	}
}

// At a path's K bound every accumulator still holds the largest count
// (all bits differ: 64 per word).
func TestBinaryMicrokernelMaxK(t *testing.T) {
	for p := range binaryImpls {
		impl := binaryImpls[p]
		if ok, _ := Binary.Supported(Binary.paths[p].name); !ok || impl.gemm.fn == nil {
			continue
		}
		k := impl.maxK
		if k == 0 {
			k = 5000
		}
		uk := impl.gemm
		a := make([]uint64, uk.mr*k)
		for i := range a {
			a[i] = ^uint64(0)
		}
		b := make([]uint64, k*binaryNR)
		c := make([]int32, uk.mr*uk.nr)
		off := identityOffsets(k)
		base := &a[0]
		uk.fn(uk.mr, k, &base, k*8, &off[0], &b[0], &c[0], uk.nr)
		for i, v := range c {
			if v != int32(64*k) {
				t.Fatalf("%s k=%d: c[%d] = %d, want %d", uk.name, k, i, v, 64*k)
			}
		}
	}
}

// SetOutput rejects what it can't honour and changes nothing then; -0
// bounds and biases act as +0.
func TestBinarySetOutput(t *testing.T) {
	conv, err := NewBinaryConv(BinaryConvParams{InH: 2, InW: 2, InC: 3, OutC: 2, KH: 1, KW: 1}, []float32{1, 1, 1, 1, -1, 1})
	if err != nil {
		t.Fatal(err)
	}
	good := BinaryOutput{Multiplier: []float32{2, 3}, Bias: []float32{1, 1}}
	if err := conv.SetOutput(good); err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	for _, bad := range []BinaryOutput{
		{Multiplier: []float32{1}},
		{Bias: []float32{1, 2, 3}},
		{Multiplier: []float32{1, nan}},
		{Bias: []float32{float32(math.Inf(1)), 0}},
		{Clamp: true, Lo: 1, Hi: 0},
		{Clamp: true, Lo: nan},
	} {
		if err := conv.SetOutput(bad); err == nil {
			t.Errorf("SetOutput(%+v) accepted", bad)
		}
		if conv.mult[1] != 3 || conv.bias[0] != 1 || !math.IsInf(float64(conv.hi), 1) {
			t.Fatalf("a failed SetOutput(%+v) changed the stage", bad)
		}
	}
	negZero := float32(math.Copysign(0, -1))
	if err := conv.SetOutput(BinaryOutput{Multiplier: []float32{0, 0}, Bias: []float32{negZero, negZero}, Clamp: true, Lo: negZero, Hi: negZero}); err != nil {
		t.Fatal(err)
	}
	src := PackSigns(nil, []float32{1, 1, 1, -1, -1, -1, 1, -1, 1, 1, 1, 1}, 4, 3)
	forEachBinaryPath(t, func(path string) {
		y := make([]float32, 8)
		conv.RunF32(y, src, 1)
		for i, v := range y {
			if math.Float32bits(v) != 0 {
				t.Errorf("%s: y[%d] = %v (bits %x), want +0", path, i, v, math.Float32bits(v))
			}
		}
	})
}

// An image large enough that the direct and im2col batches fill and flush
// mid-run on every path (32 tiles of mr rows, 96 rows).
func TestBinaryConvLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, p := range []BinaryConvParams{
		{InH: 21, InW: 37, InC: 64, OutC: 40, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, ZeroPad: true},
		{InH: 30, InW: 30, InC: 128, OutC: 70, KH: 3, KW: 3, StrideH: 2, StrideW: 1, DilationH: 1, DilationW: 2, Groups: 2, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 2},
	} {
		x := pm1(r, 2*p.InH*p.InW*p.InC)
		w := pm1(r, p.OutC*p.InC/p.Groups*9)
		padVal := float32(1)
		if p.ZeroPad {
			padVal = 0
		}
		want, oh, ow := refBinaryConv(p, x, w, 2, padVal)
		conv, err := NewBinaryConv(p, w)
		if err != nil {
			t.Fatal(err)
		}
		src := PackSigns(nil, x, 2*p.InH*p.InW, p.InC)
		forEachBinaryPath(t, func(path string) {
			d := make([]int32, 2*oh*ow*p.OutC)
			conv.RunDot(d, src, 2)
			for i := range d {
				if d[i] != want[i] {
					t.Fatalf("%s %+v: dot %d = %d, want %d", path, p, i, d[i], want[i])
				}
			}
		})
	}
}

//go:build arm64 && !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The arm64 Int16 path is registered and supported exactly with ASIMD,
// with a ceiling loop.
func TestInt16ARM64Registered(t *testing.T) {
	uk := i16Kernels[Int16.index("neon")]
	if uk == nil || !uk.half || uk.est != nil {
		t.Fatalf("neon kernel %+v", uk)
	}
	if ok, why := Int16.Supported("neon"); ok != cpu.ARM64.HasASIMD {
		t.Errorf("Supported(neon) = %v (%s)", ok, why)
	}
	if ok, _ := Int16.Supported("neon"); ok && PeakInt16("neon", 3) <= 0 {
		t.Error("PeakInt16(neon) has no ceiling loop")
	}
	for _, p := range []string{"avx2", "avx512vnni"} {
		if ok, _ := Int16.Supported(p); ok {
			t.Errorf("%s supported on arm64", p)
		}
	}
}

// i16refHalf is the reference of a half i16kernel call on channels
// 16h..16h+15 of a panel: c (row stride ldc, 16 columns) gets the exact
// sums over kg groups (added when load != 0).
func i16refHalf(mr, planes, kg int, a, b []int16, c []int64, ldc, load, h int) {
	for i := 0; i < mr; i++ {
		for j := 0; j < 16; j++ {
			var s int64
			for g := 0; g < kg; g++ {
				for t := 0; t < 2; t++ {
					av := int64(a[(g*mr+i)*2+t])
					o := g*planes*64 + (16*h+j)*2 + t
					w := int64(b[o])
					if planes == 2 {
						w = 256*w + int64(b[o+64])
					}
					s += av * w
				}
			}
			if load != 0 {
				s += c[i*ldc+j]
			}
			c[i*ldc+j] = s
		}
	}
}

// Each Int16 NEON microkernel called directly on both halves of a panel,
// against the reference: A and W panels ending at a guard page (no read
// past kg groups), C inside guard values with ldc > 16, load 0 and 1,
// chunks from 1 group to longer than kg, on random values within the
// plane's contract, the extremes (-32768 everywhere, at the chunk bound)
// and one-hot A (a wrong register or lane in a WORD shows as a wrong
// cell).
func TestI16KernelARM64(t *testing.T) {
	if ok, _ := Int16.Supported("neon"); !ok {
		t.Skip("no ASIMD")
	}
	uk := i16Kernels[Int16.index("neon")]
	r := rand.New(rand.NewPCG(16, 64))
	for planes := 1; planes <= 2; planes++ {
		mr, fn := uk.mr[planes-1], uk.fn[planes-1]
		t.Run(fmt.Sprintf("p%d", planes), func(t *testing.T) {
			run := func(what string, kg, chunk int, fill func(a, b []int16), load int) {
				t.Helper()
				ab := guardedBytes(t, kg*mr*4)
				bb := guardedBytes(t, kg*planes*128)
				a := unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(ab))), kg*mr*2)
				b := unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(bb))), kg*planes*64)
				fill(a, b)
				for h := 0; h < 2; h++ {
					ldc := 16 + 1 + r.IntN(4)
					pad := ldc + 5
					c0 := make([]int64, pad+mr*ldc+pad)
					for x := range c0 {
						c0[x] = int64(r.Uint64() >> 2)
					}
					want := append([]int64(nil), c0...)
					got := append([]int64(nil), c0...)
					ap, bp := unsafe.Pointer(&c0[0]), unsafe.Pointer(&c0[0]) // never read when kg = 0
					if kg > 0 {
						ap, bp = unsafe.Pointer(&a[0]), unsafe.Add(unsafe.Pointer(&b[0]), 64*h)
					}
					fn(kg, chunk, ap, bp, &got[pad], ldc, load)
					i16refHalf(mr, planes, kg, a, b, want[pad:], ldc, load, h)
					for x := range got {
						if got[x] != want[x] {
							e := x - pad
							t.Fatalf("%s half %d kg=%d chunk=%d load=%d: c[%d] (row %d col %d) = %d, want %d",
								what, h, kg, chunk, load, e, floorDiv(e, ldc), e-floorDiv(e, ldc)*ldc, got[x], want[x])
						}
					}
				}
			}
			// Within the contract: one plane |w| <= 511 and chunks of at
			// most 64 groups; two planes hi in [-128, 127], lo in [0, 255]
			// and chunks of at most 128.
			maxChunk := 64
			if planes == 2 {
				maxChunk = 128
			}
			rnd := func(a, b []int16) {
				for x := range a {
					a[x] = int16(r.Uint32())
				}
				for x := range b {
					switch {
					case planes == 1:
						b[x] = int16(r.IntN(1023) - 511)
					case x/64%2 == 0: // plane 0 (hi)
						b[x] = int16(r.IntN(256) - 128)
					default:
						b[x] = int16(r.IntN(256))
					}
				}
			}
			for kg := 0; kg <= 9; kg++ {
				for load := 0; load < 2; load++ {
					for _, ch := range []int{1, 2, 5, maxChunk} {
						run("random", kg, ch, rnd, load)
					}
				}
			}
			run("random", 300, maxChunk, rnd, 0)
			run("random", 300, 7, rnd, 1)
			// Extremes at the chunk bound.
			extremes := func(av, hi, lo int16) func(a, b []int16) {
				return func(a, b []int16) {
					for x := range a {
						a[x] = av
					}
					for x := range b {
						b[x] = hi
						if planes == 2 && x/64%2 == 1 {
							b[x] = lo
						}
					}
				}
			}
			if planes == 1 {
				for _, v := range [][2]int16{{-32768, -511}, {-32768, 511}, {32767, -511}} {
					run(fmt.Sprintf("extremes %d·%d", v[0], v[1]), 2*maxChunk+3, maxChunk, extremes(v[0], v[1], 0), 0)
				}
			} else {
				for _, v := range [][3]int16{{-32768, -128, 0}, {-32768, -128, 255}, {-32768, 127, 255}, {32767, -128, 255}} {
					run(fmt.Sprintf("extremes %d·(%d,%d)", v[0], v[1], v[2]), 2*maxChunk+3, maxChunk, extremes(v[0], v[1], v[2]), 1)
				}
			}
			// One-hot A: only row i, element t of group 1.
			for i := 0; i < mr; i++ {
				for tt := 0; tt < 2; tt++ {
					run(fmt.Sprintf("one-hot A row %d t %d", i, tt), 3, 2, func(a, b []int16) {
						rnd(a, b)
						clear(a)
						a[(mr+i)*2+tt] = int16(3 + i)
					}, 0)
				}
			}
		})
	}
}

// The arm64 Int4 paths are registered (signedA half kernels) and
// supported exactly when the CPU has the features.
func TestInt4ARM64Registered(t *testing.T) {
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"neon", cpu.ARM64.HasASIMD},
		{"neondot", cpu.ARM64.HasASIMD && cpu.ARM64.HasASIMDDP},
	} {
		uk := w4Kernels[Int4.index(c.path)]
		if uk == nil || !uk.half || !uk.signedA || uk.fnHi == nil || uk.blkHi == nil {
			t.Errorf("%s: kernel %+v", c.path, uk)
		}
		if ok, why := Int4.Supported(c.path); ok != c.ok {
			t.Errorf("Supported(%s) = %v (%s), want %v", c.path, ok, why, c.ok)
		}
	}
	for _, p := range []string{"avx2", "avxvnni", "avx512vnni"} {
		if ok, _ := Int4.Supported(p); ok {
			t.Errorf("%s supported on arm64", p)
		}
	}
}

// w4refHalf is the reference of one half Int4 kernel (channels 16h..
// 16h+15 of the panel) on nblk blocks of gpb groups: signed A, u - zu per
// byte. Per channel (sc nil): c = start + Σ; per block: f = fmaf32(
// float32(init_b + Σ_b), sc_b, f), block by block.
func w4refHalf(mr, nblk, gpb, h int, a, b, zu []byte, init []int32, c []int32, ldc, load int, sc []float32, f []float32) {
	for i := 0; i < mr; i++ {
		for j := 0; j < 16; j++ {
			var s int32
			if sc == nil {
				s = init[j]
				if load != 0 {
					s = c[i*ldc+j]
				}
			}
			for bl := 0; bl < nblk; bl++ {
				if sc != nil {
					s = init[bl*32+j]
				}
				for g := bl * gpb; g < (bl+1)*gpb; g++ {
					for t := 0; t < 4; t++ {
						u := b[g*64+j*4+t] >> (4 * h) & 15
						v := int32(u) - int32(zu[bl*128+j*4+t])
						s += int32(int8(a[(g*mr+i)*4+t])) * v
					}
				}
				if sc != nil {
					f[i*ldc+j] = fmaf32(float32(s), sc[bl*32+j], f[i*ldc+j])
				}
			}
			if sc == nil {
				c[i*ldc+j] = s
			}
		}
	}
}

// Each Int4 NEON microkernel called directly (both halves, per channel
// and per block) against the reference: A, weights, zero points, scales
// and start values ending at guard pages, C/F inside guard values with
// ldc > 16, load 0 and 1, random and extreme values, one-hot A.
func TestW4KernelARM64(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 44))
	for _, path := range []string{"neon", "neondot"} {
		if ok, _ := Int4.Supported(path); !ok {
			continue
		}
		uk := w4Kernels[Int4.index(path)]
		mr := uk.mr
		t.Run(path, func(t *testing.T) {
			run := func(what string, blocked bool, nblk, gpb int, fill func(a, b, zu []byte), load int) {
				t.Helper()
				G := nblk * gpb
				a := guardedBytes(t, G*mr*4)
				b := guardedBytes(t, G*64)
				zu := guardedBytes(t, max(nblk, 1)*128)
				ib := guardedBytes(t, max(nblk, 1)*32*4)
				sb := guardedBytes(t, max(nblk, 1)*32*4)
				init := unsafe.Slice((*int32)(unsafe.Pointer(&ib[0])), len(ib)/4)
				sc := unsafe.Slice((*float32)(unsafe.Pointer(&sb[0])), len(sb)/4)
				for x := range init {
					init[x] = int32(r.Uint32())
					sc[x] = float32(r.NormFloat64())
				}
				fill(a, b, zu)
				for h := 0; h < 2; h++ {
					ldc := 16 + 1 + r.IntN(4)
					pad := ldc + 5
					c0 := make([]int32, pad+mr*ldc+pad)
					f0 := make([]float32, len(c0))
					for x := range c0 {
						c0[x] = int32(r.Uint32())
						f0[x] = float32(r.NormFloat64() * 100)
					}
					want, got := append([]int32(nil), c0...), append([]int32(nil), c0...)
					fwant, fgot := append([]float32(nil), f0...), append([]float32(nil), f0...)
					ap, bp := unsafe.Pointer(&c0[0]), unsafe.Pointer(&c0[0]) // never read when G = 0
					if G > 0 {
						ap, bp = unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0])
					}
					zp := unsafe.Add(unsafe.Pointer(&zu[0]), 64*h)
					if blocked {
						fn := uk.blk
						if h == 1 {
							fn = uk.blkHi
						}
						fn(nblk, gpb, ap, bp, zp, unsafe.Pointer(&sc[16*h]), &init[16*h], &fgot[pad], ldc)
						w4refHalf(mr, nblk, gpb, h, a, b, zu[64*h:], init[16*h:], nil, ldc, 0, sc[16*h:], fwant[pad:])
					} else {
						fn := uk.fn
						if h == 1 {
							fn = uk.fnHi
						}
						fn(G, ap, bp, zp, &got[pad], ldc, &init[16*h], load)
						w4refHalf(mr, 1, G, h, a, b, zu[64*h:], init[16*h:], want[pad:], ldc, load, nil, nil)
					}
					for x := range got {
						if got[x] != want[x] || math.Float32bits(fgot[x]) != math.Float32bits(fwant[x]) {
							e := x - pad
							t.Fatalf("%s half %d blocked %v nblk=%d gpb=%d load=%d: cell %d (row %d col %d) = %d/%v, want %d/%v",
								what, h, blocked, nblk, gpb, load, e, floorDiv(e, ldc), e-floorDiv(e, ldc)*ldc, got[x], fgot[x], want[x], fwant[x])
						}
					}
				}
			}
			rnd := func(a, b, zu []byte) {
				for x := range a {
					a[x] = byte(r.Uint32())
				}
				for x := range b {
					b[x] = byte(r.Uint32())
				}
				for x := range zu {
					zu[x] = byte(r.IntN(16))
				}
			}
			for kg := 0; kg <= 9; kg++ {
				for load := 0; load < 2; load++ {
					run("random", false, 1, kg, rnd, load)
				}
			}
			run("random", false, 1, 300, rnd, 1)
			for _, nb := range []int{1, 2, 5} {
				for _, gpb := range []int{1, 4, 8, 32} {
					run("random", true, nb, gpb, rnd, 0)
				}
			}
			for _, v := range [][3]byte{{0x80, 0xff, 0}, {0x80, 0x00, 15}, {0x7f, 0xff, 0}, {0x7f, 0, 15}} {
				ext := func(a, b, zu []byte) {
					for x := range a {
						a[x] = v[0]
					}
					for x := range b {
						b[x] = v[1]
					}
					for x := range zu {
						zu[x] = v[2]
					}
				}
				run(fmt.Sprintf("extremes %#x", v), false, 1, qmaxGroups, ext, 0)
				run(fmt.Sprintf("extremes %#x", v), true, 3, 8, ext, 0)
			}
			for i := 0; i < mr; i++ {
				for tt := 0; tt < 4; tt++ {
					run(fmt.Sprintf("one-hot A row %d byte %d", i, tt), false, 1, 3, func(a, b, zu []byte) {
						rnd(a, b, zu)
						clear(a)
						a[(mr+i)*4+tt] = byte(3 + i)
					}, 0)
				}
			}
		})
	}
}

// Every arm64 Int4 and Int16 path against the generic (Go) path, bit for
// bit, with each size in qdims along each of M, N and K (the others 17
// and 65): per-channel W4A8 (int32 output), blocked W4A8 (float32,
// blocks of 32), W4A4, one-plane and full-range int16 (int64 output).
func TestLowbitARM64Dims(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 70))
	var dims [][3]int
	for _, d := range qdims {
		dims = append(dims, [3]int{d, 17, 65}, [3]int{17, d, 65}, [3]int{17, 65, d})
	}
	with := func(fam *Family, path string, f func()) {
		old := fam.Active()
		defer fam.Set(old)
		if err := fam.Set(path); err != nil {
			t.Fatal(err)
		}
		f()
	}
	for _, s := range dims {
		m, n, k := s[0], s[1], s[2]
		a := make([]uint8, m*k)
		for x := range a {
			a[x] = uint8(r.Uint32())
		}
		wn := make([]int8, n*k)
		for x := range wn {
			wn[x] = int8(r.IntN(16) - 8)
		}
		data := PackNibbles(wn)
		nblk := (k + 31) / 32
		zp, sc := make([]int32, n*nblk), make([]float32, n*nblk)
		for x := range zp {
			zp[x] = int32(r.IntN(16) - 8)
			sc[x] = float32(r.NormFloat64())
		}
		pc := PackInt4Weights(n, k, data, Int4Quant{Signed: true, ZeroPoints: zp[:n]})
		pb := PackInt4Weights(n, k, data, Int4Quant{Signed: true, BlockSize: 32, ZeroPoints: zp, Scales: sc})
		za := uint8(r.IntN(256))
		a4 := make([]byte, (m*k+1)/2)
		for x := range a4 {
			a4[x] = byte(r.Uint32())
		}
		w4 := func() ([]int32, []float32, []int32) {
			c := make([]int32, m*n)
			QGemmW4U8(m, a, k, za, pc, &QOutput{Int32: c, Ldc: n}, 2)
			f := make([]float32, m*n)
			QGemmW4U8(m, a, k, za, pb, &QOutput{Float32: f, Ldc: n, Scale: []float32{0.5}}, 2)
			c4 := make([]int32, m*n)
			QGemmW4A4(m, a4, k, true, -3, pc, &QOutput{Int32: c4, Ldc: n}, 1)
			return c, f, c4
		}
		var wc, wc4 []int32
		var wf []float32
		with(Int4, "generic", func() { wc, wf, wc4 = w4() })
		for _, p := range Int4.SupportedPaths() {
			with(Int4, p, func() {
				c, f, c4 := w4()
				for x := range c {
					if c[x] != wc[x] || math.Float32bits(f[x]) != math.Float32bits(wf[x]) || c4[x] != wc4[x] {
						t.Fatalf("int4 %s %dx%dx%d: [%d] = %d %v %d, generic %d %v %d", p, m, n, k, x, c[x], f[x], c4[x], wc[x], wf[x], wc4[x])
					}
				}
			})
		}
		a16 := randI16(r, m*k, 32767, true)
		for _, lim := range []int32{511, 32767} {
			w16 := randI16(r, n*k, lim, true)
			i16 := func() []int64 {
				pw := PackInt16Weights(n, k, w16, k)
				c := make([]int64, m*n)
				GemmInt16(m, a16, k, pw, &I16Output{Int64: c, Ldc: n}, 2)
				return c
			}
			var want []int64
			with(Int16, "generic", func() { want = i16() })
			for _, p := range Int16.SupportedPaths() {
				with(Int16, p, func() {
					got := i16()
					for x := range got {
						if got[x] != want[x] {
							t.Fatalf("int16 %s max %d %dx%dx%d: [%d] = %d, generic %d", p, lim, m, n, k, x, got[x], want[x])
						}
					}
				})
			}
		}
	}
}

//go:build arm64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns n floats ending exactly at an inaccessible page, so a
// read past the end faults.
func guarded(t *testing.T, n int) []float32 {
	t.Helper()
	ps := syscall.Getpagesize()
	data := (n*4 + ps - 1) / ps * ps
	mem, err := syscall.Mmap(-1, 0, data+ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[data:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	f := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), data/4)
	return f[data/4-n:]
}

// The NEON kernel is registered and runs whenever the CPU has ASIMD.
func TestNEONRegistered(t *testing.T) {
	uk := pathKernel(PathNEON)
	if uk == nil || uk.name != "sgemm_8x12_neon" || uk.mr != 8 || uk.nr != 12 {
		t.Fatalf("PathNEON kernel %+v", uk)
	}
	if ok, why := Supported(PathNEON); ok != DetectCPU().Has("asimd") {
		t.Fatalf("Supported(neon) = %v (%s) with asimd %v", ok, why, DetectCPU().Has("asimd"))
	}
}

// Every k-loop branch of sgemm_8x12_neon (k = 0, 1, even and odd counts
// of preloaded steps) matches the generic FMA chain bit for bit, with A
// and B panels ending at a guard page (no read past mr*k and nr*k floats)
// and C inside guard values (no write outside the tile).
func TestNEONMicrokernelEdges(t *testing.T) {
	if ok, _ := Supported(PathNEON); !ok {
		t.Skip("no ASIMD")
	}
	uk := pathKernel(PathNEON)
	r := rand.New(rand.NewPCG(5, 6))
	for k := 0; k <= 19; k++ {
		for load := 0; load < 2; load++ {
			for hard := 0; hard < 2; hard++ {
				a := guarded(t, k*uk.mr)
				b := guarded(t, k*uk.nr)
				copy(a, randSlice(r, len(a), hard))
				copy(b, randSlice(r, len(b), hard))
				ldc := uk.nr + 1 + r.IntN(5)
				pad := ldc + 3
				c0 := randSlice(r, pad+uk.mr*ldc+pad, 1)
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				var ap, bp *float32
				if k > 0 {
					ap, bp = &a[0], &b[0]
				} else {
					ap, bp = &c0[0], &c0[0] // never read
				}
				uk.fn(k, ap, bp, &got[pad], ldc, load, &got[pad])
				refTile(uk.mr, uk.nr, k, a, b, want[pad:], ldc, load)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("k=%d load=%d hard=%d: c[%d] = %g (%#x), want %g (%#x)", k, load, hard, i-pad,
							got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

// Signed zeros, infinities and NaNs propagate as in the generic chain:
// starting from +0, -0 products give +0, and a C of -0 stays -0 when only
// -0 products are added.
func TestNEONMicrokernelSpecials(t *testing.T) {
	if ok, _ := Supported(PathNEON); !ok {
		t.Skip("no ASIMD")
	}
	uk := pathKernel(PathNEON)
	r := rand.New(rand.NewPCG(7, 8))
	vals := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), 0x1p-149, -0x1p-126, math.MaxFloat32}
	pick := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = vals[r.IntN(len(vals))]
		}
		return s
	}
	for _, k := range []int{1, 2, 5} {
		for load := 0; load < 2; load++ {
			a, b := pick(k*uk.mr), pick(k*uk.nr)
			c0 := pick(uk.mr * uk.nr)
			want := append([]float32(nil), c0...)
			got := append([]float32(nil), c0...)
			uk.fn(k, &a[0], &b[0], &got[0], uk.nr, load, &got[0])
			refTile(uk.mr, uk.nr, k, a, b, want, uk.nr, load)
			for i := range got {
				g, w := math.Float32bits(got[i]), math.Float32bits(want[i])
				if g != w && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("k=%d load=%d: c[%d] = %g (%#x), want %g (%#x)", k, load, i, got[i], g, want[i], w)
				}
			}
		}
	}
}

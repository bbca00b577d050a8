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

// The in-place and last-rows kernels (every row count, packed and in
// place) match the generic FMA chain bit for bit over every k-loop branch,
// with A, B and boff ending at a guard page (nothing read past k steps),
// and write only their rows of C (guard values around and below).
func TestNEONRowsAndInPlace(t *testing.T) {
	if ok, _ := Supported(PathNEON); !ok {
		t.Skip("no ASIMD")
	}
	uk := pathKernel(PathNEON)
	if uk.fnOff == nil || len(uk.rows) != uk.mr || len(uk.rowsOff) != uk.mr {
		t.Fatalf("PathNEON kernel lacks fnOff or rows: %+v", uk)
	}
	r := rand.New(rand.NewPCG(9, 10))
	for rows := 1; rows <= uk.mr; rows++ {
		for _, inPlace := range []bool{false, true} {
			if rows == uk.mr && !inPlace {
				continue // fn: TestNEONMicrokernelEdges
			}
			for k := 0; k <= 11; k++ {
				for load := 0; load < 2; load++ {
					a := guarded(t, k*uk.mr)
					copy(a, randSlice(r, len(a), 1))
					// Zero-padded rows past rows, as packA leaves them,
					// except where a bug would show: random.
					b := guarded(t, k*uk.nr)
					copy(b, randSlice(r, len(b), 1))
					var big []float32
					var offs []int
					if inPlace {
						big = guarded(t, (k+2)*uk.nr*2)
						copy(big, randSlice(r, len(big), 1))
						offs = make([]int, 0, k)
						for p := 0; p < k; p++ {
							o := r.IntN(len(big) - uk.nr + 1)
							offs = append(offs, o*4)
						}
						for p := 0; p < k; p++ {
							copy(b[p*uk.nr:(p+1)*uk.nr], big[offs[p]/4:])
						}
						// boff itself ends at a guard page.
						g := guardedInts(t, k)
						copy(g, offs)
						offs = g
					}
					ldc := uk.nr + 1 + r.IntN(4)
					pad := ldc + 3
					c0 := randSlice(r, pad+uk.mr*ldc+pad, 1)
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					refTile(rows, uk.nr, k, rowsPanel(a, uk.mr, rows, k), b, want[pad:], ldc, load)
					ap, bp := &c0[0], &c0[0] // never read when k == 0
					var op *int
					var zero int
					op = &zero
					if k > 0 {
						ap, bp = &a[0], &b[0]
						if inPlace {
							bp, op = &big[0], &offs[0]
						}
					}
					cp := &got[pad]
					switch {
					case rows == uk.mr:
						uk.fnOff(k, ap, bp, op, cp, ldc, load, cp)
					case inPlace:
						uk.rowsOff[rows](k, ap, bp, op, cp, ldc, load, cp)
					default:
						uk.rows[rows](k, ap, bp, cp, ldc, load, cp)
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("rows=%d inPlace=%v k=%d load=%d: c[%d] = %g (%#x), want %g (%#x)", rows, inPlace, k, load, i-pad,
								got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
						}
					}
				}
			}
		}
	}
}

// rowsPanel extracts the first rows rows of k steps of an mr-high A panel
// as a rows-high panel (for refTile).
func rowsPanel(a []float32, mr, rows, k int) []float32 {
	s := make([]float32, k*rows)
	for p := 0; p < k; p++ {
		copy(s[p*rows:(p+1)*rows], a[p*mr:])
	}
	return s
}

// guardedInts is guarded for ints: n ints ending at an inaccessible page.
func guardedInts(t *testing.T, n int) []int {
	t.Helper()
	if n == 0 {
		return nil
	}
	f := guarded(t, 2*n) // 8n bytes ending at a page boundary: 8-aligned
	return unsafe.Slice((*int)(unsafe.Pointer(&f[0])), n)
}

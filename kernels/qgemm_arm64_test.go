//go:build arm64 && !purego

package kernels

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// guardedBytes returns n bytes ending exactly at an inaccessible page, so
// a read past the end faults.
func guardedBytes(t *testing.T, n int) []byte {
	t.Helper()
	ps := syscall.Getpagesize()
	data := (n + ps - 1) / ps * ps
	mem, err := syscall.Mmap(-1, 0, data+ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[data:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return mem[data-n : data]
}

// The arm64 Int8 paths are registered, supported exactly when the CPU has
// the features, and take signedA panels.
func TestInt8ARM64Registered(t *testing.T) {
	for _, c := range []struct {
		path, name string
		ok         bool
	}{
		{"neon", "qgemm_4x12c4_neon", cpu.ARM64.HasASIMD},
		{"neondot", "qgemm_8x12c4_neondot", cpu.ARM64.HasASIMD && cpu.ARM64.HasASIMDDP},
	} {
		uk := int8Kernels[Int8.index(c.path)]
		if uk == nil || uk.name != c.name || !uk.signedA || uk.wide {
			t.Errorf("%s: kernel %+v", c.path, uk)
		}
		if ok, why := Int8.Supported(c.path); ok != c.ok {
			t.Errorf("Supported(%s) = %v (%s), want %v", c.path, ok, why, c.ok)
		}
		if ok, _ := Int8.Supported(c.path); ok && PeakInt8(c.path, 3) <= 0 {
			t.Errorf("PeakInt8(%s) has no ceiling loop", c.path)
		}
	}
	for _, p := range []string{"avx2", "avxvnni", "avx512vnni"} {
		if ok, _ := Int8.Supported(p); ok {
			t.Errorf("%s supported on arm64", p)
		}
	}
}

// qrefTileS8 is the s8×s8 reference tile of the qkernel contract (signedA).
func qrefTileS8(mr, nr, kg int, a, b []byte, c []int32, ldc int, init []int32, load int) {
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			s := init[j]
			if load != 0 {
				s = c[i*ldc+j]
			}
			for g := 0; g < kg; g++ {
				for t := 0; t < 4; t++ {
					s += int32(int8(a[g*mr*4+i*4+t])) * int32(int8(b[g*nr*4+j*4+t]))
				}
			}
			c[i*ldc+j] = s
		}
	}
}

// Each arm64 microkernel called directly, against the reference tile: A
// and W panels ending at a guard page (no read past kg groups), C inside
// guard values with ldc > nr (no write outside the tile), load 0 and 1,
// kg from 0 up, on random bytes, the extremes (-128·-128 everywhere:
// 2^14 per product, the case where SMLAL's int16 pair sums would
// overflow), and one-hot operands that tie every output to one
// accumulator register, row lane and instruction (a wrong register or
// element index in a WORD shows as a wrong cell).
func TestQKernelARM64(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for i := range int8ExtraKernels {
		uk := &int8ExtraKernels[i]
		if ok, _ := Int8.Supported(qkernelPath(uk)); !ok {
			continue
		}
		t.Run(uk.name, func(t *testing.T) {
			run := func(what string, kg int, fill func(a, b []byte), load int) {
				t.Helper()
				a := guardedBytes(t, kg*uk.mr*4)
				b := guardedBytes(t, kg*uk.nr*4)
				fill(a, b)
				ldc := uk.nr + 1 + r.IntN(4)
				pad := ldc + 5
				c0 := make([]int32, pad+uk.mr*ldc+pad)
				for x := range c0 {
					c0[x] = int32(r.Uint32())
				}
				init := make([]int32, uk.nr+8)
				for x := range init {
					init[x] = int32(r.Uint32())
				}
				want := append([]int32(nil), c0...)
				got := append([]int32(nil), c0...)
				ap, bp := unsafe.Pointer(&c0[0]), unsafe.Pointer(&c0[0]) // never read when kg = 0
				if kg > 0 {
					ap, bp = unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0])
				}
				uk.fn(kg, ap, bp, &got[pad], ldc, &init[0], load)
				qrefTileS8(uk.mr, uk.nr, kg, a, b, want[pad:], ldc, init, load)
				for x := range got {
					if got[x] != want[x] {
						e := x - pad
						t.Fatalf("%s kg=%d load=%d: c[%d] (row %d col %d) = %d, want %d",
							what, kg, load, e, floorDiv(e, ldc), e-floorDiv(e, ldc)*ldc, got[x], want[x])
					}
				}
			}
			rnd := func(a, b []byte) {
				for x := range a {
					a[x] = byte(r.Uint32())
				}
				for x := range b {
					b[x] = byte(r.Uint32())
				}
			}
			for kg := 0; kg <= 9; kg++ {
				for load := 0; load < 2; load++ {
					run("random", kg, rnd, load)
				}
			}
			run("random", 300, rnd, 0)
			for _, v := range [][2]byte{{0x80, 0x80}, {0x7f, 0x80}, {0x80, 0x7f}, {0x7f, 0x7f}, {0xff, 0x80}} {
				for _, kg := range []int{1, 3, qmaxGroups} {
					run(fmt.Sprintf("extremes %#x·%#x", v[0], v[1]), kg, func(a, b []byte) {
						for x := range a {
							a[x] = v[0]
						}
						for x := range b {
							b[x] = v[1]
						}
					}, 0)
				}
			}
			// One-hot A: only row i, byte t of group 1 is set (to a
			// distinct value), weights random: row i gets column t of the
			// weights times it, every other row nothing.
			for i := 0; i < uk.mr; i++ {
				for tt := 0; tt < 4; tt++ {
					run(fmt.Sprintf("one-hot A row %d byte %d", i, tt), 2, func(a, b []byte) {
						clear(a)
						a[uk.mr*4+i*4+tt] = byte(3 + i)
						for x := range b {
							b[x] = byte(r.Uint32())
						}
					}, 0)
				}
			}
			// One-hot W: only column j, byte t of group 0.
			for j := 0; j < uk.nr; j++ {
				for tt := 0; tt < 4; tt++ {
					run(fmt.Sprintf("one-hot W col %d byte %d", j, tt), 2, func(a, b []byte) {
						for x := range a {
							a[x] = byte(r.Uint32())
						}
						clear(b)
						b[j*4+tt] = byte(5 + j)
					}, 1)
				}
			}
		})
	}
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// The ceiling loops run (no SIGILL) wherever their path is supported,
// with 0 iterations too.
func TestQPeakARM64(t *testing.T) {
	for _, p := range []string{"neon", "neondot"} {
		if ok, _ := Int8.Supported(p); !ok {
			continue
		}
		if got := PeakInt8(p, 0); got != 0 {
			t.Errorf("PeakInt8(%s, 0) = %v", p, got)
		}
		if got := PeakInt8(p, 10); got <= 0 {
			t.Errorf("PeakInt8(%s, 10) = %v", p, got)
		}
	}
}

// qdwRow_neon against the Go row for every channel count up to 40 (each
// of the 16-, 4- and 1-channel loops and their mixes), 1 to 3 pixels,
// taps moving by a stride or standing still (padding), each tap's input
// ending at a guard page (no read past the last pixel's C bytes),
// extremes included; ptrs must be left alone.
func TestQDWRowNEON(t *testing.T) {
	if !cpu.ARM64.HasASIMD {
		t.Skip("no ASIMD")
	}
	r := rand.New(rand.NewPCG(23, 24))
	for c := 1; c <= 40; c++ {
		for _, taps := range []int{1, 2, 9} {
			npix := 1 + (c+taps)%3
			ptrs := make([]unsafe.Pointer, taps)
			strides := make([]int, taps)
			for tp := range ptrs {
				if tp%3 == 1 {
					strides[tp] = 0
				} else {
					strides[tp] = c * (1 + r.IntN(2))
				}
				x := guardedBytes(t, (npix-1)*strides[tp]+c)
				for i := range x {
					x[i] = byte(r.Uint32())
					if tp == 0 && c%3 == 0 {
						x[i] = 255
					}
				}
				ptrs[tp] = unsafe.Pointer(&x[0])
			}
			saved := append([]unsafe.Pointer(nil), ptrs...)
			w := make([]int32, taps*c)
			for i := range w {
				w[i] = r.Int32N(511) - 255
				if c%3 == 0 && i < c {
					w[i] = -255
				}
			}
			init := make([]int32, c)
			for i := range init {
				init[i] = int32(r.Uint32())
			}
			want := make([]int32, npix*c+4)
			got := make([]int32, npix*c+4)
			for i := npix * c; i < len(want); i++ {
				want[i], got[i] = 0x5a5a5a5a, 0x5a5a5a5a
			}
			qdwRowGo(ptrs, strides, npix, w, c, 0, c, init, want)
			qdwRow_neon(&ptrs[0], &strides[0], taps, npix, &w[0], c, &init[0], &got[0])
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("c=%d taps=%d npix=%d: acc[%d] = %d, want %d", c, taps, npix, i, got[i], want[i])
				}
			}
			for i := range ptrs {
				if ptrs[i] != saved[i] {
					t.Fatalf("c=%d: ptrs[%d] moved", c, i)
				}
			}
		}
	}
}

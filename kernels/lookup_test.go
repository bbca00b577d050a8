package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Every path of the Lookup family gives tab[src[i]] for random tables,
// every length up to 300 (vector bodies and tails), unaligned starts and
// in place, writing nothing outside dst.
func TestLookup8Paths(t *testing.T) {
	withFamilyPath(t, Lookup, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		var tab [256]uint8
		for n := 0; n <= 300; n++ {
			for i := range tab {
				tab[i] = uint8(r.Uint32())
			}
			off := r.IntN(64)
			srcBuf := make([]uint8, off+n)
			for i := range srcBuf {
				srcBuf[i] = uint8(r.Uint32())
			}
			src := srcBuf[off:]
			full, dst := withGuards(n+off, uint8(0xA5))
			dst = dst[off:]
			Lookup8(dst, src, &tab)
			for i, v := range src {
				if dst[i] != tab[v] {
					t.Fatalf("n %d offset %d: dst[%d] = %d, want tab[%d] = %d", n, off, i, dst[i], v, tab[v])
				}
			}
			checkGuards(t, fmt.Sprintf("n %d", n), full, uint8(0xA5))
			for i := 0; i < off; i++ {
				if full[guardWords+i] != 0xA5 {
					t.Fatalf("n %d offset %d: byte %d before dst overwritten", n, off, i)
				}
			}
			in := append([]uint8(nil), src...)
			Lookup8(in, in, &tab)
			for i, v := range src {
				if in[i] != tab[v] {
					t.Fatalf("in place, n %d: [%d] = %d, want %d", n, i, in[i], tab[v])
				}
			}
		}
	})
}

// Every path gives tab[a[i]<<8 | b[i]] likewise, the table's first and
// last entries included.
func TestLookup8x2Paths(t *testing.T) {
	withFamilyPath(t, Lookup, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		tab := new([1 << 16]uint8)
		for i := range tab {
			tab[i] = uint8(r.Uint32())
		}
		for n := 0; n <= 300; n++ {
			off := r.IntN(64)
			a, b := make([]uint8, off+n), make([]uint8, off+n)
			for i := range a {
				a[i], b[i] = uint8(r.Uint32()), uint8(r.Uint32())
				if r.IntN(8) == 0 { // the table's ends
					a[i], b[i] = 255*uint8(r.IntN(2)), 255*uint8(r.IntN(2))
				}
			}
			a, b = a[off:], b[off:]
			full, dst := withGuards(n+off, uint8(0xA5))
			dst = dst[off:]
			Lookup8x2(dst, a, b, tab)
			for i := range a {
				if want := tab[int(a[i])<<8|int(b[i])]; dst[i] != want {
					t.Fatalf("n %d offset %d: dst[%d] = %d, want tab[%d<<8|%d] = %d", n, off, i, dst[i], a[i], b[i], want)
				}
			}
			checkGuards(t, fmt.Sprintf("n %d", n), full, uint8(0xA5))
			for i := 0; i < off; i++ {
				if full[guardWords+i] != 0xA5 {
					t.Fatalf("n %d offset %d: byte %d before dst overwritten", n, off, i)
				}
			}
		}
	})
}

func TestLookupBadArgs(t *testing.T) {
	for _, f := range []func(){
		func() { Lookup8(make([]uint8, 2), make([]uint8, 3), new([256]uint8)) },
		func() { Lookup8x2(make([]uint8, 2), make([]uint8, 2), make([]uint8, 3), new([1 << 16]uint8)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

// BenchmarkLookup8 times each path on runs of the lengths the engine
// sees (an SE block's channel plane to a detector feature map).
func BenchmarkLookup8(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var tab [256]uint8
	for i := range tab {
		tab[i] = uint8(r.Uint32())
	}
	old := Lookup.Active()
	defer Lookup.Set(old)
	for _, n := range []int{36, 576, 1 << 16} {
		src := make([]uint8, n)
		for i := range src {
			src[i] = uint8(r.Uint32())
		}
		dst := make([]uint8, n)
		for _, p := range Lookup.SupportedPaths() {
			Lookup.Set(p)
			b.Run(fmt.Sprintf("%d/%s", n, p), func(b *testing.B) {
				b.SetBytes(int64(n))
				for range b.N {
					Lookup8(dst, src, &tab)
				}
			})
		}
		big := new([1 << 16]uint8)
		for i := range big {
			big[i] = uint8(r.Uint32())
		}
		src2 := make([]uint8, n)
		for i := range src2 {
			src2[i] = uint8(r.Uint32())
		}
		for _, p := range Lookup.SupportedPaths() {
			Lookup.Set(p)
			b.Run(fmt.Sprintf("x2/%d/%s", n, p), func(b *testing.B) {
				b.SetBytes(int64(n))
				for range b.N {
					Lookup8x2(dst, src, src2, big)
				}
			})
		}
	}
}

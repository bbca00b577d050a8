package engine

import (
	"math/rand"
	"testing"
)

// TestTransposeBytes checks the 8×8-block byte transpose against the
// definition, over sizes around the block and tile edges and a row
// stride wider than the rows.
func TestTransposeBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	sizes := []int{1, 3, 7, 8, 9, 16, 63, 64, 65, 130}
	for _, p := range sizes {
		for _, n := range sizes {
			ldd := p + rng.Intn(3)
			src := make([]uint8, p*n)
			for i := range src {
				src[i] = uint8(rng.Intn(256))
			}
			dst := make([]uint8, (n-1)*ldd+p)
			for i := range dst {
				dst[i] = 0xA5
			}
			want := append([]uint8(nil), dst...)
			for i := 0; i < p; i++ {
				for j := 0; j < n; j++ {
					want[j*ldd+i] = src[i*n+j]
				}
			}
			transposeInto(dst, ldd, src, p, n)
			for i := range want {
				if dst[i] != want[i] {
					t.Fatalf("%d×%d (ldd %d): byte %d = %d, want %d", p, n, ldd, i, dst[i], want[i])
				}
			}
			// int8 takes the same path.
			d8 := make([]int8, len(dst))
			transposeInto(d8, ldd, asInt8(src), p, n)
			for i := 0; i < p; i++ {
				for j := 0; j < n; j++ {
					if uint8(d8[j*ldd+i]) != src[i*n+j] {
						t.Fatalf("int8 %d×%d: element (%d, %d) wrong", p, n, i, j)
					}
				}
			}
		}
	}
}

// BenchmarkTransposeBytes and BenchmarkTransposeGeneric compare the byte
// transpose with the element-by-element one on a convolution output's
// shape (40×40 pixels of 96 channels).
func BenchmarkTransposeBytes(b *testing.B) {
	p, n := 1600, 96
	src := make([]uint8, p*n)
	dst := make([]uint8, p*n)
	b.SetBytes(int64(p * n))
	for b.Loop() {
		transposeInto(dst, p, src, p, n)
	}
}

type byteT uint8 // not uint8: takes transposeInto's generic loop

func BenchmarkTransposeGeneric(b *testing.B) {
	p, n := 1600, 96
	src := make([]byteT, p*n)
	dst := make([]byteT, p*n)
	b.SetBytes(int64(p * n))
	for b.Loop() {
		transposeInto(dst, p, src, p, n)
	}
}

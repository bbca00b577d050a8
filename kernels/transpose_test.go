package kernels

import (
	"math/rand/v2"
	"testing"
)

// TransposeBytes on every path equals its definition, over sizes around
// the 8-row strips, the 8- and 16-column blocks and the column tiles,
// with and without the sign flip, and never writes between dst's rows.
func TestTransposeBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	sizes := []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 33, 255, 256, 257, 300}
	for trial := 0; trial < 300; trial++ {
		p, n := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		ldd := p + r.IntN(3)
		flip := []byte{0, 0x80}[r.IntN(2)]
		src := make([]byte, p*n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		want := make([]byte, (n-1)*ldd+p)
		for i := range want {
			want[i] = 0xA5
		}
		for i := 0; i < p; i++ {
			for j := 0; j < n; j++ {
				want[j*ldd+i] = src[i*n+j] ^ flip
			}
		}
		for _, path := range SupportedPaths() {
			got := make([]byte, len(want))
			for i := range got {
				got[i] = 0xA5
			}
			withPath(t, path, func() { TransposeBytes(got, ldd, src, p, n, flip) })
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%v %d×%d ldd %d flip %#x: byte %d = %d, want %d", path, p, n, ldd, flip, i, got[i], want[i])
				}
			}
		}
	}
}

func BenchmarkTransposeBytes(b *testing.B) {
	// A convolution output's shape: 40×40 pixels of 96 channels.
	p, n := 1600, 96
	src := make([]byte, p*n)
	dst := make([]byte, p*n)
	for _, path := range SupportedPaths() {
		b.Run(path.String(), func(b *testing.B) {
			withPath(b, path, func() {
				b.SetBytes(int64(p * n))
				for b.Loop() {
					TransposeBytes(dst, p, src, p, n, 0)
				}
			})
		})
	}
}

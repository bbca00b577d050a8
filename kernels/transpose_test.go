package kernels

import (
	"math"
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
		if trial%4 == 0 {
			p, ldd = 3, 3 // the RGB planes path
		}
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

// TransposeFloat32 likewise (values compared as bits, NaN payloads too).
func TestTransposeFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	sizes := []int{1, 3, 7, 8, 9, 15, 16, 17, 64, 127, 128, 129, 196, 300}
	for trial := 0; trial < 300; trial++ {
		p, n := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		ldd := p + r.IntN(3)
		src := make([]float32, p*n)
		for i := range src {
			src[i] = math.Float32frombits(r.Uint32())
		}
		guard := math.Float32frombits(0x7FC0A5A5)
		want := make([]float32, (n-1)*ldd+p)
		for i := range want {
			want[i] = guard
		}
		for i := 0; i < p; i++ {
			for j := 0; j < n; j++ {
				want[j*ldd+i] = src[i*n+j]
			}
		}
		for _, path := range SupportedPaths() {
			got := make([]float32, len(want))
			for i := range got {
				got[i] = guard
			}
			withPath(t, path, func() { TransposeFloat32(got, ldd, src, p, n) })
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v %d×%d ldd %d: value %d = %#x, want %#x", path, p, n, ldd, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
		}
	}
}

func BenchmarkTransposeFloat32(b *testing.B) {
	// The binary blocks' activations: 64 channels of 14×14 pixels.
	p, n := 64, 196
	src := make([]float32, p*n)
	dst := make([]float32, p*n)
	for _, path := range SupportedPaths() {
		b.Run(path.String(), func(b *testing.B) {
			withPath(b, path, func() {
				b.SetBytes(int64(4 * p * n))
				for b.Loop() {
					TransposeFloat32(dst, p, src, p, n)
				}
			})
		})
	}
}

func BenchmarkTransposeBytes(b *testing.B) {
	// A convolution output's shape (40×40 pixels of 96 channels), and an
	// RGB image's planes to pixels (48×192).
	for _, s := range []struct {
		name string
		p, n int
	}{{"1600x96", 1600, 96}, {"rgb", 3, 48 * 192}} {
		src := make([]byte, s.p*s.n)
		dst := make([]byte, s.p*s.n)
		for _, path := range SupportedPaths() {
			b.Run(s.name+"/"+path.String(), func(b *testing.B) {
				withPath(b, path, func() {
					b.SetBytes(int64(s.p * s.n))
					for b.Loop() {
						TransposeBytes(dst, s.p, src, s.p, s.n, 0)
					}
				})
			})
		}
	}
}

package engine

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/qtool/qtool/onnxio"
)

// TestTransposeBytes checks the 8×8-block byte transpose against the
// definition, over sizes around the block and tile edges and a row
// stride wider than the rows, with and without flipping the sign bits.
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
			// With the sign flip of depthwiseInput.
			transposeBytes(dst, ldd, src, p, n, 0x80)
			for i := 0; i < p; i++ {
				for j := 0; j < n; j++ {
					if dst[j*ldd+i] != src[i*n+j]^0x80 {
						t.Fatalf("flipped %d×%d: element (%d, %d) = %d, want %d", p, n, i, j, dst[j*ldd+i], src[i*n+j]^0x80)
					}
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

// TestQConvRowBlocksORT: convolutions whose unfolded rows exceed
// qconvColBytes are unfolded and multiplied a block of output rows at a
// time; images small enough go to the GEMM several at once. Checked
// against simulated quantization and ONNX Runtime, through NCHW and NHWC
// inputs and outputs and a batch of 2.
func TestQConvRowBlocksORT(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	var cases []fmt.Stringer
	var chains []qconvChain
	for i, adt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		for _, c := range []qconvChain{
			// 64 channels 3×3 over 37 columns: 21 KiB of rows per output
			// row; then stride 2 in 2 groups, then 1×1.
			{x: []int{2, 64, 40, 37}, convs: []qconvSpec{{24, 3, 1, 1, 1}, {16, 3, 2, 1, 2}, {8, 1, 1, 0, 1}}},
			// The detector's first layer: 3 channels, 3×3 stride 2.
			{x: []int{1, 3, 161, 150}, convs: []qconvSpec{{16, 3, 2, 1, 1}, {8, 5, 1, 2, 1}}},
		} {
			c.adt, c.perChannel, c.bias, c.act = adt, i == 0, true, "Relu"
			cases = append(cases, c)
			chains = append(chains, c)
		}
	}
	checkQConvChainsORT(t, rng, cases, chains)
}

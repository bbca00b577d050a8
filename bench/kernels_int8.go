package bench

import (
	"math/rand/v2"
	"time"

	"github.com/qtool/qtool/kernels"
)

// The int8 family: QGemmU8 on each supported Int8 path, on the same GEMM
// shapes as fp32 (M×N×K: M rows of uint8 activations, N output channels
// of int8 weights packed once, K the reduction), int32 output, with the
// path's register-only dot-product loop (VPDPBUSD, or VPMADDWD + VPADDD
// for avx2) as the ceiling. A multiply-accumulate counts as two
// operations, as an fp32 FMA does.
func init() {
	familyBenches = append(familyBenches, familyBench{family: "int8", run: benchInt8})
}

func benchInt8(opt KernelOptions, rng *rand.Rand) ([]KernelRow, error) {
	return benchGemmFamily(opt, rng, "int8", kernels.Int8, int8PeakGOPS, []gemmVariant{{time: timeQGemm}})
}

// int8PeakGOPS runs the Int8 path's ceiling loop for at least minTime
// and returns its best rate.
func int8PeakGOPS(p string, minTime time.Duration) float64 {
	if kernels.PeakInt8(p, 1) == 0 {
		return 0
	}
	return bestRate(minTime, func() float64 { return kernels.PeakInt8(p, 1<<16) })
}

// timeQGemm returns the best time of one m×n×k QGemmU8 (weights packed
// once, int32 output), repeated for at least minTime.
func timeQGemm(s [3]int, minTime time.Duration, rng *rand.Rand) time.Duration {
	m, n, k := s[0], s[1], s[2]
	a, w, c := make([]uint8, m*k), make([]int8, n*k), make([]int32, m*n)
	for i := range a {
		a[i] = uint8(rng.Uint32())
	}
	for i := range w {
		w[i] = int8(rng.Uint32())
	}
	pw := kernels.PackInt8Weights(n, k, w, k)
	out := &kernels.QOutput{Int32: c, Ldc: n}
	return bestTime(minTime, func() { kernels.QGemmU8(m, a, k, 128, pw, out, 1) })
}

package bench

import (
	"math/rand/v2"
	"time"

	"github.com/qtool/qtool/kernels"
)

// The int16 family (DFP16): GemmInt16 on each supported Int16 path, on the
// GEMM shapes, full-range int16 weights (two planes: the exact scheme)
// packed once, exact int64 output; the path "<path>/w511" rows use
// weights within [-511, 511] (one plane: the faster scheme of restricted
// weight range, still exact). The ceiling is the path's register-only
// VPDPWSSD loop (VPMADDWD + VPADDD for avx2) measured in the same run.
func init() {
	familyBenches = append(familyBenches, familyBench{family: "int16", run: benchInt16})
}

func benchInt16(opt KernelOptions, rng *rand.Rand) ([]KernelRow, error) {
	timeAll := func(small bool) func([3]int, time.Duration, *rand.Rand) time.Duration {
		return func(s [3]int, minTime time.Duration, rng *rand.Rand) time.Duration {
			return timeInt16(s, minTime, rng, small)
		}
	}
	return benchGemmFamily(opt, rng, "int16", kernels.Int16, int16PeakGOPS,
		[]gemmVariant{{time: timeAll(false)}, {suffix: "/w511", time: timeAll(true)}})
}

// int16PeakGOPS runs the Int16 path's ceiling loop for at least minTime
// and returns its best rate.
func int16PeakGOPS(p string, minTime time.Duration) float64 {
	if kernels.PeakInt16(p, 1) == 0 {
		return 0
	}
	return bestRate(minTime, func() float64 { return kernels.PeakInt16(p, 1<<16) })
}

// timeInt16 returns the best time of one m×n×k GemmInt16 (int64 output),
// weights full range or within [-511, 511] (small).
func timeInt16(s [3]int, minTime time.Duration, rng *rand.Rand, small bool) time.Duration {
	m, n, k := s[0], s[1], s[2]
	a, w := make([]int16, m*k), make([]int16, n*k)
	for i := range a {
		a[i] = int16(rng.Uint32())
	}
	for i := range w {
		if small {
			w[i] = int16(rng.IntN(1023) - 511)
		} else {
			w[i] = int16(rng.Uint32())
		}
	}
	pw := kernels.PackInt16Weights(n, k, w, k)
	out := &kernels.I16Output{Int64: make([]int64, m*n), Ldc: n}
	return bestTime(minTime, func() { kernels.GemmInt16(m, a, k, pw, out, 1) })
}

package bench

import (
	"fmt"
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
	f := kernels.Int8
	active := f.Active()
	defer f.Set(active)
	paths := f.SupportedPaths()
	type key struct {
		p string
		s int
	}
	best := map[key]time.Duration{}
	ceiling := map[string]float64{}
	for round := 0; round < opt.Rounds; round++ {
		for _, p := range paths {
			if err := f.Set(p); err != nil {
				return nil, err
			}
			ceiling[p] = max(ceiling[p], int8PeakGOPS(p, opt.MinTime))
			for si, s := range opt.Shapes {
				d := timeQGemm(s, opt.MinTime, rng)
				if b, ok := best[key{p, si}]; !ok || d < b {
					best[key{p, si}] = d
				}
			}
		}
	}
	var rows []KernelRow
	for _, p := range paths {
		for si, s := range opt.Shapes {
			d := best[key{p, si}]
			r := KernelRow{
				Family:      "int8",
				Path:        p,
				Shape:       fmt.Sprintf("gemm %dx%dx%d", s[0], s[1], s[2]),
				GOPS:        2 * float64(s[0]) * float64(s[1]) * float64(s[2]) / d.Seconds() / 1e9,
				CeilingGOPS: ceiling[p],
				Ms:          float64(d.Nanoseconds()) / 1e6,
			}
			if r.CeilingGOPS > 0 {
				r.Efficiency = r.GOPS / r.CeilingGOPS
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// int8PeakGOPS runs the Int8 path's ceiling loop for at least minTime and
// returns the best rate of its samples (like the GEMM's best time, so a
// busy machine lowers neither more than the other).
func int8PeakGOPS(p string, minTime time.Duration) float64 {
	const iters = 1 << 16
	if kernels.PeakInt8(p, 1) == 0 {
		return 0
	}
	best := 0.0
	for start := time.Now(); time.Since(start) < minTime; {
		t := time.Now()
		ops := kernels.PeakInt8(p, iters)
		best = max(best, ops/time.Since(t).Seconds()/1e9)
	}
	return best
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
	run := func() time.Duration {
		t := time.Now()
		kernels.QGemmU8(m, a, k, 128, pw, out, 1)
		return time.Since(t)
	}
	run()
	bestTime := run()
	for total := bestTime; total < minTime; {
		d := run()
		total += d
		bestTime = min(bestTime, d)
	}
	return bestTime
}

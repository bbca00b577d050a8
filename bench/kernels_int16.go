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
	f := kernels.Int16
	active := f.Active()
	defer f.Set(active)
	paths := f.SupportedPaths()
	type key struct {
		p     string
		s     int
		small bool
	}
	best := map[key]time.Duration{}
	ceiling := map[string]float64{}
	for round := 0; round < opt.Rounds; round++ {
		for _, p := range paths {
			if err := f.Set(p); err != nil {
				return nil, err
			}
			ceiling[p] = max(ceiling[p], int16PeakGOPS(p, opt.MinTime))
			for si, s := range opt.Shapes {
				for _, small := range []bool{false, true} {
					d := timeInt16(s, opt.MinTime, rng, small)
					if b, ok := best[key{p, si, small}]; !ok || d < b {
						best[key{p, si, small}] = d
					}
				}
			}
		}
	}
	var rows []KernelRow
	for _, small := range []bool{false, true} {
		for _, p := range paths {
			for si, s := range opt.Shapes {
				name := p
				if small {
					name += "/w511"
				}
				rows = append(rows, gemmRow("int16", name, s, best[key{p, si, small}], ceiling[p]))
			}
		}
	}
	return rows, nil
}

// int16PeakGOPS is the best rate of short runs of the Int16 path's
// ceiling loop over at least minTime (a mean over the whole time falls on
// a busy machine).
func int16PeakGOPS(p string, minTime time.Duration) float64 {
	const iters = 1 << 16
	if kernels.PeakInt16(p, 1) == 0 {
		return 0
	}
	best := 0.0
	for start := time.Now(); time.Since(start) < minTime; {
		t := time.Now()
		ops := kernels.PeakInt16(p, iters)
		best = max(best, ops/time.Since(t).Seconds()/1e9)
	}
	return best
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
	return bestOf(minTime, func() time.Duration {
		t := time.Now()
		kernels.GemmInt16(m, a, k, pw, out, 1)
		return time.Since(t)
	})
}

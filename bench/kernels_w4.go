package bench

import (
	"math/rand/v2"
	"time"

	"github.com/qtool/qtool/kernels"
)

// The 4-bit weight families, both on the Int4 paths, on the GEMM shapes
// (M×N×K), weights packed once:
//
//   - w4a8: uint8 activations, int4 weights. Path rows "<path>": per
//     output channel, int32 output (comparable with the int8 rows);
//     "<path>/b32" and "<path>/b128": per-block scales and zero points
//     (blocks of 32 or 128 along K, MatMulNBits-like), float32 output
//     (assembly paths only).
//   - w4a4: uint4 activations (packed nibbles, expanded per call), int4
//     weights per channel, int32 output.
//
// The ceiling is the INT8 VPDPBUSD register-only loop (PeakInt8) of the
// same path name, measured in the same run; a multiply-accumulate counts
// as two operations.
func init() {
	familyBenches = append(familyBenches,
		familyBench{family: "w4a8", run: func(opt KernelOptions, rng *rand.Rand) ([]KernelRow, error) {
			return benchW4(opt, rng, "w4a8")
		}},
		familyBench{family: "w4a4", run: func(opt KernelOptions, rng *rand.Rand) ([]KernelRow, error) {
			return benchW4(opt, rng, "w4a4")
		}})
}

func benchW4(opt KernelOptions, rng *rand.Rand, family string) ([]KernelRow, error) {
	variant := func(suffix string, bs int) gemmVariant {
		v := gemmVariant{suffix: suffix, time: func(s [3]int, minTime time.Duration, rng *rand.Rand) time.Duration {
			return timeW4(s, minTime, rng, family == "w4a4", bs)
		}}
		if bs > 0 {
			v.on = func(p string) bool { return p != "generic" }
		}
		return v
	}
	variants := []gemmVariant{variant("", 0)}
	if family == "w4a8" {
		variants = append(variants, variant("/b32", 32), variant("/b128", 128))
	}
	ceiling := func(p string, minTime time.Duration) float64 {
		if ok, _ := kernels.Int8.Supported(p); !ok {
			return 0
		}
		return int8PeakGOPS(p, minTime)
	}
	return benchGemmFamily(opt, rng, family, kernels.Int4, ceiling, variants)
}

// timeW4 returns the best time of one m×n×k W4A8 (blocks of bs, float32
// out; bs = 0: per channel, int32 out) or W4A4 (per channel, int32 out)
// GEMM.
func timeW4(s [3]int, minTime time.Duration, rng *rand.Rand, a4 bool, bs int) time.Duration {
	m, n, k := s[0], s[1], s[2]
	wv := make([]int8, n*k)
	for i := range wv {
		wv[i] = int8(rng.IntN(16)) - 8
	}
	data := kernels.PackNibbles(wv)
	if a4 {
		av := make([]int8, m*k)
		for i := range av {
			av[i] = int8(rng.IntN(16))
		}
		a := kernels.PackNibbles(av)
		pw := kernels.PackInt4Weights(n, k, data, kernels.Int4Quant{Signed: true})
		out := &kernels.QOutput{Int32: make([]int32, m*n), Ldc: n}
		return bestTime(minTime, func() { kernels.QGemmW4A4(m, a, k, false, 8, pw, out, 1) })
	}
	a := make([]uint8, m*k)
	for i := range a {
		a[i] = uint8(rng.Uint32())
	}
	q := kernels.Int4Quant{Signed: true, BlockSize: bs}
	out := &kernels.QOutput{Int32: make([]int32, m*n), Ldc: n}
	if bs > 0 {
		nblk := (k + bs - 1) / bs
		q.ZeroPoints, q.Scales = make([]int32, n*nblk), make([]float32, n*nblk)
		for i := range q.ZeroPoints {
			q.ZeroPoints[i] = int32(rng.IntN(16)) - 8
			q.Scales[i] = rng.Float32()*0.01 + 1e-3
		}
		out = &kernels.QOutput{Float32: make([]float32, m*n), Ldc: n, Scale: []float32{0.02}}
	}
	pw := kernels.PackInt4Weights(n, k, data, q)
	return bestTime(minTime, func() { kernels.QGemmW4U8(m, a, k, 128, pw, out, 1) })
}

// KnownFamily reports whether BenchKernels measures a family of that name
// (fp32 or one registered in familyBenches: int8, w4a8, w4a4, int16...).
func KnownFamily(name string) bool {
	if name == "fp32" {
		return true
	}
	for _, fb := range familyBenches {
		if fb.family == name {
			return true
		}
	}
	return false
}

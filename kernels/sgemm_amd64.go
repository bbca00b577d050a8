//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate sh -c "go run _generate/gen_sgemm_amd64.go > sgemm_amd64.s"
//go:generate sh -c "go run _generate/gen_sgemm_amd64.go decls > sgemm_rows_amd64.go"

// Microkernels in sgemm_amd64.s (see microkernel for the contract).

//go:noescape
func sgemm_6x16_avx2(k int, a, b, c *float32, ldc int, load int, next *float32)

// The boff variants read B in place: see microkernel.fnOff.

//go:noescape
func sgemm_6x16_boff_avx2(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)

//go:noescape
func sgemm_14x32_boff_avx512(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)

//go:noescape
func sgemm_14x32_boffmask_avx512(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32, mask int)

//go:noescape
func sgemm_6x32_avx512(k int, a, b, c *float32, ldc int, load int, next *float32)

//go:noescape
func sgemm_8x32_avx512(k int, a, b, c *float32, ldc int, load int, next *float32)

//go:noescape
func sgemm_12x32_avx512(k int, a, b, c *float32, ldc int, load int, next *float32)

//go:noescape
func sgemm_14x32_avx512(k int, a, b, c *float32, ldc int, load int, next *float32)

//go:noescape
func sgemm_8x48_avx512(k int, a, b, c *float32, ldc int, load int, next *float32)

//go:noescape
func sgemm_4x64_avx512(k int, a, b, c *float32, ldc int, load int, next *float32)

// FMA peak loops: n iterations of independent register-only FMAs
// (fmaPeakFlops per iteration).
func fmaPeak_avx2(n int)
func fmaPeak_avx512(n int)

// Shapes, measured on a Sapphire Rapids-class Xeon (2 zmm FMA ports,
// 48 KiB L1D) alone on L1-resident panels, FMA peak 211 GFLOP/s: 6x16 avx2
// (12 ymm accumulators) 110 of 112 avx2 peak; zmm 6x32 174, 8x32 179,
// 12x32 180, 14x32 178, 8x48 180-187, 4x64 174-178; in the 1024^3 driver
// 12x32 and 14x32 were best (146-149 GFLOP/s), 8x48 and 4x64 worse (edge
// waste, more B traffic). 14x32 uses 28 accumulators + 2 B + 1 broadcast
// register.
var archRegistered = func() bool {
	x := cpu.X86
	avx2 := x.HasAVX && x.HasAVX2 && x.HasFMA
	registerPath(PathAVX2, pathImpl{
		sgemm: &microkernel{name: "sgemm_6x16_avx2", mr: 6, nr: 16, fn: sgemm_6x16_avx2, fnOff: sgemm_6x16_boff_avx2,
			rows: avx2Rows6, rowsOff: avx2Rows6Off},
		supported: avx2,
		why:       "needs AVX2 and FMA",
	})
	// The AVX-512 kernels use only AVX512F instructions (zmm FMA, loads,
	// broadcasts, VPXORD).
	registerPath(PathAVX512, pathImpl{
		sgemm: &microkernel{name: "sgemm_14x32_avx512", mr: 14, nr: 32, fn: sgemm_14x32_avx512, fnOff: sgemm_14x32_boff_avx512,
			rows: avx512Rows14, rowsOff: avx512Rows14Off, fnOffMask: sgemm_14x32_boffmask_avx512},
		supported: avx2 && x.HasAVX512F,
		why:       "needs AVX512F",
	})
	return true
}()

// fmaPeak runs the register-only FMA loop of path p for n iterations and
// returns the FLOP done, or 0 when p has no such loop.
func fmaPeak(p Path, n int) float64 {
	switch p {
	case PathAVX2:
		fmaPeak_avx2(n)
		return float64(n) * 12 * 8 * 2
	case PathAVX512:
		fmaPeak_avx512(n)
		return float64(n) * 24 * 16 * 2
	}
	return 0
}

// extraKernels are alternative tile shapes, benchmarked against each other
// to choose the registered one.
var extraKernels = []microkernel{
	{name: "sgemm_6x32_avx512", mr: 6, nr: 32, fn: sgemm_6x32_avx512},
	{name: "sgemm_8x32_avx512", mr: 8, nr: 32, fn: sgemm_8x32_avx512},
	{name: "sgemm_12x32_avx512", mr: 12, nr: 32, fn: sgemm_12x32_avx512},
	{name: "sgemm_14x32_avx512", mr: 14, nr: 32, fn: sgemm_14x32_avx512},
	{name: "sgemm_8x48_avx512", mr: 8, nr: 48, fn: sgemm_8x48_avx512},
	{name: "sgemm_4x64_avx512", mr: 4, nr: 64, fn: sgemm_4x64_avx512},
}

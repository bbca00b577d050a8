//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// Microkernel in sgemm_arm64.s (see microkernel for the contract).

//go:noescape
func sgemm_8x12_neon(k int, a, b, c *float32, ldc int, load int, next *float32)

// fmaPeak_neon runs n iterations of 24 independent register-only FMLAs.
func fmaPeak_neon(n int)

// 8x12 uses 24 of the 32 vector registers as accumulators, 2 for A (eight
// lanes used by element) and 6 for B (double-buffered): 24 FMLAs per 5
// 16-byte loads, the shape of OpenBLAS's and BLIS's Cortex-A57/A72 sgemm
// kernels. Not yet measured on hardware (only tested under qemu).
var archRegistered = func() bool {
	registerPath(PathNEON, pathImpl{
		sgemm:     &microkernel{name: "sgemm_8x12_neon", mr: 8, nr: 12, fn: sgemm_8x12_neon},
		supported: cpu.ARM64.HasASIMD,
		why:       "needs ASIMD",
	})
	return true
}()

// fmaPeak runs the register-only FMA loop of path p for n iterations and
// returns the FLOP done, or 0 when p has no such loop.
func fmaPeak(p Path, n int) float64 {
	if p == PathNEON {
		fmaPeak_neon(n)
		return float64(n) * 24 * 4 * 2
	}
	return 0
}

// extraKernels are alternative tile shapes; arm64 has none yet.
var extraKernels []microkernel

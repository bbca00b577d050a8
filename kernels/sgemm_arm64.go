//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// The generators run on the host (GOOS and GOARCH cleared), so
// GOARCH=arm64 go generate works from any machine.
//
//go:generate sh -c "GOOS= GOARCH= go run _generate/gen_sgemm_arm64.go > sgemm_arm64.s"
//go:generate sh -c "GOOS= GOARCH= go run _generate/gen_sgemm_arm64.go decls > sgemm_rows_arm64.go"

// Microkernels in sgemm_arm64.s (see microkernel for the contract; the
// last-rows kernels are declared in sgemm_rows_arm64.go).

//go:noescape
func sgemm_8x12_neon(k int, a, b, c *float32, ldc int, load int, next *float32)

// sgemm_8x12_boff_neon reads B in place: see microkernel.fnOff.
//
//go:noescape
func sgemm_8x12_boff_neon(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)

// fmaPeak_neon runs n iterations of 24 independent register-only FMLAs.
func fmaPeak_neon(n int)

// 8x12 uses 24 of the 32 vector registers as accumulators, 2 for A (eight
// lanes used by element) and 6 for B (double-buffered): 24 FMLAs per 5
// 16-byte loads, the shape of OpenBLAS's and BLIS's Cortex-A57/A72 sgemm
// kernels. The in-place form adds a load and an add per k step (the row
// offset) to the 5 vector loads; the last-rows kernels do r/8 of a tile's
// FMLAs. Not yet measured on hardware (only tested under qemu): no speed
// is claimed for any of them.
var archRegistered = func() bool {
	registerPath(PathNEON, pathImpl{
		sgemm: &microkernel{name: "sgemm_8x12_neon", mr: 8, nr: 12, fn: sgemm_8x12_neon, fnOff: sgemm_8x12_boff_neon,
			rows: neonRows8, rowsOff: neonRows8Off},
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

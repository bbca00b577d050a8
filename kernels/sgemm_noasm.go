//go:build purego || !amd64

// Architectures without assembly microkernels (and the purego build) run
// the generic path only. An arm64 NEON path plugs in as sgemm_arm64.go
// (//go:build !purego) + sgemm_arm64.s registering PathNEON in its
// archRegistered, with this file's constraint becoming
// purego || !(amd64 || arm64).

package kernels

var archRegistered = true

func fmaPeak(p Path, n int) float64 { return 0 }

var extraKernels []microkernel

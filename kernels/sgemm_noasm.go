//go:build purego || !(amd64 || arm64)

// Architectures without assembly microkernels (and the purego build) run
// the generic path only. amd64 (sgemm_amd64.go) and arm64 (sgemm_arm64.go)
// register their assembly paths in their own archRegistered.

package kernels

var archRegistered = true

func fmaPeak(p Path, n int) float64 { return 0 }

var extraKernels []microkernel

//go:build purego || !amd64

// Without amd64 assembly (purego, arm64 until its NEON int8 paths exist,
// other architectures) Int8 runs the generic path only.

package kernels

func qpeak(path string, n int) float64 { return 0 }

var int8ExtraKernels []qkernel

//go:build purego || !(amd64 || arm64)

// Without assembly (purego, architectures other than amd64 and arm64)
// Int8 runs the generic path only.

package kernels

func qpeak(path string, n int) float64 { return 0 }

var int8ExtraKernels []qkernel

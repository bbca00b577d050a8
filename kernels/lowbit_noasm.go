//go:build purego || !(amd64 || arm64)

package kernels

func i16peak(path string, n int) float64 { return 0 }

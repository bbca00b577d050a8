//go:build purego || !amd64

package kernels

func int16Peak(path string, n int) float64 { return 0 }

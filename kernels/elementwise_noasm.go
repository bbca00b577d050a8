//go:build purego || !(amd64 || arm64)

package kernels

// elementwiseAsm has no assembly here: Elementwise runs in Go.
func elementwiseAsm(op ElemOp, form int, dst, a, b []float32) int { return 0 }

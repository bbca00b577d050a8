//go:build purego || !(amd64 || arm64)

package kernels

import "unsafe"

// quantizeAsm and dequantizeAsm have no assembly here: everything runs in
// Go.
func quantizeAsm(t qtype, dst unsafe.Pointer, x []float32, scale float32, zp, lo, hi int32) int {
	return 0
}

func dequantizeAsm(t qtype, dst []float32, q unsafe.Pointer, scale float32, zp int32) int { return 0 }

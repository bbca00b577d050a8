//go:build !purego && (amd64 || arm64)

package kernels

import "unsafe"

// quantizeKernels holds a path's kernels: quantize by output width
// (8, 16 bits) and dequantize by qtype, with its vector width.
type quantizeKernels struct {
	width int
	q     [2]func(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)
	dq    [4]func(dst *float32, q unsafe.Pointer, n int, scale, zp float32)
}

// quantizeAsm runs the active path's kernel on the longest multiple of
// its vector width of x and returns how many elements it did.
func quantizeAsm(t qtype, dst unsafe.Pointer, x []float32, scale float32, zp, lo, hi int32) int {
	k := quantizePaths[Quantize.Active()]
	if k == nil {
		return 0
	}
	n := len(x) / k.width * k.width
	if n == 0 {
		return 0
	}
	w := 0
	if t == qInt16 || t == qUint16 {
		w = 1
	}
	k.q[w](dst, &x[0], n, scale, float32(lo-zp), float32(hi-zp), zp)
	return n
}

// dequantizeAsm is quantizeAsm for DequantizeLinear.
func dequantizeAsm(t qtype, dst []float32, q unsafe.Pointer, scale float32, zp int32) int {
	k := quantizePaths[Quantize.Active()]
	if k == nil {
		return 0
	}
	n := len(dst) / k.width * k.width
	if n == 0 {
		return 0
	}
	k.dq[t](&dst[0], q, n, scale, float32(zp))
	return n
}

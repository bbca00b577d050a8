//go:build !purego && (amd64 || arm64)

package kernels

import (
	"math"
	"unsafe"
)

// quantizeKernels holds a path's kernels: quantize by output width
// (8, 16 bits) and dequantize by qtype, with its vector width.
type quantizeKernels struct {
	width int
	q     [2]func(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)
	// qr, where set, are q by the reciprocal of the scale, exact all the
	// same (they divide the vectors where the product could round
	// differently); they need scale and 1/scale normal.
	qr [2]func(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)
	dq [4]func(dst *float32, q unsafe.Pointer, n int, scale, zp float32)
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
	q := k.q[w]
	if r := 1 / scale; k.qr[w] != nil && normal(scale) && normal(r) && !quantizeNoRecip {
		q = k.qr[w]
	}
	q(dst, &x[0], n, scale, float32(lo-zp), float32(hi-zp), zp)
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

// normal reports whether v is a normal float32 (not zero, subnormal,
// infinite or NaN).
func normal(v float32) bool {
	e := math.Float32bits(v) >> 23 & 0xff
	return e != 0 && e != 0xff
}

// quantizeNoRecip makes tests compare the reciprocal kernels with the
// dividing ones.
var quantizeNoRecip bool

package kernels

import (
	"fmt"
	"math"
	"unsafe"
)

// Per-tensor QuantizeLinear and DequantizeLinear between float32 and the
// 8- and 16-bit integer types (4-bit values held one per byte use the
// 8-bit functions with their narrower range).
//
// Quantize: q = x/scale in float32 (one IEEE division), then
//
//	dst = lo                                          if q is NaN
//	dst = clamp(round_half_even(q) + zp, lo, hi)      otherwise
//
// which is ONNX's saturate(round(x/scale) + zero_point) and what ONNX
// Runtime gives for NaN (the low end, as its MLAS kernels' max(q, lo)
// yields) and ±Inf (the ends). The SIMD paths clamp q to [lo-zp, hi-zp]
// before rounding (the same result: the bounds are integers and rounding
// is monotonic) with a max that returns the bound for NaN, round with
// VCVTPS2DQ / FCVTNS (half to even) and add zp.
//
// Dequantize: dst = (float32(q) - float32(zp))·scale, two float32
// operations (the subtraction is exact for these types).

// Quantize is the QuantizeLinear/DequantizeLinear family: generic (pure
// Go), neon (arm64), avx2 and avx512 (AVX-512 F/BW/VL).
var Quantize = newFamily("quantize", "generic", "neon", "avx2", "avx512")

// qtype is an output element type of the quantize kernels.
type qtype int

const (
	qInt8 qtype = iota
	qUint8
	qInt16
	qUint16
)

// qlimits is the range of each qtype.
var qlimits = [...][2]int32{qInt8: {-128, 127}, qUint8: {0, 255}, qInt16: {-32768, 32767}, qUint16: {0, 65535}}

func checkQuantize(name string, t qtype, nd, nx int, zp, lo, hi int32) {
	if nd != nx {
		panic(fmt.Sprintf("kernels: %s: %d outputs for %d inputs", name, nd, nx))
	}
	l := qlimits[t]
	if lo > hi || lo < l[0] || hi > l[1] || zp < l[0] || zp > l[1] {
		panic(fmt.Sprintf("kernels: %s: zero point %d and range [%d, %d] outside [%d, %d]", name, zp, lo, hi, l[0], l[1]))
	}
}

// QuantizeInt8 writes dst[i] = saturate(round_half_even(x[i]/scale) +
// zp) on [lo, hi] (NaN: lo), see the top of quantize.go. lo, hi and zp
// lie in int8's range (lo = -8, hi = 7 for int4).
func QuantizeInt8(dst []int8, x []float32, scale float32, zp, lo, hi int32) {
	checkQuantize("QuantizeInt8", qInt8, len(dst), len(x), zp, lo, hi)
	done := quantizeAsm(qInt8, unsafe.Pointer(unsafe.SliceData(dst)), x, scale, zp, lo, hi)
	quantizeGo(dst[done:], x[done:], scale, zp, lo, hi)
}

// QuantizeUint8 is QuantizeInt8 for uint8 (and uint4: hi = 15).
func QuantizeUint8(dst []uint8, x []float32, scale float32, zp, lo, hi int32) {
	checkQuantize("QuantizeUint8", qUint8, len(dst), len(x), zp, lo, hi)
	done := quantizeAsm(qUint8, unsafe.Pointer(unsafe.SliceData(dst)), x, scale, zp, lo, hi)
	quantizeGo(dst[done:], x[done:], scale, zp, lo, hi)
}

// QuantizeInt16 is QuantizeInt8 for int16.
func QuantizeInt16(dst []int16, x []float32, scale float32, zp, lo, hi int32) {
	checkQuantize("QuantizeInt16", qInt16, len(dst), len(x), zp, lo, hi)
	done := quantizeAsm(qInt16, unsafe.Pointer(unsafe.SliceData(dst)), x, scale, zp, lo, hi)
	quantizeGo(dst[done:], x[done:], scale, zp, lo, hi)
}

// QuantizeUint16 is QuantizeInt8 for uint16.
func QuantizeUint16(dst []uint16, x []float32, scale float32, zp, lo, hi int32) {
	checkQuantize("QuantizeUint16", qUint16, len(dst), len(x), zp, lo, hi)
	done := quantizeAsm(qUint16, unsafe.Pointer(unsafe.SliceData(dst)), x, scale, zp, lo, hi)
	quantizeGo(dst[done:], x[done:], scale, zp, lo, hi)
}

// QuantizeValue is one element of QuantizeInt8 and the others: x/scale
// rounded half to even, plus zp, clamped to [lo, hi], NaN giving lo.
func QuantizeValue(x, scale float32, zp, lo, hi int32) int32 {
	q := x / scale
	if q != q {
		return lo
	}
	return int32(min(float64(hi), max(float64(lo), math.RoundToEven(float64(q))+float64(zp))))
}

func quantizeGo[T int8 | uint8 | int16 | uint16](dst []T, x []float32, scale float32, zp, lo, hi int32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = T(QuantizeValue(v, scale, zp, lo, hi))
	}
}

// DequantizeInt8 writes dst[i] = (float32(q[i]) - float32(zp))·scale.
func DequantizeInt8(dst []float32, q []int8, scale float32, zp int32) {
	checkDequantize(qInt8, len(dst), len(q), zp)
	done := dequantizeAsm(qInt8, dst, unsafe.Pointer(unsafe.SliceData(q)), scale, zp)
	dequantizeGo(dst[done:], q[done:], scale, zp)
}

// DequantizeUint8 is DequantizeInt8 for uint8 (and uint4) values.
func DequantizeUint8(dst []float32, q []uint8, scale float32, zp int32) {
	checkDequantize(qUint8, len(dst), len(q), zp)
	done := dequantizeAsm(qUint8, dst, unsafe.Pointer(unsafe.SliceData(q)), scale, zp)
	dequantizeGo(dst[done:], q[done:], scale, zp)
}

// DequantizeInt16 is DequantizeInt8 for int16 values.
func DequantizeInt16(dst []float32, q []int16, scale float32, zp int32) {
	checkDequantize(qInt16, len(dst), len(q), zp)
	done := dequantizeAsm(qInt16, dst, unsafe.Pointer(unsafe.SliceData(q)), scale, zp)
	dequantizeGo(dst[done:], q[done:], scale, zp)
}

// DequantizeUint16 is DequantizeInt8 for uint16 values.
func DequantizeUint16(dst []float32, q []uint16, scale float32, zp int32) {
	checkDequantize(qUint16, len(dst), len(q), zp)
	done := dequantizeAsm(qUint16, dst, unsafe.Pointer(unsafe.SliceData(q)), scale, zp)
	dequantizeGo(dst[done:], q[done:], scale, zp)
}

func checkDequantize(t qtype, nd, nq int, zp int32) {
	if nd != nq {
		panic(fmt.Sprintf("kernels: Dequantize: %d outputs for %d inputs", nd, nq))
	}
	if l := qlimits[t]; zp < l[0] || zp > l[1] {
		panic(fmt.Sprintf("kernels: Dequantize: zero point %d outside [%d, %d]", zp, l[0], l[1]))
	}
}

func dequantizeGo[T int8 | uint8 | int16 | uint16](dst []float32, q []T, scale float32, zp int32) {
	z := float32(zp)
	dst = dst[:len(q)]
	for i, v := range q {
		dst[i] = (float32(v) - z) * scale
	}
}

package quant

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
)

// Params are the quantization parameters of one tensor or one channel:
// q = saturate(round_half_to_even(x / Scale) + Zero), x ≈ (q - Zero)·Scale.
type Params struct {
	Scale float32
	Zero  int32
}

// Limits returns the integer range of an element type: [-128, 127] for
// int8, [0, 255] for uint8, [-8, 7] for int4, [0, 15] for uint4, [-32768,
// 32767] for int16, [0, 65535] for uint16 and the int32 range for int32.
func Limits(dt onnxio.DataType) (lo, hi int32) {
	switch dt {
	case onnxio.Int8:
		return -128, 127
	case onnxio.Uint8:
		return 0, 255
	case onnxio.Int4:
		return -8, 7
	case onnxio.Uint4:
		return 0, 15
	case onnxio.Int16:
		return -32768, 32767
	case onnxio.Uint16:
		return 0, 65535
	case onnxio.Int32:
		return math.MinInt32, math.MaxInt32
	}
	panic(fmt.Sprintf("quant: no integer limits for %s", onnxio.DataTypeName(dt)))
}

// SymmetricLimits is the restricted range symmetric weights use, as ONNX
// Runtime's quantizer does: [-127, 127] for int8, [-7, 7] for int4,
// [-32767, 32767] for int16, so that the range is centred on zero.
func SymmetricLimits(dt onnxio.DataType) (lo, hi int32) {
	lo, hi = Limits(dt)
	if lo < 0 {
		return -hi, hi
	}
	return lo, hi
}

// Asymmetric returns the parameters mapping [rmin, rmax] (widened to
// include 0) onto [qmin, qmax], by ONNX Runtime's formulas: scale =
// (rmax - rmin)/(qmax - qmin), zero = round(qmin - rmin/scale) clamped to
// [qmin, qmax]. An empty range (all zeros) gives scale 1, zero point
// qmin clamped to 0 when 0 is representable.
func Asymmetric(rmin, rmax float64, qmin, qmax int32) Params {
	rmin, rmax = math.Min(rmin, 0), math.Max(rmax, 0)
	if rmax == rmin {
		return Params{Scale: 1, Zero: clampZero(0, qmin, qmax)}
	}
	scale := float32((rmax - rmin) / float64(qmax-qmin))
	if scale == 0 { // a range below float32's smallest step
		return Params{Scale: 1, Zero: clampZero(0, qmin, qmax)}
	}
	// In float32, as ONNX Runtime's quantizer computes it (numpy float32).
	zp := math.RoundToEven(float64(float32(qmin) - float32(rmin)/scale))
	return Params{Scale: scale, Zero: clampZero(zp, qmin, qmax)}
}

func clampZero(zp float64, qmin, qmax int32) int32 {
	return int32(math.Max(float64(qmin), math.Min(float64(qmax), zp)))
}

// Symmetric returns the zero-centred parameters for values in [-amax,
// amax] on [-qmax, qmax]: scale = amax/qmax, zero point 0 (ONNX Runtime's
// symmetric weights: with qmin = -qmax its (rmax - rmin)/(qmax - qmin) is
// the same). amax 0 gives scale 1.
func Symmetric(amax float64, qmax int32) Params {
	amax = math.Abs(amax)
	scale := float32(amax / float64(qmax))
	if scale == 0 || math.IsInf(float64(scale), 0) || math.IsNaN(float64(scale)) {
		return Params{Scale: 1}
	}
	return Params{Scale: scale}
}

// PowerOfTwo returns dynamic fixed point parameters: zero point 0 and
// scale 2^-f with f the largest fraction length whose range qmax·2^-f
// still holds amax (the shared exponent of the tensor). amax 0 gives f
// = 0. The fraction length f is returned too (it may be negative for
// ranges wider than qmax).
func PowerOfTwo(amax float64, qmax int32) (Params, int) {
	amax = math.Abs(amax)
	if amax == 0 || math.IsInf(amax, 0) || math.IsNaN(amax) {
		return Params{Scale: 1}, 0
	}
	f := int(math.Floor(math.Log2(float64(qmax) / amax)))
	// Correct for Log2's rounding at exact powers of two.
	for float64(qmax)*math.Ldexp(1, -f) < amax {
		f--
	}
	for float64(qmax)*math.Ldexp(1, -(f+1)) >= amax {
		f++
	}
	f = max(-126, min(f, 126)) // keep the scale a normal float32
	return Params{Scale: float32(math.Ldexp(1, -f))}, f
}

// QuantizeValue is ONNX QuantizeLinear on one value: x/scale in float32 (as
// ONNX Runtime computes it), rounded half to even, plus the zero point,
// saturated to [qmin, qmax].
func QuantizeValue(x float32, p Params, qmin, qmax int32) int32 {
	v := math.RoundToEven(float64(x/p.Scale)) + float64(p.Zero)
	if math.IsNaN(v) {
		return clampZero(float64(p.Zero), qmin, qmax)
	}
	return int32(math.Max(float64(qmin), math.Min(float64(qmax), v)))
}

// DequantizeValue is ONNX DequantizeLinear on one value: (q - zero)·scale in
// float32.
func DequantizeValue(q int32, p Params) float32 {
	return float32(q-p.Zero) * p.Scale
}

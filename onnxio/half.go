package onnxio

import "math"

// Float32 widens h exactly.
func (h F16) Float32() float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1F
	man := uint32(h) & 0x3FF
	switch {
	case exp == 0x1F: // Inf or NaN; keep the payload
		return math.Float32frombits(sign | 0xFF<<23 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: value man * 2^-24, normal as a float32.
	e := uint32(113)
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3FF)<<13)
}

// F16From rounds f to the nearest half, ties to even, as hardware does;
// values beyond the half range become infinities, NaN stays NaN.
func F16From(f float32) F16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xFF
	man := b & 0x7FFFFF
	if exp == 0xFF {
		if man != 0 {
			return F16(sign | 0x7E00 | uint16(man>>13))
		}
		return F16(sign | 0x7C00)
	}
	e := exp - 127 + 15
	if e >= 0x1F {
		return F16(sign | 0x7C00)
	}
	if e <= 0 {
		// Subnormal or zero: shift the implicit 1 in, then round.
		if e < -10 {
			return F16(sign)
		}
		man |= 0x800000
		shift := uint32(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return F16(sign | uint16(h))
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1FFF
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, which is the right result
	}
	return F16(sign | uint16(h))
}

// Float32 widens b exactly.
func (b BF16) Float32() float32 { return math.Float32frombits(uint32(b) << 16) }

// BF16From rounds f to the nearest bfloat16, ties to even; NaN stays NaN.
func BF16From(f float32) BF16 {
	b := math.Float32bits(f)
	if b&0x7FFFFFFF > 0x7F800000 {
		return BF16(b>>16 | 0x40)
	}
	b += 0x7FFF + (b>>16)&1
	return BF16(b >> 16)
}

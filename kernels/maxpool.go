package kernels

import (
	"encoding/binary"
	"fmt"
)

// MaxPool2x2Bytes max-pools n channels-last images of h×w pixels of c
// 8-bit values with 2×2 windows of stride 2 (no padding) into dst (n ×
// h/2 × w/2 × c): int8 values when signed, else uint8. It is the int8
// max-pool of quantized convolutions (a MaxPool between a QuantizeLinear
// and its DequantizeLinear keeps the codes' order). Every path gives the
// same bytes.
func MaxPool2x2Bytes(dst, src []byte, n, h, w, c int, signed bool) {
	oh, ow := h/2, w/2
	if n < 0 || c < 0 || len(src) < n*h*w*c || len(dst) < n*oh*ow*c {
		panic(fmt.Sprintf("kernels: MaxPool2x2Bytes: %d and %d bytes for %d images of %dx%dx%d", len(src), len(dst), n, h, w, c))
	}
	if oh == 0 || ow == 0 || c == 0 {
		return
	}
	row := maxPool2x2RowGo
	if maxPool2x2RowAsm != nil && c%32 == 0 && Int8.activeIndex() >= Int8.index("avx2") {
		row = maxPool2x2RowAsm
	}
	for ni := 0; ni < n; ni++ {
		xi := src[ni*h*w*c : (ni+1)*h*w*c]
		oi := dst[ni*oh*ow*c : (ni+1)*oh*ow*c]
		for oy := 0; oy < oh; oy++ {
			row(oi[oy*ow*c:(oy+1)*ow*c], xi[2*oy*w*c:(2*oy+1)*w*c], xi[(2*oy+1)*w*c:(2*oy+2)*w*c], ow, c, signed)
		}
	}
}

// maxPool2x2RowAsm, where set, is maxPool2x2RowGo for c a multiple of 32.
var maxPool2x2RowAsm func(dst, r0, r1 []byte, ow, c int, signed bool)

// maxPool2x2RowGo pools one output row from input rows r0 and r1, eight
// channels at a time in 64-bit words (int8 compared as uint8 with their
// sign bits flipped).
func maxPool2x2RowGo(dst, r0, r1 []byte, ow, c int, signed bool) {
	var flip uint64
	if signed {
		flip = swarHigh
	}
	fb := byte(flip)
	le := binary.LittleEndian
	for ox := 0; ox < ow; ox++ {
		d := dst[ox*c : (ox+1)*c]
		a, b := r0[2*ox*c:(2*ox+1)*c], r0[(2*ox+1)*c:(2*ox+2)*c]
		e, f := r1[2*ox*c:(2*ox+1)*c], r1[(2*ox+1)*c:(2*ox+2)*c]
		i := 0
		for ; i+8 <= len(d); i += 8 {
			m := MaxU8x8(MaxU8x8(le.Uint64(a[i:])^flip, le.Uint64(b[i:])^flip), MaxU8x8(le.Uint64(e[i:])^flip, le.Uint64(f[i:])^flip))
			le.PutUint64(d[i:], m^flip)
		}
		for ; i < len(d); i++ {
			d[i] = max(max(a[i]^fb, b[i]^fb), max(e[i]^fb, f[i]^fb)) ^ fb
		}
	}
}

// swarHigh is the top bit of each byte of a word.
const swarHigh = 0x8080808080808080

// MaxU8x8 is the bytewise unsigned maximum of a and b. Subtracting b's
// low 7 bits from a's with the top bit set cannot borrow across bytes,
// and leaves each byte's top bit set where a's low bits are >= b's;
// the top bits themselves decide where they differ.
func MaxU8x8(a, b uint64) uint64 {
	lo := (a | swarHigh) - (b &^ swarHigh)
	ge := (a&^b | ^(a^b)&lo) & swarHigh
	m := (ge >> 7) * 0xFF
	return a&m | b&^m
}

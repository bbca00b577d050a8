package kernels

import (
	"encoding/binary"
	"fmt"
)

// TransposeBytes writes src (p rows of n bytes) into dst as n rows of p
// bytes, rows ldd apart, each byte XORed with flip: dst[j*ldd+i] =
// src[i*n+j] ^ flip. It turns an NCHW image into NHWC (p channels of n
// pixels) and back; flip 0x80 also turns int8 into uint8 (v + 128). Bytes
// of dst between its rows are left alone.
//
// Blocks of 8 rows × 16 columns are transposed with byte, word and dword
// unpacks (AVX) where available, blocks of 8×8 in eight 64-bit words in
// Go, the edges byte by byte; every path gives the same bytes.
func TransposeBytes(dst []byte, ldd int, src []byte, p, n int, flip byte) {
	if p <= 0 || n <= 0 {
		return
	}
	if ldd < p || len(src) < p*n || len(dst) < (n-1)*ldd+p {
		panic(fmt.Sprintf("kernels: TransposeBytes: %d×%d into rows %d apart: src %d, dst %d bytes", p, n, ldd, len(src), len(dst)))
	}
	var f16 [16]byte // flip for the assembly
	for i := range f16 {
		f16[i] = flip
	}
	j0 := 0
	if p == 3 && ldd == 3 && n >= 16 && transposeP3Asm(dst, src, n, n/16, &f16) {
		// Three planes (an RGB image) to pixel triples, 16 pixels a step.
		j0 = n &^ 15
	}
	if p == 3 && ldd == 3 {
		for j := j0; j < n; j++ {
			dst[3*j], dst[3*j+1], dst[3*j+2] = src[j]^flip, src[n+j]^flip, src[2*n+j]^flip
		}
		return
	}
	// Columns in tiles whose destination rows stay in cache from one strip
	// of 8 source rows to the next.
	const tile = 256
	p8 := p &^ 7
	for j0 := 0; j0 < n; j0 += tile {
		j1 := min(n, j0+tile)
		for i := 0; i < p8; i += 8 {
			j := j0
			if nb := (j1 - j0) / 16; nb > 0 && transposeStripAsm(dst[j0*ldd+i:], ldd, src[i*n+j0:], n, nb, &f16) {
				j += nb * 16
			}
			for ; j+8 <= j1; j += 8 {
				transpose8x8(dst[j*ldd+i:], ldd, src[i*n+j:], n, flip)
			}
			for ; j < j1; j++ {
				d := dst[j*ldd+i : j*ldd+i+8]
				for r := range d {
					d[r] = src[(i+r)*n+j] ^ flip
				}
			}
		}
	}
	for i := p8; i < p; i++ {
		for j, v := range src[i*n : i*n+n] {
			dst[j*ldd+i] = v ^ flip
		}
	}
}

// TransposeFloat32 is TransposeBytes for float32 without the flip: src is
// p rows of n values, and dst[j*ldd+i] = src[i*n+j] (dst rows ldd >= p
// apart; values between them are not touched). It converts between NCHW
// and NHWC (p channels of n pixels, or the reverse).
func TransposeFloat32(dst []float32, ldd int, src []float32, p, n int) {
	if p <= 0 || n <= 0 {
		return
	}
	if ldd < p || len(src) < p*n || len(dst) < (n-1)*ldd+p {
		panic(fmt.Sprintf("kernels: TransposeFloat32: %d×%d into rows %d apart: src %d, dst %d values", p, n, ldd, len(src), len(dst)))
	}
	const tile = 128 // columns whose destination rows stay in cache
	p8 := p &^ 7
	for j0 := 0; j0 < n; j0 += tile {
		j1 := min(n, j0+tile)
		for i := 0; i < p8; i += 8 {
			j := j0
			if nb := (j1 - j0) / 8; nb > 0 && transposeStripF32Asm(dst[j0*ldd+i:], ldd, src[i*n+j0:], n, nb) {
				j += nb * 8
			}
			for ; j < j1; j++ {
				d := dst[j*ldd+i : j*ldd+i+8]
				for r := range d {
					d[r] = src[(i+r)*n+j]
				}
			}
		}
	}
	for i := p8; i < p; i++ {
		for j, v := range src[i*n : i*n+n] {
			dst[j*ldd+i] = v
		}
	}
}

// transpose8x8 writes the 8×8 bytes at src (rows ls apart) transposed to
// dst (rows ld apart), each byte XORed with flip. Word r holds row r, its
// byte k column k; the rows swap their upper 4 bytes with the lower 4 of
// the rows 4 on, then 2-byte pairs with the rows 2 on, then bytes with
// the next row.
func transpose8x8(dst []byte, ld int, src []byte, ls int, flip byte) {
	_ = src[7*ls+7]
	_ = dst[7*ld+7]
	le := binary.LittleEndian
	x0, x1, x2, x3 := le.Uint64(src), le.Uint64(src[ls:]), le.Uint64(src[2*ls:]), le.Uint64(src[3*ls:])
	x4, x5, x6, x7 := le.Uint64(src[4*ls:]), le.Uint64(src[5*ls:]), le.Uint64(src[6*ls:]), le.Uint64(src[7*ls:])
	const l4, l2, l1 = 0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF
	x0, x4 = x0&l4|x4<<32, x0>>32|x4&^l4
	x1, x5 = x1&l4|x5<<32, x1>>32|x5&^l4
	x2, x6 = x2&l4|x6<<32, x2>>32|x6&^l4
	x3, x7 = x3&l4|x7<<32, x3>>32|x7&^l4
	x0, x2 = x0&l2|(x2&l2)<<16, (x0>>16)&l2|x2&^l2
	x1, x3 = x1&l2|(x3&l2)<<16, (x1>>16)&l2|x3&^l2
	x4, x6 = x4&l2|(x6&l2)<<16, (x4>>16)&l2|x6&^l2
	x5, x7 = x5&l2|(x7&l2)<<16, (x5>>16)&l2|x7&^l2
	x0, x1 = x0&l1|(x1&l1)<<8, (x0>>8)&l1|x1&^l1
	x2, x3 = x2&l1|(x3&l1)<<8, (x2>>8)&l1|x3&^l1
	x4, x5 = x4&l1|(x5&l1)<<8, (x4>>8)&l1|x5&^l1
	x6, x7 = x6&l1|(x7&l1)<<8, (x6>>8)&l1|x7&^l1
	f := uint64(flip) * 0x0101010101010101
	le.PutUint64(dst, x0^f)
	le.PutUint64(dst[ld:], x1^f)
	le.PutUint64(dst[2*ld:], x2^f)
	le.PutUint64(dst[3*ld:], x3^f)
	le.PutUint64(dst[4*ld:], x4^f)
	le.PutUint64(dst[5*ld:], x5^f)
	le.PutUint64(dst[6*ld:], x6^f)
	le.PutUint64(dst[7*ld:], x7^f)
}

package kernels

import "fmt"

// Lookup is the byte-table family: Lookup8, dst[i] = tab[src[i]], the
// integer form of an elementwise operator on 8-bit quantized values, and
// Lookup8x2, its form for two values. Paths: generic (pure Go), neon
// (TBL over four 64-byte register groups; Lookup8x2 in Go), avx2
// (VPSHUFB of the sixteen 16-entry slices, each kept where the high
// nibble selects it; VPGATHERDD) and avx512vbmi (VPERMI2B on the two
// 128-byte halves, blended by the top bit; VPGATHERDD).
var Lookup = newFamily("lookup", "generic", "neon", "avx2", "avx512vbmi")

// Lookup8 writes dst[i] = tab[src[i]]. dst may be src itself (in place)
// but must not overlap it otherwise.
func Lookup8(dst, src []uint8, tab *[256]uint8) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("kernels: Lookup8: %d outputs for %d inputs", len(dst), len(src)))
	}
	done := lookupAsm(dst, src, tab)
	lookupGo(dst[done:], src[done:], tab)
}

func lookupGo(dst, src []uint8, tab *[256]uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = tab[v]
	}
}

// Lookup8x2 writes dst[i] = tab[a[i]<<8 | b[i]]: a binary operator of two
// 8-bit values as a table. dst may be a or b itself but must not overlap
// them otherwise.
func Lookup8x2(dst, a, b []uint8, tab *[1 << 16]uint8) {
	if len(dst) != len(a) || len(dst) != len(b) {
		panic(fmt.Sprintf("kernels: Lookup8x2: %d outputs for %d and %d inputs", len(dst), len(a), len(b)))
	}
	done := lookup2Asm(dst, a, b, tab)
	lookup2Go(dst[done:], a[done:], b[done:], tab)
}

func lookup2Go(dst, a, b []uint8, tab *[1 << 16]uint8) {
	dst, b = dst[:len(a)], b[:len(a)]
	for i, x := range a {
		dst[i] = tab[uint16(x)<<8|uint16(b[i])]
	}
}

package kernels

import "fmt"

// Lookup is the byte-table family: Lookup8, dst[i] = tab[src[i]], the
// integer form of an elementwise operator on 8-bit quantized values.
// Paths: generic (pure Go), neon (TBL over four 64-byte register
// groups), avx2 (VPSHUFB of the sixteen 16-entry slices, each kept where
// the high nibble selects it) and avx512vbmi (VPERMI2B on the two
// 128-byte halves, blended by the top bit).
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

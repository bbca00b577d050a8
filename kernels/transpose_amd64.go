//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:noescape
func transposeStrip8x16AVX(dst *byte, ld int, src *byte, ls, nblk int, flip *[16]byte)

//go:noescape
func transposeStrip8x8F32AVX(dst *float32, ld int, src *float32, ls, nblk int)

//go:noescape
func transposeP3AVX(dst *byte, src *byte, n, nblk int, flip *[16]byte)

var transposeAVX = cpu.X86.HasAVX

// transposeStripAsm transposes nblk blocks of 8 rows × 16 columns (src
// rows ls apart, dst rows ld apart), XORing each byte with flip[0], where
// the CPU and the active path allow, and reports whether it did.
func transposeStripAsm(dst []byte, ld int, src []byte, ls, nblk int, flip *[16]byte) bool {
	if !transposeAVX || ActivePath() == PathGeneric {
		return false
	}
	_ = src[7*ls+nblk*16-1]
	_ = dst[(nblk*16-1)*ld+7]
	transposeStrip8x16AVX(&dst[0], ld, &src[0], ls, nblk, flip)
	return true
}

// transposeStripF32Asm is transposeStripAsm for float32 blocks of 8 rows
// × 8 columns.
func transposeStripF32Asm(dst []float32, ld int, src []float32, ls, nblk int) bool {
	if !transposeAVX || ActivePath() == PathGeneric {
		return false
	}
	_ = src[7*ls+nblk*8-1]
	_ = dst[(nblk*8-1)*ld+7]
	transposeStrip8x8F32AVX(&dst[0], ld, &src[0], ls, nblk)
	return true
}

// transposeP3Asm turns nblk blocks of 16 pixels of three planes (n bytes
// apart) into pixel triples, XORed with flip[0], where the CPU and the
// active path allow, and reports whether it did.
func transposeP3Asm(dst []byte, src []byte, n, nblk int, flip *[16]byte) bool {
	if !transposeAVX || ActivePath() == PathGeneric {
		return false
	}
	_ = src[2*n+nblk*16-1]
	_ = dst[nblk*48-1]
	transposeP3AVX(&dst[0], &src[0], n, nblk, flip)
	return true
}

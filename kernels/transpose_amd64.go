//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:noescape
func transposeStrip8x16AVX(dst *byte, ld int, src *byte, ls, nblk int, flip *[16]byte)

//go:noescape
func transposeStrip8x8F32AVX(dst *float32, ld int, src *float32, ls, nblk int)

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

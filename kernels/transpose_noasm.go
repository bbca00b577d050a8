//go:build purego || !amd64

package kernels

// transposeStripAsm has no assembly here: TransposeBytes runs in Go.
func transposeStripAsm(dst []byte, ld int, src []byte, ls, nblk int, flip *[16]byte) bool {
	return false
}

// transposeStripF32Asm has no assembly here: TransposeFloat32 runs in Go.
func transposeStripF32Asm(dst []float32, ld int, src []float32, ls, nblk int) bool {
	return false
}

// transposeP3Asm has no assembly here.
func transposeP3Asm(dst []byte, src []byte, n, nblk int, flip *[16]byte) bool {
	return false
}

//go:build purego || !amd64

package kernels

// transposeStripAsm has no assembly here: TransposeBytes runs in Go.
func transposeStripAsm(dst []byte, ld int, src []byte, ls, nblk int, flip *[16]byte) bool {
	return false
}

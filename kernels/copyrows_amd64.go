//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:noescape
func copyRowsAVX512(dst, src *float32, rows, n, dstStride, srcStride, step int)

var copyRowsAsmOK = cpu.X86.HasAVX512F

// copyRowsAsm runs CopyRows in assembly where it can and reports whether
// it did.
func copyRowsAsm(dst, src []float32, rows, n, dstStride, srcStride, step int) bool {
	if !copyRowsAsmOK || ActivePath() != PathAVX512 || (step != 1 && step != 2) {
		return false
	}
	copyRowsAVX512(&dst[0], &src[0], rows, n, dstStride, srcStride, step)
	return true
}

//go:noescape
func copyByteRowsAVX512(dst, src *byte, rows, n, dstStride, srcStride int, x byte)

var copyByteRowsAsmOK = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW

// copyByteRowsAsm runs copyByteRowsXor in assembly where it can and reports
// whether it did.
func copyByteRowsAsm(dst, src []byte, rows, n, dstStride, srcStride int, x byte) bool {
	if !copyByteRowsAsmOK || ActivePath() != PathAVX512 {
		return false
	}
	copyByteRowsAVX512(&dst[0], &src[0], rows, n, dstStride, srcStride, x)
	return true
}

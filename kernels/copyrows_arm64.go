//go:build !purego

package kernels

//go:noescape
func copyRowsNEON(dst, src *float32, rows, n, dstStride, srcStride, step int)

// copyRowsAsm runs CopyRows in assembly on the NEON path (steps 1 and 2)
// and reports whether it did.
func copyRowsAsm(dst, src []float32, rows, n, dstStride, srcStride, step int) bool {
	if ActivePath() != PathNEON || (step != 1 && step != 2) {
		return false
	}
	copyRowsNEON(&dst[0], &src[0], rows, n, dstStride, srcStride, step)
	return true
}

// copyByteRowsAsm: copyByteRowsXor runs in Go on arm64.
func copyByteRowsAsm(dst, src []byte, rows, n, dstStride, srcStride int, x byte) bool { return false }

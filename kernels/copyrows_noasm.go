//go:build purego || !(amd64 || arm64)

package kernels

// copyRowsAsm has no assembly here: CopyRows runs in Go.
func copyRowsAsm(dst, src []float32, rows, n, dstStride, srcStride, step int) bool { return false }

// copyByteRowsAsm has no assembly here: copyByteRowsXor runs in Go.
func copyByteRowsAsm(dst, src []byte, rows, n, dstStride, srcStride int, x byte) bool { return false }

package kernels

import "fmt"

// CopyRows copies rows rows of n elements taken every step elements:
// dst[r*dstStride + j] = src[r*srcStride + j*step] for r < rows, j < n.
// It is the gather that lays an image out by stride phase for a
// convolution (one call per channel and phase instead of one per row);
// elements of dst between the rows are left alone.
func CopyRows(dst, src []float32, rows, n, dstStride, srcStride, step int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if step < 1 || dstStride < n || srcStride < 0 {
		panic(fmt.Sprintf("kernels: CopyRows: step %d, n %d, strides %d, %d", step, n, dstStride, srcStride))
	}
	if need := (rows-1)*dstStride + n; len(dst) < need {
		panic(fmt.Sprintf("kernels: CopyRows: dst has %d elements, want %d", len(dst), need))
	}
	if need := (rows-1)*srcStride + (n-1)*step + 1; len(src) < need {
		panic(fmt.Sprintf("kernels: CopyRows: src has %d elements, want %d", len(src), need))
	}
	if copyRowsAsm(dst, src, rows, n, dstStride, srcStride, step) {
		return
	}
	for r := 0; r < rows; r++ {
		d := dst[r*dstStride : r*dstStride+n]
		s := src[r*srcStride:]
		if step == 1 {
			copy(d, s[:n])
			continue
		}
		s = s[:(n-1)*step+1]
		for j := range d {
			d[j] = s[j*step]
		}
	}
}

// CopyByteRows copies rows rows of n bytes: dst[r*dstStride + j] =
// src[r*srcStride + j] for r < rows, j < n (source rows may overlap, as
// an unfolding's kernel rows do; bytes of dst between the rows are left
// alone). Short rows are one masked vector move each where the CPU has
// them, several times faster than a copy call per row.
func CopyByteRows(dst, src []byte, rows, n, dstStride, srcStride int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if dstStride < n || srcStride < 0 {
		panic(fmt.Sprintf("kernels: CopyByteRows: n %d, strides %d, %d", n, dstStride, srcStride))
	}
	if need := (rows-1)*dstStride + n; len(dst) < need {
		panic(fmt.Sprintf("kernels: CopyByteRows: dst has %d bytes, want %d", len(dst), need))
	}
	if need := (rows-1)*srcStride + n; len(src) < need {
		panic(fmt.Sprintf("kernels: CopyByteRows: src has %d bytes, want %d", len(src), need))
	}
	copyByteRowsXor(dst, src, rows, n, dstStride, srcStride, 0)
}

// copyByteRowsXor is CopyByteRows with each byte XOR x (0x80 turns int8
// codes into uint8 ones), its bounds checked by the caller.
func copyByteRowsXor(dst, src []byte, rows, n, dstStride, srcStride int, x byte) {
	if copyByteRowsAsm(dst, src, rows, n, dstStride, srcStride, x) {
		return
	}
	for r := 0; r < rows; r++ {
		xorCopy(dst[r*dstStride:r*dstStride+n], src[r*srcStride:r*srcStride+n], x)
	}
}

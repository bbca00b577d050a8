package kernels

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// CopyRows on every path equals a plain loop, never writes between or
// around the rows, and never needs more source than the rows read (the
// source ends exactly at the last element read).
func TestCopyRows(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 15))
	for trial := 0; trial < 500; trial++ {
		rows, n, step := 1+r.IntN(5), 1+r.IntN(70), 1+r.IntN(3)
		dstStride, srcStride := n+r.IntN(4), (n-1)*step+1+r.IntN(5)
		src := randSlice(r, (rows-1)*srcStride+(n-1)*step+1, 0)
		want := make([]float32, (rows-1)*dstStride+n+2)
		for i := range want {
			want[i] = sentinel
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < n; j++ {
				want[1+i*dstStride+j] = src[i*srcStride+j*step]
			}
		}
		for _, p := range SupportedPaths() {
			got := make([]float32, len(want))
			for i := range got {
				got[i] = sentinel
			}
			withPath(t, p, func() { CopyRows(got[1:len(got)-1], src, rows, n, dstStride, srcStride, step) })
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v rows %d n %d step %d strides %d,%d: [%d] = %g, want %g", p, rows, n, step, dstStride, srcStride, i, got[i], want[i])
				}
			}
		}
	}
}

// CopyByteRows (and its XOR form) on every path equals a plain loop,
// never writes between or around the rows, and reads no byte past the
// last row's end (the source ends there), with source rows overlapping
// (srcStride < n) and rows longer than a vector.
func TestCopyByteRows(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 17))
	for trial := 0; trial < 1000; trial++ {
		rows, n := 1+r.IntN(6), 1+r.IntN(200)
		if r.IntN(2) == 0 {
			n = 1 + r.IntN(16)
		}
		dstStride, srcStride := n+r.IntN(30), r.IntN(n+5)
		src := make([]byte, (rows-1)*srcStride+n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		want := make([]byte, (rows-1)*dstStride+n+2)
		for i := range want {
			want[i] = 0xA5
		}
		x := []byte{0, 0x80, byte(r.Uint32())}[r.IntN(3)]
		for i := 0; i < rows; i++ {
			for j := 0; j < n; j++ {
				want[1+i*dstStride+j] = src[i*srcStride+j] ^ x
			}
		}
		for _, p := range SupportedPaths() {
			got := make([]byte, len(want))
			for i := range got {
				got[i] = 0xA5
			}
			withPath(t, p, func() {
				if x == 0 {
					CopyByteRows(got[1:len(got)-1], src, rows, n, dstStride, srcStride)
				} else {
					copyByteRowsXor(got[1:len(got)-1], src, rows, n, dstStride, srcStride, x)
				}
			})
			if !bytes.Equal(got, want) {
				t.Fatalf("%v rows %d n %d strides %d,%d xor %#x: got %v, want %v", p, rows, n, dstStride, srcStride, x, got, want)
			}
		}
	}
}

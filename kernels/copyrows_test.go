package kernels

import (
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

//go:build arm64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// neonVals fills s with values that stress bit-exactness: signalling and
// quiet NaNs with payloads, ±0, ±Inf, subnormals, values near the clamps.
func neonVals(r *rand.Rand, s []float32) []float32 {
	special := []float32{math.Float32frombits(0x7fc0dead), math.Float32frombits(0xffc01234), math.Float32frombits(0x7f800001), math.Float32frombits(0xff800123),
		0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-40, 3, -3, 6, 1}
	for i := range s {
		if r.IntN(3) == 0 {
			s[i] = special[r.IntN(len(special))]
		} else {
			s[i] = r.Float32()*16 - 8
		}
	}
	return s
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if !sameFloat(got[i], want[i]) {
			t.Fatalf("%s: [%d] = %g (%#x), want %g (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// Every length 0..40 of the NEON Elementwise, TapSum, CopyRows and row
// epilogue kernels (the vector loops and the Go tails), with every input
// ending at an inaccessible page (nothing is read past the operands) and
// the outputs compared bit for bit with the Go forms, guards included.
func TestNEONTails(t *testing.T) {
	if ok, _ := Supported(PathNEON); !ok {
		t.Skip("no ASIMD")
	}
	r := rand.New(rand.NewPCG(21, 22))
	withPath(t, PathNEON, func() {
		for n := 0; n <= 40; n++ {
			// Elementwise.
			for op := ElemOp(0); op < numElemOps; op++ {
				for form := 0; form < 3; form++ {
					if n == 0 && form != 0 {
						continue
					}
					la, lb := n, n
					if form == 1 {
						lb = 1
					}
					if form == 2 {
						la = 1
					}
					a, b := neonVals(r, guarded(t, la)), neonVals(r, guarded(t, lb))
					want := make([]float32, n+1)
					want[n] = sentinel
					elementwiseGo(op, form, want[:n], a, b, 0)
					got := make([]float32, n+1)
					got[n] = sentinel
					Elementwise(op, got[:n], a, b)
					sameBits(t, "Elementwise", got, want)
				}
			}
			// TapSum: the last tap's window ends at the guard page.
			for _, taps := range []int{1, 2, 9} {
				extra := r.IntN(20)
				data := neonVals(r, guarded(t, n+extra))
				off := make([]int, taps)
				w := neonVals(r, make([]float32, taps))
				for i := range off {
					off[i] = r.IntN(extra + 1)
				}
				off[taps-1] = extra
				want := make([]float32, n+1)
				want[n] = sentinel
				tapSumGo(want[:n], data, off, w, 0)
				got := make([]float32, n+1)
				got[n] = sentinel
				TapSum(got[:n], data, off, w)
				sameBits(t, "TapSum", got, want)
			}
			// CopyRows: the source ends at its last element read.
			for _, step := range []int{1, 2} {
				for rows := 1; rows <= 3 && n > 0; rows++ {
					dstStride, srcStride := n+r.IntN(3), (n-1)*step+1+r.IntN(3)
					src := neonVals(r, guarded(t, (rows-1)*srcStride+(n-1)*step+1))
					want := make([]float32, (rows-1)*dstStride+n+1)
					for i := range want {
						want[i] = sentinel
					}
					for i := 0; i < rows; i++ {
						for j := 0; j < n; j++ {
							want[i*dstStride+j] = src[i*srcStride+j*step]
						}
					}
					got := make([]float32, len(want))
					for i := range got {
						got[i] = sentinel
					}
					CopyRows(got, src, rows, n, dstStride, srcStride, step)
					sameBits(t, "CopyRows", got, want)
				}
			}
			// Row epilogue, residual ending at the guard page.
			for _, a := range []struct {
				act         Activation
				alpha, beta float32
			}{{ActNone, 0, 0}, {ActRelu, 0, 0}, {ActClip, 0, 6}, {ActClip, math.Float32frombits(0x7fc00bad), 1}, {ActHardSigmoid, 0.2, 0.5}, {ActHardSwish, 0, 0}, {ActLeakyRelu, 0.01, 0}, {ActLeakyRelu, math.Float32frombits(0xffc0beef), 0}} {
				for variant := 0; variant < 4; variant++ {
					row := neonVals(r, make([]float32, n+1))[:n]
					bv := neonVals(r, make([]float32, 1))[0]
					var bias *float32
					if variant&1 != 0 {
						bias = &bv
					}
					var res []float32
					if variant&2 != 0 {
						res = neonVals(r, guarded(t, n))
					}
					want := append([]float32(nil), row[:n+1]...)
					biasActRowGo(want[:n], bias, res, a.act, a.alpha, a.beta)
					got := append([]float32(nil), row[:n+1]...)
					if !biasActRow(got[:n], bias, res, a.act, a.alpha, a.beta) {
						if n >= 4 {
							t.Fatalf("biasActRow declined n=%d act %v", n, a.act)
						}
						biasActRowGo(got[:n], bias, res, a.act, a.alpha, a.beta)
					}
					sameBits(t, "biasActRow", got, want)
				}
			}
		}
	})
}

// Forcing the generic path runs Go for every family (no assembly is
// reached: biasActRow declines).
func TestNEONGenericDeclines(t *testing.T) {
	withPath(t, PathGeneric, func() {
		row := make([]float32, 16)
		if biasActRow(row, nil, nil, ActRelu, 0, 0) {
			t.Fatal("biasActRow ran assembly on the generic path")
		}
		if elementwiseAsm(ElemAdd, 0, row, row, row) != 0 || tapSumAsm(row, row, []int{0}, row[:1]) != 0 || copyRowsAsm(row, row, 1, 16, 16, 16, 1) {
			t.Fatal("assembly ran on the generic path")
		}
	})
}

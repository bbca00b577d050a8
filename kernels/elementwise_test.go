package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Every path's Elementwise is bit-identical to the Go loops (NaN payloads
// included), for each operator and operand form, and never writes past
// dst.
func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	special := []float32{float32(math.NaN()), math.Float32frombits(0xffc01234), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-40}
	val := func() float32 {
		if r.IntN(6) == 0 {
			return special[r.IntN(len(special))]
		}
		return r.Float32()*8 - 4
	}
	for trial := 0; trial < 400; trial++ {
		n := r.IntN(100)
		op, form := ElemOp(r.IntN(int(numElemOps))), r.IntN(3)
		if n == 0 {
			form = 0
		}
		a, b := make([]float32, n), make([]float32, n)
		if form == 1 {
			b = b[:1]
		}
		if form == 2 {
			a = a[:1]
		}
		for i := range a {
			a[i] = val()
		}
		for i := range b {
			b[i] = val()
		}
		want := make([]float32, n)
		elementwiseGo(op, form, want, a, b, 0)
		for _, p := range SupportedPaths() {
			buf := make([]float32, n+2)
			buf[0], buf[n+1] = sentinel, sentinel
			withPath(t, p, func() { Elementwise(op, buf[1:n+1], a, b) })
			if math.Float32bits(buf[0]) != sentinelBits || math.Float32bits(buf[n+1]) != sentinelBits {
				t.Fatalf("%v op %d form %d n %d: guard overwritten", p, op, form, n)
			}
			for i, v := range buf[1 : n+1] {
				if !sameFloat(v, want[i]) {
					t.Fatalf("%v op %d form %d n %d: [%d] = %g (%#x), Go %g (%#x); a %#x b %#x", p, op, form, n, i, v, math.Float32bits(v), want[i], math.Float32bits(want[i]), math.Float32bits(a[min(i, len(a)-1)]), math.Float32bits(b[min(i, len(b)-1)]))
				}
			}
		}
	}
}

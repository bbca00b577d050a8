package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The assembly row epilogue is bit-identical to the Go one, on special
// values too (NaN, ±0, ±Inf), for every length and activation it takes.
func TestBiasActRow(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	special := []float32{math.Float32frombits(0x7fc0dead), math.Float32frombits(0xffc01234), math.Float32frombits(0x7f800001), math.Float32frombits(0xff800123), 0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45, 6, -6}
	val := func() float32 {
		if r.IntN(4) == 0 {
			return special[r.IntN(len(special))]
		}
		return r.Float32()*16 - 8
	}
	acts := []struct {
		act         Activation
		alpha, beta float32
	}{{ActNone, 0, 0}, {ActRelu, 0, 0}, {ActClip, 0, 6}, {ActClip, -1, 1}, {ActClip, float32(math.Copysign(0, -1)), 0}, {ActClip, float32(math.NaN()), 2}, {ActHardSwish, 0, 0}, {ActHardSigmoid, 0.2, 0.5}, {ActHardSigmoid, -3, 0.1}, {ActLeakyRelu, 0.1, 0}}
	for n := 0; n < 70; n++ {
		for _, a := range acts {
			for variant := 0; variant < 4; variant++ {
				row := make([]float32, n)
				res := make([]float32, n)
				for i := range row {
					row[i], res[i] = val(), val()
				}
				bv := val()
				var bias *float32
				if variant&1 != 0 {
					bias = &bv
				}
				var rs []float32
				if variant&2 != 0 {
					rs = res
				}
				want := append([]float32(nil), row...)
				biasActRowGo(want, bias, rs, a.act, a.alpha, a.beta)
				for _, p := range SupportedPaths() {
					// Guards after the row catch a store past its end.
					buf := append(append([]float32(nil), row...), sentinel, sentinel, sentinel, sentinel, sentinel, sentinel, sentinel, sentinel,
						sentinel, sentinel, sentinel, sentinel, sentinel, sentinel, sentinel, sentinel)
					got := buf[:n:n]
					var ok bool
					withPath(t, p, func() { ok = biasActRow(got, bias, rs, a.act, a.alpha, a.beta) })
					if !ok {
						continue
					}
					for _, g := range buf[n:] {
						if math.Float32bits(g) != sentinelBits {
							t.Fatalf("%v n=%d act=%v: wrote past the row", p, n, a.act)
						}
					}
					for i := range got {
						if !sameFloat(got[i], want[i]) {
							t.Fatalf("%v n=%d act=%v(%g,%g) bias=%v res=%v: [%d] %g+%v+%g -> %g (%#x), Go %g (%#x)", p, n, a.act, a.alpha, a.beta,
								bias != nil, rs != nil, i, row[i], bv, res[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
						}
					}
				}
			}
		}
	}
}

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Every path's TapSum is bit-identical to the Go form, never writes
// outside out, and the Go form agrees with a float64 reference.
func TestTapSum(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	special := []float32{float32(math.NaN()), math.Float32frombits(0xffc01234), float32(math.Inf(1)), float32(math.Copysign(0, -1)), 1e-40}
	for trial := 0; trial < 300; trial++ {
		n, taps := r.IntN(140), r.IntN(12)
		if trial%50 == 0 {
			n = 1000 + r.IntN(70)
		}
		data := randSlice(r, n+r.IntN(200)+1, 0)
		hard := trial%7 == 0
		if hard {
			for i := range data {
				if r.IntN(10) == 0 {
					data[i] = special[r.IntN(len(special))]
				}
			}
		}
		off := make([]int, taps)
		w := randSlice(r, taps, 0)
		for i := range off {
			off[i] = r.IntN(len(data) - n + 1)
		}
		const guard = 5
		var want []float32
		for _, p := range SupportedPaths() {
			buf := make([]float32, n+2*guard)
			for i := range buf {
				buf[i] = sentinel
			}
			withPath(t, p, func() { TapSum(buf[guard:guard+n], data, off, w) })
			for i := range guard {
				if math.Float32bits(buf[i]) != sentinelBits || math.Float32bits(buf[guard+n+i]) != sentinelBits {
					t.Fatalf("%v n=%d taps=%d: guard overwritten", p, n, taps)
				}
			}
			got := buf[guard : guard+n]
			if want == nil {
				want = append([]float32(nil), got...)
				for i := 0; i < n && !hard; i++ {
					var s, mag float64
					for k, o := range off {
						s += float64(w[k]) * float64(data[o+i])
						mag += math.Abs(float64(w[k]) * float64(data[o+i]))
					}
					if math.Abs(float64(got[i])-s) > 1e-6*mag*float64(taps+1)+1e-30 {
						t.Fatalf("n=%d taps=%d: out[%d] = %g, float64 %g", n, taps, i, got[i], s)
					}
				}
				continue
			}
			for i := range got {
				if !sameFloat(got[i], want[i]) {
					t.Fatalf("%v n=%d taps=%d: out[%d] = %g (%#x), generic %g (%#x)", p, n, taps, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
		}
	}
}

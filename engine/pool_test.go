package engine

import (
	"math"
	"math/rand"
	"testing"
)

// The whole-plane MaxPool for tiling windows gives the row-by-row
// result bit for bit, NaNs and signed zeros included, on every shape.
func TestMaxPoolTiled(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	special := []float32{float32(math.NaN()), float32(math.Copysign(0, -1)), 0, float32(math.Inf(-1))}
	for it := 0; it < 300; it++ {
		k := 1 + r.Intn(3)
		g := convGeom{kh: k, kw: 1 + r.Intn(3), sh: k, dh: 1, dw: 1}
		g.sw = g.kw
		h, w := 1+r.Intn(40), 1+r.Intn(40)
		oh, ow := outSize(h, g.kh, g.sh, 1, 0, 0, false), outSize(w, g.kw, g.sw, 1, 0, 0, false)
		if oh <= 0 || ow <= 0 {
			continue
		}
		src := make([]float32, h*w)
		for i := range src {
			src[i] = r.Float32()*2 - 1
			if r.Intn(20) == 0 {
				src[i] = special[r.Intn(len(special))]
			}
		}
		want, got := make([]float32, oh*ow), make([]float32, oh*ow)
		maxPoolPlane(src, want, make([]float32, w), h, w, oh, ow, g)
		maxPoolTiled(src, got, make([]float32, 2*oh*w), make([]float32, oh*ow), w, oh, ow, g)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%dx%d window %dx%d: [%d] = %g, row by row %g", h, w, g.kh, g.kw, i, got[i], want[i])
			}
		}
	}
}

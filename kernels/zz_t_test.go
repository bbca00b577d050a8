package kernels

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestTimeTmp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][3]int{{1024, 1024, 1024}, {256, 3136, 576}} {
		m, n, k := s[0], s[1], s[2]
		for _, p := range []string{"avx2", "avx512vnni"} {
			Int16.Set(p)
			for _, lim := range []int32{32767, 511} {
				a, w := randI16(r, m*k, 32767, false), randI16(r, n*k, lim, false)
				pw := PackInt16Weights(n, k, w, k)
				out := &I16Output{Int64: make([]int64, m*n), Ldc: n}
				best := time.Hour
				for i := 0; i < 15; i++ {
					t0 := time.Now()
					GemmInt16(m, a, k, pw, out, 1)
					best = min(best, time.Since(t0))
				}
				t.Logf("%v %s max%d: %.0f GOPS", s, p, lim, 2*float64(m*n*k)/best.Seconds()/1e9)
			}
		}
	}
}

//go:build !purego

package kernels

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// The hand-encoded VEX VPDPBUSD (AVX-VNNI) against a Go dot product, on
// registers whose numbers set each VEX prefix bit both ways.
func TestVEXVPDPBUSD(t *testing.T) {
	if !cpu.X86.HasAVXVNNI || !cpu.X86.HasAVX2 {
		t.Skip("no AVX-VNNI")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 1000; it++ {
		var acc, a, w, want [8]int32
		for i := range acc {
			acc[i], a[i], w[i] = int32(r.Uint32()), int32(r.Uint32()), int32(r.Uint32())
			if it == 0 { // the extremes: 255 × -128 in every byte
				a[i], w[i] = -1, int32(-0x7f7f7f80)
			}
			var d int32
			for b := 0; b < 32; b += 8 {
				d += int32(uint8(a[i]>>b)) * int32(int8(w[i]>>b))
			}
			want[i] = acc[i] + 2*d
		}
		qvexTest_avxvnni(&acc, &a, &w)
		if acc != want {
			t.Fatalf("VEX VPDPBUSD: got %v, want %v", acc, want)
		}
	}
}

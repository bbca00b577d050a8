package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// QArithBytes on every quantize path against the float computation
// written out here (DequantizeLinear, the operator, QuantizeLinear, each
// rounded to float32), over every operator and signedness, scales from
// tiny to huge (saturating), lengths around the 16-code step.
func TestQArithBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	for trial := 0; trial < 300; trial++ {
		p := QArith{Op: "+-*"[r.IntN(3)], SignedA: r.IntN(2) == 0, SignedB: r.IntN(2) == 0, SignedOut: r.IntN(2) == 0,
			ScaleA: float32(math.Exp(r.NormFloat64() * 2)), ScaleB: float32(math.Exp(r.NormFloat64() * 2)),
			ScaleOut: float32(math.Exp(r.NormFloat64() * 3))}
		z := func(signed bool) int32 {
			if signed {
				return int32(r.IntN(256)) - 128
			}
			return int32(r.IntN(256))
		}
		p.ZeroA, p.ZeroB, p.ZeroOut = z(p.SignedA), z(p.SignedB), z(p.SignedOut)
		n := []int{1, 15, 16, 17, 64, 100}[r.IntN(6)]
		a, b := make([]byte, n), make([]byte, n)
		for i := range a {
			a[i], b[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		lo, hi := int32(0), int32(255)
		if p.SignedOut {
			lo, hi = -128, 127
		}
		want := make([]byte, n)
		for i := range want {
			fa := float32(float32(code(a[i], p.SignedA)-p.ZeroA) * p.ScaleA)
			fb := float32(float32(code(b[i], p.SignedB)-p.ZeroB) * p.ScaleB)
			y := map[byte]float32{'+': fa + fb, '-': fa - fb, '*': fa * fb}[p.Op]
			q := float64(y / p.ScaleOut)
			want[i] = byte(int32(min(float64(hi), max(float64(lo), math.RoundToEven(q)+float64(p.ZeroOut)))))
		}
		for _, path := range Quantize.SupportedPaths() {
			old := Quantize.Active()
			if err := Quantize.Set(path); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, n+8)
			for i := range got {
				got[i] = 0xA5
			}
			QArithBytes(got[:n], a, b, &p)
			Quantize.Set(old)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %+v: code %d (a %d, b %d) = %d, want %d", path, p, i, a[i], b[i], got[i], want[i])
				}
			}
			for i := n; i < len(got); i++ {
				if got[i] != 0xA5 {
					t.Fatalf("%s: guard byte %d written", path, i)
				}
			}
		}
	}
}

// SumDequantized on every quantize path against the row-by-row float
// loop, channel counts around the 16-lane step, int8 and uint8, with
// guards past the accumulators.
func TestSumDequantized(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	for trial := 0; trial < 100; trial++ {
		c, rows := []int{1, 3, 8, 15, 16, 17, 88, 200}[r.IntN(8)], 1+r.IntN(40)
		signed := r.IntN(2) == 0
		scale := float32(math.Exp(r.NormFloat64() * 2))
		zp := int32(r.IntN(256))
		if signed {
			zp -= 128
		}
		q := make([]byte, rows*c)
		for i := range q {
			q[i] = byte(r.Uint32())
		}
		start := make([]float32, c)
		for i := range start {
			start[i] = float32(r.NormFloat64())
		}
		want := slices.Clone(start)
		for row := 0; row < rows; row++ {
			for ch := range want {
				want[ch] += float32(float32(code(q[row*c+ch], signed)-zp) * scale)
			}
		}
		for _, path := range Quantize.SupportedPaths() {
			old := Quantize.Active()
			if err := Quantize.Set(path); err != nil {
				t.Fatal(err)
			}
			// Guards after the accumulators must keep their value.
			got := append(slices.Clone(start), 7, 7, 7)
			SumDequantized(got[:c], q, rows, signed, scale, zp)
			Quantize.Set(old)
			if !slices.Equal(got[c:], []float32{7, 7, 7}) {
				t.Fatalf("%s c=%d: wrote past the accumulators: %v", path, c, got[c:])
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s c=%d rows=%d signed=%v: channel %d = %v, want %v", path, c, rows, signed, i, got[i], want[i])
				}
			}
		}
	}
}

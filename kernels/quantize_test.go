package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refQuantize is ONNX QuantizeLinear of one value, written out
// independently: saturate(round_half_even(x/scale) + zp), with NaN at the
// low end (ONNX Runtime's result).
func refQuantize(x, scale float32, zp, lo, hi int32) int64 {
	q := float64(x / scale)
	if math.IsNaN(q) {
		return int64(lo)
	}
	r := math.Floor(q)
	if d := q - r; d > 0.5 || (d == 0.5 && math.Mod(r, 2) != 0) {
		r++
	}
	v := r + float64(zp)
	switch {
	case v < float64(lo):
		return int64(lo)
	case v > float64(hi):
		return int64(hi)
	}
	return int64(v)
}

// quantizeInputs are values with NaN, ±Inf, ±0, exact ties at the scale,
// values far beyond any range and ordinary ones.
func quantizeInputs(r *rand.Rand, n int, scale float32, span float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(8) {
		case 0:
			x[i] = float32([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1e30, -1e30}[r.IntN(7)])
		case 1, 2:
			x[i] = (float32(r.IntN(2001)-1000) + 0.5) * scale
		default:
			x[i] = float32((r.Float64() - 0.5) * span)
		}
	}
	return x
}

// Every path of the Quantize family gives ONNX's QuantizeLinear and
// DequantizeLinear for every type and length (vector bodies and tails),
// writing nothing outside the output.
func TestQuantizeLinearPaths(t *testing.T) {
	withFamilyPath(t, Quantize, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		const guard = guardWords
		for _, tc := range []struct {
			t      qtype
			lo, hi int32
		}{
			{qInt8, -128, 127}, {qInt8, -8, 7}, {qUint8, 0, 255}, {qUint8, 0, 15}, {qInt8, -128, 0},
			{qInt16, -32768, 32767}, {qUint16, 0, 65535},
		} {
			for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 33, 64, 100, 1000} {
				scale := float32(math.Ldexp(1, r.IntN(9)-4)) // ties exact
				if r.IntN(2) == 0 {
					scale *= 0.37
				}
				zp := tc.lo + r.Int32N(tc.hi-tc.lo+1)
				x := quantizeInputs(r, n, scale, 3*float64(tc.hi-tc.lo)*float64(scale))
				want := make([]int64, n)
				for i, v := range x {
					want[i] = refQuantize(v, scale, zp, tc.lo, tc.hi)
				}
				got := make([]int64, n)
				var wantF []float32
				var gotF = make([]float32, n+2*guard)
				sentinel := float32(-12345.5)
				for i := range gotF {
					gotF[i] = sentinel
				}
				deq := gotF[guard : guard+n]
				wantGuard := int64(0x5A)
				switch tc.t {
				case qInt8:
					buf := make([]int8, n+2*guard)
					for i := range buf {
						buf[i] = int8(wantGuard)
					}
					QuantizeInt8(buf[guard:guard+n], x, scale, zp, tc.lo, tc.hi)
					checkGuards(t, "quantize", buf, int8(wantGuard))
					for i, v := range buf[guard : guard+n] {
						got[i] = int64(v)
					}
					DequantizeInt8(deq, buf[guard:guard+n], scale, zp)
				case qUint8:
					buf := make([]uint8, n+2*guard)
					for i := range buf {
						buf[i] = uint8(wantGuard)
					}
					QuantizeUint8(buf[guard:guard+n], x, scale, zp, tc.lo, tc.hi)
					checkGuards(t, "quantize", buf, uint8(wantGuard))
					for i, v := range buf[guard : guard+n] {
						got[i] = int64(v)
					}
					DequantizeUint8(deq, buf[guard:guard+n], scale, zp)
				case qInt16:
					buf := make([]int16, n+2*guard)
					for i := range buf {
						buf[i] = int16(wantGuard)
					}
					QuantizeInt16(buf[guard:guard+n], x, scale, zp, tc.lo, tc.hi)
					checkGuards(t, "quantize", buf, int16(wantGuard))
					for i, v := range buf[guard : guard+n] {
						got[i] = int64(v)
					}
					DequantizeInt16(deq, buf[guard:guard+n], scale, zp)
				case qUint16:
					buf := make([]uint16, n+2*guard)
					for i := range buf {
						buf[i] = uint16(wantGuard)
					}
					QuantizeUint16(buf[guard:guard+n], x, scale, zp, tc.lo, tc.hi)
					checkGuards(t, "quantize", buf, uint16(wantGuard))
					for i, v := range buf[guard : guard+n] {
						got[i] = int64(v)
					}
					DequantizeUint16(deq, buf[guard:guard+n], scale, zp)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("type %d [%d, %d] n %d scale %v zp %d: q(%v) = %d, want %d", tc.t, tc.lo, tc.hi, n, scale, zp, x[i], got[i], want[i])
					}
				}
				for i, q := range want {
					wantF = append(wantF, float32(float64(q)-float64(zp))*scale)
					if math.Float32bits(deq[i]) != math.Float32bits(wantF[i]) {
						t.Fatalf("type %d n %d: dequantize(%d) = %v, want %v", tc.t, n, q, deq[i], wantF[i])
					}
				}
				checkGuards(t, "dequantize", gotF, sentinel)
			}
		}
	})
}

// Bad zero points and ranges panic with a message (the engine checks
// them first).
func TestQuantizeLinearBadArgs(t *testing.T) {
	for _, f := range []func(){
		func() { QuantizeInt8(make([]int8, 2), make([]float32, 2), 1, 200, -128, 127) },
		func() { QuantizeUint8(make([]uint8, 2), make([]float32, 2), 1, 0, 10, 5) },
		func() { QuantizeInt16(make([]int16, 1), make([]float32, 2), 1, 0, -1, 1) },
		func() { DequantizeUint16(make([]float32, 2), make([]uint16, 2), 1, -1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

// BenchmarkQuantize times QuantizeInt8 and DequantizeInt8 on a 1 MiB
// activation with each path.
func BenchmarkQuantize(b *testing.B) {
	x := quantizeInputs(rand.New(rand.NewPCG(5, 6)), 1<<18, 0.02, 10)
	q := make([]int8, len(x))
	old := Quantize.Active()
	defer Quantize.Set(old)
	for _, p := range Quantize.SupportedPaths() {
		Quantize.Set(p)
		b.Run("q/"+p, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for range b.N {
				QuantizeInt8(q, x, 0.02, 3, -128, 127)
			}
		})
		b.Run("dq/"+p, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for range b.N {
				DequantizeInt8(x, q, 0.02, 3)
			}
		})
	}
}

// The reciprocal kernels (x·(1/scale), dividing only the vectors near a
// rounding boundary) against ONNX's division, on values a few ulps
// around half-integer quotients for scales of every mantissa, where a
// product that skipped the division would round the other way, and
// plain values, 8 and 16 bits.
func TestQuantizeReciprocal(t *testing.T) {
	withFamilyPath(t, Quantize, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for trial := 0; trial < 300; trial++ {
			scale := float32(math.Exp(r.NormFloat64() * 6))
			var x []float32
			for range 512 {
				k := float64(r.IntN(1<<17) - 1<<16)
				if r.IntN(2) == 0 {
					k = float64(r.IntN(600) - 300)
				}
				v := float32((k + 0.5) * float64(scale))
				for d := r.IntN(4); d > 0; d-- {
					v = math.Nextafter32(v, float32(math.Inf(2*r.IntN(2)-1)))
				}
				x = append(x, v, float32(r.NormFloat64()*200)*scale)
			}
			got8, got16 := make([]int8, len(x)), make([]int16, len(x))
			QuantizeInt8(got8, x, scale, 3, -128, 127)
			QuantizeInt16(got16, x, scale, -7, -32768, 32767)
			for i, v := range x {
				if w := refQuantize(v, scale, 3, -128, 127); int64(got8[i]) != w {
					t.Fatalf("int8 scale %v: q(%v) = %d, want %d", scale, v, got8[i], w)
				}
				if w := refQuantize(v, scale, -7, -32768, 32767); int64(got16[i]) != w {
					t.Fatalf("int16 scale %v: q(%v) = %d, want %d", scale, v, got16[i], w)
				}
			}
		}
	})
}

package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// refDepthwise is the plain reference: int64 sums over the taps inside
// the image of (x - za)(w - zw) + bias.
func refDepthwise(in []uint8, inH, inW, C int, za int32, w []int8, kh, kw int, zw []int32, g QConvGeom, bias []int32) (acc []int64, oh, ow int) {
	g = g.norm()
	oh, ow = g.OutSize(inH, inW, kh, kw)
	acc = make([]int64, oh*ow*C)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for ch := 0; ch < C; ch++ {
				var s int64
				z := int64(0)
				if len(zw) > 0 {
					z = int64(zw[min(ch, len(zw)-1)])
				}
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						iy := oy*g.StrideH - g.PadTop + ky*g.DilationH
						ix := ox*g.StrideW - g.PadLeft + kx*g.DilationW
						if iy < 0 || iy >= inH || ix < 0 || ix >= inW {
							continue
						}
						s += (int64(in[(iy*inW+ix)*C+ch]) - int64(za)) * (int64(w[ch*kh*kw+ky*kw+kx]) - z)
					}
				}
				if bias != nil {
					s += int64(bias[ch])
				}
				acc[(oy*ow+ox)*C+ch] = s
			}
		}
	}
	return acc, oh, ow
}

func TestQDepthwiseConv(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	defer func() { qrequantNoAsm = false }()
	for _, noAsm := range []bool{false, true} {
		qrequantNoAsm = noAsm
		for it := 0; it < 600; it++ {
			C := []int{1, 3, 16, 17, 40, 70, 88, 200}[r.IntN(8)]
			ks := [][2]int{{3, 3}, {5, 5}, {1, 1}, {3, 1}, {2, 3}, {7, 7}, {1, 9}, {3, 5}}[r.IntN(8)]
			kh, kw := ks[0], ks[1]
			inH, inW := 1+r.IntN(12), 1+r.IntN(12)
			g := QConvGeom{StrideH: 1 + r.IntN(2), StrideW: 1 + r.IntN(2),
				PadTop: r.IntN(3), PadLeft: r.IntN(3), PadBottom: r.IntN(3), PadRight: r.IntN(3),
				DilationH: 1 + r.IntN(2), DilationW: 1 + r.IntN(2)}
			oh, ow := g.OutSize(inH, inW, kh, kw)
			if oh == 0 || ow == 0 {
				continue
			}
			// Output stage parameters from a random GEMM case of the same
			// output size (m = pixels, n = channels, ldc = pixel stride).
			c := randQcase(r, oh*ow, C, kh*kw)
			var zw []int32
			switch r.IntN(3) {
			case 1:
				zw = []int32{int32(int8(r.Uint32()))}
			case 2:
				zw = make([]int32, C)
				for i := range zw {
					zw[i] = int32(int8(r.Uint32()))
				}
			}
			checkQDepthwise(t, r, c, C, kh, kw, inH, inW, g, zw)
		}
	}
}

// TestQDepthwiseConvWide covers what the small images above reach
// little: rows of 16 to 48 pixels (several of the quad kernel's
// eight-pixel runs, then 0 to 7 left), the PP-OCR classifier's shapes,
// and the float requantization the quad kernel does as it stores.
func TestQDepthwiseConvWide(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	type shape struct{ h, w, c, kh, kw, stride int }
	shapes := []shape{{3, 96, 88, 5, 5, 1}, {2, 96, 200, 5, 5, 1}, {6, 96, 32, 5, 5, 2}}
	for range 150 {
		k := [][2]int{{3, 3}, {5, 5}, {3, 5}, {1, 1}}[r.IntN(4)]
		shapes = append(shapes, shape{1 + r.IntN(5), 16 + r.IntN(33), []int{1, 8, 16, 24, 33, 88}[r.IntN(6)], k[0], k[1], 1 + r.IntN(2)})
	}
	for _, s := range shapes {
		g := QConvGeom{StrideH: s.stride, StrideW: s.stride, PadTop: r.IntN(3), PadLeft: r.IntN(3), PadBottom: r.IntN(3), PadRight: r.IntN(3)}
		oh, ow := g.OutSize(s.h, s.w, s.kh, s.kw)
		if oh == 0 || ow == 0 {
			continue
		}
		c := randQcase(r, oh*ow, s.c, s.kh*s.kw)
		for c.kind != "u8" && c.kind != "s8" && r.IntN(8) != 0 {
			c = randQcase(r, oh*ow, s.c, s.kh*s.kw)
		}
		checkQDepthwise(t, r, c, s.c, s.kh, s.kw, s.h, s.w, g, nil)
	}
}

// checkQDepthwise compares the convolution of random operands (weight
// zero points zw, input uint8 or the same values as int8) in geometry g
// through c's output stage with refDepthwise.
func checkQDepthwise(t *testing.T, r *rand.Rand, c *qcase, C, kh, kw, inH, inW int, g QConvGeom, zw []int32) {
	t.Helper()
	in := make([]uint8, inH*inW*C)
	for i := range in {
		in[i] = uint8(r.Uint32())
	}
	w := make([]int8, C*kh*kw)
	for i := range w {
		w[i] = int8(r.Uint32())
	}
	za := int32(uint8(r.Uint32()))
	dw := PackDepthwiseInt8(C, kh, kw, w, zw...)
	// Half the cases give the same values as int8 codes (u - 128),
	// which QDepthwiseConvS8 flips (in its quads, or a copy).
	signed := r.IntN(2) == 0
	got := c.runWith(t, func(out *QOutput) {
		if !signed {
			QDepthwiseConvU8(in, inH, inW, uint8(za), dw, g, out, c.threads)
			return
		}
		s8 := make([]int8, len(in))
		for i, v := range in {
			s8[i] = int8(v ^ 0x80)
		}
		QDepthwiseConvS8(s8, inH, inW, int8(za-128), dw, g, out, c.threads)
	})
	acc, _, _ := refDepthwise(in, inH, inW, C, za, w, kh, kw, zw, g, c.bias)
	for i := range acc {
		if want := c.refOut(acc[i], i%C); got[i] != want {
			t.Fatalf("noAsm=%v signed=%v %v in %dx%d k %dx%d %+v za %d zw %v: out[%d] = %d, want %d",
				qrequantNoAsm, signed, c, inH, inW, kh, kw, g, za, zw, i, got[i], want)
		}
	}
}

// BenchmarkQDepthwiseConv runs both forms where the quad one is built
// (form=pointer drops the quad weights), side by side.
func BenchmarkQDepthwiseConv(b *testing.B) {
	for _, s := range []struct{ h, w, c, k, stride int }{
		{56, 56, 144, 3, 1}, {112, 112, 32, 3, 1}, {28, 28, 192, 5, 2},
		{3, 96, 88, 5, 1}, {2, 96, 200, 5, 1}, {6, 96, 32, 5, 2}, // the PP-OCR classifier's
	} {
		r := rand.New(rand.NewPCG(1, 1))
		in := make([]uint8, s.h*s.w*s.c)
		for i := range in {
			in[i] = uint8(r.Uint32())
		}
		w := make([]int8, s.c*s.k*s.k)
		for i := range w {
			w[i] = int8(r.Uint32())
		}
		quad := PackDepthwiseInt8(s.c, s.k, s.k, w)
		pointer := *quad
		pointer.wq = nil
		g := QConvGeom{StrideH: s.stride, StrideW: s.stride, PadTop: s.k / 2, PadLeft: s.k / 2, PadBottom: s.k / 2, PadRight: s.k / 2}
		oh, ow := g.OutSize(s.h, s.w, s.k, s.k)
		out := &QOutput{Uint8: make([]uint8, oh*ow*s.c), Ldc: s.c, Scale: []float32{1e-3}, ZeroPoint: 128}
		for _, form := range []struct {
			name string
			dw   *QDepthwiseWeights
		}{{"pointer", &pointer}, {"quad", quad}} {
			if form.name == "quad" && quad.wq == nil {
				continue
			}
			b.Run(fmt.Sprintf("%dx%dx%d_k%d_s%d/form=%s", s.h, s.w, s.c, s.k, s.stride, form.name), func(b *testing.B) {
				for b.Loop() {
					QDepthwiseConvU8(in, s.h, s.w, 128, form.dw, g, out, 1)
				}
				b.ReportMetric(2*float64(oh*ow*s.c*s.k*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
		}
	}
}

// FuzzQDepthwiseConv compares the SIMD depthwise path (where built) with
// the Go one on fuzzed geometry, operands and output stages.
func FuzzQDepthwiseConv(f *testing.F) {
	f.Add([]byte{3, 3, 5, 7, 17, 1, 1, 1, 1, 0, 0}, uint64(1))
	f.Add([]byte{1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 255, 0}, uint64(2))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		if len(data) < 11 {
			return
		}
		kh, kw := 1+int(data[0])%5, 1+int(data[1])%5
		inH, inW, C := 1+int(data[2])%14, 1+int(data[3])%14, 1+int(data[4])%70
		g := QConvGeom{StrideH: 1 + int(data[5])%3, StrideW: 1 + int(data[6])%3,
			PadTop: int(data[7]) % 3, PadLeft: int(data[8]) % 3, PadBottom: int(data[9]) % 3, PadRight: int(data[10]) % 3,
			DilationH: 1 + int(data[5]>>4)%2, DilationW: 1 + int(data[6]>>4)%2}
		oh, ow := g.OutSize(inH, inW, kh, kw)
		if oh == 0 || ow == 0 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 1))
		c := randQcase(r, oh*ow, C, kh*kw)
		rest := data[11:]
		in := make([]uint8, inH*inW*C)
		w := make([]int8, C*kh*kw)
		for i := range in {
			in[i] = uint8(r.Uint32())
			if len(rest) > 0 {
				in[i] = rest[i%len(rest)]
			}
		}
		for i := range w {
			w[i] = int8(r.Uint32())
		}
		za := uint8(r.Uint32())
		dw := PackDepthwiseInt8(C, kh, kw, w, int32(int8(r.Uint32())))
		run := func() []int64 {
			return c.runWith(t, func(out *QOutput) { QDepthwiseConvU8(in, inH, inW, za, dw, g, out, c.threads) })
		}
		defer func() { qrequantNoAsm = false }()
		qrequantNoAsm = true
		want := run()
		qrequantNoAsm = false
		if got := run(); !slices.Equal(got, want) {
			t.Fatalf("SIMD depthwise differs from Go: %v in %dx%dx%d k %dx%d %+v", c, inH, inW, C, kh, kw, g)
		}
	})
}

package kernels

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// QConvRows against the definition of the convolution and the shared
// output stage's reference (refOut), over random geometries (kernel sizes,
// strides, paddings wider than the image, output widths around the
// 16-pixel blocks), channel counts up to its limits, int8 and uint8 input,
// per-tensor and per-channel scales, clamps and threads, with guard bytes
// around and between the output planes; on every Int8 path (the SIMD
// kernels and the Go loops).
func TestQConvRows(t *testing.T) {
	withInt8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(31, 32))
		for it := 0; it < 300; it++ {
			cin, cout := 1+r.IntN(4), 1+r.IntN(16)
			kh, kw := 1+r.IntN(5), 1+r.IntN(4)
			inH, inW := 1+r.IntN(12), 1+r.IntN(70)
			g := QConvGeom{StrideH: 1 + r.IntN(2), StrideW: 1 + r.IntN(2),
				PadTop: r.IntN(4), PadLeft: r.IntN(4), PadBottom: r.IntN(4), PadRight: r.IntN(4)}
			oh, ow := g.OutSize(inH, inW, kh, kw)
			if oh == 0 || ow == 0 {
				continue
			}
			c := randQcase(r, oh*ow, cout, cin*kh*kw)
			for c.kind != "u8" && c.kind != "s8" {
				c = randQcase(r, oh*ow, cout, cin*kh*kw)
			}
			signed := r.IntN(2) == 0
			in := make([]byte, cin*inH*inW)
			for i := range in {
				in[i] = byte(r.Uint32())
			}
			za := int32(uint8(r.Uint32()))
			if signed {
				za -= 128
			}
			w := make([]int8, cout*cin*kh*kw)
			for i := range w {
				w[i] = int8(r.Uint32())
			}
			plane := oh * ow
			ldp := plane + r.IntN(3)
			const guard = 16
			buf := make([]byte, (cout-1)*ldp+plane+2*guard)
			for i := range buf {
				buf[i] = guardByte
			}
			out := &QOutput{Ldc: ldp, Bias: c.bias, Scale: c.scale, ZeroPoint: c.zy, Clamp: c.clamp, Min: c.lo, Max: c.hi}
			dst := buf[guard : len(buf)-guard]
			if c.kind == "u8" {
				out.Uint8 = dst
			} else {
				out.Int8 = asS8(dst)
			}
			QConvRows(in, signed, za, inH, inW, PackConvRowsWeights(cout, cin, kh, kw, w), g, out, c.threads)
			for co := 0; co < cout; co++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						var acc int64
						if c.bias != nil {
							acc = int64(c.bias[co])
						}
						for ci := 0; ci < cin; ci++ {
							for ky := 0; ky < kh; ky++ {
								for kx := 0; kx < kw; kx++ {
									iy, ix := oy*g.StrideH-g.PadTop+ky, ox*g.StrideW-g.PadLeft+kx
									if iy < 0 || iy >= inH || ix < 0 || ix >= inW {
										continue
									}
									x := int64(in[(ci*inH+iy)*inW+ix])
									if signed {
										x = int64(int8(x))
									}
									acc += (x - int64(za)) * int64(w[((co*cin+ci)*kh+ky)*kw+kx])
								}
							}
						}
						want := c.refOut(acc, co)
						got := int64(dst[co*ldp+oy*ow+ox])
						if c.kind == "s8" {
							got = int64(int8(got))
						}
						if got != want {
							t.Fatalf("%v: cin %d cout %d k %dx%d in %dx%d %+v signed %v: out[%d][%d][%d] = %d, want %d",
								c, cin, cout, kh, kw, inH, inW, g, signed, co, oy, ox, got, want)
						}
					}
				}
			}
			for i, b := range buf {
				inPlane := i >= guard && i < len(buf)-guard && (i-guard)%ldp < plane
				if !inPlane && b != guardByte {
					t.Fatalf("cout %d plane %d ldp %d: byte %d outside the planes overwritten", cout, plane, ldp, i-guard)
				}
			}
		}
	})
}

func asS8(b []byte) []int8 {
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

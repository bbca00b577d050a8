package engine

import (
	"fmt"
	"slices"
	"sync"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// Integer ConvTranspose (DequantizeLinear -> ConvTranspose [-> Relu|Clip]
// [-> QuantizeLinear]) on the INT8 GEMM: per image and group, the NHWC
// pixels (H·W × Cg) times W_g (Cg × kh·kw·Mg, packed as kh·kw·Mg rows
// ordered [ky][kx][m]) give each input pixel's contribution to kh·kw
// output pixels. When the kernel equals the stride (no padding, dilation
// or output padding, the upsampling of detection heads) no two
// contributions overlap: the GEMM applies the output stage itself, with
// each channel's parameters repeated per tap, and its rows are copied to
// their output pixels. Otherwise the GEMM writes int32, the taps are
// scatter-added (col2im) into int32 accumulators, exact, and the output
// stage runs on them. 1-D and 3-D ConvTranspose and 4-bit or 16-bit
// types stay float (matchQDQ).

// qdqConvTK is a matched DequantizeLinear -> ConvTranspose.
type qdqConvTK struct {
	ct     convTK // geometry only: pads, output_padding, output_shape
	wShape []int  // [C][Mg][kh][kw]
	za     int32
	q      *qout                     // per output channel (M values)
	colQ   []*qout                   // per group: q's parameters per GEMM column
	packed []*kernels.QPackedWeights // per group
	bufs   sync.Pool                 // *qconvTBufs
	// inNHWC and outNHWC as for qconv.
	inNHWC, outNHWC bool
}

type qconvTBufs struct {
	nhwc     []uint8
	col, acc []int32
	tmp      *Tensor
}

// newQConvT packs w ([C][Mg][kh][kw], uint8 or int8, zero points zw per
// output channel: nil, one or M) for group groups.
func newQConvT(ct convTK, w *Tensor, zw []int32, za int32, q *qout, inNHWC, outNHWC bool) (*qdqConvTK, error) {
	cin, mg, kh, kw, _ := as4(w.Shape)
	grp := ct.group
	if grp < 1 || cin%grp != 0 {
		return nil, fmt.Errorf("%d input channels do not split into %d groups", cin, grp)
	}
	cg, taps := cin/grp, kh*kw
	k := &qdqConvTK{ct: ct, wShape: w.Shape, za: za, q: q, inNHWC: inNHWC, outNHWC: outNHWC}
	b := qbytes(w)
	nn := taps * mg
	r := make([]uint8, nn*cg)
	for gi := 0; gi < grp; gi++ {
		for ci := 0; ci < cg; ci++ {
			for mo := 0; mo < mg; mo++ {
				for t := 0; t < taps; t++ {
					r[(t*mg+mo)*cg+ci] = b[((gi*cg+ci)*mg+mo)*taps+t]
				}
			}
		}
		zp := sub(zw, gi*mg, (gi+1)*mg)
		if len(zp) > 1 {
			zp = tapParams(zp, taps)
		}
		k.packed = append(k.packed, packQ(w.Type, nn, cg, r, cg, zp))
		bias := sub(q.bias, gi*mg, (gi+1)*mg)
		if len(bias) == 1 { // the kernels take a bias per column
			bias = slices.Repeat(bias, mg)
		}
		k.colQ = append(k.colQ, &qout{dt: q.dt, bias: tapParams(bias, taps),
			scale: tapParams(sub(q.scale, gi*mg, (gi+1)*mg), taps), fbias: tapParams(sub(q.fbias, gi*mg, (gi+1)*mg), taps),
			zp: q.zp, clamp: q.clamp, lo: q.lo, hi: q.hi})
	}
	return k, nil
}

// tapParams repeats per-channel values (nil, one, or mg) for each of the
// taps GEMM column blocks ([tap][channel] order): one value becomes taps
// values, all equal.
func tapParams[T any](v []T, taps int) []T {
	if v == nil {
		return nil
	}
	return slices.Repeat(v, taps)
}

func (k *qdqConvTK) geometry(x []int) (g convGeom, oh, ow int, err error) {
	if len(x) != 4 || k.ct.g.wide {
		return g, 0, 0, unsupported("integer ConvTranspose of rank %d (only 2-D)", len(x))
	}
	if x[1] != k.wShape[0] {
		return g, 0, 0, fmt.Errorf("X %v for weight %v", x, k.wShape)
	}
	g, oh, ow, err = k.ct.geometry(x, k.wShape)
	if err == nil && (oh <= 0 || ow <= 0) {
		err = fmt.Errorf("output %dx%d for input %v", oh, ow, x)
	}
	if err == nil && (g.kh != k.wShape[2] || g.kw != k.wShape[3]) {
		err = fmt.Errorf("kernel_shape %dx%d, weight %v", g.kh, g.kw, k.wShape)
	}
	return g, oh, ow, err
}

func (k *qdqConvTK) infer(in []*Tensor) ([]spec, error) {
	if !isQ8(in[0].Type) {
		return nil, unsupported("integer ConvTranspose of %s", onnxio.DataTypeName(in[0].Type))
	}
	_, oh, ow, err := k.geometry(in[0].Shape)
	if err != nil {
		return nil, err
	}
	return []spec{{k.q.dt, []int{in[0].Shape[0], k.wShape[1] * k.ct.group, oh, ow}}}, nil
}

func (k *qdqConvTK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	g, oh, ow, err := k.geometry(x.Shape)
	if err != nil {
		return err
	}
	n, c, h, wd, _ := as4(x.Shape)
	grp, mg := k.ct.group, k.wShape[1]
	m, cg, taps := mg*grp, c/grp, g.kh*g.kw
	hw, p, img := h*wd, oh*ow, c*h*wd
	if n == 0 || p == 0 || m == 0 {
		return nil
	}
	// No overlap: each output pixel is written by exactly one tap.
	plain := g.sh == g.kh && g.sw == g.kw && g.dh == 1 && g.dw == 1 && g.pt == 0 && g.pl == 0 && oh == h*g.kh && ow == wd*g.kw
	bufs, _ := k.bufs.Get().(*qconvTBufs)
	if bufs == nil {
		bufs = &qconvTBufs{}
	}
	defer k.bufs.Put(bufs)
	// The result is built NHWC: in o, or in tmp then transposed (one
	// channel is the same in both orders).
	direct := k.outNHWC || m == 1
	tmpLen := 0
	if plain {
		tmpLen = hw * taps * mg
	}
	if !direct {
		tmpLen += p * m
	}
	if tmpLen > 0 && (bufs.tmp == nil || bufs.tmp.Type != k.q.dt || bufs.tmp.Len() < tmpLen) {
		bufs.tmp = newTensor(k.q.dt, []int{tmpLen})
	}
	if !plain {
		bufs.col = growI32(bufs.col, hw*taps*mg)
		bufs.acc = growI32(bufs.acc, p*mg)
	}
	xb := qbytes(x)
	signed := x.Type == onnxio.Int8
	raw := &qout{dt: onnxio.Int32}
	for ni := 0; ni < n; ni++ {
		nhwc := xb[ni*img : (ni+1)*img]
		if !k.inNHWC && c > 1 {
			bufs.nhwc = grow(bufs.nhwc, img)
			transposeInto(bufs.nhwc, c, nhwc, c, hw)
			nhwc = bufs.nhwc
		}
		dst, doff := o, ni*p*m
		if !direct {
			dst, doff = bufs.tmp, tmpLen-p*m
		}
		for gi := 0; gi < grp; gi++ {
			a := nhwc[gi*cg:]
			if plain {
				k.colQ[gi].gemm(rc, hw, a, c, signed, k.za, k.packed[gi], 0, bufs.tmp, 0, 0)
				scatterPlain(dst, doff+gi*mg, bufs.tmp, h, wd, g.kh, g.kw, mg, m)
				continue
			}
			col := &Tensor{Type: onnxio.Int32, Shape: []int{hw * taps * mg}, I32: bufs.col}
			raw.gemm(rc, hw, a, c, signed, k.za, k.packed[gi], 0, col, 0, 0)
			acc := bufs.acc
			clear(acc)
			col2im(acc, bufs.col, h, wd, oh, ow, g, mg)
			for r := 0; r < p; r++ {
				k.q.finish(acc[r*mg:(r+1)*mg], gi*mg, dst, doff+r*m+gi*mg)
			}
		}
		if !direct {
			transposeTensor(o, ni*p*m, p, bufs.tmp, tmpLen-p*m, p, m)
		}
	}
	return nil
}

func growI32(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

// scatterPlain copies the GEMM rows src (h·w input pixels × kh·kw·mg,
// [ky][kx][m]) of a ConvTranspose whose kernel equals its stride into the
// NHWC image dst (m channels a pixel) from element off: input pixel (iy,
// ix), tap (ky, kx) is output pixel (iy·kh+ky, ix·kw+kx); its kw taps of
// one ky are adjacent output pixels.
func scatterPlain(dst *Tensor, off int, src *Tensor, h, w, kh, kw, mg, m int) {
	switch dst.Type {
	case onnxio.Uint8:
		scatterPlainT(dst.U8[off:], src.U8, h, w, kh, kw, mg, m)
	case onnxio.Int8:
		scatterPlainT(dst.I8[off:], src.I8, h, w, kh, kw, mg, m)
	case onnxio.Float:
		scatterPlainT(dst.F32[off:], src.F32, h, w, kh, kw, mg, m)
	}
}

func scatterPlainT[T any](dst, src []T, h, w, kh, kw, mg, m int) {
	ow := w * kw
	row := kh * kw * mg
	run := kw * mg // one output row's values from one input pixel and ky
	for iy := 0; iy < h; iy++ {
		for ky := 0; ky < kh; ky++ {
			d := dst[(iy*kh+ky)*ow*m : (iy*kh+ky+1)*ow*m]
			s := src[iy*w*row+ky*run:]
			switch {
			case mg == m && run == 2: // one channel, 2 taps (an upsampling head)
				for ix := 0; ix < w; ix++ {
					d[2*ix], d[2*ix+1] = s[ix*row], s[ix*row+1]
				}
			case mg == m:
				for ix := 0; ix < w; ix++ {
					copy(d[ix*run:(ix+1)*run], s[ix*row:ix*row+run])
				}
			default:
				for ix := 0; ix < w; ix++ {
					for kx := 0; kx < kw; kx++ {
						copy(d[(ix*kw+kx)*m:(ix*kw+kx)*m+mg], s[ix*row+kx*mg:ix*row+(kx+1)*mg])
					}
				}
			}
		}
	}
}

// col2im adds the int32 GEMM rows col (h·w input pixels × kh·kw·mg) into
// acc (oh·ow output pixels × mg) at the positions ConvTranspose puts
// them: input (iy, ix), tap (ky, kx) lands on (iy·sh - pt + ky·dh, ix·sw
// - pl + kx·dw) when inside the output.
func col2im(acc, col []int32, h, w, oh, ow int, g convGeom, mg int) {
	row := g.kh * g.kw * mg
	for iy := 0; iy < h; iy++ {
		for ky := 0; ky < g.kh; ky++ {
			oy := iy*g.sh - g.pt + ky*g.dh
			if oy < 0 || oy >= oh {
				continue
			}
			for ix := 0; ix < w; ix++ {
				s := col[(iy*w+ix)*row:]
				for kx := 0; kx < g.kw; kx++ {
					ox := ix*g.sw - g.pl + kx*g.dw
					if ox < 0 || ox >= ow {
						continue
					}
					d := acc[(oy*ow+ox)*mg : (oy*ow+ox+1)*mg]
					t := s[(ky*g.kw+kx)*mg : (ky*g.kw+kx+1)*mg]
					for j, v := range t {
						d[j] += v
					}
				}
			}
		}
	}
}

// channelValue is channel c's value of a per-channel parameter of none
// (0), one or one per channel.
func channelValue[T int32 | float32](v []T, c int) T {
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	}
	return v[c]
}

// finish is the output stage of channels [c0, c0+len(acc)) on int32
// accumulators (without bias), written into dst from element off: the
// same operations, in the same float32 rounding, as the GEMM kernels'
// (kernels.QOutput).
func (q *qout) finish(acc []int32, c0 int, dst *Tensor, off int) {
	at := func(v []int32, j int) int32 { return channelValue(v, c0+j) }
	atF := func(v []float32, j int) float32 { return channelValue(v, c0+j) }
	switch q.dt {
	case onnxio.Int32:
		for j, v := range acc {
			dst.I32[off+j] = v + at(q.bias, j)
		}
	case onnxio.Float:
		for j, v := range acc {
			y := float32(float32(v+at(q.bias, j)) * atF(q.scale, j))
			if q.fbias != nil {
				y += atF(q.fbias, j)
			}
			dst.F32[off+j] = y
		}
	default:
		lo, hi := int32(0), int32(255)
		if q.dt == onnxio.Int8 {
			lo, hi = -128, 127
		}
		if q.clamp {
			lo, hi = q.lo, q.hi
		}
		flo, fhi := float32(lo-q.zp), float32(hi-q.zp)
		for j, v := range acc {
			y := min(max(float32(float32(v+at(q.bias, j))*atF(q.scale, j)), flo), fhi)
			y = (y + 12582912) - 12582912 // round half to even (kernels' roundMagic)
			r := int32(y) + q.zp
			if q.dt == onnxio.Int8 {
				dst.I8[off+j] = int8(r)
			} else {
				dst.U8[off+j] = uint8(r)
			}
		}
	}
}

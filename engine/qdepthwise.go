package engine

import (
	"fmt"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// Depthwise integer convolutions (one input channel per group, any
// channel multiplier) run on kernels.QDepthwiseConvU8 rather than the
// GEMM: a GEMM of K = kh·kw per group would unfold each channel
// separately and multiply 1-column matrices. The kernel reads NHWC uint8
// pixels of M channels; the engine gives it the input in that form: as
// is when it is already NHWC uint8, else transposed, with int8 bytes
// flipped to uint8 (x+128, zero point +128: the differences x - za are
// unchanged) and, for a channel multiplier above 1, each channel repeated
// for its output channels. The sums are exact int32 and the output stage
// is the GEMM's, so the results are those of the GEMM path.

// packDepthwise packs W ([M][1][kh][kw]) for the depthwise kernel, or
// returns nil when the convolution is not depthwise (or its zero points
// are out of range for W's type, left for the GEMM path to report).
func packDepthwise(w *Tensor, zp []int32, group int) *kernels.QDepthwiseWeights {
	if group < 2 || (len(w.Shape) != 3 && len(w.Shape) != 4) || w.Shape[1] != 1 || w.Shape[0]%group != 0 {
		return nil
	}
	m, _, kh, kw, _ := as4(w.Shape)
	if len(zp) > 1 && len(zp) != m {
		return nil
	}
	ws := w.I8
	var shift int32
	if w.Type == onnxio.Uint8 {
		// uint8 weights as int8: w - zw = (w-128) - (zw-128).
		ws = make([]int8, len(w.U8))
		for i, v := range w.U8 {
			ws[i] = int8(v ^ 0x80)
		}
		shift = 128
		if zp == nil {
			zp = []int32{0}
		}
	}
	z := make([]int32, len(zp))
	for i, v := range zp {
		z[i] = v - shift
		if z[i] < -128 || z[i] > 127 {
			return nil
		}
	}
	return kernels.PackDepthwiseInt8(m, kh, kw, ws, z...)
}

// runDepthwise convolves x (group = C, one channel per group) into o with
// the depthwise kernel, image by image.
func (k *qconv) runDepthwise(rc *runCtx, x *Tensor, za int32, dw *kernels.QDepthwiseWeights, g convGeom, m, oh, ow int, q *qout, o *Tensor) error {
	n, c, h, wd, _ := as4(x.Shape)
	p := oh * ow
	if n == 0 || p == 0 || m == 0 {
		return nil
	}
	geom := kernels.QConvGeom{StrideH: g.sh, StrideW: g.sw, PadTop: g.pt, PadLeft: g.pl, PadBottom: g.pb, PadRight: g.pr, DilationH: g.dh, DilationW: g.dw}
	if h2, w2 := geom.OutSize(h, wd, g.kh, g.kw); h2 != oh || w2 != ow {
		return fmt.Errorf("depthwise output %d×%d, want %d×%d", h2, w2, oh, ow)
	}
	bufs, _ := k.bufs.Get().(*qconvBufs)
	if bufs == nil {
		bufs = &qconvBufs{}
	}
	defer k.bufs.Put(bufs)
	signed := x.Type == onnxio.Int8
	mult := m / c
	zu := za
	if signed {
		zu += 128
	}
	xb := qbytes(x)
	img := c * h * wd
	// Channels-last input is read in place; int8 codes then go to the
	// kernel's int8 entry, which flips them as it reads them.
	direct := k.inNHWC && mult == 1
	if !direct {
		bufs.nhwc = grow(bufs.nhwc, h*wd*m)
	}
	toTmp := !k.outNHWC || k.post != nil
	if toTmp && (bufs.tmp == nil || bufs.tmp.Type != q.dt || bufs.tmp.Len() < p*m) {
		bufs.tmp = newTensor(q.dt, []int{p * m})
	}
	var scratch []uint8
	for b := 0; b < n; b++ {
		in := xb[b*img : (b+1)*img]
		if !direct {
			depthwiseInput(bufs.nhwc, in, c, h*wd, mult, signed, k.inNHWC)
			in = bufs.nhwc
		}
		dst, off := o, b*p*m
		if toTmp {
			dst, off = bufs.tmp, 0
		}
		if st := q.stageInto(0, m, p, dst, off, m); direct && signed {
			kernels.QDepthwiseConvS8(asInt8(in), h, wd, int8(za), dw, geom, &st, rc.threads)
		} else {
			kernels.QDepthwiseConvU8(in, h, wd, uint8(zu), dw, geom, &st, rc.threads)
		}
		switch {
		case k.post != nil:
			k.post.apply(qbytes(bufs.tmp)[:p*m], q.dt == onnxio.Int8, m, oh, ow, qbytes(o), b, &scratch)
		case !k.outNHWC:
			transposeTensor(o, b*m*p, p, bufs.tmp, 0, p, m)
		}
	}
	return nil
}

// depthwiseInput writes one image of c channels × hw pixels (src, NCHW,
// or NHWC when mult > 1) as hw NHWC uint8 pixels of c·mult channels,
// channel ch repeated mult times; signed (int8) bytes are flipped to
// uint8 (x ^ 0x80 = x + 128).
func depthwiseInput(dst, src []uint8, c, hw, mult int, signed, nhwc bool) {
	var flip uint8
	if signed {
		flip = 0x80
	}
	switch {
	case mult > 1:
		for px := 0; px < hw; px++ {
			d := dst[px*c*mult : (px+1)*c*mult]
			for ch := 0; ch < c; ch++ {
				v := src[ch*hw+px]
				if nhwc {
					v = src[px*c+ch]
				}
				for j := range mult {
					d[ch*mult+j] = v ^ flip
				}
			}
		}
	default: // NCHW (channels-last input of multiplier 1 is read in place)
		kernels.TransposeBytes(dst, c, src[:c*hw], c, hw, flip)
	}
}

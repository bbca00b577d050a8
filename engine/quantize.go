package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildQDQ, "QuantizeLinear", "DequantizeLinear")
}

// qdqK is QuantizeLinear (float32 -> int4, uint4, int8, uint8, int16 or
// uint16: round half to even of x/scale, plus the zero point, saturated;
// NaN gives the type's minimum, as ONNX Runtime does) and
// DequantizeLinear (those types and int32 -> float32: (x - zero
// point)·scale), per tensor, per axis or per block of block_size along
// the axis (opset 21). A model with QuantizeLinear/DequantizeLinear pairs
// runs as simulated quantization in float.
type qdqK struct {
	quant bool
	axis  int64
	block int
	outDT onnxio.DataType // QuantizeLinear output_dtype, 0 when absent
}

func buildQDQ(c *nodeCtx) (kernel, error) {
	op := c.n.GetOpType()
	k := &qdqK{quant: op == "QuantizeLinear", axis: c.attrInt("axis", 1)}
	b := c.attrInt("block_size", 0)
	if b < 0 || b > math.MaxInt32 {
		return nil, fmt.Errorf("%s block_size %d: want 0 (per tensor or axis) or a positive block length", op, b)
	}
	k.block = int(b)
	if dt := c.attrInt("output_dtype", 0); dt != 0 {
		if !k.quant {
			if onnxio.DataType(dt) != onnxio.Float {
				return nil, unsupported("DequantizeLinear output_dtype %s (only float32)", onnxio.DataTypeName(onnxio.DataType(dt)))
			}
		} else {
			k.outDT = onnxio.DataType(dt)
		}
	}
	return k, nil
}

// qLimits is the range of an integer quantized type, ok false for a
// type QuantizeLinear/DequantizeLinear cannot use here.
func qLimits(dt onnxio.DataType) (lo, hi int32, ok bool) {
	switch dt {
	case onnxio.Int4:
		return -8, 7, true
	case onnxio.Uint4:
		return 0, 15, true
	case onnxio.Int8:
		return -128, 127, true
	case onnxio.Uint8:
		return 0, 255, true
	case onnxio.Int16:
		return math.MinInt16, math.MaxInt16, true
	case onnxio.Uint16:
		return 0, math.MaxUint16, true
	}
	return 0, 0, false
}

func (k *qdqK) name() string {
	if k.quant {
		return "QuantizeLinear"
	}
	return "DequantizeLinear"
}

// params checks the scale and zero point shapes against x's and returns
// how parameters map to elements: x is outer×d×inner around the axis,
// with nb parameter blocks along it (1 per tensor, d per axis).
func (k *qdqK) params(x, scale, zp *Tensor) (outer, d, inner, nb int, err error) {
	op := k.name()
	if scale.Type != onnxio.Float {
		return 0, 0, 0, 0, unsupported("%s scale of %s (only float32)", op, onnxio.DataTypeName(scale.Type))
	}
	if zp != nil && !sameShape(zp.Shape, scale.Shape) {
		return 0, 0, 0, 0, fmt.Errorf("%s: zero point shape %v differs from scale shape %v", op, zp.Shape, scale.Shape)
	}
	n := x.Len()
	if k.block == 0 && len(scale.Shape) <= 1 && scale.Len() == 1 {
		return 1, 1, n, 1, nil // per tensor
	}
	ax, err := normAxis(k.axis, len(x.Shape))
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("%s: %w", op, err)
	}
	outer, d, inner = numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	if k.block == 0 {
		if len(scale.Shape) != 1 || scale.Shape[0] != d {
			return 0, 0, 0, 0, fmt.Errorf("%s: scale shape %v for axis %d of input %v: want a scalar or [%d]", op, scale.Shape, ax, x.Shape, d)
		}
		return outer, d, inner, d, nil
	}
	nb = (d + k.block - 1) / k.block
	want := append([]int{}, x.Shape...)
	want[ax] = nb
	if !sameShape(scale.Shape, want) {
		return 0, 0, 0, 0, fmt.Errorf("%s: scale shape %v for block_size %d along axis %d of input %v: want %v (ceil(%d/%d) blocks)", op, scale.Shape, k.block, ax, x.Shape, want, d, k.block)
	}
	return outer, d, inner, nb, nil
}

// qType is the quantized element type of the node: x's for
// DequantizeLinear; for QuantizeLinear the zero point's, else
// output_dtype, else uint8.
func (k *qdqK) qType(in []*Tensor) (onnxio.DataType, error) {
	if !k.quant {
		return in[0].Type, nil
	}
	dt := onnxio.DataType(onnxio.Uint8)
	if k.outDT != 0 {
		dt = k.outDT
	}
	if len(in) > 2 && in[2] != nil {
		if k.outDT != 0 && in[2].Type != k.outDT {
			return 0, fmt.Errorf("QuantizeLinear: output_dtype %s differs from the zero point's type %s", onnxio.DataTypeName(k.outDT), onnxio.DataTypeName(in[2].Type))
		}
		dt = in[2].Type
	}
	return dt, nil
}

func (k *qdqK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	var zp *Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	dt, err := k.qType(in)
	if err != nil {
		return nil, err
	}
	if _, _, ok := qLimits(dt); !ok && (k.quant || dt != onnxio.Int32) {
		return nil, unsupported("%s of %s", k.name(), onnxio.DataTypeName(dt))
	}
	if k.quant && x.Type != onnxio.Float {
		return nil, unsupported("QuantizeLinear of %s (only float32)", onnxio.DataTypeName(x.Type))
	}
	if !k.quant && zp != nil && zp.Type != dt {
		return nil, fmt.Errorf("DequantizeLinear: zero point of %s for input of %s", onnxio.DataTypeName(zp.Type), onnxio.DataTypeName(dt))
	}
	if _, _, _, _, err := k.params(x, in[1], zp); err != nil {
		return nil, err
	}
	if k.quant {
		return []spec{{dt, x.Shape}}, nil
	}
	return []spec{{onnxio.Float, x.Shape}}, nil
}

func (k *qdqK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	var zpt *Tensor
	if len(in) > 2 {
		zpt = in[2]
	}
	outer, d, inner, nb, err := k.params(x, in[1], zpt)
	if err != nil {
		return err
	}
	scale := in[1].F32
	zp := make([]int32, len(scale))
	if zpt != nil {
		for i := range zp {
			zp[i] = int32(zpt.at(i))
		}
	}
	q := o
	if !k.quant {
		q = x
	}
	lo, hi, _ := qLimits(q.Type)
	// seg converts elements [off, off+n) with parameters p.
	seg := func(off, n, p int) {
		if k.quant {
			quantizeSeg(o, off, x.F32[off:off+n], scale[p], zp[p], lo, hi)
		} else {
			dequantizeSeg(o.F32[off:off+n], x, off, scale[p], zp[p])
		}
	}
	switch {
	case nb == 1 && outer == 1 && d == 1:
		seg(0, inner, 0)
	case k.block == 0:
		for oi := 0; oi < outer; oi++ {
			for c := 0; c < d; c++ {
				seg((oi*d+c)*inner, inner, c)
			}
		}
	case inner == 1:
		for oi := 0; oi < outer; oi++ {
			for b := 0; b < nb; b++ {
				seg(oi*d+b*k.block, min(k.block, d-b*k.block), oi*nb+b)
			}
		}
	default:
		// Blocks along an axis that is not the last: each element of a
		// row has its own parameters.
		for oi := 0; oi < outer; oi++ {
			for c := 0; c < d; c++ {
				for j := 0; j < inner; j++ {
					seg((oi*d+c)*inner+j, 1, (oi*nb+c/k.block)*inner+j)
				}
			}
		}
	}
	return nil
}

// quantizeSeg writes the quantized x into o from element off.
func quantizeSeg(o *Tensor, off int, x []float32, s float32, zp, lo, hi int32) {
	n := len(x)
	switch o.Type {
	case onnxio.Int8, onnxio.Int4:
		kernels.QuantizeInt8(o.I8[off:off+n], x, s, zp, lo, hi)
	case onnxio.Uint8, onnxio.Uint4:
		kernels.QuantizeUint8(o.U8[off:off+n], x, s, zp, lo, hi)
	case onnxio.Int16:
		kernels.QuantizeInt16(o.I16[off:off+n], x, s, zp, lo, hi)
	case onnxio.Uint16:
		kernels.QuantizeUint16(o.U16[off:off+n], x, s, zp, lo, hi)
	}
}

// dequantizeSeg writes (x - zp)·s for len(dst) elements of x from off.
func dequantizeSeg(dst []float32, x *Tensor, off int, s float32, zp int32) {
	n := len(dst)
	switch x.Type {
	case onnxio.Int8, onnxio.Int4:
		kernels.DequantizeInt8(dst, x.I8[off:off+n], s, zp)
	case onnxio.Uint8, onnxio.Uint4:
		kernels.DequantizeUint8(dst, x.U8[off:off+n], s, zp)
	case onnxio.Int16:
		kernels.DequantizeInt16(dst, x.I16[off:off+n], s, zp)
	case onnxio.Uint16:
		kernels.DequantizeUint16(dst, x.U16[off:off+n], s, zp)
	case onnxio.Int32:
		for i, v := range x.I32[off : off+n] {
			dst[i] = float32(v-zp) * s
		}
	}
}

func init() {
	register(func(c *nodeCtx) (kernel, error) { return &dynQuantK{}, nil }, "DynamicQuantizeLinear")
}

// dynQuantK is DynamicQuantizeLinear: uint8 quantization with the scale
// and zero point computed from the tensor's range (which includes 0).
type dynQuantK struct{}

func (k *dynQuantK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float {
		return nil, unsupported("DynamicQuantizeLinear of %s", onnxio.DataTypeName(in[0].Type))
	}
	return []spec{{onnxio.Uint8, in[0].Shape}, {onnxio.Float, []int{}}, {onnxio.Uint8, []int{}}}, nil
}

func (k *dynQuantK) run(rc *runCtx, in, out []*Tensor) error {
	x := in[0].F32
	lo, hi := float32(0), float32(0)
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	scale := (hi - lo) / 255
	zp := 0.0
	if scale != 0 {
		zp = math.Max(0, math.Min(255, math.RoundToEven(float64(-lo/scale))))
	}
	for i, v := range x {
		q := zp
		if scale != 0 {
			q = math.Max(0, math.Min(255, math.RoundToEven(float64(v/scale))+zp))
		}
		out[0].U8[i] = uint8(q)
	}
	if len(out) > 1 && out[1] != nil {
		out[1].F32[0] = scale
	}
	if len(out) > 2 && out[2] != nil {
		out[2].U8[0] = uint8(zp)
	}
	return nil
}

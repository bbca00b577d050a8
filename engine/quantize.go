package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildQDQ, "QuantizeLinear", "DequantizeLinear")
}

// qdqK is QuantizeLinear (float32 -> int8 or uint8: round half to even of
// x/scale, plus the zero point, saturated) and DequantizeLinear (int8,
// uint8 or int32 -> float32: (x - zero point)·scale), per tensor or per
// axis. A model with QuantizeLinear/DequantizeLinear pairs runs as
// simulated quantization in float.
type qdqK struct {
	quant bool
	axis  int64
	outDT onnxio.DataType // QuantizeLinear output_dtype, 0 when absent
}

func buildQDQ(c *nodeCtx) (kernel, error) {
	if c.attrInt("block_size", 0) != 0 {
		return nil, unsupported("%s block_size", c.n.GetOpType())
	}
	k := &qdqK{quant: c.n.GetOpType() == "QuantizeLinear", axis: c.attrInt("axis", 1), outDT: onnxio.DataType(c.attrInt("output_dtype", 0))}
	return k, nil
}

func (k *qdqK) infer(in []*Tensor) ([]spec, error) {
	x, scale := in[0], in[1]
	if scale.Type != onnxio.Float {
		return nil, unsupported("%s scale of %s", map[bool]string{true: "QuantizeLinear", false: "DequantizeLinear"}[k.quant], onnxio.DataTypeName(scale.Type))
	}
	if scale.Len() != 1 {
		ax, err := normAxis(k.axis, len(x.Shape))
		if err != nil {
			return nil, err
		}
		if len(scale.Shape) != 1 || scale.Shape[0] != x.Shape[ax] {
			return nil, fmt.Errorf("scale %v for axis %d of %v", scale.Shape, ax, x.Shape)
		}
	}
	if !k.quant {
		switch x.Type {
		case onnxio.Int8, onnxio.Uint8, onnxio.Int32:
		default:
			return nil, unsupported("DequantizeLinear of %s", onnxio.DataTypeName(x.Type))
		}
		return []spec{{onnxio.Float, x.Shape}}, nil
	}
	if x.Type != onnxio.Float {
		return nil, unsupported("QuantizeLinear of %s", onnxio.DataTypeName(x.Type))
	}
	dt := onnxio.DataType(onnxio.Uint8)
	if len(in) > 2 && in[2] != nil {
		dt = in[2].Type
	} else if k.outDT != 0 {
		dt = k.outDT
	}
	if dt != onnxio.Int8 && dt != onnxio.Uint8 {
		return nil, unsupported("QuantizeLinear to %s", onnxio.DataTypeName(dt))
	}
	return []spec{{dt, x.Shape}}, nil
}

func (k *qdqK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	scale := in[1].F32
	var zp *Tensor
	if len(in) > 2 && in[2] != nil {
		zp = in[2]
	}
	inner, d := 1, 1
	if len(scale) != 1 {
		ax, _ := normAxis(k.axis, len(x.Shape))
		inner, d = numel(x.Shape[ax+1:]), x.Shape[ax]
	}
	ch := func(i int) int { return i / inner % d }
	zero := func(c int) float64 {
		if zp == nil {
			return 0
		}
		if zp.Len() == 1 {
			return zp.at(0)
		}
		return zp.at(c)
	}
	sc := func(c int) float32 {
		if len(scale) == 1 {
			return scale[0]
		}
		return scale[c]
	}
	n := x.Len()
	if !k.quant && len(scale) == 1 && (x.Type == onnxio.Uint8 || x.Type == onnxio.Int8) {
		s, z := scale[0], float32(zero(0))
		d := o.F32[:n]
		if x.Type == onnxio.Int8 {
			for i, v := range x.I8[:n] {
				d[i] = (float32(v) - z) * s
			}
		} else {
			for i, v := range x.U8[:n] {
				d[i] = (float32(v) - z) * s
			}
		}
		return nil
	}
	if !k.quant {
		for i := 0; i < n; i++ {
			c := ch(i)
			o.F32[i] = float32(x.at(i)-zero(c)) * sc(c)
		}
		return nil
	}
	lo, hi := 0.0, 255.0
	if o.Type == onnxio.Int8 {
		lo, hi = -128, 127
	}
	if len(scale) == 1 {
		quantizeFast(x.F32, o, scale[0], float32(zero(0)), float32(lo), float32(hi))
		return nil
	}
	for i := 0; i < n; i++ {
		c := ch(i)
		v := math.RoundToEven(float64(x.F32[i]/sc(c))) + zero(c)
		setAt(o, i, math.Max(lo, math.Min(hi, v)))
	}
	return nil
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

// quantizeFast is per-tensor QuantizeLinear: round half to even of x/s
// (in float32 as the general path computes it, then exactly in float64),
// plus zp, saturated to [lo, hi].
func quantizeFast(x []float32, o *Tensor, s, zp, lo, hi float32) {
	if o.Type == onnxio.Int8 {
		d := o.I8[:len(x)]
		for i, v := range x {
			d[i] = int8(min(hi, max(lo, float32(math.RoundToEven(float64(v/s)))+zp)))
		}
		return
	}
	d := o.U8[:len(x)]
	for i, v := range x {
		d[i] = uint8(min(hi, max(lo, float32(math.RoundToEven(float64(v/s)))+zp)))
	}
}

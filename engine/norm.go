package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildBatchNorm, "BatchNormalization")
	register(buildSoftmax, "Softmax", "LogSoftmax", "Hardmax")
	register(buildInstanceNorm, "InstanceNormalization")
	register(buildLayerNorm, "LayerNormalization")
}

// ---- BatchNormalization (inference) ----

type batchNormK struct{ eps float32 }

func buildBatchNorm(c *nodeCtx) (kernel, error) {
	if c.attrInt("training_mode", 0) != 0 {
		return nil, unsupported("BatchNormalization in training mode")
	}
	for _, o := range c.n.GetOutput()[1:] {
		if o != "" {
			return nil, unsupported("BatchNormalization training outputs")
		}
	}
	return &batchNormK{eps: c.attrFloat("epsilon", 1e-5)}, nil
}

func (k *batchNormK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != 5 || in[0].Type != onnxio.Float || len(in[0].Shape) < 2 {
		return nil, fmt.Errorf("BatchNormalization needs float X of rank >= 2 and 4 parameters")
	}
	for _, p := range in[1:] {
		if p == nil || p.Type != onnxio.Float || p.Len() != in[0].Shape[1] {
			return nil, fmt.Errorf("BatchNormalization parameters must have %d float values", in[0].Shape[1])
		}
	}
	return []spec{{onnxio.Float, in[0].Shape}}, nil
}

func (k *batchNormK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	scale, shift := bnParams(in[1].F32, in[2].F32, in[3].F32, in[4].F32, k.eps)
	c := x.Shape[1]
	sp := numel(x.Shape[2:])
	for p := 0; p < x.Shape[0]*c; p++ {
		s, b := scale[p%c], shift[p%c]
		src, dst := x.F32[p*sp:(p+1)*sp], o.F32[p*sp:(p+1)*sp]
		for i, v := range src {
			dst[i] = v*s + b
		}
	}
	return nil
}

// ---- Softmax, LogSoftmax, Hardmax (opset 13: along one axis) ----

type softmaxK struct {
	op   string
	axis int64
}

func buildSoftmax(c *nodeCtx) (kernel, error) {
	return &softmaxK{op: c.n.GetOpType(), axis: c.attrInt("axis", -1)}, nil
}

func (k *softmaxK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float {
		return nil, unsupported("%s of %s", k.op, onnxio.DataTypeName(in[0].Type))
	}
	if _, err := normAxis(k.axis, len(in[0].Shape)); err != nil && len(in[0].Shape) > 0 {
		return nil, err
	}
	return []spec{{onnxio.Float, in[0].Shape}}, nil
}

func (k *softmaxK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	if len(x.Shape) == 0 {
		o.F32[0] = map[string]float32{"Softmax": 1, "LogSoftmax": 0, "Hardmax": 1}[k.op]
		return nil
	}
	ax, _ := normAxis(k.axis, len(x.Shape))
	outer, n, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	for a := 0; a < outer; a++ {
		for b := 0; b < inner; b++ {
			base := a*n*inner + b
			m := float32(math.Inf(-1))
			arg := 0
			for i := 0; i < n; i++ {
				if v := x.F32[base+i*inner]; v > m {
					m, arg = v, i
				}
			}
			switch k.op {
			case "Hardmax":
				for i := 0; i < n; i++ {
					o.F32[base+i*inner] = 0
				}
				o.F32[base+arg*inner] = 1
			case "Softmax":
				var sum float64
				for i := 0; i < n; i++ {
					e := float32(math.Exp(float64(x.F32[base+i*inner] - m)))
					o.F32[base+i*inner] = e
					sum += float64(e)
				}
				inv := float32(1 / sum)
				for i := 0; i < n; i++ {
					o.F32[base+i*inner] *= inv
				}
			case "LogSoftmax":
				var sum float64
				for i := 0; i < n; i++ {
					sum += math.Exp(float64(x.F32[base+i*inner] - m))
				}
				ls := float32(math.Log(sum))
				for i := 0; i < n; i++ {
					o.F32[base+i*inner] = x.F32[base+i*inner] - m - ls
				}
			}
		}
	}
	return nil
}

// ---- InstanceNormalization ----

type instanceNormK struct{ eps float32 }

func buildInstanceNorm(c *nodeCtx) (kernel, error) {
	return &instanceNormK{eps: c.attrFloat("epsilon", 1e-5)}, nil
}

func (k *instanceNormK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != 3 || in[0].Type != onnxio.Float || len(in[0].Shape) < 3 {
		return nil, fmt.Errorf("InstanceNormalization needs float N×C×... input, scale and B")
	}
	return []spec{{onnxio.Float, in[0].Shape}}, nil
}

func (k *instanceNormK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	c := x.Shape[1]
	sp := numel(x.Shape[2:])
	for p := 0; p < x.Shape[0]*c; p++ {
		normalize(x.F32[p*sp:(p+1)*sp], o.F32[p*sp:(p+1)*sp], k.eps, func(i int) (float32, float32) {
			return in[1].F32[p%c], in[2].F32[p%c]
		})
	}
	return nil
}

// normalize writes (x-mean)/sqrt(var+eps)*scale+bias, with scale and bias
// per element index.
func normalize(x, o []float32, eps float32, sb func(i int) (float32, float32)) (mean, inv float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	var variance float64
	for _, v := range x {
		d := float64(v) - mean
		variance += d * d
	}
	variance /= float64(len(x))
	inv = 1 / math.Sqrt(variance+float64(eps))
	for i, v := range x {
		s, b := sb(i)
		o[i] = float32((float64(v)-mean)*inv)*s + b
	}
	return mean, inv
}

// ---- LayerNormalization ----

type layerNormK struct {
	axis int64
	eps  float32
}

func buildLayerNorm(c *nodeCtx) (kernel, error) {
	if c.attrInt("stash_type", 1) != 1 {
		return nil, unsupported("LayerNormalization stash_type")
	}
	return &layerNormK{axis: c.attrInt("axis", -1), eps: c.attrFloat("epsilon", 1e-5)}, nil
}

func (k *layerNormK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float {
		return nil, unsupported("LayerNormalization of %s", onnxio.DataTypeName(in[0].Type))
	}
	ax, err := normAxis(k.axis, len(in[0].Shape))
	if err != nil {
		return nil, err
	}
	// Mean and InvStdDev keep the leading axes, with 1s after.
	st := append([]int{}, in[0].Shape[:ax]...)
	for range in[0].Shape[ax:] {
		st = append(st, 1)
	}
	return []spec{{onnxio.Float, in[0].Shape}, {onnxio.Float, st}, {onnxio.Float, st}}, nil
}

func (k *layerNormK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	ax, _ := normAxis(k.axis, len(x.Shape))
	inner := numel(x.Shape[ax:])
	ish := x.Shape[ax:]
	sc := in[1]
	var bs *Tensor
	if len(in) > 2 {
		bs = in[2]
	}
	// Scale and bias broadcast to the normalised shape.
	scale := make([]float32, inner)
	bias := make([]float32, inner)
	binaryF32("Add", make([]float32, inner), sc.F32, scale, ish, sc.Shape, ish)
	if bs != nil {
		binaryF32("Add", make([]float32, inner), bs.F32, bias, ish, bs.Shape, ish)
	}
	for p := 0; p < numel(x.Shape[:ax]); p++ {
		mean, inv := normalize(x.F32[p*inner:(p+1)*inner], o.F32[p*inner:(p+1)*inner], k.eps, func(i int) (float32, float32) {
			return scale[i], bias[i]
		})
		if len(out) > 1 && out[1] != nil {
			out[1].F32[p] = float32(mean)
		}
		if len(out) > 2 && out[2] != nil {
			out[2].F32[p] = float32(inv)
		}
	}
	return nil
}

func init() {
	register(func(c *nodeCtx) (kernel, error) {
		return &lrnK{size: int(c.attrInt("size", 0)), alpha: float64(c.attrFloat("alpha", 1e-4)),
			beta: float64(c.attrFloat("beta", 0.75)), bias: float64(c.attrFloat("bias", 1))}, nil
	}, "LRN")
	register(func(c *nodeCtx) (kernel, error) {
		axes, ok := c.attrInts("axes")
		if !ok {
			axes = []int64{0, 2, 3}
		}
		return &mvnK{axes: axes}, nil
	}, "MeanVarianceNormalization")
	register(func(c *nodeCtx) (kernel, error) {
		p := c.attrInt("p", 2)
		if p != 1 && p != 2 {
			return nil, unsupported("LpNormalization p=%d", p)
		}
		return &lpNormK{axis: c.attrInt("axis", -1), p: p}, nil
	}, "LpNormalization")
}

// ---- LRN ----

type lrnK struct {
	size              int
	alpha, beta, bias float64
}

func (k *lrnK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float || len(in[0].Shape) < 2 || k.size < 1 {
		return nil, fmt.Errorf("LRN needs float N×C×... input and a size")
	}
	return []spec{{onnxio.Float, in[0].Shape}}, nil
}

func (k *lrnK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	c := x.Shape[1]
	sp := numel(x.Shape[2:])
	lo, hi := (k.size-1)/2, (k.size-1)-(k.size-1)/2
	for ni := 0; ni < x.Shape[0]; ni++ {
		for ci := 0; ci < c; ci++ {
			for i := 0; i < sp; i++ {
				var sq float64
				for cj := max(0, ci-lo); cj <= min(c-1, ci+hi); cj++ {
					v := float64(x.F32[(ni*c+cj)*sp+i])
					sq += v * v
				}
				p := (ni*c+ci)*sp + i
				o.F32[p] = float32(float64(x.F32[p]) / math.Pow(k.bias+k.alpha/float64(k.size)*sq, k.beta))
			}
		}
	}
	return nil
}

// ---- MeanVarianceNormalization ----

type mvnK struct{ axes []int64 }

func (k *mvnK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float {
		return nil, unsupported("MeanVarianceNormalization of %s", onnxio.DataTypeName(in[0].Type))
	}
	return []spec{{onnxio.Float, in[0].Shape}}, nil
}

func (k *mvnK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	axes := NewInt64([]int{len(k.axes)}, k.axes)
	red := &reduceK{op: "ReduceMean", keep: true}
	specs, err := red.infer([]*Tensor{x, axes})
	if err != nil {
		return err
	}
	mean := newTensor(onnxio.Float, specs[0].shape)
	if err := red.run(rc, []*Tensor{x, axes}, []*Tensor{mean}); err != nil {
		return err
	}
	d := newTensor(onnxio.Float, x.Shape)
	binaryF32("Sub", x.F32, mean.F32, d.F32, x.Shape, mean.Shape, x.Shape)
	sq := newTensor(onnxio.Float, x.Shape)
	binaryF32("Mul", d.F32, d.F32, sq.F32, x.Shape, x.Shape, x.Shape)
	variance := newTensor(onnxio.Float, specs[0].shape)
	if err := red.run(rc, []*Tensor{sq, axes}, []*Tensor{variance}); err != nil {
		return err
	}
	for i, v := range variance.F32 {
		variance.F32[i] = float32(math.Sqrt(float64(v))) + 1e-9
	}
	binaryF32("Div", d.F32, variance.F32, o.F32, x.Shape, variance.Shape, x.Shape)
	return nil
}

// ---- LpNormalization ----

type lpNormK struct {
	axis int64
	p    int64
}

func (k *lpNormK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float {
		return nil, unsupported("LpNormalization of %s", onnxio.DataTypeName(in[0].Type))
	}
	if _, err := normAxis(k.axis, len(in[0].Shape)); err != nil {
		return nil, err
	}
	return []spec{{onnxio.Float, in[0].Shape}}, nil
}

func (k *lpNormK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	ax, _ := normAxis(k.axis, len(x.Shape))
	outer, d, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	for a := 0; a < outer; a++ {
		for b := 0; b < inner; b++ {
			var norm float64
			for i := 0; i < d; i++ {
				v := float64(x.F32[(a*d+i)*inner+b])
				if k.p == 1 {
					norm += math.Abs(v)
				} else {
					norm += v * v
				}
			}
			if k.p == 2 {
				norm = math.Sqrt(norm)
			}
			for i := 0; i < d; i++ {
				p := (a*d+i)*inner + b
				if norm == 0 {
					o.F32[p] = 0
				} else {
					o.F32[p] = float32(float64(x.F32[p]) / norm)
				}
			}
		}
	}
	return nil
}

package engine

import (
	"fmt"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildGemm, "Gemm")
	register(buildMatMul, "MatMul")
}

// ---- Gemm ----

type gemmK struct {
	transA, transB bool
	alpha, beta    float32
	packed         *kernels.PackedB // constant B (alpha folded in)
	bk, bn         int
	colBias        []float32 // constant C of shape [N] or [1,N], times beta
	ep             kernels.Epilogue
}

func buildGemm(c *nodeCtx) (kernel, error) {
	k := &gemmK{transA: c.attrInt("transA", 0) != 0, transB: c.attrInt("transB", 0) != 0,
		alpha: c.attrFloat("alpha", 1), beta: c.attrFloat("beta", 1), ep: c.fuse.epilogue()}
	if b := c.constInput(1); b != nil && b.Type == onnxio.Float && len(b.Shape) == 2 {
		k.bk, k.bn = b.Shape[0], b.Shape[1]
		if k.transB {
			k.bk, k.bn = k.bn, k.bk
		}
		data := b.F32
		if k.alpha != 1 {
			data = make([]float32, len(b.F32))
			for i, v := range b.F32 {
				data[i] = v * k.alpha
			}
		}
		k.packed = kernels.PackB(k.bk, k.bn, data, b.Shape[1], k.transB)
	}
	if cc := c.constInput(2); cc != nil && cc.Type == onnxio.Float && (len(cc.Shape) == 1 || (len(cc.Shape) == 2 && cc.Shape[0] == 1)) && cc.Len() > 1 {
		k.colBias = make([]float32, cc.Len())
		for i, v := range cc.F32 {
			k.colBias[i] = v * k.beta
		}
	}
	return k, nil
}

func (k *gemmK) dims(a, b []int) (m, n, kk int, err error) {
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, fmt.Errorf("Gemm needs 2-D A and B, got %v and %v", a, b)
	}
	m, kk = a[0], a[1]
	if k.transA {
		m, kk = kk, m
	}
	kb, n := b[0], b[1]
	if k.transB {
		kb, n = n, kb
	}
	if kb != kk {
		return 0, 0, 0, fmt.Errorf("Gemm: A %v and B %v do not multiply", a, b)
	}
	return m, n, kk, nil
}

func (k *gemmK) infer(in []*Tensor) ([]spec, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil || in[0].Type != onnxio.Float {
		return nil, fmt.Errorf("Gemm needs float A and B")
	}
	m, n, _, err := k.dims(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	if len(in) > 2 && in[2] != nil {
		if _, err := bcastShape(in[2].Shape, []int{m, n}); err != nil {
			return nil, fmt.Errorf("Gemm: C %v does not broadcast to [%d,%d]", in[2].Shape, m, n)
		}
	}
	return []spec{{onnxio.Float, []int{m, n}}}, nil
}

func (k *gemmK) run(rc *runCtx, in, out []*Tensor) error {
	a, b, o := in[0], in[1], out[0]
	m, n, kk, _ := k.dims(a.Shape, b.Shape)
	bop := kernels.Dense(b.F32, b.Shape[1], k.transB)
	scaleAfter := k.alpha != 1
	if k.packed != nil {
		bop = k.packed.Operand()
		scaleAfter = false
	}
	ep := k.ep
	var c *Tensor
	if len(in) > 2 && in[2] != nil {
		c = in[2]
	}
	general := c != nil && (k.colBias == nil || scaleAfter)
	if c != nil && !general {
		ep.ColBias = k.colBias
	}
	if general || scaleAfter {
		ep = kernels.Epilogue{}
	}
	kernels.Sgemm(m, n, kk, kernels.Dense(a.F32, a.Shape[1], k.transA), bop, o.F32, n, &ep, rc.threads)
	if scaleAfter {
		for i := range o.F32 {
			o.F32[i] *= k.alpha
		}
	}
	if general {
		cs := make([]float32, c.Len())
		for i, v := range c.F32 {
			cs[i] = v * k.beta
		}
		binaryF32("Add", o.F32, cs, o.F32, o.Shape, c.Shape, o.Shape)
	}
	if general || scaleAfter {
		f := actFunc(k.ep)
		for i, v := range o.F32 {
			o.F32[i] = f(v)
		}
	}
	return nil
}

// ---- MatMul ----

type matmulK struct {
	packed *kernels.PackedB // constant 2-D B
	ep     kernels.Epilogue // fused bias and activation (constant B only)
}

func buildMatMul(c *nodeCtx) (kernel, error) {
	k := &matmulK{ep: c.fuse.epilogue()}
	if c.fuse != nil {
		k.ep.ColBias = c.fuse.colBias
	}
	if b := c.constInput(1); b != nil && b.Type == onnxio.Float && len(b.Shape) == 2 {
		k.packed = kernels.PackB(b.Shape[0], b.Shape[1], b.F32, b.Shape[1], false)
	}
	return k, nil
}

// mmShapes promotes 1-D operands and returns the batch shape and sizes.
func mmShapes(a, b []int) (batch []int, m, n, kk int, outShape []int, err error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, 0, 0, 0, nil, fmt.Errorf("MatMul of a scalar")
	}
	a2, b2 := a, b
	if len(a) == 1 {
		a2 = []int{1, a[0]}
	}
	if len(b) == 1 {
		b2 = []int{b[0], 1}
	}
	m, kk = a2[len(a2)-2], a2[len(a2)-1]
	kb, n := b2[len(b2)-2], b2[len(b2)-1]
	if kb != kk {
		return nil, 0, 0, 0, nil, fmt.Errorf("MatMul: %v and %v do not multiply", a, b)
	}
	batch, err = bcastShape(a2[:len(a2)-2], b2[:len(b2)-2])
	if err != nil {
		return nil, 0, 0, 0, nil, err
	}
	outShape = append([]int{}, batch...)
	if len(a) > 1 {
		outShape = append(outShape, m)
	}
	if len(b) > 1 {
		outShape = append(outShape, n)
	}
	return batch, m, n, kk, outShape, nil
}

func (k *matmulK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil || in[0].Type != onnxio.Float || in[1].Type != onnxio.Float {
		return nil, unsupported("MatMul needs float inputs")
	}
	_, _, _, _, os, err := mmShapes(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	return []spec{{onnxio.Float, os}}, nil
}

func (k *matmulK) run(rc *runCtx, in, out []*Tensor) error {
	a, b, o := in[0], in[1], out[0]
	batch, m, n, kk, _, _ := mmShapes(a.Shape, b.Shape)
	if k.packed != nil && len(b.Shape) == 2 {
		// Fold the batch into M: A is contiguous rows of K.
		rows := o.Len() / max(n, 1)
		ep := k.ep
		kernels.Sgemm(rows, n, kk, kernels.Dense(a.F32, max(kk, 1), false), k.packed.Operand(), o.F32, n, &ep, rc.threads)
		return nil
	}
	if kk == 0 {
		clear(o.F32)
		return nil
	}
	ab, bb := a.Shape[:max(len(a.Shape)-2, 0)], b.Shape[:max(len(b.Shape)-2, 0)]
	nb := numel(batch)
	if nb == 0 {
		return nil
	}
	sa, sb := bcastStrides(ab, batch), bcastStrides(bb, batch)
	idx := make([]int, len(batch))
	for bi := 0; bi < nb; bi++ {
		oa, ob := 0, 0
		r := bi
		for d := len(batch) - 1; d >= 0; d-- {
			idx[d] = r % batch[d]
			r /= batch[d]
			oa += idx[d] * sa[d]
			ob += idx[d] * sb[d]
		}
		oa *= m * kk
		ob *= kk * n
		kernels.Sgemm(m, n, kk, kernels.Dense(a.F32[oa:oa+m*kk], kk, false), kernels.Dense(b.F32[ob:ob+kk*n], n, false),
			o.F32[bi*m*n:(bi+1)*m*n], n, nil, rc.threads)
	}
	return nil
}

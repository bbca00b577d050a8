package engine

import (
	"fmt"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildQLinearConv, "QLinearConv", "ConvInteger")
	register(buildQLinearMatMul, "QLinearMatMul", "MatMulInteger")
}

// ---- QLinearConv, ConvInteger ----

// qlinearConvK is QLinearConv (uint8/int8 X and W, scales and zero points
// per tensor or, for W, per output channel, int32 bias; output requantized
// with the float factor sx·sw/sy, rounded half to even, saturated) and
// ConvInteger (int32 output) on the INT8 GEMM.
type qlinearConvK struct {
	qconv
	integer bool // ConvInteger
}

// input indices of X, W and W's zero point.
func (k *qlinearConvK) wIdx() (w, wzp int) {
	if k.integer {
		return 1, 3
	}
	return 3, 5
}

func buildQLinearConv(c *nodeCtx) (kernel, error) {
	g, err := readGeom(c)
	if err != nil {
		return nil, err
	}
	k := &qlinearConvK{qconv: qconv{g: g, group: int(c.attrInt("group", 1))}, integer: c.n.GetOpType() == "ConvInteger"}
	if k.group < 1 {
		return nil, fmt.Errorf("group %d", k.group)
	}
	wi, zi := k.wIdx()
	w := c.constInput(wi)
	if w != nil && isQ8(w.Type) && len(w.Shape) >= 3 && w.Shape[0]%k.group == 0 && (!c.hasInput(zi) || c.constInput(zi) != nil) {
		zp := zeroPoints(c.constInput(zi))
		if len(zp) <= 1 || len(zp) == w.Shape[0] {
			k.packed = packConvWeights(w, zp, k.group)
		}
	}
	return k, nil
}

func (k *qlinearConvK) infer(in []*Tensor) ([]spec, error) {
	wi, _ := k.wIdx()
	if len(in) <= wi || in[0] == nil || in[wi] == nil {
		return nil, fmt.Errorf("missing X or W")
	}
	x, w := in[0], in[wi]
	if !isQ8(x.Type) || !isQ8(w.Type) {
		return nil, unsupported("integer convolution of %s by %s", onnxio.DataTypeName(x.Type), onnxio.DataTypeName(w.Type))
	}
	os, _, _, _, err := k.shape(x.Shape, w.Shape)
	if err != nil {
		return nil, err
	}
	if k.integer {
		return []spec{{onnxio.Int32, os}}, nil
	}
	if len(in) < 8 || in[1] == nil || in[4] == nil || in[6] == nil {
		return nil, fmt.Errorf("QLinearConv needs 8 inputs")
	}
	dt := onnxio.DataType(onnxio.Uint8)
	if in[7] != nil {
		dt = in[7].Type
	}
	if !isQ8(dt) {
		return nil, unsupported("QLinearConv to %s", onnxio.DataTypeName(dt))
	}
	if in[4].Len() != 1 && in[4].Len() != w.Shape[0] {
		return nil, fmt.Errorf("w_scale has %d values for %d channels", in[4].Len(), w.Shape[0])
	}
	return []spec{{dt, os}}, nil
}

func (k *qlinearConvK) run(rc *runCtx, in, out []*Tensor) error {
	wi, zi := k.wIdx()
	x, w := in[0], in[wi]
	m := w.Shape[0]
	var xzp *Tensor
	if k.integer {
		if len(in) > 2 {
			xzp = in[2]
		}
	} else {
		xzp = in[2]
	}
	za, ok := scalarZP(xzp)
	if !ok {
		return unsupported("per-channel input zero point")
	}
	packed := k.packed
	if packed == nil {
		var wz *Tensor
		if len(in) > zi {
			wz = in[zi]
		}
		zp := zeroPoints(wz)
		if len(zp) > 1 && len(zp) != m {
			return fmt.Errorf("%d weight zero points for %d channels", len(zp), m)
		}
		packed = packConvWeights(w, zp, k.group)
	}
	q := &qout{dt: out[0].Type}
	if !k.integer {
		q.scale = requantScales(in[1].F32[0], in[4].F32, in[6].F32[0])
		q.zp, _ = scalarZP(in[7])
		if len(in) > 8 && in[8] != nil {
			if in[8].Type != onnxio.Int32 || in[8].Len() != m {
				return fmt.Errorf("bias %s for %d channels", in[8], m)
			}
			q.bias = in[8].I32
		}
	}
	return k.qconv.run(rc, x, za, w.Shape, packed, q, out[0])
}

// requantScales is sx·sw[c]/sy per channel, in float32 as ONNX Runtime
// computes it.
func requantScales(sx float32, sw []float32, sy float32) []float32 {
	s := make([]float32, len(sw))
	for i, v := range sw {
		s[i] = sx * v / sy
	}
	return s
}

// ---- QLinearMatMul, MatMulInteger ----

// qlinearMatMulK is QLinearMatMul (scales per tensor, B's also per
// column; requantized output) and MatMulInteger (int32 output), batched
// with broadcasting; a constant 2-D B is packed once.
type qlinearMatMulK struct {
	integer bool
	packed  *kernels.QPackedWeights
}

func (k *qlinearMatMulK) idx() (b, azp, bzp int) {
	if k.integer {
		return 1, 2, 3
	}
	return 3, 2, 5
}

func buildQLinearMatMul(c *nodeCtx) (kernel, error) {
	k := &qlinearMatMulK{integer: c.n.GetOpType() == "MatMulInteger"}
	bi, _, zi := k.idx()
	if b := c.constInput(bi); b != nil && isQ8(b.Type) && len(b.Shape) == 2 && (!c.hasInput(zi) || c.constInput(zi) != nil) {
		zp := zeroPoints(c.constInput(zi))
		if len(zp) <= 1 || len(zp) == b.Shape[1] {
			k.packed = packKN(b, 0, b.Shape[0], b.Shape[1], zp)
		}
	}
	return k, nil
}

// packKN packs the K×N matrix at element off of b (uint8 or int8).
func packKN(b *Tensor, off, kk, n int, zp []int32) *kernels.QPackedWeights {
	src := qbytes(b)[off : off+kk*n]
	t := make([]uint8, n*kk)
	transposeInto(t, kk, src, kk, n)
	return packQ(b.Type, n, kk, t, kk, zp)
}

func (k *qlinearMatMulK) infer(in []*Tensor) ([]spec, error) {
	bi, _, _ := k.idx()
	if len(in) <= bi || in[0] == nil || in[bi] == nil {
		return nil, fmt.Errorf("missing A or B")
	}
	a, b := in[0], in[bi]
	if !isQ8(a.Type) || !isQ8(b.Type) {
		return nil, unsupported("integer MatMul of %s by %s", onnxio.DataTypeName(a.Type), onnxio.DataTypeName(b.Type))
	}
	_, _, n, _, os, err := mmShapes(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	if k.integer {
		return []spec{{onnxio.Int32, os}}, nil
	}
	if len(in) < 8 || in[1] == nil || in[4] == nil || in[6] == nil {
		return nil, fmt.Errorf("QLinearMatMul needs 8 inputs")
	}
	if in[1].Len() != 1 || in[6].Len() != 1 || (in[4].Len() != 1 && in[4].Len() != n) {
		return nil, unsupported("QLinearMatMul scales of %v, %v, %v", in[1].Shape, in[4].Shape, in[6].Shape)
	}
	dt := onnxio.DataType(onnxio.Uint8)
	if in[7] != nil {
		dt = in[7].Type
	}
	if !isQ8(dt) {
		return nil, unsupported("QLinearMatMul to %s", onnxio.DataTypeName(dt))
	}
	return []spec{{dt, os}}, nil
}

func (k *qlinearMatMulK) run(rc *runCtx, in, out []*Tensor) error {
	bi, ai, zi := k.idx()
	a, b, o := in[0], in[bi], out[0]
	batch, m, n, kk, _, _ := mmShapes(a.Shape, b.Shape)
	var az, bz *Tensor
	if len(in) > ai {
		az = in[ai]
	}
	if len(in) > zi {
		bz = in[zi]
	}
	za, ok := scalarZP(az)
	if !ok {
		return unsupported("per-row zero point of A")
	}
	zb := zeroPoints(bz)
	if len(zb) > 1 && len(zb) != n {
		return fmt.Errorf("%d zero points of B for %d columns", len(zb), n)
	}
	q := &qout{dt: o.Type}
	if !k.integer {
		q.scale = requantScales(in[1].F32[0], in[4].F32, in[6].F32[0])
		q.zp, _ = scalarZP(in[7])
	}
	ab := qbytes(a)
	signed := a.Type == onnxio.Int8
	if o.Len() == 0 {
		return nil
	}
	if len(b.Shape) <= 2 {
		// Fold the batch into M: A is contiguous rows of K.
		pw := k.packed
		if pw == nil {
			pw = packKN(b, 0, kk, n, zb)
		}
		rows := o.Len() / n
		q.gemm(rc, rows, ab, kk, signed, za, pw, 0, o, 0, 0)
		return nil
	}
	abat, bbat := a.Shape[:max(len(a.Shape)-2, 0)], b.Shape[:len(b.Shape)-2]
	sa, sb := bcastStrides(abat, batch), bcastStrides(bbat, batch)
	idx := make([]int, len(batch))
	for bi := 0; bi < numel(batch); bi++ {
		oa, ob := 0, 0
		r := bi
		for d := len(batch) - 1; d >= 0; d-- {
			idx[d] = r % batch[d]
			r /= batch[d]
			oa += idx[d] * sa[d]
			ob += idx[d] * sb[d]
		}
		pw := packKN(b, ob*kk*n, kk, n, zb)
		q.gemm(rc, m, ab[oa*m*kk:], kk, signed, za, pw, 0, o, bi*m*n, 0)
	}
	return nil
}

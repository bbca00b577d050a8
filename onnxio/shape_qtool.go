package onnxio

import "fmt"

// domainRules are the shape rules of operators outside the default
// domain, by domain: qtool's binary operators (ai.qtool v1, described in
// the README's "Binary operators").
var domainRules = map[string]map[string]opRule{
	"ai.qtool": {"BinaryConv": inferBinaryOp, "BinaryGemm": inferBinaryOp},
}

// inferBinaryOp is BinaryConv's and BinaryGemm's rule. The input is NCHW
// float or packed bits [N, H, W, words] (Gemm: [M, K] or [M, words]);
// the weight is [M, kH, kW, words] (Gemm: [N, words]). The output is
// float or int8 NCHW ([M, N]), or packed bits channels-last.
func inferBinaryOp(c *nctx) error {
	x, w, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	var elem DataType
	switch o := c.attrString("output", "float"); o {
	case "float":
		elem = Float
	case "int8":
		elem = Int8
	case "bits":
		elem = Uint64
	default:
		return fmt.Errorf("output %q: want float, int8 or bits", o)
	}
	gemm := c.op == "BinaryGemm"
	rank := 4
	if gemm {
		rank = 2
	}
	if !x.rank || !w.rank {
		c.setUnknown(0, elem)
		return nil
	}
	if len(x.dims) != rank || len(w.dims) != rank {
		return fmt.Errorf("input of rank %d and weight of rank %d; %s takes rank %d", len(x.dims), len(w.dims), c.op, rank)
	}
	bits := x.elem == Uint64
	m := w.dims[0]
	words := func(d *expr) *expr { return c.ceilDiv(d, cst(64)) }
	if gemm {
		if elem == Uint64 {
			c.set(0, elem, []*expr{x.dims[0], words(m)})
		} else {
			c.set(0, elem, []*expr{x.dims[0], m})
		}
		return nil
	}
	h, wd := x.dims[2], x.dims[3]
	if bits {
		h, wd = x.dims[1], x.dims[2]
	}
	kernel := w.dims[1:3]
	if ks, ok := c.attrInts("kernel_shape"); ok && len(ks) == 2 {
		kernel = constExprs(ks)
	}
	win, err := c.readWindow(2, kernel)
	if err != nil {
		return err
	}
	oh, err := c.windowOut(win, 0, h)
	if err != nil {
		return err
	}
	ow, err := c.windowOut(win, 1, wd)
	if err != nil {
		return err
	}
	if elem == Uint64 {
		c.set(0, elem, []*expr{x.dims[0], oh, ow, words(m)})
	} else {
		c.set(0, elem, []*expr{x.dims[0], m, oh, ow})
	}
	return nil
}

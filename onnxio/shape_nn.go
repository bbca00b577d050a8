package onnxio

import (
	"errors"
	"fmt"
	"slices"
)

func addNNRules(r map[string]opRule) {
	for _, op := range []string{"Conv", "ConvInteger", "QLinearConv"} {
		r[op] = inferConv
	}
	r["ConvTranspose"] = inferConvTranspose
	for _, op := range []string{"MaxPool", "AveragePool", "LpPool"} {
		r[op] = inferPool
	}
	for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"} {
		r[op] = inferGlobalPool
	}
	for _, op := range []string{"MatMul", "MatMulInteger", "QLinearMatMul"} {
		r[op] = inferMatMul
	}
	r["Gemm"] = inferGemm
	r["BatchNormalization"] = inferBatchNorm
	r["InstanceNormalization"] = inferInstanceNorm
	r["LayerNormalization"] = inferLayerNorm
	r["GroupNormalization"] = inferUnary
	r["QuantizeLinear"] = inferQuantize
	r["DequantizeLinear"] = inferDequantize
	r["DynamicQuantizeLinear"] = inferDynamicQuantize
	for _, op := range []string{"RNN", "GRU", "LSTM"} {
		r[op] = inferRNN
	}
}

// maxWindow bounds kernel sizes, strides, dilations and pads, far above
// any real model, so size arithmetic on them cannot overflow.
const maxWindow = 1 << 32

// window holds the spatial attributes shared by Conv and the pools.
type window struct {
	kernel   []*expr
	strides  []int64
	dilation []int64
	pads     []int64 // begins then ends
	autoPad  string
	ceil     bool
}

// readWindow reads strides, dilations, pads and auto_pad for n spatial
// axes and checks their ranges.
func (c *nctx) readWindow(n int, kernel []*expr) (*window, error) {
	w := &window{kernel: kernel}
	var err error
	if w.strides, err = c.attrIntsN("strides", n, 1); err != nil {
		return nil, err
	}
	if w.dilation, err = c.attrIntsN("dilations", n, 1); err != nil {
		return nil, err
	}
	if w.pads, err = c.attrIntsN("pads", 2*n, 0); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		if s := w.strides[i]; s < 1 || s > maxWindow {
			return nil, fmt.Errorf("stride %d is not a positive size", s)
		}
		if d := w.dilation[i]; d < 1 || d > maxWindow {
			return nil, fmt.Errorf("dilation %d is not a positive size", d)
		}
	}
	for _, p := range w.pads {
		if p < 0 || p > maxWindow {
			return nil, fmt.Errorf("pad %d is out of range", p)
		}
	}
	for _, k := range kernel {
		if v, ok := k.constVal(); ok && (v < 1 || v > maxWindow) {
			return nil, fmt.Errorf("kernel size %d is not a positive size", v)
		}
	}
	w.autoPad = c.attrString("auto_pad", "NOTSET")
	switch w.autoPad {
	case "NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, fmt.Errorf("unknown auto_pad %q", w.autoPad)
	}
	return w, nil
}

// out is the output size of spatial axis i for input size d.
func (c *nctx) windowOut(w *window, i int, d *expr) (*expr, error) {
	k, ok := w.kernel[i].constVal()
	if !ok {
		return c.in.fresh(), nil
	}
	s, dil := w.strides[i], w.dilation[i]
	ke := (k-1)*dil + 1 // both below 2^32: no overflow
	if ke > maxWindow {
		return nil, fmt.Errorf("dilated kernel size %d is too large", ke)
	}
	switch w.autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		return c.ceilDiv(d, cst(s)), nil
	case "VALID":
		if v, ok := d.constVal(); ok && v < ke {
			return nil, fmt.Errorf("kernel extent %d is larger than input size %d", ke, v)
		}
		return c.addc(c.floorDiv(c.addc(d, -ke), cst(s)), 1), nil
	}
	pb, pe := w.pads[i], w.pads[i+len(w.kernel)]
	total := c.addc(d, pb+pe-ke)
	if v, ok := total.constVal(); ok && v < 0 {
		return nil, fmt.Errorf("kernel extent %d is larger than padded input size %d", ke, v+ke)
	}
	if !w.ceil {
		return c.addc(c.floorDiv(total, cst(s)), 1), nil
	}
	if v, ok := total.constVal(); ok {
		out := (v+s-1)/s + 1
		// The last window must start inside the input or its begin pad.
		dv, _ := d.constVal()
		if (out-1)*s >= dv+pb {
			out--
		}
		return cst(out), nil
	}
	if pb == 0 && ke >= s {
		return c.addc(c.ceilDiv(total, cst(s)), 1), nil
	}
	return c.in.fresh(), nil
}

func inferConv(c *nctx) error {
	xi, wi, bi := 0, 1, 2
	var elem DataType
	switch c.op {
	case "ConvInteger":
		elem = Int32
		bi = -1
	case "QLinearConv":
		xi, wi, bi = 0, 3, 8
		z, err := c.need(7)
		if err != nil {
			return err
		}
		elem = z.elem
	}
	x, w, err := c.need2(xi, wi)
	if err != nil {
		return err
	}
	if c.op == "Conv" {
		elem = x.elem
	}
	if !x.rank {
		c.setUnknown(0, elem)
		return nil
	}
	n, group, err := convSetup(c, x, w)
	if err != nil {
		return err
	}
	var kernel []*expr
	var m *expr
	if w.rank {
		kernel, m = w.dims[2:], w.dims[0]
		if cv, ok := x.dims[1].constVal(); ok {
			if wc, ok := w.dims[1].constVal(); ok && cv != wc*group {
				return fmt.Errorf("input has %d channels but weight expects %d×group %d = %d", cv, wc, group, wc*group)
			}
		}
		if mv, ok := m.constVal(); ok && mv%group != 0 {
			return fmt.Errorf("%d output channels do not divide into %d groups", mv, group)
		}
	}
	kernel, m, err = convKernel(c, n, kernel, m, bi)
	if err != nil {
		return err
	}
	win, err := c.readWindow(n, kernel)
	if err != nil {
		return err
	}
	out := []*expr{x.dims[0], m}
	for i := 0; i < n; i++ {
		d, err := c.windowOut(win, i, x.dims[2+i])
		if err != nil {
			return err
		}
		out = append(out, d)
	}
	c.set(0, elem, out)
	return nil
}

// convSetup checks what Conv and ConvTranspose share: x is N, C and at
// least one spatial axis, a ranked weight has x's rank, group is positive.
// It returns the number of spatial axes and the group.
func convSetup(c *nctx, x, w *tinfo) (int, int64, error) {
	r := len(x.dims)
	if r < 3 {
		return 0, 0, fmt.Errorf("input has rank %d; %s needs N, C and at least one spatial axis", r, c.op)
	}
	group := c.attrInt("group", 1)
	if group < 1 || group > maxElements {
		return 0, 0, fmt.Errorf("group %d is not positive", group)
	}
	if w.rank && len(w.dims) != r {
		return 0, 0, fmt.Errorf("weight has rank %d but input has rank %d", len(w.dims), r)
	}
	return r - 2, group, nil
}

// convKernel settles the kernel window (kernel_shape when given, which
// must agree with the weight's, else the weight's, else fresh sizes) and
// the output channel count m, unified with a bias at input bi when ranked.
func convKernel(c *nctx, n int, kernel []*expr, m *expr, bi int) ([]*expr, *expr, error) {
	if ks, ok := c.attrInts("kernel_shape"); ok {
		if len(ks) != n {
			return nil, nil, fmt.Errorf("kernel_shape %v has %d entries for %d spatial axes", ks, len(ks), n)
		}
		for i, k := range ks {
			if kernel == nil {
				break
			}
			if kv, ok := kernel[i].constVal(); ok && kv != k {
				return nil, nil, fmt.Errorf("kernel_shape %v differs from the weight's %s", ks, dimsString(kernel))
			}
		}
		kernel = constExprs(ks)
	}
	if kernel == nil {
		kernel = freshDims(c, n)
	}
	if m == nil {
		m = c.in.fresh()
	}
	if b, ok := c.ranked(bi); bi >= 0 && ok {
		if len(b.dims) != 1 {
			return nil, nil, fmt.Errorf("bias has rank %d, want 1", len(b.dims))
		}
		m = c.same2(m, b.dims[0], "bias size and output channels")
	}
	return kernel, m, nil
}

func inferConvTranspose(c *nctx) error {
	x, w, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	n, group, err := convSetup(c, x, w)
	if err != nil {
		return err
	}
	var kernel []*expr
	var m *expr
	if w.rank {
		kernel = w.dims[2:]
		c.same2(x.dims[1], w.dims[0], "input channels and weight's first dimension")
		m = c.mul(w.dims[1], cst(group))
	}
	kernel, m, err = convKernel(c, n, kernel, m, 2)
	if err != nil {
		return err
	}
	win, err := c.readWindow(n, kernel)
	if err != nil {
		return err
	}
	outPad, err := c.attrIntsN("output_padding", n, 0)
	if err != nil {
		return err
	}
	for _, p := range outPad {
		if p < 0 || p > maxWindow {
			return fmt.Errorf("output_padding %v is out of range", outPad)
		}
	}
	out := []*expr{x.dims[0], m}
	if os, ok := c.attrInts("output_shape"); ok {
		if len(os) == n+2 {
			os = os[2:]
		}
		if len(os) != n {
			return fmt.Errorf("output_shape %v has %d entries for %d spatial axes", os, len(os), n)
		}
		for _, v := range os {
			if v < 0 || v > maxElements {
				return fmt.Errorf("output_shape %v has invalid size %d", os, v)
			}
		}
		c.set(0, x.elem, append(out, constExprs(os)...))
		return nil
	}
	for i := 0; i < n; i++ {
		d := x.dims[2+i]
		s := cst(win.strides[i])
		k, ok := kernel[i].constVal()
		if !ok {
			out = append(out, c.in.fresh())
			continue
		}
		if k < 1 || k > maxWindow {
			return fmt.Errorf("kernel size %d is not a positive size", k)
		}
		switch win.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out = append(out, c.mul(d, s))
		default:
			ke := (k-1)*win.dilation[i] + 1
			pads := win.pads[i] + win.pads[i+n]
			if win.autoPad == "VALID" {
				pads = 0
			}
			o := c.addc(c.mul(c.addc(d, -1), s), outPad[i]+ke-pads)
			if v, ok := o.constVal(); ok && v < 0 {
				return fmt.Errorf("output size %d along axis %d is negative", v, i+2)
			}
			out = append(out, o)
		}
	}
	c.set(0, x.elem, out)
	return nil
}

func inferPool(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		c.setUnknown(1, Int64)
		return nil
	}
	r := len(x.dims)
	if r < 3 {
		return fmt.Errorf("input has rank %d; %s needs N, C and at least one spatial axis", r, c.op)
	}
	n := r - 2
	ks, ok := c.attrInts("kernel_shape")
	if !ok {
		return fmt.Errorf("%s needs attribute kernel_shape", c.op)
	}
	if len(ks) != n {
		return fmt.Errorf("kernel_shape %v has %d entries for %d spatial axes", ks, len(ks), n)
	}
	win, err := c.readWindow(n, constExprs(ks))
	if err != nil {
		return err
	}
	win.ceil = c.attrInt("ceil_mode", 0) != 0
	out := []*expr{x.dims[0], x.dims[1]}
	for i := 0; i < n; i++ {
		d, err := c.windowOut(win, i, x.dims[2+i])
		if err != nil {
			return err
		}
		out = append(out, d)
	}
	c.set(0, x.elem, out)
	c.set(1, Int64, out)
	return nil
}

func inferGlobalPool(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	if len(x.dims) < 2 {
		return fmt.Errorf("input has rank %d; %s needs N and C", len(x.dims), c.op)
	}
	out := slices.Clone(x.dims)
	for i := 2; i < len(out); i++ {
		out[i] = cst(1)
	}
	c.set(0, x.elem, out)
	return nil
}

func inferMatMul(c *nctx) error {
	ai, bi := 0, 1
	var elem DataType
	switch c.op {
	case "MatMulInteger":
		elem = Int32
	case "QLinearMatMul":
		ai, bi = 0, 3
		z, err := c.need(7)
		if err != nil {
			return err
		}
		elem = z.elem
	}
	a, b, err := c.need2(ai, bi)
	if err != nil {
		return err
	}
	if c.op == "MatMul" {
		elem = a.elem
	}
	if !a.rank || !b.rank {
		c.setUnknown(0, elem)
		return nil
	}
	ad, bd := a.dims, b.dims
	if len(ad) == 0 || len(bd) == 0 {
		return errors.New("MatMul of a scalar")
	}
	dropA, dropB := len(ad) == 1, len(bd) == 1
	if dropA {
		ad = []*expr{cst(1), ad[0]}
	}
	if dropB {
		bd = []*expr{bd[0], cst(1)}
	}
	ka, kb := ad[len(ad)-1], bd[len(bd)-2]
	if av, ok := ka.constVal(); ok {
		if bv, ok := kb.constVal(); ok && av != bv {
			return fmt.Errorf("inner dimensions %d and %d differ", av, bv)
		}
	}
	batch, err := c.broadcast(ad[:len(ad)-2], bd[:len(bd)-2])
	if err != nil {
		return err
	}
	out := batch
	if !dropA {
		out = append(out, ad[len(ad)-2])
	}
	if !dropB {
		out = append(out, bd[len(bd)-1])
	}
	c.set(0, elem, out)
	return nil
}

func inferGemm(c *nctx) error {
	a, b, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !a.rank || !b.rank {
		c.setUnknown(0, a.elem)
		return nil
	}
	if len(a.dims) != 2 || len(b.dims) != 2 {
		return fmt.Errorf("Gemm needs 2-D A and B, has ranks %d and %d", len(a.dims), len(b.dims))
	}
	m, k := a.dims[0], a.dims[1]
	if c.attrInt("transA", 0) != 0 {
		m, k = k, m
	}
	k2, n := b.dims[0], b.dims[1]
	if c.attrInt("transB", 0) != 0 {
		k2, n = n, k2
	}
	if kv, ok := k.constVal(); ok {
		if k2v, ok := k2.constVal(); ok && kv != k2v {
			return fmt.Errorf("inner dimensions %d and %d differ", kv, k2v)
		}
	}
	out := []*expr{m, n}
	if cc, ok := c.ranked(2); ok {
		// C broadcasts to [M,N] one way: each of its sizes is 1 or the
		// output's.
		if len(cc.dims) > 2 {
			return fmt.Errorf("C %s does not broadcast to [M,N]", cc)
		}
		for i, d := range cc.dims {
			o := out[i+2-len(cc.dims)]
			cv, cok := d.constVal()
			ov, ook := o.constVal()
			if cok && ook && cv != 1 && cv != ov {
				return fmt.Errorf("C %s does not broadcast to %s", cc, dimsString(out))
			}
		}
	}
	c.set(0, a.elem, out)
	return nil
}

// checkPerChannel checks that input i, when present and ranked, is 1-D of
// size ch.
func (c *nctx) checkPerChannel(i int, ch *expr, what string) error {
	t, ok := c.ranked(i)
	if !ok {
		return nil
	}
	if len(t.dims) != 1 {
		return fmt.Errorf("%s has rank %d, want 1", what, len(t.dims))
	}
	if tv, ok := t.dims[0].constVal(); ok {
		if cv, ok := ch.constVal(); ok && tv != cv {
			return fmt.Errorf("%s has %d entries for %d channels", what, tv, cv)
		}
	}
	return nil
}

func inferBatchNorm(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	for i := 1; i <= 4; i++ {
		if _, err := c.need(i); err != nil {
			return err
		}
	}
	if !x.rank {
		for i := range c.outs {
			c.setUnknown(i, x.elem)
		}
		return nil
	}
	if len(x.dims) < 2 {
		return fmt.Errorf("input has rank %d; BatchNormalization needs N and C", len(x.dims))
	}
	ch := x.dims[1]
	if c.opset >= 9 || c.attrInt("spatial", 1) != 0 {
		for i, what := range []string{"", "scale", "B", "mean", "var"} {
			if i > 0 {
				if err := c.checkPerChannel(i, ch, what); err != nil {
					return err
				}
			}
		}
	}
	c.set(0, x.elem, x.dims)
	for i := 1; i < len(c.outs); i++ {
		elem := x.elem
		if src := c.input(min(i+2, 4)); src != nil && c.opset >= 14 {
			elem = src.elem
		}
		c.set(i, elem, []*expr{ch})
	}
	return nil
}

func inferInstanceNorm(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if x.rank {
		if len(x.dims) < 3 {
			return fmt.Errorf("input has rank %d; InstanceNormalization needs N, C and a spatial axis", len(x.dims))
		}
		if err := c.checkPerChannel(1, x.dims[1], "scale"); err != nil {
			return err
		}
		if err := c.checkPerChannel(2, x.dims[1], "B"); err != nil {
			return err
		}
	}
	c.same(0, x, x.elem)
	return nil
}

func inferLayerNorm(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	stash := DataType(c.attrInt("stash_type", int64(Float)))
	if !x.rank {
		c.setUnknown(0, x.elem)
		c.setUnknown(1, stash)
		c.setUnknown(2, stash)
		return nil
	}
	a, err := c.axis(c.attrInt("axis", -1), len(x.dims), false)
	if err != nil {
		return err
	}
	c.set(0, x.elem, x.dims)
	stat := slices.Clone(x.dims)
	for i := a; i < len(stat); i++ {
		stat[i] = cst(1)
	}
	c.set(1, stash, stat)
	c.set(2, stash, stat)
	return nil
}

func inferQuantize(c *nctx) error {
	x, _, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	elem := Uint8
	if z := c.input(2); z != nil {
		elem = z.elem
	} else if c.opset >= 21 {
		if dt := c.attrInt("output_dtype", 0); dt != 0 {
			elem = DataType(dt)
		}
	}
	if err := c.checkQuantParams(x); err != nil {
		return err
	}
	c.same(0, x, elem)
	return nil
}

func inferDequantize(c *nctx) error {
	x, s, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	elem := Float
	if c.opset >= 19 {
		elem = s.elem
	}
	if err := c.checkQuantParams(x); err != nil {
		return err
	}
	c.same(0, x, elem)
	return nil
}

// checkQuantParams checks that a scale (input 1) and zero point (input 2)
// are per tensor, or per channel along axis with one entry per channel;
// blocked quantization (opset 21) is left alone.
func (c *nctx) checkQuantParams(x *tinfo) error {
	if c.opset >= 21 && c.attrInt("block_size", 0) != 0 {
		return nil
	}
	s, ok := c.ranked(1)
	if !ok || !x.rank {
		return nil
	}
	if len(s.dims) > 1 {
		return fmt.Errorf("scale has rank %d, want a scalar or 1-D", len(s.dims))
	}
	if z, ok := c.ranked(2); ok && len(z.dims) != len(s.dims) {
		return fmt.Errorf("zero point %s and scale %s differ in shape", z, s)
	}
	if len(s.dims) == 1 {
		if n, ok := s.dims[0].constVal(); ok && n != 1 {
			if len(x.dims) == 0 {
				return fmt.Errorf("per-channel scale of %d entries for a scalar", n)
			}
			a, err := c.axis(c.attrInt("axis", 1), len(x.dims), false)
			if err != nil {
				return err
			}
			if d, ok := x.dims[a].constVal(); ok && d != n {
				return fmt.Errorf("scale has %d entries for %d channels along axis %d", n, d, a)
			}
		}
	}
	return nil
}

func inferDynamicQuantize(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	c.same(0, x, Uint8)
	c.set(1, Float, nil)
	c.set(2, Uint8, nil)
	return nil
}

func inferRNN(c *nctx) error {
	x, w, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	nd := int64(1)
	switch d := c.attrString("direction", "forward"); d {
	case "forward", "reverse":
	case "bidirectional":
		nd = 2
	default:
		return fmt.Errorf("unknown direction %q", d)
	}
	if !x.rank {
		for i := range c.outs {
			c.setUnknown(i, x.elem)
		}
		return nil
	}
	if len(x.dims) != 3 {
		return fmt.Errorf("X has rank %d, want 3", len(x.dims))
	}
	var hidden *expr
	if h := c.attrInt("hidden_size", 0); h > 0 && h <= maxElements {
		hidden = cst(h)
	} else if w.rank && len(w.dims) == 3 {
		gates := map[string]int64{"RNN": 1, "GRU": 3, "LSTM": 4}[c.op]
		hidden = c.floorDiv(w.dims[1], cst(gates))
	} else {
		hidden = c.in.fresh()
	}
	seq, batch := x.dims[0], x.dims[1]
	layout := int64(0)
	if c.opset >= 14 {
		layout = c.attrInt("layout", 0)
	}
	if layout != 0 {
		seq, batch = batch, seq
	}
	ndir := cst(nd)
	if layout == 0 {
		c.set(0, x.elem, []*expr{seq, ndir, batch, hidden})
		for i := 1; i < len(c.outs); i++ {
			c.set(i, x.elem, []*expr{ndir, batch, hidden})
		}
	} else {
		c.set(0, x.elem, []*expr{batch, seq, ndir, hidden})
		for i := 1; i < len(c.outs); i++ {
			c.set(i, x.elem, []*expr{batch, ndir, hidden})
		}
	}
	return nil
}

func addMiscRules(r map[string]opRule) {
	r["NegativeLogLikelihoodLoss"] = inferLoss
	r["SoftmaxCrossEntropyLoss"] = inferLoss
	r["GridSample"] = inferGridSample
	r["RoiAlign"] = inferRoiAlign
	r["Det"] = inferDet
	r["Compress"] = inferCompress
	r["MaxUnpool"] = inferMaxUnpool
}

func inferLoss(c *nctx) error {
	x, tgt, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if x.rank && tgt.rank {
		if len(x.dims) < 2 || len(tgt.dims) != len(x.dims)-1 {
			return fmt.Errorf("target %s does not fit input %s: want the input's shape without C", tgt, x)
		}
		c.same2(x.dims[0], tgt.dims[0], "batch sizes")
		for i := 2; i < len(x.dims); i++ {
			c.same2(x.dims[i], tgt.dims[i-1], "input and target sizes")
		}
	}
	switch red := c.attrString("reduction", "mean"); red {
	case "none":
		c.same(0, tgt, x.elem)
	case "mean", "sum":
		c.set(0, x.elem, nil)
	default:
		return fmt.Errorf("unknown reduction %q", red)
	}
	c.same(1, x, x.elem) // SoftmaxCrossEntropyLoss's log_prob
	return nil
}

func inferGridSample(c *nctx) error {
	x, g, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !x.rank || !g.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	if r < 3 || len(g.dims) != r {
		return fmt.Errorf("grid %s does not fit input %s", g, x)
	}
	if v, ok := g.dims[r-1].constVal(); ok && v != int64(r-2) {
		return fmt.Errorf("grid's last size is %d, want %d", v, r-2)
	}
	n := c.same2(x.dims[0], g.dims[0], "batch sizes")
	c.set(0, x.elem, append([]*expr{n, x.dims[1]}, g.dims[1:r-1]...))
	return nil
}

func inferRoiAlign(c *nctx) error {
	x, rois, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !x.rank || !rois.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	if len(x.dims) != 4 || len(rois.dims) != 2 {
		return fmt.Errorf("RoiAlign needs a 4-D input and 2-D rois")
	}
	oh, ow := c.attrInt("output_height", 1), c.attrInt("output_width", 1)
	if oh < 1 || ow < 1 || oh > maxWindow || ow > maxWindow {
		return fmt.Errorf("output size %dx%d is not positive", oh, ow)
	}
	c.set(0, x.elem, []*expr{rois.dims[0], x.dims[1], cst(oh), cst(ow)})
	return nil
}

func inferDet(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	if r < 2 {
		return fmt.Errorf("Det needs rank 2 or more, has %d", r)
	}
	c.same2(x.dims[r-2], x.dims[r-1], "matrix sides")
	c.set(0, x.elem, slices.Clone(x.dims[:r-2]))
	return nil
}

func inferCompress(c *nctx) error {
	x, _, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	var axis = -1
	if a := c.attr("axis"); a != nil {
		if axis, err = c.axis(c.attrInt("axis", 0), len(x.dims), false); err != nil {
			return err
		}
	}
	count := c.in.fresh()
	if cond, ok := c.constInts(1); ok {
		limit := int64(len(cond))
		if axis >= 0 {
			if d, ok := x.dims[axis].constVal(); ok {
				limit = min(limit, d)
			} else {
				limit = -1
			}
		} else if n, ok := x.numel(); ok {
			limit = min(limit, n)
		} else {
			limit = -1
		}
		if limit >= 0 {
			n := int64(0)
			for _, v := range cond[:limit] {
				if v != 0 {
					n++
				}
			}
			count = cst(n)
		}
	}
	if axis < 0 {
		c.set(0, x.elem, []*expr{count})
		return nil
	}
	out := slices.Clone(x.dims)
	out[axis] = count
	c.set(0, x.elem, out)
	return nil
}

func inferMaxUnpool(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	if c.input(2) != nil {
		vs, ok := c.ints(2)
		if !ok {
			c.setUnknown(0, x.elem)
			return nil
		}
		if len(vs) != len(x.dims) {
			return fmt.Errorf("output_shape has %d entries for rank %d", len(vs), len(x.dims))
		}
		dims, err := c.dimsFrom(vs, "output_shape")
		if err != nil {
			return err
		}
		c.set(0, x.elem, dims)
		return nil
	}
	r := len(x.dims)
	if r < 3 {
		return fmt.Errorf("input has rank %d; MaxUnpool needs N, C and a spatial axis", r)
	}
	n := r - 2
	ks, ok := c.attrInts("kernel_shape")
	if !ok || len(ks) != n {
		return fmt.Errorf("kernel_shape %v does not fit %d spatial axes", ks, n)
	}
	win, err := c.readWindow(n, constExprs(ks))
	if err != nil {
		return err
	}
	out := []*expr{x.dims[0], x.dims[1]}
	for i := 0; i < n; i++ {
		o := c.addc(c.mul(c.addc(x.dims[2+i], -1), cst(win.strides[i])), ks[i]-win.pads[i]-win.pads[i+n])
		if v, ok := o.constVal(); ok && v < 0 {
			return fmt.Errorf("output size %d is negative", v)
		}
		out = append(out, o)
	}
	c.set(0, x.elem, out)
	return nil
}

package engine

import (
	"fmt"
	"sync/atomic"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildConv, "Conv")
	register(buildConvTranspose, "ConvTranspose")
}

// convGeom is the geometry of a 2-D convolution or pooling window (1-D
// ones run as 2-D with height 1).
type convGeom struct {
	kh, kw, sh, sw, dh, dw int
	pt, pl, pb, pr         int
	autoPad                string
	explicitPads           bool
	nd                     ndAttrs // the raw attributes, for the N-d path
	wide                   bool    // more than 2 spatial axes: only the N-d path applies
}

// readGeom reads kernel_shape, strides, dilations, pads and auto_pad for
// spatial rank r (1 or 2). Kernel sizes of 0 are taken from the weight.
func readGeom(c *nodeCtx) (convGeom, error) {
	g := convGeom{sh: 1, sw: 1, dh: 1, dw: 1}
	g.autoPad = c.attrString("auto_pad", "NOTSET")
	ks, _ := c.attrInts("kernel_shape")
	st, _ := c.attrInts("strides")
	dl, _ := c.attrInts("dilations")
	pd, hasPads := c.attrInts("pads")
	g.explicitPads = hasPads
	r := max(len(ks), len(st), len(dl), len(pd)/2)
	g.nd = ndAttrs{ks: ks, st: st, dl: dl, pd: pd, autoPad: g.autoPad}
	if r > 3 {
		return g, unsupported("%d-D windows (only 1-D to 3-D)", r)
	}
	if r > 2 {
		g.wide = true
		return g, nil
	}
	get := func(v []int64, i int, def int) int {
		if len(v) == 0 {
			return def
		}
		if len(v) == 1 { // 1-D: the only size is the width
			if i == 1 {
				return int(v[0])
			}
			return def
		}
		return int(v[i])
	}
	g.kh, g.kw = get(ks, 0, 1), get(ks, 1, 0)
	if len(ks) == 0 {
		g.kh, g.kw = 0, 0
	}
	g.sh, g.sw = get(st, 0, 1), get(st, 1, 1)
	g.dh, g.dw = get(dl, 0, 1), get(dl, 1, 1)
	switch len(pd) {
	case 0:
	case 2:
		g.pl, g.pr = int(pd[0]), int(pd[1])
	case 4:
		g.pt, g.pl, g.pb, g.pr = int(pd[0]), int(pd[1]), int(pd[2]), int(pd[3])
	default:
		return g, fmt.Errorf("pads has %d values", len(pd))
	}
	switch g.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return g, fmt.Errorf("auto_pad %q", g.autoPad)
	}
	if g.autoPad == "VALID" {
		g.pt, g.pl, g.pb, g.pr = 0, 0, 0, 0
	}
	return g, nil
}

// as4 views an N×C×W or N×C×H×W shape as N, C, H, W.
func as4(s []int) (n, c, h, w int, err error) {
	switch len(s) {
	case 3:
		return s[0], s[1], 1, s[2], nil
	case 4:
		return s[0], s[1], s[2], s[3], nil
	}
	return 0, 0, 0, 0, unsupported("rank %d input (only 1-D and 2-D spatial)", len(s))
}

// resolve fills in SAME padding and returns the output size of one
// spatial axis.
func samePad(in, k, s, d int, lower bool) (begin, end int) {
	out := (in + s - 1) / s
	total := max(0, (out-1)*s+d*(k-1)+1-in)
	if lower {
		return (total + 1) / 2, total / 2
	}
	return total / 2, (total + 1) / 2
}

// outSize is the window count along one axis.
func outSize(in, k, s, d, p0, p1 int, ceil bool) int {
	span := in + p0 + p1 - d*(k-1) - 1
	if span < 0 {
		return 0
	}
	if !ceil {
		return span/s + 1
	}
	o := (span+s-1)/s + 1
	if (o-1)*s >= in+p0 { // the last window must start inside the input
		o--
	}
	return o
}

// forInput returns the geometry with SAME pads resolved for an H×W input
// and the output size.
func (g convGeom) forInput(h, w int, ceil bool) (convGeom, int, int) {
	if g.autoPad == "SAME_UPPER" || g.autoPad == "SAME_LOWER" {
		lower := g.autoPad == "SAME_LOWER"
		g.pt, g.pb = samePad(h, g.kh, g.sh, g.dh, lower)
		g.pl, g.pr = samePad(w, g.kw, g.sw, g.dw, lower)
	}
	return g, outSize(h, g.kh, g.sh, g.dh, g.pt, g.pb, ceil), outSize(w, g.kw, g.sw, g.dw, g.pl, g.pr, ceil)
}

// ---- Conv ----

type convK struct {
	phases   atomic.Pointer[phaseGeom] // the last input size's layout
	g        convGeom
	group    int
	m, cg    int // output channels, input channels per group
	packed   []*kernels.PackedA
	w        []float32 // constant weights (BN folded), M×(Cg·kh·kw)
	bias     []float32 // constant bias (BN folded), or nil
	ep       kernels.Epilogue
	residual bool // input 3 is a residual to add before the activation
}

func buildConv(c *nodeCtx) (kernel, error) {
	g, err := readGeom(c)
	if err != nil {
		return nil, err
	}
	k := &convK{g: g, group: int(c.attrInt("group", 1))}
	if k.group < 1 {
		return nil, fmt.Errorf("group %d", k.group)
	}
	k.ep = c.fuse.epilogue()
	k.residual = c.fuse != nil && c.fuse.residual != ""
	if w := c.constInput(1); w != nil {
		if w.Type != onnxio.Float {
			return nil, unsupported("Conv with %s weights", onnxio.DataTypeName(w.Type))
		}
		if len(w.Shape) < 3 || len(w.Shape) > 5 {
			return nil, unsupported("Conv with rank %d weights", len(w.Shape))
		}
		k.m, k.cg = w.Shape[0], w.Shape[1]
		if k.m%k.group != 0 {
			return nil, fmt.Errorf("%d output channels do not split into %d groups", k.m, k.group)
		}
		kk := numel(w.Shape[1:])
		k.w = append([]float32{}, w.F32...)
		if b := c.constInput(2); b != nil {
			k.bias = append([]float32{}, b.F32...)
		}
		if f := c.fuse; f != nil && f.scale != nil {
			if len(f.scale) != k.m {
				return nil, fmt.Errorf("BatchNormalization has %d channels, Conv %d", len(f.scale), k.m)
			}
			if k.bias == nil {
				k.bias = make([]float32, k.m)
			}
			for o := 0; o < k.m; o++ {
				row := k.w[o*kk : (o+1)*kk]
				for i := range row {
					row[i] *= f.scale[o]
				}
				k.bias[o] = k.bias[o]*f.scale[o] + f.shift[o]
			}
		}
		if k.cg > 1 || k.m/k.group > 1 {
			mg := k.m / k.group
			for gi := 0; gi < k.group; gi++ {
				k.packed = append(k.packed, kernels.PackA(mg, kk, k.w[gi*mg*kk:], kk, false))
			}
		}
	}
	return k, nil
}

func (k *convK) infer(in []*Tensor) ([]spec, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil || in[0].Type != onnxio.Float || in[1].Type != onnxio.Float {
		return nil, fmt.Errorf("Conv needs float X and W")
	}
	x, w := in[0], in[1]
	if len(w.Shape) != len(x.Shape) {
		return nil, fmt.Errorf("Conv: X %v and W %v differ in rank", x.Shape, w.Shape)
	}
	if len(x.Shape) == 5 || k.g.wide {
		return k.inferND(x, w)
	}
	n, c, h, wd, err := as4(x.Shape)
	if err != nil {
		return nil, err
	}
	_, cg, kh, kw, _ := as4(w.Shape)
	if cg*k.group != c {
		return nil, fmt.Errorf("Conv: %d input channels, weight wants %d×%d groups", c, cg, k.group)
	}
	g := k.g
	if g.kh == 0 {
		g.kh, g.kw = kh, kw
	}
	_, oh, ow := g.forInput(h, wd, false)
	if len(x.Shape) == 3 {
		return []spec{{onnxio.Float, []int{n, w.Shape[0], ow}}}, nil
	}
	return []spec{{onnxio.Float, []int{n, w.Shape[0], oh, ow}}}, nil
}

// convOperands are what one Conv run multiplies with: the weights and
// bias folded at compile time or the run's own inputs, the residual and
// whether it is fused into the epilogue (else it is added after, with the
// activation left for then).
type convOperands struct {
	w, bias  []float32
	res      *Tensor
	resFused bool
	ep       kernels.Epilogue
}

func (k *convK) operands(in, out []*Tensor) convOperands {
	ops := convOperands{w: k.w, bias: k.bias, ep: k.ep}
	if ops.w == nil {
		ops.w = in[1].F32
		if len(in) > 2 && in[2] != nil {
			ops.bias = in[2].F32
		}
	}
	if k.residual {
		ops.res = in[3]
	}
	ops.resFused = ops.res != nil && sameShape(ops.res.Shape, out[0].Shape)
	if ops.res != nil && !ops.resFused {
		ops.ep.Act = kernels.ActNone
	}
	return ops
}

// groupGemm computes group gi of image ni into o: the group's weights
// (mg×kk) times b (kk×hw), with bias, residual and activation fused. With
// pg, b holds the phased input: the GEMM runs over pg.wq-wide rows into
// tmp and the junk columns are dropped before the residual and
// activation.
func (k *convK) groupGemm(rc *runCtx, ops convOperands, ni, gi, m, mg, kk, hw int, b kernels.Operand, o []float32, pg *phaseGeom, tmp []float32) {
	var a kernels.Operand
	if k.packed != nil {
		a = k.packed[gi].Operand()
	} else {
		a = kernels.Dense(ops.w[gi*mg*kk:(gi+1)*mg*kk], kk, false)
	}
	e := ops.ep
	if ops.bias != nil {
		e.RowBias = ops.bias[gi*mg : (gi+1)*mg]
	}
	off := (ni*m + gi*mg) * hw
	if ops.resFused {
		e.Residual, e.LdResidual = ops.res.F32[off:off+mg*hw], hw
	}
	dst := o[off : off+mg*hw]
	if pg == nil || pg.wq == pg.ow {
		kernels.Sgemm(mg, hw, kk, a, b, dst, hw, &e, rc.threads)
		return
	}
	n := pg.oh * pg.wq
	pre := e
	if e.Residual != nil {
		pre.Residual, pre.Act = nil, kernels.ActNone
	}
	kernels.Sgemm(mg, n, kk, a, b, tmp, n, &pre, rc.threads)
	// Channel mi's row oy is row mi*oh+oy of both.
	kernels.CopyRows(dst, tmp, mg*pg.oh, pg.ow, pg.ow, pg.wq, 1)
	if e.Residual != nil {
		kernels.ApplyEpilogue(mg, hw, dst, hw, &kernels.Epilogue{Residual: e.Residual, LdResidual: hw, Act: e.Act, Alpha: e.Alpha, Beta: e.Beta})
	}
}

// addUnfusedResidual adds a residual that broadcasts (so could not ride in
// the epilogue) and then applies the activation held back for it.
func (k *convK) addUnfusedResidual(ops convOperands, o *Tensor) {
	if ops.res == nil || ops.resFused {
		return
	}
	binaryF32("Add", o.F32, ops.res.F32, o.F32, o.Shape, ops.res.Shape, o.Shape)
	f := actFunc(k.ep)
	for i, v := range o.F32 {
		o.F32[i] = f(v)
	}
}

func (k *convK) run(rc *runCtx, in, out []*Tensor) error {
	x, wt, o := in[0], in[1], out[0]
	if len(x.Shape) == 5 || k.g.wide {
		return k.runND(rc, in, out)
	}
	n, c, h, wd, _ := as4(x.Shape)
	m, cg, kh, kw, _ := as4(wt.Shape)
	_, _, oh, ow, _ := as4(o.Shape)
	g := k.g
	if g.kh == 0 {
		g.kh, g.kw = kh, kw
	}
	g, _, _ = g.forInput(h, wd, false)
	ops := k.operands(in, out)
	w, bias, res, resFused, ep := ops.w, ops.bias, ops.res, ops.resFused, ops.ep
	mg := m / k.group
	kk := cg * g.kh * g.kw
	hw := oh * ow
	if cg == 1 && mg == 1 {
		depthwise(rc, x.F32, w, bias, o.F32, n, c, h, wd, m, oh, ow, k.phasesFor(g, h, wd, oh, ow, c), res, resFused, ep)
	} else {
		direct := g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.pb == 0 && g.pr == 0
		var pg *phaseGeom
		var phased, tmp []float32
		var offs []int
		if direct {
			// The input channels are B's rows as they are: read in
			// place rather than packed.
			offs = make([]int, cg)
			for i := range offs {
				offs[i] = i * hw
			}
		} else {
			pg = k.phasesFor(g, h, wd, oh, ow, cg)
			buf := rc.buf(cg*pg.plane + pg.slack + mg*oh*pg.wq)
			phased, tmp = buf[:cg*pg.plane+pg.slack], buf[cg*pg.plane+pg.slack:]
			offs = pg.offs
		}
		for ni := 0; ni < n; ni++ {
			for gi := 0; gi < k.group; gi++ {
				xs := x.F32[(ni*c+gi*cg)*h*wd : (ni*c+(gi+1)*cg)*h*wd]
				if direct {
					k.groupGemm(rc, ops, ni, gi, m, mg, kk, hw, kernels.Rows(xs, offs), o.F32, nil, nil)
					continue
				}
				pg.fill(rc.threads, xs, phased)
				k.groupGemm(rc, ops, ni, gi, m, mg, kk, hw, kernels.Rows(phased, offs), o.F32, pg, tmp)
			}
		}
	}
	k.addUnfusedResidual(ops, o)
	return nil
}

// im2col writes the cg·kh·kw × oh·ow patch matrix of one image's group.
// phaseGeom lays a convolution's input out for a GEMM over kernels.Rows:
// the padded input split by stride phase, so that every tap of every
// channel reads one contiguous window and no im2col copy is needed.
// Phase (py, px) of a channel holds padded[i*sh+py][j*sw+px] for i < hq,
// j < wq; tap (ky, kx) reads phase ((ky*dh)%sh, (kx*dw)%sw) from row
// (ky*dh)/sh, column (kx*dw)/sw. The GEMM computes oh rows of wq columns;
// the last wq-ow columns of each row read across the row's end and are
// dropped (2/ow extra work for a 3×3 stride-1 convolution). A phaseGeom
// depends only on the geometry and input size, so a Conv keeps the last
// one it made (convK.phases).
type phaseGeom struct {
	g      convGeom
	h, w   int // input size
	oh, ow int
	hq, wq int
	cg     int
	plane  int // floats per channel: sh*sw*hq*wq
	slack  int // floats after the last plane that junk columns read
	phases []phaseRange
	offs   []int // where row (ci, ky, kx) of B starts, in the weights' K order
}

// phaseRange is one phase some tap reads: where it starts in a channel's
// planes, and its rows [i0, i1) and columns [l, r) that hold input (the
// rest is padding).
type phaseRange struct {
	base, py, px int
	i0, i1, l, r int
}

func newPhaseGeom(g convGeom, h, w, oh, ow, cg int) *phaseGeom {
	qy, qx := (g.kh-1)*g.dh/g.sh, (g.kw-1)*g.dw/g.sw
	pg := &phaseGeom{g: g, h: h, w: w, oh: oh, ow: ow, hq: oh + qy, wq: ow + qx, cg: cg, slack: qx}
	pg.plane = g.sh * g.sw * pg.hq * pg.wq
	// span is the [first, last] index i with i*s+p-pad inside [0, n),
	// clipped to [0, lim).
	span := func(p, pad, s, n, lim int) (int, int) {
		lo, hi := 0, 0
		if d := pad - p; d > 0 {
			lo = (d + s - 1) / s
		}
		if e := n - 1 + pad - p; e >= 0 {
			hi = e/s + 1
		}
		lo, hi = min(lo, lim), min(hi, lim)
		return lo, max(lo, hi)
	}
	for py := 0; py < g.sh; py++ {
		for px := 0; px < g.sw; px++ {
			rowUsed, colUsed := false, false
			for ky := 0; ky < g.kh; ky++ {
				rowUsed = rowUsed || ky*g.dh%g.sh == py
			}
			for kx := 0; kx < g.kw; kx++ {
				colUsed = colUsed || kx*g.dw%g.sw == px
			}
			if !rowUsed || !colUsed {
				continue
			}
			ph := phaseRange{base: (py*g.sw + px) * pg.hq * pg.wq, py: py, px: px}
			ph.i0, ph.i1 = span(py, g.pt, g.sh, h, pg.hq)
			ph.l, ph.r = span(px, g.pl, g.sw, w, pg.wq)
			pg.phases = append(pg.phases, ph)
		}
	}
	for ci := 0; ci < cg; ci++ {
		for ky := 0; ky < g.kh; ky++ {
			for kx := 0; kx < g.kw; kx++ {
				phase := (ky*g.dh%g.sh)*g.sw + kx*g.dw%g.sw
				pg.offs = append(pg.offs, ci*pg.plane+phase*pg.hq*pg.wq+(ky*g.dh/g.sh)*pg.wq+kx*g.dw/g.sw)
			}
		}
	}
	return pg
}

// fill writes the phases of the cg channels of x (h×w each) into dst.
func (pg *phaseGeom) fill(threads int, x []float32, dst []float32) {
	g, h, w, wq := pg.g, pg.h, pg.w, pg.wq
	clear(dst[pg.cg*pg.plane:])
	parallelFor(threads, pg.cg, 8, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			src := x[ci*h*w : (ci+1)*h*w]
			for _, ph := range pg.phases {
				d := dst[ci*pg.plane+ph.base:][:pg.hq*wq]
				clear(d)
				if ph.i0 < ph.i1 && ph.l < ph.r {
					s0 := (ph.i0*g.sh+ph.py-g.pt)*w + ph.l*g.sw + ph.px - g.pl
					kernels.CopyRows(d[ph.i0*wq+ph.l:], src[s0:], ph.i1-ph.i0, ph.r-ph.l, wq, g.sh*w, g.sw)
				}
			}
		}
	})
}

// phasesFor returns the Conv's phase layout for this input size, made
// once per size (Runs of one plan share it; safe for concurrent Runs).
func (k *convK) phasesFor(g convGeom, h, w, oh, ow, cg int) *phaseGeom {
	if pg := k.phases.Load(); pg != nil && pg.h == h && pg.w == w && pg.cg == cg && pg.g.kh == g.kh && pg.g.kw == g.kw {
		return pg
	}
	pg := newPhaseGeom(g, h, w, oh, ow, cg)
	k.phases.Store(pg)
	return pg
}

// depthwise is the convolution where every output channel reads one
// input channel (cg == 1 and one output per group): each image's input is
// laid out by stride phase as for the GEMM path (pg, made for all c
// channels), and one kernels.TapSum call sums a channel's taps over its
// whole plane.
func depthwise(rc *runCtx, x, w, bias, o []float32, n, c, h, wd, m, oh, ow int, pg *phaseGeom, res *Tensor, resFused bool, ep kernels.Epilogue) {
	kk := pg.g.kh * pg.g.kw
	phased := rc.buf(c*pg.plane + pg.slack)
	for ni := 0; ni < n; ni++ {
		pg.fill(rc.threads, x[ni*c*h*wd:(ni+1)*c*h*wd], phased)
		parallelFor(rc.threads, m, 4, func(lo, hi int) {
			var tmp []float32
			if pg.wq != ow {
				tmp = make([]float32, oh*pg.wq)
			}
			for co := lo; co < hi; co++ {
				p := ni*m + co
				dst := o[p*oh*ow : (p+1)*oh*ow]
				offs, wts := pg.offs[co*kk:(co+1)*kk], w[co*kk:(co+1)*kk]
				if tmp == nil {
					kernels.TapSum(dst, phased, offs, wts)
				} else {
					kernels.TapSum(tmp, phased, offs, wts)
					kernels.CopyRows(dst, tmp, oh, ow, ow, pg.wq, 1)
				}
				e := ep
				if bias != nil {
					e.RowBias = bias[co : co+1]
				}
				if resFused {
					e.Residual, e.LdResidual = res.F32[p*oh*ow:(p+1)*oh*ow], oh*ow
				}
				kernels.ApplyEpilogue(1, oh*ow, dst, oh*ow, &e)
			}
		})
	}
}

// actFunc is the Go form of an epilogue's activation.
func actFunc(ep kernels.Epilogue) func(float32) float32 {
	a, b := ep.Alpha, ep.Beta
	switch ep.Act {
	case kernels.ActRelu:
		return func(x float32) float32 { return max(x, 0) }
	case kernels.ActClip:
		return func(x float32) float32 { return min(max(x, a), b) }
	case kernels.ActLeakyRelu:
		return func(x float32) float32 {
			if x < 0 {
				return a * x
			}
			return x
		}
	case kernels.ActHardSigmoid:
		return func(x float32) float32 { return max(0, min(1, a*x+b)) }
	case kernels.ActHardSwish:
		return func(x float32) float32 { return x * max(0, min(1, x/6+0.5)) }
	}
	return func(x float32) float32 { return x }
}

// ---- ConvTranspose ----

type convTK struct {
	g                convGeom
	group            int
	outPad, outShape []int64
	packed           []*kernels.PackedA
	bias             []float32 // fused: constant bias with the affine chain folded in
	act              func(float32) float32
}

func buildConvTranspose(c *nodeCtx) (kernel, error) {
	g, err := readGeom(c)
	if err != nil {
		return nil, err
	}
	k := &convTK{g: g, group: int(c.attrInt("group", 1))}
	k.outPad, _ = c.attrInts("output_padding")
	k.outShape, _ = c.attrInts("output_shape")
	if w := c.constInput(1); w != nil && w.Type == onnxio.Float && len(w.Shape) >= 3 {
		cin, mg := w.Shape[0], w.Shape[1]
		kk := numel(w.Shape[2:])
		cg := cin / k.group
		if cin%k.group != 0 {
			return nil, fmt.Errorf("%d input channels do not split into %d groups", cin, k.group)
		}
		data := w.F32
		if f := c.fuse; f != nil {
			m := mg * k.group
			k.bias = make([]float32, m)
			if b := c.constInput(2); b != nil {
				copy(k.bias, b.F32)
			}
			if f.scale != nil {
				data = append([]float32{}, w.F32...)
				for ci := 0; ci < cin; ci++ {
					gi := ci / cg
					for mi := 0; mi < mg; mi++ {
						sc := f.scale[gi*mg+mi]
						row := data[(ci*mg+mi)*kk : (ci*mg+mi+1)*kk]
						for i := range row {
							row[i] *= sc
						}
					}
				}
				for o := range k.bias {
					k.bias[o] = k.bias[o]*f.scale[o] + f.shift[o]
				}
			}
			k.act = actFunc(f.epilogue())
		}
		for gi := 0; gi < k.group; gi++ {
			// A = W_g^T: (mg·kk) × cg, stored cg × (mg·kk).
			k.packed = append(k.packed, kernels.PackA(mg*kk, cg, data[gi*cg*mg*kk:], mg*kk, true))
		}
	}
	return k, nil
}

// finish adds the bias (the fused one, or input 2) and applies the fused
// activation.
func (k *convTK) finish(in []*Tensor, o *Tensor, n, m, sp int) {
	bias := k.bias
	if bias == nil && len(in) > 2 && in[2] != nil {
		bias = in[2].F32
	}
	if bias == nil && k.act == nil {
		return
	}
	act := k.act
	if act == nil {
		act = func(x float32) float32 { return x }
	}
	for ni := 0; ni < n; ni++ {
		for mi := 0; mi < m; mi++ {
			var b float32
			if bias != nil {
				b = bias[mi]
			}
			dst := o.F32[(ni*m+mi)*sp : (ni*m+mi+1)*sp]
			for i, v := range dst {
				dst[i] = act(v + b)
			}
		}
	}
}

// geometry returns the resolved pads and output size for an input.
func (k *convTK) geometry(x, w []int) (g convGeom, oh, ow int, err error) {
	_, _, h, wd, err := as4(x)
	if err != nil {
		return g, 0, 0, err
	}
	_, _, kh, kw, _ := as4(w)
	g = k.g
	if g.kh == 0 {
		g.kh, g.kw = kh, kw
	}
	oph, opw := 0, 0
	switch len(k.outPad) {
	case 1:
		opw = int(k.outPad[0])
	case 2:
		oph, opw = int(k.outPad[0]), int(k.outPad[1])
	}
	full := func(in, s, d, kk, op int) int { return s*(in-1) + op + (kk-1)*d + 1 }
	fh, fw := full(h, g.sh, g.dh, g.kh, oph), full(wd, g.sw, g.dw, g.kw, opw)
	if len(k.outShape) > 0 || g.autoPad == "SAME_UPPER" || g.autoPad == "SAME_LOWER" {
		th, tw := h*g.sh, wd*g.sw
		if len(k.outShape) > 0 {
			os := k.outShape[len(k.outShape)-min(len(k.outShape), 2):]
			if len(os) == 2 {
				th, tw = int(os[0]), int(os[1])
			} else {
				th, tw = 1, int(os[0])
			}
		}
		split := func(total int) (int, int) {
			half := total >> 1 // floor division, as the reference does
			if g.autoPad == "SAME_UPPER" {
				return half, total - half
			}
			return total - half, half
		}
		g.pt, g.pb = split(fh - th)
		g.pl, g.pr = split(fw - tw)
		if len(x) == 3 {
			g.pt, g.pb = 0, 0
		}
	}
	return g, fh - g.pt - g.pb, fw - g.pl - g.pr, nil
}

func (k *convTK) infer(in []*Tensor) ([]spec, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil || in[0].Type != onnxio.Float || len(in[0].Shape) != len(in[1].Shape) {
		return nil, fmt.Errorf("ConvTranspose needs float X and W of one rank")
	}
	if m := in[1].Shape[1] * k.group; len(in) > 2 && in[2] != nil && (in[2].Type != onnxio.Float || in[2].Len() != m) {
		return nil, fmt.Errorf("ConvTranspose bias %s%v for %d output channels: want float32[%d]", onnxio.DataTypeName(in[2].Type), in[2].Shape, m, m)
	}
	if len(in[0].Shape) == 5 || k.g.wide {
		_, out, err := k.geometryND(in[0].Shape, in[1].Shape)
		if err != nil {
			return nil, err
		}
		return []spec{{onnxio.Float, append([]int{in[0].Shape[0], in[1].Shape[1] * k.group}, out...)}}, nil
	}
	_, oh, ow, err := k.geometry(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	m := in[1].Shape[1] * k.group
	if len(in[0].Shape) == 3 {
		return []spec{{onnxio.Float, []int{in[0].Shape[0], m, ow}}}, nil
	}
	return []spec{{onnxio.Float, []int{in[0].Shape[0], m, oh, ow}}}, nil
}

func (k *convTK) run(rc *runCtx, in, out []*Tensor) error {
	x, w, o := in[0], in[1], out[0]
	if len(x.Shape) == 5 || k.g.wide {
		return k.runND(rc, in, out)
	}
	g, oh, ow, _ := k.geometry(x.Shape, w.Shape)
	n, c, h, wd, _ := as4(x.Shape)
	cg := c / k.group
	mg := w.Shape[1]
	m := mg * k.group
	kk := g.kh * g.kw
	hw := h * wd
	col := rc.buf(mg * kk * hw)
	clear(o.F32)
	for ni := 0; ni < n; ni++ {
		for gi := 0; gi < k.group; gi++ {
			var a kernels.Operand
			if k.packed != nil {
				a = k.packed[gi].Operand()
			} else {
				a = kernels.Dense(w.F32[gi*cg*mg*kk:(gi+1)*cg*mg*kk], mg*kk, true)
			}
			xs := x.F32[(ni*c+gi*cg)*hw : (ni*c+(gi+1)*cg)*hw]
			kernels.Sgemm(mg*kk, hw, cg, a, kernels.Dense(xs, hw, false), col, hw, nil, rc.threads)
			base := (ni*m + gi*mg) * oh * ow
			parallelFor(rc.threads, mg, 1, func(lo, hi int) {
				for mi := lo; mi < hi; mi++ {
					dst := o.F32[base+mi*oh*ow : base+(mi+1)*oh*ow]
					for r := 0; r < kk; r++ {
						ky, kx := r/g.kw, r%g.kw
						src := col[(mi*kk+r)*hw : (mi*kk+r+1)*hw]
						for iy := 0; iy < h; iy++ {
							oy := iy*g.sh - g.pt + ky*g.dh
							if oy < 0 || oy >= oh {
								continue
							}
							for ix := 0; ix < wd; ix++ {
								ox := ix*g.sw - g.pl + kx*g.dw
								if ox >= 0 && ox < ow {
									dst[oy*ow+ox] += src[iy*wd+ix]
								}
							}
						}
					}
				}
			})
		}
	}
	k.finish(in, o, n, m, oh*ow)
	return nil
}

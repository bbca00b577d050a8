package binarize

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// graph holds what the rewrites look up in a model's main graph.
type graph struct {
	m        *onnxio.Model
	g        *pb.GraphProto
	inits    map[string]*pb.TensorProto
	ix       *onnxio.Index
	graphOut map[string]bool
	namer    *onnxio.Namer
}

func newGraph(m *onnxio.Model) *graph {
	g := m.Graph()
	gr := &graph{m: m, g: g, inits: map[string]*pb.TensorProto{}, ix: onnxio.NewIndex(g), graphOut: map[string]bool{}, namer: onnxio.NewNamer(g)}
	for _, t := range g.GetInitializer() {
		gr.inits[t.GetName()] = t
	}
	for _, o := range g.GetOutput() {
		gr.graphOut[o.GetName()] = true
	}
	return gr
}

// producer is the standard-domain node computing x, or nil.
func (gr *graph) producer(x string) *pb.NodeProto {
	i, ok := gr.ix.Producer[x]
	if !ok {
		return nil
	}
	n := gr.g.GetNode()[i]
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return nil
	}
	return n
}

// consts returns the float values and dims of initializer name, or nil.
func (gr *graph) consts(name string) ([]float32, []int64) {
	t := gr.inits[name]
	if t == nil || onnxio.DataType(t.GetDataType()) != onnxio.Float {
		return nil, nil
	}
	v, err := onnxio.ToFloat32(gr.m, t)
	if err != nil {
		return nil, nil
	}
	return v, t.GetDims()
}

// perChannel returns the constant name as ch values, one per channel of
// axis 1 of a tensor of the given rank it broadcasts against (one value
// for all, or one per channel), or nil when it is not such a constant.
func (gr *graph) perChannel(name string, ch, rank int) []float64 {
	v, dims := gr.consts(name)
	if v == nil || len(dims) > rank {
		return nil
	}
	for k, d := range dims {
		if d != 1 && (k != len(dims)-(rank-1) || int(d) != ch) {
			return nil
		}
	}
	out := make([]float64, ch)
	for c := range out {
		out[c] = float64(v[min(c, len(v)-1)])
	}
	return out
}

// allEqual reports whether the constant name holds only the value want.
func (gr *graph) allEqual(name string, want float32) bool {
	v, _ := gr.consts(name)
	if len(v) == 0 {
		return false
	}
	for _, x := range v {
		if x != want {
			return false
		}
	}
	return true
}

// source finds the binarizing pattern computing x, the ±1 input of a
// layer with ch input channels on axis 1 of a rank-rank tensor. It
// returns the float tensor binarized and the threshold per channel: the
// binary value is +1 where the tensor is >= thr, -1 below. The patterns
// (t a constant per channel or for all):
//
//	Sign(v)                             thr 0
//	Sign(Sub(v, t)), Sign(Add(v, -t))   thr t
//	Where(GreaterOrEqual(v, t), 1, -1)  thr t
//	Where(Less(v, t), -1, 1)            thr t
//	Where(Greater(v, t), 1, -1)         thr nextafter(t, +Inf)
//	Where(LessOrEqual(v, t), -1, 1)     thr nextafter(t, +Inf)
//
// with the comparisons' operands either way round, and a comparison of
// Sub(v, t) or Add(v, -t) with 0 as one of v with t (exact: the sign of
// a float sum is the sign of the exact sum). Sign(0) = 0 in ONNX, where
// the binary operators take +1: a value exactly at the threshold differs.
// nodes lists the pattern's nodes.
func (gr *graph) source(x string, ch, rank int) (v string, thr []float64, nodes []*pb.NodeProto, ok bool) {
	p := gr.producer(x)
	if p == nil {
		return "", nil, nil, false
	}
	in := p.GetInput()
	strict := false
	switch p.GetOpType() {
	case "Sign":
		if len(in) != 1 {
			return "", nil, nil, false
		}
		v, thr = in[0], make([]float64, ch)
	case "Where":
		if len(in) != 3 {
			return "", nil, nil, false
		}
		cmp := gr.producer(in[0])
		if cmp == nil || len(cmp.GetInput()) != 2 {
			return "", nil, nil, false
		}
		op := cmp.GetOpType()
		a, b := cmp.GetInput()[0], cmp.GetInput()[1]
		if t := gr.perChannel(b, ch, rank); t != nil && gr.inits[a] == nil {
			v, thr = a, t
		} else if t := gr.perChannel(a, ch, rank); t != nil && gr.inits[b] == nil {
			// t OP v is v OP' t with the comparison mirrored.
			v, thr = b, t
			op = map[string]string{"Greater": "Less", "Less": "Greater", "GreaterOrEqual": "LessOrEqual", "LessOrEqual": "GreaterOrEqual"}[op]
		} else {
			return "", nil, nil, false
		}
		// +1 where the comparison holds (Greater forms) or fails (Less).
		plusIfTrue := op == "Greater" || op == "GreaterOrEqual"
		hi, lo := in[1], in[2]
		if !plusIfTrue {
			hi, lo = lo, hi
		}
		if (op != "Greater" && op != "GreaterOrEqual" && op != "Less" && op != "LessOrEqual") || !gr.allEqual(hi, 1) || !gr.allEqual(lo, -1) {
			return "", nil, nil, false
		}
		strict = op == "Greater" || op == "LessOrEqual"
		nodes = append(nodes, cmp)
	default:
		return "", nil, nil, false
	}
	nodes = append(nodes, p)
	zero := true
	for _, t := range thr {
		zero = zero && t == 0
	}
	if s := gr.producer(v); zero && s != nil && len(s.GetInput()) == 2 && len(s.GetAttribute()) == 0 {
		switch a, b := s.GetInput()[0], s.GetInput()[1]; s.GetOpType() {
		case "Sub":
			if t := gr.perChannel(b, ch, rank); t != nil {
				v, thr, nodes = a, t, append(nodes, s)
			}
		case "Add":
			if gr.inits[a] != nil {
				a, b = b, a
			}
			if t := gr.perChannel(b, ch, rank); t != nil {
				for c := range t {
					t[c] = -t[c]
				}
				v, thr, nodes = a, t, append(nodes, s)
			}
		}
	}
	if gr.inits[v] != nil {
		return "", nil, nil, false
	}
	if strict {
		for c, t := range thr {
			thr[c] = float64(math.Nextafter32(float32(t), float32(math.Inf(1))))
		}
	}
	return v, thr, nodes, true
}

// weighted returns the geometry of a Conv or Gemm node with a constant
// weight as a layer (mult the Gemm's alpha or 1, bias the node's own,
// Gemm's beta·C), and its weights as m rows: Conv [M, C/group, kH, kW],
// Gemm [N, K]. Conv must be 2-D with explicit padding and Gemm without
// transA; why a node is refused is in the error (nil layer, nil error:
// not a Conv or Gemm).
func (gr *graph) weighted(n *pb.NodeProto) (*layer, []float32, error) {
	in := n.GetInput()
	if (n.GetOpType() != "Conv" && n.GetOpType() != "Gemm") || n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
		return nil, nil, nil
	}
	if len(in) < 2 {
		return nil, nil, fmt.Errorf("%s has %d inputs", n.GetOpType(), len(in))
	}
	w, dims := gr.consts(in[1])
	if w == nil {
		return nil, nil, fmt.Errorf("its weight %q is not a float constant (binary weights are packed once, from a constant)", in[1])
	}
	l := &layer{node: n, group: 1, kh: 1, kw: 1, kind: outFloat}
	switch n.GetOpType() {
	case "Conv":
		if len(dims) != 4 {
			return nil, nil, fmt.Errorf("a %d-D convolution (binary convolutions are 2-D)", len(dims)-2)
		}
		if a := attr(n, "auto_pad"); a != nil && string(a.GetS()) != "NOTSET" && string(a.GetS()) != "" {
			return nil, nil, fmt.Errorf("auto_pad %s (binary convolutions take explicit pads)", a.GetS())
		}
		l.m, l.cg, l.kh, l.kw = int(dims[0]), int(dims[1]), int(dims[2]), int(dims[3])
		l.group = int(attrInt(n, "group", 1))
		if l.group < 1 || l.m%l.group != 0 {
			return nil, nil, fmt.Errorf("group %d for %d output channels", l.group, l.m)
		}
	case "Gemm":
		if len(dims) != 2 || attrInt(n, "transA", 0) != 0 {
			return nil, nil, fmt.Errorf("a Gemm with transA or a weight of rank %d", len(dims))
		}
		l.gemm = true
		l.m, l.cg = int(dims[0]), int(dims[1])
		if attrInt(n, "transB", 0) == 0 {
			l.m, l.cg = l.cg, l.m
			// [K, N] to [N, K].
			t := make([]float32, len(w))
			for k := range l.cg {
				for j := range l.m {
					t[j*l.cg+k] = w[k*l.m+j]
				}
			}
			w = t
		}
	}
	l.mult, l.bias = make([]float64, l.m), make([]float64, l.m)
	alpha, beta := 1.0, 1.0
	if a := attr(n, "alpha"); a != nil && l.gemm {
		alpha = float64(a.GetF())
	}
	if a := attr(n, "beta"); a != nil && l.gemm {
		beta = float64(a.GetF())
	}
	for o := range l.mult {
		l.mult[o] = alpha
	}
	if len(in) > 2 && in[2] != "" {
		// Conv's bias is [M]; Gemm's C broadcasts to [M, N].
		c := gr.perChannel(in[2], l.m, 2)
		if b, _ := gr.consts(in[2]); !l.gemm && len(b) != l.m {
			c = nil
		}
		if c == nil {
			return nil, nil, fmt.Errorf("its bias %q is not a constant per output channel", in[2])
		}
		for o := range c {
			l.bias[o] = beta * c[o]
		}
	}
	l.out = n.GetOutput()[0]
	return l, w, nil
}

// twoValued returns, for a Conv or Gemm whose weights take the values
// ±a_m per output channel m (a_m >= 0), its binary layer with mult
// scaled by a_m, or nil.
func (gr *graph) twoValued(n *pb.NodeProto) *layer {
	l, w, err := gr.weighted(n)
	if l == nil || err != nil {
		return nil
	}
	per := len(w) / max(l.m, 1)
	l.neg = make([]bool, len(w))
	for o := range l.m {
		a := float32(math.Abs(float64(w[o*per])))
		for i, x := range w[o*per : (o+1)*per] {
			if x != a && x != -a {
				return nil
			}
			l.neg[o*per+i] = x < 0
		}
		l.mult[o] *= float64(a)
	}
	return l
}

// rank is the rank of the layer's input and output tensors.
func (l *layer) rank() int {
	if l.gemm {
		return 2
	}
	return 4
}

// foldOutput folds into l the per-channel affine maps (BatchNormalization,
// Mul, Add, Sub, Div by constants), then the Relu and Clip, that follow
// its output alone. reserved nodes (other layers' input patterns) stay.
func (gr *graph) foldOutput(l *layer, reserved map[*pb.NodeProto]bool, dead map[*pb.NodeProto]bool) {
	for {
		y := l.out
		cs := gr.ix.Consumers[y]
		if len(cs) != 1 || gr.graphOut[y] {
			return
		}
		c := gr.g.GetNode()[cs[0]]
		if reserved[c] || (c.GetDomain() != "" && c.GetDomain() != "ai.onnx") || len(c.GetOutput()) != 1 {
			return
		}
		if c.GetOpType() == "Relu" || c.GetOpType() == "Clip" {
			lo, hi, ok := gr.clipRange(c)
			if !ok {
				return
			}
			if !l.clip {
				l.clip, l.lo, l.hi = true, math.Inf(-1), math.Inf(1)
			}
			l.lo, l.hi = math.Max(l.lo, lo), math.Min(l.hi, hi)
		} else {
			if l.clip {
				return // an affine map after the clip does not fold into the output stage
			}
			scale, shift := gr.affine(c, y, l.m, l.rank())
			if scale == nil {
				return
			}
			for o := range l.mult {
				l.mult[o] *= scale[o]
				l.bias[o] = l.bias[o]*scale[o] + shift[o]
			}
		}
		dead[c] = true
		l.out = c.GetOutput()[0]
	}
}

// clipRange returns the bounds of a Relu or Clip node with constant
// bounds.
func (gr *graph) clipRange(n *pb.NodeProto) (lo, hi float64, ok bool) {
	if n.GetOpType() == "Relu" {
		return 0, math.Inf(1), len(n.GetInput()) == 1
	}
	lo, hi = math.Inf(-1), math.Inf(1)
	if a := attr(n, "min"); a != nil {
		lo = float64(a.GetF())
	}
	if a := attr(n, "max"); a != nil {
		hi = float64(a.GetF())
	}
	for k, p := range []*float64{&lo, &hi} {
		if len(n.GetInput()) > k+1 && n.GetInput()[k+1] != "" {
			v, _ := gr.consts(n.GetInput()[k+1])
			if len(v) != 1 {
				return 0, 0, false
			}
			*p = float64(v[0])
		}
	}
	return lo, hi, lo <= hi
}

// affine returns n as y = x·scale[c] + shift[c] over the ch channels of
// x (axis 1 of a rank-rank tensor), or nil when it is no such map.
func (gr *graph) affine(n *pb.NodeProto, x string, ch, rank int) (scale, shift []float64) {
	in := n.GetInput()
	ones := func() []float64 {
		o := make([]float64, ch)
		for c := range o {
			o[c] = 1
		}
		return o
	}
	switch n.GetOpType() {
	case "BatchNormalization":
		if len(in) != 5 || in[0] != x || attrInt(n, "training_mode", 0) != 0 {
			return nil, nil
		}
		var p [4][]float64
		for k := range p {
			if p[k] = gr.perChannel(in[k+1], ch, 2); p[k] == nil {
				return nil, nil
			}
		}
		eps := 1e-5
		if a := attr(n, "epsilon"); a != nil {
			eps = float64(a.GetF())
		}
		scale, shift = make([]float64, ch), make([]float64, ch)
		for c := range ch {
			scale[c] = p[0][c] / math.Sqrt(p[3][c]+eps)
			shift[c] = p[1][c] - p[2][c]*scale[c]
		}
		return scale, shift
	case "Mul", "Add", "Sub", "Div":
		if len(in) != 2 || len(n.GetAttribute()) > 0 {
			return nil, nil
		}
		other, first := in[1], true
		if in[1] == x {
			other, first = in[0], false
		}
		if in[0] != x && in[1] != x {
			return nil, nil
		}
		v := gr.perChannel(other, ch, rank)
		if v == nil {
			return nil, nil
		}
		switch {
		case n.GetOpType() == "Mul":
			return v, make([]float64, ch)
		case n.GetOpType() == "Add":
			return ones(), v
		case n.GetOpType() == "Sub" && first:
			for c := range v {
				v[c] = -v[c]
			}
			return ones(), v
		case n.GetOpType() == "Div" && first:
			for c := range v {
				if v[c] == 0 {
					return nil, nil
				}
				v[c] = 1 / v[c]
			}
			return v, make([]float64, ch)
		}
	}
	return nil, nil
}

// Convert rewrites, in place, the Conv and Gemm nodes of a trained binary
// network that m holds into BinaryConv and BinaryGemm nodes (domain
// ai.qtool): those whose weights take two values ±a per output channel
// and whose input comes from a binarizing pattern (see the README). The
// weight scale, the per-channel affine maps (BatchNormalization, Mul,
// Add...) and the Relu/Clip after them fold into the node's output
// stage, and a binarizing pattern after a layer whose readers are all
// binary layers makes it output packed bits. Dead nodes and
// initializers are removed. The node keeps the Conv's name; it returns
// the converted node names in graph order.
//
// m should hold initializers, not Constant nodes (quant.Prepare).
func Convert(m *onnxio.Model) ([]string, error) {
	gr := newGraph(m)
	g := gr.g
	var layers []*layer
	reserved := map[*pb.NodeProto]bool{}
	for _, n := range g.GetNode() {
		l := gr.twoValued(n)
		if l == nil {
			continue
		}
		ch := l.cg * l.group
		v, thr, nodes, ok := gr.source(n.GetInput()[0], ch, l.rank())
		if !ok {
			continue
		}
		l.input, l.thr = v, thr
		for _, p := range nodes {
			reserved[p] = true
		}
		layers = append(layers, l)
	}
	if len(layers) == 0 {
		return nil, nil
	}
	dead := map[*pb.NodeProto]bool{}
	for _, l := range layers {
		gr.foldOutput(l, reserved, dead)
	}
	gr.chainBits(layers, dead)
	return gr.finish(layers, dead)
}

// chainBits makes a layer output packed bits where every reader of its
// output that must stay live is a binary layer binarizing it, all with
// the same threshold: y < thr <=> y - thr < 0, so the threshold moves
// into the bias and the readers take the bits.
func (gr *graph) chainBits(layers []*layer, dead map[*pb.NodeProto]bool) {
	byNode := map[*pb.NodeProto]*layer{}
	for _, l := range layers {
		byNode[l.node] = l
	}
	for _, a := range layers {
		y := a.out
		if a.clip || gr.graphOut[y] {
			continue
		}
		var readers []*layer
		for _, b := range layers {
			if b.input == y && !b.bits && b.gemm == a.gemm {
				readers = append(readers, b)
			}
		}
		if len(readers) == 0 || len(readers[0].thr) != a.m {
			continue
		}
		same := true
		for _, b := range readers[1:] {
			for c := range b.thr {
				same = same && b.thr[c] == readers[0].thr[c]
			}
		}
		if !same || gr.floatNeeded(y, byNode, dead) {
			continue
		}
		thr := readers[0].thr
		for o := range a.bias {
			a.bias[o] -= thr[o]
		}
		a.kind = outBits
		a.out = gr.namer.Fresh(readers[0].node.GetInput()[0] + "_bits")
		for _, b := range readers {
			b.input, b.bits, b.thr = a.out, true, nil
		}
	}
}

// floatNeeded reports whether a live node other than a binary layer
// reads y, the layers reading their sources rather than their original
// inputs and the dead (folded) nodes left out.
func (gr *graph) floatNeeded(y string, layers map[*pb.NodeProto]*layer, dead map[*pb.NodeProto]bool) bool {
	nodes := gr.g.GetNode()
	inputs := func(n *pb.NodeProto) []string {
		if l := layers[n]; l != nil {
			return []string{l.input}
		}
		return n.GetInput()
	}
	live := map[string]bool{}
	for o := range gr.graphOut {
		live[o] = true
	}
	// Nodes are in topological order: one backward sweep marks them.
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if dead[n] {
			continue
		}
		l := layers[n]
		out := n.GetOutput()
		if l != nil {
			out = []string{l.out}
		}
		isLive := false
		for _, o := range out {
			isLive = isLive || live[o]
		}
		if !isLive {
			continue
		}
		for _, s := range inputs(n) {
			if s == y && l == nil {
				return true
			}
			live[s] = true
		}
	}
	return false
}

// finish emits the layers, removes dead nodes and initializers and the
// value_info of values that changed, and imports the binary domain.
func (gr *graph) finish(layers []*layer, dead map[*pb.NodeProto]bool) ([]string, error) {
	g := gr.g
	var names []string
	changed := map[string]bool{}
	for _, l := range layers {
		if err := l.emit(g, gr.namer); err != nil {
			return nil, err
		}
		names = append(names, l.node.GetName())
		changed[l.out] = true
	}
	kept := g.Node[:0]
	for _, n := range g.Node {
		if !dead[n] {
			kept = append(kept, n)
		}
	}
	g.Node = kept
	prune(g)
	exists := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			exists[o] = true
		}
	}
	vis := g.ValueInfo[:0]
	for _, vi := range g.ValueInfo {
		if exists[vi.GetName()] && !changed[vi.GetName()] {
			vis = append(vis, vi)
		}
	}
	g.ValueInfo = vis
	gr.m.SetOpset(Domain, DomainVersion)
	return names, nil
}

package engine

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// builder makes the kernel for one node (with c.fuse set for nodes that
// absorbed the ones after them). An errUnsupported error means the
// engine lacks that form of the operator.
type builder func(c *nodeCtx) (kernel, error)

// builders are the default domain's ("" or "ai.onnx") operators.
var builders = map[string]builder{}

func register(b builder, ops ...string) {
	for _, op := range ops {
		builders[op] = b
	}
}

// domainBuilders are the operators of other domains, by domain and op
// type; domainVersions the one opset version of each such domain the
// engine implements.
var (
	domainBuilders = map[string]map[string]builder{}
	domainVersions = map[string]int64{}
)

// registerDomain registers the operators ops of domain at version.
func registerDomain(domain string, version int64, b builder, ops ...string) {
	if domainBuilders[domain] == nil {
		domainBuilders[domain] = map[string]builder{}
	}
	domainVersions[domain] = version
	for _, op := range ops {
		domainBuilders[domain][op] = b
	}
}

// builderFor is the builder of n's operator in n's domain, or nil: an op
// of another domain never runs as the default-domain op of that name.
func builderFor(n *pb.NodeProto) builder {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return domainBuilders[d][n.GetOpType()]
	}
	return builders[n.GetOpType()]
}

// nodeCtx is what a builder sees of its node.
type nodeCtx struct {
	s    *Session
	n    *pb.NodeProto
	fuse *fusion
	binq *binaryQ // quantization around a binary operator, run inside it
}

func (c *nodeCtx) attr(name string) *pb.AttributeProto {
	for _, a := range c.n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func (c *nodeCtx) attrInt(name string, def int64) int64 {
	if a := c.attr(name); a != nil {
		return a.GetI()
	}
	return def
}

func (c *nodeCtx) attrFloat(name string, def float32) float32 {
	if a := c.attr(name); a != nil {
		return a.GetF()
	}
	return def
}

func (c *nodeCtx) attrString(name, def string) string {
	if a := c.attr(name); a != nil {
		return string(a.GetS())
	}
	return def
}

func (c *nodeCtx) attrInts(name string) ([]int64, bool) {
	if a := c.attr(name); a != nil {
		return a.GetInts(), true
	}
	return nil, false
}

// input returns the constant value of input i, or nil when it is absent
// or not a constant.
func (c *nodeCtx) constInput(i int) *Tensor {
	if i >= len(c.n.GetInput()) || c.n.GetInput()[i] == "" {
		return nil
	}
	id, ok := c.s.ids[c.n.GetInput()[i]]
	if !ok {
		return nil
	}
	return c.s.consts[id]
}

func (c *nodeCtx) hasInput(i int) bool {
	return i < len(c.n.GetInput()) && c.n.GetInput()[i] != ""
}

// fusion is a chain of nodes after a Conv or Gemm folded into its output
// stage: BatchNormalization (into the weights), Add of a residual, and
// one activation.
type fusion struct {
	// scale and shift, per output channel, fold BatchNormalization and
	// Mul/Add/Sub/Div by per-channel constants into the weights and bias:
	// y = conv(x)·scale + shift. nil when nothing was folded.
	scale, shift []float32
	colBias      []float32 // MatMul: constant bias per output column
	residual     string
	act          kernels.Activation
	alpha, beta  float32
	out          string
	nodes        []*pb.NodeProto
}

// epilogue returns the activation part of the fusion as an Epilogue.
func (f *fusion) epilogue() kernels.Epilogue {
	if f == nil {
		return kernels.Epilogue{}
	}
	return kernels.Epilogue{Act: f.act, Alpha: f.alpha, Beta: f.beta}
}

// build turns the sorted nodes into steps: constant nodes are folded,
// fusable chains merged, and every unsupported node collected.
func (s *Session) build(nodes []*pb.NodeProto, g *pb.GraphProto) error {
	consumers := map[string][]*pb.NodeProto{}
	for _, n := range nodes {
		for _, in := range n.GetInput() {
			if in != "" {
				consumers[in] = append(consumers[in], n)
			}
		}
	}
	isOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		isOut[o.GetName()] = true
	}
	absorbed := map[*pb.NodeProto]bool{}
	s.absorbed = absorbed
	defer func() { s.absorbed = nil }()
	var qdq map[*pb.NodeProto]*qdqMatch
	var qops map[*pb.NodeProto]*qopMatch
	if !s.opts.NoInteger {
		qdq = s.matchQDQ(nodes, consumers, isOut)
		s.absorbQDQ(qdq, consumers, isOut, absorbed)
		qops = s.matchQOps(nodes, consumers, isOut, qdq, absorbed)
		layoutQDQ(qdq, qops, consumers, isOut, absorbed)
		fusePoolQDQ(qdq, consumers, isOut, absorbed)
	}
	var binq map[*pb.NodeProto]*binaryQ
	if !s.opts.NoInteger && !s.opts.NoFusion {
		binq = s.matchBinaryQ(nodes, consumers, isOut, absorbed)
	}
	pos := map[*step]int{}
	var unsup []string
	var errs []error
	unsupOps := map[string]bool{}
	for i, n := range nodes {
		if absorbed[n] {
			continue
		}
		label := onnxio.NodeLabel(n, i)
		c := &nodeCtx{s: s, n: n}
		last := i
		if m := qops[n]; m != nil {
			st, err := s.qopStep(m, label)
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", label, err))
				continue
			}
			pos[st] = i
			s.steps = append(s.steps, st)
			continue
		}
		if m := qdq[n]; m != nil {
			st, err := s.qdqStep(c, m, label)
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", label, err))
				continue
			}
			for _, fn := range m.nodes {
				for j := i; j < len(nodes); j++ {
					if nodes[j] == fn && j > last {
						last = j
					}
				}
			}
			pos[st] = last
			s.steps = append(s.steps, st)
			continue
		}
		if !s.opts.NoFusion && (n.GetOpType() == "Conv" || n.GetOpType() == "ConvTranspose" || n.GetOpType() == "Gemm" || s.constMatrixB(n)) && len(n.GetOutput()) == 1 {
			c.fuse = s.fuseChain(n, consumers, isOut)
			if c.fuse != nil {
				for _, fn := range c.fuse.nodes {
					absorbed[fn] = true
					for j := i; j < len(nodes); j++ {
						if nodes[j] == fn && j > last {
							last = j
						}
					}
				}
			}
		}
		c.binq = binq[n]
		k, err := builderFor(n)(c)
		if err != nil {
			var u errUnsupported
			if errors.As(err, &u) {
				unsup = append(unsup, label+": "+err.Error())
				unsupOps[n.GetOpType()] = true
			} else {
				errs = append(errs, fmt.Errorf("node %s: %w", label, err))
			}
			continue
		}
		st := &step{label: label, op: n.GetOpType(), k: k}
		if integerOps[n.GetOpType()] {
			st.precision = "int8"
		} else if n.GetDomain() == binaryDomain {
			st.precision = "binary"
		}
		for _, in := range n.GetInput() {
			if in == "" {
				st.ins = append(st.ins, -1)
			} else {
				st.ins = append(st.ins, s.id(in))
			}
		}
		outs := n.GetOutput()
		if bq := c.binq; bq != nil {
			if bq.dq != nil {
				st.ins[0] = s.id(bq.in)
			}
			if bq.q != nil {
				outs = []string{bq.out}
			}
			st.op += "+q"
		}
		if c.fuse != nil {
			if c.fuse.residual != "" {
				for len(st.ins) < 3 {
					st.ins = append(st.ins, -1)
				}
				st.ins = append(st.ins, s.id(c.fuse.residual))
			}
			outs = []string{c.fuse.out}
			st.op += "+fused"
		}
		for _, o := range outs {
			if o == "" {
				st.outs = append(st.outs, -1)
			} else {
				st.outs = append(st.outs, s.id(o))
			}
		}
		if folded, err := s.foldStep(st); err != nil {
			return err
		} else if folded {
			continue // its outputs are constants now, visible to later nodes' builders
		}
		pos[st] = last
		s.steps = append(s.steps, st)
	}
	if len(unsup) > 0 {
		e := &UnsupportedError{Nodes: unsup}
		for op := range unsupOps {
			e.Ops = append(e.Ops, op)
		}
		sort.Strings(e.Ops)
		return e
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine: %w", errors.Join(errs...))
	}
	sort.SliceStable(s.steps, func(a, b int) bool { return pos[s.steps[a]] < pos[s.steps[b]] })
	return nil
}

// foldStep evaluates, once, a step whose inputs are all constants and
// records its outputs as constants; it reports whether it did.
func (s *Session) foldStep(st *step) (bool, error) {
	for _, id := range st.ins {
		if id >= 0 && s.consts[id] == nil {
			return false, nil
		}
	}
	rc := &runCtx{threads: s.opts.Threads, maxBytes: s.opts.MaxTensorBytes}
	outs, err := evalStep(rc, st, s.gather(s.consts, st.ins))
	if err != nil {
		var u errUnsupported
		if errors.As(err, &u) {
			return false, &UnsupportedError{Nodes: []string{st.label + ": " + err.Error()}, Ops: []string{st.op}}
		}
		return false, fmt.Errorf("engine: folding constant node %s: %w", st.label, err)
	}
	for j, id := range st.outs {
		if id >= 0 {
			s.consts[id] = outs[j]
		}
	}
	return true, nil
}

func (s *Session) gather(vals map[int]*Tensor, ids []int) []*Tensor {
	ins := make([]*Tensor, len(ids))
	for j, id := range ids {
		if id >= 0 {
			ins[j] = vals[id]
		}
	}
	return ins
}

// evalStep infers and runs one step on fresh outputs.
func evalStep(rc *runCtx, st *step, ins []*Tensor) ([]*Tensor, error) {
	specs, err := st.k.infer(ins)
	if err != nil {
		return nil, err
	}
	if len(specs) < len(st.outs) {
		return nil, fmt.Errorf("node has %d outputs, the operator gives %d", len(st.outs), len(specs))
	}
	if err := checkSpecs(specs, rc.maxBytes); err != nil {
		return nil, err
	}
	outs := make([]*Tensor, len(specs))
	for j, sp := range specs {
		outs[j] = newTensor(sp.dt, sp.shape)
	}
	if err := st.k.run(rc, ins, outs); err != nil {
		return nil, err
	}
	return outs, nil
}

// fuseChain finds the nodes after Conv or Gemm n that fold into its
// output stage; nil when none does.
func (s *Session) fuseChain(n *pb.NodeProto, consumers map[string][]*pb.NodeProto, isOut map[string]bool) *fusion {
	f := &fusion{}
	cur := n.GetOutput()[0]
	singleOf := func(v string) *pb.NodeProto {
		if isOut[v] || len(consumers[v]) != 1 || s.absorbed[consumers[v][0]] {
			return nil
		}
		c := consumers[v][0]
		if d := c.GetDomain(); d != "" && d != "ai.onnx" {
			return nil
		}
		return c
	}
	single := func() *pb.NodeProto { return singleOf(cur) }
	constOf := s.constOf
	if n.GetOpType() == "MatMul" {
		// MatMul by a constant K×N matrix, then Add of a constant bias of
		// N values: the bias goes to the epilogue's column bias.
		n2 := constOf(n.GetInput()[1]).Shape[1]
		if c := single(); c != nil && c.GetOpType() == "Add" && len(c.GetInput()) == 2 {
			other := c.GetInput()[0]
			if other == cur {
				other = c.GetInput()[1]
			}
			if t := constOf(other); t != nil && t.Type == onnxio.Float && t.Len() == n2 && n2 > 0 && t.Shape[len(t.Shape)-1] == n2 && len(t.Shape) <= 2 {
				f.colBias = t.F32
				f.nodes = append(f.nodes, c)
				cur = c.GetOutput()[0]
			}
		}
	}
	if op := n.GetOpType(); op == "Conv" || op == "ConvTranspose" {
		constW := len(n.GetInput()) > 1 && constOf(n.GetInput()[1]) != nil && (len(n.GetInput()) < 3 || n.GetInput()[2] == "" || constOf(n.GetInput()[2]) != nil)
		if w := constOf(n.GetInput()[1]); constW && w.Type == onnxio.Float && len(w.Shape) >= 3 {
			m := w.Shape[0]
			if op == "ConvTranspose" {
				m = w.Shape[1] * int(attrInt(n, "group", 1))
			}
			cur = s.fuseAffine(f, cur, m, len(w.Shape), singleOf, constOf, consumers, isOut)
		}
	}
	if n.GetOpType() == "Conv" {
		if c := single(); c != nil && c.GetOpType() == "Add" && len(c.GetInput()) == 2 {
			other := c.GetInput()[0]
			if other == cur {
				other = c.GetInput()[1]
			}
			if other != cur && other != "" {
				f.residual = other
				f.nodes = append(f.nodes, c)
				cur = c.GetOutput()[0]
			}
		}
	}
	if c := single(); c != nil {
		act, ok := kernels.ActNone, true
		switch c.GetOpType() {
		case "Relu":
			act = kernels.ActRelu
		case "LeakyRelu":
			act, f.alpha = kernels.ActLeakyRelu, attrF(c, "alpha", 0.01)
		case "HardSigmoid":
			act, f.alpha, f.beta = kernels.ActHardSigmoid, attrF(c, "alpha", 0.2), attrF(c, "beta", 0.5)
		case "HardSwish":
			act = kernels.ActHardSwish
		case "Clip":
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			for j, in := range c.GetInput()[1:] {
				if in == "" {
					continue
				}
				t := constOf(in)
				if t == nil || t.Type != onnxio.Float || t.Len() != 1 {
					ok = false
					break
				}
				if j == 0 {
					lo = t.F32[0]
				} else {
					hi = t.F32[0]
				}
			}
			act, f.alpha, f.beta = kernels.ActClip, lo, hi
		default:
			ok = false
		}
		if ok && c.GetInput()[0] == cur {
			f.act = act
			f.nodes = append(f.nodes, c)
			cur = c.GetOutput()[0]
		} else {
			f.alpha, f.beta = 0, 0
		}
	} else if last := s.paddleHardSwish(cur, consumers, isOut, constOf); last != nil {
		f.act = kernels.ActHardSwish
		f.nodes = append(f.nodes, last...)
		cur = last[len(last)-1].GetOutput()[0]
	} else if cs := consumers[cur]; !isOut[cur] && len(cs) == 2 && !s.absorbed[cs[0]] && !s.absorbed[cs[1]] {
		// x * HardSigmoid(x) with alpha 1/6, beta 1/2 is HardSwish.
		h, m := cs[0], cs[1]
		if h.GetOpType() == "Mul" {
			h, m = m, h
		}
		if h.GetOpType() == "HardSigmoid" && m.GetOpType() == "Mul" && len(m.GetInput()) == 2 &&
			math.Abs(float64(attrF(h, "alpha", 0.2))-1.0/6) < 1e-6 && attrF(h, "beta", 0.5) == 0.5 {
			ho := h.GetOutput()[0]
			in := m.GetInput()
			if !isOut[ho] && len(consumers[ho]) == 1 && ((in[0] == cur && in[1] == ho) || (in[1] == cur && in[0] == ho)) {
				f.act = kernels.ActHardSwish
				f.nodes = append(f.nodes, h, m)
				cur = m.GetOutput()[0]
			}
		}
	}
	if len(f.nodes) == 0 {
		return nil
	}
	f.out = cur
	return f
}

// constMatrixB reports whether n is a MatMul by a constant 2-D float B.
func (s *Session) constMatrixB(n *pb.NodeProto) bool {
	if n.GetOpType() != "MatMul" || len(n.GetInput()) != 2 {
		return false
	}
	id, ok := s.ids[n.GetInput()[1]]
	if !ok {
		return false
	}
	t := s.consts[id]
	return t != nil && t.Type == onnxio.Float && len(t.Shape) == 2
}

// fuseAffine absorbs into f the chain of per-channel affine nodes
// (inference BatchNormalization with constant parameters; Mul, Add, Sub
// or Div by a constant that is a scalar or has one value per channel)
// after value cur, the output of a convolution with m channels and rank
// r. It returns the chain's last value.
func (s *Session) fuseAffine(f *fusion, cur string, m, r int, single func(string) *pb.NodeProto,
	constOf func(string) *Tensor, consumers map[string][]*pb.NodeProto, isOut map[string]bool) string {
	perChannel := func(t *Tensor) []float32 {
		if t == nil || t.Type != onnxio.Float || len(t.Shape) > r {
			return nil
		}
		if t.Len() == 1 {
			v := make([]float32, m)
			for i := range v {
				v[i] = t.F32[0]
			}
			return v
		}
		// Right-aligned to [N, C, spatial...]: only the C axis may exceed 1.
		pad := r - len(t.Shape)
		for i, d := range t.Shape {
			if d != 1 && !(pad+i == 1 && d == m) {
				return nil
			}
		}
		return t.F32
	}
	scale := make([]float32, m)
	shift := make([]float32, m)
	for i := range scale {
		scale[i] = 1
	}
	folded := false
	for {
		c := single(cur)
		if c == nil {
			break
		}
		in := c.GetInput()
		ok := false
		switch op := c.GetOpType(); op {
		case "BatchNormalization":
			if len(in) != 5 || in[0] != cur || usedOutputs(c, consumers, isOut) != 1 || attrInt(c, "training_mode", 0) != 0 {
				break
			}
			ts := make([][]float32, 4)
			ok = true
			for j := range ts {
				t := constOf(in[j+1])
				if t == nil || t.Type != onnxio.Float || t.Len() != m {
					ok = false
					break
				}
				ts[j] = t.F32
			}
			if ok {
				sc, sh := bnParams(ts[0], ts[1], ts[2], ts[3], attrF(c, "epsilon", 1e-5))
				for i := range scale {
					scale[i] *= sc[i]
					shift[i] = shift[i]*sc[i] + sh[i]
				}
			}
		case "Mul", "Add", "Sub", "Div":
			if len(in) != 2 {
				break
			}
			other := in[1]
			if in[1] == cur {
				other = in[0]
			} else if in[0] != cur || ((op == "Sub" || op == "Div") && in[1] == cur) {
				break
			}
			if (op == "Sub" || op == "Div") && in[0] != cur {
				break // c - y and c / y are not affine in y's form here
			}
			v := perChannel(constOf(other))
			if v == nil {
				break
			}
			ok = true
			for i := range scale {
				switch op {
				case "Mul":
					scale[i] *= v[i]
					shift[i] *= v[i]
				case "Div":
					scale[i] /= v[i]
					shift[i] /= v[i]
				case "Add":
					shift[i] += v[i]
				case "Sub":
					shift[i] -= v[i]
				}
			}
		}
		if !ok {
			break
		}
		f.nodes = append(f.nodes, c)
		cur = c.GetOutput()[0]
		folded = true
	}
	if folded {
		f.scale, f.shift = scale, shift
	}
	return cur
}

func attrInt(n *pb.NodeProto, name string, def int64) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return def
}

// paddleHardSwish matches x * Clip(x + 3, 0, 6) / 6, HardSwish as
// Paddle exports it, on value x; it returns the four nodes in order.
func (s *Session) paddleHardSwish(x string, consumers map[string][]*pb.NodeProto, isOut map[string]bool, constOf func(string) *Tensor) []*pb.NodeProto {
	cs := consumers[x]
	if isOut[x] || len(cs) != 2 || s.absorbed[cs[0]] || s.absorbed[cs[1]] {
		return nil
	}
	scalar := func(name string, want float32) bool {
		t := constOf(name)
		return t != nil && t.Type == onnxio.Float && t.Len() == 1 && t.F32[0] == want
	}
	only := func(v string) *pb.NodeProto {
		if isOut[v] || len(consumers[v]) != 1 {
			return nil
		}
		return consumers[v][0]
	}
	add, mul := cs[0], cs[1]
	if add.GetOpType() == "Mul" {
		add, mul = mul, add
	}
	if add.GetOpType() != "Add" || mul.GetOpType() != "Mul" || len(add.GetInput()) != 2 || len(mul.GetInput()) != 2 {
		return nil
	}
	ai := add.GetInput()
	if !((ai[0] == x && scalar(ai[1], 3)) || (ai[1] == x && scalar(ai[0], 3))) {
		return nil
	}
	clip := only(add.GetOutput()[0])
	if clip == nil || clip.GetOpType() != "Clip" || len(clip.GetInput()) != 3 || !scalar(clip.GetInput()[1], 0) || !scalar(clip.GetInput()[2], 6) {
		return nil
	}
	co := clip.GetOutput()[0]
	if only(co) != mul {
		return nil
	}
	mi := mul.GetInput()
	if !((mi[0] == x && mi[1] == co) || (mi[1] == x && mi[0] == co)) {
		return nil
	}
	div := only(mul.GetOutput()[0])
	if div == nil || div.GetOpType() != "Div" || div.GetInput()[0] != mul.GetOutput()[0] || !scalar(div.GetInput()[1], 6) {
		return nil
	}
	return []*pb.NodeProto{add, clip, mul, div}
}

func usedOutputs(n *pb.NodeProto, consumers map[string][]*pb.NodeProto, isOut map[string]bool) int {
	u := 0
	for _, o := range n.GetOutput() {
		if o != "" && (len(consumers[o]) > 0 || isOut[o]) {
			u++
		}
	}
	return u
}

func attrF(n *pb.NodeProto, name string, def float32) float32 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetF()
		}
	}
	return def
}

// bnParams turns inference BatchNormalization into y = x*scale + shift.
func bnParams(gamma, beta, mean, variance []float32, eps float32) (scale, shift []float32) {
	scale = make([]float32, len(gamma))
	shift = make([]float32, len(gamma))
	for i := range gamma {
		scale[i] = gamma[i] / float32(math.Sqrt(float64(variance[i]+eps)))
		shift[i] = beta[i] - mean[i]*scale[i]
	}
	return scale, shift
}

// plan is a Session specialised to one set of input shapes: every
// value's type and shape, the values computable from shapes alone
// already computed, and float32 activations assigned to reusable slots.
type plan struct {
	vals     []*Tensor // per value id: data when known at plan time, else type and shape only
	known    []bool
	isInput  []bool
	live     []*step
	dyn      []bool // per value id: its shape depends on data, known only in a run
	dynStep  []bool // live step i has such inputs or outputs: inferred and allocated per run
	alias    []bool // live step i's output 0 is a view of its input 0
	slot     []int  // per value id: arena slot, -1 for a fresh allocation
	slotSize []int
	arenas   sync.Pool
}

// arena is one Run's memory: the activation slots and the kernels'
// scratch (im2col buffers), kept between runs in the plan's pool.
type arena struct {
	slots   [][]float32
	scratch []float32
	// hdr holds the headers of the values in slots, by value id: one
	// allocation for the plan's life instead of one per value per run.
	hdr []Tensor
}

func (s *Session) newPlan(inputs map[string]*Tensor) (*plan, error) {
	n := len(s.names)
	p := &plan{vals: make([]*Tensor, n), known: make([]bool, n), isInput: make([]bool, n), slot: make([]int, n), dyn: make([]bool, n)}
	for id, c := range s.consts {
		p.vals[id], p.known[id] = c, true
	}
	for _, in := range s.inputs {
		t := inputs[in.name]
		p.vals[in.id] = &Tensor{Type: t.Type, Shape: t.Shape}
		p.isInput[in.id] = true
	}
	rc := &runCtx{threads: 1, maxBytes: s.opts.MaxTensorBytes}
	for _, st := range s.steps {
		ins := make([]*Tensor, len(st.ins))
		all, dyn := true, false
		for j, id := range st.ins {
			if id < 0 {
				continue
			}
			if p.dyn[id] {
				dyn = true
				continue
			}
			if p.vals[id] == nil {
				return nil, fmt.Errorf("engine: node %s: input %q has no value", st.label, s.names[id])
			}
			ins[j] = p.vals[id]
			all = all && p.known[id]
		}
		if so, ok := st.k.(shapeOnly); ok && so.shapeOnly() && !dyn {
			all = true
		}
		if all && !dyn {
			outs, err := evalStep(rc, st, ins)
			if err != nil {
				return nil, fmt.Errorf("engine: node %s: %w", st.label, err)
			}
			for j, id := range st.outs {
				if id >= 0 {
					p.vals[id], p.known[id] = outs[j], true
				}
			}
			continue
		}
		var specs []spec
		if !dyn {
			var err error
			specs, err = st.k.infer(ins)
			if errors.Is(err, errNoData) {
				dyn = true // the output shape depends on values only a run has
			} else if err != nil {
				return nil, fmt.Errorf("engine: node %s (inputs %s): %w", st.label, describe(ins), err)
			} else if len(specs) < len(st.outs) {
				return nil, fmt.Errorf("engine: node %s has %d outputs, the operator gives %d", st.label, len(st.outs), len(specs))
			} else if err := checkSpecs(specs, s.opts.MaxTensorBytes); err != nil {
				return nil, fmt.Errorf("engine: node %s (inputs %s): %w", st.label, describe(ins), err)
			}
		}
		for j, id := range st.outs {
			switch {
			case id < 0:
			case dyn:
				p.dyn[id] = true
			default:
				p.vals[id] = &Tensor{Type: specs[j].dt, Shape: specs[j].shape}
			}
		}
		p.live = append(p.live, st)
		p.dynStep = append(p.dynStep, dyn)
	}
	for _, o := range s.outputs {
		if p.vals[o.id] == nil && !p.dyn[o.id] {
			return nil, fmt.Errorf("engine: graph output %q is never computed", o.name)
		}
	}
	p.memoryPlan(s)
	return p, nil
}

// evalStepSafe is evalStep turning a panic into an error.
func evalStepSafe(rc *runCtx, st *step, ins []*Tensor) (outs []*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("internal error (inputs %s): %v", describe(ins), r)
		}
	}()
	return evalStep(rc, st, ins)
}

// runStep runs one kernel, turning a panic into an error.
func runStep(st *step, rc *runCtx, ins, outs []*Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error (inputs %s): %v", describe(ins), r)
		}
	}()
	return st.k.run(rc, ins, outs)
}

func describe(ts []*Tensor) string {
	var parts []string
	for _, t := range ts {
		if t == nil {
			parts = append(parts, "-")
		} else {
			parts = append(parts, t.String())
		}
	}
	return strings.Join(parts, ", ")
}

// slotType reports whether values of dt live in the plan's slots:
// float32 activations, and the uint8/int8 ones of quantized models.
func slotType(dt onnxio.DataType) bool {
	return dt == onnxio.Float || dt == onnxio.Uint8 || dt == onnxio.Int8
}

// slotLen is the number of float32 slot elements t's values take.
func slotLen(t *Tensor) int {
	if t.Type == onnxio.Float {
		return t.Len()
	}
	return (t.Len() + 3) / 4
}

// slotTensor is a tensor of sp's type and shape on the memory of slot.
func slotTensor(sp *Tensor, slot []float32) Tensor {
	t := Tensor{Type: sp.Type, Shape: sp.Shape}
	n := sp.Len()
	switch sp.Type {
	case onnxio.Float:
		t.F32 = slot[:n]
	case onnxio.Uint8:
		t.U8 = unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(slot))), len(slot)*4)[:n:n]
	case onnxio.Int8:
		t.I8 = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(slot))), len(slot)*4)[:n:n]
	}
	return t
}

// memoryPlan assigns float32 activations (and uint8/int8 ones, four to
// a slot element) to slots: a slot is reused
// once the last reader of its value (or of views of it) has run.
func (p *plan) memoryPlan(s *Session) {
	n := len(p.vals)
	isOut := make([]bool, n)
	for _, o := range s.outputs {
		isOut[o.id] = true
	}
	root := make([]int, n)
	for i := range root {
		root[i] = i
		p.slot[i] = -1
	}
	p.alias = make([]bool, len(p.live))
	lastUse := make([]int, n)
	for i := range lastUse {
		lastUse[i] = -1
	}
	for i, st := range p.live {
		if a, ok := st.k.(aliaser); ok && a.alias() && !p.dynStep[i] && st.outs[0] >= 0 && !isOut[st.outs[0]] && st.ins[0] >= 0 {
			p.alias[i] = true
			root[st.outs[0]] = root[st.ins[0]]
		}
		for _, id := range st.ins {
			if id >= 0 {
				lastUse[root[id]] = i
			}
		}
		for _, id := range st.outs {
			if id >= 0 && lastUse[root[id]] < i {
				lastUse[root[id]] = i
			}
		}
	}
	var free []int
	for i, st := range p.live {
		for j, id := range st.outs {
			if id < 0 || p.dyn[id] || (j == 0 && p.alias[i]) || isOut[id] || !slotType(p.vals[id].Type) {
				continue
			}
			need := slotLen(p.vals[id])
			if need == 0 {
				continue
			}
			best := -1
			for k, sl := range free {
				if p.slotSize[sl] >= need && (best < 0 || p.slotSize[sl] < p.slotSize[free[best]]) {
					best = k
				}
			}
			if best < 0 && len(free) > 0 {
				best = 0
				for k, sl := range free {
					if p.slotSize[sl] > p.slotSize[free[best]] {
						best = k
					}
				}
			}
			if best >= 0 {
				sl := free[best]
				free = append(free[:best], free[best+1:]...)
				p.slotSize[sl] = max(p.slotSize[sl], need)
				p.slot[id] = sl
			} else {
				p.slot[id] = len(p.slotSize)
				p.slotSize = append(p.slotSize, need)
			}
		}
		for _, id := range append(append([]int{}, st.ins...), st.outs...) {
			if id < 0 {
				continue
			}
			r := root[id]
			if lastUse[r] == i && p.slot[r] >= 0 {
				free = append(free, p.slot[r])
				lastUse[r] = -2 // freed once
			}
		}
	}
	p.arenas.New = func() any {
		a := &arena{slots: make([][]float32, len(p.slotSize))}
		for i, sz := range p.slotSize {
			a.slots[i] = make([]float32, sz)
		}
		return a
	}
}

// run executes the plan; observe, when not nil, sees every computed
// value, and prof, when not nil, gets a StepTime per step.
func (p *plan) run(s *Session, inputs map[string]*Tensor, observe Observer, prof *profile) (map[string]*Tensor, error) {
	vals := make([]*Tensor, len(p.vals))
	for id, k := range p.known {
		if k {
			vals[id] = p.vals[id]
		}
	}
	for _, in := range s.inputs {
		vals[in.id] = inputs[in.name]
	}
	ar := p.arenas.Get().(*arena)
	rc := &runCtx{threads: s.opts.Threads, scratch: ar.scratch, maxBytes: s.opts.MaxTensorBytes}
	defer func() {
		ar.scratch = rc.scratch
		p.arenas.Put(ar)
	}()
	// One allocation for every step's input and output lists.
	nio := 0
	for _, st := range p.live {
		nio += len(st.ins) + len(st.outs)
	}
	io := make([]*Tensor, nio)
	take := func(n int) []*Tensor {
		l := io[:n:n]
		io = io[n:]
		return l
	}
	if prof != nil {
		prof.start(s, len(p.live))
	}
	var t0 time.Time
	for i, st := range p.live {
		if prof != nil {
			t0 = time.Now()
		}
		ins := take(len(st.ins))
		for j, id := range st.ins {
			if id >= 0 {
				ins[j] = vals[id]
			}
		}
		if p.dynStep[i] {
			outs, err := evalStepSafe(rc, st, ins)
			if err != nil {
				return nil, fmt.Errorf("engine: node %s: %w", st.label, err)
			}
			if prof != nil {
				prof.add(p, st, time.Since(t0), false, ins, outs)
			}
			for j, id := range st.outs {
				if id >= 0 {
					vals[id] = outs[j]
					if observe != nil {
						observe(s.names[id], outs[j])
					}
				}
			}
			continue
		}
		outs := take(len(st.outs))
		for j, id := range st.outs {
			var sp *Tensor
			if id >= 0 {
				sp = p.vals[id]
			} else {
				// An unused optional output: give it scratch of the kernel's
				// choosing.
				specs, err := st.k.infer(ins)
				if err == nil {
					err = checkSpecs(specs, rc.maxBytes)
				}
				if err != nil {
					return nil, fmt.Errorf("engine: node %s: %w", st.label, err)
				}
				sp = &Tensor{Type: specs[j].dt, Shape: specs[j].shape}
			}
			switch {
			case j == 0 && p.alias[i]:
				outs[j] = ins[0].view(sp.Shape)
			case id >= 0 && p.slot[id] >= 0:
				if ar.hdr == nil {
					ar.hdr = make([]Tensor, len(p.vals))
				}
				ar.hdr[id] = slotTensor(sp, ar.slots[p.slot[id]])
				outs[j] = &ar.hdr[id]
			default:
				outs[j] = newTensor(sp.Type, sp.Shape)
			}
		}
		if !(p.alias[i] && len(outs) == 1) {
			if err := runStep(st, rc, ins, outs); err != nil {
				return nil, fmt.Errorf("engine: node %s: %w", st.label, err)
			}
		}
		if prof != nil {
			prof.add(p, st, time.Since(t0), p.alias[i], ins, outs)
		}
		for j, id := range st.outs {
			if id >= 0 {
				vals[id] = outs[j]
				if observe != nil {
					observe(s.names[id], outs[j])
				}
			}
		}
	}
	res := make(map[string]*Tensor, len(s.outputs))
	for _, o := range s.outputs {
		t := vals[o.id]
		if p.known[o.id] || p.isInput[o.id] {
			t = t.clone()
		}
		res[o.name] = t
	}
	return res, nil
}

// start readies prof for a run of n steps of s.
func (prof *profile) start(s *Session, n int) {
	prof.index = make(map[*step]int, len(s.steps))
	for i, st := range s.steps {
		prof.index[st] = i
	}
	prof.steps = make([]StepTime, 0, n)
}

// add records step st's time d and the bytes it moved (none when view,
// its output being its input reshaped).
func (prof *profile) add(p *plan, st *step, d time.Duration, view bool, ins, outs []*Tensor) {
	t := StepTime{NodePrecision: st.precisionInfo(), Step: prof.index[st], Time: d}
	if !view {
		for j, id := range st.ins {
			if id >= 0 && !p.known[id] {
				t.InBytes += storageBytes(ins[j])
			}
		}
		for _, o := range outs {
			t.OutBytes += storageBytes(o)
		}
	}
	prof.steps = append(prof.steps, t)
}

// storageBytes is the memory t's values take in the engine.
func storageBytes(t *Tensor) int64 {
	if t == nil {
		return 0
	}
	return int64(t.Len()) * int64(max(onnxio.ElemBits(t.Type), 8)/8)
}

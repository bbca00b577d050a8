package engine

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// The operators around the integer convolutions of a QDQ model, in the
// integer domain.
//
// Each pattern below reads 8-bit per-tensor quantized values and ends in
// an 8-bit per-tensor QuantizeLinear; its table is made at compile time
// by running the graph's own float nodes (the engine's float kernels)
// on every input value, so the integer step gives the bytes the float
// path (DequantizeLinear -> float ops -> QuantizeLinear) gives:
//
//   - tables: a connected group of elementwise float nodes (arithmetic
//     with scalar constants, Clip, Relu, HardSigmoid, HardSwish, Sigmoid,
//     Tanh...) computed from one quantized tensor, through
//     QuantizeLinear -> DequantizeLinear pairs inside the group too (a
//     decomposed HardSwish, x·clip(x+3, 0, 6)/6 with x+3 quantized): a
//     256-entry table per output, run as a byte gather;
//   - Add, Sub, Mul or Div of two such values (each a table of its own
//     quantized tensor: a residual Add, the HardSigmoid gate of a
//     squeeze-and-excitation block times its feature map), broadcast:
//     a 256×256 table indexed by the two bytes;
//   - GlobalAveragePool and AveragePool: the dequantized values (a
//     table) averaged as the float kernel does, in its order, then
//     quantized (AveragePool in the logical order only);
//   - Concat (each input requantized by a table, a copy when its
//     parameters are the output's) and nearest Resize (a gather of the
//     bytes, then a table).
//
// One pattern ends in float instead: a single elementwise node between
// a DequantizeLinear and a graph output (the Sigmoid of a detection
// head) is a table of 256 float32 values (qopFloatTable), made the same
// way.

// qopKind is the form of a qopMatch.
type qopKind int

const (
	qopTable qopKind = iota
	qopBinary
	qopGAP
	qopAvgPool
	qopResize
	qopConcat
	qopFloatTable
)

// qopMatch is one integer step for the operators between convolutions,
// ending in the QuantizeLinear q (which writes out; nil for
// qopFloatTable, which ends in its node's float output).
type qopMatch struct {
	kind  qopKind
	op    string // the main operator, for labels
	q     *pb.NodeProto
	out   string
	ins   []string // quantized inputs
	inDT  []onnxio.DataType
	nodes []*pb.NodeProto // the graph nodes it stands for (q last)
	ydt   onnxio.DataType
	// table: out = table[in] (qopTable; qopConcat and qopResize per
	// input, nil for a copy).
	tables [][]byte
	// bin: out = bin[a<<8 | b] (qopBinary).
	bin []byte
	// deq: the dequantization table of qopGAP and qopAvgPool, and the
	// parameters of the DequantizeLinear it comes from; the float table
	// of qopFloatTable.
	deq  []float32
	deqP qparams
	// rank: the least rank of a table's output (its constants' ranks).
	rank int
	// node: the Resize or Concat node (qopResize, qopConcat).
	node *pb.NodeProto
	// inNHWC, outNHWC: the inputs (output) are passed between integer
	// steps channels last (layoutQDQ).
	inNHWC  []bool
	outNHWC bool
}

// qparams are the constant per-tensor parameters of an 8-bit
// QuantizeLinear or DequantizeLinear.
type qparams struct {
	scale float32
	zp    float32
	dt    onnxio.DataType // 0 when it has no zero point (DequantizeLinear)
}

// unaryTableOps are elementwise operators of one value (and scalar
// constants) a table can stand for.
var unaryTableOps = map[string]bool{"Clip": true, "Relu": true, "LeakyRelu": true, "HardSigmoid": true, "HardSwish": true,
	"Sigmoid": true, "Tanh": true, "Neg": true, "Abs": true, "Elu": true, "Selu": true, "Softplus": true, "Gelu": true, "Mish": true}

// binaryTableOps are the arithmetic operators a table can stand for,
// with a scalar constant or between two table values.
var binaryTableOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true}

// matchQOps finds the patterns in nodes (topologically sorted), leaving
// alone those matchQDQ matched; it returns them by their last
// QuantizeLinear and marks the nodes they replace as absorbed.
func (s *Session) matchQOps(nodes []*pb.NodeProto, consumers map[string][]*pb.NodeProto, isOut map[string]bool,
	qdq map[*pb.NodeProto]*qdqMatch, absorbed map[*pb.NodeProto]bool) map[*pb.NodeProto]*qopMatch {
	producer := producers(nodes)
	constOf := s.constOf
	taken := func(n *pb.NodeProto) bool { return absorbed[n] || qdq[n] != nil }
	std := func(n *pb.NodeProto) bool { d := n.GetDomain(); return d == "" || d == "ai.onnx" }
	// params reads the per-tensor 8-bit parameters of a QuantizeLinear or
	// DequantizeLinear.
	params := func(n *pb.NodeProto) (qparams, bool) {
		in := n.GetInput()
		if !std(n) || len(in) < 2 || len(n.GetOutput()) != 1 || attrInt(n, "block_size", 0) != 0 {
			return qparams{}, false
		}
		sc := constOf(in[1])
		if sc == nil || sc.Type != onnxio.Float || sc.Len() != 1 || !(sc.F32[0] > 0) || math.IsInf(float64(sc.F32[0]), 0) {
			return qparams{}, false
		}
		p := qparams{scale: sc.F32[0]}
		if len(in) > 2 && in[2] != "" {
			z := constOf(in[2])
			if z == nil || z.Len() != 1 || !isQ8(z.Type) {
				return qparams{}, false
			}
			p.zp, p.dt = float32(z.at(0)), z.Type
		}
		return p, true
	}
	// qdt returns the output type of an 8-bit per-tensor QuantizeLinear.
	qdt := func(n *pb.NodeProto) (onnxio.DataType, bool) {
		if n == nil || n.GetOpType() != "QuantizeLinear" {
			return 0, false
		}
		p, ok := params(n)
		if !ok {
			return 0, false
		}
		dt := p.dt
		if dt == 0 {
			dt = onnxio.Uint8
			if odt := attrInt(n, "output_dtype", 0); odt != 0 {
				dt = onnxio.DataType(odt)
			}
		}
		return dt, isQ8(dt)
	}
	// quant is qdt of a QuantizeLinear not taken by another pattern.
	quant := func(n *pb.NodeProto) (onnxio.DataType, bool) {
		if n == nil || taken(n) {
			return 0, false
		}
		return qdt(n)
	}
	// qtype is the type of a computed quantized value, when known at
	// compile time (written by a QuantizeLinear, or a graph input).
	qtype := func(v string) (onnxio.DataType, bool) {
		if constOf(v) != nil {
			return 0, false
		}
		if p := producer[v]; p != nil {
			return qdt(p)
		}
		id, ok := s.ids[v]
		for _, in := range s.inputs {
			if ok && id == in.id && isQ8(in.dt) {
				return in.dt, true
			}
		}
		return 0, false
	}
	// deq returns the type of the quantized input of an 8-bit per-tensor
	// DequantizeLinear of a computed value.
	deq := func(n *pb.NodeProto) (onnxio.DataType, bool) {
		if n == nil || n.GetOpType() != "DequantizeLinear" {
			return 0, false
		}
		p, ok := params(n)
		if !ok {
			return 0, false
		}
		dt, ok := qtype(n.GetInput()[0])
		return dt, ok && (p.dt == 0 || p.dt == dt)
	}
	single := func(v string) *pb.NodeProto {
		if isOut[v] || len(consumers[v]) != 1 {
			return nil
		}
		return consumers[v][0]
	}
	matches := map[*pb.NodeProto]*qopMatch{}
	// reads are the matched nodes that read DequantizeLinear outputs.
	reads := map[*pb.NodeProto]bool{}

	// Elementwise groups. elem holds the candidates: operators a table
	// stands for, with every other input a scalar constant.
	elem := map[*pb.NodeProto]bool{}
	for _, n := range nodes {
		op := n.GetOpType()
		if taken(n) || !std(n) || len(n.GetOutput()) != 1 || !(unaryTableOps[op] || binaryTableOps[op]) || attrInt(n, "legacy_axis", -1) >= 0 {
			continue // (opset-6 broadcasting along an axis: in float)
		}
		ok, vals := true, 0
		for j, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if t := constOf(in); t != nil {
				ok = ok && t.Type == onnxio.Float && t.Len() == 1
			} else if j > 0 && unaryTableOps[op] {
				ok = false // Clip bounds and the like must be constant
			} else {
				vals++
			}
		}
		if ok && vals > 0 {
			elem[n] = true
		}
	}
	// roots are the quantized tensors each member's value is computed
	// from.
	var roots map[string][]string
	// cut are QuantizeLinear nodes whose output is written even though
	// only members read it (so that the members after it have at most
	// two roots).
	cut := map[*pb.NodeProto]bool{}
	// inner tells whether QuantizeLinear q of a member's value is
	// consumed only through DequantizeLinear nodes by members (then the
	// group goes through it in its tables).
	inner := func(q *pb.NodeProto) bool {
		v := q.GetOutput()[0]
		if cut[q] || isOut[v] || len(consumers[v]) == 0 || !elem[producer[q.GetInput()[0]]] || len(roots[q.GetInput()[0]]) == 0 {
			return false
		}
		for _, d := range consumers[v] {
			if _, ok := deq(d); !ok || isOut[d.GetOutput()[0]] || len(consumers[d.GetOutput()[0]]) == 0 {
				return false
			}
			for _, c := range consumers[d.GetOutput()[0]] {
				if !elem[c] {
					return false
				}
			}
		}
		return true
	}
	// rootsOf gives the roots of a member's value input.
	rootsOf := func(in string) []string {
		p := producer[in]
		if elem[p] {
			return roots[in]
		}
		q := p.GetInput()[0] // p is a DequantizeLinear
		if qp := producer[q]; qp != nil && qp.GetOpType() == "QuantizeLinear" && inner(qp) {
			return roots[qp.GetInput()[0]]
		}
		return []string{q}
	}
	for {
		// A member's value inputs come from members or from
		// DequantizeLinear; its output goes to members or to
		// QuantizeLinear.
		changed := true
		for changed {
			changed = false
			for n := range elem {
				ok := true
				for _, in := range n.GetInput() {
					if in == "" || constOf(in) != nil {
						continue
					}
					p := producer[in]
					if _, dq := deq(p); !dq && !elem[p] {
						ok = false
					}
				}
				o := n.GetOutput()[0]
				ok = ok && !isOut[o]
				for _, c := range consumers[o] {
					if _, q := quant(c); !q && !elem[c] {
						ok = false
					}
				}
				if !ok {
					delete(elem, n)
					changed = true
				}
			}
		}
		// Each member value is computed from one or two quantized
		// tensors (roots), so that a table of 256 or 65536 entries
		// stands for it.
		roots = map[string][]string{}
		var bad []*pb.NodeProto
		for _, n := range nodes {
			if !elem[n] {
				continue
			}
			var rs []string
			add := func(r []string) {
				for _, x := range r {
					if !contains(rs, x) {
						rs = append(rs, x)
					}
				}
			}
			for _, in := range n.GetInput() {
				if in != "" && constOf(in) == nil {
					add(rootsOf(in))
				}
			}
			ok := len(rs) == 1 || len(rs) == 2
			if !ok {
				bad = append(bad, n)
				continue
			}
			roots[n.GetOutput()[0]] = rs
		}
		if len(bad) == 0 {
			break
		}
		// Too many roots: the quantized values read through inner
		// QuantizeLinear nodes become roots themselves, or else the
		// node stays in float.
		for _, n := range bad {
			cutOne := false
			for _, in := range n.GetInput() {
				if p := producer[in]; in != "" && constOf(in) == nil && !elem[p] {
					if qp := producer[p.GetInput()[0]]; qp != nil && qp.GetOpType() == "QuantizeLinear" && inner(qp) {
						cut[qp], cutOne = true, true
					}
				}
			}
			if !cutOne {
				delete(elem, n)
			}
		}
	}
	keep := map[*pb.NodeProto]bool{} // needed by a group left in float
	for _, n := range nodes {
		dt, ok := quant(n)
		if !ok {
			continue
		}
		v := n.GetInput()[0]
		p := producer[v]
		if !elem[p] || inner(n) {
			continue
		}
		m := &qopMatch{q: n, out: n.GetOutput()[0], ydt: dt, op: p.GetOpType(), ins: roots[v], kind: qopTable}
		if len(m.ins) == 2 {
			m.kind = qopBinary
		}
		for _, r := range m.ins {
			rt, _ := qtype(r)
			m.inDT = append(m.inDT, rt)
		}
		t, err := s.groupTable(n, m, producer)
		if err != nil {
			// The float path stays, with every node it needs.
			for _, e := range s.islandNodes(v, elem, producer, inner, nil) {
				keep[e] = true
			}
			continue
		}
		if m.kind == qopTable {
			m.tables = [][]byte{qbytes(t)}
		} else {
			m.bin = qbytes(t)
		}
		m.nodes = s.islandNodes(v, elem, producer, inner, nil)
		m.nodes = append(m.nodes, n)
		for _, e := range m.nodes {
			for _, in := range e.GetInput() {
				if c := constOf(in); c != nil && elem[e] {
					m.rank = max(m.rank, len(c.Shape))
				}
			}
		}
		matches[n] = m
	}
	// The matched groups' nodes are replaced, and inner QuantizeLinear
	// nodes with them.
	for _, m := range matches {
		for _, n := range m.nodes[:len(m.nodes)-1] {
			if keep[n] {
				continue
			}
			if elem[n] {
				absorbed[n] = true
				reads[n] = true
			} else if n.GetOpType() == "QuantizeLinear" {
				absorbed[n] = true
			}
		}
	}

	// GlobalAveragePool, Resize (nearest) and Concat of dequantized values,
	// quantized.
	for _, n := range nodes {
		op := n.GetOpType()
		if taken(n) || absorbed[n] || !std(n) || len(n.GetOutput()) != 1 {
			continue
		}
		q := single(n.GetOutput()[0])
		ydt, ok := quant(q)
		if !ok {
			continue
		}
		m := &qopMatch{op: op, q: q, out: q.GetOutput()[0], ydt: ydt, node: n}
		qp, _ := params(q)
		var dqs []*pb.NodeProto
		values := n.GetInput()
		switch op {
		case "GlobalAveragePool":
			m.kind = qopGAP
		case "AveragePool":
			m.kind = qopAvgPool
		case "Resize":
			if attrString(n, "mode", "nearest") != "nearest" || attrString(n, "coordinate_transformation_mode", "") == "tf_crop_and_resize" {
				continue
			}
			for _, in := range values[1:] {
				if in != "" && constOf(in) == nil {
					ok = false
				}
			}
			m.kind = qopResize
			values = values[:1]
		case "Concat":
			m.kind = qopConcat
		default:
			continue
		}
		for _, in := range values {
			d := producer[in]
			dt, isDQ := deq(d)
			if !ok || in == "" || !isDQ {
				ok = false
				break
			}
			dqs = append(dqs, d)
			m.ins = append(m.ins, d.GetInput()[0])
			m.inDT = append(m.inDT, dt)
		}
		if !ok || len(dqs) == 0 {
			continue
		}
		var err error
		for j, d := range dqs {
			var t []byte
			var deqT []float32
			if m.kind == qopGAP || m.kind == qopAvgPool {
				deqT, err = s.dequantTable(d, m.inDT[j])
				m.deq = deqT
				m.deqP, _ = params(d)
				break
			}
			dp, _ := params(d)
			if dp.scale != qp.scale || dp.zp != qp.zp || m.inDT[j] != ydt {
				t, err = s.requantTable(d, q, m.inDT[j])
			}
			m.tables = append(m.tables, t)
			if err != nil {
				break
			}
		}
		if err != nil {
			continue
		}
		m.nodes = append(append(append(m.nodes, dqs...), n), q)
		matches[q] = m
		absorbed[n] = true
		reads[n] = true
	}

	// A single elementwise node from a DequantizeLinear to a graph
	// output: a float table (no QuantizeLinear ends it).
	for _, n := range nodes {
		op := n.GetOpType()
		if taken(n) || absorbed[n] || !std(n) || len(n.GetOutput()) != 1 || !isOut[n.GetOutput()[0]] || !(unaryTableOps[op] || binaryTableOps[op]) || attrInt(n, "legacy_axis", -1) >= 0 {
			continue
		}
		var d *pb.NodeProto
		var dt onnxio.DataType
		ok, rank := true, 0
		for j, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if t := constOf(in); t != nil {
				ok = ok && t.Type == onnxio.Float && t.Len() == 1
				rank = max(rank, len(t.Shape))
				continue
			}
			p := producer[in]
			pdt, isDQ := deq(p)
			if d != nil || !isDQ || (j > 0 && unaryTableOps[op]) {
				ok = false
				break
			}
			d, dt = p, pdt
		}
		if !ok || d == nil {
			continue
		}
		root := d.GetInput()[0]
		t, err := s.evalValue(n.GetOutput()[0], map[string]*Tensor{root: allBytes(dt)}, producer)
		if err != nil || t.Type != onnxio.Float || t.Len() != 256 {
			continue
		}
		matches[n] = &qopMatch{kind: qopFloatTable, op: op, out: n.GetOutput()[0], ins: []string{root}, inDT: []onnxio.DataType{dt},
			nodes: []*pb.NodeProto{d, n}, ydt: onnxio.Float, deq: t.F32, rank: rank, node: n}
		reads[n] = true
	}

	// A DequantizeLinear read only by matched nodes goes (its quantized
	// input is read directly).
	for _, n := range nodes {
		if n.GetOpType() != "DequantizeLinear" || absorbed[n] || isOut[n.GetOutput()[0]] {
			continue
		}
		all := len(consumers[n.GetOutput()[0]]) > 0
		for _, c := range consumers[n.GetOutput()[0]] {
			all = all && (reads[c] || (qdq[c] != nil && qdq[c].xdq == n))
		}
		if all {
			absorbed[n] = true
		}
	}
	return matches
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func attrString(n *pb.NodeProto, name, def string) string {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return string(a.GetS())
		}
	}
	return def
}

// islandNodes lists the nodes computing v from its roots: group members,
// and the DequantizeLinear and inner QuantizeLinear nodes between them,
// in dependency order.
func (s *Session) islandNodes(v string, elem map[*pb.NodeProto]bool, producer map[string]*pb.NodeProto, inner func(*pb.NodeProto) bool, seen map[*pb.NodeProto]bool) []*pb.NodeProto {
	if seen == nil {
		seen = map[*pb.NodeProto]bool{}
	}
	p := producer[v]
	if p == nil || seen[p] {
		return nil
	}
	var out []*pb.NodeProto
	switch {
	case elem[p]:
		for _, in := range p.GetInput() {
			if in != "" {
				out = append(out, s.islandNodes(in, elem, producer, inner, seen)...)
			}
		}
	case p.GetOpType() == "DequantizeLinear":
		q := producer[p.GetInput()[0]]
		if q != nil && q.GetOpType() == "QuantizeLinear" && inner(q) {
			out = append(out, s.islandNodes(q.GetInput()[0], elem, producer, inner, seen)...)
			if !seen[q] {
				out = append(out, q)
				seen[q] = true
			}
		}
	default:
		return nil
	}
	seen[p] = true
	return append(out, p)
}

// allBytes is the tensor of the 256 values of an 8-bit type, in the
// order of their bytes.
func allBytes(dt onnxio.DataType) *Tensor {
	t := newTensor(dt, []int{256})
	b := qbytes(t)
	for i := range b {
		b[i] = byte(i)
	}
	return t
}

// evalValue computes value v of the graph with the float kernels, from
// the given values (the quantized roots) and constants.
func (s *Session) evalValue(v string, vals map[string]*Tensor, producer map[string]*pb.NodeProto) (*Tensor, error) {
	if t := vals[v]; t != nil {
		return t, nil
	}
	if id, ok := s.ids[v]; ok && s.consts[id] != nil {
		return s.consts[id], nil
	}
	p := producer[v]
	if p == nil {
		return nil, fmt.Errorf("value %q is not computed from the roots", v)
	}
	ins := make([]*Tensor, len(p.GetInput()))
	for j, in := range p.GetInput() {
		if in == "" {
			continue
		}
		t, err := s.evalValue(in, vals, producer)
		if err != nil {
			return nil, err
		}
		ins[j] = t
	}
	k, err := builders[p.GetOpType()](&nodeCtx{s: s, n: p})
	if err != nil {
		return nil, err
	}
	outs, err := evalStep(&runCtx{threads: 1, maxBytes: s.opts.MaxTensorBytes}, &step{k: k, outs: []int{0}}, ins)
	if err != nil {
		return nil, err
	}
	vals[v] = outs[0]
	return outs[0], nil
}

// groupTable is the table of QuantizeLinear q computed from the
// quantized roots m.ins: the graph's nodes run on every value of the
// root (256 entries), or every pair of values (entry a<<8|b for the
// bytes a and b of the first and second root).
func (s *Session) groupTable(q *pb.NodeProto, m *qopMatch, producer map[string]*pb.NodeProto) (*Tensor, error) {
	n := 1 << (8 * len(m.ins))
	seeds := map[string]*Tensor{}
	for j, r := range m.ins {
		dt := m.inDT[j]
		if !isQ8(dt) {
			return nil, fmt.Errorf("root %q of unknown type", r)
		}
		t := newTensor(dt, []int{n})
		b := qbytes(t)
		shift := 8 * (len(m.ins) - 1 - j)
		for i := range b {
			b[i] = byte(i >> shift)
		}
		seeds[r] = t
	}
	t, err := s.evalValue(q.GetOutput()[0], seeds, producer)
	if err != nil {
		return nil, err
	}
	if !isQ8(t.Type) || t.Len() != n {
		return nil, fmt.Errorf("table of %d %s values", t.Len(), onnxio.DataTypeName(t.Type))
	}
	return t, nil
}

// dequantTable is DequantizeLinear d on every value of type dt.
func (s *Session) dequantTable(d *pb.NodeProto, dt onnxio.DataType) ([]float32, error) {
	producer := map[string]*pb.NodeProto{d.GetOutput()[0]: d}
	t, err := s.evalValue(d.GetOutput()[0], map[string]*Tensor{d.GetInput()[0]: allBytes(dt)}, producer)
	if err != nil {
		return nil, err
	}
	if t.Type != onnxio.Float || t.Len() != 256 {
		return nil, fmt.Errorf("dequantization table of %d %s values", t.Len(), onnxio.DataTypeName(t.Type))
	}
	return t.F32, nil
}

// requantTable is QuantizeLinear q of DequantizeLinear d on every value
// of type dt (the float path of a Concat or Resize input).
func (s *Session) requantTable(d, q *pb.NodeProto, dt onnxio.DataType) ([]byte, error) {
	f, err := s.dequantTable(d, dt)
	if err != nil {
		return nil, err
	}
	x := NewFloat32([]int{256}, f)
	producer := map[string]*pb.NodeProto{q.GetOutput()[0]: q}
	t, err := s.evalValue(q.GetOutput()[0], map[string]*Tensor{q.GetInput()[0]: x}, producer)
	if err != nil {
		return nil, err
	}
	if !isQ8(t.Type) || t.Len() != 256 {
		return nil, fmt.Errorf("table of %d %s values", t.Len(), onnxio.DataTypeName(t.Type))
	}
	return qbytes(t), nil
}

// qopStep makes the step of a match.
func (s *Session) qopStep(m *qopMatch, label string) (*step, error) {
	var k kernel
	switch m.kind {
	case qopTable:
		k = &qtableK{t: m.tables[0], inDT: m.inDT[0], outDT: m.ydt, rank: m.rank}
	case qopBinary:
		qb := &qbinaryK{t: m.bin, inDT: [2]onnxio.DataType(m.inDT), outDT: m.ydt, nhwc: m.outNHWC, rank: m.rank}
		qb.arith, qb.swap = s.qopArith(m)
		k = qb
	case qopGAP, qopAvgPool:
		qk, err := builders["QuantizeLinear"](&nodeCtx{s: s, n: m.q})
		if err != nil {
			return nil, err
		}
		pk, err := builders[m.node.GetOpType()](&nodeCtx{s: s, n: m.node})
		if err != nil {
			return nil, err
		}
		var params []*Tensor
		for _, in := range m.q.GetInput()[1:] {
			params = append(params, s.consts[s.id(in)])
		}
		pool := &qpoolK{deq: m.deq, inDT: m.inDT[0], pool: pk, q: qk, params: params, gap: m.kind == qopGAP, inNHWC: m.inNHWC[0]}
		pool.vecDeq = pool.dequantizes(m.deqP.scale, int32(m.deqP.zp))
		k = pool
	case qopResize:
		c := &nodeCtx{s: s, n: m.node}
		rk, err := builders["Resize"](c)
		if err != nil {
			return nil, err
		}
		var params []*Tensor
		for j := range m.node.GetInput()[1:] {
			params = append(params, c.constInput(j+1))
		}
		k = &qresizeK{float: rk, params: params, t: m.tables[0], inDT: m.inDT[0], outDT: m.ydt, nhwc: m.outNHWC, axes: c.attr("axes") != nil}
	case qopFloatTable:
		k = &qftableK{t: m.deq, inDT: m.inDT[0], rank: m.rank}
	case qopConcat:
		k = &qconcatK{axis: attrInt(m.node, "axis", 0), tables: m.tables, inDT: m.inDT, outDT: m.ydt, nhwc: m.outNHWC}
	}
	for j, in := range m.inNHWC {
		if m.kind != qopGAP && in != m.outNHWC {
			return nil, fmt.Errorf("internal error: input %d of %s channels last %v, its output %v", j, m.op, in, m.outNHWC)
		}
	}
	st := &step{label: label, op: m.op + "+int8", k: k, precision: "int8", outs: []int{s.id(m.out)}}
	for _, in := range m.ins {
		st.ins = append(st.ins, s.id(in))
	}
	for _, n := range m.nodes {
		st.nodes = append(st.nodes, nodeName(n))
	}
	return st, nil
}

// checkQ8 checks that in has the type its tables were made for.
func checkQ8(what string, in *Tensor, dt onnxio.DataType) error {
	if in.Type != dt {
		return fmt.Errorf("integer %s of %s, compiled for %s", what, onnxio.DataTypeName(in.Type), onnxio.DataTypeName(dt))
	}
	return nil
}

// qtableK is a table of 8-bit values: out = t[in].
type qtableK struct {
	t           []byte
	inDT, outDT onnxio.DataType
	rank        int // the output's least rank
}

func (k *qtableK) infer(in []*Tensor) ([]spec, error) {
	if err := checkQ8("table", in[0], k.inDT); err != nil {
		return nil, err
	}
	sh, err := bcastShape(in[0].Shape, ones(k.rank))
	if err != nil {
		return nil, err
	}
	return []spec{{k.outDT, sh}}, nil
}

// ones is the shape of rank r of one element.
func ones(r int) []int {
	s := make([]int, r)
	for i := range s {
		s[i] = 1
	}
	return s
}

func (k *qtableK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := qbytes(in[0]), qbytes(out[0])
	t := (*[256]byte)(k.t)
	if rc.threads <= 1 || len(x) < 1<<16 {
		kernels.Lookup8(o, x, t) // (no closure to allocate)
		return nil
	}
	parallelFor(rc.threads, len(x), 1<<15, func(lo, hi int) {
		kernels.Lookup8(o[lo:hi], x[lo:hi], t)
	})
	return nil
}

// qftableK is a table of 8-bit values to float32: out = t[in], in the
// logical order.
type qftableK struct {
	t    []float32
	inDT onnxio.DataType
	rank int // the output's least rank
}

func (k *qftableK) infer(in []*Tensor) ([]spec, error) {
	if err := checkQ8("table", in[0], k.inDT); err != nil {
		return nil, err
	}
	sh, err := bcastShape(in[0].Shape, ones(k.rank))
	if err != nil {
		return nil, err
	}
	return []spec{{onnxio.Float, sh}}, nil
}

func (k *qftableK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := qbytes(in[0]), out[0].F32
	t := (*[256]float32)(k.t)
	parallelFor(rc.threads, len(x), 1<<14, func(lo, hi int) {
		d := o[lo:hi]
		for i, v := range x[lo:hi] {
			d[i] = t[v]
		}
	})
	return nil
}

// qbinaryK is a binary operator of two 8-bit values, broadcast:
// out = t[a<<8 | b]. With nhwc, the inputs and the output are channels
// last.
type qbinaryK struct {
	t     []byte
	inDT  [2]onnxio.DataType
	outDT onnxio.DataType
	nhwc  bool
	rank  int // the output's least rank
	// arith, when the group is one Add, Sub or Mul of the two
	// dequantized inputs, computes the table's entries instead of
	// looking them up (kernels.QArithBytes; swap: the operator's first
	// operand is input 1).
	arith *kernels.QArith
	swap  bool
	// byB is t transposed, entry b<<8 | a, made on first need: its row
	// b is the table of a for a fixed b.
	byBOnce sync.Once
	byB     []byte
}

func (k *qbinaryK) infer(in []*Tensor) ([]spec, error) {
	for j := range 2 {
		if err := checkQ8("binary operator", in[j], k.inDT[j]); err != nil {
			return nil, err
		}
	}
	sh, err := bcastShape(in[0].Shape, in[1].Shape, ones(k.rank))
	if err != nil {
		return nil, err
	}
	return []spec{{k.outDT, sh}}, nil
}

func (k *qbinaryK) run(rc *runCtx, in, out []*Tensor) error {
	a, b, o := in[0], in[1], out[0]
	if k.common(rc, a, b, o) {
		return nil
	}
	if k.nhwc {
		r := len(o.Shape)
		if len(a.Shape) != r || len(b.Shape) != r {
			// Broadcast across ranks: in the logical order.
			lo := newTensor(o.Type, o.Shape)
			k.apply(rc, channelsFirst(a), channelsFirst(b), lo)
			toChannelsLast(o, lo)
			return nil
		}
		a, b, o = a.view(chLast(a.Shape)), b.view(chLast(b.Shape)), o.view(chLast(o.Shape))
	}
	k.apply(rc, a, b, o)
	return nil
}

// common computes the shapes of most calls without the broadcasting
// machinery (and its allocations, a visible share of a small model's run):
// equal shapes, and in channels-last layout a per-channel row ([N,C,1,1])
// against a whole tensor (the squeeze-excitation gate). It reports false,
// doing nothing, for other shapes.
func (k *qbinaryK) common(rc *runCtx, a, b, o *Tensor) bool {
	ad, bd, od := qbytes(a), qbytes(b), qbytes(o)
	if slices.Equal(a.Shape, o.Shape) && slices.Equal(b.Shape, o.Shape) {
		if rc.threads <= 1 {
			k.pair(od, ad, bd)
			return true
		}
		parallelFor(rc.threads, len(od), 1<<15, func(lo, hi int) { k.pair(od[lo:hi], ad[lo:hi], bd[lo:hi]) })
		return true
	}
	sh := o.Shape
	if !k.nhwc || len(sh) != 4 {
		return false
	}
	first := slices.Equal(b.Shape, sh) // a is the row
	gate, other := a, b
	if !first {
		if !slices.Equal(a.Shape, sh) {
			return false
		}
		gate, other = b, a
	}
	if gs := gate.Shape; len(gs) != 4 || gs[0] != sh[0] || gs[1] != sh[1] || gs[2] != 1 || gs[3] != 1 {
		return false
	}
	n, c, p := sh[0], sh[1], sh[2]*sh[3]
	xd, gd := qbytes(other), qbytes(gate)
	for i := 0; i < n; i++ {
		x, d, row := xd[i*p*c:(i+1)*p*c], od[i*p*c:(i+1)*p*c], gd[i*c:(i+1)*c]
		if rc.threads <= 1 {
			k.pairRepeated(d, x, row, p, c, first)
			continue
		}
		parallelFor(rc.threads, p, max(1, (1<<15)/c), func(lo, hi int) {
			k.pairRepeated(d[lo*c:hi*c], x[lo*c:hi*c], row, hi-lo, c, first)
		})
	}
	return true
}

// pairRepeated computes the rows×c outputs d from other (rows×c) and row
// (c values, the same for every row; the operator's first input when
// first): row is laid out about 4 KB at a time, by doubling copies, so
// that one pair call covers many rows.
func (k *qbinaryK) pairRepeated(d, other, row []byte, rows, c int, first bool) {
	per := max(1, min(rows, 4096/c))
	bp, buf := scratchBytes(per * c)
	defer byteScratch.Put(bp)
	copy(buf, row)
	for n := c; n < len(buf); n *= 2 {
		copy(buf[n:], buf[:n])
	}
	for r0 := 0; r0 < rows; r0 += per {
		lo, hi := r0*c, min(rows, r0+per)*c
		if first {
			k.pair(d[lo:hi], buf[:hi-lo], other[lo:hi])
		} else {
			k.pair(d[lo:hi], other[lo:hi], buf[:hi-lo])
		}
	}
}

// pair computes len(d) outputs from as many values of each input: the
// arithmetic where it applies and the CPU has it, else the table.
func (k *qbinaryK) pair(d, a, b []byte) {
	switch {
	case k.arith == nil || !kernels.QArithFast():
		kernels.Lookup8x2(d, a, b, (*[1 << 16]byte)(k.t))
	case k.swap:
		kernels.QArithBytes(d, b, a, k.arith)
	default:
		kernels.QArithBytes(d, a, b, k.arith)
	}
}

// qopArith returns the arithmetic of a two-input group that is one Add,
// Sub or Mul of its two per-tensor dequantized inputs (and whether the
// operator's first operand is the group's second input), or nil.
func (s *Session) qopArith(m *qopMatch) (*kernels.QArith, bool) {
	var op *pb.NodeProto
	dq := map[string]*pb.NodeProto{} // by output
	for _, n := range m.nodes[:len(m.nodes)-1] {
		switch n.GetOpType() {
		case "DequantizeLinear":
			dq[n.GetOutput()[0]] = n
		case "Add", "Sub", "Mul":
			if op != nil {
				return nil, false
			}
			op = n
		default:
			return nil, false
		}
	}
	if op == nil || len(op.GetInput()) != 2 || len(dq) > 2 {
		return nil, false
	}
	param := func(n *pb.NodeProto) (scale float32, zp int32, dt onnxio.DataType, ok bool) {
		in := n.GetInput()
		if n == nil || len(in) < 3 || in[2] == "" || attrInt(n, "block_size", 0) != 0 {
			return 0, 0, 0, false
		}
		sc, z := s.constOf(in[1]), s.constOf(in[2])
		if sc == nil || z == nil || sc.Type != onnxio.Float || sc.Len() != 1 || z.Len() != 1 || !isQ8(z.Type) {
			return 0, 0, 0, false
		}
		return sc.F32[0], int32(z.at(0)), z.Type, true
	}
	a, b := dq[op.GetInput()[0]], dq[op.GetInput()[1]]
	if a == nil || b == nil {
		return nil, false
	}
	sa, za, da, ok1 := param(a)
	sb, zb, db, ok2 := param(b)
	so, zo, do, ok3 := param(m.q)
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	swap := false
	switch {
	case a.GetInput()[0] == m.ins[0] && b.GetInput()[0] == m.ins[1]:
	case a.GetInput()[0] == m.ins[1] && b.GetInput()[0] == m.ins[0]:
		swap = true
	default:
		return nil, false
	}
	return &kernels.QArith{Op: map[string]byte{"Add": '+', "Sub": '-', "Mul": '*'}[op.GetOpType()],
		SignedA: da == onnxio.Int8, SignedB: db == onnxio.Int8, SignedOut: do == onnxio.Int8,
		ScaleA: sa, ZeroA: za, ScaleB: sb, ZeroB: zb, ScaleOut: so, ZeroOut: zo}, swap
}

// apply computes o from a and b, each in the order of its shape.
func (k *qbinaryK) apply(rc *runCtx, at, bt, ot *Tensor) {
	a, b, o := qbytes(at), qbytes(bt), qbytes(ot)
	t := (*[1 << 16]byte)(k.t)
	if k.applyRepeated(rc, a, b, o, ot.Shape, [][]int{at.Shape, bt.Shape}) {
		return
	}
	bcastRowsPar(rc.threads, ot.Shape, [][]int{at.Shape, bt.Shape}, func(oo int, off []int, n int, inc []int) {
		d := o[oo : oo+n]
		switch {
		case inc[0] == 1 && inc[1] == 1:
			k.pair(d, a[off[0]:off[0]+n], b[off[1]:off[1]+n])
		case inc[0] == 1 && inc[1] == 0:
			// b fixed: a row of the transposed table.
			kernels.Lookup8(d, a[off[0]:off[0]+n], (*[256]byte)(k.tableByB()[int(b[off[1]])<<8:]))
		case inc[0] == 0 && inc[1] == 1:
			// a fixed: one row of the table.
			kernels.Lookup8(d, b[off[1]:off[1]+n], (*[256]byte)(t[int(a[off[0]])<<8:]))
		default:
			for i := range d {
				d[i] = t[uint16(a[off[0]+i*inc[0]])<<8|uint16(b[off[1]+i*inc[1]])]
			}
		}
	})
}

// applyRepeated computes o when one operand's row of C values repeats
// down blocks of rows that the other operand fills (the channels-last
// squeeze-excitation gate a[N,H,W,C]·b[N,1,1,C]), for rows shorter than
// 1024: the repeated row is laid out many times in a buffer so that one
// Lookup8x2 call covers about 4 KB instead of one row. It reports false,
// doing nothing, for other shapes.
func (k *qbinaryK) applyRepeated(rc *runCtx, a, b, o []byte, oshape []int, ishapes [][]int) bool {
	shape, st := bcastPrep(oshape, ishapes)
	r := len(shape)
	if r < 2 || shape[r-1] >= 1024 {
		return false
	}
	c, p := shape[r-1], shape[r-2]
	rep := -1 // the operand whose row repeats
	for j := range 2 {
		if st[j][r-1] == 1 && st[j][r-2] == 0 && st[1-j][r-1] == 1 && st[1-j][r-2] == c {
			rep = j
		}
	}
	if rep < 0 {
		return false
	}
	rows := max(1, 4096/c)
	chunks := (p + rows - 1) / rows
	// Blocks of p rows: the merged shape without its last dimension.
	bshape := append(append([]int{}, shape[:r-2]...), p)
	bst := [][]int{append(append([]int{}, st[0][:r-2]...), st[0][r-2]), append(append([]int{}, st[1][:r-2]...), st[1][r-2])}
	src := [2][]byte{a, b}
	parallelFor(rc.threads, numel(shape[:r-2])*chunks, 1, func(lo, hi int) {
		for task := lo; task < hi; task++ {
			blk, ch := task/chunks, task%chunks
			bcastWalk(bshape, bst, blk, blk+1, func(oo int, off []int, _ int, _ []int) {
				p0, p1 := ch*rows, min(p, (ch+1)*rows)
				n := (p1 - p0) * c
				other := src[1-rep][off[1-rep]+p0*c : off[1-rep]+p0*c+n]
				k.pairRepeated(o[(oo+p0)*c:(oo+p0)*c+n], other, src[rep][off[rep]:off[rep]+c], p1-p0, c, rep == 0)
			})
		}
	})
	return true
}

// tableByB returns k.byB, making it on first use.
func (k *qbinaryK) tableByB() []byte {
	k.byBOnce.Do(func() {
		k.byB = make([]byte, 1<<16)
		for a := range 256 {
			for b := range 256 {
				k.byB[b<<8|a] = k.t[a<<8|b]
			}
		}
	})
	return k.byB
}

// chLast is the channels-last order N×S...×C of a logical N×C×S...
// shape (the same for fewer than three dimensions).
func chLast[T any](s []T) []T {
	if len(s) < 3 {
		return s
	}
	o := append([]T{s[0]}, s[2:]...)
	return append(o, s[1])
}

// channelsFirst returns channels-last 8-bit t in its logical order.
func channelsFirst(t *Tensor) *Tensor {
	if len(t.Shape) < 3 {
		return t
	}
	o := newTensor(t.Type, t.Shape)
	n, c := t.Shape[0], t.Shape[1]
	sp := numel(t.Shape[2:])
	src, dst := qbytes(t), qbytes(o)
	for i := 0; i < n; i++ {
		transposeInto(dst[i*c*sp:], sp, src[i*c*sp:(i+1)*c*sp], sp, c)
	}
	return o
}

// toChannelsLast writes 8-bit src (logical order) into dst channels
// last.
func toChannelsLast(dst, src *Tensor) {
	if len(src.Shape) < 3 {
		copy(qbytes(dst), qbytes(src))
		return
	}
	n, c := src.Shape[0], src.Shape[1]
	sp := numel(src.Shape[2:])
	s, d := qbytes(src), qbytes(dst)
	for i := 0; i < n; i++ {
		transposeInto(d[i*c*sp:], c, s[i*c*sp:(i+1)*c*sp], c, sp)
	}
}

// qpoolK is GlobalAveragePool or AveragePool of 8-bit values, quantized:
// the dequantized values (a table) averaged by the float kernel, then
// QuantizeLinear q, as the float path computes them.
type qpoolK struct {
	deq    []float32
	inDT   onnxio.DataType
	pool   kernel
	q      kernel
	params []*Tensor // q's scale and zero point
	// gap: GlobalAveragePool, whose input may be channels last (inNHWC);
	// its output, N×C×1×…, is the same bytes in both orders.
	gap, inNHWC bool
	// vecDeq: kernels.Dequantize with scale and zp gives deq (then the
	// channels-last sums dequantize and add whole rows in vectors).
	vecDeq bool
	scale  float32
	zp     int32
}

// dequantizes sets the parameters of the vector dequantization and
// reports whether it gives k.deq bit for bit.
func (k *qpoolK) dequantizes(scale float32, zp int32) bool {
	k.scale, k.zp = scale, zp
	lo, hi := int32(0), int32(255)
	if k.inDT == onnxio.Int8 {
		lo, hi = -128, 127
	}
	if k.inDT != onnxio.Int8 && k.inDT != onnxio.Uint8 || len(k.deq) != 256 || zp < lo || zp > hi {
		return false
	}
	all := allBytes(k.inDT)
	f := make([]float32, 256)
	k.dequant(f, all, 0)
	for i, v := range f {
		if math.Float32bits(v) != math.Float32bits(k.deq[i]) {
			return false
		}
	}
	return true
}

// dequant writes the dequantized values of x's elements from off on
// into dst.
func (k *qpoolK) dequant(dst []float32, x *Tensor, off int) {
	if k.inDT == onnxio.Int8 {
		kernels.DequantizeInt8(dst, x.I8[off:off+len(dst)], k.scale, k.zp)
	} else {
		kernels.DequantizeUint8(dst, x.U8[off:off+len(dst)], k.scale, k.zp)
	}
}

func (k *qpoolK) infer(in []*Tensor) ([]spec, error) {
	if err := checkQ8("average pooling", in[0], k.inDT); err != nil {
		return nil, err
	}
	sp, err := k.pool.infer([]*Tensor{{Type: onnxio.Float, Shape: in[0].Shape}})
	if err != nil {
		return nil, err
	}
	return k.q.infer(append([]*Tensor{{Type: onnxio.Float, Shape: sp[0].shape}}, k.params...))
}

func (k *qpoolK) run(rc *runCtx, in, out []*Tensor) error {
	x := qbytes(in[0])
	avg := newTensor(onnxio.Float, out[0].Shape)
	if k.gap && k.inNHWC && len(in[0].Shape) >= 3 {
		// Each channel summed in the float kernel's order, pixel by
		// pixel, and divided by the count as it does.
		c, sp := in[0].Shape[1], numel(in[0].Shape[2:])
		deq := (*[256]float32)(k.deq)
		for n := 0; n < in[0].Shape[0]; n++ {
			acc := avg.F32[n*c : (n+1)*c]
			clear(acc)
			if k.vecDeq {
				kernels.SumDequantized(acc, x[n*sp*c:(n+1)*sp*c], sp, k.inDT == onnxio.Int8, k.scale, k.zp)
			} else {
				for p := 0; p < sp; p++ {
					row := x[(n*sp+p)*c : (n*sp+p+1)*c]
					acc := acc[:len(row)]
					for ch, v := range row {
						acc[ch] += deq[v]
					}
				}
			}
			for ch := range acc {
				acc[ch] /= float32(sp)
			}
		}
	} else {
		f := newTensor(onnxio.Float, in[0].Shape)
		for i, v := range x {
			f.F32[i] = k.deq[v]
		}
		if err := k.pool.run(rc, []*Tensor{f}, []*Tensor{avg}); err != nil {
			return err
		}
	}
	return k.q.run(rc, append([]*Tensor{avg}, k.params...), out)
}

// qresizeK is nearest Resize of 8-bit values: the float kernel gathers
// the values (exact in float32), then table t requantizes them (nil when
// the parameters are equal).
type qresizeK struct {
	float       kernel
	params      []*Tensor // roi, scales, sizes (constants or nil)
	t           []byte
	inDT, outDT onnxio.DataType
	// nhwc: the input and output are channels last; axes: the node has
	// an axes attribute (then the resize runs in the logical order).
	nhwc, axes bool
	mu         sync.Mutex
	maps       map[string]*gatherMap // by input shape
}

// gatherMap is what nearest Resize does to one input shape: output
// block j (of b elements) is input block idx[j].
type gatherMap struct {
	b   int
	idx []int32
}

func (k *qresizeK) infer(in []*Tensor) ([]spec, error) {
	if err := checkQ8("Resize", in[0], k.inDT); err != nil {
		return nil, err
	}
	sp, err := k.float.infer(append([]*Tensor{{Type: onnxio.Float, Shape: in[0].Shape}}, k.params...))
	if err != nil {
		return nil, err
	}
	return []spec{{k.outDT, sp[0].shape}}, nil
}

func (k *qresizeK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	params := k.params
	if k.nhwc && len(x.Shape) >= 3 {
		if k.axes {
			lo := newTensor(o.Type, o.Shape)
			if err := k.gather(rc, channelsFirst(x), lo, params); err != nil {
				return err
			}
			toChannelsLast(o, lo)
			k.requant(o)
			return nil
		}
		// The same gathers along each axis, on the channels-last order.
		r := len(x.Shape)
		params = make([]*Tensor, len(k.params))
		for j, p := range k.params {
			switch {
			case p == nil || p.Len() == 0:
				params[j] = p
			case p.Len() == 2*r: // roi: starts, then ends
				v := p.floats()
				params[j] = NewFloat32([]int{2 * r}, append(chLast(v[:r]), chLast(v[r:])...))
			case p.Type == onnxio.Int64:
				params[j] = NewInt64([]int{r}, chLast(p.I64))
			default:
				params[j] = NewFloat32([]int{r}, chLast(p.floats()))
			}
		}
		x, o = x.view(chLast(x.Shape)), o.view(chLast(o.Shape))
	}
	if err := k.gather(rc, x, o, params); err != nil {
		return err
	}
	k.requant(o)
	return nil
}

// gather resizes x into o: a byte gather whose indices the float kernel
// gives (run once per input shape on the elements' indices, which it
// moves as it would move their values).
func (k *qresizeK) gather(rc *runCtx, x, o *Tensor, params []*Tensor) error {
	key := fmt.Sprint(x.Shape)
	k.mu.Lock()
	g := k.maps[key]
	k.mu.Unlock()
	if g == nil {
		if x.Len() > 1<<24 {
			// Indices past float32's exact integers: the values
			// themselves go through the float kernel.
			return k.gatherValues(rc, x, o, params)
		}
		f := newTensor(onnxio.Float, x.Shape)
		for i := range f.F32 {
			f.F32[i] = float32(i)
		}
		r := newTensor(onnxio.Float, o.Shape)
		if err := k.float.run(rc, append([]*Tensor{f}, params...), []*Tensor{r}); err != nil {
			return err
		}
		// Blocks: the trailing dimensions that are copied whole.
		b := 1
		for d := len(x.Shape) - 1; d >= 0 && x.Shape[d] == o.Shape[d]; d-- {
			if nb := b * x.Shape[d]; contiguousBlocks(r.F32, nb) {
				b = nb
			} else {
				break
			}
		}
		g = &gatherMap{b: b, idx: make([]int32, len(r.F32)/max(b, 1))}
		for j := range g.idx {
			g.idx[j] = int32(r.F32[j*b]) / int32(b)
		}
		k.mu.Lock()
		if len(k.maps) >= 8 {
			clear(k.maps) // input shapes keep changing: bounded
		}
		if k.maps == nil {
			k.maps = map[string]*gatherMap{}
		}
		k.maps[key] = g
		k.mu.Unlock()
	}
	xb, ob := qbytes(x), qbytes(o)
	if g.b == 1 {
		for j, i := range g.idx {
			ob[j] = xb[i]
		}
		return nil
	}
	b := g.b
	for j, i := range g.idx {
		copy(ob[j*b:(j+1)*b], xb[int(i)*b:(int(i)+1)*b])
	}
	return nil
}

// gatherValues resizes x into o with the float kernel on the values
// (exact: nearest Resize only moves them).
func (k *qresizeK) gatherValues(rc *runCtx, x, o *Tensor, params []*Tensor) error {
	f := newTensor(onnxio.Float, x.Shape)
	for i, v := range qbytes(x) {
		f.F32[i] = float32(v)
	}
	g := newTensor(onnxio.Float, o.Shape)
	if err := k.float.run(rc, append([]*Tensor{f}, params...), []*Tensor{g}); err != nil {
		return err
	}
	ob := qbytes(o)
	for i, v := range g.F32 {
		ob[i] = byte(v)
	}
	return nil
}

// contiguousBlocks tells whether the element indices idx come in aligned
// runs of b consecutive values.
func contiguousBlocks(idx []float32, b int) bool {
	if len(idx)%b != 0 {
		return false
	}
	for j := 0; j < len(idx); j += b {
		s := int(idx[j])
		if s%b != 0 {
			return false
		}
		for i := 1; i < b; i++ {
			if int(idx[j+i]) != s+i {
				return false
			}
		}
	}
	return true
}

// requant applies the requantization table, if any, to o's bytes.
func (k *qresizeK) requant(o *Tensor) {
	if k.t == nil {
		return
	}
	b := qbytes(o)
	kernels.Lookup8(b, b, (*[256]byte)(k.t))
}

// qconcatK is Concat of 8-bit values, each requantized by its table
// (copied when nil).
type qconcatK struct {
	axis   int64
	tables [][]byte
	inDT   []onnxio.DataType
	outDT  onnxio.DataType
	nhwc   bool // inputs and output channels last
}

func (k *qconcatK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != len(k.inDT) {
		return nil, fmt.Errorf("Concat of %d inputs, compiled for %d", len(in), len(k.inDT))
	}
	for j, t := range in {
		if err := checkQ8("Concat", t, k.inDT[j]); err != nil {
			return nil, err
		}
	}
	r := len(in[0].Shape)
	ax, err := normAxis(k.axis, r)
	if err != nil {
		return nil, err
	}
	os := append([]int{}, in[0].Shape...)
	os[ax] = 0
	for _, t := range in {
		if len(t.Shape) != r {
			return nil, fmt.Errorf("Concat of ranks %d and %d", r, len(t.Shape))
		}
		for d := range r {
			if d != ax && t.Shape[d] != os[d] {
				return nil, fmt.Errorf("Concat of shapes %v and %v on axis %d", in[0].Shape, t.Shape, ax)
			}
		}
		os[ax] += t.Shape[ax]
	}
	return []spec{{k.outDT, os}}, nil
}

func (k *qconcatK) run(rc *runCtx, in, out []*Tensor) error {
	r := len(in[0].Shape)
	ax, _ := normAxis(k.axis, r)
	oshape := out[0].Shape
	if k.nhwc && r >= 3 {
		// The same concatenation on the channels-last order.
		switch {
		case ax == 1:
			ax = r - 1
		case ax > 1:
			ax--
		}
		oshape = chLast(oshape)
		views := make([]*Tensor, len(in))
		for j, t := range in {
			views[j] = t.view(chLast(t.Shape))
		}
		in = views
	}
	o := qbytes(out[0])
	outer := numel(oshape[:ax])
	row := numel(oshape[ax:])
	at := 0
	for j, t := range in {
		x := qbytes(t)
		blk := numel(t.Shape[ax:])
		for p := 0; p < outer; p++ {
			d, src := o[p*row+at:p*row+at+blk], x[p*blk:(p+1)*blk]
			if k.tables[j] == nil {
				copy(d, src)
				continue
			}
			kernels.Lookup8(d, src, (*[256]byte)(k.tables[j]))
		}
		at += blk
	}
	return nil
}

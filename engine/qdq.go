package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// QDQ models in the integer domain.
//
// A quantized model in the QDQ format (ONNX Runtime's quantizer, qtool's
// rewriter) computes every Conv, Gemm and MatMul on dequantized values:
//
//	x_q -> DequantizeLinear -> Conv(W = DequantizeLinear(W_q), bias) [-> Relu | Clip] [-> QuantizeLinear] -> y_q
//
// Compile recognises the pattern and runs it as one integer step: x_q
// (uint8 or int8, per-tensor scale and zero point) goes straight to the
// INT8 GEMM with W_q (int8 or uint8 constant, per tensor or per output
// channel), the bias quantized to int32 with scale sx·sw, and the output
// requantized in the kernel's output stage with the float factor
// sx·sw/sy (round half to even, saturated), as QLinearConv and ONNX
// Runtime do; a Relu or Clip between the convolution and the
// QuantizeLinear becomes a clamp in the quantized domain (exact:
// quantization is monotonic). Without a QuantizeLinear after it, the
// step writes float32: float32(acc)·sx·sw + bias. The DequantizeLinear
// of x is dropped when the pattern was its only reader.
//
// Also run on quantized values directly: DequantizeLinear -> MaxPool ->
// QuantizeLinear with the same scale and zero point (max commutes with a
// monotonic map, so the pooled bytes are the answer; fused into the Conv
// before it when that is its only input), Relu and Clip (a clamp of the
// bytes), and Flatten, Reshape, Squeeze and Unsqueeze (views of the
// bytes).
//
// The operators between the convolutions (elementwise groups as byte
// tables, binary operators of two quantized tensors, GlobalAveragePool,
// Concat, nearest Resize) run on the quantized values too: see
// qdq_ops.go.
//
// Quantized values passed only between integer steps that take it
// (Conv, MaxPool and those of qdq_ops.go) are kept in N×H×W×C order
// (their Tensor still says N×C×H×W), so neither side transposes them;
// RunObserved shows them in that order.
//
// The same patterns with 4-bit or 16-bit types run on the INT4 and INT16
// kernels (qlowbit.go). Anything else (other operators, per-channel
// activations) runs as before: simulated quantization in float.
// Session.Precisions tells which nodes run in integer, and in which
// precision.

// qdqMatch is one recognised pattern around node n.
type qdqMatch struct {
	n     *pb.NodeProto
	xdq   *pb.NodeProto // the DequantizeLinear of x
	x     string        // the quantized input
	za    int32
	sx    float32
	w     *Tensor   // quantized weights: Conv [M][Cg][kh][kw], Gemm/MatMul N×K after transposition
	sw    []float32 // 1 or M
	zw    []int32   // nil, 1 or M
	fbias []float32 // float bias, or nil
	ibias []int32   // int32 bias already at scale sx·sw, or nil
	alpha float32   // Gemm alpha
	out   string
	outQ  bool // requantized output
	ydt   onnxio.DataType
	sy    float32
	zy    int32
	clamp bool
	lo    float32 // Relu/Clip bounds in float (when clamp)
	hi    float32
	nodes []*pb.NodeProto // absorbed after n (activation, QuantizeLinear)
	pool  bool            // MaxPool on quantized values
	// reshape: a shape-only operator (Flatten, Reshape, Squeeze,
	// Unsqueeze) on quantized values.
	reshape bool
	// clampOnly: a Relu or Clip on quantized values.
	clampOnly bool
	// inNHWC, outNHWC: x (the output) is passed between two integer
	// steps in N×H×W×C order.
	inNHWC, outNHWC bool
	poolAfter       *qdqMatch // a MaxPool fused into this Conv
	// xdt is x's quantized type; prec the precision of a Conv, Gemm or
	// MatMul: "" for int8 × int8, else "w4a8", "w4a4" or "int16"
	// (qlowbit.go).
	xdt  onnxio.DataType
	prec string
	w8   bool // 4-bit weights widened to 8 bits: run by the int8 step
	// wblock, wbaxis and wscale: W's block_size, blocked axis and
	// scales, for blocked 4-bit weights.
	wblock, wbaxis int
	wscale         *Tensor
}

// producers maps each output of nodes to its node.
func producers(nodes []*pb.NodeProto) map[string]*pb.NodeProto {
	p := map[string]*pb.NodeProto{}
	for _, n := range nodes {
		for _, o := range n.GetOutput() {
			p[o] = n
		}
	}
	return p
}

// constOf is the constant named name, or nil.
func (s *Session) constOf(name string) *Tensor {
	if id, ok := s.ids[name]; ok {
		return s.consts[id]
	}
	return nil
}

// matchQDQ finds the patterns in nodes (topologically sorted).
func (s *Session) matchQDQ(nodes []*pb.NodeProto, consumers map[string][]*pb.NodeProto, isOut map[string]bool) map[*pb.NodeProto]*qdqMatch {
	producer := producers(nodes)
	constOf := s.constOf
	std := func(n *pb.NodeProto) bool { d := n.GetDomain(); return d == "" || d == "ai.onnx" }
	// dq returns the DequantizeLinear producing v, its input, scales and
	// zero points (constants), or nil.
	type dqInfo struct {
		n     *pb.NodeProto
		in    string
		scale []float32
		zp    *Tensor
		axis  int64
		block int64
		sc    *Tensor
	}
	dqOf := func(v string) *dqInfo {
		p := producer[v]
		if p == nil || p.GetOpType() != "DequantizeLinear" || !std(p) {
			return nil
		}
		in := p.GetInput()
		sc := constOf(in[1])
		if sc == nil || sc.Type != onnxio.Float {
			return nil
		}
		d := &dqInfo{n: p, in: in[0], scale: sc.F32, axis: attrInt(p, "axis", 1), block: attrInt(p, "block_size", 0), sc: sc}
		if len(in) > 2 && in[2] != "" {
			if d.zp = constOf(in[2]); d.zp == nil {
				return nil
			}
		}
		for _, v := range sc.F32 {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return nil
			}
		}
		return d
	}
	single := func(v string) *pb.NodeProto {
		if isOut[v] || len(consumers[v]) != 1 || !std(consumers[v][0]) {
			return nil
		}
		return consumers[v][0]
	}
	// quantizeAfter matches [Relu | Clip] -> QuantizeLinear after v.
	quantizeAfter := func(m *qdqMatch, v string) {
		c := single(v)
		var act *pb.NodeProto
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if c != nil && (c.GetOpType() == "Relu" || c.GetOpType() == "Clip") {
			in := c.GetInput()
			ok := true
			if c.GetOpType() == "Relu" {
				lo = 0
			} else {
				for j, p := range []*float32{&lo, &hi} {
					if len(in) > j+1 && in[j+1] != "" {
						t := constOf(in[j+1])
						if t == nil || t.Type != onnxio.Float || t.Len() != 1 {
							ok = false
						} else {
							*p = t.F32[0]
						}
					}
				}
			}
			if !ok {
				return
			}
			act = c
			c = single(c.GetOutput()[0])
		}
		if c == nil || c.GetOpType() != "QuantizeLinear" || attrInt(c, "block_size", 0) != 0 {
			return
		}
		in := c.GetInput()
		sc := constOf(in[1])
		if sc == nil || sc.Type != onnxio.Float || sc.Len() != 1 || !(sc.F32[0] > 0) || math.IsInf(float64(sc.F32[0]), 0) {
			return
		}
		ydt := onnxio.DataType(onnxio.Uint8)
		if odt := attrInt(c, "output_dtype", 0); odt != 0 {
			ydt = onnxio.DataType(odt)
		}
		var zy int32
		if len(in) > 2 && in[2] != "" {
			z := constOf(in[2])
			if z == nil || z.Len() != 1 {
				return
			}
			ydt, zy = z.Type, int32(z.at(0))
		}
		if !lowbitOutType(m.prec, ydt) {
			return
		}
		m.outQ, m.ydt, m.sy, m.zy = true, ydt, sc.F32[0], zy
		if act != nil {
			m.clamp, m.lo, m.hi = true, lo, hi
			m.nodes = append(m.nodes, act)
		}
		m.nodes = append(m.nodes, c)
		m.out = c.GetOutput()[0]
	}
	matches := map[*pb.NodeProto]*qdqMatch{}
	for _, n := range nodes {
		op := n.GetOpType()
		if !std(n) || len(n.GetOutput()) != 1 {
			continue
		}
		in := n.GetInput()
		if len(in) == 0 {
			continue
		}
		x := dqOf(in[0])
		if x == nil || constOf(x.in) != nil || len(x.scale) != 1 || x.block != 0 {
			continue
		}
		za, ok := scalarZP(x.zp)
		xdt := onnxio.DataType(onnxio.Uint8)
		if x.zp != nil {
			xdt = x.zp.Type
		}
		if !ok || !(isQ8(xdt) || xdt == onnxio.Int4 || xdt == onnxio.Uint4 || xdt == onnxio.Int16) {
			continue
		}
		m := &qdqMatch{n: n, xdq: x.n, x: x.in, za: za, sx: x.scale[0], out: n.GetOutput()[0], alpha: 1, xdt: xdt}
		switch op {
		case "MaxPool":
			if len(n.GetOutput()) != 1 || attrInt(n, "storage_order", 0) != 0 {
				continue
			}
			quantizeAfter(m, m.out)
			if !m.outQ || m.clamp || m.sy != m.sx || m.zy != za || (x.zp != nil && x.zp.Type != m.ydt) || (x.zp == nil && m.ydt != onnxio.Uint8) {
				continue
			}
			m.pool = true
			matches[n] = m
			continue
		case "Relu", "Clip":
			// A clamp of the quantized values (exact: quantization is
			// monotonic), between equal quantization parameters.
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			ok := true
			if op == "Relu" {
				lo = 0
			} else {
				for j, p := range []*float32{&lo, &hi} {
					if len(in) > j+1 && in[j+1] != "" {
						t := constOf(in[j+1])
						if t == nil || t.Type != onnxio.Float || t.Len() != 1 {
							ok = false
						} else {
							*p = t.F32[0]
						}
					}
				}
			}
			if !ok {
				continue
			}
			quantizeAfter(m, m.out)
			if !m.outQ || m.clamp || m.sy != m.sx || m.zy != za || (x.zp != nil && x.zp.Type != m.ydt) || (x.zp == nil && m.ydt != onnxio.Uint8) {
				continue
			}
			m.clampOnly, m.clamp, m.lo, m.hi, m.sw = true, true, lo, hi, []float32{1}
			matches[n] = m
			continue
		case "Flatten", "Reshape", "Squeeze", "Unsqueeze":
			// Shape-only operators between equal quantization
			// parameters: the quantized values pass as they are.
			quantizeAfter(m, m.out)
			if !m.outQ || m.clamp || m.sy != m.sx || m.zy != za || (x.zp != nil && x.zp.Type != m.ydt) || (x.zp == nil && m.ydt != onnxio.Uint8) {
				continue
			}
			m.reshape = true
			matches[n] = m
			continue
		case "Conv", "ConvTranspose", "Gemm", "MatMul":
		default:
			continue
		}
		if len(in) < 2 {
			continue
		}
		w := dqOf(in[1])
		if w == nil {
			continue
		}
		wq := constOf(w.in)
		if wq == nil {
			continue
		}
		if m.prec = lowbitPrec(xdt, wq.Type); m.prec == "-" || (w.block != 0 && m.prec != "w4a8" && m.prec != "w4a4") {
			continue
		}
		// Output channels and the axis they lie on in W's storage.
		var nOut, chAxis int
		switch op {
		case "Conv":
			if len(wq.Shape) != 3 && len(wq.Shape) != 4 {
				continue
			}
			nOut, chAxis = wq.Shape[0], 0
			m.w = wq
		case "ConvTranspose":
			// 2-D with 8-bit types only (qconvtranspose.go); W is
			// [C][M/g][kh][kw], its per-channel parameters M/g values
			// shared by the groups.
			grp := int(attrInt(n, "group", 1))
			if m.prec != "" || len(wq.Shape) != 4 || grp < 1 || wq.Shape[0]%grp != 0 {
				continue
			}
			nOut, chAxis = wq.Shape[1]*grp, 1
			m.w = wq
		case "Gemm":
			if len(wq.Shape) != 2 || attrInt(n, "transA", 0) != 0 {
				continue
			}
			m.alpha = attrF(n, "alpha", 1)
			if attrInt(n, "transB", 0) != 0 {
				nOut, chAxis = wq.Shape[0], 0
				m.w = wq
			} else {
				nOut, chAxis = wq.Shape[1], 1
				m.w = transposeQ(wq)
			}
		case "MatMul":
			if len(wq.Shape) != 2 {
				continue
			}
			nOut, chAxis = wq.Shape[1], 1
			m.w = transposeQ(wq)
		}
		if w.block != 0 {
			ax, err := normAxis(w.axis, len(wq.Shape))
			if err != nil || (w.zp != nil && anyNonZero(w.zp)) {
				continue
			}
			m.wblock, m.wbaxis, m.wscale = int(w.block), ax, w.sc
		} else if len(w.scale) != 1 {
			ax, err := normAxis(w.axis, len(wq.Shape))
			if err != nil || ax != chAxis || (len(w.scale) != nOut && len(w.scale) != wq.Shape[chAxis]) {
				continue
			}
		}
		m.sw = groupTile(w.scale, nOut)
		if w.zp != nil && w.block == 0 {
			if w.zp.Type != wq.Type || (w.zp.Len() != 1 && w.zp.Len() != nOut && w.zp.Len() != wq.Shape[chAxis]) {
				continue
			}
			m.zw = groupTile(zeroPoints(w.zp), nOut)
		}
		// Bias: Conv input 2, Gemm C (1-D of N, or scalar), MatMul none here.
		if len(in) > 2 && in[2] != "" {
			if op == "Gemm" && attrF(n, "beta", 1) != 1 {
				continue
			}
			if b := constOf(in[2]); b != nil {
				if b.Type != onnxio.Float || (b.Len() != nOut && b.Len() != 1) || (len(b.Shape) > 0 && b.Len() == nOut && b.Shape[len(b.Shape)-1] != nOut) {
					continue
				}
				m.fbias = expand(b.F32, nOut)
			} else if bd := dqOf(in[2]); bd != nil && constOf(bd.in) != nil && constOf(bd.in).Type == onnxio.Int32 {
				bq := constOf(bd.in)
				if bq.Len() != nOut || (bd.zp != nil && anyNonZero(bd.zp)) || (len(bd.scale) != 1 && len(bd.scale) != nOut) {
					continue
				}
				// At scale sx·sw up to float rounding (as ONNX Runtime's
				// quantizer writes it, and as its fused kernels then use
				// the integers as they are): use the integers; otherwise
				// requantize the float bias.
				exact := m.alpha == 1 && m.wblock == 0
				fb := make([]float32, nOut)
				for c := 0; c < nOut; c++ {
					bs := bd.scale[min(c, len(bd.scale)-1)]
					want := float64(m.sx) * float64(m.sw[min(c, len(m.sw)-1)])
					exact = exact && math.Abs(float64(bs)-want) <= 1e-6*want
					fb[c] = float32(bq.I32[c]) * bs
				}
				if exact {
					m.ibias = bq.I32
				} else {
					m.fbias = fb
				}
			} else {
				continue
			}
		}
		quantizeAfter(m, m.out)
		if m.prec != "" && !lowbitOK(m) {
			continue
		}
		matches[n] = m
	}
	return matches
}

func anyNonZero(t *Tensor) bool {
	for i := 0; i < t.Len(); i++ {
		if t.at(i) != 0 {
			return true
		}
	}
	return false
}

// expand returns v (one or n values) as n values.
func expand(v []float32, n int) []float32 {
	if len(v) == n {
		return v
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = v[0]
	}
	return out
}

// groupTile returns per-channel values v (one, or n/g for each of g
// groups, as ConvTranspose's weights hold them) as n values; one value
// stays one.
func groupTile[T any](v []T, n int) []T {
	if len(v) <= 1 || len(v) == n {
		return v
	}
	out := make([]T, n)
	for c := range out {
		out[c] = v[c%len(v)]
	}
	return out
}

// transposeQ transposes a 2-D quantized tensor.
func transposeQ(t *Tensor) *Tensor {
	r, c := t.Shape[0], t.Shape[1]
	o := newTensor(t.Type, []int{c, r})
	transposeRaw(rawBytes(o), 0, r, rawBytes(t), 0, r, c, elemBytes(t.Type))
	return o
}

// qdqStage builds the output stage of a matched Conv/Gemm/MatMul with
// n output channels.
func (m *qdqMatch) stage(n int) (*qout, error) {
	q := &qout{dt: onnxio.Float}
	sxw := make([]float32, n) // sx·sw[c], the accumulator's scale
	for c := range sxw {
		sxw[c] = m.sx * m.sw[min(c, len(m.sw)-1)]
	}
	if m.ibias != nil {
		q.bias = m.ibias
	} else if m.fbias != nil {
		if m.outQ {
			q.bias = make([]int32, n)
			for c, b := range m.fbias {
				v := math.RoundToEven(float64(b) / float64(sxw[c]*m.alpha))
				q.bias[c] = int32(max(-(1 << 31), min(1<<31-1, v)))
			}
		} else {
			q.fbias = m.fbias
		}
	}
	if !m.outQ {
		q.scale = sxw
		if m.alpha != 1 {
			for c := range q.scale {
				q.scale[c] *= m.alpha
			}
		}
		return q, nil
	}
	q.dt, q.zp = m.ydt, m.zy
	q.scale = make([]float32, n)
	for c := range q.scale {
		q.scale[c] = sxw[c] * m.alpha / m.sy
	}
	if m.clamp {
		qmin, qmax := int32(0), int32(255)
		if m.ydt == onnxio.Int8 {
			qmin, qmax = -128, 127
		}
		q.clamp, q.lo, q.hi = true, qmin, qmax
		if !math.IsInf(float64(m.lo), -1) {
			q.lo = int32(max(float64(qmin), min(float64(qmax), math.RoundToEven(float64(m.lo/m.sy))+float64(m.zy))))
		}
		if !math.IsInf(float64(m.hi), 1) {
			q.hi = int32(max(float64(qmin), min(float64(qmax), math.RoundToEven(float64(m.hi/m.sy))+float64(m.zy))))
		}
		if q.lo > q.hi {
			return nil, fmt.Errorf("empty clamp [%d, %d]", q.lo, q.hi)
		}
	}
	return q, nil
}

// absorbQDQ marks the nodes the matches replace: their activations and
// QuantizeLinear, and the DequantizeLinear of an input read only by
// matched nodes.
func (s *Session) absorbQDQ(qdq map[*pb.NodeProto]*qdqMatch, consumers map[string][]*pb.NodeProto, isOut map[string]bool, absorbed map[*pb.NodeProto]bool) {
	for _, m := range qdq {
		for _, n := range m.nodes {
			absorbed[n] = true
		}
		v := m.xdq.GetOutput()[0]
		all := !isOut[v]
		for _, c := range consumers[v] {
			all = all && qdq[c] != nil
		}
		if all {
			absorbed[m.xdq] = true
		}
	}
}

// layoutQDQ chooses N×H×W×C order (channels last) for quantized values
// passed only between integer steps that take it: Conv and MaxPool, and
// the operators between them (qopMatch: tables, binary operators,
// GlobalAveragePool, Resize, Concat). Elementwise steps read and write
// one order, so their inputs and output are decided together (a group);
// a group is channels-last when every value in it is written and read
// only by such steps, and a Conv or MaxPool writes or reads one of them
// (which is what saves transposes).
func layoutQDQ(qdq map[*pb.NodeProto]*qdqMatch, qops map[*pb.NodeProto]*qopMatch, consumers map[string][]*pb.NodeProto, isOut map[string]bool, absorbed map[*pb.NodeProto]bool) {
	spatial := func(m *qdqMatch) bool {
		if m.pool {
			ks, _ := (&nodeCtx{n: m.n}).attrInts("kernel_shape")
			return len(ks) <= 2
		}
		return m.n.GetOpType() == "Conv" || m.n.GetOpType() == "ConvTranspose"
	}
	parent := map[string]string{}
	var find func(v string) string
	find = func(v string) string {
		p, ok := parent[v]
		if !ok || p == v {
			parent[v] = v
			return v
		}
		r := find(p)
		parent[v] = r
		return r
	}
	union := func(a, b string) { parent[find(a)] = find(b) }
	// writes: the values an integer step writes, and whether channels
	// last; conv: the values a Conv or MaxPool writes or reads.
	writes, conv := map[string]bool{}, map[string]bool{}
	for _, m := range qdq {
		if m.outQ {
			writes[m.out] = spatial(m)
			conv[m.out] = conv[m.out] || spatial(m)
		}
		conv[m.x] = conv[m.x] || spatial(m)
	}
	logical := map[string]bool{}
	avgPool := map[*pb.NodeProto]bool{} // reads and writes the logical order (also float tables)
	for _, m := range qops {
		if m.kind == qopAvgPool {
			avgPool[m.node] = true
			writes[m.out] = false
			continue
		}
		if m.kind == qopFloatTable { // a float graph output
			avgPool[m.node] = true
			continue
		}
		writes[m.out] = true
		// A table's constant of rank 3 or more may add dimensions in
		// front: in the logical order only.
		logical[m.out] = m.rank > 2
		if m.kind != qopGAP { // its output, N×C×1×1, is the same bytes in both orders
			for _, in := range m.ins {
				union(in, m.out)
			}
		}
	}
	// readable: every reader of v is an integer step that takes channels
	// last (through DequantizeLinear nodes absorbed into them).
	readable := func(v string) bool {
		if isOut[v] || len(consumers[v]) == 0 {
			return false
		}
		for _, d := range consumers[v] {
			if !absorbed[d] || d.GetOpType() != "DequantizeLinear" {
				return false
			}
			for _, c := range consumers[d.GetOutput()[0]] {
				if mc := qdq[c]; mc != nil {
					if !spatial(mc) || mc.x != v {
						return false
					}
				} else if !absorbed[c] || avgPool[c] {
					return false
				}
			}
		}
		return true
	}
	ok, useful := map[string]bool{}, map[string]bool{}
	for v, w := range writes {
		r := find(v)
		if _, seen := ok[r]; !seen {
			ok[r] = true
		}
		ok[r] = ok[r] && w && !logical[v] && readable(v)
		useful[r] = useful[r] || conv[v]
	}
	for v := range parent {
		if _, w := writes[v]; !w {
			ok[find(v)] = false // written by a float step
		}
	}
	nhwc := func(v string) bool {
		if _, w := writes[v]; !w {
			return false
		}
		r := find(v)
		return ok[r] && useful[r]
	}
	for _, m := range qdq {
		m.inNHWC = spatial(m) && nhwc(m.x)
		m.outNHWC = m.outQ && spatial(m) && nhwc(m.out)
	}
	for _, m := range qops {
		m.inNHWC = make([]bool, len(m.ins))
		for j, in := range m.ins {
			m.inNHWC[j] = nhwc(in)
		}
		m.outNHWC = nhwc(m.out)
	}
}

// fusePoolQDQ fuses each integer MaxPool that is the only reader of an
// integer Conv's output into that Conv: each image is pooled while its
// convolution output is still in cache.
func fusePoolQDQ(qdq map[*pb.NodeProto]*qdqMatch, consumers map[string][]*pb.NodeProto, isOut map[string]bool, absorbed map[*pb.NodeProto]bool) {
	byOut := map[string]*qdqMatch{}
	for _, m := range qdq {
		if m.outQ && m.n.GetOpType() == "Conv" && len(m.w.Shape) == 4 && (m.prec == "" || m.w8) {
			byOut[m.out] = m
		}
	}
	for _, b := range qdq {
		if !b.pool {
			continue
		}
		ks, _ := (&nodeCtx{n: b.n}).attrInts("kernel_shape")
		a := byOut[b.x]
		if a == nil || a.poolAfter != nil || len(ks) != 2 || isOut[a.out] || len(consumers[a.out]) != 1 {
			continue
		}
		d := consumers[a.out][0]
		if d != b.xdq || !absorbed[d] || len(consumers[d.GetOutput()[0]]) != 1 {
			continue
		}
		a.poolAfter = b
		a.nodes = append(append(a.nodes, d, b.n), b.nodes...)
		a.out, a.outNHWC = b.out, b.outNHWC
		absorbed[b.n] = true
		delete(qdq, b.n)
		delete(byOut, b.x)
	}
}

// qdqStep makes the step of a match.
func (s *Session) qdqStep(c *nodeCtx, m *qdqMatch, label string) (*step, error) {
	k, err := s.buildQDQStep(c, m)
	if err != nil {
		return nil, err
	}
	prec := m.prec
	if prec == "" {
		prec = "int8"
	}
	st := &step{label: label, op: c.n.GetOpType() + "+" + prec, k: k, precision: prec, ins: []int{s.id(m.x)}, outs: []int{s.id(m.out)}}
	if m.reshape {
		for _, in := range c.n.GetInput()[1:] {
			if in == "" {
				st.ins = append(st.ins, -1)
			} else {
				st.ins = append(st.ins, s.id(in))
			}
		}
	}
	st.nodes = []string{nodeName(m.xdq), label}
	for _, n := range m.nodes {
		st.nodes = append(st.nodes, nodeName(n))
	}
	return st, nil
}

func nodeName(n *pb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return n.GetOpType() + "(" + n.GetOutput()[0] + ")"
}

// buildQDQStep makes the integer kernel of a match.
func (s *Session) buildQDQStep(c *nodeCtx, m *qdqMatch) (kernel, error) {
	if m.prec != "" && !m.w8 {
		return s.buildLowbitStep(c, m)
	}
	if m.reshape {
		return builders[c.n.GetOpType()](c)
	}
	if m.clampOnly {
		q, err := m.stage(1)
		if err != nil {
			return nil, err
		}
		return &qclampK{lo: q.lo, hi: q.hi}, nil
	}
	if m.pool {
		k, err := builders["MaxPool"](c)
		if err != nil {
			return nil, err
		}
		return &qdqPoolK{float: k, inNHWC: m.inNHWC, outNHWC: m.outNHWC}, nil
	}
	n := m.w.Shape[0] // Conv M, Gemm/MatMul N×K after transposition
	if c.n.GetOpType() == "ConvTranspose" {
		n = m.w.Shape[1] * int(c.attrInt("group", 1))
	}
	q, err := m.stage(n)
	if err != nil {
		return nil, err
	}
	if c.n.GetOpType() == "ConvTranspose" {
		g, err := readGeom(c)
		if err != nil {
			return nil, err
		}
		ct := convTK{g: g, group: int(c.attrInt("group", 1))}
		ct.outPad, _ = c.attrInts("output_padding")
		ct.outShape, _ = c.attrInts("output_shape")
		return newQConvT(ct, m.w, m.zw, m.za, q, m.inNHWC, m.outNHWC)
	}
	if c.n.GetOpType() == "Conv" {
		g, err := readGeom(c)
		if err != nil {
			return nil, err
		}
		k := &qdqConvK{qconv: qconv{g: g, group: int(c.attrInt("group", 1)), inNHWC: m.inNHWC, outNHWC: m.outNHWC}, wShape: m.w.Shape, za: m.za, q: q}
		if k.group < 1 || n%k.group != 0 {
			return nil, fmt.Errorf("group %d for %d channels", k.group, n)
		}
		k.packed = packConvWeights(m.w, m.zw, k.group)
		if m.poolAfter != nil {
			pk, err := builders["MaxPool"](&nodeCtx{s: s, n: m.poolAfter.n})
			if err != nil {
				return nil, err
			}
			k.post = &qpoolPost{pk: pk.(*poolK), outNHWC: m.outNHWC}
		}
		return k, nil
	}
	kk := m.w.Shape[1]
	return &qdqGemmK{packed: packQ(m.w.Type, n, kk, qbytes(m.w), kk, m.zw), za: m.za, q: q, gemm: c.n.GetOpType() == "Gemm"}, nil
}

// qdqConvK is a matched DequantizeLinear -> Conv [-> QuantizeLinear].
type qdqConvK struct {
	qconv
	wShape []int
	za     int32
	q      *qout
}

func (k *qdqConvK) infer(in []*Tensor) ([]spec, error) {
	if !isQ8(in[0].Type) {
		return nil, unsupported("integer Conv of %s", onnxio.DataTypeName(in[0].Type))
	}
	os, _, _, _, err := k.shape(in[0].Shape, k.wShape)
	if err != nil {
		return nil, err
	}
	if k.post != nil {
		if len(os) != 4 {
			return nil, fmt.Errorf("fused MaxPool of rank %d", len(os))
		}
		if os, err = k.post.shape(os); err != nil {
			return nil, err
		}
	}
	return []spec{{k.q.dt, os}}, nil
}

func (k *qdqConvK) run(rc *runCtx, in, out []*Tensor) error {
	return k.qconv.run(rc, in[0], k.za, k.wShape, k.packed, k.q, out[0])
}

// qdqGemmK is a matched DequantizeLinear -> Gemm or MatMul [->
// QuantizeLinear]: A's rows (the batch folded in for MatMul) times the
// constant weights.
type qdqGemmK struct {
	packed *kernels.QPackedWeights
	za     int32
	q      *qout
	gemm   bool
}

func (k *qdqGemmK) infer(in []*Tensor) ([]spec, error) {
	a := in[0]
	if !isQ8(a.Type) {
		return nil, unsupported("integer MatMul of %s", onnxio.DataTypeName(a.Type))
	}
	if len(a.Shape) < 1 || (k.gemm && len(a.Shape) != 2) || a.Shape[len(a.Shape)-1] != k.packed.K() {
		return nil, fmt.Errorf("A %v for %d×%d weights", a.Shape, k.packed.K(), k.packed.N())
	}
	os := append([]int{}, a.Shape[:len(a.Shape)-1]...)
	return []spec{{k.q.dt, append(os, k.packed.N())}}, nil
}

func (k *qdqGemmK) run(rc *runCtx, in, out []*Tensor) error {
	a := in[0]
	kk := k.packed.K()
	rows := 0
	if kk > 0 {
		rows = a.Len() / kk
	} else {
		rows = out[0].Len() / max(k.packed.N(), 1)
	}
	k.q.gemm(rc, rows, qbytes(a), kk, a.Type == onnxio.Int8, k.za, k.packed, 0, out[0], 0, 0)
	return nil
}

// qdqPoolK is MaxPool on quantized values (DequantizeLinear -> MaxPool
// -> QuantizeLinear with equal parameters): 2-D windows are pooled on the
// bytes directly, other forms by the generic pooling kernel, which takes
// uint8 and int8 too.
type qdqPoolK struct {
	float           kernel
	inNHWC, outNHWC bool
}

func (k *qdqPoolK) infer(in []*Tensor) ([]spec, error) {
	if !isQ8(in[0].Type) {
		return nil, unsupported("integer MaxPool of %s", onnxio.DataTypeName(in[0].Type))
	}
	sp, err := k.float.infer([]*Tensor{{Type: onnxio.Float, Shape: in[0].Shape}})
	if err != nil {
		return nil, err
	}
	return []spec{{in[0].Type, sp[0].shape}}, nil
}

func (k *qdqPoolK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	pk, ok := k.float.(*poolK)
	if !ok || len(x.Shape) != 4 || pk.g.wide || pk.indices {
		if k.inNHWC || k.outNHWC {
			return fmt.Errorf("internal error: NHWC layout for a generic MaxPool")
		}
		return k.float.run(rc, in, out)
	}
	n, c, h, w, _ := as4(x.Shape)
	g, oh, ow := pk.geometry(x.Shape)
	if k.inNHWC {
		dst := o
		if !k.outNHWC {
			dst = newTensor(o.Type, o.Shape)
		}
		if g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1 && g.pt == 0 && g.pl == 0 && 2*oh <= h && 2*ow <= w {
			if x.Type == onnxio.Int8 {
				maxPool2x2QNHWC(x.I8, dst.I8, n, c, h, w, oh, ow)
			} else {
				maxPool2x2QNHWC(x.U8, dst.U8, n, c, h, w, oh, ow)
			}
		} else if x.Type == onnxio.Int8 {
			maxPoolQNHWC(x.I8, dst.I8, n, c, h, w, g, oh, ow)
		} else {
			maxPoolQNHWC(x.U8, dst.U8, n, c, h, w, g, oh, ow)
		}
		if !k.outNHWC {
			for ni := 0; ni < n; ni++ {
				transposeInto(qbytes(o)[ni*c*oh*ow:], oh*ow, qbytes(dst)[ni*c*oh*ow:(ni+1)*c*oh*ow], oh*ow, c)
			}
		}
		return nil
	}
	dst := o
	if k.outNHWC {
		dst = newTensor(o.Type, o.Shape)
	}
	pool2 := g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1 && g.pt == 0 && g.pl == 0 && 2*oh <= h && 2*ow <= w
	switch {
	case pool2 && ow < 16 && c%32 == 0:
		// Short rows: channels-last and back (byte transposes) around the
		// vector pool beats the words along rows.
		bp, buf := scratchBytes(h*w*c + oh*ow*c)
		defer byteScratch.Put(bp)
		in, pooled := buf[:h*w*c], buf[h*w*c:]
		for ni := 0; ni < n; ni++ {
			transposeInto(in, c, qbytes(x)[ni*c*h*w:(ni+1)*c*h*w], c, h*w)
			kernels.MaxPool2x2Bytes(pooled, in, 1, h, w, c, x.Type == onnxio.Int8)
			transposeInto(qbytes(dst)[ni*c*oh*ow:], oh*ow, pooled, oh*ow, c)
		}
	case pool2 && x.Type == onnxio.Int8:
		maxPool2x2Q(x.I8, dst.I8, n*c, h, w, oh, ow)
	case pool2:
		maxPool2x2Q(x.U8, dst.U8, n*c, h, w, oh, ow)
	case x.Type == onnxio.Int8:
		maxPoolQ(x.I8, dst.I8, n*c, h, w, g, oh, ow)
	default:
		maxPoolQ(x.U8, dst.U8, n*c, h, w, g, oh, ow)
	}
	if k.outNHWC {
		for ni := 0; ni < n; ni++ {
			transposeInto(qbytes(o)[ni*c*oh*ow:], c, qbytes(dst)[ni*c*oh*ow:(ni+1)*c*oh*ow], c, oh*ow)
		}
	}
	return nil
}

// maxPool2x2QNHWC is maxPoolQNHWC for 2×2 windows of stride 2 without
// padding (kernels.MaxPool2x2Bytes).
func maxPool2x2QNHWC[T uint8 | int8](x, o []T, n, c, h, w, oh, ow int) {
	_, signed := any(x).([]int8)
	xb := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
	ob := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(o))), len(o))
	kernels.MaxPool2x2Bytes(ob, xb, n, h, w, c, signed)
}

// maxPoolQNHWC max-pools n NHWC images of c channels (padding taps are
// ignored, as MaxPool's -inf padding is).
func maxPoolQNHWC[T uint8 | int8](x, o []T, n, c, h, w int, g convGeom, oh, ow int) {
	for ni := 0; ni < n; ni++ {
		xi := x[ni*h*w*c : (ni+1)*h*w*c]
		oi := o[ni*oh*ow*c : (ni+1)*oh*ow*c]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				d := oi[(oy*ow+ox)*c : (oy*ow+ox+1)*c]
				first := true
				for ky := 0; ky < g.kh; ky++ {
					iy := oy*g.sh - g.pt + ky*g.dh
					if iy < 0 || iy >= h {
						continue
					}
					for kx := 0; kx < g.kw; kx++ {
						ix := ox*g.sw - g.pl + kx*g.dw
						if ix < 0 || ix >= w {
							continue
						}
						src := xi[(iy*w+ix)*c : (iy*w+ix+1)*c]
						if first {
							copy(d, src)
							first = false
							continue
						}
						for i, v := range src {
							d[i] = max(d[i], v)
						}
					}
				}
			}
		}
	}
}

// maxPool2x2Q is maxPoolQ for 2×2 windows of stride 2 without padding.
func maxPool2x2Q[T uint8 | int8](x, o []T, planes, h, w, oh, ow int) {
	var flip uint64
	if _, ok := any(x).([]int8); ok {
		flip = 0x8080808080808080
	}
	le := binary.LittleEndian
	xb := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
	ob := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(o))), len(o))
	for pl := 0; pl < planes; pl++ {
		xp := x[pl*h*w : (pl+1)*h*w]
		op := o[pl*oh*ow : (pl+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			r0 := xp[2*oy*w : 2*oy*w+2*ow]
			r1 := xp[(2*oy+1)*w : (2*oy+1)*w+2*ow]
			d := op[oy*ow : (oy+1)*ow]
			if ow < 4 {
				for ox := range d {
					d[ox] = max(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
				}
				continue
			}
			// Four outputs a step from 64-bit words: the two rows' bytes,
			// then each even byte against the odd one after it (in 16-bit
			// lanes), gathered into four bytes; the last step overlaps the
			// one before when ow is not a multiple of four.
			b0 := xb[pl*h*w+2*oy*w : pl*h*w+2*oy*w+2*ow]
			b1 := xb[pl*h*w+(2*oy+1)*w : pl*h*w+(2*oy+1)*w+2*ow]
			db := ob[pl*oh*ow+oy*ow : pl*oh*ow+(oy+1)*ow]
			for ox := 0; ox < ow; ox += 4 {
				ox = min(ox, ow-4)
				m := pairMax(kernels.MaxU8x8(le.Uint64(b0[2*ox:])^flip, le.Uint64(b1[2*ox:])^flip))
				le.PutUint32(db[ox:], uint32(m^flip))
			}
		}
	}
}

// pairMax returns, in its low four bytes, the larger (unsigned) of bytes
// 2i and 2i+1 of v for i < 4.
func pairMax(v uint64) uint64 {
	const even = 0x00FF00FF00FF00FF
	m := kernels.MaxU8x8(v&even, v>>8&even) // lane maxima in the low bytes
	m = (m | m>>8) & 0x0000FFFF0000FFFF
	return (m | m>>16) & 0xFFFFFFFF
}

// maxPoolQ max-pools planes of h×w values into oh×ow (padding taps are
// ignored, as MaxPool's -inf padding is).
func maxPoolQ[T uint8 | int8](x, o []T, planes, h, w int, g convGeom, oh, ow int) {
	for pl := 0; pl < planes; pl++ {
		xp := x[pl*h*w : (pl+1)*h*w]
		op := o[pl*oh*ow : (pl+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				first := true
				var m T
				for ky := 0; ky < g.kh; ky++ {
					iy := oy*g.sh - g.pt + ky*g.dh
					if iy < 0 || iy >= h {
						continue
					}
					xr := xp[iy*w : (iy+1)*w]
					for kx := 0; kx < g.kw; kx++ {
						ix := ox*g.sw - g.pl + kx*g.dw
						if ix < 0 || ix >= w {
							continue
						}
						if v := xr[ix]; first || v > m {
							m, first = v, false
						}
					}
				}
				op[oy*ow+ox] = m
			}
		}
	}
}

// qclampK is Relu or Clip on quantized values: a clamp to [lo, hi].
type qclampK struct{ lo, hi int32 }

func (k *qclampK) infer(in []*Tensor) ([]spec, error) {
	if !isQ8(in[0].Type) {
		return nil, unsupported("integer clamp of %s", onnxio.DataTypeName(in[0].Type))
	}
	return []spec{{in[0].Type, in[0].Shape}}, nil
}

func (k *qclampK) run(rc *runCtx, in, out []*Tensor) error {
	if in[0].Type == onnxio.Int8 {
		lo, hi := int8(k.lo), int8(k.hi)
		d := out[0].I8[:len(in[0].I8)]
		for i, v := range in[0].I8 {
			d[i] = min(max(v, lo), hi)
		}
		return nil
	}
	lo, hi := uint8(k.lo), uint8(k.hi)
	d := out[0].U8[:len(in[0].U8)]
	for i, v := range in[0].U8 {
		d[i] = min(max(v, lo), hi)
	}
	return nil
}

// integerOps are the operators whose kernels compute in integers.
var integerOps = map[string]bool{"QLinearConv": true, "ConvInteger": true, "QLinearMatMul": true, "MatMulInteger": true}

// NodePrecision says how one step of a compiled model runs.
type NodePrecision struct {
	// Node is the step's main node: its name, or its operator and index
	// when it has none.
	Node string
	// Op is the step's operator, with "+fused" when activations or
	// normalisations were folded into it, or "+" and the precision for a
	// QDQ pattern run in integer ("Conv+int8", "Conv+w4a8").
	Op string
	// Precision is what the step computes in: "int8" on the INT8 kernels
	// (QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger, and int8
	// QDQ patterns), "w4a8" or "w4a4" on the 4-bit-weight kernels,
	// "int16" on the 16-bit kernels, else "fp32".
	Precision string
	// Nodes lists the graph nodes the step stands for when it is more
	// than Node (a QDQ pattern: DequantizeLinear, Conv, Relu,
	// QuantizeLinear).
	Nodes []string
}

// Precisions lists the compiled steps in execution order with the
// precision each runs in (for `qtool inspect`). Nodes folded into
// constants at compile time are not listed.
func (s *Session) Precisions() []NodePrecision {
	out := make([]NodePrecision, 0, len(s.steps))
	for _, st := range s.steps {
		out = append(out, st.precisionInfo())
	}
	return out
}

// precisionInfo is how st runs, as Precisions and RunProfiled report it.
func (st *step) precisionInfo() NodePrecision {
	p := NodePrecision{Node: st.label, Op: st.op, Precision: "fp32", Nodes: st.nodes}
	if st.precision != "" {
		p.Precision = st.precision
	}
	return p
}

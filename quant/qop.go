package quant

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// ToQOperator rewrites, in place, the int8 groups of a QDQ model into
// ONNX's quantized operators (the "QOperator" format):
//
//	Q -> DQ -> Conv [-> Relu|Clip] -> Q   becomes  QLinearConv
//	Q -> DQ -> MatMul [-> Relu|Clip] -> Q becomes  QLinearMatMul
//
// with the weight (int8, per tensor or per output channel) and the int32
// bias taken as they are. A Relu or Clip between the operator and its
// QuantizeLinear is absorbed when the QuantizeLinear already saturates
// where it would (zero point at the bottom of the range for Relu, as
// calibration of a Relu output always gives). Groups that do not fit
// (4-bit or 16-bit types, blocked weights, a bias whose scale is not
// x_scale·w_scale, Gemm, which has no standard quantized operator) stay
// in QDQ form, which ONNX Runtime also runs. It returns how many nodes it
// converted.
func ToQOperator(m *onnxio.Model) (int, error) {
	g := m.Graph()
	inits := initializers(g)
	producer := map[string]*pb.NodeProto{}
	consumers := map[string][]*pb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
		for _, in := range n.GetInput() {
			consumers[in] = append(consumers[in], n)
		}
	}
	graphOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		graphOut[o.GetName()] = true
	}
	int8ish := func(name string) bool {
		t := inits[name]
		if t == nil {
			return false
		}
		dt := onnxio.DataType(t.GetDataType())
		return dt == onnxio.Int8 || dt == onnxio.Uint8
	}
	scalarInit := func(name string) bool {
		t := inits[name]
		if t == nil {
			return false
		}
		n, err := onnxio.NumElements(t.GetDims())
		return err == nil && n == 1
	}
	// dq returns the DequantizeLinear producing name, if it is a plain
	// (not blocked) int8/uint8 one with explicit zero point.
	dq := func(name string) *pb.NodeProto {
		d := producer[name]
		if d == nil || d.GetOpType() != "DequantizeLinear" || len(d.GetInput()) != 3 || attr(d, "block_size") != nil || !int8ish(d.GetInput()[2]) {
			return nil
		}
		return d
	}
	drop := map[*pb.NodeProto]bool{}
	replace := map[*pb.NodeProto]*pb.NodeProto{}
	count := 0
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		if n.GetDomain() != "" || (op != "Conv" && op != "MatMul") || len(n.GetInput()) < 2 {
			continue
		}
		dx, dw := dq(n.GetInput()[0]), dq(n.GetInput()[1])
		if dx == nil || dw == nil || !scalarInit(dx.GetInput()[1]) || inits[dw.GetInput()[0]] == nil {
			continue
		}
		if op == "MatMul" && (!scalarInit(dw.GetInput()[1]) && len(inits[dw.GetInput()[0]].GetDims()) != 2) {
			continue
		}
		var bq string
		var db *pb.NodeProto
		if op == "Conv" && len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			db = producer[n.GetInput()[2]]
			if db == nil || db.GetOpType() != "DequantizeLinear" || inits[db.GetInput()[0]] == nil ||
				onnxio.DataType(inits[db.GetInput()[0]].GetDataType()) != onnxio.Int32 {
				continue
			}
			if !biasScaleMatches(m, inits, dx.GetInput()[1], dw.GetInput()[1], db.GetInput()[1]) {
				continue
			}
			bq = db.GetInput()[0]
		}
		// The output chain: op [-> Relu|Clip] -> QuantizeLinear.
		t := n.GetOutput()[0]
		var act *pb.NodeProto
		if cs := consumers[t]; len(cs) == 1 && !graphOut[t] && (cs[0].GetOpType() == "Relu" || cs[0].GetOpType() == "Clip") {
			act = cs[0]
			t = act.GetOutput()[0]
		}
		cs := consumers[t]
		if len(cs) != 1 || graphOut[t] || cs[0].GetOpType() != "QuantizeLinear" || len(cs[0].GetInput()) != 3 {
			continue
		}
		q := cs[0]
		if !scalarInit(q.GetInput()[1]) || !int8ish(q.GetInput()[2]) {
			continue
		}
		if act != nil && !saturatesLike(m, inits, act, q) {
			continue
		}
		qop := &pb.NodeProto{Name: n.Name, Domain: n.Domain, Output: []string{q.GetOutput()[0]}}
		if op == "Conv" {
			qop.OpType = proto.String("QLinearConv")
			qop.Attribute = n.Attribute
		} else {
			qop.OpType = proto.String("QLinearMatMul")
		}
		qop.Input = []string{dx.GetInput()[0], dx.GetInput()[1], dx.GetInput()[2],
			dw.GetInput()[0], dw.GetInput()[1], dw.GetInput()[2], q.GetInput()[1], q.GetInput()[2]}
		if bq != "" {
			qop.Input = append(qop.Input, bq)
		}
		replace[n] = qop
		drop[q] = true
		if act != nil {
			drop[act] = true
		}
		count++
	}
	if count == 0 {
		return 0, nil
	}
	var out []*pb.NodeProto
	for _, n := range g.GetNode() {
		if drop[n] {
			continue
		}
		if r, ok := replace[n]; ok {
			n = r
		}
		out = append(out, n)
	}
	g.Node = out
	// DequantizeLinear nodes nothing reads any more go too.
	for {
		used := map[string]bool{}
		for _, n := range g.Node {
			for _, in := range n.GetInput() {
				used[in] = true
			}
		}
		for _, o := range g.GetOutput() {
			used[o.GetName()] = true
		}
		kept := g.Node[:0]
		removed := false
		for _, n := range g.Node {
			if n.GetOpType() == "DequantizeLinear" && !used[n.GetOutput()[0]] {
				removed = true
				continue
			}
			kept = append(kept, n)
		}
		g.Node = kept
		if !removed {
			break
		}
	}
	removeUnused(g)
	if m.Opset("") < 10 {
		return count, fmt.Errorf("quant: QOperator format needs opset 10")
	}
	return count, nil
}

// biasScaleMatches reports whether the bias scale is x_scale·w_scale
// (per channel), as QLinearConv requires.
func biasScaleMatches(m *onnxio.Model, inits map[string]*pb.TensorProto, xs, ws, bs string) bool {
	get := func(n string) []float32 {
		t := inits[n]
		if t == nil {
			return nil
		}
		v, err := onnxio.ToFloat32(m, t)
		if err != nil {
			return nil
		}
		return v
	}
	x, w, b := get(xs), get(ws), get(bs)
	if len(x) != 1 || len(w) == 0 || len(b) == 0 {
		return false
	}
	for i := range max(len(w), len(b)) {
		wi, bi := w[min(i, len(w)-1)], b[min(i, len(b)-1)]
		if x[0]*wi != bi {
			return false
		}
	}
	return true
}

// saturatesLike reports whether QuantizeLinear q alone gives the same
// result as act (Relu, or Clip with constant bounds) followed by q.
func saturatesLike(m *onnxio.Model, inits map[string]*pb.TensorProto, act, q *pb.NodeProto) bool {
	sc, err := onnxio.ToFloat32(m, inits[q.GetInput()[1]])
	if err != nil || len(sc) != 1 {
		return false
	}
	zt := inits[q.GetInput()[2]]
	zp, err := onnxio.ToFloat32(m, zt)
	if err != nil || len(zp) != 1 {
		return false
	}
	qmin, qmax := Limits(onnxio.DataType(zt.GetDataType()))
	lo, hi := 0.0, 0.0
	hasHi := false
	if act.GetOpType() == "Clip" {
		bound := func(k int) (float64, bool, bool) {
			if len(act.GetInput()) <= k || act.GetInput()[k] == "" {
				return 0, false, true
			}
			t := inits[act.GetInput()[k]]
			if t == nil {
				return 0, false, false
			}
			v, err := onnxio.ToFloat32(m, t)
			if err != nil || len(v) != 1 {
				return 0, false, false
			}
			return float64(v[0]), true, true
		}
		l, hasLo, ok1 := bound(1)
		h, hh, ok2 := bound(2)
		if !ok1 || !ok2 || !hasLo {
			return false
		}
		lo, hi, hasHi = l, h, hh
	}
	s, z := float64(sc[0]), float64(zp[0])
	if lo/s+z > float64(qmin)+0.49 {
		return false
	}
	return !hasHi || hi/s+z >= float64(qmax)-0.49
}

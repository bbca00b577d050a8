package quant

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// engineTypes are the quantized element types the engine's
// QuantizeLinear/DequantizeLinear handle.
func engineType(dt onnxio.DataType) bool {
	return dt == onnxio.Int8 || dt == onnxio.Uint8 || dt == onnxio.Int32
}

// roundMagic is 1.5·2^23: for |v| <= 2^22, (v + roundMagic) - roundMagic
// in float32 is v rounded half to even.
const roundMagic = 12582912

// Emulate returns a copy of a QDQ model that the engine can run when
// its quantized types are beyond the engine's int8/uint8
// QuantizeLinear/DequantizeLinear (int4, int16, blocked weights): each
// DequantizeLinear of such a constant becomes the float initializer it
// computes, and each such QuantizeLinear/DequantizeLinear pair on an
// activation becomes the same arithmetic in float ops: Div by the scale,
// Clip to [qmin - zp, qmax - zp], round half to even (adding and
// subtracting 1.5·2^23), Mul by the scale. Values are those ONNX Runtime
// computes for the QDQ model. int8 pairs are left for the engine.
func Emulate(m *onnxio.Model) (*onnxio.Model, error) {
	c := &onnxio.Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto), Dir: m.Dir}
	g := c.Graph()
	inits := initializers(g)
	namer := onnxio.NewNamer(g)
	producer := map[string]*pb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
	}
	drop := map[*pb.NodeProto]bool{}
	var nodes []*pb.NodeProto
	var added []*pb.TensorProto
	for _, n := range g.GetNode() {
		if n.GetOpType() != "DequantizeLinear" || n.GetDomain() != "" {
			nodes = append(nodes, n)
			continue
		}
		in := n.GetInput()
		x := inits[in[0]]
		if x != nil {
			if engineType(onnxio.DataType(x.GetDataType())) && attr(n, "block_size") == nil {
				nodes = append(nodes, n)
				continue
			}
			v, err := dequantizeConst(c, n, inits)
			if err != nil {
				return nil, err
			}
			t, err := onnxio.NewTensor(n.GetOutput()[0], onnxio.Float, x.GetDims(), v)
			if err != nil {
				return nil, err
			}
			added = append(added, t)
			continue
		}
		q := producer[in[0]]
		if q == nil || q.GetOpType() != "QuantizeLinear" || len(q.GetInput()) < 3 {
			nodes = append(nodes, n)
			continue
		}
		zpt := inits[q.GetInput()[2]]
		sct := inits[q.GetInput()[1]]
		if zpt == nil || sct == nil || engineType(onnxio.DataType(zpt.GetDataType())) {
			nodes = append(nodes, n)
			continue
		}
		zp, err := onnxio.ToFloat32(c, zpt)
		if err != nil || len(zp) != 1 {
			return nil, fmt.Errorf("quant: emulate %s: per-tensor zero point expected", q.GetName())
		}
		lo, hi := Limits(onnxio.DataType(zpt.GetDataType()))
		name := n.GetOutput()[0]
		mk := func(v float32) string {
			t, _ := onnxio.NewTensor(namer.Fresh(name+"_emul_c"), onnxio.Float, nil, []float32{v})
			added = append(added, t)
			return t.GetName()
		}
		t1, t2, t3, t4 := namer.Fresh(name+"_emul_div"), namer.Fresh(name+"_emul_clip"), namer.Fresh(name+"_emul_add"), namer.Fresh(name+"_emul_round")
		node := func(op string, ins []string, out string) *pb.NodeProto {
			return &pb.NodeProto{OpType: proto.String(op), Name: proto.String(namer.Fresh(out)), Input: ins, Output: []string{out}}
		}
		nodes = append(nodes,
			node("Div", []string{q.GetInput()[0], q.GetInput()[1]}, t1),
			node("Clip", []string{t1, mk(float32(lo) - zp[0]), mk(float32(hi) - zp[0])}, t2),
			node("Add", []string{t2, mk(roundMagic)}, t3),
			node("Sub", []string{t3, mk(roundMagic)}, t4),
			node("Mul", []string{t4, q.GetInput()[1]}, name))
		drop[q] = true
	}
	kept := nodes[:0]
	for _, n := range nodes {
		if !drop[n] {
			kept = append(kept, n)
		}
	}
	g.Node = kept
	g.Initializer = append(g.Initializer, added...)
	if c.Opset("") < 11 {
		return nil, fmt.Errorf("quant: emulate: opset %d is too old for Clip with inputs", c.Opset(""))
	}
	removeUnused(g)
	return c, nil
}

// dequantizeConst computes DequantizeLinear of constant inputs: per
// tensor, per axis or blocked.
func dequantizeConst(m *onnxio.Model, n *pb.NodeProto, inits map[string]*pb.TensorProto) ([]float32, error) {
	in := n.GetInput()
	xt, st := inits[in[0]], inits[in[1]]
	if st == nil {
		return nil, fmt.Errorf("quant: emulate %s: scale is not constant", n.GetName())
	}
	x, err := onnxio.ToFloat32(m, xt)
	if err != nil {
		return nil, err
	}
	sc, err := onnxio.ToFloat32(m, st)
	if err != nil {
		return nil, err
	}
	zp := make([]float32, len(sc))
	if len(in) > 2 && in[2] != "" {
		zt := inits[in[2]]
		if zt == nil {
			return nil, fmt.Errorf("quant: emulate %s: zero point is not constant", n.GetName())
		}
		if zp, err = onnxio.ToFloat32(m, zt); err != nil {
			return nil, err
		}
	}
	dims := xt.GetDims()
	axis := int64(1)
	if a := attr(n, "axis"); a != nil {
		axis = a.GetI()
	}
	if axis < 0 {
		axis += int64(len(dims))
	}
	block := int64(0)
	if a := attr(n, "block_size"); a != nil {
		block = a.GetI()
	}
	out := make([]float32, len(x))
	group := func(int) int { return 0 }
	if len(sc) > 1 {
		inner := int64(1)
		for _, d := range dims[axis+1:] {
			inner *= d
		}
		d := dims[axis]
		if block > 0 {
			nb := (d + block - 1) / block
			group = func(i int) int {
				o, r := int64(i)/(d*inner), int64(i)%(d*inner)
				k, j := r/inner, r%inner
				return int((o*nb+k/block)*inner + j)
			}
		} else {
			group = func(i int) int { return int(int64(i) / inner % d) }
		}
	}
	for i, v := range x {
		gi := group(i)
		out[i] = (v - zp[gi]) * sc[gi]
	}
	return out, nil
}

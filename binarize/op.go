package binarize

import (
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Domain is the operator set of qtool's binary operators (BinaryConv and
// BinaryGemm, version DomainVersion; the contract is in the README).
const (
	Domain        = "ai.qtool"
	DomainVersion = 1
)

// Output kinds of a binary operator (its "output" attribute).
const (
	outFloat = "float"
	outBits  = "bits"
)

// layer is one binary operator being built: the Conv or Gemm it
// replaces, its weight signs and its output stage. The output stage is
// kept in float64 until emit rounds it once.
type layer struct {
	node *pb.NodeProto // the Conv or Gemm, later rewritten in place
	gemm bool
	// m output channels; each reads cg input channels of group·cg in
	// kh×kw taps (Gemm: cg = K, group = kh = kw = 1).
	m, cg, group, kh, kw int
	// neg[(o·cg + c)·kh·kw + tap] is true where the weight is negative
	// (the value -1), in ONNX's Conv weight order; Gemm as [N, K].
	neg []bool
	// The source: a float tensor binarized at thr (per input channel,
	// nil for 0), or the bits of another binary layer.
	input string
	thr   []float64
	bits  bool
	// y = d·mult + bias, then clipped to [lo, hi] when clip is set.
	mult, bias []float64
	clip       bool
	lo, hi     float64
	// out is the output tensor; outBits makes it packed bits (y < 0).
	out, kind string
}

// words is the number of uint64 words n bits take.
func words(n int) int { return (n + 63) / 64 }

// emit writes l's node and initializers over l.node, in place, naming
// new initializers with namer.
func (l *layer) emit(g *pb.GraphProto, namer *onnxio.Namer) error {
	n := l.node
	base := n.GetName()
	if base == "" {
		base = l.out
	}
	wc := words(l.cg)
	taps := l.kh * l.kw
	packed := make([]uint64, l.m*taps*wc)
	for o := range l.m {
		for c := range l.cg {
			for t := range taps {
				if l.neg[(o*l.cg+c)*taps+t] {
					packed[(o*taps+t)*wc+c/64] |= 1 << (c % 64)
				}
			}
		}
	}
	wdims := []int64{int64(l.m), int64(l.kh), int64(l.kw), int64(wc)}
	op := "BinaryConv"
	inAttr := "in_channels"
	if l.gemm {
		wdims = []int64{int64(l.m), int64(wc)}
		op, inAttr = "BinaryGemm", "in_features"
	}
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
			if out[i] == 0 {
				out[i] = 0 // no -0 in stored parameters
			}
		}
		return out
	}
	type init struct {
		suffix string
		dt     onnxio.DataType
		dims   []int64
		u64    []uint64
		f      []float64
	}
	inits := []init{
		{"/weight_bits", onnxio.Uint64, wdims, packed, nil},
		{"/multiplier", onnxio.Float, []int64{int64(l.m)}, nil, l.mult},
		{"/bias", onnxio.Float, []int64{int64(l.m)}, nil, l.bias},
	}
	// An absent threshold input means all 0.
	if !l.bits && slices.ContainsFunc(l.thr, func(t float64) bool { return t != 0 }) {
		inits = append(inits, init{"/threshold", onnxio.Float, []int64{int64(len(l.thr))}, nil, l.thr})
	}
	inputs := []string{l.input}
	for _, it := range inits {
		name := namer.Fresh(base + it.suffix)
		var t *pb.TensorProto
		var err error
		if it.u64 != nil {
			t, err = onnxio.NewTensor(name, it.dt, it.dims, it.u64)
		} else {
			t, err = onnxio.NewTensor(name, it.dt, it.dims, f32(it.f))
		}
		if err != nil {
			return fmt.Errorf("binarize: %s: %w", base, err)
		}
		g.Initializer = append(g.Initializer, t)
		inputs = append(inputs, name)
	}
	attrs := []*pb.AttributeProto{intAttr(inAttr, int64(l.cg*l.group))}
	if !l.gemm {
		for _, a := range n.GetAttribute() {
			switch a.GetName() {
			case "strides", "pads", "dilations", "group", "kernel_shape":
				attrs = append(attrs, a)
			}
		}
		if attr(n, "kernel_shape") == nil {
			attrs = append(attrs, &pb.AttributeProto{Name: proto.String("kernel_shape"), Type: pb.AttributeProto_INTS.Enum(), Ints: []int64{int64(l.kh), int64(l.kw)}})
		}
		attrs = append(attrs, intAttr("pad_value", 0))
	}
	if l.kind != outFloat {
		attrs = append(attrs, &pb.AttributeProto{Name: proto.String("output"), Type: pb.AttributeProto_STRING.Enum(), S: []byte(l.kind)})
	}
	if l.clip {
		if !math.IsInf(l.lo, -1) {
			attrs = append(attrs, floatAttr("clip_min", float32(l.lo)))
		}
		if !math.IsInf(l.hi, 1) {
			attrs = append(attrs, floatAttr("clip_max", float32(l.hi)))
		}
	}
	n.OpType = proto.String(op)
	n.Domain = proto.String(Domain)
	n.Input = inputs
	n.Output = []string{l.out}
	n.Attribute = attrs
	if n.GetName() == "" {
		n.Name = proto.String(namer.Fresh(base))
	}
	return nil
}

func intAttr(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func floatAttr(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attr(n *pb.NodeProto, name string) *pb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attrInt(n *pb.NodeProto, name string, def int64) int64 {
	if a := attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

// prune removes the nodes whose outputs nothing reads (and are not graph
// outputs), repeatedly, then the initializers nothing reads.
func prune(g *pb.GraphProto) {
	graphOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		graphOut[o.GetName()] = true
	}
	for {
		read := map[string]bool{}
		for _, n := range g.GetNode() {
			for _, s := range n.GetInput() {
				read[s] = true
			}
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil || len(a.GetGraphs()) > 0 {
					return // subgraphs may read values by name: leave the graph be
				}
			}
		}
		kept := g.Node[:0]
		for _, n := range g.Node {
			live := false
			for _, o := range n.GetOutput() {
				live = live || read[o] || graphOut[o]
			}
			if live {
				kept = append(kept, n)
			}
		}
		removed := len(kept) < len(g.Node)
		g.Node = kept
		if removed {
			continue
		}
		inputs := map[string]bool{}
		for _, vi := range g.GetInput() {
			inputs[vi.GetName()] = true
		}
		ki := g.Initializer[:0]
		for _, t := range g.Initializer {
			if read[t.GetName()] || graphOut[t.GetName()] || inputs[t.GetName()] {
				ki = append(ki, t)
			}
		}
		g.Initializer = ki
		return
	}
}

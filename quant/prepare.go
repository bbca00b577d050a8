package quant

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Prepare readies a float model for quantization, in place: Constant
// nodes become initializers (so weights held in Constant nodes are
// quantized like any other), Identity nodes of initializers (PyTorch
// exports shared parameters so) are bypassed, every BatchNormalization
// and per-channel constant Mul/Add/Sub/Div that follows a Conv (the Conv
// output read by nothing else) is folded into that Conv's weight and
// bias (FoldAffine), and the opset is raised to at least opset (13 for
// per-channel, 21 for int4, int16 and blocked quantization; 0 leaves it).
// It returns how many nodes it folded.
func Prepare(m *onnxio.Model, opset int64) (int, error) {
	if _, err := m.ConstantsToInitializers(); err != nil {
		return 0, fmt.Errorf("quant: %w", err)
	}
	bypassConstIdentities(m.Graph())
	folded, err := FoldAffine(m)
	if err != nil {
		return folded, err
	}
	if opset > 0 && m.Opset("") < opset {
		if err := m.UpgradeOpset(opset); err != nil {
			return folded, fmt.Errorf("quant: %w", err)
		}
	}
	// Opset 21 needs IR version 10 (int4 types), 13 needs 7.
	ir := int64(7)
	if m.Opset("") >= 21 {
		ir = 10
	}
	if m.Proto.GetIrVersion() < ir {
		m.Proto.IrVersion = proto.Int64(ir)
	}
	return folded, nil
}

// initializers maps the names of g's initializers to them.
func initializers(g *pb.GraphProto) map[string]*pb.TensorProto {
	out := map[string]*pb.TensorProto{}
	for _, t := range g.GetInitializer() {
		out[t.GetName()] = t
	}
	return out
}

// FoldAffine folds, into the Conv or ConvTranspose before it, each
// per-output-channel affine map of its output read by nothing else, and whose
// parameters are initializers: an inference-mode BatchNormalization
// (scale γ/√(σ²+ε), shift β - μ·scale), and Mul, Add, Sub or Div by a
// constant of one value per channel or one for all (PaddleOCR's
// learnable affine blocks). w' = w·scale per output channel, b' =
// b·scale + shift. The Conv then writes the map's output and the node
// goes away, so the quantized model has no quantization step between
// them. Chains fold one node after another. New weight and bias
// initializers are added (the old ones may be shared); unused
// initializers are removed. It returns how many nodes it folded.
func FoldAffine(m *onnxio.Model) (int, error) {
	g := m.Graph()
	inits := initializers(g)
	namer := onnxio.NewNamer(g)
	graphOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		graphOut[o.GetName()] = true
	}
	folded := 0
	for {
		ix := onnxio.NewIndex(g)
		drop := map[int]bool{}
		for i, n := range g.GetNode() {
			if n.GetDomain() != "" || len(n.GetOutput()) != 1 {
				continue
			}
			x := ""
			for _, in := range n.GetInput() {
				if p, ok := ix.Producer[in]; ok && (g.GetNode()[p].GetOpType() == "Conv" || g.GetNode()[p].GetOpType() == "ConvTranspose") && !drop[p] {
					x = in
					break
				}
			}
			if x == "" || len(ix.Consumers[x]) != 1 || graphOut[x] {
				continue
			}
			conv := g.GetNode()[ix.Producer[x]]
			if conv.GetDomain() != "" || len(conv.GetOutput()) != 1 {
				continue
			}
			wt := inits[conv.GetInput()[1]]
			if wt == nil || len(wt.GetDims()) < 3 || wt.GetDims()[0] == 0 || wt.GetDims()[1] == 0 {
				continue
			}
			// The output channel of weight element i: Conv [M, C/g, ...]
			// its first index; ConvTranspose [C, M/g, ...] group·M/g
			// plus its second index.
			dims := wt.GetDims()
			mch := int(dims[0])
			inner := 1
			for _, d := range dims[2:] {
				inner *= int(d)
			}
			chOf := func(i int) int { return i / (inner * int(dims[1])) }
			if conv.GetOpType() == "ConvTranspose" {
				groups := 1
				if a := attr(conv, "group"); a != nil {
					groups = int(a.GetI())
				}
				if groups < 1 || dims[0]%int64(groups) != 0 || dims[1] == 0 {
					continue
				}
				mg, cg := int(dims[1]), int(dims[0])/groups
				mch = mg * groups
				chOf = func(i int) int { return i/(inner*mg*cg)*mg + i/inner%mg }
			}
			scale, shift, err := affineOf(m, n, x, mch, len(wt.GetDims()), inits)
			if err != nil {
				return folded, fmt.Errorf("quant: fold %s into %s: %w", n.GetName(), conv.GetName(), err)
			}
			if scale == nil {
				continue
			}
			w, err := onnxio.ToFloat32(m, wt)
			if err != nil {
				return folded, fmt.Errorf("quant: fold %s: %w", n.GetName(), err)
			}
			b := make([]float32, mch)
			if len(conv.GetInput()) > 2 && conv.GetInput()[2] != "" {
				bt := inits[conv.GetInput()[2]]
				if bt == nil {
					continue
				}
				if b, err = onnxio.ToFloat32(m, bt); err != nil || len(b) != mch {
					continue
				}
			}
			nw := make([]float32, len(w))
			nb := make([]float32, mch)
			for i, v := range w {
				nw[i] = float32(float64(v) * scale[chOf(i)])
			}
			for c := range mch {
				nb[c] = float32(float64(b[c])*scale[c] + shift[c])
			}
			suffix := "_fold"
			if n.GetOpType() == "BatchNormalization" {
				suffix = "_bnfold"
			}
			wn, bnm := namer.Fresh(wt.GetName()+suffix), namer.Fresh(conv.GetOutput()[0]+"_bias"+suffix)
			wNew, err := onnxio.NewTensor(wn, onnxio.Float, wt.GetDims(), nw)
			if err != nil {
				return folded, err
			}
			bNew, err := onnxio.NewTensor(bnm, onnxio.Float, []int64{int64(mch)}, nb)
			if err != nil {
				return folded, err
			}
			g.Initializer = append(g.Initializer, wNew, bNew)
			inits[wn], inits[bnm] = wNew, bNew
			conv.Input = []string{conv.GetInput()[0], wn, bnm}
			conv.Output = []string{n.GetOutput()[0]}
			drop[i] = true
		}
		if len(drop) == 0 {
			break
		}
		kept := g.Node[:0]
		for i, n := range g.Node {
			if !drop[i] {
				kept = append(kept, n)
			}
		}
		g.Node = kept
		folded += len(drop)
	}
	if folded > 0 {
		removeUnused(g)
	}
	return folded, nil
}

// affineOf returns n as y = x·scale[c] + shift[c] over the mch channels
// (axis 1) of x, a tensor of the given rank, or nil scale when n is no
// such map.
func affineOf(m *onnxio.Model, n *pb.NodeProto, x string, mch, rank int, inits map[string]*pb.TensorProto) (scale, shift []float64, err error) {
	in := n.GetInput()
	perChannel := func(name string) ([]float64, error) {
		t := inits[name]
		if t == nil || onnxio.DataType(t.GetDataType()) != onnxio.Float {
			return nil, nil
		}
		dims := t.GetDims()
		// Broadcast to [N, mch, 1, ...]: every dim 1 but the one on axis 1.
		if len(dims) > rank {
			return nil, nil
		}
		for k, d := range dims {
			if d != 1 && (k != len(dims)-(rank-1) || int(d) != mch) {
				return nil, nil
			}
		}
		v, err := onnxio.ToFloat32(m, t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, mch)
		for c := range out {
			out[c] = float64(v[min(c, len(v)-1)])
		}
		return out, nil
	}
	ones := func() []float64 {
		o := make([]float64, mch)
		for c := range o {
			o[c] = 1
		}
		return o
	}
	if len(n.GetAttribute()) > 0 && n.GetOpType() != "BatchNormalization" {
		return nil, nil, nil // opset-6 broadcast attributes
	}
	switch n.GetOpType() {
	case "BatchNormalization":
		if len(in) != 5 || in[0] != x {
			return nil, nil, nil
		}
		if a := attr(n, "training_mode"); a != nil && a.GetI() != 0 {
			return nil, nil, nil
		}
		var p [4][]float32
		for k := range 4 {
			t := inits[in[k+1]]
			if t == nil {
				return nil, nil, nil
			}
			if p[k], err = onnxio.ToFloat32(m, t); err != nil {
				return nil, nil, err
			}
			if len(p[k]) != mch {
				return nil, nil, nil
			}
		}
		eps := 1e-5
		if a := attr(n, "epsilon"); a != nil {
			eps = float64(a.GetF())
		}
		scale, shift = make([]float64, mch), make([]float64, mch)
		for c := range mch {
			scale[c] = float64(p[0][c]) / math.Sqrt(float64(p[3][c])+eps)
			shift[c] = float64(p[1][c]) - float64(p[2][c])*scale[c]
		}
		return scale, shift, nil
	case "Mul", "Add", "Sub", "Div":
		if len(in) != 2 {
			return nil, nil, nil
		}
		other, first := in[1], true
		if in[1] == x {
			other, first = in[0], false
		}
		if in[0] != x && in[1] != x {
			return nil, nil, nil
		}
		v, err := perChannel(other)
		if v == nil || err != nil {
			return nil, nil, err
		}
		switch n.GetOpType() {
		case "Mul":
			return v, make([]float64, mch), nil
		case "Add":
			return ones(), v, nil
		case "Sub":
			if !first {
				return nil, nil, nil
			}
			for c := range v {
				v[c] = -v[c]
			}
			return ones(), v, nil
		case "Div":
			if !first {
				return nil, nil, nil
			}
			for c := range v {
				if v[c] == 0 {
					return nil, nil, nil
				}
				v[c] = 1 / v[c]
			}
			return v, make([]float64, mch), nil
		}
	}
	return nil, nil, nil
}

// removeUnused drops initializers no node reads and that are not graph
// outputs (nor graph inputs, for old IR versions).
func removeUnused(g *pb.GraphProto) {
	used := map[string]bool{}
	var mark func(g *pb.GraphProto)
	mark = func(g *pb.GraphProto) {
		for _, n := range g.GetNode() {
			for _, s := range n.GetInput() {
				used[s] = true
			}
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					mark(a.GetG())
				}
				for _, sg := range a.GetGraphs() {
					mark(sg)
				}
			}
		}
		for _, o := range g.GetOutput() {
			used[o.GetName()] = true
		}
	}
	mark(g)
	inputs := map[string]bool{}
	for _, vi := range g.GetInput() {
		inputs[vi.GetName()] = true
	}
	kept := g.Initializer[:0]
	for _, t := range g.Initializer {
		if used[t.GetName()] || inputs[t.GetName()] {
			kept = append(kept, t)
		}
	}
	g.Initializer = kept
}

func attr(n *pb.NodeProto, name string) *pb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// bypassConstIdentities makes the readers of an Identity of an
// initializer read the initializer itself, and drops the Identity
// (unless its output is a graph output).
func bypassConstIdentities(g *pb.GraphProto) {
	inits := initializers(g)
	graphOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		graphOut[o.GetName()] = true
	}
	for _, n := range g.Node {
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil || len(a.GetGraphs()) > 0 {
				return // subgraphs may read the Identity outputs by name
			}
		}
	}
	alias := map[string]string{}
	kept := g.Node[:0]
	for _, n := range g.Node {
		if n.GetOpType() == "Identity" && n.GetDomain() == "" && len(n.GetInput()) == 1 && len(n.GetOutput()) == 1 &&
			inits[n.GetInput()[0]] != nil && !graphOut[n.GetOutput()[0]] {
			alias[n.GetOutput()[0]] = n.GetInput()[0]
			continue
		}
		kept = append(kept, n)
	}
	g.Node = kept
	if len(alias) == 0 {
		return
	}
	for _, n := range g.Node {
		for k, in := range n.Input {
			if a, ok := alias[in]; ok {
				n.Input[k] = a
			}
		}
	}
}

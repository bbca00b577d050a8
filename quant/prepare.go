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
// exports shared parameters so) are bypassed, every BatchNormalization that follows a Conv
// (the Conv output read by nothing else) is folded into that Conv's
// weight and bias, and the opset is raised to at least opset (13 for
// per-channel, 21 for int4, int16 and blocked quantization; 0 leaves it).
// It returns how many BatchNormalization nodes it folded.
func Prepare(m *onnxio.Model, opset int64) (int, error) {
	if _, err := m.ConstantsToInitializers(); err != nil {
		return 0, fmt.Errorf("quant: %w", err)
	}
	bypassConstIdentities(m.Graph())
	folded, err := FoldBatchNorm(m)
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

// FoldBatchNorm folds each inference-mode BatchNormalization whose input is
// the output of a Conv read by nothing else, and whose parameters are
// initializers, into the Conv: w' = w·γ/√(σ²+ε) per output channel, b' =
// (b - μ)·γ/√(σ²+ε) + β. The Conv then writes the BatchNormalization's
// output and the node goes away. New weight and bias initializers are
// added (the old ones may be shared); unused initializers are removed.
func FoldBatchNorm(m *onnxio.Model) (int, error) {
	g := m.Graph()
	ix := onnxio.NewIndex(g)
	inits := initializers(g)
	namer := onnxio.NewNamer(g)
	graphOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		graphOut[o.GetName()] = true
	}
	drop := map[int]bool{}
	for i, bn := range g.GetNode() {
		if bn.GetOpType() != "BatchNormalization" || bn.GetDomain() != "" || len(bn.GetInput()) != 5 || len(bn.GetOutput()) != 1 {
			continue
		}
		if a := attr(bn, "training_mode"); a != nil && a.GetI() != 0 {
			continue
		}
		x := bn.GetInput()[0]
		p, ok := ix.Producer[x]
		if !ok || len(ix.Consumers[x]) != 1 || graphOut[x] {
			continue
		}
		conv := g.GetNode()[p]
		if conv.GetOpType() != "Conv" || conv.GetDomain() != "" || len(conv.GetOutput()) != 1 {
			continue
		}
		wt := inits[conv.GetInput()[1]]
		if wt == nil || len(wt.GetDims()) < 1 {
			continue
		}
		var params [4][]float32
		okp := true
		for k := range 4 {
			t := inits[bn.GetInput()[k+1]]
			if t == nil {
				okp = false
				break
			}
			v, err := onnxio.ToFloat32(m, t)
			if err != nil {
				return len(drop), fmt.Errorf("quant: fold %s: %w", bn.GetName(), err)
			}
			params[k] = v
		}
		if !okp {
			continue
		}
		w, err := onnxio.ToFloat32(m, wt)
		if err != nil {
			return len(drop), fmt.Errorf("quant: fold %s: %w", bn.GetName(), err)
		}
		mch := int(wt.GetDims()[0])
		if mch == 0 || len(w)%mch != 0 {
			continue
		}
		bad := false
		for _, v := range params {
			bad = bad || len(v) != mch
		}
		if bad {
			continue
		}
		var b []float32
		if len(conv.GetInput()) > 2 && conv.GetInput()[2] != "" {
			bt := inits[conv.GetInput()[2]]
			if bt == nil {
				continue
			}
			if b, err = onnxio.ToFloat32(m, bt); err != nil || len(b) != mch {
				continue
			}
		} else {
			b = make([]float32, mch)
		}
		eps := 1e-5
		if a := attr(bn, "epsilon"); a != nil {
			eps = float64(a.GetF())
		}
		gamma, beta, mean, variance := params[0], params[1], params[2], params[3]
		inner := len(w) / mch
		nw := make([]float32, len(w))
		nb := make([]float32, mch)
		for c := range mch {
			f := float64(gamma[c]) / math.Sqrt(float64(variance[c])+eps)
			for j := range inner {
				nw[c*inner+j] = float32(float64(w[c*inner+j]) * f)
			}
			nb[c] = float32((float64(b[c])-float64(mean[c]))*f + float64(beta[c]))
		}
		wn, bnm := namer.Fresh(wt.GetName()+"_bnfold"), namer.Fresh(conv.GetOutput()[0]+"_bias_bnfold")
		wNew, err := onnxio.NewTensor(wn, onnxio.Float, wt.GetDims(), nw)
		if err != nil {
			return len(drop), err
		}
		bNew, err := onnxio.NewTensor(bnm, onnxio.Float, []int64{int64(mch)}, nb)
		if err != nil {
			return len(drop), err
		}
		g.Initializer = append(g.Initializer, wNew, bNew)
		inits[wn], inits[bnm] = wNew, bNew
		in := []string{conv.GetInput()[0], wn, bnm}
		conv.Input = in
		conv.Output = []string{bn.GetOutput()[0]}
		drop[i] = true
	}
	if len(drop) == 0 {
		return 0, nil
	}
	kept := g.Node[:0]
	for i, n := range g.Node {
		if !drop[i] {
			kept = append(kept, n)
		}
	}
	g.Node = kept
	removeUnused(g)
	return len(drop), nil
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

package quant

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// WeightedOps are the operators whose weights (a constant second input)
// are quantized: Conv, ConvTranspose, Gemm and MatMul. A Gemm or MatMul
// whose second input is computed is quantized too, with both inputs as
// activations.
var WeightedOps = []string{"Conv", "ConvTranspose", "Gemm", "MatMul"}

// DefaultOpTypes are the operators quantized by default: the weighted ones
// and those ONNX Runtime's QDQ quantizer also wraps so that integer
// kernels can run them directly (Add, pooling, Concat).
var DefaultOpTypes = []string{"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat"}

// fusableActs are activations that stay between a weighted op and its
// output QuantizeLinear (DQ -> Conv -> Relu -> Q), as ONNX Runtime's QDQ
// quantizer arranges them, so an integer kernel can apply them in its
// epilogue.
var fusableActs = map[string]bool{"Relu": true, "Clip": true}

// sameRangeOps pass values through without changing their set: their
// output is quantized with the input's parameters (as ONNX Runtime does
// for MaxPool), so integer kernels need no requantization.
var sameRangeOps = map[string]bool{"MaxPool": true}

// shapeOps are data movement and bookkeeping operators that are not
// reported as unsupported when they stay float.
var shapeOps = map[string]bool{"Reshape": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true, "Transpose": true,
	"Identity": true, "Shape": true, "Gather": true, "Constant": true, "Slice": true, "Cast": true, "Dropout": true}

// Config selects what Quantize quantizes and how.
type Config struct {
	// Scheme applies to every selected node that no override names.
	Scheme Scheme
	// Exclude names nodes left in float.
	Exclude []string
	// OpTypes restricts quantization to these operators (nil means
	// DefaultOpTypes).
	OpTypes []string
	// FirstLast names the scheme of the first and the last weighted
	// node (in topological order): "float" keeps them in float, any
	// other scheme name applies that scheme. Empty means the default:
	// 8-bit (int8) for schemes with narrower weights, whose first and
	// last layers are the most sensitive and the smallest (on the
	// fixtures, w4a8 per channel loses 1.52 points on resnet with
	// them in 4-bit, 1.03 with them in 8-bit), else the scheme itself.
	FirstLast string
	// Overrides gives schemes per node and per activation tensor (mixed
	// precision).
	Overrides *Overrides
}

// Overrides is the mixed-precision file: schemes by node name, and by
// activation tensor name for the tensors' own QuantizeLinear. A scheme
// is a name SchemeByName knows ("float" keeps a node or tensor in
// float). In JSON:
//
//	{"nodes": {"/features/features.0/Conv": "dfp16", "/classifier/classifier.4/Gemm": "float"},
//	 "tensors": {"input": "int8"}}
type Overrides struct {
	Nodes   map[string]string `json:"nodes"`
	Tensors map[string]string `json:"tensors"`
}

// LoadOverrides reads an Overrides JSON file and checks every scheme name.
func LoadOverrides(path string) (*Overrides, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("quant: overrides: %w", err)
	}
	var o Overrides
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("quant: overrides %s: %w (want {\"nodes\": {NAME: SCHEME}, \"tensors\": {NAME: SCHEME}})", path, err)
	}
	for _, m := range []map[string]string{o.Nodes, o.Tensors} {
		for k, v := range m {
			if _, err := SchemeByName(v); err != nil {
				return nil, fmt.Errorf("quant: overrides %s: %s: %w", path, k, err)
			}
		}
	}
	return &o, nil
}

// Plan is what Quantize will do to a prepared model.
type Plan struct {
	// Nodes maps each quantized node to its scheme.
	Nodes map[*pb.NodeProto]Scheme
	// Tensors maps each activation to quantize (a QuantizeLinear and
	// DequantizeLinear pair after it) to its scheme; Order lists them in
	// graph order, for calibration.
	Tensors map[string]Scheme
	Order   []string
	// InputMeans holds, for the activation inputs of weighted nodes with
	// 4-bit weights, the mean of each channel (axis 1 of a Conv input,
	// the last axis of a Gemm/MatMul input) over the calibration data;
	// Rewrite corrects those nodes' biases with them.
	InputMeans map[string][]float64
	// Float lists the operator types that stay float and do real
	// arithmetic (not shape operators), sorted: the warning for
	// unsupported operators.
	Float []string
}

// MakePlan decides which nodes and tensors of a prepared model to
// quantize. Unknown node names in Exclude or Overrides are errors.
func MakePlan(m *onnxio.Model, cfg Config) (*Plan, error) {
	if err := cfg.Scheme.Validate(); err != nil {
		return nil, err
	}
	g := m.Graph()
	nodes, err := onnxio.TopoSort(g)
	if err != nil {
		return nil, fmt.Errorf("quant: %w", err)
	}
	inits := initializers(g)
	byName := map[string]*pb.NodeProto{}
	for _, n := range nodes {
		if n.GetName() != "" {
			byName[n.GetName()] = n
		}
	}
	ops := cfg.OpTypes
	if ops == nil {
		ops = DefaultOpTypes
	}
	opSet := map[string]bool{}
	for _, o := range ops {
		opSet[o] = true
	}
	for _, o := range ops {
		if !slices.Contains(DefaultOpTypes, o) {
			return nil, fmt.Errorf("quant: --op-types %s: qtool quantizes %s", o, strings.Join(DefaultOpTypes, ", "))
		}
	}
	excl := map[string]bool{}
	for _, e := range cfg.Exclude {
		if byName[e] == nil {
			return nil, fmt.Errorf("quant: exclude: no node named %q", e)
		}
		excl[e] = true
	}
	nodeOver := map[string]Scheme{}
	tensorOver := map[string]Scheme{}
	if o := cfg.Overrides; o != nil {
		for k, v := range o.Nodes {
			if byName[k] == nil {
				return nil, fmt.Errorf("quant: overrides: no node named %q", k)
			}
			s, err := SchemeByName(v)
			if err != nil {
				return nil, err
			}
			s.Block = cfg.Scheme.Block * b2i(s.Weight == onnxio.Int4)
			if s.Block > 0 {
				s.PerChannel = true
			}
			nodeOver[k] = s
		}
		for k, v := range o.Tensors {
			s, err := SchemeByName(v)
			if err != nil {
				return nil, err
			}
			tensorOver[k] = s
		}
	}
	isWeighted := func(n *pb.NodeProto) bool {
		return n.GetDomain() == "" && slices.Contains(WeightedOps, n.GetOpType()) && len(n.GetInput()) >= 2
	}
	first, last := -1, -1
	for i, n := range nodes {
		if isWeighted(n) && opSet[n.GetOpType()] {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	edge := cfg.Scheme
	switch {
	case cfg.FirstLast != "":
		if edge, err = SchemeByName(cfg.FirstLast); err != nil {
			return nil, fmt.Errorf("quant: first/last layers: %w", err)
		}
	case onnxio.ElemBits(cfg.Scheme.Weight) < 8:
		edge, _ = SchemeByName("int8")
	}
	p := &Plan{Nodes: map[*pb.NodeProto]Scheme{}, Tensors: map[string]Scheme{}}
	floatOps := map[string]bool{}
	// An Add with a constant operand is part of an elementwise
	// activation (HardSwish's x+3, a learnable shift): quantizing around
	// it only adds rounding steps (PP-OCRv4's detector, last Conv: 7.5
	// -> 8.5 dB SQNR), and the engine runs such chains between quantized
	// tensors as one lookup table anyway.
	constAdd := func(n *pb.NodeProto) bool {
		if n.GetOpType() != "Add" {
			return false
		}
		for _, in := range n.GetInput() {
			if inits[in] != nil {
				return true
			}
		}
		return false
	}
	for i, n := range nodes {
		s := cfg.Scheme
		switch {
		case n.GetDomain() != "" || !opSet[n.GetOpType()]:
			s = Float
		case constAdd(n):
			continue
		case excl[n.GetName()]:
			s = Float
		case i == first || i == last:
			s = edge
		}
		if o, ok := nodeOver[n.GetName()]; ok && n.GetName() != "" {
			if !slices.Contains(DefaultOpTypes, n.GetOpType()) && !o.IsFloat() {
				return nil, fmt.Errorf("quant: overrides: node %q is a %s, which qtool does not quantize", n.GetName(), n.GetOpType())
			}
			s = o
		}
		if s.IsFloat() {
			if !slices.Contains(DefaultOpTypes, n.GetOpType()) && !shapeOps[n.GetOpType()] && !fusableActs[n.GetOpType()] {
				floatOps[n.GetOpType()] = true
			}
			continue
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("quant: node %q: %w", n.GetName(), err)
		}
		p.Nodes[n] = s
	}
	// Activation tensors: float inputs and outputs of quantized nodes.
	// A weighted node's output read only by a Relu or Clip is not
	// quantized (the activation's output is). Graph outputs stay float.
	ix := onnxio.NewIndex(g)
	graphOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		graphOut[o.GetName()] = true
	}
	want := map[string]Scheme{}
	wantBits := func(t string, s Scheme) {
		if t == "" || inits[t] != nil || graphOut[t] {
			return
		}
		if onnxio.ElemBits(s.Act) < 8 {
			// ONNX Runtime 1.30 moves QuantizeLinear across MaxPool and
			// then runs DQ -> MaxPool -> Q as a MaxPool on the quantized
			// type, which it lacks for int4 (and int8 there, next to
			// int4 elsewhere, gave wrong results): tensors next to a
			// MaxPool stay float.
			// It also moves them across data movement (Flatten,
			// Reshape...), so look through those to the producer.
			near := false
			for u := t; ; {
				pi, ok := ix.Producer[u]
				if !ok {
					break
				}
				pn := g.GetNode()[pi]
				if pn.GetOpType() == "MaxPool" {
					near = true
					break
				}
				if !shapeOps[pn.GetOpType()] || len(pn.GetInput()) == 0 {
					break
				}
				u = pn.GetInput()[0]
			}
			for _, c := range ix.Consumers[t] {
				near = near || g.GetNode()[c].GetOpType() == "MaxPool"
			}
			if near {
				return
			}
		}
		if old, ok := want[t]; ok && onnxio.ElemBits(old.Act) >= onnxio.ElemBits(s.Act) {
			return
		}
		want[t] = s
	}
	for _, n := range nodes {
		s, ok := p.Nodes[n]
		if !ok {
			continue
		}
		for k, in := range n.GetInput() {
			if isWeighted(n) && k == 2 {
				continue // the bias
			}
			if isWeighted(n) && k == 1 && inits[in] != nil {
				continue // the weight
			}
			wantBits(in, s)
		}
		for _, out := range n.GetOutput() {
			cs := ix.Consumers[out]
			if isWeighted(n) && len(cs) == 1 && !graphOut[out] {
				if c := g.GetNode()[cs[0]]; c.GetDomain() == "" && fusableActs[c.GetOpType()] {
					wantBits(c.GetOutput()[0], s)
					continue
				}
			}
			wantBits(out, s)
		}
	}
	for t, s := range tensorOver {
		if _, ok := ix.Producer[t]; !ok && !isGraphInput(g, t) {
			return nil, fmt.Errorf("quant: overrides: no activation tensor named %q", t)
		}
		if s.IsFloat() {
			delete(want, t)
			continue
		}
		want[t] = s
	}
	// Order: graph inputs first, then node outputs in topological order.
	for _, vi := range g.GetInput() {
		if s, ok := want[vi.GetName()]; ok {
			p.Tensors[vi.GetName()] = s
			p.Order = append(p.Order, vi.GetName())
		}
	}
	for _, n := range nodes {
		for _, o := range n.GetOutput() {
			if s, ok := want[o]; ok {
				if _, dup := p.Tensors[o]; !dup {
					p.Tensors[o] = s
					p.Order = append(p.Order, o)
				}
			}
		}
	}
	for o := range floatOps {
		p.Float = append(p.Float, o)
	}
	sort.Strings(p.Float)
	return p, nil
}

func isGraphInput(g *pb.GraphProto, name string) bool {
	for _, vi := range g.GetInput() {
		if vi.GetName() == name {
			return true
		}
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keep drops the planned tensors for which ok is false.
func (p *Plan) keep(ok func(string) bool) {
	order := p.Order[:0]
	for _, t := range p.Order {
		if ok(t) {
			order = append(order, t)
		} else {
			delete(p.Tensors, t)
		}
	}
	p.Order = order
}

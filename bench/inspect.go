package bench

import (
	"fmt"
	"sort"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// ModelInfo is what `qtool inspect` reports about a model. Its JSON form is
// a contract other tools rely on: ir_version, opsets, inputs, outputs, ops,
// params, macs and layers keep their names and meaning.
type ModelInfo struct {
	Path      string           `json:"path,omitempty"`
	IRVersion int64            `json:"ir_version"`
	Producer  string           `json:"producer,omitempty"`
	Opsets    map[string]int64 `json:"opsets"` // domain ("ai.onnx" for the default) -> version
	Inputs    []ValueInfo      `json:"inputs"`
	Outputs   []ValueInfo      `json:"outputs"`
	Ops       map[string]int   `json:"ops"` // op type (domain-qualified outside ai.onnx) -> count
	Nodes     int              `json:"nodes"`
	// Params counts the elements of every initializer and Constant value.
	Params int64 `json:"params"`
	// WeightBytes is the storage of those tensors by element type.
	WeightBytes map[string]int64 `json:"weight_bytes"`
	// MACs totals the multiply-accumulates of the layers below at the
	// shapes used (symbolic sizes taken as 1 unless given).
	MACs int64 `json:"macs"`
	// BitOps totals the binary layers' bit-operations (their MACs, each
	// of a 1-bit weight and a 1-bit activation).
	BitOps int64   `json:"bit_ops,omitempty"`
	Layers []Layer `json:"layers"`
	// Shapes are the input shapes the MAC counts were computed for.
	Shapes map[string][]int64 `json:"shapes"`
}

// ValueInfo is a graph input or output. Shape entries are sizes (int64) or
// symbolic names (string).
type ValueInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

// Layer is one compute-heavy node and its multiply-accumulate count.
type Layer struct {
	Name   string  `json:"name"`
	Op     string  `json:"op"`
	MACs   int64   `json:"macs"`
	Input  []int64 `json:"input_shape,omitempty"`
	Weight []int64 `json:"weight_shape,omitempty"`
	Output []int64 `json:"output_shape,omitempty"`
	// BitOps, for binary layers (BinaryConv, BinaryGemm), are MACs × 1
	// bit × 1 bit: each MAC an XNOR and popcount of one bit.
	BitOps int64 `json:"bit_ops,omitempty"`
}

// macOps are the ops whose MACs inspect counts. Their integer and
// quantized forms count the same way.
var macOps = map[string]bool{
	"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true,
	"ConvInteger": true, "QLinearConv": true, "MatMulInteger": true, "QLinearMatMul": true,
}

// binaryOps are qtool's binary operators (domain qtoolDomain), whose
// MACs are ±1 products (1-bit × 1-bit).
var binaryOps = map[string]bool{"BinaryConv": true, "BinaryGemm": true}

// Inspect describes m. shapes fixes the sizes of graph inputs by name;
// any symbolic size left is taken as 1.
func Inspect(m *onnxio.Model, shapes map[string]onnxio.Shape) (*ModelInfo, error) {
	g := m.Graph()
	info := &ModelInfo{
		Path:        m.Path,
		IRVersion:   m.Proto.GetIrVersion(),
		Producer:    m.Proto.GetProducerName(),
		Opsets:      map[string]int64{},
		Ops:         map[string]int{},
		Nodes:       len(g.GetNode()),
		WeightBytes: map[string]int64{},
		Layers:      []Layer{},
		Shapes:      map[string][]int64{},
	}
	for _, o := range m.Proto.GetOpsetImport() {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		info.Opsets[d] = o.GetVersion()
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
		countWeight(info, t)
	}
	for _, vi := range g.GetInput() {
		if !inits[vi.GetName()] {
			info.Inputs = append(info.Inputs, declared(vi))
		}
	}
	for _, vi := range g.GetOutput() {
		info.Outputs = append(info.Outputs, declared(vi))
	}
	for _, n := range g.GetNode() {
		info.Ops[opName(n)]++
		if n.GetOpType() == "Constant" {
			for _, a := range n.GetAttribute() {
				if a.GetT() != nil {
					countWeight(info, a.GetT())
				}
			}
		}
	}

	// Concrete shapes: what the caller gave, symbols elsewhere set to 1.
	concrete := map[string]onnxio.Shape{}
	guessed := false
	for _, in := range info.Inputs {
		var s onnxio.Shape
		if given, ok := shapes[in.Name]; ok {
			s = given
		} else {
			for _, d := range in.Shape {
				if v, ok := d.(int64); ok {
					s = append(s, onnxio.Dim{Value: v})
				} else {
					s = append(s, onnxio.Dim{Value: 1})
					guessed = true
				}
			}
		}
		concrete[in.Name] = s
		if ints, ok := s.Ints(); ok {
			info.Shapes[in.Name] = ints
		}
	}
	for name := range shapes {
		if _, ok := concrete[name]; !ok {
			return nil, fmt.Errorf("--shape %s: the model has no input of that name", name)
		}
	}
	types, err := onnxio.InferShapes(m, concrete)
	if err != nil {
		if guessed {
			return nil, fmt.Errorf("%w (symbolic input sizes were taken as 1; give real ones with --shape NAME=D0,D1,...)", err)
		}
		return nil, err
	}
	for i, n := range g.GetNode() {
		binary := n.GetDomain() == qtoolDomain && binaryOps[n.GetOpType()]
		if !binary && (!macOps[n.GetOpType()] || (n.GetDomain() != "" && n.GetDomain() != "ai.onnx")) {
			continue
		}
		l, err := layerMACs(n, types)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", onnxio.NodeLabel(n, i), err)
		}
		if l.Name == "" {
			l.Name = fmt.Sprintf("%s_%d", n.GetOpType(), i)
		}
		if binary {
			l.BitOps = l.MACs
			info.BitOps += l.BitOps
		}
		info.Layers = append(info.Layers, l)
		info.MACs += l.MACs
	}
	return info, nil
}

func opName(n *pb.NodeProto) string {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return d + "." + n.GetOpType()
	}
	return n.GetOpType()
}

func countWeight(info *ModelInfo, t *pb.TensorProto) {
	n, err := onnxio.NumElements(t.GetDims())
	if err != nil {
		return // Load has already refused such tensors
	}
	dt := onnxio.DataType(t.GetDataType())
	info.Params += n
	info.WeightBytes[onnxio.DataTypeName(dt)] += onnxio.ByteSize(dt, n)
}

// declared is a value's type as the model states it.
func declared(vi *pb.ValueInfoProto) ValueInfo {
	tt := vi.GetType().GetTensorType()
	v := ValueInfo{Name: vi.GetName(), DType: onnxio.DataTypeName(onnxio.DataType(tt.GetElemType())), Shape: []any{}}
	for i, d := range tt.GetShape().GetDim() {
		switch {
		case d.GetDimParam() != "":
			v.Shape = append(v.Shape, d.GetDimParam())
		case d.GetValue() != nil:
			v.Shape = append(v.Shape, d.GetDimValue())
		default:
			v.Shape = append(v.Shape, fmt.Sprintf("?%d", i))
		}
	}
	return v
}

// layerMACs counts multiply-accumulates: one per weight use per output
// element for convolutions, M*N*K per matrix product.
func layerMACs(n *pb.NodeProto, types map[string]onnxio.ValueType) (Layer, error) {
	l := Layer{Name: n.GetName(), Op: n.GetOpType()}
	x, w := 0, 1 // positions of the data and weight inputs
	if n.GetOpType() == "QLinearConv" || n.GetOpType() == "QLinearMatMul" {
		w = 3
	}
	shapeOf := func(i int) ([]int64, error) {
		if i >= len(n.GetInput()) {
			return nil, fmt.Errorf("has %d inputs, needs %d", len(n.GetInput()), i+1)
		}
		t, ok := types[n.GetInput()[i]]
		s, known := t.Shape.Ints()
		if !ok || !t.RankKnown || !known {
			return nil, fmt.Errorf("shape of input %q is unknown (%v); give input shapes with --shape", n.GetInput()[i], t)
		}
		return s, nil
	}
	xs, err := shapeOf(x)
	if err != nil {
		return l, err
	}
	ws, err := shapeOf(w)
	if err != nil {
		return l, err
	}
	out, ok := types[n.GetOutput()[0]]
	ys, known := out.Shape.Ints()
	if !ok || !out.RankKnown || !known {
		return l, fmt.Errorf("output shape is unknown (%v)", out)
	}
	l.Input, l.Weight, l.Output = xs, ws, ys
	prod := func(s []int64) int64 {
		p := int64(1)
		for _, v := range s {
			p *= v
		}
		return p
	}
	switch n.GetOpType() {
	case "BinaryConv", "BinaryGemm":
		l.MACs, err = countBinary(n, xs, ws, types[n.GetInput()[0]].Elem == onnxio.Uint64)
		if err != nil {
			return l, err
		}
	case "Conv", "ConvInteger", "QLinearConv":
		// Every output element uses C/group input channels times the
		// kernel area: W is [M, C/group, k...].
		if len(ws) < 2 {
			return l, fmt.Errorf("weight shape %v has rank below 2", ws)
		}
		l.MACs = prod(ys) * prod(ws[1:])
	case "ConvTranspose":
		// Every input element is scattered through M/group output channels
		// times the kernel area: W is [C, M/group, k...].
		if len(ws) < 2 {
			return l, fmt.Errorf("weight shape %v has rank below 2", ws)
		}
		l.MACs = prod(xs) * prod(ws[1:])
	case "Gemm":
		// Y is [M, N]; K is A's dimension not in Y.
		k := xs[1]
		if attrInt(n, "transA") != 0 {
			k = xs[0]
		}
		l.MACs = prod(ys) * k
	default: // MatMul family: Y holds batch*M*N elements, each a K-long dot.
		k := xs[len(xs)-1]
		if len(ws) == 1 {
			k = ws[0]
		}
		l.MACs = prod(ys) * k
	}
	return l, nil
}

func attrInt(n *pb.NodeProto, name string) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return 0
}

func attrString(n *pb.NodeProto, name string) string {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return string(a.GetS())
		}
	}
	return ""
}

// SortedOps lists op types by count, largest first, then by name.
func (info *ModelInfo) SortedOps() []string {
	ops := make([]string, 0, len(info.Ops))
	for op := range info.Ops {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		if info.Ops[ops[i]] != info.Ops[ops[j]] {
			return info.Ops[ops[i]] > info.Ops[ops[j]]
		}
		return ops[i] < ops[j]
	})
	return ops
}

package bench

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
	"github.com/qtool/qtool/quant"
)

// CostOptions says how Cost measures a model.
type CostOptions struct {
	Batch   int                     // size for a symbolic first dimension; default 1
	Shapes  map[string]onnxio.Shape // full input shapes by name, overriding Batch
	Threads int                     // engine threads; 0 means GOMAXPROCS
	Warmup  int                     // untimed runs first; default 3
	Runs    int                     // profiled runs the times are the medians of; default 20
	Seed    uint64                  // for the random inputs
}

// CostRow is one engine step of a model, or the rest of a run: what it
// computes and what it took.
type CostRow struct {
	// Step is the step's index in engine.Session.Precisions; -1 for the
	// rest of the run (below) and the total.
	Step      int      `json:"step"`
	Name      string   `json:"name"`
	Op        string   `json:"op"`
	Precision string   `json:"precision"`
	Nodes     []string `json:"nodes,omitempty"`
	// MACs are the multiply-accumulates of the step's Conv, Gemm, MatMul
	// (or their integer and binary forms); 0 for other steps.
	MACs int64 `json:"macs"`
	// WeightBits and ActBits are the operand widths of those MACs in the
	// precision the step runs (32 and 32 for fp32, 4 and 8 for w4a8, 1
	// and 1 for binary); BitOps is MACs × WeightBits × ActBits.
	WeightBits int   `json:"weight_bits,omitempty"`
	ActBits    int   `json:"act_bits,omitempty"`
	BitOps     int64 `json:"bit_ops"`
	// WeightBytes are the stored bytes (initializers, Constant values) the
	// layer's weight and bias inputs are computed from: int8 weights and
	// their scales for a quantized layer, packed sign bits for a binary
	// one.
	WeightBytes int64 `json:"weight_bytes"`
	// ActBytes are the activation bytes the step reads and writes, in
	// the types it runs on (engine.StepTime's InBytes + OutBytes).
	ActBytes int64 `json:"activation_bytes"`
	// Ms is the step's median time over the profiled runs.
	Ms float64 `json:"ms"`
}

// CostReport is `qtool inspect --cost --json`: the cost of every step
// that runs, and the totals.
type CostReport struct {
	Model   string           `json:"model"`
	Inputs  map[string][]int `json:"inputs"`
	Threads int              `json:"threads"`
	Runs    int              `json:"runs"`
	Rows    []CostRow        `json:"rows"`
	// Total sums the rows. The last row, "(rest of the run)", holds the
	// median time of a whole profiled run, WallMs, less the steps'
	// medians (plan lookup, output copies, and the difference between
	// the median of a sum and the sum of medians), so that Total.Ms is
	// WallMs (unless the steps' medians add up to more, when the rest
	// is 0).
	Total  CostRow `json:"total"`
	WallMs float64 `json:"wall_ms"`
}

// precisionBits are the weight and activation widths of each precision
// engine.NodePrecision names.
var precisionBits = map[string][2]int{
	"fp32":   {32, 32},
	"int16":  {16, 16},
	"int8":   {8, 8},
	"w4a8":   {4, 8},
	"w4a4":   {4, 4},
	"binary": {1, 1},
}

// Cost compiles m as `qtool run` does, profiles RunProfiled on seeded
// random inputs opt.Runs times, and attributes MACs, bit-operations,
// weight bytes, activation bytes and the median time to each step.
func Cost(m *onnxio.Model, opt CostOptions) (*CostReport, error) {
	if err := runDefaults(&opt.Batch, &opt.Warmup, &opt.Runs, &opt.Threads); err != nil {
		return nil, err
	}
	m = uniquelyNamed(m)
	s, err := quant.Compile(m, engine.Options{Threads: opt.Threads})
	if err != nil {
		return nil, err
	}
	inputs, shapes, err := RandomInputs(s, opt.Batch, opt.Shapes, opt.Seed)
	if err != nil {
		return nil, err
	}
	macs, weights, err := layerCosts(m, inputs, opt.Threads)
	if err != nil {
		return nil, err
	}
	for i := 0; i < opt.Warmup; i++ {
		if _, err := s.Run(inputs); err != nil {
			return nil, err
		}
	}
	var runs [][]engine.StepTime
	var wall []time.Duration
	for range opt.Runs {
		t := time.Now()
		_, prof, err := s.RunProfiled(inputs)
		d := time.Since(t)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 && len(prof) != len(runs[0]) {
			return nil, fmt.Errorf("profiled runs executed %d and %d steps", len(runs[0]), len(prof))
		}
		runs = append(runs, prof)
		wall = append(wall, d)
	}
	r := &CostReport{Model: m.Path, Inputs: shapes, Threads: opt.Threads, Runs: opt.Runs, WallMs: medianMs(wall),
		Total: CostRow{Step: -1, Name: "total"}}
	labels := map[string]*pb.NodeProto{}
	for _, n := range m.Graph().GetNode() {
		labels[onnxio.NodeLabel(n, 0)] = n
	}
	for i, st := range runs[0] {
		row := CostRow{Step: st.Step, Name: st.Node, Op: st.Op, Precision: st.Precision, Nodes: st.Nodes,
			ActBytes: st.InBytes + st.OutBytes}
		if n := labels[st.Node]; n != nil {
			row.Name = n.GetName()
			row.MACs, row.WeightBytes = macs[n], weights[n]
		}
		if row.MACs > 0 {
			bits, ok := precisionBits[st.Precision]
			if !ok {
				return nil, fmt.Errorf("step %s runs in precision %q, whose operand widths the cost model does not know", st.Node, st.Precision)
			}
			row.WeightBits, row.ActBits = bits[0], bits[1]
			row.BitOps = row.MACs * int64(bits[0]*bits[1])
		}
		ts := make([]time.Duration, len(runs))
		for k, prof := range runs {
			ts[k] = prof[i].Time
		}
		row.Ms = medianMs(ts)
		r.Rows = append(r.Rows, row)
	}
	var steps float64
	for _, row := range r.Rows {
		steps += row.Ms
	}
	r.Rows = append(r.Rows, CostRow{Step: -1, Name: "(rest of the run)", Ms: max(0, r.WallMs-steps)})
	for _, row := range r.Rows {
		r.Total.MACs += row.MACs
		r.Total.BitOps += row.BitOps
		r.Total.WeightBytes += row.WeightBytes
		r.Total.ActBytes += row.ActBytes
		r.Total.Ms += row.Ms
	}
	return r, nil
}

func medianMs(ds []time.Duration) float64 {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds()) / 1e6
}

// uniquelyNamed is m, or a copy of it whose nodes all have distinct
// names: the engine labels a step by its node's name, and nameless nodes
// by their position in its own normalised graph, which is not the
// model's.
func uniquelyNamed(m *onnxio.Model) *onnxio.Model {
	taken := map[string]bool{}
	ok := true
	for _, n := range m.Graph().GetNode() {
		ok = ok && n.GetName() != "" && !taken[n.GetName()]
		taken[n.GetName()] = true
	}
	if ok {
		return m
	}
	c := &onnxio.Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto), Path: m.Path, Dir: m.Dir}
	kept := map[string]bool{}
	for i, n := range c.Graph().GetNode() {
		if n.GetName() != "" && !kept[n.GetName()] {
			kept[n.GetName()] = true
			continue
		}
		name := fmt.Sprintf("%s_%d", n.GetOpType(), i)
		for taken[name] {
			name += "_"
		}
		taken[name], kept[name] = true, true
		n.Name = proto.String(name)
	}
	return c
}

// layerCosts counts the MACs and the weight bytes of every node of m
// that has MACs. Value shapes come from shape inference, completed by
// the shapes a run on inputs actually computes (for operators inference
// does not know, such as the binary ones).
func layerCosts(m *onnxio.Model, inputs map[string]*engine.Tensor, threads int) (macs, weights map[*pb.NodeProto]int64, err error) {
	concrete := map[string]onnxio.Shape{}
	for name, t := range inputs {
		for _, d := range t.Shape {
			concrete[name] = append(concrete[name], onnxio.Dim{Value: int64(d)})
		}
	}
	types, err := onnxio.InferShapes(m, concrete)
	if err != nil {
		return nil, nil, err
	}
	// Unfused, so that every node's output is observed.
	s, err := quant.Compile(m, engine.Options{Threads: threads, NoFusion: true, NoInteger: true})
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.RunObserved(inputs, func(name string, t *engine.Tensor) {
		vt := onnxio.ValueType{Elem: t.Type, RankKnown: true, Shape: onnxio.Shape{}}
		for _, d := range t.Shape {
			vt.Shape = append(vt.Shape, onnxio.Dim{Value: int64(d)})
		}
		types[name] = vt
	}); err != nil {
		return nil, nil, err
	}
	for name, t := range inputs {
		types[name] = onnxio.ValueType{Elem: t.Type, RankKnown: true, Shape: concrete[name]}
	}
	stored := storedBytes(m)
	macs, weights = map[*pb.NodeProto]int64{}, map[*pb.NodeProto]int64{}
	for i, n := range m.Graph().GetNode() {
		var err error
		switch d := n.GetDomain(); {
		case (d == "" || d == "ai.onnx") && macOps[n.GetOpType()]:
			var l Layer
			l, err = layerMACs(n, types)
			macs[n] = l.MACs
		case d == qtoolDomain && binaryOps[n.GetOpType()]:
			macs[n], err = binaryMACs(n, types)
		default:
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("node %s: %w", onnxio.NodeLabel(n, i), err)
		}
		seen := map[string]bool{}
		for j, in := range n.GetInput() {
			if j > 0 && in != "" { // input 0 is the activation
				weights[n] += stored.of(in, seen)
			}
		}
	}
	return macs, weights, nil
}

// constSources finds the stored tensors a constant value is computed
// from.
type constSources struct {
	bytes    map[string]int64         // initializer or Constant output -> stored bytes
	producer map[string]*pb.NodeProto // value -> the node computing it
	memo     map[string]bool          // value -> computed from stored tensors alone
}

func storedBytes(m *onnxio.Model) *constSources {
	g := m.Graph()
	c := &constSources{bytes: map[string]int64{}, producer: map[string]*pb.NodeProto{}, memo: map[string]bool{}}
	size := func(t *pb.TensorProto) int64 {
		n, err := onnxio.NumElements(t.GetDims())
		if err != nil {
			return 0 // Load has already refused such tensors
		}
		return onnxio.ByteSize(onnxio.DataType(t.GetDataType()), n)
	}
	for _, t := range g.GetInitializer() {
		c.bytes[t.GetName()] = size(t)
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			c.producer[o] = n
		}
		if n.GetOpType() == "Constant" && len(n.GetOutput()) == 1 {
			for _, a := range n.GetAttribute() {
				if a.GetT() != nil {
					c.bytes[n.GetOutput()[0]] = size(a.GetT())
				}
			}
		}
	}
	return c
}

// constant reports whether v is computed from stored tensors alone.
func (c *constSources) constant(v string) bool {
	if _, ok := c.bytes[v]; ok {
		return true
	}
	if k, ok := c.memo[v]; ok {
		return k
	}
	c.memo[v] = false // a cycle is not constant
	n := c.producer[v]
	k := n != nil && len(n.GetInput()) > 0
	for _, in := range n.GetInput() {
		k = k && (in == "" || c.constant(in))
	}
	c.memo[v] = k
	return k
}

// of is the stored bytes constant value v is computed from, counting
// each stored tensor once across calls sharing seen; 0 for a value that
// depends on the model's inputs.
func (c *constSources) of(v string, seen map[string]bool) int64 {
	if seen[v] || !c.constant(v) {
		return 0
	}
	seen[v] = true
	if b, ok := c.bytes[v]; ok {
		return b
	}
	var sum int64
	for _, in := range c.producer[v].GetInput() {
		if in != "" {
			sum += c.of(in, seen)
		}
	}
	return sum
}

// qtoolDomain is the domain of qtool's binary operators (binaryOps).
const qtoolDomain = "ai.qtool"

// binaryMACs counts a BinaryConv's or BinaryGemm's multiply-accumulates
// from its attributes and the shapes of its input, float or packed bits,
// and of its packed weights (the operators' spec is in the README).
func binaryMACs(n *pb.NodeProto, types map[string]onnxio.ValueType) (int64, error) {
	shape := func(i int) ([]int64, onnxio.DataType, error) {
		if i >= len(n.GetInput()) {
			return nil, 0, fmt.Errorf("has %d inputs, needs %d", len(n.GetInput()), i+1)
		}
		t := types[n.GetInput()[i]]
		s, known := t.Shape.Ints()
		if !t.RankKnown || !known {
			return nil, 0, fmt.Errorf("shape of input %q is unknown (%v)", n.GetInput()[i], t)
		}
		return s, t.Elem, nil
	}
	xs, xt, err := shape(0)
	if err != nil {
		return 0, err
	}
	ws, _, err := shape(1)
	if err != nil {
		return 0, err
	}
	return countBinary(n, xs, ws, xt == onnxio.Uint64)
}

// countBinary is binaryMACs given the shapes of X and W and whether X is
// packed bits ([N, H, W, words]) rather than float NCHW.
func countBinary(n *pb.NodeProto, xs, ws []int64, packed bool) (int64, error) {
	if n.GetOpType() == "BinaryGemm" {
		k := attrInt(n, "in_features")
		if len(xs) != 2 || len(ws) != 2 || k <= 0 {
			return 0, fmt.Errorf("BinaryGemm wants A of rank 2, W of rank 2 and in_features > 0; has A %v, W %v, in_features %d", xs, ws, k)
		}
		return xs[0] * ws[0] * k, nil
	}
	c, group := attrInt(n, "in_channels"), attrInt(n, "group")
	if group == 0 {
		group = 1
	}
	if len(xs) != 4 || len(ws) != 4 || c <= 0 || group < 0 || c%group != 0 {
		return 0, fmt.Errorf("BinaryConv wants X and W of rank 4 and in_channels > 0 divisible by group; has X %v, W %v, in_channels %d, group %d", xs, ws, c, group)
	}
	h, w := xs[2], xs[3] // float X is NCHW
	if packed {
		h, w = xs[1], xs[2] // packed bits are N×H×W×words
	}
	ints := func(name string, def int64, k int) []int64 {
		v := attrInts(n, name)
		if v == nil {
			v = make([]int64, k)
			for i := range v {
				v[i] = def
			}
		}
		return v
	}
	kh, kw := ws[1], ws[2]
	strides, dil, pads := ints("strides", 1, 2), ints("dilations", 1, 2), ints("pads", 0, 4)
	if len(strides) != 2 || len(dil) != 2 || len(pads) != 4 || strides[0] <= 0 || strides[1] <= 0 {
		return 0, fmt.Errorf("BinaryConv strides %v, dilations %v, pads %v: want 2, 2 and 4 values, strides above 0", strides, dil, pads)
	}
	oh := (h+pads[0]+pads[2]-dil[0]*(kh-1)-1)/strides[0] + 1
	ow := (w+pads[1]+pads[3]-dil[1]*(kw-1)-1)/strides[1] + 1
	if oh <= 0 || ow <= 0 {
		return 0, fmt.Errorf("BinaryConv output would be %dx%d", oh, ow)
	}
	return xs[0] * ws[0] * oh * ow * (c / group) * kh * kw, nil
}

func attrInts(n *pb.NodeProto, name string) []int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetInts()
		}
	}
	return nil
}

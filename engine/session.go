package engine

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Options tunes Compile.
type Options struct {
	// Threads is how many goroutines one Run may use for GEMM,
	// convolution and large elementwise work; 0 means GOMAXPROCS.
	// Results do not depend on it (bit-identical for any value).
	Threads int
	// NoFusion keeps Conv/Gemm and the nodes after them as separate
	// steps (for tests comparing fused and unfused runs).
	NoFusion bool
	// NoInteger runs QDQ models as simulated quantization in float
	// instead of recognising their DequantizeLinear -> Conv/Gemm/MatMul
	// -> QuantizeLinear patterns and running those on the integer
	// kernels (for tests and accuracy comparisons).
	NoInteger bool
	// MaxTensorBytes bounds the size of any one tensor the engine
	// allocates; a model or input shape that would need a larger one
	// fails with an error naming the node instead of exhausting memory.
	// 0 means DefaultMaxTensorBytes.
	MaxTensorBytes int64
}

// DefaultMaxTensorBytes is the per-tensor limit when Options leave it 0.
const DefaultMaxTensorBytes = 8 << 30

// Session is a compiled model. Compile normalises the graph once (opset
// upgrade to 21, Constant nodes to initializers, topological order,
// constant folding, BatchNormalization folded into the convolution
// before it, activations and residual additions fused into the GEMM
// epilogue, weights packed for the kernels); the first Run for a given
// set of input shapes builds a plan for them (every shape, the values
// that depend only on shapes folded, a memory plan reusing activation
// buffers), which later Runs with the same shapes reuse.
//
// A Session is safe for concurrent use: any number of goroutines may call
// Run at once. Plans are shared read-only; each Run takes its own
// activation buffers from a pool.
type Session struct {
	opts    Options
	inputs  []ioInfo
	outputs []ioInfo
	names   []string       // value id -> name
	ids     map[string]int // name -> value id
	consts  map[int]*Tensor
	steps   []*step

	absorbed map[*pb.NodeProto]bool // during Compile: nodes already fused into another

	mu    sync.Mutex
	plans map[string]*plan
}

type ioInfo struct {
	name  string
	id    int
	dt    onnxio.DataType
	shape []int // -1 for a symbolic or unknown size; nil when the rank is unknown
}

// step is one kernel call: a node, or a node with the ones fused into it.
type step struct {
	label     string
	op        string
	ins       []int // value ids, -1 for an absent optional input
	outs      []int
	k         kernel
	precision string   // the integer kernels it runs on ("int8", "w4a8"...), "" for float
	nodes     []string // the graph nodes it runs, when more than the one of label
}

// kernel is an operator instance. infer gives the outputs' types and
// shapes from the inputs' (tensors that may carry only a shape; inputs
// whose values decide the output shape, such as Reshape's shape, carry
// data). run computes outputs, allocated by the caller with the inferred
// types and shapes (not zeroed), from inputs.
type kernel interface {
	infer(in []*Tensor) ([]spec, error)
	run(rc *runCtx, in, out []*Tensor) error
}

// aliaser is a kernel whose output 0 is input 0's data with a new shape
// (Reshape, Flatten, Squeeze...): the plan makes it a view, not a copy.
type aliaser interface{ alias() bool }

// shapeOnly is a kernel that reads only its inputs' shapes (Shape, Size),
// so it is evaluated when the plan is built.
type shapeOnly interface{ shapeOnly() bool }

type spec struct {
	dt    onnxio.DataType
	shape []int
}

// runCtx is what one Run hands its kernels.
type runCtx struct {
	threads  int
	maxBytes int64 // per-tensor limit, checked before allocating outputs
	scratch  []float32
}

// buf returns a scratch buffer of n floats, valid until the next call.
func (rc *runCtx) buf(n int) []float32 {
	if cap(rc.scratch) < n {
		rc.scratch = make([]float32, n)
	}
	return rc.scratch[:n]
}

// UnsupportedError lists every node of a model the engine cannot run.
type UnsupportedError struct {
	Nodes []string // "name (OpType): reason"
	Ops   []string // the distinct op types, sorted
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("engine: unsupported operators %s in %d node(s): %s",
		strings.Join(e.Ops, ", "), len(e.Nodes), strings.Join(e.Nodes, "; "))
}

// errUnsupported marks a builder error as an unsupported form of a known
// operator (an attribute value the engine lacks) rather than a bad model.
type errUnsupported string

func (e errUnsupported) Error() string { return string(e) }

func unsupported(format string, a ...any) error { return errUnsupported(fmt.Sprintf(format, a...)) }

// Compile prepares m for Run. m is not modified. A model using operators
// (or operator forms, or element types) the engine lacks fails with one
// *UnsupportedError listing all of them.
//
// Old opsets are normalised by upgrading a copy of the model to opset 21
// (onnxio.UpgradeOpset), so the kernels implement only the newest
// semantics of each operator; models newer than 21 are taken as they are.
func Compile(m *onnxio.Model, opts Options) (*Session, error) {
	if opts.MaxTensorBytes <= 0 {
		opts.MaxTensorBytes = DefaultMaxTensorBytes
	}
	if opts.Threads <= 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	cm := &onnxio.Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto), Path: m.Path, Dir: m.Dir}
	if err := checkOps(cm); err != nil {
		return nil, err
	}
	if v := cm.Opset(""); v == 6 || (v >= 1 && v < 6 && stableSince1(cm)) {
		lift6(cm)
	}
	if v := cm.Opset(""); v >= onnxio.MinUpgradeOpset && v < onnxio.MaxUpgradeOpset {
		if err := cm.UpgradeOpset(onnxio.MaxUpgradeOpset); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	} else if v < onnxio.MinUpgradeOpset {
		return nil, &UnsupportedError{Nodes: []string{fmt.Sprintf("the model's opset %d is too old (need 6 or newer)", v)}, Ops: []string{fmt.Sprintf("opset %d", v)}}
	}
	if _, err := cm.ConstantsToInitializers(); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	g := cm.Graph()
	nodes, err := onnxio.TopoSort(g)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	s := &Session{opts: opts, ids: map[string]int{}, consts: map[int]*Tensor{}, plans: map[string]*plan{}}
	var unsup []string
	for _, t := range g.GetInitializer() {
		v, err := TensorFromProto(cm, t)
		if err != nil {
			unsup = append(unsup, fmt.Sprintf("initializer %q: %v", t.GetName(), err))
			continue
		}
		s.consts[s.id(t.GetName())] = v
	}
	for _, vi := range g.GetInput() {
		id := s.id(vi.GetName())
		if _, isConst := s.consts[id]; isConst {
			continue // initializer listed as an input (IR < 4): a constant
		}
		info, err := ioOf(vi, id)
		if err != nil {
			unsup = append(unsup, err.Error())
		}
		s.inputs = append(s.inputs, info)
	}
	for _, vi := range g.GetOutput() {
		info, err := ioOf(vi, s.id(vi.GetName()))
		if err != nil {
			unsup = append(unsup, err.Error())
		}
		s.outputs = append(s.outputs, info)
	}
	if len(unsup) > 0 {
		return nil, &UnsupportedError{Nodes: unsup, Ops: []string{"(element types)"}}
	}
	if err := s.build(nodes, g); err != nil {
		return nil, err
	}
	return s, nil
}

// lift6 rewrites an opset-6 model as opset 7: the legacy broadcast
// attribute of arithmetic and Gemm goes (opset 7 always broadcasts; an
// explicit axis is kept as legacy_axis for the kernel), and the is_test
// and consumed_inputs attributes that opset 7 dropped are removed.
func lift6(m *onnxio.Model) {
	for _, n := range m.Graph().GetNode() {
		var keep []*pb.AttributeProto
		bcast := false
		for _, a := range n.GetAttribute() {
			if a.GetName() == "broadcast" && a.GetI() != 0 {
				bcast = true
			}
		}
		for _, a := range n.GetAttribute() {
			switch a.GetName() {
			case "broadcast", "is_test", "consumed_inputs":
				continue
			case "axis":
				switch n.GetOpType() {
				case "Add", "Sub", "Mul", "Div", "Pow":
					if bcast {
						a = proto.Clone(a).(*pb.AttributeProto)
						a.Name = proto.String("legacy_axis")
					} else {
						continue
					}
				}
			}
			keep = append(keep, a)
		}
		if n.GetOpType() == "PRelu" {
			// Opset 6 applied a 1-D slope along the channel axis.
			keep = append(keep, &pb.AttributeProto{Name: proto.String("legacy_axis"), I: proto.Int64(1), Type: pb.AttributeProto_INT.Enum()})
		}
		n.Attribute = keep
	}
	m.SetOpset("", 7)
}

// stableSince1 reports whether every node of m is an operator whose
// opset-1 form, less the legacy attributes lift6 removes, means what its
// opset-7 form does, so an older model can be read as opset 7.
func stableSince1(m *onnxio.Model) bool {
	for _, n := range m.Graph().GetNode() {
		switch n.GetOpType() {
		case "GlobalAveragePool", "GlobalMaxPool", "Not", "Softplus", "Softsign", "And", "Or", "Xor",
			"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Floor", "Ceil",
			"Identity", "Add", "Sub", "Mul", "Div", "Equal", "Less", "Greater", "Transpose", "LeakyRelu",
			"Elu", "Selu", "HardSigmoid", "ThresholdedRelu", "MatMul":
		default:
			return false
		}
	}
	return true
}

// checkOps lists every node whose operator the engine does not know,
// before anything else (the opset upgrade would fail on some of them).
func checkOps(m *onnxio.Model) error {
	e := &UnsupportedError{}
	seen := map[string]bool{}
	for i, n := range m.Graph().GetNode() {
		d := n.GetDomain()
		custom := d != "" && d != "ai.onnx"
		why := "operator not supported"
		if builderFor(n) != nil {
			if !custom {
				continue
			}
			v := m.Opset(d)
			if v == domainVersions[d] {
				continue
			}
			why = fmt.Sprintf("the model imports opset %s version %d; the engine implements version %d", d, v, domainVersions[d])
			if v == 0 {
				why = fmt.Sprintf("the model does not import opset %s (add opset_import {domain %q, version %d})", d, d, domainVersions[d])
			}
		} else if custom {
			why = fmt.Sprintf("operator %s not supported in domain %q", n.GetOpType(), d)
		}
		e.Nodes = append(e.Nodes, onnxio.NodeLabel(n, i)+": "+why)
		op := n.GetOpType()
		if custom {
			op = d + "." + op
		}
		if !seen[op] {
			seen[op] = true
			e.Ops = append(e.Ops, op)
		}
	}
	if len(e.Nodes) > 0 {
		sort.Strings(e.Ops)
		return e
	}
	return nil
}

func ioOf(vi *pb.ValueInfoProto, id int) (ioInfo, error) {
	info := ioInfo{name: vi.GetName(), id: id}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return info, fmt.Errorf("graph input/output %q is not a tensor", vi.GetName())
	}
	info.dt = onnxio.DataType(tt.GetElemType())
	if !supportedType(info.dt) {
		return info, fmt.Errorf("graph input/output %q has element type %s", vi.GetName(), onnxio.DataTypeName(info.dt))
	}
	if sh := tt.GetShape(); sh != nil {
		info.shape = []int{}
		for _, d := range sh.GetDim() {
			if dv, ok := d.GetValue().(*pb.TensorShapeProto_Dimension_DimValue); ok && d.GetDimParam() == "" {
				info.shape = append(info.shape, int(dv.DimValue))
			} else {
				info.shape = append(info.shape, -1)
			}
		}
	}
	return info, nil
}

func (s *Session) id(name string) int {
	if id, ok := s.ids[name]; ok {
		return id
	}
	s.ids[name] = len(s.names)
	s.names = append(s.names, name)
	return len(s.names) - 1
}

// ValueInfo describes a graph input or output: its element type and its
// declared shape, -1 for a symbolic or unknown size (Shape is nil when the
// model does not declare the rank).
type ValueInfo struct {
	Name  string
	Type  onnxio.DataType
	Shape []int
}

// Inputs describes the graph inputs Run needs, in model order.
func (s *Session) Inputs() []ValueInfo { return infos(s.inputs) }

// Outputs describes the graph outputs Run returns, in model order.
func (s *Session) Outputs() []ValueInfo { return infos(s.outputs) }

func infos(ios []ioInfo) []ValueInfo {
	out := make([]ValueInfo, len(ios))
	for i, io := range ios {
		out[i] = ValueInfo{Name: io.name, Type: io.dt, Shape: append([]int(nil), io.shape...)}
	}
	return out
}

// InputNames lists the graph inputs Run needs, in model order.
func (s *Session) InputNames() []string {
	var out []string
	for _, in := range s.inputs {
		out = append(out, in.name)
	}
	return out
}

// OutputNames lists the graph outputs Run returns, in model order.
func (s *Session) OutputNames() []string {
	var out []string
	for _, o := range s.outputs {
		out = append(out, o.name)
	}
	return out
}

// Run computes the model's outputs from inputs (by graph input name).
// Input tensors are only read; the returned tensors are new and owned by
// the caller. Safe for concurrent use.
//
// A kernel that panics (a bug, or a model whose values break an
// operator's preconditions, such as an out-of-range index) makes Run
// return an error rather than crash the caller.
func (s *Session) Run(inputs map[string]*Tensor) (out map[string]*Tensor, err error) {
	return s.RunObserved(inputs, nil)
}

// Observer sees each value a Run computes, right after its step ran:
// name is the value's name in the graph. t is only valid during the call
// (its buffer is reused by later steps): copy what must be kept. Values
// fused away (the BatchNormalization output between a Conv and its
// Relu, say) are not computed and so not observed; compile with
// Options.NoFusion to observe every node output. Values known when the
// plan is built (constants, shape computations) are not observed.
type Observer func(name string, t *Tensor)

// RunObserved is Run calling observe (if not nil) on every value it
// computes, in execution order, on the calling goroutine: calibration
// uses it to see activation ranges.
func (s *Session) RunObserved(inputs map[string]*Tensor, observe Observer) (out map[string]*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("engine: internal error: %v", r)
		}
	}()
	var key strings.Builder
	for _, in := range s.inputs {
		t, ok := inputs[in.name]
		if !ok || t == nil {
			return nil, fmt.Errorf("engine: input %q missing", in.name)
		}
		if t.Type != in.dt {
			return nil, fmt.Errorf("engine: input %q is %s, the model wants %s", in.name, onnxio.DataTypeName(t.Type), onnxio.DataTypeName(in.dt))
		}
		if in.shape != nil {
			bad := len(t.Shape) != len(in.shape)
			for i := 0; !bad && i < len(in.shape); i++ {
				bad = in.shape[i] >= 0 && in.shape[i] != t.Shape[i]
			}
			if bad {
				return nil, fmt.Errorf("engine: input %q has shape %v, the model wants %v (-1: any size)", in.name, t.Shape, in.shape)
			}
		}
		if !t.hasData() || t.Len() != dataLen(t) {
			return nil, fmt.Errorf("engine: input %q: data length %d does not match shape %v", in.name, dataLen(t), t.Shape)
		}
		key.WriteString(shapeString(t.Shape))
	}
	if len(inputs) != len(s.inputs) {
		for name := range inputs {
			if _, ok := s.ids[name]; !ok {
				return nil, fmt.Errorf("engine: the model has no input %q", name)
			}
		}
	}
	p, err := s.planFor(key.String(), inputs)
	if err != nil {
		return nil, err
	}
	return p.run(s, inputs, observe)
}

func dataLen(t *Tensor) int {
	switch t.Type {
	case onnxio.Float:
		return len(t.F32)
	case onnxio.Int64:
		return len(t.I64)
	case onnxio.Int32:
		return len(t.I32)
	case onnxio.Uint8, onnxio.Uint4:
		return len(t.U8)
	case onnxio.Int8, onnxio.Int4:
		return len(t.I8)
	case onnxio.Int16:
		return len(t.I16)
	case onnxio.Uint16:
		return len(t.U16)
	case onnxio.Uint64:
		return len(t.U64)
	case onnxio.Bool:
		return len(t.Bool)
	}
	return -1
}

// maxPlans bounds the per-shape plan cache; past it the oldest is dropped.
const maxPlans = 16

func (s *Session) planFor(key string, inputs map[string]*Tensor) (*plan, error) {
	s.mu.Lock()
	p := s.plans[key]
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := s.newPlan(inputs)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.plans[key]; q != nil {
		return q, nil
	}
	if len(s.plans) >= maxPlans {
		for k := range s.plans {
			delete(s.plans, k)
			break
		}
	}
	s.plans[key] = p
	return p, nil
}

var errNoData = errors.New("needs a value that is only known at run time (data-dependent shapes are not supported)")

// checkSpecs refuses outputs larger than limit bytes (or whose element
// count overflows) before anything is allocated for them.
func checkSpecs(specs []spec, limit int64) error {
	for _, sp := range specs {
		n := int64(1)
		for _, d := range sp.shape {
			if d < 0 {
				return fmt.Errorf("output shape %v has a negative size", sp.shape)
			}
			if d != 0 && n > limit/int64(d) {
				return fmt.Errorf("output shape %v is larger than the %d-byte limit per tensor (Options.MaxTensorBytes)", sp.shape, limit)
			}
			n *= int64(d)
		}
		if b := int64(max(onnxio.ElemBits(sp.dt), 8)) / 8; n > limit/b {
			return fmt.Errorf("output shape %v of %s is larger than the %d-byte limit per tensor (Options.MaxTensorBytes)", sp.shape, onnxio.DataTypeName(sp.dt), limit)
		}
	}
	return nil
}

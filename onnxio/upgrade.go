package onnxio

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// MaxUpgradeOpset is the newest default-domain opset UpgradeOpset converts
// to, and MinUpgradeOpset the oldest it converts from.
const (
	MaxUpgradeOpset = 21
	MinUpgradeOpset = 7
)

// UpgradeOpset converts every node of the default domain ("" or "ai.onnx")
// in the main graph and its subgraphs (If, Loop, Scan bodies) from the
// model's opset to target, then sets the opset import to target and raises
// the IR version to the one that opset needs (opset 21 needs IR 10).
// Nodes of other domains, model-local functions (which import their own
// opsets) and training_info graphs are left as they are.
//
// target must lie in [current opset, MaxUpgradeOpset]; target equal to the
// current opset changes nothing. Models below opset 7 are refused.
//
// It is all-or-nothing: every node is converted (into new nodes, the
// model untouched) before anything is committed, so on error the model is
// unchanged. A model using operators whose version history this package
// does not know, or that are not defined at the model's opset, gets one
// error listing every such operator and node.
//
// The conversions, at the opset version where the operator changed (every
// other version change from 7 to 21 only widened the type sets, added
// attributes whose defaults keep the old behaviour, or allowed negative
// axes, so the node stays as it is):
//
//	Clip 11                    min, max attributes -> optional inputs of the input's type
//	Pad 11                     pads, value attributes -> pads, constant_value inputs
//	Slice 10                   starts, ends, axes attributes -> inputs
//	TopK 10                    k attribute -> input
//	Squeeze, Unsqueeze 13      axes attribute -> input
//	Split 13                   split attribute -> input
//	Split 18                   no split input: num_outputs = number of outputs (required at 18)
//	ReduceSum 13               axes attribute -> input
//	Reduce{Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare} 18
//	                           axes attribute -> input
//	Softmax, LogSoftmax, Hardmax 13
//	                           old: coerce to 2-D at axis, new: along axis. Unchanged when
//	                           axis is the last one (axis -1, or the rank is declared);
//	                           otherwise Flatten(axis) -> op(axis -1) -> Reshape(Shape(x))
//	Dropout 10                 mask output (T -> bool) dropped; an error if it is used
//	Dropout 12                 ratio attribute -> input; mask output dropped, an error if used
//	                           (its value outside training was unspecified before)
//	BatchNormalization 9       spatial attribute removed (spatial=0 is an error)
//	BatchNormalization 14      unused training outputs dropped; used ones are an error
//	Upsample 9                 scales attribute -> input
//	Upsample 10 (deprecated)   -> Resize-10
//	Resize 11                  (X, scales) -> (X, roi, scales) with
//	                           coordinate_transformation_mode asymmetric and, for
//	                           nearest, nearest_mode floor when upsampling and ceil when
//	                           downsampling, as Resize-10 rounds (scales must be constant
//	                           unless the node was an Upsample, whose scales are >= 1)
//	Resize 13                  tf_half_pixel_for_nn (removed) -> half_pixel with an
//	                           equivalent nearest_mode
//	Scatter 11 (deprecated)    -> ScatterElements
//	RoiAlign 16                coordinate_transformation_mode output_half_pixel (the old
//	                           behaviour; the new default is half_pixel)
//	GridSample 20              mode bilinear -> linear, bicubic -> cubic
//	GroupNormalization 21      per-group scale and bias -> per-channel, expanded at run time
//
// Not converted (an error): Scan 8 -> 9 (batch axis removed), DFT 17 -> 20
// (axis attribute moved to an input with a new default).
//
// Clip's and Pad's new inputs take the data's element type, which comes
// from declarations (graph inputs, value_info, initializers, Constant
// nodes) carried forward through the nodes; where it cannot be told the
// node is an error asking for a value_info. Softmax's rank likewise comes
// from declarations only; without one the Flatten form, correct for any
// rank, is used.
func (m *Model) UpgradeOpset(target int64) error {
	from := m.Opset("")
	switch {
	case from == 0:
		return fmt.Errorf("upgrade opset: the model imports no default-domain (ai.onnx) opset")
	case from < MinUpgradeOpset:
		return fmt.Errorf("upgrade opset: the model is at opset %d; upgrading needs opset %d or newer (older operator versions are not supported)", from, MinUpgradeOpset)
	case target < from:
		return fmt.Errorf("upgrade opset: target opset %d is below the model's opset %d; only upgrades are supported", target, from)
	case target > MaxUpgradeOpset:
		return fmt.Errorf("upgrade opset: target opset %d is beyond %d, the newest this qtool knows", target, MaxUpgradeOpset)
	case target == from:
		return nil
	}
	u := &upgrader{m: m, from: from, target: target, namer: NewNamer(m.Graph()), hints: map[*pb.NodeProto]string{}}
	root := u.newScope(m.Graph(), nil)
	u.planGraph(root)
	if err := u.err(); err != nil {
		return err
	}
	// Commit: nothing below can fail.
	for _, s := range u.scopes {
		s.g.Node = s.nodes
		s.g.Initializer = append(s.g.Initializer, s.inits...)
		if len(s.dropped) > 0 {
			vi := s.g.ValueInfo[:0:0]
			for _, v := range s.g.ValueInfo {
				if !s.dropped[v.GetName()] {
					vi = append(vi, v)
				}
			}
			s.g.ValueInfo = vi
		}
	}
	m.SetOpset("", target)
	if ir := minIRVersion(target); m.Proto.GetIrVersion() < ir {
		m.Proto.IrVersion = proto.Int64(ir)
	}
	return nil
}

// minIRVersion is the IR version of the first ONNX release with opset v.
func minIRVersion(v int64) int64 {
	switch {
	case v >= 21:
		return 10
	case v >= 19:
		return 9
	case v >= 15:
		return 8
	case v >= 12:
		return 7
	case v >= 11:
		return 6
	case v >= 10:
		return 5
	case v >= 9:
		return 4
	}
	return 3
}

// converter rewrites node n, a private copy expressed in the operator's
// previous version, into nodes expressed at version c.version. It returns
// n itself (edited) or its replacements, the last of which must produce
// n's outputs.
type converter func(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error)

// change is a version at which an operator changed in a way a node has to
// be rewritten for. convert nil means qtool cannot rewrite it; why says
// what changed.
type change struct {
	version int64
	convert converter
	why     string
}

// introduced lists the default-domain operators by the opset version that
// introduced them. Every version change of these operators up to opset 21
// that is not in changes is compatible: a node valid at the old version is
// valid, and means the same, at the new one. Besides type-set extensions
// (bfloat16 at 13, integer types for Relu/Add/... at 14, float8 at 19,
// int4 at 21 and the like), these compatible changes happened:
//
//	8   Max/Min/Sum/Mean broadcast; MaxPool indices output, storage_order
//	9   Gemm/MatMul/PRelu/Flatten/Constant types; Cast to/from string
//	10  MaxPool/AveragePool ceil_mode (default 0), MaxPool dilations
//	11  negative axes everywhere; Gather/OneHot negative indices; TopK largest,
//	    sorted (default 1); DepthToSpace mode (default DCR); Gemm C optional;
//	    Constant sparse_value; If branches of different shapes
//	12  ArgMax/ArgMin select_last_index (default 0); GatherND batch_dims (default
//	    0); Constant value_* attributes; Pow exponent type
//	13  QuantizeLinear/DequantizeLinear axis (a scalar scale stays per-tensor)
//	14  Reshape allowzero (default 0); RNN/GRU/LSTM layout (default 0)
//	15  Shape start/end
//	16  ScatterND/ScatterElements reduction (default none)
//	18  Pad axes input; Resize antialias, axes, keep_aspect_ratio_policy;
//	    LpPool ceil_mode, dilations; Optional* accept tensors
//	19  AveragePool dilations; Pad wrap mode; Resize half_pixel_symmetric;
//	    Cast saturate (float8 only); QuantizeLinear float8
//	21  QuantizeLinear/DequantizeLinear block_size (default 0), output_dtype
//
// Ops that only exist before opset 7 in another form (Crop, ImageScaler and
// the other experimental operators) are not listed and so refused.
var introduced = map[int64][]string{
	1: {"Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast",
		"Ceil", "Clip", "Concat", "Constant", "Conv", "ConvTranspose", "DepthToSpace", "Div",
		"Dropout", "Elu", "Equal", "Exp", "Flatten", "Floor", "GRU", "Gather", "Gemm",
		"GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "HardSigmoid", "Hardmax",
		"Identity", "If", "InstanceNormalization", "LRN", "LSTM", "LeakyRelu", "Less", "Log",
		"LogSoftmax", "Loop", "LpNormalization", "LpPool", "MatMul", "Max", "MaxPool", "MaxRoiPool",
		"Mean", "Min", "Mul", "Neg", "Not", "Or", "PRelu", "Pad", "Pow", "RNN", "RandomNormal",
		"RandomNormalLike", "RandomUniform", "RandomUniformLike", "Reciprocal", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
		"ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Selu", "Shape", "Sigmoid",
		"Size", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt",
		"Squeeze", "Sub", "Sum", "Tanh", "Tile", "TopK", "Transpose", "Unsqueeze", "Upsample", "Xor"},
	7: {"Acos", "Asin", "Atan", "Cos", "Multinomial", "Sin", "Tan"},
	8: {"Expand", "Scan"},
	9: {"Acosh", "Asinh", "Atanh", "Compress", "ConstantOfShape", "Cosh", "Erf", "EyeLike", "IsNaN",
		"MaxUnpool", "MeanVarianceNormalization", "NonZero", "OneHot", "Scatter", "Shrink", "Sign",
		"Sinh", "TfIdfVectorizer", "Where"},
	10: {"ConvInteger", "DequantizeLinear", "IsInf", "MatMulInteger", "Mod", "NonMaxSuppression",
		"QLinearConv", "QLinearMatMul", "QuantizeLinear", "Resize", "ReverseSequence", "RoiAlign",
		"StringNormalizer", "ThresholdedRelu"},
	11: {"BitShift", "ConcatFromSequence", "CumSum", "Det", "DynamicQuantizeLinear", "GatherElements",
		"GatherND", "Range", "Round", "ScatterElements", "ScatterND", "SequenceAt", "SequenceConstruct",
		"SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SplitToSequence", "Unique"},
	12: {"Celu", "Einsum", "GreaterOrEqual", "LessOrEqual", "NegativeLogLikelihoodLoss",
		"SoftmaxCrossEntropyLoss"},
	14: {"HardSwish", "Trilu"},
	15: {"Bernoulli", "CastLike", "Optional", "OptionalGetElement", "OptionalHasElement"},
	16: {"GridSample"},
	17: {"BlackmanWindow", "DFT", "HammingWindow", "HannWindow", "LayerNormalization",
		"MelWeightMatrix", "STFT", "SequenceMap"},
	18: {"BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor", "CenterCropPad", "Col2Im",
		"GroupNormalization", "Mish"},
	19: {"DeformConv"},
	20: {"AffineGrid", "Gelu", "ImageDecoder", "RegexFullMatch", "StringConcat", "StringSplit"},
}

// deprecated operators: from the given version on, the schema only marks
// the operator as replaced, so a node still using it is read in its last
// real version and converted by the change at that version.
var deprecated = map[string]int64{"Upsample": 10, "Scatter": 11}

// reduceAxes are the reductions whose axes attribute became an input at 18.
var reduceAxes = []string{"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
	"ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare"}

// changes lists, per operator, the versions at which nodes must be
// rewritten, in increasing order.
var changes = map[string][]change{
	"Clip":       {{11, attrsToInputs(attrInput{"min", 1, asInputType}, attrInput{"max", 2, asInputType}), ""}},
	"Pad":        {{11, padToInputs, ""}},
	"Slice":      {{10, attrsToInputs(attrInput{"starts", 1, asInt64s}, attrInput{"ends", 2, asInt64s}, attrInput{"axes", 3, asInt64s}), ""}},
	"TopK":       {{10, attrsToInputs(attrInput{"k", 1, asInt64s}), ""}},
	"Squeeze":    {{13, attrsToInputs(attrInput{"axes", 1, asInt64s}), ""}},
	"Unsqueeze":  {{13, attrsToInputs(attrInput{"axes", 1, asInt64s}), ""}},
	"Split":      {{13, attrsToInputs(attrInput{"split", 1, asInt64s}), ""}, {18, splitNumOutputs, ""}},
	"ReduceSum":  {{13, attrsToInputs(attrInput{"axes", 1, asInt64s}), ""}},
	"Softmax":    {{13, softmaxAlongAxis, ""}},
	"LogSoftmax": {{13, softmaxAlongAxis, ""}},
	"Hardmax":    {{13, softmaxAlongAxis, ""}},
	"Dropout": {{10, dropUnusedOutputs(1, "Dropout-10 changed the mask's type from the input's to bool"), ""},
		{12, chain(dropUnusedOutputs(1, "the mask of Dropout before opset 12 has no defined value outside training (ONNX Runtime gives all false, Dropout-12 all true)"),
			attrsToInputs(attrInput{"ratio", 1, asFloat32})), ""}},
	"BatchNormalization": {{9, batchNormSpatial, ""}, {14, dropUnusedOutputs(1, "training-mode outputs changed meaning at opset 14"), ""}},
	"Upsample":           {{9, attrsToInputs(attrInput{"scales", 1, asFloat32s}), ""}, {10, upsampleToResize, ""}},
	"Resize":             {{11, resize10To11, ""}, {13, resizeTFHalfPixel, ""}},
	"Scatter":            {{11, renameOp("ScatterElements"), ""}},
	"RoiAlign":           {{16, setDefaultAttr("coordinate_transformation_mode", "output_half_pixel"), ""}},
	"GridSample":         {{20, gridSampleModes, ""}},
	"GroupNormalization": {{21, groupNormPerChannel, ""}},
	"Scan":               {{9, nil, "Scan-9 removed the batch axis and the sequence_lens input"}},
	"DFT":                {{20, nil, "DFT-20 moved axis to an input and changed its default"}},
}

func init() {
	for _, op := range reduceAxes {
		changes[op] = []change{{18, attrsToInputs(attrInput{"axes", 1, asInt64s}), ""}}
	}
}

// introducedAt is introduced turned around: operator -> first version.
var introducedAt = func() map[string]int64 {
	m := map[string]int64{}
	for v, ops := range introduced {
		for _, op := range ops {
			m[op] = v
		}
	}
	return m
}()

// isDefaultDomain reports whether n belongs to the standard operator set.
func isDefaultDomain(n *pb.NodeProto) bool {
	return n.GetDomain() == "" || n.GetDomain() == "ai.onnx"
}

// upgrader holds one UpgradeOpset run.
type upgrader struct {
	m            *Model
	from, target int64
	namer        *Namer
	scopes       []*scope
	// hints carry facts from one conversion step to a later one on the
	// same node (Upsample -> Resize-10 -> Resize-11 knows the scales are
	// at least 1).
	hints map[*pb.NodeProto]string

	unknown  map[string][]string // op type -> nodes without a known history
	problems []string
}

// scope is one graph being converted, with what is known about its values.
type scope struct {
	g      *pb.GraphProto
	parent *scope
	// declared types of values: graph inputs, outputs, value_info.
	declared map[string]*pb.TypeProto_Tensor
	consts   map[string]*pb.TensorProto // initializers and Constant outputs
	elem     map[string]DataType        // inferred element types
	used     map[string]bool            // values read by a node, a subgraph or a graph output

	nodes   []*pb.NodeProto // the converted node list
	inits   []*pb.TensorProto
	dropped map[string]bool // outputs removed by a conversion
}

func (u *upgrader) newScope(g *pb.GraphProto, parent *scope) *scope {
	s := &scope{g: g, parent: parent, declared: map[string]*pb.TypeProto_Tensor{},
		consts: map[string]*pb.TensorProto{}, elem: map[string]DataType{}, used: map[string]bool{},
		dropped: map[string]bool{}}
	for _, list := range [][]*pb.ValueInfoProto{g.GetInput(), g.GetOutput(), g.GetValueInfo()} {
		for _, vi := range list {
			if tt := vi.GetType().GetTensorType(); tt != nil {
				s.declared[vi.GetName()] = tt
			}
		}
	}
	for _, t := range g.GetInitializer() {
		s.consts[t.GetName()] = t
	}
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Constant" && isDefaultDomain(n) && len(n.GetOutput()) == 1 {
			if t := constantTensor(n); t != nil {
				s.consts[n.GetOutput()[0]] = t
			}
		}
	}
	ix := NewIndex(g)
	for name := range ix.Consumers {
		s.used[name] = true
	}
	for _, o := range g.GetOutput() {
		s.used[o.GetName()] = true
	}
	u.scopes = append(u.scopes, s)
	u.inferTypes(s)
	return s
}

// label names node n (index i) for messages, with its subgraph if any.
func (s *scope) label(n *pb.NodeProto, i int) string {
	if s.parent == nil {
		return NodeLabel(n, i)
	}
	return fmt.Sprintf("%s in subgraph %q", NodeLabel(n, i), s.g.GetName())
}

// planGraph converts s's nodes into s.nodes, recursing into subgraphs.
func (u *upgrader) planGraph(s *scope) {
	for i, n := range s.g.GetNode() {
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				u.planGraph(u.newScope(sg, s))
			}
		}
		if !isDefaultDomain(n) {
			s.nodes = append(s.nodes, n)
			continue
		}
		op := n.GetOpType()
		since, known := introducedAt[op]
		if !known || since > u.from {
			if u.unknown == nil {
				u.unknown = map[string][]string{}
			}
			label := s.label(n, i)
			if known {
				label += fmt.Sprintf(" (%s first appeared at opset %d)", op, since)
			}
			u.unknown[op] = append(u.unknown[op], label)
			continue
		}
		from := u.from
		if d, ok := deprecated[op]; ok && from >= d {
			from = d - 1
		}
		out, err := u.convert(s, n, from, "node "+s.label(n, i))
		if err != nil {
			u.problems = append(u.problems, err.Error())
			continue
		}
		s.nodes = append(s.nodes, out...)
	}
}

// convert brings n, expressed at version from, up to u.target. A node
// without changes in that range is returned as it is (not copied).
func (u *upgrader) convert(s *scope, n *pb.NodeProto, from int64, label string) ([]*pb.NodeProto, error) {
	for _, ch := range changes[n.GetOpType()] {
		if ch.version <= from || ch.version > u.target {
			continue
		}
		if ch.convert == nil {
			return nil, fmt.Errorf("%s: cannot convert %s to opset %d: %s", label, n.GetOpType(), ch.version, ch.why)
		}
		c := &convCtx{u: u, s: s, version: ch.version, label: label}
		op := n.GetOpType()
		cp := proto.Clone(n).(*pb.NodeProto)
		if h, ok := u.hints[n]; ok {
			u.hints[cp] = h
		}
		out, err := ch.convert(c, cp)
		if err != nil {
			return nil, fmt.Errorf("%s: converting %s to opset %d: %w", label, op, ch.version, err)
		}
		if len(out) == 1 && out[0].GetOpType() == op {
			n = out[0]
			continue
		}
		// The node became other nodes: each goes on from this version.
		var all []*pb.NodeProto
		for _, o := range out {
			more, err := u.convert(s, o, ch.version, label)
			if err != nil {
				return nil, err
			}
			all = append(all, more...)
		}
		return all, nil
	}
	return []*pb.NodeProto{n}, nil
}

// err gathers every problem found into one error.
func (u *upgrader) err() error {
	var lines []string
	if len(u.unknown) > 0 {
		ops := make([]string, 0, len(u.unknown))
		for op := range u.unknown {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		var parts []string
		for _, op := range ops {
			parts = append(parts, fmt.Sprintf("%s: %s", op, strings.Join(u.unknown[op], ", ")))
		}
		lines = append(lines, fmt.Sprintf("no known version history at opset %d for %d operator type(s) (%s); nothing was changed",
			u.from, len(ops), strings.Join(parts, "; ")))
	}
	lines = append(lines, u.problems...)
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("upgrade opset %d -> %d: %s", u.from, u.target, strings.Join(lines, "; "))
}

package onnxio

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// convCtx is what a converter sees: the graph the node lives in and the
// version it converts to.
type convCtx struct {
	u       *upgrader
	s       *scope
	version int64
	label   string
}

// base is the stem for names derived from n.
func base(n *pb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	if len(n.GetOutput()) > 0 && n.GetOutput()[0] != "" {
		return n.GetOutput()[0]
	}
	return n.GetOpType()
}

// addConst adds t to the node's graph as an initializer with a fresh name
// and returns the name.
func (c *convCtx) addConst(prefix string, t *pb.TensorProto) string {
	name := c.u.namer.Fresh(prefix)
	t.Name = proto.String(name)
	c.s.inits = append(c.s.inits, t)
	c.s.consts[name] = t
	return name
}

// node makes a new node with a fresh name derived from prefix.
func (c *convCtx) node(op, prefix string, in, out []string, attrs ...*pb.AttributeProto) *pb.NodeProto {
	return &pb.NodeProto{OpType: proto.String(op), Name: proto.String(c.u.namer.Fresh(prefix)),
		Input: in, Output: out, Attribute: attrs}
}

func findAttr(n *pb.NodeProto, name string) *pb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// takeAttr removes attribute name from n and returns it (nil if absent).
func takeAttr(n *pb.NodeProto, name string) *pb.AttributeProto {
	for i, a := range n.GetAttribute() {
		if a.GetName() == name {
			n.Attribute = append(n.Attribute[:i:i], n.Attribute[i+1:]...)
			return a
		}
	}
	return nil
}

// setAttr replaces or adds a.
func setAttr(n *pb.NodeProto, a *pb.AttributeProto) {
	for i, old := range n.GetAttribute() {
		if old.GetName() == a.GetName() {
			n.Attribute[i] = a
			return
		}
	}
	n.Attribute = append(n.Attribute, a)
}

func intAttr(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func stringAttr(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func stringAttrOr(n *pb.NodeProto, name, def string) string {
	if a := findAttr(n, name); a != nil {
		return string(a.GetS())
	}
	return def
}

// setInput puts name at input index i, padding with "" (absent optional
// inputs) as needed.
func setInput(n *pb.NodeProto, i int, name string) {
	for len(n.Input) <= i {
		n.Input = append(n.Input, "")
	}
	n.Input[i] = name
}

// attrInput describes an attribute that became input index input; make
// builds the input's tensor from the attribute.
type attrInput struct {
	attr  string
	input int
	make  func(c *convCtx, n *pb.NodeProto, a *pb.AttributeProto) (*pb.TensorProto, error)
}

// attrsToInputs moves attributes to inputs. An absent attribute leaves the
// optional input absent.
func attrsToInputs(specs ...attrInput) converter {
	return func(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
		first := specs[0].input
		if len(n.GetInput()) > first {
			return nil, fmt.Errorf("has %d inputs, but before opset %d %s takes %d (attribute %s is an input only from opset %d on): the model is not valid at its opset",
				len(n.GetInput()), c.version, n.GetOpType(), first, specs[0].attr, c.version)
		}
		for _, sp := range specs {
			a := takeAttr(n, sp.attr)
			if a == nil {
				continue
			}
			t, err := sp.make(c, n, a)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", sp.attr, err)
			}
			setInput(n, sp.input, c.addConst(base(n)+"_"+sp.attr, t))
		}
		return []*pb.NodeProto{n}, nil
	}
}

// asInt64s: an ints attribute (or an int one, as TopK's k) as a 1-D int64 tensor.
func asInt64s(_ *convCtx, _ *pb.NodeProto, a *pb.AttributeProto) (*pb.TensorProto, error) {
	v := a.GetInts()
	if a.GetType() == pb.AttributeProto_INT || (a.Type == nil && a.I != nil) {
		v = []int64{a.GetI()}
	}
	return NewTensor("", Int64, []int64{int64(len(v))}, v)
}

// asFloat32: a float attribute as a float32 scalar.
func asFloat32(_ *convCtx, _ *pb.NodeProto, a *pb.AttributeProto) (*pb.TensorProto, error) {
	return NewTensor("", Float, nil, []float32{a.GetF()})
}

// asFloat32s: a floats attribute as a 1-D float32 tensor.
func asFloat32s(_ *convCtx, _ *pb.NodeProto, a *pb.AttributeProto) (*pb.TensorProto, error) {
	return NewTensor("", Float, []int64{int64(len(a.GetFloats()))}, a.GetFloats())
}

// asInputType: a float attribute as a scalar of the node's data type.
func asInputType(c *convCtx, n *pb.NodeProto, a *pb.AttributeProto) (*pb.TensorProto, error) {
	if len(n.GetInput()) == 0 {
		return nil, errors.New("node has no input")
	}
	return scalarOf(c.s.elemType(n.GetInput()[0]), n.GetInput()[0], float64(a.GetF()))
}

// scalarOf makes a scalar of a floating type holding v.
func scalarOf(dt DataType, of string, v float64) (*pb.TensorProto, error) {
	switch dt {
	case Float:
		return NewTensor("", Float, nil, []float32{float32(v)})
	case Double:
		return NewTensor("", Double, nil, []float64{v})
	case Float16:
		return NewTensor("", Float16, nil, []F16{F16From(float32(v))})
	case BFloat16:
		return NewTensor("", BFloat16, nil, []BF16{BF16From(float32(v))})
	case 0:
		return nil, fmt.Errorf("the element type of %q is unknown (declare it in value_info); the new input must have that type", of)
	}
	return nil, fmt.Errorf("%q is %s; only floating types are allowed here", of, DataTypeName(dt))
}

// padToInputs: Pad-2 -> Pad-11. pads becomes input 1; value becomes the
// constant_value input (of the data's type) when it matters.
func padToInputs(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	if len(n.GetInput()) > 1 {
		return nil, fmt.Errorf("has %d inputs, but Pad before opset 11 takes 1: the model is not valid at its opset", len(n.GetInput()))
	}
	pads := takeAttr(n, "pads")
	if pads == nil {
		return nil, errors.New("has no pads attribute (required before opset 11)")
	}
	t, err := asInt64s(c, n, pads)
	if err != nil {
		return nil, err
	}
	setInput(n, 1, c.addConst(base(n)+"_pads", t))
	value := takeAttr(n, "value")
	if value != nil && value.GetF() != 0 && stringAttrOr(n, "mode", "constant") == "constant" {
		t, err := scalarOf(c.s.elemType(n.GetInput()[0]), n.GetInput()[0], float64(value.GetF()))
		if err != nil {
			return nil, fmt.Errorf("attribute value: %w", err)
		}
		setInput(n, 2, c.addConst(base(n)+"_value", t))
	}
	return []*pb.NodeProto{n}, nil
}

// splitNumOutputs: from Split-18 on, a split without sizes needs
// num_outputs.
func splitNumOutputs(_ *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	if len(n.GetInput()) > 1 && n.GetInput()[1] != "" || findAttr(n, "num_outputs") != nil {
		return []*pb.NodeProto{n}, nil
	}
	setAttr(n, intAttr("num_outputs", int64(len(n.GetOutput()))))
	return []*pb.NodeProto{n}, nil
}

// softmaxAlongAxis: before opset 13 Softmax, LogSoftmax and Hardmax
// flattened the input to 2-D at axis (default 1) and worked along the
// second dimension; from 13 on they work along axis (default -1). The
// two agree when axis is the last dimension. Otherwise the old behaviour
// is spelled out: Flatten(axis) -> op(axis -1) -> Reshape to the input's
// shape.
func softmaxAlongAxis(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	if len(n.GetInput()) != 1 || len(n.GetOutput()) != 1 {
		return nil, fmt.Errorf("has %d inputs and %d outputs, want 1 and 1", len(n.GetInput()), len(n.GetOutput()))
	}
	axis := attrInt(n, "axis", 1)
	x := n.GetInput()[0]
	if axis == -1 {
		return []*pb.NodeProto{n}, nil
	}
	if r, ok := c.s.rank(x); ok {
		a := axis
		if a < 0 {
			a += int64(r)
		}
		if a == int64(r)-1 {
			setAttr(n, intAttr("axis", axis))
			return []*pb.NodeProto{n}, nil
		}
	}
	b := base(n)
	y := n.GetOutput()[0]
	flat := c.u.namer.Fresh(b + "_2d_in")
	out2d := c.u.namer.Fresh(b + "_2d_out")
	shape := c.u.namer.Fresh(b + "_in_shape")
	n.Input = []string{flat}
	n.Output = []string{out2d}
	setAttr(n, intAttr("axis", -1))
	return []*pb.NodeProto{
		c.node("Flatten", b+"_flatten", []string{x}, []string{flat}, intAttr("axis", axis)),
		n,
		c.node("Shape", b+"_shape", []string{x}, []string{shape}),
		c.node("Reshape", b+"_reshape", []string{out2d, shape}, []string{y}),
	}, nil
}

// dropUnusedOutputs removes outputs from index keep on, which changed
// meaning; it is an error if anything reads them.
func dropUnusedOutputs(keep int, why string) converter {
	return func(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
		if len(n.GetOutput()) <= keep {
			return []*pb.NodeProto{n}, nil
		}
		for _, o := range n.GetOutput()[keep:] {
			if o != "" && c.s.used[o] {
				return nil, fmt.Errorf("output %q is used, but %s", o, why)
			}
		}
		for _, o := range n.GetOutput()[keep:] {
			if o != "" {
				c.s.dropped[o] = true
			}
		}
		n.Output = n.Output[:keep]
		return []*pb.NodeProto{n}, nil
	}
}

// batchNormSpatial: BatchNormalization-9 dropped the spatial attribute,
// keeping only spatial=1 (statistics per channel).
func batchNormSpatial(_ *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	if a := takeAttr(n, "spatial"); a != nil && a.GetI() != 1 {
		return nil, fmt.Errorf("spatial=%d (statistics per activation, not per channel) has no equivalent from opset 9 on", a.GetI())
	}
	return []*pb.NodeProto{n}, nil
}

const hintUpsample = "upsample"

// upsampleToResize: Upsample-9 was deprecated at 10 for Resize-10, which
// has the same inputs, attribute and behaviour.
func upsampleToResize(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	n.OpType = proto.String("Resize")
	if a := findAttr(n, "mode"); a != nil && string(a.GetS()) == "bilinear" {
		setAttr(n, stringAttr("mode", "linear"))
	}
	c.u.hints[n] = hintUpsample // Upsample's scales are >= 1 by definition
	return []*pb.NodeProto{n}, nil
}

// resize10To11: Resize-11 put a roi input before scales and added the
// coordinate transformation (default half_pixel) and the nearest rounding
// (default round_prefer_floor). Resize-10 mapped output to input
// coordinates as x / scale (asymmetric) and, for nearest, rounded down
// when upsampling and up when downsampling (as ONNX's Resize-10 tests and
// ONNX Runtime do), which needs the scales to be known.
func resize10To11(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	if len(n.GetInput()) != 2 {
		return nil, fmt.Errorf("has %d inputs, want 2 (X, scales) before opset 11", len(n.GetInput()))
	}
	mode := stringAttrOr(n, "mode", "nearest")
	if mode == "nearest" {
		round := "floor"
		if c.u.hints[n] != hintUpsample {
			t := c.s.constant(n.GetInput()[1])
			if t == nil {
				return nil, fmt.Errorf("nearest mode with scales %q computed at run time: Resize-10 rounds up when downsampling and down when upsampling, and opset 11 needs one fixed rounding", n.GetInput()[1])
			}
			scales, err := Decode[float32](c.u.m, t)
			if err != nil {
				return nil, err
			}
			up, down := false, false
			for _, s := range scales {
				up = up || s > 1
				down = down || s < 1
			}
			if up && down {
				return nil, fmt.Errorf("nearest mode with scales %v that both up- and downsample: Resize-10 rounds each axis differently, opset 11 cannot", scales)
			}
			if down {
				round = "ceil"
			}
		}
		setAttr(n, stringAttr("nearest_mode", round))
	}
	setAttr(n, stringAttr("coordinate_transformation_mode", "asymmetric"))
	roi, err := NewTensor[float32]("", Float, []int64{0}, nil)
	if err != nil {
		return nil, err
	}
	n.Input = []string{n.Input[0], c.addConst(base(n)+"_roi", roi), n.Input[1]}
	return []*pb.NodeProto{n}, nil
}

// resizeTFHalfPixel: opset 13 removed the tf_half_pixel_for_nn coordinate
// transformation, x_in = (x_out + 0.5) / scale. With z = x_in - 0.5 (the
// half_pixel transformation), rounding x_in half down is ceil(z) and
// flooring x_in is rounding z half up; other roundings have no
// equivalent. Resize-13 also made roi optional: an empty constant roi is
// dropped.
func resizeTFHalfPixel(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	if len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		if t := c.s.constant(n.GetInput()[1]); t != nil && len(t.GetDims()) == 1 && t.GetDims()[0] == 0 {
			n.Input[1] = ""
		}
	}
	if stringAttrOr(n, "coordinate_transformation_mode", "half_pixel") != "tf_half_pixel_for_nn" {
		return []*pb.NodeProto{n}, nil
	}
	if m := stringAttrOr(n, "mode", "nearest"); m != "nearest" {
		return nil, fmt.Errorf("coordinate_transformation_mode tf_half_pixel_for_nn (removed at opset 13) with mode %s has no equivalent", m)
	}
	var round string
	switch nm := stringAttrOr(n, "nearest_mode", "round_prefer_floor"); nm {
	case "round_prefer_floor":
		round = "ceil"
	case "floor":
		round = "round_prefer_ceil"
	default:
		return nil, fmt.Errorf("coordinate_transformation_mode tf_half_pixel_for_nn (removed at opset 13) with nearest_mode %s has no equivalent", nm)
	}
	setAttr(n, stringAttr("coordinate_transformation_mode", "half_pixel"))
	setAttr(n, stringAttr("nearest_mode", round))
	return []*pb.NodeProto{n}, nil
}

// chain applies converters that each keep the node one node.
func chain(cs ...converter) converter {
	return func(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
		for _, f := range cs {
			out, err := f(c, n)
			if err != nil {
				return nil, err
			}
			n = out[0]
		}
		return []*pb.NodeProto{n}, nil
	}
}

// renameOp replaces a deprecated operator by its successor of the same
// meaning.
func renameOp(op string) converter {
	return func(_ *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
		n.OpType = proto.String(op)
		return []*pb.NodeProto{n}, nil
	}
}

// setDefaultAttr pins an attribute whose default changed to the old
// default.
func setDefaultAttr(name, old string) converter {
	return func(_ *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
		if findAttr(n, name) == nil {
			setAttr(n, stringAttr(name, old))
		}
		return []*pb.NodeProto{n}, nil
	}
}

// gridSampleModes: GridSample-20 renamed the modes bilinear and bicubic to
// linear and cubic.
func gridSampleModes(_ *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	switch stringAttrOr(n, "mode", "") {
	case "bilinear":
		setAttr(n, stringAttr("mode", "linear"))
	case "bicubic":
		setAttr(n, stringAttr("mode", "cubic"))
	}
	return []*pb.NodeProto{n}, nil
}

// groupNormPerChannel: GroupNormalization-18 took scale and bias per group
// (shape G), GroupNormalization-21 per channel (shape C). Each group's
// value is repeated over its C/G channels, at run time since C is only
// known then: Reshape(Expand(Unsqueeze(p, 1), [G, C/G]), [-1]).
func groupNormPerChannel(c *convCtx, n *pb.NodeProto) ([]*pb.NodeProto, error) {
	if len(n.GetInput()) != 3 {
		return nil, fmt.Errorf("has %d inputs, want 3", len(n.GetInput()))
	}
	g := findAttr(n, "num_groups")
	if g == nil {
		return nil, errors.New("has no num_groups attribute")
	}
	b := base(n)
	k := func(name string, v []int64) string {
		t, _ := NewTensor("", Int64, []int64{int64(len(v))}, v)
		return c.addConst(b+"_"+name, t)
	}
	groups, one, minus1 := k("groups", []int64{g.GetI()}), k("axis1", []int64{1}), k("flat", []int64{-1})
	ch, per, target := c.u.namer.Fresh(b+"_channels"), c.u.namer.Fresh(b+"_per_group"), c.u.namer.Fresh(b+"_group_shape")
	out := []*pb.NodeProto{
		c.node("Shape", b+"_shape", []string{n.Input[0]}, []string{ch}, intAttr("start", 1), intAttr("end", 2)),
		c.node("Div", b+"_div", []string{ch, groups}, []string{per}),
		c.node("Concat", b+"_concat", []string{groups, per}, []string{target}, intAttr("axis", 0)),
	}
	for i, p := range []string{"scale", "bias"} {
		col, wide, flat := c.u.namer.Fresh(b+"_"+p+"_col"), c.u.namer.Fresh(b+"_"+p+"_wide"), c.u.namer.Fresh(b+"_"+p+"_per_channel")
		out = append(out,
			c.node("Unsqueeze", b+"_"+p+"_unsqueeze", []string{n.Input[i+1], one}, []string{col}),
			c.node("Expand", b+"_"+p+"_expand", []string{col, target}, []string{wide}),
			c.node("Reshape", b+"_"+p+"_reshape", []string{wide, minus1}, []string{flat}))
		n.Input[i+1] = flat
	}
	return append(out, n), nil
}

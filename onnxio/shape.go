package onnxio

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Dim is one dimension of a shape: a known size, or (Param != "") an
// unknown size with a symbolic name. Value is meaningful only when Param
// is empty.
//
// Names come from the model's dim_param entries ("N", "batch"), from the
// caller, or from inference: a size computed from symbols is written as an
// expression over them ("floor((H+1)/2)", "3*H*W", "2*floor((W+31)/32)"),
// and a size nothing can be said about gets a fresh name "unk__1",
// "unk__2"... Equal names within one InferShapes result mean sizes known
// to be equal.
type Dim struct {
	Value int64
	Param string
}

// Shape is a tensor's dimensions, outermost first. A scalar has an empty
// (non-nil or nil) Shape.
type Shape []Dim

// Known reports whether every dimension has a known size.
func (s Shape) Known() bool {
	for _, d := range s {
		if d.Param != "" {
			return false
		}
	}
	return true
}

// Ints returns the sizes of a fully known shape, or nil and false.
func (s Shape) Ints() ([]int64, bool) {
	out := make([]int64, len(s))
	for i, d := range s {
		if d.Param != "" || d.Value < 0 {
			return nil, false
		}
		out[i] = d.Value
	}
	return out, true
}

// Elements is the number of elements of a fully known shape. It reports
// false when a size is symbolic or the count passes what any real tensor
// holds (2^48).
func (s Shape) Elements() (int64, bool) {
	ints, ok := s.Ints()
	if !ok {
		return 0, false
	}
	n, err := NumElements(ints)
	return n, err == nil
}

// String writes the shape as "[N,3,224,224]"; a scalar is "[]".
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.String())
	}
	b.WriteByte(']')
	return b.String()
}

// String is the dimension's size or its symbolic name.
func (d Dim) String() string {
	if d.Param != "" {
		return d.Param
	}
	return strconv.FormatInt(d.Value, 10)
}

// ParseShape reads a comma-separated list of sizes and symbolic names, as
// in the command line's --shape x=1,3,224,224 or x=N,3,H,W. The empty
// string is a scalar.
func ParseShape(s string) (Shape, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Shape{}, nil
	}
	var out Shape
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("shape %q: empty dimension", s)
		}
		if c := f[0]; c == '-' || c == '+' || (c >= '0' && c <= '9') {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil || v < 0 || v > maxElements {
				return nil, fmt.Errorf("shape %q: dimension %q is not a size from 0 to 2^48", s, f)
			}
			out = append(out, Dim{Value: v})
			continue
		}
		out = append(out, Dim{Param: f})
	}
	return out, nil
}

// ValueType is what shape inference says about one value: its element
// type (0, UNDEFINED, when unknown) and, when RankKnown, its shape.
type ValueType struct {
	Elem      DataType
	Shape     Shape
	RankKnown bool
}

// String writes the type as "float32[N,3,224,224]", with "?" for an
// unknown element type or rank.
func (t ValueType) String() string {
	e := "?"
	if t.Elem != 0 {
		e = DataTypeName(t.Elem)
	}
	if !t.RankKnown {
		return e + "[?]"
	}
	return e + t.Shape.String()
}

// maxPropagated bounds the element count of tensors whose contents shape
// inference follows (shape tensors, small constants).
const maxPropagated = 1024

// InferShapes gives every value of the main graph (graph inputs,
// initializers and node outputs) an element type and, where it can be
// known, a shape.
//
// Graph inputs take their shapes from the model, with dims that have
// neither dim_value nor dim_param getting fresh symbols; inputs overrides
// them by name (an unknown name, a rank different from the model's or a
// size contradicting a fixed one is an error; a symbol given for a fixed
// size keeps the size). Initializers that are also
// graph inputs count as constants unless inputs names them.
//
// Inference follows the contents of small integer tensors (Shape, Gather,
// Concat, Cast, Slice, arithmetic and constants), so Reshape, Expand,
// Resize, Tile, ConstantOfShape and the like get concrete or symbolic
// output shapes. Operators it does not know, in any domain, give outputs
// of unknown rank; a known operator whose inputs cannot be valid (say a
// Conv whose weight has the wrong rank, or a Reshape to a different
// element count) is an error naming the node and its input shapes.
//
// Where a symbolic size leaves the answer open, inference assumes the
// usual case rather than give up: a symbolic size is taken not to be 1
// when Squeeze has no axes, and to be at least as large as constant Slice
// bounds. Two different symbols that must broadcast give a fresh symbol.
// Shapes are for ai.onnx opsets 7 to 21 (older models mostly work too);
// the ai.onnx version the model imports selects each operator's form.
func InferShapes(m *Model, inputs map[string]Shape) (map[string]ValueType, error) {
	vals, err := inferTypes(m, inputs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ValueType, len(vals))
	for name, t := range vals {
		out[name] = t.valueType()
	}
	return out, nil
}

// AnnotateShapes runs InferShapes and records the result in the model:
// graph.value_info gets one entry per node output that is not a graph
// output (replacing what it held), and graph outputs get their inferred
// type. Values of unknown type are left out.
func (m *Model) AnnotateShapes(inputs map[string]Shape) error {
	types, err := InferShapes(m, inputs)
	if err != nil {
		return err
	}
	g := m.Graph()
	isOut := map[string]bool{}
	for _, o := range g.GetOutput() {
		isOut[o.GetName()] = true
		if t, ok := types[o.GetName()]; ok && t.Elem != 0 {
			o.Type = t.typeProto()
		}
	}
	var vi []*pb.ValueInfoProto
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if t, ok := types[o]; ok && o != "" && !isOut[o] && t.Elem != 0 {
				vi = append(vi, &pb.ValueInfoProto{Name: proto.String(o), Type: t.typeProto()})
			}
		}
	}
	g.ValueInfo = vi
	return nil
}

func (t ValueType) typeProto() *pb.TypeProto {
	tt := &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(t.Elem))}
	if t.RankKnown {
		sp := &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{}}
		for _, d := range t.Shape {
			if d.Param != "" {
				sp.Dim = append(sp.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}})
			} else {
				sp.Dim = append(sp.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d.Value}})
			}
		}
		tt.Shape = sp
	}
	return &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: tt}}
}

// tinfo is what inference knows about one value while it runs.
type tinfo struct {
	elem DataType
	rank bool    // rank known; dims valid
	dims []*expr // sizes, constant or symbolic
	val  *value  // contents, when small and known
}

// value holds a small tensor's contents, row-major, for a tinfo whose
// dims are all constant. Integer, bool and integral float contents are
// ints (nil where one element is unknown); other float contents are
// floats.
type value struct {
	ints   []*expr
	floats []float64
}

func (v *value) len() int {
	if v.floats != nil {
		return len(v.floats)
	}
	return len(v.ints)
}

// intAt is element i as an integer expression, nil when unknown or not an
// integer.
func (v *value) intAt(i int) *expr {
	if v.floats != nil {
		f := v.floats[i]
		if f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return cst(int64(f))
		}
		return nil
	}
	return v.ints[i]
}

// floatAt is element i as a number, false when unknown or symbolic.
func (v *value) floatAt(i int) (float64, bool) {
	if v.floats != nil {
		return v.floats[i], true
	}
	if v.ints[i] == nil {
		return 0, false
	}
	c, ok := v.ints[i].constVal()
	return float64(c), ok
}

// constInts returns every element as an int64, false if one is unknown,
// symbolic or not an integer.
func (v *value) constInts() ([]int64, bool) {
	out := make([]int64, v.len())
	for i := range out {
		e := v.intAt(i)
		if e == nil {
			return nil, false
		}
		c, ok := e.constVal()
		if !ok {
			return nil, false
		}
		out[i] = c
	}
	return out, true
}

func (t *tinfo) valueType() ValueType {
	vt := ValueType{Elem: t.elem, RankKnown: t.rank}
	if t.rank {
		vt.Shape = make(Shape, len(t.dims))
		for i, d := range t.dims {
			if c, ok := d.constVal(); ok {
				vt.Shape[i] = Dim{Value: c}
			} else {
				vt.Shape[i] = Dim{Param: d.str}
			}
		}
	}
	return vt
}

func (t *tinfo) String() string {
	if t == nil {
		return "(absent)"
	}
	return t.valueType().String()
}

// numel is the element count when every dim is constant.
func (t *tinfo) numel() (int64, bool) {
	if t == nil || !t.rank {
		return 0, false
	}
	n := int64(1)
	for _, d := range t.dims {
		c, ok := d.constVal()
		if !ok || c < 0 {
			return 0, false
		}
		var ov bool
		if n, ov = mulOv(n, c); ov || n > maxElements {
			return 0, false
		}
	}
	return n, true
}

// inferrer holds one InferShapes run.
type inferrer struct {
	m     *Model
	opset int64
	vals  map[string]*tinfo
	used  map[string]bool // symbol names taken
	next  int
}

func (in *inferrer) fresh() *expr {
	for {
		in.next++
		s := "unk__" + strconv.Itoa(in.next)
		if !in.used[s] {
			in.used[s] = true
			return symbol(s)
		}
	}
}

// defaultOpset is assumed for a model that imports no ai.onnx version.
const defaultOpset = 21

func inferTypes(m *Model, inputs map[string]Shape) (map[string]*tinfo, error) {
	g := m.Graph()
	if g == nil {
		return nil, errors.New("infer shapes: model has no graph")
	}
	in := &inferrer{m: m, opset: m.Opset(""), vals: map[string]*tinfo{}, used: map[string]bool{}}
	if in.opset == 0 {
		in.opset = defaultOpset
	}
	for _, vis := range [][]*pb.ValueInfoProto{g.GetInput(), g.GetOutput(), g.GetValueInfo()} {
		for _, vi := range vis {
			for _, d := range vi.GetType().GetTensorType().GetShape().GetDim() {
				if p := d.GetDimParam(); p != "" {
					in.used[p] = true
				}
			}
		}
	}
	for _, s := range inputs {
		for _, d := range s {
			if d.Param != "" {
				in.used[d.Param] = true
			}
		}
	}

	for _, t := range g.GetInitializer() {
		ti, err := in.tensorInfo(t)
		if err != nil {
			return nil, fmt.Errorf("infer shapes: initializer: %w", err)
		}
		in.vals[t.GetName()] = ti
	}
	seen := map[string]bool{}
	for _, vi := range g.GetInput() {
		name := vi.GetName()
		seen[name] = true
		s, given := inputs[name]
		if _, isInit := in.vals[name]; isInit && !given {
			continue
		}
		ti, err := in.inputInfo(vi, s, given)
		if err != nil {
			return nil, fmt.Errorf("infer shapes: graph input %q: %w", name, err)
		}
		in.vals[name] = ti
	}
	for name := range inputs {
		if !seen[name] {
			return nil, fmt.Errorf("infer shapes: the model has no graph input %q", name)
		}
	}

	order, err := TopoSort(g)
	if err != nil {
		return nil, fmt.Errorf("infer shapes: %w", err)
	}
	index := make(map[*pb.NodeProto]int, len(g.GetNode()))
	for i, n := range g.GetNode() {
		index[n] = i
	}
	for _, n := range order {
		if err := in.node(n, index[n]); err != nil {
			return nil, err
		}
	}
	return in.vals, nil
}

// inputInfo reads a graph input's declared type, overridden by the
// caller's shape when given.
func (in *inferrer) inputInfo(vi *pb.ValueInfoProto, s Shape, given bool) (*tinfo, error) {
	tt := vi.GetType().GetTensorType()
	ti := &tinfo{}
	if tt == nil {
		if given {
			return nil, errors.New("is not a tensor, so it takes no shape")
		}
		return ti, nil // sequences, maps, optionals: unknown
	}
	ti.elem = DataType(tt.GetElemType())
	var declared []*expr
	hasShape := tt.GetShape() != nil
	if hasShape {
		for _, d := range tt.GetShape().GetDim() {
			switch {
			case d.GetDimParam() != "":
				declared = append(declared, symbol(d.GetDimParam()))
			case d.GetValue() != nil:
				if d.GetDimValue() < 0 || d.GetDimValue() > maxElements {
					return nil, fmt.Errorf("declared dimension %d is not a size from 0 to 2^48", d.GetDimValue())
				}
				declared = append(declared, cst(d.GetDimValue()))
			default:
				declared = append(declared, in.fresh())
			}
		}
	}
	if !given {
		ti.rank, ti.dims = hasShape, declared
		return ti, nil
	}
	if hasShape && len(s) != len(declared) {
		return nil, fmt.Errorf("shape %v has rank %d but the model declares %s", s, len(s), (&tinfo{rank: true, dims: declared}).valueType().Shape)
	}
	ti.rank = true
	for i, d := range s {
		var e *expr
		if d.Param != "" {
			e = symbol(d.Param)
		} else {
			if d.Value < 0 || d.Value > maxElements {
				return nil, fmt.Errorf("shape %v: dimension %d is not a size from 0 to 2^48", s, d.Value)
			}
			e = cst(d.Value)
		}
		if hasShape && declared[i].isConst() && !eq(e, declared[i]) {
			if d.Param != "" {
				e = declared[i] // a name for a size the model fixes
			} else {
				return nil, fmt.Errorf("shape %v does not fit the model's %s", s, (&tinfo{rank: true, dims: declared}).valueType().Shape)
			}
		}
		ti.dims = append(ti.dims, e)
	}
	return ti, nil
}

// tensorInfo describes a constant tensor, reading its contents when small.
func (in *inferrer) tensorInfo(t *pb.TensorProto) (*tinfo, error) {
	ti := &tinfo{elem: DataType(t.GetDataType()), rank: true}
	for _, d := range t.GetDims() {
		if d < 0 || d > maxElements {
			return nil, fmt.Errorf("tensor %q: dimension %d is not a size from 0 to 2^48", t.GetName(), d)
		}
		ti.dims = append(ti.dims, cst(d))
	}
	n, err := NumElements(t.GetDims())
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	if n > maxPropagated || t.GetSegment() != nil {
		return ti, nil
	}
	switch dt := ti.elem; dt {
	case Float, Double, Float16, BFloat16:
		var fs []float64
		if dt == Double {
			d, err := Decode[float64](in.m, t)
			if err != nil {
				return ti, nil // contents unreadable: shapes only
			}
			fs = d
		} else {
			f, err := ToFloat32(in.m, t)
			if err != nil {
				return ti, nil
			}
			fs = make([]float64, len(f))
			for i, x := range f {
				fs[i] = float64(x)
			}
		}
		ti.val = &value{floats: fs}
	case Bool, Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Int4, Uint4:
		var is []int64
		if dt == Bool {
			b, err := Decode[bool](in.m, t)
			if err != nil {
				return ti, nil
			}
			for _, x := range b {
				if x {
					is = append(is, 1)
				} else {
					is = append(is, 0)
				}
			}
		} else if is, err = ToInt64(in.m, t); err != nil {
			return ti, nil
		}
		v := &value{ints: make([]*expr, len(is))}
		for i, x := range is {
			v.ints[i] = cst(x)
		}
		ti.val = v
	}
	return ti, nil
}

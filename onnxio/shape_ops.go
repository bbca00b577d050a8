package onnxio

import (
	"errors"
	"fmt"
	"math"
	"slices"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// opRules holds the shape rule of every ai.onnx operator inference knows.
var opRules map[string]opRule

func init() {
	opRules = map[string]opRule{
		"Constant": inferConstant, "ConstantOfShape": inferConstantOfShape,
		"Shape": inferShape, "Size": inferSize, "Cast": inferCast, "CastLike": inferCast,
		"Reshape": inferReshape, "Flatten": inferFlatten, "Transpose": inferTranspose,
		"Squeeze": inferSqueeze, "Unsqueeze": inferUnsqueeze, "Concat": inferConcat,
		"Split": inferSplit, "Slice": inferSlice, "Gather": inferGather,
		"GatherElements": inferGatherElements, "GatherND": inferGatherND,
		"Expand": inferExpand, "Tile": inferTile, "Pad": inferPad, "Range": inferRange,
		"Where": inferWhere, "OneHot": inferOneHot, "TopK": inferTopK,
		"ArgMax": inferArgReduce, "ArgMin": inferArgReduce,
		"NonZero": inferNonZero, "EyeLike": inferLike, "RandomNormalLike": inferLike,
		"RandomUniformLike": inferLike, "Bernoulli": inferLike,
		"DepthToSpace": inferDepthToSpace, "SpaceToDepth": inferDepthToSpace,
		"Resize": inferResize, "Upsample": inferUpsample,
		"Dropout": inferDropout,
	}
	for _, op := range []string{"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
		"HardSwish", "Sqrt", "Exp", "Neg", "Abs", "Erf", "Sign", "Floor", "Ceil", "Round",
		"Reciprocal", "Log", "Softplus", "Softsign", "Elu", "Selu", "Gelu", "Celu",
		"ThresholdedRelu", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
		"Asinh", "Acosh", "Atanh", "Mish", "Shrink", "BitwiseNot", "Identity", "Clip",
		"LRN", "MeanVarianceNormalization", "CumSum", "Trilu", "ReverseSequence",
		"Scatter", "ScatterElements", "ScatterND", "Not", "IsNaN", "IsInf",
		"Softmax", "LogSoftmax", "Hardmax"} {
		opRules[op] = inferUnary
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min",
		"Mean", "Sum", "PRelu", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
		"And", "Or", "Xor", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"} {
		opRules[op] = inferBroadcast
	}
	for _, op := range []string{"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum",
		"ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
		"ReduceSumSquare"} {
		opRules[op] = inferReduce
	}
	addNNRules(opRules)
	addMiscRules(opRules)
}

// supportedOp reports whether InferShapes has a rule for the ai.onnx
// operator op; any other operator's outputs get unknown rank.
func supportedOp(op string) bool { _, ok := opRules[op]; return ok }

func inferUnary(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	elem := x.elem
	switch c.op {
	case "Not", "IsNaN", "IsInf":
		elem = Bool
	case "Softmax", "LogSoftmax", "Hardmax":
		if x.rank {
			def := int64(-1)
			if c.opset < 13 {
				def = 1
			}
			if _, err := c.axis(c.attrInt("axis", def), max(len(x.dims), 1), false); err != nil {
				return err
			}
		}
	case "LRN":
		if x.rank && len(x.dims) < 3 {
			return fmt.Errorf("LRN needs rank 3 or more, has %d", len(x.dims))
		}
		if s := c.attrInt("size", 1); s < 1 {
			return fmt.Errorf("LRN size %d is not positive", s)
		}
	}
	o := c.same(0, x, elem)
	if o != nil && x.val != nil {
		dt := x.elem
		o.val = elementwise(o.dims, []*tinfo{x}, func(a []num) num { return unaryValue(c.op, dt, a[0]) })
	}
	return nil
}

func inferBroadcast(c *nctx) error {
	if len(c.ins) == 0 {
		return fmt.Errorf("%s needs inputs", c.op)
	}
	var shapes [][]*expr
	elem := DataType(0)
	for i := range c.ins {
		t, err := c.need(i)
		if err != nil {
			return err
		}
		if i == 0 {
			elem = t.elem
		}
		if !t.rank {
			shapes = nil
			break
		}
		shapes = append(shapes, t.dims)
	}
	switch c.op {
	case "And", "Or", "Xor", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual":
		elem = Bool
	}
	if shapes == nil {
		c.setUnknown(0, elem)
		return nil
	}
	if c.op == "PRelu" {
		// Slope broadcasts to X (unidirectionally); the output is X's shape.
		if len(shapes) != 2 {
			return fmt.Errorf("PRelu needs 2 inputs, has %d", len(shapes))
		}
		if c.opset < 7 && len(shapes[1]) == 1 && len(shapes[0]) >= 2 {
			// PRelu-6 and older: a 1-D slope is per channel.
			if !isOne(shapes[1][0]) {
				c.same2(shapes[0][1], shapes[1][0], "slope size and channels")
			}
			c.set(0, elem, shapes[0])
			return nil
		}
		b, err := c.broadcast(shapes...)
		if err != nil {
			return err
		}
		if len(b) != len(shapes[0]) {
			return fmt.Errorf("slope %s has higher rank than X %s", dimsString(shapes[1]), dimsString(shapes[0]))
		}
		c.set(0, elem, shapes[0])
		return nil
	}
	if c.opset < 7 && len(shapes) == 2 && c.op != "Max" && c.op != "Min" && c.op != "Sum" && c.op != "Mean" {
		// Before opset 7, B broadcasts to A only with broadcast=1, aligned
		// at axis or at the end; otherwise the shapes are equal.
		if c.attrInt("broadcast", 0) == 0 {
			if len(shapes[0]) != len(shapes[1]) {
				return fmt.Errorf("shapes %s differ and broadcast is not set", shapesString(shapes))
			}
			for i := range shapes[0] {
				c.same2(shapes[0][i], shapes[1][i], "operand sizes")
			}
		} else if len(shapes[1]) > len(shapes[0]) {
			return fmt.Errorf("B %s has higher rank than A %s", dimsString(shapes[1]), dimsString(shapes[0]))
		}
		c.set(0, elem, shapes[0])
		return nil
	}
	dims, err := c.broadcast(shapes...)
	if err != nil {
		return err
	}
	o := c.set(0, elem, dims)
	dt := c.ins[0].elem
	op := c.op
	if op == "Mod" && c.attrInt("fmod", 0) != 0 {
		op = "FMod"
	}
	switch c.op {
	case "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min":
		if len(c.ins) == 2 || c.op == "Max" || c.op == "Min" {
			o.val = elementwise(dims, c.ins, func(a []num) num {
				r := a[0]
				for _, b := range a[1:] {
					r = arith(op, dt, r, b)
				}
				return r
			})
		}
	case "Sum":
		o.val = elementwise(dims, c.ins, func(a []num) num {
			r := a[0]
			for _, b := range a[1:] {
				r = arith("Add", dt, r, b)
			}
			return r
		})
	case "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor":
		if len(c.ins) == 2 {
			o.val = elementwise(dims, c.ins, func(a []num) num { return compare(c.op, a[0], a[1]) })
		}
	}
	return nil
}

func inferWhere(c *nctx) error {
	var shapes [][]*expr
	for i := 0; i < 3; i++ {
		t, err := c.need(i)
		if err != nil {
			return err
		}
		if !t.rank {
			c.setUnknown(0, c.ins[1].elem)
			return nil
		}
		shapes = append(shapes, t.dims)
	}
	dims, err := c.broadcast(shapes...)
	if err != nil {
		return err
	}
	o := c.set(0, c.ins[1].elem, dims)
	o.val = elementwise(dims, c.ins[:3], func(a []num) num {
		x, ok := a[0].float()
		switch {
		case !ok:
			return num{}
		case x != 0:
			return a[1]
		}
		return a[2]
	})
	return nil
}

func inferConstant(c *nctx) error {
	if len(c.n.GetOutput()) != 1 {
		return fmt.Errorf("Constant needs 1 output, has %d", len(c.n.GetOutput()))
	}
	t, err := ConstantValue(c.n)
	if err != nil {
		return err
	}
	if t == nil { // sparse_value
		sp := c.n.GetAttribute()[0].GetSparseTensor()
		var dims []*expr
		for _, d := range sp.GetDims() {
			if d < 0 || d > maxElements {
				return fmt.Errorf("sparse value has size %d", d)
			}
			dims = append(dims, cst(d))
		}
		c.set(0, DataType(sp.GetValues().GetDataType()), dims)
		return nil
	}
	ti, err := c.in.tensorInfo(t)
	if err != nil {
		return err
	}
	c.outs[0] = ti
	return nil
}

func inferConstantOfShape(c *nctx) error {
	elem := Float
	fill := fnum(0)
	if a := c.attrOf("value", pb.AttributeProto_TENSOR); a != nil {
		t := a.GetT()
		elem = DataType(t.GetDataType())
		n, err := NumElements(t.GetDims())
		if err != nil || n != 1 {
			return fmt.Errorf("value must hold one element, has shape %v", t.GetDims())
		}
		ti, err := c.in.tensorInfo(t)
		if err != nil {
			return err
		}
		if ti.val != nil && ti.val.len() == 1 {
			fill = ti.val.at(0)
		} else {
			fill = num{}
		}
	}
	s, err := c.need(0)
	if err != nil {
		return err
	}
	if s.rank && len(s.dims) != 1 {
		return fmt.Errorf("shape input must be 1-D, is %s", s)
	}
	vs, ok := c.ints(0)
	if !ok {
		c.setUnknown(0, elem)
		return nil
	}
	dims, err := c.dimsFrom(vs, "shape")
	if err != nil {
		return err
	}
	o := c.set(0, elem, dims)
	if n, ok := o.numel(); ok && n <= maxPropagated {
		ns := make([]num, n)
		for i := range ns {
			ns[i] = fill
		}
		o.val = packNums(ns)
	}
	return nil
}

func inferShape(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.set(0, Int64, []*expr{c.in.fresh()})
		return nil
	}
	r := int64(len(x.dims))
	start, end := int64(0), r
	if c.opset >= 15 {
		start, end = c.attrInt("start", 0), c.attrInt("end", r)
	}
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clamp(start), clamp(end)
	end = max(end, start)
	ds := x.dims[start:end]
	o := c.set(0, Int64, []*expr{cst(int64(len(ds)))})
	o.val = &value{ints: slices.Clone(ds)}
	return nil
}

func inferSize(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	o := c.set(0, Int64, nil)
	if x.rank {
		p := c.product(x.dims)
		o.val = &value{ints: []*expr{p}}
	}
	return nil
}

func inferCast(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	var to DataType
	if c.op == "CastLike" {
		t, err := c.need(1)
		if err != nil {
			return err
		}
		to = t.elem
	} else {
		a := c.attrOf("to", pb.AttributeProto_INT)
		if a == nil {
			return errors.New("Cast needs attribute to")
		}
		to = DataType(a.GetI())
		if !KnownDataType(to) {
			return fmt.Errorf("Cast to unknown type %d", a.GetI())
		}
	}
	o := c.same(0, x, to)
	if o != nil && x.val != nil {
		o.val = elementwise(o.dims, []*tinfo{x}, func(a []num) num { return castValue(to, a[0]) })
	}
	return nil
}

func inferLike(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	elem := x.elem
	if a := c.attrOf("dtype", pb.AttributeProto_INT); a != nil {
		elem = DataType(a.GetI())
	}
	c.same(0, x, elem)
	return nil
}

func inferReshape(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	var vs []*expr
	if c.opset < 5 {
		s, ok := c.attrInts("shape")
		if !ok {
			return errors.New("Reshape needs attribute shape")
		}
		vs = constExprs(s)
	} else {
		s, err := c.need(1)
		if err != nil {
			return err
		}
		if s.rank && len(s.dims) != 1 {
			return fmt.Errorf("shape input must be 1-D, is %s", s)
		}
		var ok bool
		if vs, ok = c.ints(1); !ok {
			c.setUnknown(0, x.elem)
			return nil
		}
	}
	allowzero := c.opset >= 14 && c.attrInt("allowzero", 0) != 0
	out := make([]*expr, len(vs))
	infer := -1
	for i, v := range vs {
		if v == nil {
			out[i] = c.in.fresh()
			continue
		}
		k, ok := v.constVal()
		switch {
		case !ok:
			out[i] = v
		case k == -1:
			if infer >= 0 {
				return fmt.Errorf("shape %s has more than one -1", exprsString(vs))
			}
			infer = i
		case k < -1:
			return fmt.Errorf("shape %s has invalid size %d", exprsString(vs), k)
		case k == 0 && !allowzero:
			if !x.rank {
				out[i] = c.in.fresh()
			} else if i >= len(x.dims) {
				return fmt.Errorf("shape %s copies dimension %d, but the input has rank %d", exprsString(vs), i, len(x.dims))
			} else {
				out[i] = x.dims[i]
			}
		default:
			out[i] = v
		}
	}
	if allowzero && infer >= 0 {
		for _, v := range vs {
			if k, ok := v.constVal(); v != nil && ok && k == 0 {
				return fmt.Errorf("shape %s has both 0 and -1 with allowzero", exprsString(vs))
			}
		}
	}
	if !x.rank {
		if infer >= 0 {
			out[infer] = c.in.fresh()
		}
		c.set(0, x.elem, out)
		return nil
	}
	total := c.product(x.dims)
	if infer >= 0 {
		rest := cst(1)
		for i, d := range out {
			if i != infer {
				rest = c.mul(rest, d)
			}
		}
		tv, tok := total.constVal()
		rv, rok := rest.constVal()
		switch {
		case rok && rv == 0:
			if tok && tv != 0 {
				return fmt.Errorf("cannot reshape %s to %s", dimsString(x.dims), exprsString(vs))
			}
			out[infer] = c.in.fresh()
		case tok && rok:
			if tv%rv != 0 {
				return fmt.Errorf("cannot reshape %s (%d elements) to %s", dimsString(x.dims), tv, exprsString(vs))
			}
			out[infer] = cst(tv / rv)
		default:
			out[infer] = c.settleDim(divExact(total, rest), total, rest)
		}
	} else {
		p := c.product(out)
		tv, tok := total.constVal()
		pv, pok := p.constVal()
		if tok && pok && tv != pv {
			return fmt.Errorf("cannot reshape %s (%d elements) to %s (%d elements)", dimsString(x.dims), tv, exprsString(vs), pv)
		}
	}
	o := c.set(0, x.elem, out)
	o.val = reshapeValue(x)
	return nil
}

// divExact divides two sizes known to divide, as Reshape's -1 does.
func divExact(a, b *expr) *expr {
	if q := divMonomial(a, b); q != nil {
		return q
	}
	return eFloorDiv(a, b)
}

func exprsString(vs []*expr) string {
	s := "["
	for i, v := range vs {
		if i > 0 {
			s += ","
		}
		if v == nil {
			s += "?"
		} else {
			s += v.str
		}
	}
	return s + "]"
}

func inferFlatten(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.set(0, x.elem, []*expr{c.in.fresh(), c.in.fresh()})
		return nil
	}
	a, err := c.axis(c.attrInt("axis", 1), len(x.dims), true)
	if err != nil {
		return err
	}
	o := c.set(0, x.elem, []*expr{c.product(x.dims[:a]), c.product(x.dims[a:])})
	o.val = reshapeValue(x)
	return nil
}

func inferTranspose(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	perm, ok := c.attrInts("perm")
	if !ok {
		perm = make([]int64, r)
		for i := range perm {
			perm[i] = int64(r - 1 - i)
		}
	}
	if len(perm) != r {
		return fmt.Errorf("perm %v has %d entries for rank %d", perm, len(perm), r)
	}
	seen := make([]bool, r)
	out := make([]*expr, r)
	for i, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return fmt.Errorf("perm %v is not a permutation of 0..%d", perm, r-1)
		}
		seen[p] = true
		out[i] = x.dims[p]
	}
	o := c.set(0, x.elem, out)
	if r <= 1 { // the same elements in the same order
		o.val = reshapeValue(x)
	}
	return nil
}

// axesInput reads axes from attribute name before opset attrUntil and
// from input idx from then on. ok is false when axes are given but not
// known; given is false when there are none.
func (c *nctx) axesInput(name string, idx int, attrUntil int64) (axes []int64, given, ok bool) {
	if c.opset < attrUntil {
		a, has := c.attrInts(name)
		return a, has, true
	}
	if c.input(idx) == nil {
		return nil, false, true
	}
	a, known := c.constInts(idx)
	return a, true, known
}

func inferSqueeze(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	axes, given, ok := c.axesInput("axes", 1, 13)
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	if !ok {
		// Which axes go is unknown, but not how many.
		if n, known := c.length(1); known && n <= r {
			c.set(0, x.elem, freshDims(c, r-n))
		} else {
			c.setUnknown(0, x.elem)
		}
		return nil
	}
	drop := make([]bool, r)
	if given {
		norm, err := c.axes(axes, r)
		if err != nil {
			return err
		}
		for _, a := range norm {
			if v, ok := x.dims[a].constVal(); ok && v != 1 {
				return fmt.Errorf("cannot squeeze axis %d of size %d", a, v)
			}
			drop[a] = true
		}
	} else {
		for i, d := range x.dims {
			if isOne(d) {
				drop[i] = true
			}
			// A symbolic size is taken to be other than 1.
		}
	}
	var out []*expr
	for i, d := range x.dims {
		if !drop[i] {
			out = append(out, d)
		}
	}
	o := c.set(0, x.elem, out)
	o.val = reshapeValue(x)
	return nil
}

func inferUnsqueeze(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	axes, given, ok := c.axesInput("axes", 1, 13)
	if !given && ok {
		return errors.New("Unsqueeze needs axes")
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	if !ok {
		// Where the new axes go is unknown, but not how many.
		if n, known := c.length(1); known {
			c.set(0, x.elem, freshDims(c, len(x.dims)+n))
		} else {
			c.setUnknown(0, x.elem)
		}
		return nil
	}
	r := len(x.dims) + len(axes)
	norm, err := c.axes(axes, r)
	if err != nil {
		return err
	}
	ins := make([]bool, r)
	for _, a := range norm {
		ins[a] = true
	}
	out := make([]*expr, 0, r)
	k := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, cst(1))
		} else {
			out = append(out, x.dims[k])
			k++
		}
	}
	o := c.set(0, x.elem, out)
	o.val = reshapeValue(x)
	return nil
}

func inferConcat(c *nctx) error {
	if len(c.ins) == 0 {
		return errors.New("Concat needs inputs")
	}
	if c.attr("axis") == nil && c.opset >= 4 {
		return errors.New("Concat needs attribute axis")
	}
	var first *tinfo
	for i := range c.ins {
		t, err := c.need(i)
		if err != nil {
			return err
		}
		if first == nil {
			first = t
		}
		if !t.rank {
			c.setUnknown(0, first.elem)
			return nil
		}
	}
	r := len(first.dims)
	if r == 0 {
		return errors.New("Concat of scalars")
	}
	a, err := c.axis(c.attrInt("axis", 1), r, false)
	if err != nil {
		return err
	}
	out := slices.Clone(first.dims)
	for i, t := range c.ins[1:] {
		if len(t.dims) != r {
			return fmt.Errorf("input %d has rank %d, input 0 rank %d", i+1, len(t.dims), r)
		}
		for k, d := range t.dims {
			if k == a {
				out[k] = c.add(out[k], d)
			} else {
				out[k] = c.same2(out[k], d, fmt.Sprintf("dimension %d of input %d", k, i+1))
			}
		}
	}
	o := c.set(0, first.elem, out)
	if r == 1 {
		var vals []*expr
		var fls []float64
		allF := true
		for i := range c.ins {
			n, ok := c.length(i)
			if !ok {
				return nil
			}
			t := c.ins[i]
			if t.val != nil && t.val.floats != nil && allF {
				fls = append(fls, t.val.floats...)
			} else {
				allF = false
			}
			if t.val == nil {
				vals = append(vals, make([]*expr, n)...)
				continue
			}
			for k := 0; k < t.val.len(); k++ {
				vals = append(vals, t.val.intAt(k))
			}
		}
		if len(vals) > maxPropagated {
			return nil
		}
		if allF {
			o.val = &value{floats: fls}
		} else {
			o.val = &value{ints: vals}
		}
	}
	return nil
}

func inferSplit(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	nout := len(c.outs)
	if !x.rank {
		for i := range c.outs {
			c.setUnknown(i, x.elem)
		}
		return nil
	}
	a, err := c.axis(c.attrInt("axis", 0), len(x.dims), false)
	if err != nil {
		return err
	}
	d := x.dims[a]
	var sizes []*expr
	var split []int64
	var have, known bool
	if c.opset < 13 {
		split, have = c.attrInts("split")
		known = true
	} else if c.input(1) != nil && !c.isEmpty(1) {
		have = true
		split, known = c.constInts(1)
	}
	switch {
	case have && !known:
		sizes = freshDims(c, nout)
	case have:
		if len(split) != nout {
			return fmt.Errorf("split %v has %d entries for %d outputs", split, len(split), nout)
		}
		sum := int64(0)
		for _, s := range split {
			if s < 0 || s > maxElements {
				return fmt.Errorf("split %v has invalid size %d", split, s)
			}
			sum += s
			sizes = append(sizes, cst(s))
		}
		if v, ok := d.constVal(); ok && v != sum {
			return fmt.Errorf("split %v sums to %d, not the axis size %d", split, sum, v)
		}
	default:
		n := int64(nout)
		if c.opset >= 18 {
			if a := c.attrOf("num_outputs", pb.AttributeProto_INT); a != nil {
				if a.GetI() != n {
					return fmt.Errorf("num_outputs %d but the node has %d outputs", a.GetI(), n)
				}
			} else {
				return errors.New("Split needs split or num_outputs")
			}
		}
		if n == 0 {
			return errors.New("Split has no outputs")
		}
		v, ok := d.constVal()
		switch {
		case ok && c.opset >= 18:
			chunk := (v + n - 1) / n
			for i := int64(0); i < n; i++ {
				sizes = append(sizes, cst(max(0, min(chunk, v-chunk*i))))
			}
		case ok:
			if v%n != 0 {
				return fmt.Errorf("axis size %d does not split evenly into %d outputs", v, n)
			}
			for i := int64(0); i < n; i++ {
				sizes = append(sizes, cst(v/n))
			}
		default:
			q := c.floorDiv(d, cst(n))
			for i := int64(0); i < n; i++ {
				sizes = append(sizes, q)
			}
		}
	}
	off := 0
	for i := range c.outs {
		dims := slices.Clone(x.dims)
		dims[a] = sizes[i]
		o := c.set(i, x.elem, dims)
		if len(x.dims) == 1 && x.val != nil {
			k, ok := sizes[i].constVal()
			if ok && off+int(k) <= x.val.len() {
				o.val = sliceValue(x.val, off, int(k), 1)
				off += int(k)
			} else {
				off = x.val.len() + 1
			}
		}
	}
	return nil
}

// sliceValue takes n elements from start by step.
func sliceValue(v *value, start, n, step int) *value {
	out := make([]num, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, v.at(start+i*step))
	}
	return packNums(out)
}

func inferSlice(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	var starts, ends, axes, steps []int64
	var known = true
	if c.opset < 10 {
		var ok bool
		if starts, ok = c.attrInts("starts"); !ok {
			return errors.New("Slice needs attribute starts")
		}
		if ends, ok = c.attrInts("ends"); !ok {
			return errors.New("Slice needs attribute ends")
		}
		axes, _ = c.attrInts("axes")
	} else {
		if _, err := c.need(1); err != nil {
			return err
		}
		if _, err := c.need(2); err != nil {
			return err
		}
		var ok1, ok2, ok3, ok4 bool
		starts, ok1 = c.constInts(1)
		ends, ok2 = c.constInts(2)
		ok3, ok4 = true, true
		if c.input(3) != nil {
			axes, ok3 = c.constInts(3)
		}
		if c.input(4) != nil {
			steps, ok4 = c.constInts(4)
		}
		known = ok1 && ok2 && ok3 && ok4
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	if !known {
		// Axes not sliced keep their size only if we know which are sliced.
		out := slices.Clone(x.dims)
		axesKnown := c.input(3) != nil && axes != nil
		for i := range out {
			if !axesKnown || slices.Contains(axes, int64(i)) || slices.Contains(axes, int64(i-r)) {
				out[i] = c.in.fresh()
			}
		}
		c.set(0, x.elem, out)
		return nil
	}
	if len(starts) != len(ends) {
		return fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
	}
	if axes == nil {
		if len(starts) > r {
			return fmt.Errorf("starts %v has more entries than rank %d", starts, r)
		}
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return fmt.Errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
	}
	norm, err := c.axes(axes, r)
	if err != nil {
		return err
	}
	out := slices.Clone(x.dims)
	type cut struct{ start, n, step int64 }
	cuts := make([]cut, r)
	for i := range cuts {
		cuts[i] = cut{0, -1, 1}
	}
	for i, a := range norm {
		s, e, st := starts[i], ends[i], steps[i]
		if st == 0 {
			return fmt.Errorf("slice step is 0 on axis %d", a)
		}
		d := x.dims[a]
		if dv, ok := d.constVal(); ok {
			b, n := sliceRange(s, e, st, dv)
			out[a] = cst(n)
			cuts[a] = cut{b, n, st}
			continue
		}
		out[a] = c.symbolicSlice(d, s, e, st)
	}
	o := c.set(0, x.elem, out)
	if r == 1 && x.val != nil && cuts[0].n >= 0 {
		o.val = sliceValue(x.val, int(cuts[0].start), int(cuts[0].n), int(cuts[0].step))
	}
	return nil
}

// sliceRange is where a slice of a dimension of size d begins and how
// many elements it takes, following ONNX's clamping rules.
func sliceRange(s, e, st, d int64) (begin, n int64) {
	if s < 0 {
		s = max(s, -d) + d // saturating: s >= -d here
	}
	if e < 0 {
		e = max(e, -d-1) + d
	}
	if st > 0 {
		s = min(max(s, 0), d)
		e = min(max(e, 0), d)
		if e <= s {
			return s, 0
		}
		return s, (e-s-1)/st + 1
	}
	s = min(max(s, 0), d-1)
	e = min(max(e, -1), d-1)
	if s <= e {
		return s, 0
	}
	// st < 0; st == MinInt64 must not overflow when negated.
	if st == math.MinInt64 {
		return s, 1
	}
	return s, (s-e-1)/(-st) + 1
}

// symbolicSlice is the size of a slice of a dimension of unknown size d,
// taking d to be large enough for the bounds given.
func (c *nctx) symbolicSlice(d *expr, s, e, st int64) *expr {
	const big = 1 << 31 // ends at or past this mean "to the end"
	if st == 1 {
		switch {
		case s >= 0 && e >= big-1:
			return c.addc(d, -s)
		case s >= 0 && e < 0 && e > -big:
			return c.addc(d, e-s)
		case s < 0 && s > -big && e >= big-1:
			return cst(-s)
		case s < 0 && e < 0 && e >= s && s > -big:
			return cst(e - s)
		}
	}
	if st > 1 && s == 0 && e >= big-1 {
		return c.ceilDiv(d, cst(st))
	}
	if st == -1 && s >= big-1 && e <= -big {
		return d // a full reversal
	}
	return c.in.fresh()
}

func inferGather(c *nctx) error {
	x, idx, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !x.rank || !idx.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	if r == 0 {
		return errors.New("Gather from a scalar")
	}
	a, err := c.axis(c.attrInt("axis", 0), r, false)
	if err != nil {
		return err
	}
	out := append(append(slices.Clone(x.dims[:a]), idx.dims...), x.dims[a+1:]...)
	o := c.set(0, x.elem, out)
	is, ok := c.constInts(1)
	if !ok {
		return nil
	}
	n, ok := x.dims[a].constVal()
	if ok {
		for _, i := range is {
			if i < -n || i >= n {
				return fmt.Errorf("index %d is out of range for axis %d of size %d", i, a, n)
			}
		}
	}
	if x.val == nil {
		return nil
	}
	xd, ok := constDims(x.dims)
	if !ok {
		return nil
	}
	outer, inner := int64(1), int64(1)
	for _, d := range xd[:a] {
		outer *= d
	}
	for _, d := range xd[a+1:] {
		inner *= d
	}
	total := outer * int64(len(is)) * inner
	if total > maxPropagated {
		return nil
	}
	vals := make([]num, 0, total)
	for o := int64(0); o < outer; o++ {
		for _, i := range is {
			if i < 0 {
				i += n
			}
			for k := int64(0); k < inner; k++ {
				vals = append(vals, x.val.at(int((o*n+i)*inner+k)))
			}
		}
	}
	o.val = packNums(vals)
	return nil
}

func inferGatherElements(c *nctx) error {
	x, idx, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if x.rank && idx.rank {
		if len(x.dims) != len(idx.dims) {
			return fmt.Errorf("indices rank %d differs from data rank %d", len(idx.dims), len(x.dims))
		}
		if _, err := c.axis(c.attrInt("axis", 0), len(x.dims), false); err != nil {
			return err
		}
	}
	c.same(0, idx, x.elem)
	return nil
}

func inferGatherND(c *nctx) error {
	x, idx, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !x.rank || !idx.rank || len(idx.dims) == 0 {
		c.setUnknown(0, x.elem)
		return nil
	}
	b := c.attrInt("batch_dims", 0)
	k, ok := idx.dims[len(idx.dims)-1].constVal()
	if !ok {
		c.setUnknown(0, x.elem)
		return nil
	}
	if b < 0 || b >= int64(len(idx.dims)) || b > int64(len(x.dims)) || k < 1 || b+k > int64(len(x.dims)) {
		return fmt.Errorf("indices last size %d with batch_dims %d does not fit data rank %d", k, b, len(x.dims))
	}
	out := append(slices.Clone(idx.dims[:len(idx.dims)-1]), x.dims[b+k:]...)
	c.set(0, x.elem, out)
	return nil
}

func inferExpand(c *nctx) error {
	x, s, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if s.rank && len(s.dims) != 1 {
		return fmt.Errorf("shape input must be 1-D, is %s", s)
	}
	vs, ok := c.ints(1)
	if !x.rank || !ok {
		c.setUnknown(0, x.elem)
		return nil
	}
	dims, err := c.dimsFrom(vs, "shape")
	if err != nil {
		return err
	}
	out, err := c.broadcast(x.dims, dims)
	if err != nil {
		return err
	}
	o := c.set(0, x.elem, out)
	if x.val != nil {
		o.val = elementwise(out, []*tinfo{x}, func(a []num) num { return a[0] })
	}
	return nil
}

func inferTile(c *nctx) error {
	x, _, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	reps, ok := c.ints(1)
	if !ok {
		c.set(0, x.elem, freshDims(c, len(x.dims)))
		return nil
	}
	if len(reps) != len(x.dims) {
		return fmt.Errorf("repeats has %d entries for rank %d", len(reps), len(x.dims))
	}
	out := make([]*expr, len(x.dims))
	for i, r := range reps {
		if r == nil {
			out[i] = c.in.fresh()
			continue
		}
		if v, ok := r.constVal(); ok && v < 0 {
			return fmt.Errorf("negative repeat %d", v)
		}
		out[i] = c.mul(x.dims[i], r)
	}
	c.set(0, x.elem, out)
	return nil
}

func inferPad(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	var pads []int64
	known := true
	if c.opset < 11 {
		var ok bool
		if pads, ok = c.attrInts("pads"); !ok {
			if pads, ok = c.attrInts("paddings"); !ok {
				return errors.New("Pad needs attribute pads")
			}
		}
	} else {
		if _, err := c.need(1); err != nil {
			return err
		}
		pads, known = c.constInts(1)
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if c.opset >= 18 && c.input(3) != nil {
		as, ok := c.constInts(3)
		if !ok {
			c.set(0, x.elem, freshDims(c, r))
			return nil
		}
		if axes, err = c.axes(as, r); err != nil {
			return err
		}
	}
	if !known {
		out := slices.Clone(x.dims)
		for _, a := range axes {
			out[a] = c.in.fresh()
		}
		c.set(0, x.elem, out)
		return nil
	}
	if len(pads) != 2*len(axes) {
		return fmt.Errorf("pads %v has %d entries, want %d", pads, len(pads), 2*len(axes))
	}
	out := slices.Clone(x.dims)
	for i, a := range axes {
		pb, pe := pads[i], pads[i+len(axes)]
		if pb < -maxElements || pb > maxElements || pe < -maxElements || pe > maxElements {
			return fmt.Errorf("pads %v are out of range", pads)
		}
		out[a] = c.addc(c.addc(out[a], pb), pe)
		if v, ok := out[a].constVal(); ok && v < 0 {
			return fmt.Errorf("pads %v make axis %d negative", pads, a)
		}
	}
	c.set(0, x.elem, out)
	return nil
}

func inferRange(c *nctx) error {
	var elem DataType
	for i := 0; i < 3; i++ {
		t, err := c.need(i)
		if err != nil {
			return err
		}
		if i == 0 {
			elem = t.elem
		}
		if t.rank && len(t.dims) != 0 {
			if n, ok := t.numel(); !ok || n != 1 {
				return fmt.Errorf("input %d must be a scalar, is %s", i, t)
			}
		}
	}
	s, ok1 := c.constFloats(0)
	l, ok2 := c.constFloats(1)
	d, ok3 := c.constFloats(2)
	if !(ok1 && ok2 && ok3) || len(s) != 1 || len(l) != 1 || len(d) != 1 {
		// start + k*1 up to a symbolic limit: limit - start elements.
		if st, ok := c.constInts(0); ok && len(st) == 1 {
			if dl, ok := c.constInts(2); ok && len(dl) == 1 && dl[0] == 1 {
				if lim, ok := c.ints(1); ok && len(lim) == 1 && lim[0] != nil {
					c.set(0, elem, []*expr{c.sub(lim[0], cst(st[0]))})
					return nil
				}
			}
		}
		c.set(0, elem, []*expr{c.in.fresh()})
		return nil
	}
	if d[0] == 0 {
		return errors.New("Range delta is 0")
	}
	nf := math.Ceil((l[0] - s[0]) / d[0])
	if math.IsNaN(nf) || nf > maxElements {
		return fmt.Errorf("Range from %v to %v by %v is too long", s[0], l[0], d[0])
	}
	n := int64(max(nf, 0))
	o := c.set(0, elem, []*expr{cst(n)})
	if n <= maxPropagated {
		vals := make([]num, n)
		for i := range vals {
			v := s[0] + float64(i)*d[0]
			if isFloatType(elem) {
				vals[i] = fnum(roundTo(elem, v))
			} else {
				vals[i] = num{e: cst(int64(v))}
			}
		}
		o.val = packNums(vals)
	}
	return nil
}

func inferOneHot(c *nctx) error {
	idx, _, err := c.need2(0, 1)
	if err != nil {
		return err
	}
	vals, err := c.need(2)
	if err != nil {
		return err
	}
	if !idx.rank {
		c.setUnknown(0, vals.elem)
		return nil
	}
	r := len(idx.dims) + 1
	a, err := c.axis(c.attrInt("axis", -1), r, false)
	if err != nil {
		return err
	}
	var depth *expr
	if d, ok := c.constFloats(1); ok && len(d) == 1 {
		if d[0] < 1 || d[0] > maxElements {
			return fmt.Errorf("depth %v is not positive", d[0])
		}
		depth = cst(int64(d[0]))
	} else {
		depth = c.in.fresh()
	}
	out := append(append(slices.Clone(idx.dims[:a]), depth), idx.dims[a:]...)
	c.set(0, vals.elem, out)
	return nil
}

func inferTopK(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		c.setUnknown(1, Int64)
		return nil
	}
	a, err := c.axis(c.attrInt("axis", -1), len(x.dims), false)
	if err != nil {
		return err
	}
	var k *expr
	if c.opset < 10 {
		k = cst(c.attrInt("k", 0))
	} else if ks, ok := c.constInts(1); ok && len(ks) == 1 {
		k = cst(ks[0])
	} else {
		k = c.in.fresh()
	}
	if v, ok := k.constVal(); ok {
		if v < 0 {
			return fmt.Errorf("k %d is negative", v)
		}
		if n, ok := x.dims[a].constVal(); ok && v > n {
			return fmt.Errorf("k %d is larger than axis size %d", v, n)
		}
	}
	out := slices.Clone(x.dims)
	out[a] = k
	c.set(0, x.elem, out)
	c.set(1, Int64, out)
	return nil
}

func inferArgReduce(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, Int64)
		return nil
	}
	a, err := c.axis(c.attrInt("axis", 0), max(len(x.dims), 1), false)
	if err != nil {
		return err
	}
	out := slices.Clone(x.dims)
	if len(out) > 0 {
		if c.attrInt("keepdims", 1) != 0 {
			out[a] = cst(1)
		} else {
			out = slices.Delete(out, a, a+1)
		}
	}
	c.set(0, Int64, out)
	return nil
}

func inferNonZero(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.set(0, Int64, []*expr{c.in.fresh(), c.in.fresh()})
		return nil
	}
	count := c.in.fresh()
	if x.val != nil {
		n := int64(0)
		for i := 0; i < x.val.len(); i++ {
			f, ok := x.val.at(i).float()
			if !ok {
				n = -1
				break
			}
			if f != 0 {
				n++
			}
		}
		if n >= 0 {
			count = cst(n)
		}
	}
	c.set(0, Int64, []*expr{cst(int64(len(x.dims))), count})
	return nil
}

func inferDepthToSpace(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	if len(x.dims) != 4 {
		return fmt.Errorf("%s needs rank 4, has %d", c.op, len(x.dims))
	}
	b := c.attrInt("blocksize", 0)
	if b < 1 || b > 1<<20 {
		return fmt.Errorf("blocksize %d is not a positive size", b)
	}
	bb := cst(b * b)
	d := x.dims
	if c.op == "DepthToSpace" {
		if v, ok := d[1].constVal(); ok && v%(b*b) != 0 {
			return fmt.Errorf("channels %d do not divide by blocksize² %d", v, b*b)
		}
		c.set(0, x.elem, []*expr{d[0], c.floorDiv(d[1], bb), c.mul(d[2], cst(b)), c.mul(d[3], cst(b))})
		return nil
	}
	for _, k := range []int{2, 3} {
		if v, ok := d[k].constVal(); ok && v%b != 0 {
			return fmt.Errorf("size %d does not divide by blocksize %d", v, b)
		}
	}
	c.set(0, x.elem, []*expr{d[0], c.mul(d[1], bb), c.floorDiv(d[2], cst(b)), c.floorDiv(d[3], cst(b))})
	return nil
}

func inferReduce(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	attrUntil := int64(18)
	if c.op == "ReduceSum" {
		attrUntil = 13
	}
	axes, given, ok := c.axesInput("axes", 1, attrUntil)
	keep := c.attrInt("keepdims", 1) != 0
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	if !ok {
		if keep {
			c.set(0, x.elem, freshDims(c, r))
		} else if n, ok := c.length(1); ok && n <= r {
			c.set(0, x.elem, freshDims(c, r-n))
		} else {
			c.setUnknown(0, x.elem)
		}
		return nil
	}
	if len(axes) == 0 {
		given = false
	}
	if !given && c.opset >= attrUntil && c.attrInt("noop_with_empty_axes", 0) != 0 {
		o := c.same(0, x, x.elem)
		o.val = x.val
		return nil
	}
	red := make([]bool, r)
	if given {
		norm, err := c.axesAllowDup(axes, r)
		if err != nil {
			return err
		}
		for _, a := range norm {
			red[a] = true
		}
	} else {
		for i := range red {
			red[i] = true
		}
	}
	var out []*expr
	for i, d := range x.dims {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, cst(1))
		}
	}
	c.set(0, x.elem, out)
	return nil
}

// axesAllowDup normalises axes, folding repeats (as runtimes accept).
func (c *nctx) axesAllowDup(as []int64, r int) ([]int, error) {
	out := make([]int, 0, len(as))
	for _, a := range as {
		x, err := c.axis(a, r, false)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func inferDropout(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	o := c.same(0, x, x.elem)
	if tm, ok := c.constInts(2); o != nil && (c.input(2) == nil || ok && len(tm) == 1 && tm[0] == 0) {
		o.val = x.val // inference mode: the identity
	}
	maskElem := Bool
	if c.opset < 10 {
		maskElem = x.elem
	}
	c.same(1, x, maskElem)
	return nil
}

func inferResize(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	r := len(x.dims)
	scalesIdx, sizesIdx := 2, 3
	if c.opset < 11 {
		scalesIdx, sizesIdx = 1, -1
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if as, ok := c.attrInts("axes"); ok && c.opset >= 18 {
		if axes, err = c.axes(as, r); err != nil {
			return err
		}
	}
	out := slices.Clone(x.dims)
	switch {
	case sizesIdx > 0 && !c.isEmpty(sizesIdx):
		if !c.isEmpty(scalesIdx) && c.opset >= 13 {
			return errors.New("Resize takes scales or sizes, not both")
		}
		sizes, ok := c.ints(sizesIdx)
		if !ok {
			for _, a := range axes {
				out[a] = c.in.fresh()
			}
			break
		}
		if len(sizes) != len(axes) {
			return fmt.Errorf("sizes has %d entries for %d axes", len(sizes), len(axes))
		}
		policy := c.attrString("keep_aspect_ratio_policy", "stretch")
		if c.opset < 18 || policy == "stretch" {
			ds, err := c.dimsFrom(sizes, "sizes")
			if err != nil {
				return err
			}
			for i, a := range axes {
				out[a] = ds[i]
			}
			break
		}
		// not_larger / not_smaller: one scale for all axes.
		sz, ok1 := constDimsOrNil(sizes)
		in, ok2 := constDims(x.dims)
		if !ok1 || !ok2 {
			for _, a := range axes {
				out[a] = c.in.fresh()
			}
			break
		}
		scale := math.Inf(1)
		if policy == "not_smaller" {
			scale = math.Inf(-1)
		} else if policy != "not_larger" {
			return fmt.Errorf("unknown keep_aspect_ratio_policy %q", policy)
		}
		for i, a := range axes {
			if in[a] == 0 {
				return errors.New("Resize of an empty axis")
			}
			s := float64(float32(sz[i]) / float32(in[a]))
			if policy == "not_larger" {
				scale = math.Min(scale, s)
			} else {
				scale = math.Max(scale, s)
			}
		}
		for _, a := range axes {
			out[a] = cst(int64(math.Round(scale * float64(in[a]))))
		}
	case !c.isEmpty(scalesIdx):
		scales, ok := c.constFloats(scalesIdx)
		if !ok {
			for _, a := range axes {
				out[a] = c.in.fresh()
			}
			break
		}
		if len(scales) != len(axes) {
			return fmt.Errorf("scales %v has %d entries for %d axes", scales, len(scales), len(axes))
		}
		for i, a := range axes {
			d, err := c.scaleDim(x.dims[a], scales[i])
			if err != nil {
				return err
			}
			out[a] = d
		}
	default:
		return errors.New("Resize needs scales or sizes")
	}
	c.set(0, x.elem, out)
	return nil
}

func constDimsOrNil(vs []*expr) ([]int64, bool) {
	for _, v := range vs {
		if v == nil {
			return nil, false
		}
	}
	return constDims(vs)
}

// scaleDim is floor(d*scale) with scale a float32, as runtimes compute it.
func (c *nctx) scaleDim(d *expr, scale float64) (*expr, error) {
	if !(scale > 0) || scale > 1<<20 {
		return nil, fmt.Errorf("scale %v is not a positive factor", scale)
	}
	s := float32(scale)
	if v, ok := d.constVal(); ok {
		f := math.Floor(float64(float32(v) * s))
		if f > maxElements {
			return nil, fmt.Errorf("scale %v makes size %d too large", scale, v)
		}
		return cst(int64(f)), nil
	}
	if float64(s) == math.Trunc(float64(s)) {
		return c.mul(d, cst(int64(s))), nil
	}
	// Exact reciprocals of powers of two: floor(d/2^k).
	if inv := 1 / float64(s); inv == math.Trunc(inv) && inv <= 1<<20 && int64(inv)&(int64(inv)-1) == 0 {
		return c.floorDiv(d, cst(int64(inv))), nil
	}
	return c.in.fresh(), nil
}

func inferUpsample(c *nctx) error {
	x, err := c.need(0)
	if err != nil {
		return err
	}
	if !x.rank {
		c.setUnknown(0, x.elem)
		return nil
	}
	var scales []float64
	if c.opset < 9 {
		fs, ok := c.attrFloats("scales")
		if !ok {
			return errors.New("Upsample needs attribute scales")
		}
		for _, f := range fs {
			scales = append(scales, float64(f))
		}
	} else {
		if _, err := c.need(1); err != nil {
			return err
		}
		var ok bool
		if scales, ok = c.constFloats(1); !ok {
			c.set(0, x.elem, freshDims(c, len(x.dims)))
			return nil
		}
	}
	if len(scales) != len(x.dims) {
		return fmt.Errorf("scales %v has %d entries for rank %d", scales, len(scales), len(x.dims))
	}
	out := make([]*expr, len(x.dims))
	for i, s := range scales {
		if out[i], err = c.scaleDim(x.dims[i], s); err != nil {
			return err
		}
	}
	c.set(0, x.elem, out)
	return nil
}

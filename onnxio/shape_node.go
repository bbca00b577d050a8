package onnxio

import (
	"errors"
	"fmt"
	"math"
	"strings"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// nctx is one node under inference: its inputs as known so far, the
// outputs its operator's rule fills in, and the first error met.
type nctx struct {
	in    *inferrer
	n     *pb.NodeProto
	op    string
	opset int64
	ins   []*tinfo // nil for an absent optional input
	outs  []*tinfo // nil: unknown type
	err   error
}

// opRule infers one operator's outputs. It reports bad input through its
// result or c.fail; either way inference stops with an error naming the
// node.
type opRule func(c *nctx) error

func (in *inferrer) node(n *pb.NodeProto, idx int) (err error) {
	c := &nctx{in: in, n: n, op: n.GetOpType(), opset: in.opset,
		ins: make([]*tinfo, len(n.GetInput())), outs: make([]*tinfo, len(n.GetOutput()))}
	for i, name := range n.GetInput() {
		if name == "" {
			continue
		}
		t, ok := in.vals[name]
		if !ok {
			return fmt.Errorf("infer shapes: node %s: input %q is not a graph input, an initializer or an earlier node's output", NodeLabel(n, idx), name)
		}
		c.ins[i] = t
	}
	wrap := func(e error) error {
		return fmt.Errorf("infer shapes: node %s, inputs %s: %w", NodeLabel(n, idx), c.describeInputs(), e)
	}
	defer func() {
		// Rules check what they index; this only turns a missed case into
		// an error rather than a crash of the caller.
		if r := recover(); r != nil {
			err = wrap(fmt.Errorf("internal error in the %s rule: %v", c.op, r))
		}
	}()
	rule := opRules[c.op]
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		rule = domainRules[d][c.op]
	}
	if rule != nil {
		e := rule(c)
		if c.err != nil {
			e = c.err // the first problem met, which later ones may follow from
		}
		if e != nil {
			return wrap(e)
		}
	}
	for i, name := range n.GetOutput() {
		if name == "" {
			continue
		}
		t := c.outs[i]
		if t == nil {
			t = &tinfo{}
		}
		if err := c.settle(t); err != nil {
			return wrap(fmt.Errorf("output %q: %w", name, err))
		}
		in.vals[name] = t
	}
	return nil
}

// settle checks an output before it is recorded: sizes must be
// non-negative and not absurd, and known contents must match the shape.
func (c *nctx) settle(t *tinfo) error {
	if !t.rank {
		t.dims, t.val = nil, nil
		return nil
	}
	for _, d := range t.dims {
		if d == nil {
			return errors.New("internal error: nil dimension")
		}
		if v, ok := d.constVal(); ok && (v < 0 || v > maxElements) {
			return fmt.Errorf("computed size %d in %s is not a size from 0 to 2^48", v, t)
		}
	}
	if t.val != nil {
		if n, ok := t.numel(); !ok || n != int64(t.val.len()) {
			t.val = nil
		}
	}
	return nil
}

func (c *nctx) describeInputs() string {
	var parts []string
	for i, t := range c.ins {
		if i == 8 {
			parts = append(parts, "...")
			break
		}
		name := c.n.GetInput()[i]
		if name == "" {
			parts = append(parts, "(absent)")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", name, t))
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}

// fail records the first error; rules go on with safe defaults.
func (c *nctx) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// input is input i, nil when absent.
func (c *nctx) input(i int) *tinfo {
	if i >= 0 && i < len(c.ins) {
		return c.ins[i]
	}
	return nil
}

// need returns input i, which the operator requires.
func (c *nctx) need(i int) (*tinfo, error) {
	if t := c.input(i); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%s needs input %d, which is missing", c.op, i)
}

// need2 returns inputs i and j, both required.
func (c *nctx) need2(i, j int) (*tinfo, *tinfo, error) {
	a, err := c.need(i)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.need(j)
	return a, b, err
}

// ranked returns input i when its rank is known.
func (c *nctx) ranked(i int) (*tinfo, bool) {
	t := c.input(i)
	return t, t != nil && t.rank
}

// set gives output i a shape; dims are used as they are. For an output
// the node does not have, the result is recorded nowhere.
func (c *nctx) set(i int, elem DataType, dims []*expr) *tinfo {
	if dims == nil {
		dims = []*expr{}
	}
	t := &tinfo{elem: elem, rank: true, dims: dims}
	if i < len(c.outs) {
		c.outs[i] = t
	}
	return t
}

// setUnknown gives output i an element type and unknown rank.
func (c *nctx) setUnknown(i int, elem DataType) {
	if i < len(c.outs) {
		c.outs[i] = &tinfo{elem: elem}
	}
}

// same gives output i input t's type (and, when keep, its contents).
func (c *nctx) same(i int, t *tinfo, elem DataType) *tinfo {
	if t == nil || !t.rank {
		c.setUnknown(i, elem)
		return nil
	}
	return c.set(i, elem, t.dims)
}

// axis normalises an axis attribute or value against rank r, allowing
// [-r, r) (or [-r, r] with inclusive).
func (c *nctx) axis(a int64, r int, inclusive bool) (int, error) {
	hi := int64(r)
	if inclusive {
		hi++
	}
	if a < -int64(r) || a >= hi {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", a, r)
	}
	if a < 0 {
		a += int64(r)
	}
	return int(a), nil
}

// axes normalises a list of axes, refusing duplicates.
func (c *nctx) axes(as []int64, r int) ([]int, error) {
	out := make([]int, 0, len(as))
	seen := make(map[int]bool, len(as))
	for _, a := range as {
		x, err := c.axis(a, r, false)
		if err != nil {
			return nil, err
		}
		if seen[x] {
			return nil, fmt.Errorf("axis %d appears twice in %v", a, as)
		}
		seen[x] = true
		out = append(out, x)
	}
	return out, nil
}

// --- attributes ---

func (c *nctx) attr(name string) *pb.AttributeProto {
	for _, a := range c.n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// attrKind is a's type, taken from the fields set when type is missing
// (as in very old models).
func attrKind(a *pb.AttributeProto) pb.AttributeProto_AttributeType {
	if t := a.GetType(); t != pb.AttributeProto_UNDEFINED {
		return t
	}
	switch {
	case len(a.GetInts()) > 0:
		return pb.AttributeProto_INTS
	case len(a.GetFloats()) > 0:
		return pb.AttributeProto_FLOATS
	case len(a.GetStrings()) > 0:
		return pb.AttributeProto_STRINGS
	case a.GetT() != nil:
		return pb.AttributeProto_TENSOR
	case a.GetG() != nil:
		return pb.AttributeProto_GRAPH
	case a.S != nil:
		return pb.AttributeProto_STRING
	case a.F != nil:
		return pb.AttributeProto_FLOAT
	case a.I != nil:
		return pb.AttributeProto_INT
	}
	return pb.AttributeProto_UNDEFINED
}

func (c *nctx) attrOf(name string, want pb.AttributeProto_AttributeType) *pb.AttributeProto {
	a := c.attr(name)
	if a == nil {
		return nil
	}
	if k := attrKind(a); k != want {
		// An empty list attribute carries no fields to tell its kind.
		if !(k == pb.AttributeProto_UNDEFINED && (want == pb.AttributeProto_INTS || want == pb.AttributeProto_FLOATS)) {
			c.fail("attribute %s is %v, want %v", name, k, want)
			return nil
		}
	}
	return a
}

func (c *nctx) attrInt(name string, def int64) int64 {
	if a := c.attrOf(name, pb.AttributeProto_INT); a != nil {
		return a.GetI()
	}
	return def
}

func (c *nctx) attrFloat(name string, def float32) float32 {
	if a := c.attrOf(name, pb.AttributeProto_FLOAT); a != nil {
		return a.GetF()
	}
	return def
}

func (c *nctx) attrString(name, def string) string {
	if a := c.attrOf(name, pb.AttributeProto_STRING); a != nil {
		return string(a.GetS())
	}
	return def
}

func (c *nctx) attrInts(name string) ([]int64, bool) {
	if a := c.attrOf(name, pb.AttributeProto_INTS); a != nil {
		return a.GetInts(), true
	}
	return nil, false
}

func (c *nctx) attrFloats(name string) ([]float32, bool) {
	if a := c.attrOf(name, pb.AttributeProto_FLOATS); a != nil {
		return a.GetFloats(), true
	}
	return nil, false
}

// attrIntsN reads an ints attribute that must have n entries, with every
// entry def when absent.
func (c *nctx) attrIntsN(name string, n int, def int64) ([]int64, error) {
	v, ok := c.attrInts(name)
	if !ok {
		out := make([]int64, n)
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(v) != n {
		return nil, fmt.Errorf("attribute %s has %d entries, want %d", name, len(v), n)
	}
	return v, nil
}

// --- known contents of inputs ---

// ints returns the elements of input i as integer expressions (nil where
// unknown), false when the input or its contents are unknown.
func (c *nctx) ints(i int) ([]*expr, bool) {
	t := c.input(i)
	if t == nil || t.val == nil {
		// A 1-D input of known length has that many unknown elements.
		if t != nil && t.rank && len(t.dims) == 1 {
			if n, ok := t.dims[0].constVal(); ok && n <= maxPropagated {
				return make([]*expr, n), true
			}
		}
		return nil, false
	}
	out := make([]*expr, t.val.len())
	for k := range out {
		out[k] = t.val.intAt(k)
	}
	return out, true
}

// constInts returns input i's contents as int64s when all are known.
func (c *nctx) constInts(i int) ([]int64, bool) {
	t := c.input(i)
	if t == nil || t.val == nil {
		return nil, false
	}
	return t.val.constInts()
}

// constFloats returns input i's contents as numbers when all are known.
func (c *nctx) constFloats(i int) ([]float64, bool) {
	t := c.input(i)
	if t == nil || t.val == nil {
		return nil, false
	}
	out := make([]float64, t.val.len())
	for k := range out {
		f, ok := t.val.floatAt(k)
		if !ok {
			return nil, false
		}
		out[k] = f
	}
	return out, true
}

// length is the element count of a 1-D (or scalar) input when known.
func (c *nctx) length(i int) (int, bool) {
	t := c.input(i)
	if t == nil || !t.rank || len(t.dims) > 1 {
		return 0, false
	}
	if len(t.dims) == 0 {
		return 1, true
	}
	n, ok := t.dims[0].constVal()
	if !ok || n > maxPropagated {
		return 0, false
	}
	return int(n), true
}

// isEmpty reports whether input i is absent or known to hold no elements
// (as Resize's unused roi and scales often are).
func (c *nctx) isEmpty(i int) bool {
	t := c.input(i)
	if t == nil {
		return true
	}
	n, ok := t.numel()
	return ok && n == 0
}

// --- size arithmetic ---

// settleDim turns a failed computation (nil) into an error when the
// operands were all constants, and into a fresh symbol otherwise.
func (c *nctx) settleDim(e *expr, operands ...*expr) *expr {
	if e != nil {
		return e
	}
	for _, o := range operands {
		if o == nil || !o.isConst() {
			return c.in.fresh()
		}
	}
	c.fail("size arithmetic overflows")
	return cst(0)
}

func (c *nctx) add(a, b *expr) *expr { return c.settleDim(eAdd(a, b), a, b) }
func (c *nctx) sub(a, b *expr) *expr { return c.settleDim(eSub(a, b), a, b) }
func (c *nctx) mul(a, b *expr) *expr { return c.settleDim(eMul(a, b), a, b) }
func (c *nctx) addc(a *expr, k int64) *expr {
	return c.settleDim(eAdd(a, cst(k)), a)
}

// floorDiv is floor(a/b) for b > 0.
func (c *nctx) floorDiv(a, b *expr) *expr {
	if v, ok := b.constVal(); ok && v <= 0 {
		c.fail("division by %d in size arithmetic", v)
		return cst(0)
	}
	return c.settleDim(eFloorDiv(a, b), a, b)
}

func (c *nctx) ceilDiv(a, b *expr) *expr {
	if v, ok := b.constVal(); ok && v <= 0 {
		c.fail("division by %d in size arithmetic", v)
		return cst(0)
	}
	return c.settleDim(eCeilDiv(a, b), a, b)
}

func (c *nctx) product(ds []*expr) *expr {
	p := cst(1)
	for _, d := range ds {
		p = c.mul(p, d)
	}
	return p
}

// same2 merges two sizes that must be equal: a known size wins over a
// symbol, two different known sizes are an error.
func (c *nctx) same2(a, b *expr, what string) *expr {
	if eq(a, b) {
		return a
	}
	av, aok := a.constVal()
	bv, bok := b.constVal()
	switch {
	case aok && bok:
		c.fail("%s: sizes %d and %d differ", what, av, bv)
		return a
	case aok:
		return a
	case bok:
		return b
	}
	return a
}

// bdim broadcasts two sizes: 1 stretches, equal sizes match, a known
// size other than 1 wins over a symbol, two different symbols give a
// fresh one.
func (c *nctx) bdim(a, b *expr) (*expr, error) {
	if eq(a, b) || isOne(b) {
		return a, nil
	}
	if isOne(a) {
		return b, nil
	}
	av, aok := a.constVal()
	bv, bok := b.constVal()
	switch {
	case aok && bok:
		return nil, fmt.Errorf("sizes %d and %d do not broadcast", av, bv)
	case aok:
		return a, nil
	case bok:
		return b, nil
	}
	return c.in.fresh(), nil
}

// broadcast is ONNX multidirectional broadcasting of the given shapes.
func (c *nctx) broadcast(shapes ...[]*expr) ([]*expr, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]*expr, r)
	for i := range out {
		out[i] = cst(1)
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			m, err := c.bdim(out[off+i], d)
			if err != nil {
				return nil, fmt.Errorf("shapes %s do not broadcast: %w", shapesString(shapes), err)
			}
			out[off+i] = m
		}
	}
	return out, nil
}

func shapesString(shapes [][]*expr) string {
	var parts []string
	for _, s := range shapes {
		parts = append(parts, (&tinfo{rank: true, dims: s}).valueType().Shape.String())
	}
	return strings.Join(parts, " and ")
}

func dimsString(d []*expr) string { return (&tinfo{rank: true, dims: d}).valueType().Shape.String() }

// constDims returns sizes as int64s when all are known.
func constDims(ds []*expr) ([]int64, bool) {
	out := make([]int64, len(ds))
	for i, d := range ds {
		v, ok := d.constVal()
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

func constExprs(vs []int64) []*expr {
	out := make([]*expr, len(vs))
	for i, v := range vs {
		out[i] = cst(v)
	}
	return out
}

// dimsFrom turns shape-tensor contents into sizes; unknown elements get
// fresh symbols. Negative sizes are an error.
func (c *nctx) dimsFrom(vs []*expr, what string) ([]*expr, error) {
	out := make([]*expr, len(vs))
	for i, v := range vs {
		if v == nil {
			out[i] = c.in.fresh()
			continue
		}
		if k, ok := v.constVal(); ok && k < 0 {
			return nil, fmt.Errorf("%s has negative size %d", what, k)
		}
		out[i] = v
	}
	return out, nil
}

func freshDims(c *nctx, n int) []*expr {
	out := make([]*expr, n)
	for i := range out {
		out[i] = c.in.fresh()
	}
	return out
}

// isFloatType reports whether dt holds floating-point numbers.
func isFloatType(dt DataType) bool {
	switch dt {
	case Float, Double, Float16, BFloat16:
		return true
	}
	return false
}

// roundTo rounds a computed number to what dt can hold, so propagated
// float32 arithmetic matches a float32 runtime.
func roundTo(dt DataType, f float64) float64 {
	switch dt {
	case Float:
		return float64(float32(f))
	case Float16:
		return float64(F16From(float32(f)).Float32())
	case BFloat16:
		return float64(BF16From(float32(f)).Float32())
	}
	return f
}

// fitsInt reports whether f converts to an int64 without loss of range.
func fitsInt(f float64) bool {
	return !math.IsNaN(f) && f > -(1<<62) && f < 1<<62
}

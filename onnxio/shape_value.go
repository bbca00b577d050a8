package onnxio

import "math"

// num is one element of a propagated tensor: an integer expression, a
// float, or unknown.
type num struct {
	e   *expr
	f   float64
	isF bool
}

func (n num) known() bool { return n.e != nil || n.isF }

// float is the element as a number, false when unknown or symbolic.
func (n num) float() (float64, bool) {
	if n.isF {
		return n.f, true
	}
	if n.e != nil {
		k, ok := n.e.constVal()
		return float64(k), ok
	}
	return 0, false
}

// integer is the element as an integer expression, nil when unknown or
// not integral.
func (n num) integer() *expr {
	if n.isF {
		if n.f == math.Trunc(n.f) && fitsInt(n.f) {
			return cst(int64(n.f))
		}
		return nil
	}
	return n.e
}

func fnum(f float64) num { return num{f: f, isF: true} }

func (v *value) at(i int) num {
	if v.floats != nil {
		return num{f: v.floats[i], isF: true}
	}
	return num{e: v.ints[i]}
}

// packNums builds a value from elements, as floats when every element is
// a known number and one is not an integer, else as integer expressions.
func packNums(ns []num) *value {
	anyF, allNum := false, true
	for _, n := range ns {
		if n.isF && n.integer() == nil {
			anyF = true
		}
		if _, ok := n.float(); !ok {
			allNum = false
		}
	}
	if anyF && allNum {
		fs := make([]float64, len(ns))
		for i, n := range ns {
			fs[i], _ = n.float()
		}
		return &value{floats: fs}
	}
	is := make([]*expr, len(ns))
	for i, n := range ns {
		is[i] = n.integer()
	}
	return &value{ints: is}
}

// elementwise computes the contents of an elementwise operator's output
// with broadcasting, when the output is small and every input's contents
// are known. It returns nil otherwise.
func elementwise(outDims []*expr, ins []*tinfo, f func(args []num) num) *value {
	od, ok := constDims(outDims)
	if !ok {
		return nil
	}
	total, err := NumElements(od)
	if err != nil || total > maxPropagated {
		return nil
	}
	maps := make([][]int, len(ins))
	for k, t := range ins {
		if t == nil || t.val == nil {
			return nil
		}
		id, ok := constDims(t.dims)
		if !ok || len(id) > len(od) {
			return nil
		}
		maps[k] = broadcastIndex(od, id)
		if maps[k] == nil {
			return nil
		}
	}
	out := make([]num, total)
	args := make([]num, len(ins))
	for i := range out {
		for k, t := range ins {
			args[k] = t.val.at(maps[k][i])
		}
		out[i] = f(args)
	}
	return packNums(out)
}

// broadcastIndex maps each element of a row-major tensor of shape od to
// the element of a tensor of shape id (right-aligned, sizes 1 stretched)
// it reads. nil when id does not broadcast to od.
func broadcastIndex(od, id []int64) []int {
	total, err := NumElements(od)
	if err != nil || total > maxPropagated {
		return nil
	}
	off := len(od) - len(id)
	strides := make([]int, len(od))
	s := 1
	for i := len(id) - 1; i >= 0; i-- {
		switch {
		case id[i] == od[off+i]:
			strides[off+i] = s
		case id[i] == 1:
			strides[off+i] = 0
		default:
			return nil
		}
		s *= int(id[i])
	}
	out := make([]int, total)
	idx := make([]int64, len(od))
	for i := range out {
		p := 0
		for d := range od {
			p += int(idx[d]) * strides[d]
		}
		out[i] = p
		for d := len(od) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < od[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// arith applies a binary arithmetic operator to two elements of a tensor
// of type dt.
func arith(op string, dt DataType, a, b num) num {
	if !a.known() || !b.known() {
		return num{}
	}
	fl := isFloatType(dt)
	ai, bi := a.integer(), b.integer()
	if ai != nil && bi != nil && (!a.isF || !b.isF || fl) {
		av, aok := ai.constVal()
		bv, bok := bi.constVal()
		switch op {
		case "Add":
			return num{e: eAdd(ai, bi)}
		case "Sub":
			return num{e: eSub(ai, bi)}
		case "Mul":
			return num{e: eMul(ai, bi)}
		case "Div":
			if bok && bv == 0 {
				return num{}
			}
			if !fl {
				if aok && bok {
					return num{e: cst(av / bv)} // integer division truncates
				}
				if bok && bv > 0 {
					return num{e: eFloorDiv(ai, bi)} // sizes are non-negative
				}
				return num{}
			}
			if q := divMonomial(ai, bi); q != nil {
				return num{e: q}
			}
		case "Max", "Min":
			if eq(ai, bi) {
				return num{e: ai}
			}
			if aok && bok {
				if (op == "Max") == (av > bv) {
					return num{e: ai}
				}
				return num{e: bi}
			}
			return num{}
		}
	}
	x, xok := a.float()
	y, yok := b.float()
	if !xok || !yok {
		return num{}
	}
	var r float64
	switch op {
	case "Add":
		r = x + y
	case "Sub":
		r = x - y
	case "Mul":
		r = x * y
	case "Div":
		if y == 0 {
			return num{}
		}
		r = x / y
		if !fl {
			r = math.Trunc(r)
		}
	case "Max":
		r = math.Max(x, y)
	case "Min":
		r = math.Min(x, y)
	case "Pow":
		r = math.Pow(x, y)
		if !fl {
			r = math.Trunc(r)
		}
	case "Mod":
		if y == 0 || fl {
			return num{}
		}
		r = x - y*math.Floor(x/y) // sign of the divisor, as fmod=0
	case "FMod":
		if y == 0 {
			return num{}
		}
		r = math.Mod(x, y) // sign of the dividend
	default:
		return num{}
	}
	if !fl {
		if !fitsInt(r) {
			return num{}
		}
		return num{e: cst(int64(r))}
	}
	return fnum(roundTo(dt, r))
}

// compare applies a comparison or logical operator, giving 0 or 1.
func compare(op string, a, b num) num {
	if op == "Equal" && a.e != nil && b.e != nil && !a.isF && !b.isF && eq(a.e, b.e) {
		return num{e: cst(1)}
	}
	x, xok := a.float()
	y, yok := b.float()
	if !xok || !yok {
		return num{}
	}
	var r bool
	switch op {
	case "Equal":
		r = x == y
	case "Greater":
		r = x > y
	case "Less":
		r = x < y
	case "GreaterOrEqual":
		r = x >= y
	case "LessOrEqual":
		r = x <= y
	case "And":
		r = x != 0 && y != 0
	case "Or":
		r = x != 0 || y != 0
	case "Xor":
		r = (x != 0) != (y != 0)
	default:
		return num{}
	}
	if r {
		return num{e: cst(1)}
	}
	return num{e: cst(0)}
}

// unaryValue applies an elementwise unary operator to one element.
func unaryValue(op string, dt DataType, a num) num {
	if op == "Identity" {
		return a
	}
	if !a.isF && a.e != nil {
		switch op {
		case "Neg":
			return num{e: eScale(a.e, -1)}
		case "Floor", "Ceil", "Round":
			return a
		}
	}
	x, ok := a.float()
	if !ok {
		return num{}
	}
	var r float64
	switch op {
	case "Neg":
		r = -x
	case "Abs":
		r = math.Abs(x)
	case "Floor":
		r = math.Floor(x)
	case "Ceil":
		r = math.Ceil(x)
	case "Round":
		r = math.RoundToEven(x)
	case "Sign":
		switch {
		case x > 0:
			r = 1
		case x < 0:
			r = -1
		}
	case "Not":
		if x == 0 {
			r = 1
		}
	case "Sqrt":
		r = math.Sqrt(x)
	case "Reciprocal":
		if x == 0 {
			return num{}
		}
		r = 1 / x
	case "Relu":
		r = math.Max(x, 0)
	default:
		return num{}
	}
	if !isFloatType(dt) {
		if !fitsInt(r) {
			return num{}
		}
		return num{e: cst(int64(r))}
	}
	return fnum(roundTo(dt, r))
}

// castValue converts one element to type to.
func castValue(to DataType, a num) num {
	switch {
	case !a.known():
		return num{}
	case to == Bool:
		x, ok := a.float()
		if !ok {
			return num{}
		}
		if x != 0 {
			return num{e: cst(1)}
		}
		return num{e: cst(0)}
	case isFloatType(to):
		if a.isF {
			return fnum(roundTo(to, a.f))
		}
		return a // an integer stays exact
	case to == String:
		return num{}
	}
	if a.isF {
		if !fitsInt(a.f) {
			return num{}
		}
		return num{e: cst(int64(math.Trunc(a.f)))}
	}
	return a
}

// reshapeValue keeps contents when only the shape changes.
func reshapeValue(t *tinfo) *value {
	if t == nil {
		return nil
	}
	return t.val
}

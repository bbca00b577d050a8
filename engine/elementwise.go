package engine

import (
	"fmt"
	"math"
	"sync"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildBinary, "Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Mod")
	register(buildVariadic, "Max", "Min", "Sum", "Mean")
	register(buildCompare, "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor")
	register(buildUnary, "Relu", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh",
		"Sqrt", "Exp", "Log", "Neg", "Abs", "Erf", "Reciprocal", "Floor", "Ceil", "Elu", "Selu",
		"Softplus", "Softsign", "Sign", "Not", "Round", "Gelu", "Mish", "ThresholdedRelu", "Celu",
		"Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Shrink")
	register(buildIsNaNInf, "IsNaN", "IsInf")
	register(func(c *nodeCtx) (kernel, error) { return &whereK{}, nil }, "Where")
	register(buildIdentity, "Identity", "Dropout")
	register(buildCast, "Cast")
}

// ---- binary arithmetic ----

type binaryK struct {
	op         string
	legacyAxis int64 // opset-6 broadcast axis, -1 for numpy broadcasting
}

func buildBinary(c *nodeCtx) (kernel, error) {
	k := &binaryK{op: c.n.GetOpType(), legacyAxis: c.attrInt("legacy_axis", -1)}
	if k.op == "Mod" && c.attrInt("fmod", 0) != 0 {
		k.op = "Fmod"
	}
	return k, nil
}

// bShape is B's shape for broadcasting: with a legacy axis, B's
// dimensions align with A's from that axis.
func (k *binaryK) bShape(a, b []int) []int {
	if k.legacyAxis < 0 {
		return b
	}
	ax := int(k.legacyAxis)
	if ax < 0 {
		ax += len(a)
	}
	s := append([]int{}, b...)
	for len(s) < len(a)-ax {
		s = append(s, 1)
	}
	return s
}

func (k *binaryK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("%s needs two inputs", k.op)
	}
	a, b := in[0], in[1]
	if a.Type != b.Type && k.op != "Pow" {
		return nil, fmt.Errorf("%s of %s and %s", k.op, a, b)
	}
	if k.op == "Pow" && (a.Type == onnxio.Bool || b.Type == onnxio.Bool) {
		return nil, fmt.Errorf("Pow of bool")
	}
	if k.op == "PRelu" && a.Type != onnxio.Float {
		return nil, unsupported("PRelu of %s", onnxio.DataTypeName(a.Type))
	}
	if a.Type == onnxio.Bool {
		return nil, fmt.Errorf("%s of bool", k.op)
	}
	sh, err := bcastShape(a.Shape, k.bShape(a.Shape, b.Shape))
	if err != nil {
		return nil, err
	}
	return []spec{{a.Type, sh}}, nil
}

func (k *binaryK) run(rc *runCtx, in, out []*Tensor) error {
	a, b, o := in[0], in[1], out[0]
	if k.legacyAxis >= 0 {
		b = b.view(k.bShape(a.Shape, b.Shape))
	}
	if k.op == "Pow" && a.Type != onnxio.Float {
		// Integer base: computed in float64, truncated to the base's type.
		bcastRows(o.Shape, [][]int{a.Shape, b.Shape}, func(oo int, off []int, n int, inc []int) {
			for i := 0; i < n; i++ {
				v := math.Pow(a.at(off[0]+i*inc[0]), b.at(off[1]+i*inc[1]))
				switch o.Type {
				case onnxio.Int64:
					o.I64[oo+i] = int64(v)
				case onnxio.Int32:
					o.I32[oo+i] = int32(v)
				case onnxio.Uint8:
					o.U8[oo+i] = uint8(v)
				case onnxio.Int8:
					o.I8[oo+i] = int8(v)
				}
			}
		})
		return nil
	}
	switch a.Type {
	case onnxio.Float:
		bf := b.floats()
		binaryF32Par(rc.threads, k.op, a.F32, bf, o.F32, a.Shape, b.Shape, o.Shape)
	case onnxio.Int64:
		return binaryInt(k.op, a.I64, b.I64, o.I64, a.Shape, b.Shape, o.Shape)
	case onnxio.Int32:
		return binaryInt(k.op, a.I32, b.I32, o.I32, a.Shape, b.Shape, o.Shape)
	case onnxio.Uint8:
		return binaryInt(k.op, a.U8, b.U8, o.U8, a.Shape, b.Shape, o.Shape)
	case onnxio.Int8:
		return binaryInt(k.op, a.I8, b.I8, o.I8, a.Shape, b.Shape, o.Shape)
	case onnxio.Int16:
		return binaryInt(k.op, a.I16, b.I16, o.I16, a.Shape, b.Shape, o.Shape)
	case onnxio.Uint16:
		return binaryInt(k.op, a.U16, b.U16, o.U16, a.Shape, b.Shape, o.Shape)
	case onnxio.Uint64:
		return binaryInt(k.op, a.U64, b.U64, o.U64, a.Shape, b.Shape, o.Shape)
	default:
		return fmt.Errorf("%s of %s", k.op, onnxio.DataTypeName(a.Type))
	}
	return nil
}

func binaryF32(op string, a, b, o []float32, as, bs, os []int) {
	binaryF32Par(1, op, a, b, o, as, bs, os)
}

// binaryF32Par is binaryF32 split over threads.
func binaryF32Par(threads int, op string, a, b, o []float32, as, bs, os []int) {
	bcastRowsPar(threads, os, [][]int{as, bs}, func(oo int, off []int, n int, inc []int) {
		ia, ib, sa, sb := off[0], off[1], inc[0], inc[1]
		dst := o[oo : oo+n]
		if sa == 1 && (sb == 1 || sb == 0) && binaryFast(op, dst, a[ia:ia+n], b[ib:], sb) {
			return
		}
		if sa == 0 && sb == 1 && binaryScalarFirst(op, dst, a[ia:], b[ib:ib+n]) {
			return
		}
		switch op {
		case "Add":
			for i := range dst {
				dst[i] = a[ia+i*sa] + b[ib+i*sb]
			}
		case "Sub":
			for i := range dst {
				dst[i] = a[ia+i*sa] - b[ib+i*sb]
			}
		case "Mul":
			for i := range dst {
				dst[i] = a[ia+i*sa] * b[ib+i*sb]
			}
		case "Div":
			for i := range dst {
				dst[i] = a[ia+i*sa] / b[ib+i*sb]
			}
		case "Pow":
			for i := range dst {
				dst[i] = float32(math.Pow(float64(a[ia+i*sa]), float64(b[ib+i*sb])))
			}
		case "PRelu":
			for i := range dst {
				x := a[ia+i*sa]
				if x < 0 {
					x *= b[ib+i*sb]
				}
				dst[i] = x
			}
		case "Max":
			for i := range dst {
				x, y := a[ia+i*sa], b[ib+i*sb]
				if y > x || y != y {
					x = y
				}
				dst[i] = x
			}
		case "Min":
			for i := range dst {
				x, y := a[ia+i*sa], b[ib+i*sb]
				if y < x || y != y {
					x = y
				}
				dst[i] = x
			}
		case "Fmod":
			for i := range dst {
				dst[i] = float32(math.Mod(float64(a[ia+i*sa]), float64(b[ib+i*sb])))
			}
		case "Mod":
			for i := range dst {
				x, y := float64(a[ia+i*sa]), float64(b[ib+i*sb])
				r := math.Mod(x, y)
				if r != 0 && (r < 0) != (y < 0) {
					r += y
				}
				dst[i] = float32(r)
			}
		}
	})
}

// elemOps maps the operators kernels.Elementwise computes.
var elemOps = map[string]kernels.ElemOp{"Add": kernels.ElemAdd, "Sub": kernels.ElemSub, "Mul": kernels.ElemMul, "Div": kernels.ElemDiv}

// binaryScalarFirst handles a broadcast A element against a contiguous
// B row (a per-channel scale times a feature map) for the common
// operators; false for others.
func binaryScalarFirst(op string, dst []float32, x []float32, b []float32) bool {
	eo, ok := elemOps[op]
	if ok {
		kernels.Elementwise(eo, dst, x[:1], b)
	}
	return ok
}

// binaryFast handles a contiguous A row against a contiguous or scalar B
// for the common operators; false for others.
func binaryFast(op string, dst, a, b []float32, sb int) bool {
	eo, ok := elemOps[op]
	if !ok {
		return false
	}
	if sb == 0 {
		kernels.Elementwise(eo, dst, a, b[:1])
	} else {
		kernels.Elementwise(eo, dst, a, b[:len(a)])
	}
	return true
}

type integer interface {
	~int64 | ~int32 | ~uint8 | ~int8 | ~int16 | ~uint16 | ~uint64
}

func binaryInt[T integer](op string, a, b, o []T, as, bs, os []int) error {
	var err error
	bcastRows(os, [][]int{as, bs}, func(oo int, off []int, n int, inc []int) {
		ia, ib, sa, sb := off[0], off[1], inc[0], inc[1]
		for i := 0; i < n; i++ {
			x, y := a[ia+i*sa], b[ib+i*sb]
			var r T
			switch op {
			case "Add":
				r = x + y
			case "Sub":
				r = x - y
			case "Mul":
				r = x * y
			case "Div":
				if y == 0 {
					err = fmt.Errorf("integer division by zero")
					return
				}
				r = x / y
			case "Max":
				r = max(x, y)
			case "Min":
				r = min(x, y)
			case "Mod", "Fmod":
				if y == 0 {
					err = fmt.Errorf("integer division by zero")
					return
				}
				r = x % y
				if op == "Mod" && r != 0 && (r < 0) != (y < 0) {
					r += y
				}
			default:
				err = fmt.Errorf("%s on integers is not supported", op)
				return
			}
			o[oo+i] = r
		}
	})
	return err
}

// ---- variadic Max, Min, Sum, Mean ----

type variadicK struct{ op string }

func buildVariadic(c *nodeCtx) (kernel, error) { return &variadicK{op: c.n.GetOpType()}, nil }

func (k *variadicK) infer(in []*Tensor) ([]spec, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%s needs inputs", k.op)
	}
	var shapes [][]int
	for _, t := range in {
		if t == nil || t.Type != in[0].Type {
			return nil, fmt.Errorf("%s inputs differ in type", k.op)
		}
		shapes = append(shapes, t.Shape)
	}
	if in[0].Type == onnxio.Bool || ((k.op == "Mean") && in[0].Type != onnxio.Float) {
		return nil, unsupported("%s of %s", k.op, onnxio.DataTypeName(in[0].Type))
	}
	sh, err := bcastShape(shapes...)
	if err != nil {
		return nil, err
	}
	return []spec{{in[0].Type, sh}}, nil
}

func (k *variadicK) run(rc *runCtx, in, out []*Tensor) error {
	o := out[0]
	op := k.op
	if op == "Sum" || op == "Mean" {
		op = "Add"
	}
	// out = broadcast(in[0]), then out = op(out, in[i]).
	zero := newTensor(o.Type, []int{})
	if err := (&binaryK{op: "Add", legacyAxis: -1}).run(rc, []*Tensor{in[0], zero}, []*Tensor{o}); err != nil {
		return err
	}
	for _, t := range in[1:] {
		if err := (&binaryK{op: op, legacyAxis: -1}).run(rc, []*Tensor{o, t}, []*Tensor{o}); err != nil {
			return err
		}
	}
	if k.op == "Mean" {
		s := 1 / float32(len(in))
		if len(in) > 1 {
			for i := range o.F32 {
				o.F32[i] *= s
			}
		}
	}
	return nil
}

// ---- comparisons and logic ----

type compareK struct{ op string }

func buildCompare(c *nodeCtx) (kernel, error) { return &compareK{op: c.n.GetOpType()}, nil }

func (k *compareK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil || in[0].Type != in[1].Type {
		return nil, fmt.Errorf("%s needs two inputs of one type", k.op)
	}
	logic := k.op == "And" || k.op == "Or" || k.op == "Xor"
	if logic != (in[0].Type == onnxio.Bool) {
		return nil, fmt.Errorf("%s of %s", k.op, onnxio.DataTypeName(in[0].Type))
	}
	sh, err := bcastShape(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	return []spec{{onnxio.Bool, sh}}, nil
}

func (k *compareK) run(rc *runCtx, in, out []*Tensor) error {
	a, b, o := in[0], in[1], out[0]
	bcastRows(o.Shape, [][]int{a.Shape, b.Shape}, func(oo int, off []int, n int, inc []int) {
		for i := 0; i < n; i++ {
			ia, ib := off[0]+i*inc[0], off[1]+i*inc[1]
			var r bool
			if a.Type == onnxio.Bool {
				x, y := a.Bool[ia], b.Bool[ib]
				switch k.op {
				case "And":
					r = x && y
				case "Or":
					r = x || y
				case "Xor":
					r = x != y
				case "Equal":
					r = x == y
				}
			} else {
				var c int
				var eq bool
				switch a.Type {
				case onnxio.Float:
					x, y := a.F32[ia], b.F32[ib]
					c, eq = cmp3(x, y), x == y
				case onnxio.Int64:
					x, y := a.I64[ia], b.I64[ib]
					c, eq = cmp3(x, y), x == y
				case onnxio.Int32:
					x, y := a.I32[ia], b.I32[ib]
					c, eq = cmp3(x, y), x == y
				case onnxio.Uint8:
					x, y := a.U8[ia], b.U8[ib]
					c, eq = cmp3(x, y), x == y
				case onnxio.Int8:
					x, y := a.I8[ia], b.I8[ib]
					c, eq = cmp3(x, y), x == y
				}
				switch k.op {
				case "Equal":
					r = eq
				case "Less":
					r = c < 0
				case "Greater":
					r = c > 0
				case "LessOrEqual":
					r = c < 0 || eq
				case "GreaterOrEqual":
					r = c > 0 || eq
				}
			}
			o.Bool[oo+i] = r
		}
	})
	return nil
}

// cmp3 is -1, 0 or 1; 2 when unordered (NaN), so no comparison holds.
func cmp3[T float32 | int64 | int32 | uint8 | int8](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	}
	return 2
}

// ---- Where ----

type whereK struct{}

func (k *whereK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != 3 || in[0] == nil || in[0].Type != onnxio.Bool || in[1] == nil || in[2] == nil || in[1].Type != in[2].Type {
		return nil, fmt.Errorf("Where needs a bool condition and two inputs of one type")
	}
	sh, err := bcastShape(in[0].Shape, in[1].Shape, in[2].Shape)
	if err != nil {
		return nil, err
	}
	return []spec{{in[1].Type, sh}}, nil
}

func (k *whereK) run(rc *runCtx, in, out []*Tensor) error {
	c, x, y, o := in[0], in[1], in[2], out[0]
	bcastRows(o.Shape, [][]int{c.Shape, x.Shape, y.Shape}, func(oo int, off []int, n int, inc []int) {
		for i := 0; i < n; i++ {
			src, j := y, off[2]+i*inc[2]
			if c.Bool[off[0]+i*inc[0]] {
				src, j = x, off[1]+i*inc[1]
			}
			switch o.Type {
			case onnxio.Float:
				o.F32[oo+i] = src.F32[j]
			case onnxio.Int64:
				o.I64[oo+i] = src.I64[j]
			case onnxio.Int32:
				o.I32[oo+i] = src.I32[j]
			case onnxio.Uint8:
				o.U8[oo+i] = src.U8[j]
			case onnxio.Int8:
				o.I8[oo+i] = src.I8[j]
			case onnxio.Bool:
				o.Bool[oo+i] = src.Bool[j]
			}
		}
	})
	return nil
}

// ---- unary ----

type unaryK struct {
	op          string
	f           func(float32) float32
	alpha, beta float32
	clip        bool // Clip: min and max come from inputs 1 and 2
}

func buildUnary(c *nodeCtx) (kernel, error) {
	op := c.n.GetOpType()
	k := &unaryK{op: op}
	switch op {
	case "Relu":
		k.f = func(x float32) float32 {
			if x < 0 {
				return 0
			}
			return x
		}
	case "LeakyRelu":
		a := c.attrFloat("alpha", 0.01)
		k.f = func(x float32) float32 {
			if x < 0 {
				return a * x
			}
			return x
		}
	case "HardSigmoid":
		a, b := c.attrFloat("alpha", 0.2), c.attrFloat("beta", 0.5)
		k.f = func(x float32) float32 { return max(0, min(1, a*x+b)) }
	case "HardSwish":
		k.f = func(x float32) float32 { return x * max(0, min(1, x/6+0.5)) }
	case "Sigmoid":
		k.f = sigmoid
	case "Tanh":
		k.f = f64(math.Tanh)
	case "Sqrt":
		k.f = f64(math.Sqrt)
	case "Exp":
		k.f = f64(math.Exp)
	case "Log":
		k.f = f64(math.Log)
	case "Erf":
		k.f = f64(math.Erf)
	case "Floor":
		k.f = f64(math.Floor)
	case "Ceil":
		k.f = f64(math.Ceil)
	case "Round":
		k.f = f64(math.RoundToEven)
	case "Reciprocal":
		k.f = func(x float32) float32 { return 1 / x }
	case "Softplus":
		k.f = f64(func(x float64) float64 { return math.Log1p(math.Exp(x)) })
	case "Softsign":
		k.f = func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) }
	case "Elu":
		a := float64(c.attrFloat("alpha", 1))
		k.f = f64(func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		})
	case "Celu":
		a := float64(c.attrFloat("alpha", 1))
		k.f = f64(func(x float64) float64 { return max(0, x) + min(0, a*(math.Exp(x/a)-1)) })
	case "Selu":
		a, g := float64(c.attrFloat("alpha", 1.67326319217681884765625)), float64(c.attrFloat("gamma", 1.05070102214813232421875))
		k.f = f64(func(x float64) float64 {
			if x <= 0 {
				return g * (a*math.Exp(x) - a)
			}
			return g * x
		})
	case "ThresholdedRelu":
		a := c.attrFloat("alpha", 1)
		k.f = func(x float32) float32 {
			if x > a {
				return x
			}
			return 0
		}
	case "Gelu":
		if c.attrString("approximate", "none") == "tanh" {
			k.f = f64(func(x float64) float64 {
				return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
			})
		} else {
			k.f = f64(func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) })
		}
	case "Mish":
		k.f = f64(func(x float64) float64 { return x * math.Tanh(math.Log1p(math.Exp(x))) })
	case "Sin":
		k.f = f64(math.Sin)
	case "Cos":
		k.f = f64(math.Cos)
	case "Tan":
		k.f = f64(math.Tan)
	case "Asin":
		k.f = f64(math.Asin)
	case "Acos":
		k.f = f64(math.Acos)
	case "Atan":
		k.f = f64(math.Atan)
	case "Sinh":
		k.f = f64(math.Sinh)
	case "Cosh":
		k.f = f64(math.Cosh)
	case "Asinh":
		k.f = f64(math.Asinh)
	case "Acosh":
		k.f = f64(math.Acosh)
	case "Atanh":
		k.f = f64(math.Atanh)
	case "Shrink":
		bias, lambd := c.attrFloat("bias", 0), c.attrFloat("lambd", 0.5)
		k.f = func(x float32) float32 {
			switch {
			case x < -lambd:
				return x + bias
			case x > lambd:
				return x - bias
			}
			return 0
		}
	case "Clip":
		k.clip = true
	case "Neg", "Abs", "Sign", "Not":
	default:
		return nil, unsupported("unary %s", op)
	}
	return k, nil
}

func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

func f64(f func(float64) float64) func(float32) float32 {
	return func(x float32) float32 { return float32(f(float64(x))) }
}

func (k *unaryK) infer(in []*Tensor) ([]spec, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("%s needs an input", k.op)
	}
	t := in[0].Type
	switch {
	case k.op == "Not":
		if t != onnxio.Bool {
			return nil, fmt.Errorf("Not of %s", onnxio.DataTypeName(t))
		}
	case k.op == "Neg" || k.op == "Abs" || k.op == "Sign" || k.op == "Clip" || k.op == "Relu":
		if t == onnxio.Bool {
			return nil, fmt.Errorf("%s of bool", k.op)
		}
	case t != onnxio.Float:
		return nil, unsupported("%s of %s", k.op, onnxio.DataTypeName(t))
	}
	return []spec{{t, in[0].Shape}}, nil
}

func (k *unaryK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	switch x.Type {
	case onnxio.Float:
		f := k.f
		switch k.op {
		case "Neg":
			f = func(v float32) float32 { return -v }
		case "Abs":
			f = func(v float32) float32 { return float32(math.Abs(float64(v))) }
		case "Sign":
			f = func(v float32) float32 {
				switch {
				case v > 0:
					return 1
				case v < 0:
					return -1
				}
				return v
			}
		case "Clip":
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			if len(in) > 1 && in[1] != nil {
				lo = in[1].F32[0]
			}
			if len(in) > 2 && in[2] != nil {
				hi = in[2].F32[0]
			}
			f = func(v float32) float32 { return min(max(v, lo), hi) }
		}
		switch k.op {
		case "Relu":
			// Branch-free: max compiles to MAXSS, and signs are random.
			parallelFor(rc.threads, len(x.F32), 1<<15, func(lo, hi int) {
				for i, v := range x.F32[lo:hi] {
					o.F32[lo+i] = max(v, 0)
				}
			})
			return nil
		}
		parallelMap(rc.threads, x.F32, o.F32, f)
	case onnxio.Int64:
		return unaryInt(k, in, x.I64, o.I64)
	case onnxio.Int32:
		return unaryInt(k, in, x.I32, o.I32)
	case onnxio.Uint8:
		return unaryInt(k, in, x.U8, o.U8)
	case onnxio.Int8:
		return unaryInt(k, in, x.I8, o.I8)
	case onnxio.Bool:
		for i, v := range x.Bool {
			o.Bool[i] = !v
		}
	default:
		return fmt.Errorf("%s of %s", k.op, onnxio.DataTypeName(x.Type))
	}
	return nil
}

func unaryInt[T integer](k *unaryK, in []*Tensor, x, o []T) error {
	var lo, hi T
	hasLo, hasHi := false, false
	if k.op == "Clip" {
		if len(in) > 1 && in[1] != nil {
			lo, hasLo = T(in[1].ints()[0]), true
		}
		if len(in) > 2 && in[2] != nil {
			hi, hasHi = T(in[2].ints()[0]), true
		}
	}
	for i, v := range x {
		switch k.op {
		case "Neg":
			v = -v
		case "Abs":
			if v < 0 {
				v = -v
			}
		case "Sign":
			switch {
			case v > 0:
				v = 1
			case v < 0:
				v = ^T(0)
			}
		case "Relu":
			if v < 0 {
				v = 0
			}
		case "Clip":
			if hasLo && v < lo {
				v = lo
			}
			if hasHi && v > hi {
				v = hi
			}
		}
		o[i] = v
	}
	return nil
}

// parallelMap applies f elementwise, split over threads for large tensors.
func parallelMap(threads int, x, o []float32, f func(float32) float32) {
	parallelFor(threads, len(x), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o[i] = f(x[i])
		}
	})
}

// parallelFor splits [0, n) into at most threads chunks of at least
// grain items and runs fn on each, waiting for all.
func parallelFor(threads, n, grain int, fn func(lo, hi int)) {
	parts := min(threads, n/max(grain, 1))
	if parts <= 1 {
		fn(0, n)
		return
	}
	parallelParts(parts, n, fn)
}

// parallelParts is parallelFor's split into parts > 1 chunks, apart so
// that the one-chunk path allocates none of its goroutine state.
func parallelParts(parts, n int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed any // a worker's panic, re-raised on the caller's goroutine
	for p := 0; p < parts; p++ {
		lo, hi := n*p/parts, n*(p+1)/parts
		if p == parts-1 {
			fn(lo, hi)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					failed = r
					mu.Unlock()
				}
			}()
			fn(lo, hi)
		}()
	}
	wg.Wait()
	if failed != nil {
		panic(failed)
	}
}

// ---- IsNaN, IsInf ----

type isK struct {
	nan      bool
	pos, neg bool
}

func buildIsNaNInf(c *nodeCtx) (kernel, error) {
	return &isK{nan: c.n.GetOpType() == "IsNaN", pos: c.attrInt("detect_positive", 1) != 0, neg: c.attrInt("detect_negative", 1) != 0}, nil
}

func (k *isK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float {
		return nil, unsupported("IsNaN/IsInf of %s", onnxio.DataTypeName(in[0].Type))
	}
	return []spec{{onnxio.Bool, in[0].Shape}}, nil
}

func (k *isK) run(rc *runCtx, in, out []*Tensor) error {
	for i, v := range in[0].F32 {
		x := float64(v)
		if k.nan {
			out[0].Bool[i] = math.IsNaN(x)
		} else {
			out[0].Bool[i] = (k.pos && math.IsInf(x, 1)) || (k.neg && math.IsInf(x, -1))
		}
	}
	return nil
}

// ---- Identity, Dropout ----

type identityK struct{ dropout bool }

func buildIdentity(c *nodeCtx) (kernel, error) {
	if c.n.GetOpType() == "Dropout" && c.hasInput(2) {
		t := c.constInput(2)
		if t == nil || t.Type != onnxio.Bool || t.Bool[0] {
			return nil, unsupported("Dropout in training mode")
		}
	}
	return &identityK{dropout: c.n.GetOpType() == "Dropout"}, nil
}

func (k *identityK) alias() bool { return true }

func (k *identityK) infer(in []*Tensor) ([]spec, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("needs an input")
	}
	s := []spec{{in[0].Type, in[0].Shape}}
	if k.dropout {
		s = append(s, spec{onnxio.Bool, in[0].Shape})
	}
	return s, nil
}

func (k *identityK) run(rc *runCtx, in, out []*Tensor) error {
	copyData(out[0], in[0])
	if len(out) > 1 && out[1] != nil {
		for i := range out[1].Bool {
			out[1].Bool[i] = true
		}
	}
	return nil
}

// ---- Cast ----

type castK struct{ to onnxio.DataType }

func buildCast(c *nodeCtx) (kernel, error) {
	to := onnxio.DataType(c.attrInt("to", 0))
	if !supportedType(to) {
		return nil, unsupported("Cast to %s", onnxio.DataTypeName(to))
	}
	return &castK{to: to}, nil
}

func (k *castK) infer(in []*Tensor) ([]spec, error) {
	return []spec{{k.to, in[0].Shape}}, nil
}

func (k *castK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	if x.Type == k.to {
		copyData(o, x)
		return nil
	}
	n := x.Len()
	for i := 0; i < n; i++ {
		switch k.to {
		case onnxio.Float:
			o.F32[i] = float32(x.at(i))
		case onnxio.Bool:
			o.Bool[i] = x.at(i) != 0
		case onnxio.Int64:
			if x.Type == onnxio.Int32 {
				o.I64[i] = int64(x.I32[i])
			} else {
				o.I64[i] = int64(x.at(i))
			}
		case onnxio.Int32:
			if x.Type == onnxio.Int64 {
				o.I32[i] = int32(x.I64[i])
			} else {
				o.I32[i] = int32(x.at(i))
			}
		case onnxio.Uint8:
			if x.Type == onnxio.Int64 {
				o.U8[i] = uint8(x.I64[i])
			} else {
				o.U8[i] = uint8(int64(x.at(i)))
			}
		case onnxio.Int8:
			if x.Type == onnxio.Int64 {
				o.I8[i] = int8(x.I64[i])
			} else {
				o.I8[i] = int8(int64(x.at(i)))
			}
		}
	}
	return nil
}

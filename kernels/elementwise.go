package kernels

import "fmt"

// ElemOp is an elementwise float32 operator.
type ElemOp int

const (
	ElemAdd ElemOp = iota
	ElemSub
	ElemMul
	ElemDiv
	ElemMax // Go's max: a NaN in either operand gives NaN; max(-0, +0) = +0
	ElemMin // Go's min
	numElemOps
)

// Elementwise computes dst[i] = a[i] op b[i]. len(a) or len(b) may be 1
// (that operand is broadcast); otherwise both are len(dst) long. Results
// are bit-identical on every path (one IEEE operation per element), except
// which payload a NaN result carries: Go leaves the operand order of + and
// * to the compiler.
func Elementwise(op ElemOp, dst, a, b []float32) {
	n := len(dst)
	if op < 0 || op >= numElemOps {
		panic(fmt.Sprintf("kernels: Elementwise: unknown operator %d", op))
	}
	form := 0
	switch {
	case len(a) == n && len(b) == n:
	case len(a) == n && len(b) == 1:
		form = 1
	case len(a) == 1 && len(b) == n:
		form = 2
	default:
		panic(fmt.Sprintf("kernels: Elementwise: operands of %d and %d elements for %d outputs", len(a), len(b), n))
	}
	if n == 0 {
		return
	}
	done := elementwiseAsm(op, form, dst, a, b)
	elementwiseGo(op, form, dst[done:], a, b, done)
}

// elementwiseGo is Elementwise in Go, from element i0 on: one loop per
// operator and form, so each compiles to a plain loop.
func elementwiseGo(op ElemOp, form int, dst, a, b []float32, i0 int) {
	switch form {
	case 1:
		a = a[i0 : i0+len(dst)]
	case 2:
		b = b[i0 : i0+len(dst)]
	default:
		a, b = a[i0:i0+len(dst)], b[i0:i0+len(dst)]
	}
	switch op {
	case ElemAdd:
		switch form {
		case 0:
			for i, x := range a {
				dst[i] = x + b[i]
			}
		case 1:
			y := b[0]
			for i, x := range a {
				dst[i] = x + y
			}
		case 2:
			x := a[0]
			for i, y := range b {
				dst[i] = x + y
			}
		}
	case ElemSub:
		switch form {
		case 0:
			for i, x := range a {
				dst[i] = x - b[i]
			}
		case 1:
			y := b[0]
			for i, x := range a {
				dst[i] = x - y
			}
		case 2:
			x := a[0]
			for i, y := range b {
				dst[i] = x - y
			}
		}
	case ElemMul:
		switch form {
		case 0:
			for i, x := range a {
				dst[i] = x * b[i]
			}
		case 1:
			y := b[0]
			for i, x := range a {
				dst[i] = x * y
			}
		case 2:
			x := a[0]
			for i, y := range b {
				dst[i] = x * y
			}
		}
	case ElemDiv:
		switch form {
		case 0:
			for i, x := range a {
				dst[i] = x / b[i]
			}
		case 1:
			y := b[0]
			for i, x := range a {
				dst[i] = x / y
			}
		case 2:
			x := a[0]
			for i, y := range b {
				dst[i] = x / y
			}
		}
	case ElemMax:
		switch form {
		case 0:
			for i, x := range a {
				dst[i] = max(x, b[i])
			}
		case 1:
			y := b[0]
			for i, x := range a {
				dst[i] = max(x, y)
			}
		case 2:
			x := a[0]
			for i, y := range b {
				dst[i] = max(x, y)
			}
		}
	case ElemMin:
		switch form {
		case 0:
			for i, x := range a {
				dst[i] = min(x, b[i])
			}
		case 1:
			y := b[0]
			for i, x := range a {
				dst[i] = min(x, y)
			}
		case 2:
			x := a[0]
			for i, y := range b {
				dst[i] = min(x, y)
			}
		}
	}
}

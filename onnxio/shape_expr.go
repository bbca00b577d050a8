package onnxio

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// expr is a dimension size during shape inference: a polynomial with
// int64 coefficients over atoms, where an atom is a named symbol ("N") or
// a floor division floor(p/q) of two polynomials. Every size is assumed
// to be a non-negative integer.
//
// Expressions are immutable and kept in a canonical form, so two sizes
// built different ways compare equal by key when the algebra can show
// they are equal: terms are merged and sorted, coefficients of a floor by
// a constant are reduced into [0, c), and nested floors by constants
// collapse (floor((floor(p/a)+k)/b) = floor((p+k*a)/(a*b))). A same-padded
// stride-1 convolution thus gives back H itself, and a stride-2 one
// floor((H+1)/2).
type expr struct {
	terms []term // sorted by monomial key; no zero coefficients; the constant term last
	key   string // canonical and unambiguous; equal keys mean equal sizes
	str   string // for people, e.g. "floor((H+1)/2)" or "3*H*W"
}

// term is coef times the product of its atoms (sorted by key; repeated
// for powers). A term with no atoms is the constant.
type term struct {
	coef  int64
	atoms []*atom
}

// atom is a symbol (op "") or floor(args[0]/args[1]).
type atom struct {
	op   string
	name string
	args []*expr
	key  string
	str  string
}

// Limits on symbolic expressions: anything bigger is replaced by a fresh
// symbol, so hostile or very deep graphs cannot build huge strings.
const (
	maxTerms   = 16
	maxAtoms   = 8
	maxExprLen = 160
)

func cst(v int64) *expr {
	if v == 0 {
		return finish(nil)
	}
	return finish([]term{{coef: v}})
}

func symbol(name string) *expr {
	a := &atom{name: name, key: strconv.Quote(name), str: name}
	return finish([]term{{coef: 1, atoms: []*atom{a}}})
}

// constVal reports e's value when it is a constant.
func (e *expr) constVal() (int64, bool) {
	switch len(e.terms) {
	case 0:
		return 0, true
	case 1:
		if len(e.terms[0].atoms) == 0 {
			return e.terms[0].coef, true
		}
	}
	return 0, false
}

func (e *expr) isConst() bool { _, ok := e.constVal(); return ok }

func monoKey(as []*atom) string {
	switch len(as) {
	case 0:
		return ""
	case 1:
		return as[0].key
	}
	ks := make([]string, len(as))
	for i, a := range as {
		ks[i] = a.key
	}
	return strings.Join(ks, "*")
}

func monoStr(as []*atom) string {
	ss := make([]string, len(as))
	for i, a := range as {
		ss[i] = a.str
	}
	return strings.Join(ss, "*")
}

// finish sorts and renders terms that are already merged and nonzero.
func finish(ts []term) *expr {
	slices.SortFunc(ts, func(a, b term) int {
		if (len(a.atoms) == 0) != (len(b.atoms) == 0) {
			if len(a.atoms) == 0 {
				return 1
			}
			return -1
		}
		return strings.Compare(monoKey(a.atoms), monoKey(b.atoms))
	})
	var key, str strings.Builder
	for i, t := range ts {
		if i > 0 {
			key.WriteByte('+')
		}
		key.WriteString(strconv.FormatInt(t.coef, 10))
		if len(t.atoms) > 0 {
			key.WriteByte('*')
			key.WriteString(monoKey(t.atoms))
		}
		c := t.coef
		if c < 0 {
			str.WriteByte('-')
			c = -c
		} else if i > 0 {
			str.WriteByte('+')
		}
		switch {
		case len(t.atoms) == 0:
			str.WriteString(strconv.FormatUint(uint64(c), 10))
		case c == 1:
			str.WriteString(monoStr(t.atoms))
		default:
			str.WriteString(strconv.FormatUint(uint64(c), 10))
			str.WriteByte('*')
			str.WriteString(monoStr(t.atoms))
		}
	}
	e := &expr{terms: ts, key: key.String(), str: str.String()}
	if len(ts) == 0 {
		e.key, e.str = "0", "0"
	}
	return e
}

// tooBig reports whether e passes the size limits.
func (e *expr) tooBig() bool {
	if len(e.terms) > maxTerms || len(e.str) > maxExprLen || len(e.key) > 4*maxExprLen {
		return true
	}
	for _, t := range e.terms {
		if len(t.atoms) > maxAtoms {
			return true
		}
	}
	return false
}

func addOv(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

func mulOv(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, false
	}
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = -ua
	}
	if b < 0 {
		ub = -ub
	}
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 || lo > 1<<63-1 {
		return 0, true
	}
	if neg {
		return -int64(lo), false
	}
	return int64(lo), false
}

// sumTerms merges terms with equal monomials. It returns nil on overflow
// or when the result is too big.
func sumTerms(ts []term) *expr {
	idx := map[string]int{}
	var out []term
	for _, t := range ts {
		k := monoKey(t.atoms)
		if i, ok := idx[k]; ok {
			s, ov := addOv(out[i].coef, t.coef)
			if ov {
				return nil
			}
			out[i].coef = s
			continue
		}
		idx[k] = len(out)
		out = append(out, t)
	}
	kept := out[:0]
	for _, t := range out {
		if t.coef != 0 {
			kept = append(kept, t)
		}
	}
	e := finish(kept)
	if e.tooBig() {
		return nil
	}
	return e
}

// The arithmetic below returns nil when a coefficient overflows or the
// result passes the size limits; callers turn that into an error for
// constant sizes and a fresh symbol otherwise.

func eAdd(a, b *expr) *expr {
	if a == nil || b == nil {
		return nil
	}
	return sumTerms(append(slices.Clone(a.terms), b.terms...))
}

func eScale(a *expr, c int64) *expr {
	if a == nil {
		return nil
	}
	ts := make([]term, 0, len(a.terms))
	for _, t := range a.terms {
		p, ov := mulOv(t.coef, c)
		if ov {
			return nil
		}
		ts = append(ts, term{coef: p, atoms: t.atoms})
	}
	return sumTerms(ts)
}

func eSub(a, b *expr) *expr { return eAdd(a, eScale(b, -1)) }

func eMul(a, b *expr) *expr {
	if a == nil || b == nil {
		return nil
	}
	if len(a.terms)*len(b.terms) > 4*maxTerms {
		return nil
	}
	var ts []term
	for _, x := range a.terms {
		for _, y := range b.terms {
			p, ov := mulOv(x.coef, y.coef)
			if ov {
				return nil
			}
			as := append(slices.Clone(x.atoms), y.atoms...)
			slices.SortStableFunc(as, func(p, q *atom) int { return strings.Compare(p.key, q.key) })
			ts = append(ts, term{coef: p, atoms: as})
		}
	}
	return sumTerms(ts)
}

// floorDivInt is floor(a/b) and a mod b with the remainder in [0, b),
// for b > 0.
func floorDivInt(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// eFloorDiv is floor(a/b). b must not be zero (callers check); a
// negative constant b or a b that does not divide a as a monomial gives
// an opaque floor atom.
func eFloorDiv(a, b *expr) *expr {
	if a == nil || b == nil {
		return nil
	}
	if c, ok := b.constVal(); ok {
		if c == 0 {
			return nil
		}
		if c == 1 {
			return a
		}
		if c > 0 {
			return floorByConst(a, c)
		}
	}
	if q := divMonomial(a, b); q != nil {
		return q
	}
	if av, ok := a.constVal(); ok && av == 0 {
		return a
	}
	return floorAtom(a, b)
}

func floorAtom(a, b *expr) *expr {
	num, den := a.str, b.str
	if len(a.terms) > 1 || (len(a.terms) == 1 && a.terms[0].coef < 0) {
		num = "(" + num + ")"
	}
	if len(b.terms) > 1 || (len(b.terms) == 1 && (len(b.terms[0].atoms) > 1 || (len(b.terms[0].atoms) == 1 && b.terms[0].coef != 1) || b.terms[0].coef < 0)) {
		den = "(" + den + ")"
	}
	at := &atom{op: "floor", args: []*expr{a, b},
		key: "floor(" + a.key + "/" + b.key + ")",
		str: "floor(" + num + "/" + den + ")"}
	e := finish([]term{{coef: 1, atoms: []*atom{at}}})
	if e.tooBig() {
		return nil
	}
	return e
}

func floorByConst(a *expr, c int64) *expr {
	// a = c*q + r with every coefficient of r in [0, c): floor(a/c) = q + floor(r/c).
	var q, r []term
	for _, t := range a.terms {
		qc, rc := floorDivInt(t.coef, c)
		if qc != 0 {
			q = append(q, term{coef: qc, atoms: t.atoms})
		}
		if rc != 0 {
			r = append(r, term{coef: rc, atoms: t.atoms})
		}
	}
	qe := sumTerms(q)
	if qe == nil {
		return nil
	}
	re := finish(r)
	if _, ok := re.constVal(); ok { // 0 <= r < c
		return qe
	}
	// floor((floor(p/d) + k)/c) = floor((p + k*d)/(d*c)) for d, c > 0.
	if inner, k, ok := singleFloor(re); ok {
		if d, dok := inner.args[1].constVal(); dok && d > 0 {
			kd, ov1 := mulOv(k, d)
			dc, ov2 := mulOv(d, c)
			if !ov1 && !ov2 {
				return eAdd(qe, eFloorDiv(eAdd(inner.args[0], cst(kd)), cst(dc)))
			}
		}
	}
	return eAdd(qe, floorAtom(re, cst(c)))
}

// singleFloor matches e = floor(p/q) + k.
func singleFloor(e *expr) (*atom, int64, bool) {
	var k int64
	var fl *atom
	for _, t := range e.terms {
		switch {
		case len(t.atoms) == 0:
			k = t.coef
		case len(t.atoms) == 1 && t.coef == 1 && t.atoms[0].op == "floor" && fl == nil:
			fl = t.atoms[0]
		default:
			return nil, 0, false
		}
	}
	return fl, k, fl != nil
}

// divMonomial divides a exactly by a one-term b, or returns nil.
func divMonomial(a, b *expr) *expr {
	if len(b.terms) != 1 || b.terms[0].coef <= 0 {
		return nil
	}
	bt := b.terms[0]
	ts := make([]term, 0, len(a.terms))
	for _, t := range a.terms {
		if t.coef%bt.coef != 0 {
			return nil
		}
		rest := slices.Clone(t.atoms)
		for _, x := range bt.atoms {
			i := slices.IndexFunc(rest, func(y *atom) bool { return y.key == x.key })
			if i < 0 {
				return nil
			}
			rest = slices.Delete(rest, i, i+1)
		}
		ts = append(ts, term{coef: t.coef / bt.coef, atoms: rest})
	}
	return sumTerms(ts)
}

// eCeilDiv is ceil(a/b) = floor((a+b-1)/b) for b > 0.
func eCeilDiv(a, b *expr) *expr {
	if c, ok := b.constVal(); ok && c > 0 {
		return eFloorDiv(eAdd(a, cst(c-1)), b)
	}
	return eFloorDiv(eSub(eAdd(a, b), cst(1)), b)
}

// eq reports whether a and b are the same size as far as the algebra
// can tell.
func eq(a, b *expr) bool { return a != nil && b != nil && a.key == b.key }

// isOne reports whether e is the constant 1.
func isOne(e *expr) bool { v, ok := e.constVal(); return ok && v == 1 }

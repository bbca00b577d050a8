package engine

import (
	"fmt"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildReshape, "Reshape", "Flatten", "Squeeze", "Unsqueeze")
	register(func(c *nodeCtx) (kernel, error) {
		p, _ := c.attrInts("perm")
		return &transposeK{perm: p}, nil
	}, "Transpose")
	register(func(c *nodeCtx) (kernel, error) { return &concatK{axis: c.attrInt("axis", 0)}, nil }, "Concat")
	register(func(c *nodeCtx) (kernel, error) {
		return &splitK{axis: c.attrInt("axis", 0), outs: len(c.n.GetOutput())}, nil
	}, "Split")
	register(func(c *nodeCtx) (kernel, error) { return &sliceK{}, nil }, "Slice")
	register(func(c *nodeCtx) (kernel, error) {
		return &shapeK{start: c.attrInt("start", 0), end: c.attrInt("end", 1<<62)}, nil
	}, "Shape")
	register(func(c *nodeCtx) (kernel, error) { return &shapeK{size: true}, nil }, "Size")
	register(func(c *nodeCtx) (kernel, error) { return &gatherK{axis: c.attrInt("axis", 0)}, nil }, "Gather")
	register(buildConstantOfShape, "ConstantOfShape")
	register(buildConstant, "Constant")
	register(func(c *nodeCtx) (kernel, error) { return &expandK{}, nil }, "Expand")
	register(func(c *nodeCtx) (kernel, error) { return &tileK{}, nil }, "Tile")
	register(func(c *nodeCtx) (kernel, error) { return &rangeK{}, nil }, "Range")
	register(buildPad, "Pad")
}

// constInts reads an integer input that decides a shape: it must hold
// values when the plan is built.
func constInts(t *Tensor) ([]int64, error) {
	if t == nil {
		return nil, nil
	}
	if !t.hasData() {
		return nil, errNoData
	}
	return t.ints(), nil
}

// copyElems copies n elements from src[so:] to dst[do:], for any type.
func copyElems(dst *Tensor, do int, src *Tensor, so, n int) {
	switch src.Type {
	case onnxio.Float:
		copy(dst.F32[do:do+n], src.F32[so:so+n])
	case onnxio.Int64:
		copy(dst.I64[do:do+n], src.I64[so:so+n])
	case onnxio.Int32:
		copy(dst.I32[do:do+n], src.I32[so:so+n])
	case onnxio.Uint8, onnxio.Uint4:
		copy(dst.U8[do:do+n], src.U8[so:so+n])
	case onnxio.Int8, onnxio.Int4:
		copy(dst.I8[do:do+n], src.I8[so:so+n])
	case onnxio.Int16:
		copy(dst.I16[do:do+n], src.I16[so:so+n])
	case onnxio.Uint16:
		copy(dst.U16[do:do+n], src.U16[so:so+n])
	case onnxio.Bool:
		copy(dst.Bool[do:do+n], src.Bool[so:so+n])
	}
}

// lastDimRows calls fn with the offset and length of each row along the
// last dimension of shape.
func lastDimRows(shape []int, fn func(off, n int)) {
	if numel(shape) == 0 {
		return
	}
	if len(shape) == 0 {
		fn(0, 1)
		return
	}
	inner := shape[len(shape)-1]
	for o := 0; o < numel(shape[:len(shape)-1]); o++ {
		fn(o*inner, inner)
	}
}

// takeIdx sets dst[i] = src[idx[i]].
func takeIdx(dst, src *Tensor, idx []int) {
	switch src.Type {
	case onnxio.Float:
		take(dst.F32, src.F32, idx)
	case onnxio.Int64:
		take(dst.I64, src.I64, idx)
	case onnxio.Int32:
		take(dst.I32, src.I32, idx)
	case onnxio.Uint8, onnxio.Uint4:
		take(dst.U8, src.U8, idx)
	case onnxio.Int8, onnxio.Int4:
		take(dst.I8, src.I8, idx)
	case onnxio.Int16:
		take(dst.I16, src.I16, idx)
	case onnxio.Uint16:
		take(dst.U16, src.U16, idx)
	case onnxio.Bool:
		take(dst.Bool, src.Bool, idx)
	}
}

func take[T any](dst, src []T, idx []int) {
	for i, j := range idx {
		dst[i] = src[j]
	}
}

// ---- Reshape, Flatten, Squeeze, Unsqueeze: views ----

type reshapeK struct {
	op        string
	allowZero bool
	axis      int64
}

func buildReshape(c *nodeCtx) (kernel, error) {
	return &reshapeK{op: c.n.GetOpType(), allowZero: c.attrInt("allowzero", 0) != 0, axis: c.attrInt("axis", 1)}, nil
}

func (k *reshapeK) alias() bool { return true }

func (k *reshapeK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	var axes []int64
	if len(in) > 1 && in[1] != nil {
		var err error
		if axes, err = constInts(in[1]); err != nil {
			return nil, err
		}
	}
	var out []int
	switch k.op {
	case "Flatten":
		a := int(k.axis)
		if a < 0 {
			a += len(x.Shape)
		}
		if a < 0 || a > len(x.Shape) {
			return nil, fmt.Errorf("Flatten axis %d for rank %d", k.axis, len(x.Shape))
		}
		out = []int{numel(x.Shape[:a]), numel(x.Shape[a:])}
	case "Reshape":
		if len(in) < 2 || in[1] == nil {
			return nil, fmt.Errorf("Reshape needs a shape")
		}
		neg := -1
		known := 1
		for i, d := range axes {
			v := int(d)
			switch {
			case d == 0 && !k.allowZero:
				if i >= len(x.Shape) {
					return nil, fmt.Errorf("Reshape: 0 at %d past rank %d", i, len(x.Shape))
				}
				v = x.Shape[i]
			case d == -1:
				if neg >= 0 {
					return nil, fmt.Errorf("Reshape: two -1 in %v", axes)
				}
				neg = i
				out = append(out, 1)
				continue
			case d < -1:
				return nil, fmt.Errorf("Reshape: bad size %d", d)
			}
			known *= v
			out = append(out, v)
		}
		if neg >= 0 {
			if known == 0 {
				out[neg] = 0
			} else {
				out[neg] = x.Len() / known
			}
		}
		if numel(out) != x.Len() {
			return nil, fmt.Errorf("Reshape %v to %v: element counts differ", x.Shape, axes)
		}
	case "Squeeze":
		drop := map[int]bool{}
		for _, a := range axes {
			ax, err := normAxis(a, len(x.Shape))
			if err != nil {
				return nil, err
			}
			if x.Shape[ax] != 1 {
				return nil, fmt.Errorf("Squeeze axis %d of %v is not 1", a, x.Shape)
			}
			drop[ax] = true
		}
		out = []int{}
		for i, d := range x.Shape {
			if (axes == nil && d == 1) || drop[i] {
				continue
			}
			out = append(out, d)
		}
	case "Unsqueeze":
		r := len(x.Shape) + len(axes)
		ins := map[int]bool{}
		for _, a := range axes {
			ax, err := normAxis(a, r)
			if err != nil {
				return nil, err
			}
			if ins[ax] {
				return nil, fmt.Errorf("Unsqueeze repeats axis %d", a)
			}
			ins[ax] = true
		}
		out = []int{}
		j := 0
		for i := 0; i < r; i++ {
			if ins[i] {
				out = append(out, 1)
			} else {
				out = append(out, x.Shape[j])
				j++
			}
		}
	}
	return []spec{{x.Type, out}}, nil
}

func (k *reshapeK) run(rc *runCtx, in, out []*Tensor) error {
	copyData(out[0], in[0])
	return nil
}

// ---- Transpose ----

type transposeK struct{ perm []int64 }

func (k *transposeK) permFor(r int) ([]int, error) {
	p := make([]int, r)
	if len(k.perm) == 0 {
		for i := range p {
			p[i] = r - 1 - i
		}
		return p, nil
	}
	if len(k.perm) != r {
		return nil, fmt.Errorf("perm %v for rank %d", k.perm, r)
	}
	for i, v := range k.perm {
		p[i] = int(v)
	}
	return p, nil
}

func (k *transposeK) infer(in []*Tensor) ([]spec, error) {
	p, err := k.permFor(len(in[0].Shape))
	if err != nil {
		return nil, err
	}
	s := make([]int, len(p))
	for i, a := range p {
		s[i] = in[0].Shape[a]
	}
	return []spec{{in[0].Type, s}}, nil
}

func (k *transposeK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	p, _ := k.permFor(len(x.Shape))
	xs := strides(x.Shape)
	st := make([]int, len(p))
	for i, a := range p {
		st[i] = xs[a]
	}
	// Source offset of each output element, walked in output order.
	idx := make([]int, o.Len())
	lastDimRows(o.Shape, func(oo, n int) {
		r := oo
		base := 0
		for d := len(o.Shape) - 1; d >= 0; d-- {
			base += (r % o.Shape[d]) * st[d]
			r /= o.Shape[d]
		}
		inc := 0
		if len(st) > 0 {
			inc = st[len(st)-1]
		}
		for i := 0; i < n; i++ {
			idx[oo+i] = base + i*inc
		}
	})
	takeIdx(o, x, idx)
	return nil
}

// ---- Concat ----

type concatK struct{ axis int64 }

func (k *concatK) infer(in []*Tensor) ([]spec, error) {
	var first *Tensor
	for _, t := range in {
		if t != nil {
			first = t
			break
		}
	}
	if first == nil {
		return nil, fmt.Errorf("Concat of nothing")
	}
	ax, err := normAxis(k.axis, len(first.Shape))
	if err != nil {
		return nil, err
	}
	s := append([]int{}, first.Shape...)
	s[ax] = 0
	for _, t := range in {
		if t == nil {
			continue
		}
		if t.Type != first.Type || len(t.Shape) != len(s) {
			return nil, fmt.Errorf("Concat of %s and %s", first, t)
		}
		for i, d := range t.Shape {
			if i != ax && d != s[i] {
				return nil, fmt.Errorf("Concat of %s and %s along %d", first, t, ax)
			}
		}
		s[ax] += t.Shape[ax]
	}
	return []spec{{first.Type, s}}, nil
}

func (k *concatK) run(rc *runCtx, in, out []*Tensor) error {
	o := out[0]
	ax, _ := normAxis(k.axis, len(o.Shape))
	outer := numel(o.Shape[:ax])
	inner := numel(o.Shape[ax+1:])
	row := o.Shape[ax] * inner
	off := 0
	for _, t := range in {
		if t == nil {
			continue
		}
		n := t.Shape[ax] * inner
		for a := 0; a < outer; a++ {
			copyElems(o, a*row+off, t, a*n, n)
		}
		off += n
	}
	return nil
}

// ---- Split ----

type splitK struct {
	axis int64
	outs int
}

func (k *splitK) sizes(in []*Tensor) (int, []int, error) {
	x := in[0]
	ax, err := normAxis(k.axis, len(x.Shape))
	if err != nil {
		return 0, nil, err
	}
	var sz []int
	if len(in) > 1 && in[1] != nil {
		v, err := constInts(in[1])
		if err != nil {
			return 0, nil, err
		}
		total := 0
		for _, d := range v {
			sz = append(sz, int(d))
			total += int(d)
		}
		if total != x.Shape[ax] || len(sz) != k.outs {
			return 0, nil, fmt.Errorf("Split sizes %v for %d along axis %d into %d outputs", v, x.Shape[ax], ax, k.outs)
		}
		return ax, sz, nil
	}
	d := x.Shape[ax]
	chunk := (d + k.outs - 1) / k.outs
	for i := 0; i < k.outs; i++ {
		sz = append(sz, max(0, min(chunk, d-i*chunk)))
	}
	return ax, sz, nil
}

func (k *splitK) infer(in []*Tensor) ([]spec, error) {
	ax, sz, err := k.sizes(in)
	if err != nil {
		return nil, err
	}
	var out []spec
	for _, d := range sz {
		s := append([]int{}, in[0].Shape...)
		s[ax] = d
		out = append(out, spec{in[0].Type, s})
	}
	return out, nil
}

func (k *splitK) run(rc *runCtx, in, out []*Tensor) error {
	x := in[0]
	ax, sz, _ := k.sizes(in)
	outer := numel(x.Shape[:ax])
	inner := numel(x.Shape[ax+1:])
	row := x.Shape[ax] * inner
	off := 0
	for j, d := range sz {
		n := d * inner
		if out[j] != nil {
			for a := 0; a < outer; a++ {
				copyElems(out[j], a*n, x, a*row+off, n)
			}
		}
		off += n
	}
	return nil
}

// ---- Slice ----

type sliceK struct{}

// params returns, per axis, start, step and count.
func (k *sliceK) params(in []*Tensor) (start, step, count []int, err error) {
	x := in[0]
	r := len(x.Shape)
	var v [4][]int64
	for i := 1; i <= 4; i++ {
		if len(in) > i && in[i] != nil {
			if v[i-1], err = constInts(in[i]); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	starts, ends, axes, steps := v[0], v[1], v[2], v[3]
	if len(starts) != len(ends) {
		return nil, nil, nil, fmt.Errorf("Slice starts %v and ends %v differ in length", starts, ends)
	}
	start, step, count = make([]int, r), make([]int, r), make([]int, r)
	for i := range start {
		step[i], count[i] = 1, x.Shape[i]
	}
	for i := range starts {
		ax := i
		if axes != nil {
			a, err := normAxis(axes[i], r)
			if err != nil {
				return nil, nil, nil, err
			}
			ax = a
		}
		st := int64(1)
		if steps != nil {
			st = steps[i]
		}
		if st == 0 {
			return nil, nil, nil, fmt.Errorf("Slice step 0")
		}
		d := int64(x.Shape[ax])
		s, e := starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		var n int64
		if st > 0 {
			s, e = clamp64(s, 0, d), clamp64(e, 0, d)
			if e > s {
				n = (e - s + st - 1) / st
			}
		} else {
			s, e = clamp64(s, 0, d-1), clamp64(e, -1, d-1)
			if s > e {
				n = (s - e - st - 1) / -st
			}
		}
		start[ax], step[ax], count[ax] = int(s), int(st), int(n)
	}
	return start, step, count, nil
}

func clamp64(v, lo, hi int64) int64 { return max(lo, min(hi, v)) }

func (k *sliceK) infer(in []*Tensor) ([]spec, error) {
	_, _, count, err := k.params(in)
	if err != nil {
		return nil, err
	}
	return []spec{{in[0].Type, count}}, nil
}

func (k *sliceK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	start, step, count, _ := k.params(in)
	xs := strides(x.Shape)
	idx := make([]int, o.Len())
	base := 0
	for i := range start {
		base += start[i] * xs[i]
	}
	lastDimRows(count, func(oo, n int) {
		r := oo
		b := base
		for d := len(count) - 1; d >= 0; d-- {
			b += (r % count[d]) * step[d] * xs[d]
			r /= count[d]
		}
		inc := 0
		if len(xs) > 0 {
			inc = step[len(xs)-1] * xs[len(xs)-1]
		}
		for i := 0; i < n; i++ {
			idx[oo+i] = b + i*inc
		}
	})
	takeIdx(o, x, idx)
	return nil
}

// ---- Shape, Size ----

type shapeK struct {
	start int64
	end   int64
	size  bool
}

func (k *shapeK) shapeOnly() bool { return true }

func (k *shapeK) dims(x []int) []int64 {
	r := int64(len(x))
	if k.size {
		return []int64{int64(numel(x))}
	}
	s, e := k.start, min(k.end, r)
	if s < 0 {
		s += r
	}
	if e < 0 {
		e += r
	}
	s, e = clamp64(s, 0, r), clamp64(e, 0, r)
	var out []int64
	for i := s; i < e; i++ {
		out = append(out, int64(x[i]))
	}
	return out
}

func (k *shapeK) infer(in []*Tensor) ([]spec, error) {
	if k.size {
		return []spec{{onnxio.Int64, []int{}}}, nil
	}
	return []spec{{onnxio.Int64, []int{len(k.dims(in[0].Shape))}}}, nil
}

func (k *shapeK) run(rc *runCtx, in, out []*Tensor) error {
	copy(out[0].I64, k.dims(in[0].Shape))
	return nil
}

// ---- Gather ----

type gatherK struct{ axis int64 }

func (k *gatherK) infer(in []*Tensor) ([]spec, error) {
	x, ind := in[0], in[1]
	ax, err := normAxis(k.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	if ind.Type != onnxio.Int64 && ind.Type != onnxio.Int32 {
		return nil, fmt.Errorf("Gather indices are %s", onnxio.DataTypeName(ind.Type))
	}
	s := append(append(append([]int{}, x.Shape[:ax]...), ind.Shape...), x.Shape[ax+1:]...)
	return []spec{{x.Type, s}}, nil
}

func (k *gatherK) run(rc *runCtx, in, out []*Tensor) error {
	x, ind, o := in[0], in[1], out[0]
	ax, _ := normAxis(k.axis, len(x.Shape))
	outer, d, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	iv := ind.ints()
	off := 0
	for a := 0; a < outer; a++ {
		for _, j := range iv {
			if j < 0 {
				j += int64(d)
			}
			if j < 0 || j >= int64(d) {
				return fmt.Errorf("Gather index %d out of range [0, %d)", j, d)
			}
			copyElems(o, off, x, (a*d+int(j))*inner, inner)
			off += inner
		}
	}
	return nil
}

// ---- ConstantOfShape, Constant ----

type constOfShapeK struct{ val *Tensor }

func buildConstantOfShape(c *nodeCtx) (kernel, error) {
	k := &constOfShapeK{val: NewFloat32([]int{1}, []float32{0})}
	if a := c.attr("value"); a != nil && a.GetT() != nil {
		v, err := TensorFromProto(nil, a.GetT())
		if err != nil {
			return nil, unsupported("%v", err)
		}
		k.val = v
	}
	return k, nil
}

func (k *constOfShapeK) infer(in []*Tensor) ([]spec, error) {
	d, err := constInts(in[0])
	if err != nil {
		return nil, err
	}
	s := make([]int, len(d))
	for i, v := range d {
		if v < 0 {
			return nil, fmt.Errorf("ConstantOfShape: negative size")
		}
		s[i] = int(v)
	}
	return []spec{{k.val.Type, s}}, nil
}

func (k *constOfShapeK) run(rc *runCtx, in, out []*Tensor) error {
	o := out[0]
	for i := 0; i < o.Len(); i++ {
		copyElems(o, i, k.val, 0, 1)
	}
	return nil
}

type constantK struct{ val *Tensor }

func buildConstant(c *nodeCtx) (kernel, error) {
	tp, err := onnxio.ConstantValue(c.n)
	if err != nil {
		return nil, err
	}
	if tp == nil {
		return nil, unsupported("sparse Constant")
	}
	v, err := TensorFromProto(nil, tp)
	if err != nil {
		return nil, unsupported("%v", err)
	}
	return &constantK{val: v}, nil
}

func (k *constantK) infer(in []*Tensor) ([]spec, error) {
	return []spec{{k.val.Type, k.val.Shape}}, nil
}

func (k *constantK) run(rc *runCtx, in, out []*Tensor) error {
	copyData(out[0], k.val)
	return nil
}

// ---- Expand, Tile ----

type expandK struct{}

func (k *expandK) infer(in []*Tensor) ([]spec, error) {
	d, err := constInts(in[1])
	if err != nil {
		return nil, err
	}
	s := make([]int, len(d))
	for i, v := range d {
		s[i] = int(v)
	}
	out, err := bcastShape(in[0].Shape, s)
	if err != nil {
		return nil, err
	}
	return []spec{{in[0].Type, out}}, nil
}

func (k *expandK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	idx := make([]int, o.Len())
	bcastRows(o.Shape, [][]int{x.Shape}, func(oo int, off []int, n int, inc []int) {
		for i := 0; i < n; i++ {
			idx[oo+i] = off[0] + i*inc[0]
		}
	})
	takeIdx(o, x, idx)
	return nil
}

type tileK struct{}

func (k *tileK) infer(in []*Tensor) ([]spec, error) {
	r, err := constInts(in[1])
	if err != nil {
		return nil, err
	}
	if len(r) != len(in[0].Shape) {
		return nil, fmt.Errorf("Tile repeats %v for rank %d", r, len(in[0].Shape))
	}
	s := make([]int, len(r))
	for i, v := range r {
		s[i] = in[0].Shape[i] * int(v)
	}
	return []spec{{in[0].Type, s}}, nil
}

func (k *tileK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	xs := strides(x.Shape)
	idx := make([]int, o.Len())
	for i := range idx {
		r, src := i, 0
		for d := len(o.Shape) - 1; d >= 0; d-- {
			src += (r % o.Shape[d] % x.Shape[d]) * xs[d]
			r /= o.Shape[d]
		}
		idx[i] = src
	}
	takeIdx(o, x, idx)
	return nil
}

// ---- Range ----

type rangeK struct{}

func (k *rangeK) infer(in []*Tensor) ([]spec, error) {
	for _, t := range in[:3] {
		if !t.hasData() {
			return nil, errNoData
		}
	}
	s, l, d := in[0].at(0), in[1].at(0), in[2].at(0)
	if d == 0 {
		return nil, fmt.Errorf("Range delta 0")
	}
	n := int(max(0, ceilDiv(l-s, d)))
	return []spec{{in[0].Type, []int{n}}}, nil
}

func ceilDiv(a, b float64) float64 {
	q := a / b
	if float64(int64(q)) != q {
		if q > 0 {
			return float64(int64(q)) + 1
		}
		return float64(int64(q))
	}
	return q
}

func (k *rangeK) run(rc *runCtx, in, out []*Tensor) error {
	o := out[0]
	switch o.Type {
	case onnxio.Float:
		s, d := in[0].F32[0], in[2].F32[0]
		for i := range o.F32 {
			o.F32[i] = s + float32(i)*d
		}
	case onnxio.Int64:
		s, d := in[0].I64[0], in[2].I64[0]
		for i := range o.I64 {
			o.I64[i] = s + int64(i)*d
		}
	case onnxio.Int32:
		s, d := in[0].I32[0], in[2].I32[0]
		for i := range o.I32 {
			o.I32[i] = s + int32(i)*d
		}
	default:
		return fmt.Errorf("Range of %s", onnxio.DataTypeName(o.Type))
	}
	return nil
}

// ---- Pad ----

type padK struct{ mode string }

func buildPad(c *nodeCtx) (kernel, error) {
	m := c.attrString("mode", "constant")
	switch m {
	case "constant", "reflect", "edge", "wrap":
	default:
		return nil, unsupported("Pad mode %q", m)
	}
	return &padK{mode: m}, nil
}

// pads returns per-axis begin and end pads.
func (k *padK) pads(in []*Tensor) (b, e []int, err error) {
	x := in[0]
	r := len(x.Shape)
	p, err := constInts(in[1])
	if err != nil {
		return nil, nil, err
	}
	var axes []int64
	if len(in) > 3 && in[3] != nil {
		if axes, err = constInts(in[3]); err != nil {
			return nil, nil, err
		}
	} else {
		for i := 0; i < r; i++ {
			axes = append(axes, int64(i))
		}
	}
	if len(p) != 2*len(axes) {
		return nil, nil, fmt.Errorf("Pad: %d pads for %d axes", len(p), len(axes))
	}
	b, e = make([]int, r), make([]int, r)
	for i, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			return nil, nil, err
		}
		b[ax], e[ax] = int(p[i]), int(p[i+len(axes)])
	}
	return b, e, nil
}

func (k *padK) infer(in []*Tensor) ([]spec, error) {
	b, e, err := k.pads(in)
	if err != nil {
		return nil, err
	}
	s := make([]int, len(b))
	for i := range s {
		s[i] = in[0].Shape[i] + b[i] + e[i]
		if s[i] < 0 {
			return nil, fmt.Errorf("Pad makes a negative size")
		}
	}
	return []spec{{in[0].Type, s}}, nil
}

func (k *padK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	b, _, _ := k.pads(in)
	xs := strides(x.Shape)
	idx := make([]int, o.Len())
	for i := range idx {
		r, src := i, 0
		for d := len(o.Shape) - 1; d >= 0 && src >= 0; d-- {
			j := r%o.Shape[d] - b[d]
			r /= o.Shape[d]
			n := x.Shape[d]
			if j < 0 || j >= n {
				switch k.mode {
				case "constant":
					src = -1
					continue
				case "edge":
					j = max(0, min(n-1, j))
				case "wrap":
					j = ((j % n) + n) % n
				case "reflect":
					if n == 1 {
						j = 0
					} else {
						period := 2 * (n - 1)
						j = ((j % period) + period) % period
						if j >= n {
							j = period - j
						}
					}
				}
			}
			src += j * xs[d]
		}
		idx[i] = src
	}
	cv := newTensor(x.Type, []int{1})
	if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
		copyElems(cv, 0, in[2], 0, 1)
	}
	for i, j := range idx {
		if j < 0 {
			copyElems(o, i, cv, 0, 1)
		} else {
			copyElems(o, i, x, j, 1)
		}
	}
	return nil
}

func init() {
	register(buildDepthSpace, "DepthToSpace", "SpaceToDepth")
	register(func(c *nodeCtx) (kernel, error) {
		dt := onnxio.DataType(c.attrInt("dtype", 0))
		if dt != 0 && !supportedType(dt) {
			return nil, unsupported("EyeLike to %s", onnxio.DataTypeName(dt))
		}
		return &eyeLikeK{dt: dt, k: int(c.attrInt("k", 0))}, nil
	}, "EyeLike")
	register(func(c *nodeCtx) (kernel, error) { return &castLikeK{}, nil }, "CastLike")
	register(func(c *nodeCtx) (kernel, error) {
		return nil, unsupported("Upsample (opset 7-9 models are upgraded to Resize; this one could not be)")
	}, "Upsample")
}

// ---- DepthToSpace, SpaceToDepth ----

type depthSpaceK struct {
	toSpace bool
	b       int
	crd     bool
}

func buildDepthSpace(c *nodeCtx) (kernel, error) {
	return &depthSpaceK{toSpace: c.n.GetOpType() == "DepthToSpace", b: int(c.attrInt("blocksize", 0)),
		crd: c.attrString("mode", "DCR") == "CRD"}, nil
}

func (k *depthSpaceK) infer(in []*Tensor) ([]spec, error) {
	s := in[0].Shape
	if len(s) != 4 || k.b < 1 {
		return nil, fmt.Errorf("needs N×C×H×W input and a blocksize")
	}
	n, c, h, w, b := s[0], s[1], s[2], s[3], k.b
	if k.toSpace {
		if c%(b*b) != 0 {
			return nil, fmt.Errorf("%d channels for blocksize %d", c, b)
		}
		return []spec{{in[0].Type, []int{n, c / (b * b), h * b, w * b}}}, nil
	}
	if h%b != 0 || w%b != 0 {
		return nil, fmt.Errorf("%dx%d not divisible by blocksize %d", h, w, b)
	}
	return []spec{{in[0].Type, []int{n, c * b * b, h / b, w / b}}}, nil
}

func (k *depthSpaceK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	b := k.b
	// Both are a reshape, a transpose and a reshape.
	var mid []int
	var perm []int64
	n := x.Shape[0]
	if k.toSpace {
		c, h, w := x.Shape[1], x.Shape[2], x.Shape[3]
		if k.crd {
			mid, perm = []int{n, c / (b * b), b, b, h, w}, []int64{0, 1, 4, 2, 5, 3}
		} else {
			mid, perm = []int{n, b, b, c / (b * b), h, w}, []int64{0, 3, 4, 1, 5, 2}
		}
	} else {
		c, h, w := x.Shape[1], x.Shape[2], x.Shape[3]
		mid, perm = []int{n, c, h / b, b, w / b, b}, []int64{0, 3, 5, 1, 2, 4}
	}
	t := &transposeK{perm: perm}
	sp, _ := t.infer([]*Tensor{x.view(mid)})
	return t.run(rc, []*Tensor{x.view(mid)}, []*Tensor{o.view(sp[0].shape)})
}

// ---- EyeLike, CastLike ----

type eyeLikeK struct {
	dt onnxio.DataType
	k  int
}

func (k *eyeLikeK) infer(in []*Tensor) ([]spec, error) {
	if len(in[0].Shape) != 2 {
		return nil, fmt.Errorf("EyeLike needs a 2-D input")
	}
	dt := k.dt
	if dt == 0 {
		dt = in[0].Type
	}
	return []spec{{dt, in[0].Shape}}, nil
}

func (k *eyeLikeK) run(rc *runCtx, in, out []*Tensor) error {
	o := out[0]
	one := newTensor(o.Type, []int{2})
	setAt(one, 1, 1)
	rows, cols := o.Shape[0], o.Shape[1]
	for i := 0; i < rows*cols; i++ {
		j := 0
		if i%cols-i/cols == k.k {
			j = 1
		}
		copyElems(o, i, one, j, 1)
	}
	return nil
}

type castLikeK struct{}

func (k *castLikeK) infer(in []*Tensor) ([]spec, error) {
	return []spec{{in[1].Type, in[0].Shape}}, nil
}

func (k *castLikeK) run(rc *runCtx, in, out []*Tensor) error {
	return (&castK{to: in[1].Type}).run(rc, in[:1], out)
}

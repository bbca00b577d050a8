package engine

import (
	"fmt"
	"math"
	"sort"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(func(c *nodeCtx) (kernel, error) { return &gatherElementsK{axis: c.attrInt("axis", 0)}, nil }, "GatherElements")
	register(buildScatter, "ScatterElements", "ScatterND")
	register(func(c *nodeCtx) (kernel, error) { return &gatherNDK{batch: int(c.attrInt("batch_dims", 0))}, nil }, "GatherND")
	register(func(c *nodeCtx) (kernel, error) {
		return &topKK{axis: c.attrInt("axis", -1), largest: c.attrInt("largest", 1) != 0}, nil
	}, "TopK")
	register(func(c *nodeCtx) (kernel, error) { return &oneHotK{axis: c.attrInt("axis", -1)}, nil }, "OneHot")
	register(func(c *nodeCtx) (kernel, error) { return &triluK{upper: c.attrInt("upper", 1) != 0}, nil }, "Trilu")
	register(func(c *nodeCtx) (kernel, error) {
		return &cumSumK{exclusive: c.attrInt("exclusive", 0) != 0, reverse: c.attrInt("reverse", 0) != 0}, nil
	}, "CumSum")
}

// setAt stores v (converted) as element i.
func setAt(t *Tensor, i int, v float64) {
	switch t.Type {
	case onnxio.Float:
		t.F32[i] = float32(v)
	case onnxio.Int64:
		t.I64[i] = int64(v)
	case onnxio.Int32:
		t.I32[i] = int32(v)
	case onnxio.Uint8, onnxio.Uint4:
		t.U8[i] = uint8(v)
	case onnxio.Int8, onnxio.Int4:
		t.I8[i] = int8(v)
	case onnxio.Int16:
		t.I16[i] = int16(v)
	case onnxio.Uint16:
		t.U16[i] = uint16(v)
	case onnxio.Bool:
		t.Bool[i] = v != 0
	}
}

// unravel writes the multi-index of flat offset i into idx.
func unravel(i int, shape, idx []int) {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
}

func fixIndex(j int64, d int) (int, error) {
	if j < 0 {
		j += int64(d)
	}
	if j < 0 || j >= int64(d) {
		return 0, fmt.Errorf("index %d out of range for size %d", j, d)
	}
	return int(j), nil
}

// ---- GatherElements ----

type gatherElementsK struct{ axis int64 }

func (k *gatherElementsK) infer(in []*Tensor) ([]spec, error) {
	if len(in[1].Shape) != len(in[0].Shape) {
		return nil, fmt.Errorf("GatherElements: data %v and indices %v differ in rank", in[0].Shape, in[1].Shape)
	}
	if _, err := normAxis(k.axis, len(in[0].Shape)); err != nil {
		return nil, err
	}
	return []spec{{in[0].Type, in[1].Shape}}, nil
}

func (k *gatherElementsK) run(rc *runCtx, in, out []*Tensor) error {
	x, ind, o := in[0], in[1], out[0]
	ax, _ := normAxis(k.axis, len(x.Shape))
	xs := strides(x.Shape)
	iv := ind.ints()
	idx := make([]int, len(ind.Shape))
	for i, j := range iv {
		unravel(i, ind.Shape, idx)
		jj, err := fixIndex(j, x.Shape[ax])
		if err != nil {
			return err
		}
		idx[ax] = jj
		src := 0
		for d, v := range idx {
			src += v * xs[d]
		}
		copyElems(o, i, x, src, 1)
	}
	return nil
}

// ---- ScatterElements, ScatterND ----

type scatterK struct {
	nd        bool
	axis      int64
	reduction string
}

func buildScatter(c *nodeCtx) (kernel, error) {
	k := &scatterK{nd: c.n.GetOpType() == "ScatterND", axis: c.attrInt("axis", 0), reduction: c.attrString("reduction", "none")}
	switch k.reduction {
	case "none", "add", "mul", "max", "min":
	default:
		return nil, unsupported("reduction %q", k.reduction)
	}
	return k, nil
}

func (k *scatterK) infer(in []*Tensor) ([]spec, error) {
	if len(in) != 3 || in[2].Type != in[0].Type {
		return nil, fmt.Errorf("Scatter needs data, indices and updates of data's type")
	}
	return []spec{{in[0].Type, in[0].Shape}}, nil
}

func (k *scatterK) apply(o *Tensor, dst int, u *Tensor, src int) {
	if k.reduction == "none" || o.Type == onnxio.Bool {
		copyElems(o, dst, u, src, 1)
		return
	}
	a, b := o.at(dst), u.at(src)
	switch k.reduction {
	case "add":
		a += b
	case "mul":
		a *= b
	case "max":
		a = math.Max(a, b)
	case "min":
		a = math.Min(a, b)
	}
	setAt(o, dst, a)
}

func (k *scatterK) run(rc *runCtx, in, out []*Tensor) error {
	x, ind, u, o := in[0], in[1], in[2], out[0]
	copyData(o, x)
	xs := strides(x.Shape)
	iv := ind.ints()
	if !k.nd {
		ax, err := normAxis(k.axis, len(x.Shape))
		if err != nil {
			return err
		}
		idx := make([]int, len(ind.Shape))
		for i, j := range iv {
			unravel(i, ind.Shape, idx)
			jj, err := fixIndex(j, x.Shape[ax])
			if err != nil {
				return err
			}
			idx[ax] = jj
			dst := 0
			for d, v := range idx {
				dst += v * xs[d]
			}
			k.apply(o, dst, u, i)
		}
		return nil
	}
	q := ind.Shape[len(ind.Shape)-1]
	inner := numel(x.Shape[q:])
	for t := 0; t < len(iv)/q; t++ {
		dst := 0
		for d := 0; d < q; d++ {
			jj, err := fixIndex(iv[t*q+d], x.Shape[d])
			if err != nil {
				return err
			}
			dst += jj * xs[d]
		}
		for e := 0; e < inner; e++ {
			k.apply(o, dst+e, u, t*inner+e)
		}
	}
	return nil
}

// ---- GatherND ----

type gatherNDK struct{ batch int }

func (k *gatherNDK) infer(in []*Tensor) ([]spec, error) {
	x, ind := in[0], in[1]
	if len(ind.Shape) == 0 {
		return nil, fmt.Errorf("GatherND indices must have rank >= 1")
	}
	q := ind.Shape[len(ind.Shape)-1]
	if k.batch+q > len(x.Shape) {
		return nil, fmt.Errorf("GatherND: index depth %d past data rank %d", q, len(x.Shape))
	}
	s := append(append([]int{}, ind.Shape[:len(ind.Shape)-1]...), x.Shape[k.batch+q:]...)
	return []spec{{x.Type, s}}, nil
}

func (k *gatherNDK) run(rc *runCtx, in, out []*Tensor) error {
	x, ind, o := in[0], in[1], out[0]
	q := ind.Shape[len(ind.Shape)-1]
	xs := strides(x.Shape)
	iv := ind.ints()
	nb := numel(x.Shape[:k.batch])
	inner := numel(x.Shape[k.batch+q:])
	tuples := len(iv) / max(q, 1)
	if q == 0 {
		tuples = numel(ind.Shape[:len(ind.Shape)-1])
	}
	perBatch := tuples / max(nb, 1)
	for t := 0; t < tuples; t++ {
		b := t / max(perBatch, 1)
		src := 0
		if k.batch > 0 {
			src = b * xs[k.batch-1] // batch dims are leading and contiguous
		}
		for d := 0; d < q; d++ {
			jj, err := fixIndex(iv[t*q+d], x.Shape[k.batch+d])
			if err != nil {
				return err
			}
			src += jj * xs[k.batch+d]
		}
		copyElems(o, t*inner, x, src, inner)
	}
	return nil
}

// ---- TopK ----

type topKK struct {
	axis    int64
	largest bool
}

func (k *topKK) infer(in []*Tensor) ([]spec, error) {
	kv, err := constInts(in[1])
	if err != nil {
		return nil, err
	}
	ax, err := normAxis(k.axis, len(in[0].Shape))
	if err != nil {
		return nil, err
	}
	if len(kv) != 1 || kv[0] < 0 || int(kv[0]) > in[0].Shape[ax] {
		return nil, fmt.Errorf("TopK K %v for axis size %d", kv, in[0].Shape[ax])
	}
	s := append([]int{}, in[0].Shape...)
	s[ax] = int(kv[0])
	return []spec{{in[0].Type, s}, {onnxio.Int64, s}}, nil
}

func (k *topKK) run(rc *runCtx, in, out []*Tensor) error {
	x := in[0]
	ax, _ := normAxis(k.axis, len(x.Shape))
	kk := int(in[1].ints()[0])
	outer, d, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	order := make([]int, d)
	for a := 0; a < outer; a++ {
		for b := 0; b < inner; b++ {
			for i := range order {
				order[i] = i
			}
			at := func(i int) float64 { return x.at((a*d+i)*inner + b) }
			sort.SliceStable(order, func(i, j int) bool {
				vi, vj := at(order[i]), at(order[j])
				if k.largest {
					return vi > vj
				}
				return vi < vj
			})
			for i := 0; i < kk; i++ {
				dst := (a*kk+i)*inner + b
				copyElems(out[0], dst, x, (a*d+order[i])*inner+b, 1)
				if len(out) > 1 && out[1] != nil {
					out[1].I64[dst] = int64(order[i])
				}
			}
		}
	}
	return nil
}

// ---- OneHot ----

type oneHotK struct{ axis int64 }

func (k *oneHotK) infer(in []*Tensor) ([]spec, error) {
	if !in[1].hasData() {
		return nil, errNoData
	}
	depth := int(in[1].at(0))
	r := len(in[0].Shape) + 1
	ax, err := normAxis(k.axis, r)
	if err != nil {
		return nil, err
	}
	s := append(append(append([]int{}, in[0].Shape[:ax]...), depth), in[0].Shape[ax:]...)
	return []spec{{in[2].Type, s}}, nil
}

func (k *oneHotK) run(rc *runCtx, in, out []*Tensor) error {
	ind, o, vals := in[0], out[0], in[2]
	depth := int(in[1].at(0))
	ax, _ := normAxis(k.axis, len(ind.Shape)+1)
	outer, inner := numel(ind.Shape[:ax]), numel(ind.Shape[ax:])
	for i := 0; i < o.Len(); i++ {
		copyElems(o, i, vals, 0, 1)
	}
	for a := 0; a < outer; a++ {
		for b := 0; b < inner; b++ {
			j := int64(ind.at(a*inner + b))
			if j < 0 {
				j += int64(depth)
			}
			if j >= 0 && j < int64(depth) {
				copyElems(o, (a*depth+int(j))*inner+b, vals, 1, 1)
			}
		}
	}
	return nil
}

// ---- Trilu ----

type triluK struct{ upper bool }

func (k *triluK) infer(in []*Tensor) ([]spec, error) {
	if len(in[0].Shape) < 2 {
		return nil, fmt.Errorf("Trilu needs rank >= 2")
	}
	return []spec{{in[0].Type, in[0].Shape}}, nil
}

func (k *triluK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	diag := int64(0)
	if len(in) > 1 && in[1] != nil {
		diag = in[1].ints()[0]
	}
	r := len(x.Shape)
	rows, cols := x.Shape[r-2], x.Shape[r-1]
	zero := newTensor(x.Type, []int{1})
	for i := 0; i < x.Len(); i++ {
		row, col := int64(i/cols%rows), int64(i%cols)
		keep := col-row >= diag
		if !k.upper {
			keep = col-row <= diag
		}
		if keep {
			copyElems(o, i, x, i, 1)
		} else {
			copyElems(o, i, zero, 0, 1)
		}
	}
	return nil
}

// ---- CumSum ----

type cumSumK struct{ exclusive, reverse bool }

func (k *cumSumK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type == onnxio.Bool {
		return nil, fmt.Errorf("CumSum of bool")
	}
	return []spec{{in[0].Type, in[0].Shape}}, nil
}

func (k *cumSumK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	ax, err := normAxis(in[1].ints()[0], len(x.Shape))
	if err != nil {
		return err
	}
	outer, d, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	for a := 0; a < outer; a++ {
		for b := 0; b < inner; b++ {
			var acc float64
			for s := 0; s < d; s++ {
				i := s
				if k.reverse {
					i = d - 1 - s
				}
				p := (a*d+i)*inner + b
				v := x.at(p)
				if k.exclusive {
					setAt(o, p, acc)
					acc += v
				} else {
					acc += v
					setAt(o, p, acc)
				}
			}
		}
	}
	return nil
}

func init() {
	register(func(c *nodeCtx) (kernel, error) { return &nonZeroK{}, nil }, "NonZero")
	register(func(c *nodeCtx) (kernel, error) {
		a := c.attr("axis")
		if a == nil {
			return &compressK{flat: true}, nil
		}
		return &compressK{axis: a.GetI()}, nil
	}, "Compress")
}

// ---- NonZero, Compress: output shapes depend on the data ----

type nonZeroK struct{}

func (k *nonZeroK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	if !x.hasData() {
		return nil, errNoData
	}
	nz := 0
	for i := 0; i < x.Len(); i++ {
		if x.at(i) != 0 {
			nz++
		}
	}
	return []spec{{onnxio.Int64, []int{len(x.Shape), nz}}}, nil
}

func (k *nonZeroK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	nz := o.Shape[1]
	idx := make([]int, len(x.Shape))
	j := 0
	for i := 0; i < x.Len(); i++ {
		if x.at(i) == 0 {
			continue
		}
		unravel(i, x.Shape, idx)
		for d, v := range idx {
			o.I64[d*nz+j] = int64(v)
		}
		j++
	}
	return nil
}

type compressK struct {
	axis int64
	flat bool
}

func (k *compressK) infer(in []*Tensor) ([]spec, error) {
	x, cond := in[0], in[1]
	if cond.Type != onnxio.Bool {
		return nil, fmt.Errorf("Compress condition is %s", onnxio.DataTypeName(cond.Type))
	}
	if !cond.hasData() {
		return nil, errNoData
	}
	n := x.Len()
	s := []int{0}
	if !k.flat {
		ax, err := normAxis(k.axis, len(x.Shape))
		if err != nil {
			return nil, err
		}
		n = x.Shape[ax]
		s = append([]int{}, x.Shape...)
		s[ax] = 0
		cnt := 0
		for i := 0; i < min(n, len(cond.Bool)); i++ {
			if cond.Bool[i] {
				cnt++
			}
		}
		s[ax] = cnt
		return []spec{{x.Type, s}}, nil
	}
	for i := 0; i < min(n, len(cond.Bool)); i++ {
		if cond.Bool[i] {
			s[0]++
		}
	}
	return []spec{{x.Type, s}}, nil
}

func (k *compressK) run(rc *runCtx, in, out []*Tensor) error {
	x, cond, o := in[0], in[1], out[0]
	if k.flat {
		j := 0
		for i := 0; i < min(x.Len(), len(cond.Bool)); i++ {
			if cond.Bool[i] {
				copyElems(o, j, x, i, 1)
				j++
			}
		}
		return nil
	}
	ax, _ := normAxis(k.axis, len(x.Shape))
	outer, d, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	od := o.Shape[ax]
	for a := 0; a < outer; a++ {
		j := 0
		for i := 0; i < min(d, len(cond.Bool)); i++ {
			if cond.Bool[i] {
				copyElems(o, (a*od+j)*inner, x, (a*d+i)*inner, inner)
				j++
			}
		}
	}
	return nil
}

package engine

import (
	"fmt"
	"sort"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(func(c *nodeCtx) (kernel, error) {
		k := &uniqueK{sorted: c.attrInt("sorted", 1) != 0, flat: c.attr("axis") == nil}
		if !k.flat {
			k.axis = c.attrInt("axis", 0)
		}
		return k, nil
	}, "Unique")
}

// uniqueK is Unique: the distinct elements (or slices along axis), their
// first indices, the inverse mapping and counts. Its output size depends
// on the data.
type uniqueK struct {
	sorted bool
	flat   bool
	axis   int64
}

type uniqueResult struct {
	order   []int // input slice index of each unique, in output order
	inverse []int64
	counts  []int64
	n       int // slices
	inner   int // elements per slice along the axis
	outer   int
	ax      int
}

func (k *uniqueK) compute(x *Tensor) (*uniqueResult, error) {
	r := &uniqueResult{}
	shape := x.Shape
	if k.flat {
		shape = []int{x.Len()}
	}
	ax := 0
	if !k.flat {
		a, err := normAxis(k.axis, len(shape))
		if err != nil {
			return nil, err
		}
		ax = a
	}
	r.ax, r.outer, r.n, r.inner = ax, numel(shape[:ax]), shape[ax], numel(shape[ax+1:])
	// Compare slices i and j element by element.
	cmp := func(i, j int) int {
		for a := 0; a < r.outer; a++ {
			for b := 0; b < r.inner; b++ {
				u, v := x.at((a*r.n+i)*r.inner+b), x.at((a*r.n+j)*r.inner+b)
				if u < v {
					return -1
				}
				if u > v {
					return 1
				}
			}
		}
		return 0
	}
	idx := make([]int, r.n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return cmp(idx[a], idx[b]) < 0 })
	// Groups of equal slices; each group's first index is its smallest.
	group := make([]int, r.n)
	var firsts []int
	for p, i := range idx {
		if p == 0 || cmp(idx[p-1], i) != 0 {
			firsts = append(firsts, i)
		}
		group[i] = len(firsts) - 1
	}
	rank := make([]int, len(firsts)) // group -> output position
	for g := range firsts {
		rank[g] = g
	}
	if !k.sorted {
		byFirst := make([]int, len(firsts))
		for g := range byFirst {
			byFirst[g] = g
		}
		sort.Slice(byFirst, func(a, b int) bool { return firsts[byFirst[a]] < firsts[byFirst[b]] })
		for pos, g := range byFirst {
			rank[g] = pos
		}
	}
	r.order = make([]int, len(firsts))
	r.counts = make([]int64, len(firsts))
	for g, f := range firsts {
		r.order[rank[g]] = f
	}
	r.inverse = make([]int64, r.n)
	for i := 0; i < r.n; i++ {
		r.inverse[i] = int64(rank[group[i]])
		r.counts[rank[group[i]]]++
	}
	return r, nil
}

func (k *uniqueK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	if !x.hasData() {
		return nil, errNoData
	}
	r, err := k.compute(x)
	if err != nil {
		return nil, err
	}
	u := len(r.order)
	ys := []int{u}
	if !k.flat {
		ys = append([]int{}, x.Shape...)
		ys[r.ax] = u
	}
	return []spec{{x.Type, ys}, {onnxio.Int64, []int{u}}, {onnxio.Int64, []int{r.n}}, {onnxio.Int64, []int{u}}}, nil
}

func (k *uniqueK) run(rc *runCtx, in, out []*Tensor) error {
	x := in[0]
	r, err := k.compute(x)
	if err != nil {
		return err
	}
	u := len(r.order)
	y := out[0]
	for a := 0; a < r.outer; a++ {
		for p, i := range r.order {
			copyElems(y, (a*u+p)*r.inner, x, (a*r.n+i)*r.inner, r.inner)
		}
	}
	for j, vals := range [][]int64{nil, r.inverse, r.counts} {
		o := j + 1
		if o >= len(out) || out[o] == nil {
			continue
		}
		if o == 1 {
			for p, i := range r.order {
				out[1].I64[p] = int64(i)
			}
			continue
		}
		if len(out[o].I64) != len(vals) {
			return fmt.Errorf("Unique output %d has %d values, want %d", o, len(out[o].I64), len(vals))
		}
		copy(out[o].I64, vals)
	}
	return nil
}

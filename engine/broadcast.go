package engine

import "fmt"

// bcastShape is the multidirectional (numpy) broadcast of shapes.
func bcastShape(shapes ...[]int) ([]int, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d == *o || d == 1:
			case *o == 1:
				*o = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast", shapes)
			}
		}
	}
	// A zero size wins over 1.
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			if d == 0 {
				out[off+i] = 0
			}
		}
	}
	return out, nil
}

// bcastStrides gives in's strides in the index space of out (0 along
// broadcast dimensions).
func bcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	s := strides(in)
	off := len(out) - len(in)
	for i, d := range in {
		if d != 1 || out[off+i] == 1 {
			st[off+i] = s[i]
		}
	}
	return st
}

// bcastRows walks out in rows along its last dimension, calling fn with
// the output offset, each input's offset (off, reused between calls),
// the row length and each input's step along the row. Adjacent dimensions
// that every input walks contiguously (or not at all) are merged first,
// so rows are as long as possible.
func bcastRows(out []int, ins [][]int, fn func(o int, off []int, n int, inc []int)) {
	shape, st := bcastPrep(out, ins)
	if shape == nil {
		return
	}
	bcastWalk(shape, st, 0, numel(shape[:len(shape)-1]), fn)
}

// bcastRowsPar is bcastRows with the rows split over threads (fn must
// be safe to call concurrently on different rows).
func bcastRowsPar(threads int, out []int, ins [][]int, fn func(o int, off []int, n int, inc []int)) {
	shape, st := bcastPrep(out, ins)
	if shape == nil {
		return
	}
	inner := shape[len(shape)-1]
	parallelFor(threads, numel(shape[:len(shape)-1]), max(1, (1<<15)/max(inner, 1)), func(lo, hi int) {
		bcastWalk(shape, st, lo, hi, fn)
	})
}

// bcastPrep returns the merged output shape (rank >= 1) and each input's
// strides in it; nil for an empty output.
func bcastPrep(out []int, ins [][]int) ([]int, [][]int) {
	if numel(out) == 0 {
		return nil, nil
	}
	k := len(ins)
	if len(out) == 0 {
		st := make([][]int, k)
		for j := range st {
			st[j] = []int{0}
		}
		return []int{1}, st
	}
	st := make([][]int, k)
	for j, s := range ins {
		st[j] = bcastStrides(s, out)
	}
	shape := []int{out[0]}
	merged := make([][]int, k)
	for j := range st {
		merged[j] = []int{st[j][0]}
	}
	for d := 1; d < len(out); d++ {
		ok := true
		for j := range st {
			if merged[j][len(merged[j])-1] != st[j][d]*out[d] {
				ok = false
			}
		}
		if ok {
			shape[len(shape)-1] *= out[d]
			for j := range st {
				merged[j][len(merged[j])-1] = st[j][d]
			}
			continue
		}
		shape = append(shape, out[d])
		for j := range st {
			merged[j] = append(merged[j], st[j][d])
		}
	}
	return shape, merged
}

// bcastWalk calls fn for rows [lo, hi) of a merged shape.
func bcastWalk(shape []int, st [][]int, lo, hi int, fn func(o int, off []int, n int, inc []int)) {
	k := len(st)
	r := len(shape)
	off := make([]int, k)
	inc := make([]int, k)
	for j := range st {
		inc[j] = st[j][r-1]
	}
	idx := make([]int, r-1)
	rem := lo
	for d := r - 2; d >= 0; d-- {
		idx[d] = rem % shape[d]
		rem /= shape[d]
		for j := range off {
			off[j] += idx[d] * st[j][d]
		}
	}
	inner := shape[r-1]
	for o := lo; o < hi; o++ {
		fn(o*inner, off, inner, inc)
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			for j := range off {
				off[j] += st[j][d]
			}
			if idx[d] < shape[d] {
				break
			}
			for j := range off {
				off[j] -= st[j][d] * shape[d]
			}
			idx[d] = 0
		}
	}
}

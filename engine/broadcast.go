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
// the row length and each input's step along the row.
func bcastRows(out []int, ins [][]int, fn func(o int, off []int, n int, inc []int)) {
	k := len(ins)
	off := make([]int, k)
	inc := make([]int, k)
	r := len(out)
	if numel(out) == 0 {
		return
	}
	if r == 0 {
		fn(0, off, 1, inc)
		return
	}
	st := make([][]int, k)
	for j, s := range ins {
		st[j] = bcastStrides(s, out)
	}
	// Merge adjacent dimensions every input walks contiguously (or not at
	// all), so rows are as long as possible.
	shape := []int{out[0]}
	merged := make([][]int, k)
	for j := range st {
		merged[j] = []int{st[j][0]}
	}
	for d := 1; d < r; d++ {
		ok := true
		for j := range st {
			last := merged[j][len(merged[j])-1]
			if last != st[j][d]*out[d] {
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
	out, st, r = shape, merged, len(shape)
	for j := range st {
		inc[j] = st[j][r-1]
	}
	inner := out[r-1]
	outer := numel(out[:r-1])
	idx := make([]int, r-1)
	for o := 0; o < outer; o++ {
		fn(o*inner, off, inner, inc)
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			for j := range off {
				off[j] += st[j][d]
			}
			if idx[d] < out[d] {
				break
			}
			for j := range off {
				off[j] -= st[j][d] * out[d]
			}
			idx[d] = 0
		}
	}
}

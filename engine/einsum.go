package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(func(c *nodeCtx) (kernel, error) {
		return &einsumK{eq: strings.ReplaceAll(c.attrString("equation", ""), " ", "")}, nil
	}, "Einsum")
}

// einsumK evaluates an Einsum equation directly: every combination of the
// index letters' values, the product of the inputs' elements added into
// the output's. Plain, for the small contractions Einsum usually holds.
type einsumK struct{ eq string }

// parse expands ellipses to upper-case letters and returns each input's
// and the output's letters.
func (k *einsumK) parse(in []*Tensor) (ins []string, out string, err error) {
	lhs, rhs, explicit := strings.Cut(k.eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(in) {
		return nil, "", fmt.Errorf("Einsum %q has %d terms for %d inputs", k.eq, len(terms), len(in))
	}
	ell := 0
	for i, t := range terms {
		if strings.Contains(t, "...") {
			n := len(in[i].Shape) - (len(t) - 3)
			if n < 0 {
				return nil, "", fmt.Errorf("Einsum term %q for rank %d", t, len(in[i].Shape))
			}
			ell = max(ell, n)
		}
	}
	fill := func(t string, n int) string {
		var b strings.Builder
		for j := ell - n; j < ell; j++ {
			b.WriteByte(byte('A' + j))
		}
		return strings.Replace(t, "...", b.String(), 1)
	}
	for i, t := range terms {
		if strings.Contains(t, "...") {
			t = fill(t, len(in[i].Shape)-(len(t)-3))
		}
		if len(t) != len(in[i].Shape) {
			return nil, "", fmt.Errorf("Einsum term %q for input of rank %d", t, len(in[i].Shape))
		}
		ins = append(ins, t)
	}
	if explicit {
		out = fill(rhs, ell)
	} else {
		count := map[rune]int{}
		for _, t := range ins {
			for _, r := range t {
				count[r]++
			}
		}
		var letters []string
		for r, n := range count {
			if n == 1 && r >= 'a' {
				letters = append(letters, string(r))
			}
		}
		sort.Strings(letters)
		out = fill("...", ell) + strings.Join(letters, "")
	}
	return ins, out, nil
}

func (k *einsumK) sizes(in []*Tensor) (ins []string, out string, size map[byte]int, err error) {
	ins, out, err = k.parse(in)
	if err != nil {
		return
	}
	size = map[byte]int{}
	for i, t := range ins {
		for j := 0; j < len(t); j++ {
			d := in[i].Shape[j]
			if s, ok := size[t[j]]; ok && s != d {
				if s == 1 {
					size[t[j]] = d
				} else if d != 1 {
					return nil, "", nil, fmt.Errorf("Einsum: index %c is %d and %d", t[j], s, d)
				}
			} else if !ok {
				size[t[j]] = d
			}
		}
	}
	for j := 0; j < len(out); j++ {
		if _, ok := size[out[j]]; !ok {
			return nil, "", nil, fmt.Errorf("Einsum: output index %c not in any input", out[j])
		}
	}
	return ins, out, size, nil
}

func (k *einsumK) infer(in []*Tensor) ([]spec, error) {
	for _, t := range in {
		if t.Type != onnxio.Float {
			return nil, unsupported("Einsum of %s", onnxio.DataTypeName(t.Type))
		}
	}
	_, out, size, err := k.sizes(in)
	if err != nil {
		return nil, err
	}
	s := make([]int, len(out))
	for j := range s {
		s[j] = size[out[j]]
	}
	return []spec{{onnxio.Float, s}}, nil
}

func (k *einsumK) run(rc *runCtx, in, out []*Tensor) error {
	ins, os, size, _ := k.sizes(in)
	var letters []byte
	pos := map[byte]int{}
	for _, t := range append(append([]string{}, ins...), os) {
		for j := 0; j < len(t); j++ {
			if _, ok := pos[t[j]]; !ok {
				pos[t[j]] = len(letters)
				letters = append(letters, t[j])
			}
		}
	}
	dims := make([]int, len(letters))
	for i, l := range letters {
		dims[i] = size[l]
	}
	// Per operand, the stride of each letter (0 when absent or broadcast).
	stride := func(t string, shape []int) []int {
		st := make([]int, len(letters))
		s := strides(shape)
		for j := 0; j < len(t); j++ {
			if shape[j] != 1 {
				st[pos[t[j]]] += s[j]
			}
		}
		return st
	}
	ist := make([][]int, len(in))
	for i := range in {
		ist[i] = stride(ins[i], in[i].Shape)
	}
	ost := stride(os, out[0].Shape)
	o := out[0].F32
	clear(o)
	idx := make([]int, len(letters))
	total := numel(dims)
	for c := 0; c < total; c++ {
		unravel(c, dims, idx)
		p := float32(1)
		for i, t := range in {
			off := 0
			for l, v := range idx {
				off += v * ist[i][l]
			}
			p *= t.F32[off]
		}
		off := 0
		for l, v := range idx {
			off += v * ost[l]
		}
		o[off] += p
	}
	return nil
}

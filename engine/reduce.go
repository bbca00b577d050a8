package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildReduce, "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd",
		"ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")
	register(buildArg, "ArgMax", "ArgMin")
}

type reduceK struct {
	op       string
	keep     bool
	noopNone bool
	attrAxes []int64 // old forms that still carry an axes attribute
}

func buildReduce(c *nodeCtx) (kernel, error) {
	k := &reduceK{op: c.n.GetOpType(), keep: c.attrInt("keepdims", 1) != 0, noopNone: c.attrInt("noop_with_empty_axes", 0) != 0}
	k.attrAxes, _ = c.attrInts("axes")
	return k, nil
}

// axes returns which axes are reduced; nil means the input passes through.
func (k *reduceK) axes(in []*Tensor) ([]bool, error) {
	x := in[0]
	ax := k.attrAxes
	if len(in) > 1 && in[1] != nil {
		v, err := constInts(in[1])
		if err != nil {
			return nil, err
		}
		ax = v
	}
	red := make([]bool, len(x.Shape))
	if len(ax) == 0 {
		if k.noopNone {
			return nil, nil
		}
		for i := range red {
			red[i] = true
		}
		return red, nil
	}
	for _, a := range ax {
		i, err := normAxis(a, len(x.Shape))
		if err != nil {
			return nil, err
		}
		red[i] = true
	}
	return red, nil
}

func (k *reduceK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	if x.Type == onnxio.Bool {
		return nil, unsupported("%s of bool", k.op)
	}
	red, err := k.axes(in)
	if err != nil {
		return nil, err
	}
	if red == nil {
		return []spec{{x.Type, x.Shape}}, nil
	}
	s := []int{}
	for i, d := range x.Shape {
		if red[i] {
			if (k.op == "ReduceMax" || k.op == "ReduceMin") && d == 0 {
				return nil, fmt.Errorf("%s over an empty axis", k.op)
			}
			if k.keep {
				s = append(s, 1)
			}
		} else {
			s = append(s, d)
		}
	}
	return []spec{{x.Type, s}}, nil
}

func (k *reduceK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	red, _ := k.axes(in)
	if red == nil {
		copyData(o, x)
		return nil
	}
	kshape := make([]int, len(x.Shape))
	cnt := 1
	for i, d := range x.Shape {
		if red[i] {
			kshape[i] = 1
			cnt *= d
		} else {
			kshape[i] = d
		}
	}
	n := o.Len()
	acc := make([]float64, n)
	init := 0.0
	switch k.op {
	case "ReduceProd":
		init = 1
	case "ReduceMax":
		init = math.Inf(-1)
	case "ReduceMin":
		init = math.Inf(1)
	case "ReduceLogSumExp":
		init = math.Inf(-1) // running max first
	}
	for i := range acc {
		acc[i] = init
	}
	var mx []float64
	if k.op == "ReduceLogSumExp" {
		bcastRows(x.Shape, [][]int{kshape}, func(xo int, off []int, m int, inc []int) {
			for i := 0; i < m; i++ {
				acc[off[0]+i*inc[0]] = math.Max(acc[off[0]+i*inc[0]], x.at(xo+i))
			}
		})
		mx = acc
		acc = make([]float64, n)
	}
	bcastRows(x.Shape, [][]int{kshape}, func(xo int, off []int, m int, inc []int) {
		for i := 0; i < m; i++ {
			j := off[0] + i*inc[0]
			v := x.at(xo + i)
			switch k.op {
			case "ReduceSum", "ReduceMean", "ReduceLogSum":
				acc[j] += v
			case "ReduceProd":
				acc[j] *= v
			case "ReduceMax":
				if v > acc[j] || v != v {
					acc[j] = v
				}
			case "ReduceMin":
				if v < acc[j] || v != v {
					acc[j] = v
				}
			case "ReduceSumSquare", "ReduceL2":
				acc[j] += v * v
			case "ReduceL1":
				acc[j] += math.Abs(v)
			case "ReduceLogSumExp":
				acc[j] += math.Exp(v - mx[j])
			}
		}
	})
	for j := range acc {
		v := acc[j]
		switch k.op {
		case "ReduceMean":
			v /= float64(cnt)
		case "ReduceL2":
			v = math.Sqrt(v)
		case "ReduceLogSum":
			v = math.Log(v)
		case "ReduceLogSumExp":
			v = math.Log(v) + mx[j]
		}
		setAt(o, j, v)
	}
	return nil
}

// ---- ArgMax, ArgMin ----

type argK struct {
	max, keep, last bool
	axis            int64
}

func buildArg(c *nodeCtx) (kernel, error) {
	return &argK{max: c.n.GetOpType() == "ArgMax", keep: c.attrInt("keepdims", 1) != 0,
		last: c.attrInt("select_last_index", 0) != 0, axis: c.attrInt("axis", 0)}, nil
}

func (k *argK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	ax, err := normAxis(k.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	s := append([]int{}, x.Shape[:ax]...)
	if k.keep {
		s = append(s, 1)
	}
	return []spec{{onnxio.Int64, append(s, x.Shape[ax+1:]...)}}, nil
}

func (k *argK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	ax, _ := normAxis(k.axis, len(x.Shape))
	outer, d, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	for a := 0; a < outer; a++ {
		for b := 0; b < inner; b++ {
			best, bi := 0.0, 0
			for i := 0; i < d; i++ {
				v := x.at((a*d+i)*inner + b)
				better := i == 0 || (k.max && (v > best || (k.last && v == best))) || (!k.max && (v < best || (k.last && v == best)))
				if better {
					best, bi = v, i
				}
			}
			o.I64[a*inner+b] = int64(bi)
		}
	}
	return nil
}

package engine

import (
	"fmt"
	"math"
	"strings"

	"github.com/qtool/qtool/onnxio"
)

func init() { register(buildRNN, "RNN", "GRU", "LSTM") }

// rnnK runs RNN, GRU and LSTM in plain loops (matrix-vector products per
// time step), forward, reverse or bidirectional, with sequence_lens,
// initial states, peepholes, clip and both layouts.
type rnnK struct {
	op          string
	gates       int
	hidden      int
	dirs        int
	reverse     bool // single direction, reverse
	layout      int
	clip        float32
	linearReset bool
	acts        []func(float32) float32 // per direction: f, g(, h)
}

func rnnAct(name string) (func(float32) float32, error) {
	switch strings.ToLower(name) {
	case "sigmoid":
		return sigmoid, nil
	case "tanh":
		return f64(math.Tanh), nil
	case "relu":
		return func(x float32) float32 { return max(x, 0) }, nil
	}
	return nil, unsupported("recurrent activation %q", name)
}

func buildRNN(c *nodeCtx) (kernel, error) {
	op := c.n.GetOpType()
	k := &rnnK{op: op, hidden: int(c.attrInt("hidden_size", 0)), layout: int(c.attrInt("layout", 0)),
		linearReset: c.attrInt("linear_before_reset", 0) != 0, dirs: 1}
	var defaults []string
	switch op {
	case "RNN":
		k.gates, defaults = 1, []string{"Tanh"}
	case "GRU":
		k.gates, defaults = 3, []string{"Sigmoid", "Tanh"}
	case "LSTM":
		k.gates, defaults = 4, []string{"Sigmoid", "Tanh", "Tanh"}
		if c.attrInt("input_forget", 0) != 0 {
			return nil, unsupported("LSTM input_forget")
		}
	}
	switch d := c.attrString("direction", "forward"); d {
	case "forward":
	case "reverse":
		k.reverse = true
	case "bidirectional":
		k.dirs = 2
	default:
		return nil, fmt.Errorf("direction %q", d)
	}
	if a := c.attr("clip"); a != nil {
		k.clip = a.GetF()
	}
	names := defaults
	if a := c.attr("activations"); a != nil {
		names = nil
		for _, s := range a.GetStrings() {
			names = append(names, string(s))
		}
	}
	if _, ok := c.attrInts("activation_alpha"); ok || c.attr("activation_beta") != nil {
		return nil, unsupported("%s activation_alpha/beta", op)
	}
	if len(names) == len(defaults) && k.dirs == 2 {
		names = append(names, names...)
	}
	if len(names) != len(defaults)*k.dirs {
		return nil, fmt.Errorf("%d activations for %s with %d directions", len(names), op, k.dirs)
	}
	for _, n := range names {
		f, err := rnnAct(n)
		if err != nil {
			return nil, err
		}
		k.acts = append(k.acts, f)
	}
	if k.hidden <= 0 {
		return nil, fmt.Errorf("%s needs hidden_size", op)
	}
	return k, nil
}

func (k *rnnK) dims(x *Tensor) (seq, batch, in int) {
	if k.layout == 0 {
		return x.Shape[0], x.Shape[1], x.Shape[2]
	}
	return x.Shape[1], x.Shape[0], x.Shape[2]
}

func (k *rnnK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	if x.Type != onnxio.Float || len(x.Shape) != 3 {
		return nil, unsupported("%s of %s", k.op, x)
	}
	seq, batch, _ := k.dims(x)
	h := k.hidden
	y := []int{seq, k.dirs, batch, h}
	yh := []int{k.dirs, batch, h}
	if k.layout != 0 {
		y, yh = []int{batch, seq, k.dirs, h}, []int{batch, k.dirs, h}
	}
	out := []spec{{onnxio.Float, y}, {onnxio.Float, yh}}
	if k.op == "LSTM" {
		out = append(out, spec{onnxio.Float, yh})
	}
	return out, nil
}

func (k *rnnK) run(rc *runCtx, in, out []*Tensor) error {
	x, w, r := in[0], in[1], in[2]
	opt := func(i int) *Tensor {
		if len(in) > i && in[i] != nil && in[i].Len() > 0 {
			return in[i]
		}
		return nil
	}
	b, seqLens, h0, c0, peep := opt(3), opt(4), opt(5), opt(6), opt(7)
	seq, batch, isz := k.dims(x)
	H, G := k.hidden, k.gates
	if len(w.Shape) != 3 || w.Shape[0] != k.dirs || w.Shape[1] != G*H || w.Shape[2] != isz {
		return fmt.Errorf("%s: W %v, want [%d,%d,%d]", k.op, w.Shape, k.dirs, G*H, isz)
	}
	nAct := len(k.acts) / k.dirs
	xAt := func(t, bi int) []float32 {
		if k.layout == 0 {
			return x.F32[(t*batch+bi)*isz : (t*batch+bi+1)*isz]
		}
		return x.F32[(bi*seq+t)*isz : (bi*seq+t+1)*isz]
	}
	yIdx := func(t, d, bi int) int {
		if k.layout == 0 {
			return ((t*k.dirs+d)*batch + bi) * H
		}
		return ((bi*seq+t)*k.dirs + d) * H
	}
	stIdx := func(d, bi int) int {
		if k.layout == 0 {
			return (d*batch + bi) * H
		}
		return (bi*k.dirs + d) * H
	}
	var y, yh, yc []float32
	if len(out) > 0 && out[0] != nil {
		y = out[0].F32
		clear(y)
	}
	if len(out) > 1 && out[1] != nil {
		yh = out[1].F32
	}
	if len(out) > 2 && out[2] != nil {
		yc = out[2].F32
	}
	clip := func(v float32) float32 {
		if k.clip > 0 {
			return max(-k.clip, min(k.clip, v))
		}
		return v
	}
	dot := func(a, bv []float32) float32 {
		var s float32
		for i, v := range a {
			s += v * bv[i]
		}
		return s
	}
	gates := make([]float32, G*H)
	hPrev := make([]float32, H)
	cPrev := make([]float32, H)
	hNew := make([]float32, H)
	tmp := make([]float32, H)
	for d := 0; d < k.dirs; d++ {
		acts := k.acts[d*nAct : (d+1)*nAct]
		wd := w.F32[d*G*H*isz : (d+1)*G*H*isz]
		rd := r.F32[d*G*H*H : (d+1)*G*H*H]
		wb, rb := make([]float32, G*H), make([]float32, G*H)
		if b != nil {
			copy(wb, b.F32[d*2*G*H:d*2*G*H+G*H])
			copy(rb, b.F32[d*2*G*H+G*H:(d+1)*2*G*H])
		}
		var pi, po, pf []float32
		if peep != nil {
			p := peep.F32[d*3*H : (d+1)*3*H]
			pi, po, pf = p[:H], p[H:2*H], p[2*H:]
		}
		rev := k.reverse || d == 1
		for bi := 0; bi < batch; bi++ {
			n := seq
			if seqLens != nil {
				n = int(seqLens.ints()[bi])
			}
			clear(hPrev)
			clear(cPrev)
			if h0 != nil {
				copy(hPrev, h0.F32[stIdx(d, bi):stIdx(d, bi)+H])
			}
			if c0 != nil {
				copy(cPrev, c0.F32[stIdx(d, bi):stIdx(d, bi)+H])
			}
			for s := 0; s < n; s++ {
				t := s
				if rev {
					t = n - 1 - s
				}
				xt := xAt(t, bi)
				for j := 0; j < G*H; j++ {
					gates[j] = dot(xt, wd[j*isz:(j+1)*isz]) + wb[j]
				}
				rdot := func(gate, j int, hv []float32) float32 {
					row := gate*H + j
					return dot(hv, rd[row*H:(row+1)*H]) + rb[row]
				}
				switch k.op {
				case "RNN":
					for j := 0; j < H; j++ {
						hNew[j] = acts[0](clip(gates[j] + rdot(0, j, hPrev)))
					}
				case "GRU":
					// Gate order z, r, h.
					z := tmp
					for j := 0; j < H; j++ {
						z[j] = acts[0](clip(gates[j] + rdot(0, j, hPrev)))
					}
					rg := make([]float32, H)
					for j := 0; j < H; j++ {
						rg[j] = acts[0](clip(gates[H+j] + rdot(1, j, hPrev)))
					}
					rh := make([]float32, H)
					for j := 0; j < H; j++ {
						rh[j] = rg[j] * hPrev[j]
					}
					for j := 0; j < H; j++ {
						var hh float32
						if k.linearReset {
							hh = gates[2*H+j] + rg[j]*rdot(2, j, hPrev)
						} else {
							hh = gates[2*H+j] + rdot(2, j, rh)
						}
						hh = acts[1](clip(hh))
						hNew[j] = (1-z[j])*hh + z[j]*hPrev[j]
					}
				case "LSTM":
					// Gate order i, o, f, c.
					for j := 0; j < H; j++ {
						gi := gates[j] + rdot(0, j, hPrev)
						gf := gates[2*H+j] + rdot(2, j, hPrev)
						gc := gates[3*H+j] + rdot(3, j, hPrev)
						if pi != nil {
							gi += pi[j] * cPrev[j]
							gf += pf[j] * cPrev[j]
						}
						it, ft, ct := acts[0](clip(gi)), acts[0](clip(gf)), acts[1](clip(gc))
						tmp[j] = ft*cPrev[j] + it*ct
					}
					for j := 0; j < H; j++ {
						gO := gates[H+j] + rdot(1, j, hPrev)
						if po != nil {
							gO += po[j] * tmp[j]
						}
						hNew[j] = acts[0](clip(gO)) * acts[2](tmp[j])
					}
					copy(cPrev, tmp)
				}
				copy(hPrev, hNew)
				if y != nil {
					copy(y[yIdx(t, d, bi):yIdx(t, d, bi)+H], hPrev)
				}
			}
			if yh != nil {
				copy(yh[stIdx(d, bi):stIdx(d, bi)+H], hPrev)
			}
			if yc != nil {
				copy(yc[stIdx(d, bi):stIdx(d, bi)+H], cPrev)
			}
		}
	}
	return nil
}

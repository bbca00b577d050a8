package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// The N-d (any spatial rank) paths of Conv, ConvTranspose and the
// pools: plain index arithmetic, used for 3-D windows, MaxPool indices
// and integer pooling. The 1-D and 2-D float paths in conv.go and pool.go
// are the fast ones.

// ndAttrs are the window attributes as the node gives them.
type ndAttrs struct {
	ks, st, dl, pd []int64
	autoPad        string
}

// ndGeom is a window geometry resolved for one input.
type ndGeom struct {
	k, s, d, pb, pe, in, out []int
}

// resolve fills in defaults for spatial input sizes in (kernel sizes
// from kdims when the attribute is absent) and computes the output size.
func (a ndAttrs) resolve(in, kdims []int, ceil bool) (ndGeom, error) {
	r := len(in)
	g := ndGeom{k: make([]int, r), s: make([]int, r), d: make([]int, r), pb: make([]int, r), pe: make([]int, r), in: in, out: make([]int, r)}
	pick := func(v []int64, i, def int) (int, error) {
		if len(v) == 0 {
			return def, nil
		}
		if len(v) != r {
			return 0, fmt.Errorf("window attribute %v for %d spatial axes", v, r)
		}
		return int(v[i]), nil
	}
	for i := 0; i < r; i++ {
		var err error
		kd := 0
		if kdims != nil {
			kd = kdims[i]
		}
		if g.k[i], err = pick(a.ks, i, kd); err != nil {
			return g, err
		}
		if g.s[i], err = pick(a.st, i, 1); err != nil {
			return g, err
		}
		if g.d[i], err = pick(a.dl, i, 1); err != nil {
			return g, err
		}
		if len(a.pd) != 0 {
			if len(a.pd) != 2*r {
				return g, fmt.Errorf("pads %v for %d spatial axes", a.pd, r)
			}
			g.pb[i], g.pe[i] = int(a.pd[i]), int(a.pd[r+i])
		}
		switch a.autoPad {
		case "VALID":
			g.pb[i], g.pe[i] = 0, 0
		case "SAME_UPPER", "SAME_LOWER":
			g.pb[i], g.pe[i] = samePad(in[i], g.k[i], g.s[i], g.d[i], a.autoPad == "SAME_LOWER")
		}
		g.out[i] = outSize(in[i], g.k[i], g.s[i], g.d[i], g.pb[i], g.pe[i], ceil)
	}
	return g, nil
}

// ---- Conv ----

func (k *convK) inferND(x, w *Tensor) ([]spec, error) {
	if x.Shape[1] != w.Shape[1]*k.group {
		return nil, fmt.Errorf("Conv: %d input channels, weight wants %d×%d groups", x.Shape[1], w.Shape[1], k.group)
	}
	g, err := k.g.nd.resolve(x.Shape[2:], w.Shape[2:], false)
	if err != nil {
		return nil, err
	}
	return []spec{{onnxio.Float, append([]int{x.Shape[0], w.Shape[0]}, g.out...)}}, nil
}

// im2colND writes the (cg·Πk) × Πout patch matrix of one image's group.
func im2colND(x []float32, cg int, g ndGeom, col []float32) {
	r := len(g.in)
	kn, on, inN := numel(g.k), numel(g.out), numel(g.in)
	ki := make([]int, r)
	oi := make([]int, r)
	is := strides(g.in)
	for row := 0; row < cg*kn; row++ {
		ci := row / kn
		unravel(row%kn, g.k, ki)
		dst := col[row*on : (row+1)*on]
		src := x[ci*inN : (ci+1)*inN]
		for o := 0; o < on; o++ {
			unravel(o, g.out, oi)
			off, ok := 0, true
			for d := 0; d < r && ok; d++ {
				p := oi[d]*g.s[d] - g.pb[d] + ki[d]*g.d[d]
				ok = p >= 0 && p < g.in[d]
				off += p * is[d]
			}
			if ok {
				dst[o] = src[off]
			} else {
				dst[o] = 0
			}
		}
	}
}

func (k *convK) runND(rc *runCtx, in, out []*Tensor) error {
	x, wt, o := in[0], in[1], out[0]
	g, err := k.g.nd.resolve(x.Shape[2:], wt.Shape[2:], false)
	if err != nil {
		return err
	}
	n, c := x.Shape[0], x.Shape[1]
	m, cg := wt.Shape[0], wt.Shape[1]
	mg := m / k.group
	kk := cg * numel(g.k)
	hw := numel(g.out)
	inN := numel(g.in)
	ops := k.operands(in, out)
	col := rc.buf(kk * hw)
	for ni := 0; ni < n; ni++ {
		for gi := 0; gi < k.group; gi++ {
			im2colND(x.F32[(ni*c+gi*cg)*inN:(ni*c+(gi+1)*cg)*inN], cg, g, col)
			k.groupGemm(rc, ops, ni, gi, m, mg, kk, hw, kernels.Dense(col, hw, false), o.F32, nil, nil)
		}
	}
	k.addUnfusedResidual(ops, o)
	return nil
}

// ---- ConvTranspose ----

// geometryND resolves the transposed convolution's pads and output size.
func (k *convTK) geometryND(x, w []int) (ndGeom, []int, error) {
	in := x[2:]
	r := len(in)
	a := k.g.nd
	g, err := ndAttrs{ks: a.ks, st: a.st, dl: a.dl, pd: a.pd}.resolve(in, w[2:], false)
	if err != nil {
		return g, nil, err
	}
	out := make([]int, r)
	for i := 0; i < r; i++ {
		op := 0
		if len(k.outPad) == r {
			op = int(k.outPad[i])
		}
		full := g.s[i]*(in[i]-1) + op + (g.k[i]-1)*g.d[i] + 1
		if len(k.outShape) > 0 || a.autoPad == "SAME_UPPER" || a.autoPad == "SAME_LOWER" {
			target := in[i] * g.s[i]
			if len(k.outShape) > 0 {
				target = int(k.outShape[len(k.outShape)-r+i])
			}
			total := full - target
			half := total >> 1
			if a.autoPad == "SAME_UPPER" {
				g.pb[i], g.pe[i] = half, total-half
			} else {
				g.pb[i], g.pe[i] = total-half, half
			}
		}
		out[i] = full - g.pb[i] - g.pe[i]
	}
	g.out = out
	return g, out, nil
}

func (k *convTK) runND(rc *runCtx, in, out []*Tensor) error {
	x, w, o := in[0], in[1], out[0]
	g, _, err := k.geometryND(x.Shape, w.Shape)
	if err != nil {
		return err
	}
	n, c := x.Shape[0], x.Shape[1]
	cg := c / k.group
	mg := w.Shape[1]
	m := mg * k.group
	kn := numel(g.k)
	inN := numel(g.in)
	outN := numel(g.out)
	r := len(g.in)
	col := rc.buf(mg * kn * inN)
	clear(o.F32)
	os := strides(g.out)
	ki := make([]int, r)
	ii := make([]int, r)
	for ni := 0; ni < n; ni++ {
		for gi := 0; gi < k.group; gi++ {
			var a kernels.Operand
			if k.packed != nil {
				a = k.packed[gi].Operand()
			} else {
				a = kernels.Dense(w.F32[gi*cg*mg*kn:(gi+1)*cg*mg*kn], mg*kn, true)
			}
			xs := x.F32[(ni*c+gi*cg)*inN : (ni*c+(gi+1)*cg)*inN]
			kernels.Sgemm(mg*kn, inN, cg, a, kernels.Dense(xs, inN, false), col, inN, nil, rc.threads)
			for mi := 0; mi < mg; mi++ {
				dst := o.F32[(ni*m+gi*mg+mi)*outN : (ni*m+gi*mg+mi+1)*outN]
				for kr := 0; kr < kn; kr++ {
					unravel(kr, g.k, ki)
					src := col[(mi*kn+kr)*inN : (mi*kn+kr+1)*inN]
					for i := 0; i < inN; i++ {
						unravel(i, g.in, ii)
						off, ok := 0, true
						for d := 0; d < r && ok; d++ {
							p := ii[d]*g.s[d] - g.pb[d] + ki[d]*g.d[d]
							ok = p >= 0 && p < g.out[d]
							off += p * os[d]
						}
						if ok {
							dst[off] += src[i]
						}
					}
				}
			}
		}
	}
	k.finish(in, o, n, m, outN)
	return nil
}

// ---- MaxPool, AveragePool ----

func (k *poolK) inferND(x *Tensor) ([]spec, error) {
	if len(x.Shape) < 3 {
		return nil, fmt.Errorf("pooling needs N×C×... input, got %v", x.Shape)
	}
	g, err := k.g.nd.resolve(x.Shape[2:], nil, k.ceil)
	if err != nil {
		return nil, err
	}
	s := append([]int{x.Shape[0], x.Shape[1]}, g.out...)
	return []spec{{x.Type, s}, {onnxio.Int64, s}}, nil
}

func (k *poolK) runND(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	g, err := k.g.nd.resolve(x.Shape[2:], nil, k.ceil)
	if err != nil {
		return err
	}
	var ind *Tensor
	if len(out) > 1 {
		ind = out[1]
	}
	r := len(g.in)
	inN, outN, kn := numel(g.in), numel(g.out), numel(g.k)
	is := strides(g.in)
	cs := make([]int, r) // column-major strides, for storage_order 1
	for d, acc := 0, 1; d < r; d++ {
		cs[d] = acc
		acc *= g.in[d]
	}
	oi := make([]int, r)
	ki := make([]int, r)
	for p := 0; p < x.Shape[0]*x.Shape[1]; p++ {
		base := p * inN
		for o2 := 0; o2 < outN; o2++ {
			unravel(o2, g.out, oi)
			best, bestAt, bestCol := math.Inf(-1), -1, 0
			sum, cnt := 0.0, 0
			for kr := 0; kr < kn; kr++ {
				unravel(kr, g.k, ki)
				off, col, ok := 0, 0, true
				for d := 0; d < r && ok; d++ {
					q := oi[d]*g.s[d] - g.pb[d] + ki[d]*g.d[d]
					ok = q >= 0 && q < g.in[d]
					off += q * is[d]
					col += q * cs[d]
				}
				if !ok {
					continue
				}
				v := x.at(base + off)
				if v > best || bestAt < 0 {
					best, bestAt, bestCol = v, base+off, base+col
				}
				sum += v
				cnt++
			}
			dst := p*outN + o2
			if k.max {
				if bestAt >= 0 {
					copyElems(o, dst, x, bestAt, 1)
				} else {
					setAt(o, dst, math.Inf(-1))
				}
				if ind != nil {
					ind.I64[dst] = int64(bestAt)
					if k.colMajor {
						ind.I64[dst] = int64(bestCol)
					}
				}
				continue
			}
			if k.includePad {
				cnt = 1
				for d := 0; d < r; d++ {
					c := 0
					for kk := 0; kk < g.k[d]; kk++ {
						if q := oi[d]*g.s[d] - g.pb[d] + kk*g.d[d]; q < g.in[d]+g.pe[d] {
							c++
						}
					}
					cnt *= c
				}
			}
			setAt(o, dst, float64(float32(sum)/float32(cnt)))
		}
	}
	return nil
}

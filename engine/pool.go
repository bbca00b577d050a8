package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(buildPool, "MaxPool", "AveragePool")
	register(buildGlobalPool, "GlobalAveragePool", "GlobalMaxPool")
}

type poolK struct {
	max        bool
	g          convGeom
	ceil       bool
	includePad bool
	indices    bool // MaxPool's Indices output is used
	colMajor   bool // storage_order 1: Indices count spatial positions column-major
}

func buildPool(c *nodeCtx) (kernel, error) {
	g, err := readGeom(c)
	if err != nil {
		return nil, err
	}
	if g.kh == 0 && len(g.nd.ks) == 0 {
		return nil, fmt.Errorf("%s needs kernel_shape", c.n.GetOpType())
	}
	out := c.n.GetOutput()
	return &poolK{max: c.n.GetOpType() == "MaxPool", g: g, ceil: c.attrInt("ceil_mode", 0) != 0,
		includePad: c.attrInt("count_include_pad", 0) != 0, indices: len(out) > 1 && out[1] != "",
		colMajor: c.attrInt("storage_order", 0) != 0}, nil
}

func (k *poolK) geometry(x []int) (g convGeom, oh, ow int) {
	_, _, h, w, _ := as4(x)
	g = k.g
	if len(x) == 3 {
		g.kh, g.sh, g.dh = 1, 1, 1
	}
	return g.forInput(h, w, k.ceil)
}

// generic reports whether the N-d path must run: 3-D windows, a
// non-float input, or MaxPool indices.
func (k *poolK) generic(x *Tensor) bool {
	return k.g.wide || len(x.Shape) == 5 || x.Type != onnxio.Float || k.indices
}

func (k *poolK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type == onnxio.Bool || (!k.max && in[0].Type != onnxio.Float) {
		return nil, unsupported("%s of %s", map[bool]string{true: "MaxPool", false: "AveragePool"}[k.max], onnxio.DataTypeName(in[0].Type))
	}
	if k.generic(in[0]) {
		return k.inferND(in[0])
	}
	if _, _, _, _, err := as4(in[0].Shape); err != nil {
		return nil, err
	}
	_, oh, ow := k.geometry(in[0].Shape)
	s := append([]int{}, in[0].Shape[:2]...)
	if len(in[0].Shape) == 4 {
		s = append(s, oh)
	}
	return []spec{{onnxio.Float, append(s, ow)}}, nil
}

func (k *poolK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	if k.generic(x) {
		return k.runND(rc, in, out)
	}
	n, c, h, w, _ := as4(x.Shape)
	g, oh, ow := k.geometry(x.Shape)
	inside := g.pt == 0 && g.pl == 0 && g.dh == 1 && g.dw == 1 &&
		(oh-1)*g.sh+g.kh <= h && (ow-1)*g.sw+g.kw <= w
	rowMax := k.max && g.dh == 1 && g.dw == 1
	// tiled: windows that tile the input (kernel = stride, no padding),
	// as in the usual 2×2 stride-2 MaxPool: whole-plane vector passes.
	tiled := rowMax && g.kh == g.sh && g.kw == g.sw && g.pt == 0 && g.pl == 0 && oh*g.sh <= h && ow*g.sw <= w
	parallelFor(rc.threads, n*c, 1, func(lo, hi int) {
		var t, u []float32
		switch {
		case tiled:
			t, u = make([]float32, 2*oh*w), make([]float32, oh*ow)
		case rowMax:
			t = make([]float32, w)
		}
		for p := lo; p < hi; p++ {
			src := x.F32[p*h*w : (p+1)*h*w]
			dst := o.F32[p*oh*ow : (p+1)*oh*ow]
			if tiled {
				maxPoolTiled(src, dst, t, u, w, oh, ow, g)
				continue
			}
			if rowMax {
				maxPoolPlane(src, dst, t, h, w, oh, ow, g)
				continue
			}
			if inside {
				// Every window lies inside the input: no bounds checks.
				inv := 1 / float32(g.kh*g.kw)
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						base := oy*g.sh*w + ox*g.sw
						m := src[base]
						var sum float32
						for ky := 0; ky < g.kh; ky++ {
							for _, v := range src[base+ky*w : base+ky*w+g.kw] {
								if v > m || v != v {
									m = v
								}
								sum += v
							}
						}
						if k.max {
							dst[oy*ow+ox] = m
						} else {
							dst[oy*ow+ox] = sum * inv
						}
					}
				}
				continue
			}
			for oy := 0; oy < oh; oy++ {
				y0 := oy*g.sh - g.pt
				for ox := 0; ox < ow; ox++ {
					x0 := ox*g.sw - g.pl
					if k.max {
						m := float32(math.Inf(-1))
						for ky := 0; ky < g.kh; ky++ {
							iy := y0 + ky*g.dh
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < g.kw; kx++ {
								ix := x0 + kx*g.dw
								if ix >= 0 && ix < w {
									if v := src[iy*w+ix]; v > m || v != v {
										m = v
									}
								}
							}
						}
						dst[oy*ow+ox] = m
						continue
					}
					var sum float32
					cnt := 0
					for ky := 0; ky < g.kh; ky++ {
						iy := y0 + ky*g.dh
						if iy < 0 || iy >= h {
							continue
						}
						for kx := 0; kx < g.kw; kx++ {
							ix := x0 + kx*g.dw
							if ix >= 0 && ix < w {
								sum += src[iy*w+ix]
								cnt++
							}
						}
					}
					if k.includePad {
						// Window clipped to the padded input.
						cy := 0
						for ky := 0; ky < g.kh; ky++ {
							if iy := y0 + ky*g.dh; iy < h+g.pb {
								cy++
							}
						}
						cx := 0
						for kx := 0; kx < g.kw; kx++ {
							if ix := x0 + kx*g.dw; ix < w+g.pr {
								cx++
							}
						}
						cnt = cy * cx
					}
					dst[oy*ow+ox] = sum / float32(cnt)
				}
			}
		}
	})
	return nil
}

// maxPoolTiled is MaxPool of one plane (row width w) whose windows tile
// it, in whole-plane vector passes that take maxima in maxPoolPlane's
// order (so with the same result): the window's first row of every output
// row gathered, then the max with each further row; then the same along
// each row's columns. t holds 2·oh·w floats, u oh·ow.
func maxPoolTiled(src, dst, t, u []float32, w, oh, ow int, g convGeom) {
	rows, next := t[:oh*w], t[oh*w:2*oh*w]
	kernels.CopyRows(rows, src, oh, w, w, g.sh*w, 1)
	for ky := 1; ky < g.kh; ky++ {
		kernels.CopyRows(next, src[ky*w:], oh, w, w, g.sh*w, 1)
		kernels.Elementwise(kernels.ElemMax, rows, rows, next)
	}
	kernels.CopyRows(dst, rows, oh, ow, ow, w, g.sw)
	for kx := 1; kx < g.kw; kx++ {
		kernels.CopyRows(u, rows[kx:], oh, ow, ow, w, g.sw)
		kernels.Elementwise(kernels.ElemMax, dst, dst, u)
	}
}

// maxPoolPlane is MaxPool of one h×w plane with unit dilation, row by
// row: the column-wise max of a window row's input rows into t (w
// floats), then the max along each window's columns, so each input row is
// read once per window row instead of once per window. A NaN in a window
// gives NaN; a window entirely in the padding gives -Inf.
func maxPoolPlane(src, dst, t []float32, h, w, oh, ow int, g convGeom) {
	negInf := float32(math.Inf(-1))
	t = t[:w]
	for oy := 0; oy < oh; oy++ {
		y0 := oy*g.sh - g.pt
		y1 := min(y0+g.kh, h)
		y0 = max(y0, 0)
		out := dst[oy*ow : (oy+1)*ow]
		if y0 >= y1 {
			for i := range out {
				out[i] = negInf
			}
			continue
		}
		copy(t, src[y0*w:(y0+1)*w])
		for iy := y0 + 1; iy < y1; iy++ {
			row := src[iy*w : (iy+1)*w]
			for x, v := range row {
				t[x] = max(t[x], v)
			}
		}
		for ox := range out {
			x0 := ox*g.sw - g.pl
			x1 := min(x0+g.kw, w)
			x0 = max(x0, 0)
			if x0 >= x1 {
				out[ox] = negInf
				continue
			}
			m := t[x0]
			for _, v := range t[x0+1 : x1] {
				m = max(m, v)
			}
			out[ox] = m
		}
	}
}

type globalPoolK struct{ max bool }

func buildGlobalPool(c *nodeCtx) (kernel, error) {
	return &globalPoolK{max: c.n.GetOpType() == "GlobalMaxPool"}, nil
}

func (k *globalPoolK) infer(in []*Tensor) ([]spec, error) {
	x := in[0]
	if x.Type != onnxio.Float || len(x.Shape) < 2 {
		return nil, fmt.Errorf("global pooling needs float N×C×...")
	}
	s := append([]int{}, x.Shape[:2]...)
	for range x.Shape[2:] {
		s = append(s, 1)
	}
	return []spec{{onnxio.Float, s}}, nil
}

func (k *globalPoolK) run(rc *runCtx, in, out []*Tensor) error {
	x, o := in[0], out[0]
	nc := x.Shape[0] * x.Shape[1]
	sp := numel(x.Shape[2:])
	for p := 0; p < nc; p++ {
		src := x.F32[p*sp : (p+1)*sp]
		if k.max {
			m := float32(math.Inf(-1))
			for _, v := range src {
				if v > m {
					m = v
				}
			}
			o.F32[p] = m
			continue
		}
		var s float32
		for _, v := range src {
			s += v
		}
		o.F32[p] = s / float32(sp)
	}
	return nil
}

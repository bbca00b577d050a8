package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
)

func init() { register(buildResize, "Resize") }

type resizeK struct {
	mode, coord, nearest string
	extrapolation        float32
	axes                 []int64
	cubicA               float64
	excludeOutside       bool
}

func buildResize(c *nodeCtx) (kernel, error) {
	k := &resizeK{mode: c.attrString("mode", "nearest"), coord: c.attrString("coordinate_transformation_mode", "half_pixel"),
		nearest: c.attrString("nearest_mode", "round_prefer_floor"), extrapolation: c.attrFloat("extrapolation_value", 0)}
	k.axes, _ = c.attrInts("axes")
	k.cubicA = float64(c.attrFloat("cubic_coeff_a", -0.75))
	k.excludeOutside = c.attrInt("exclude_outside", 0) != 0
	switch k.mode {
	case "nearest", "linear", "cubic":
	default:
		return nil, unsupported("Resize mode %q", k.mode)
	}
	switch k.coord {
	case "half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric", "tf_crop_and_resize":
	default:
		return nil, unsupported("Resize coordinate_transformation_mode %q", k.coord)
	}
	switch k.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return nil, fmt.Errorf("nearest_mode %q", k.nearest)
	}
	if c.attrInt("antialias", 0) != 0 {
		return nil, unsupported("Resize antialias")
	}
	if p := c.attrString("keep_aspect_ratio_policy", "stretch"); p != "stretch" {
		return nil, unsupported("Resize keep_aspect_ratio_policy %q", p)
	}
	return k, nil
}

// plan returns the output shape, per-axis scales and the roi.
func (k *resizeK) sizes(in []*Tensor) (out []int, scales []float64, roi []float64, err error) {
	x := in[0]
	r := len(x.Shape)
	axes := make([]int, 0, r)
	if len(k.axes) > 0 {
		for _, a := range k.axes {
			ax, err := normAxis(a, r)
			if err != nil {
				return nil, nil, nil, err
			}
			axes = append(axes, ax)
		}
	} else {
		for i := 0; i < r; i++ {
			axes = append(axes, i)
		}
	}
	out = append([]int{}, x.Shape...)
	scales = make([]float64, r)
	for i := range scales {
		scales[i] = 1
	}
	if len(in) > 3 && in[3] != nil && in[3].Len() > 0 {
		sz, err := constInts(in[3])
		if err != nil {
			return nil, nil, nil, err
		}
		if len(sz) != len(axes) {
			return nil, nil, nil, fmt.Errorf("Resize sizes %v for %d axes", sz, len(axes))
		}
		for i, a := range axes {
			out[a] = int(sz[i])
			scales[a] = float64(sz[i]) / float64(x.Shape[a])
		}
	} else if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
		if !in[2].hasData() {
			return nil, nil, nil, errNoData
		}
		sc := in[2].floats()
		if len(sc) != len(axes) {
			return nil, nil, nil, fmt.Errorf("Resize scales %v for %d axes", sc, len(axes))
		}
		for i, a := range axes {
			scales[a] = float64(sc[i])
			out[a] = int(math.Floor(float64(x.Shape[a]) * float64(sc[i])))
		}
	} else {
		return nil, nil, nil, fmt.Errorf("Resize needs scales or sizes")
	}
	if k.coord == "tf_crop_and_resize" {
		roi = make([]float64, 2*r)
		for i := 0; i < r; i++ {
			roi[i], roi[r+i] = 0, 1
		}
		if len(in) > 1 && in[1] != nil && in[1].Len() > 0 {
			if !in[1].hasData() {
				return nil, nil, nil, errNoData
			}
			v := in[1].floats()
			for i, a := range axes {
				roi[a], roi[r+a] = float64(v[i]), float64(v[len(axes)+i])
			}
		}
	}
	return out, scales, roi, nil
}

func (k *resizeK) infer(in []*Tensor) ([]spec, error) {
	if in[0].Type != onnxio.Float {
		return nil, unsupported("Resize of %s", onnxio.DataTypeName(in[0].Type))
	}
	out, _, _, err := k.sizes(in)
	if err != nil {
		return nil, err
	}
	return []spec{{onnxio.Float, out}}, nil
}

// origin maps output coordinate x of an axis to the input coordinate.
func (k *resizeK) origin(x float64, in, out int, scale float64, roi0, roi1 float64) float64 {
	switch k.coord {
	case "asymmetric":
		return x / scale
	case "align_corners":
		// The resized length is in·scale, unrounded, as the reference
		// implementation takes it.
		lr := scale * float64(in)
		if lr == 1 {
			return 0
		}
		return x * float64(in-1) / (lr - 1)
	case "pytorch_half_pixel":
		if scale*float64(in) <= 1 {
			return 0
		}
		return (x+0.5)/scale - 0.5
	case "half_pixel_symmetric":
		adj := float64(out) / (scale * float64(in))
		center := float64(in) / 2
		offset := center * (1 - adj)
		return offset + (x+0.5)/scale - 0.5
	case "tf_crop_and_resize":
		if out == 1 {
			return (roi0 + roi1) * float64(in-1) / 2
		}
		return roi0*float64(in-1) + x*(roi1-roi0)*float64(in-1)/float64(out-1)
	}
	return (x+0.5)/scale - 0.5
}

// cubicTaps gives the four input indices (clamped to the edge) and
// weights of cubic convolution at input coordinate v.
func (k *resizeK) cubicTaps(v float64, in int) (idx [4]int, w [4]float32) {
	f := math.Floor(v)
	s := v - f
	a := k.cubicA
	cw := func(x float64) float64 {
		x = math.Abs(x)
		switch {
		case x <= 1:
			return ((a+2)*x-(a+3))*x*x + 1
		case x < 2:
			return ((a*x-5*a)*x+8*a)*x - 4*a
		}
		return 0
	}
	var ws [4]float64
	sum := 0.0
	for t := 0; t < 4; t++ {
		j := int(f) - 1 + t
		ws[t] = cw(s + 1 - float64(t))
		if k.excludeOutside && (j < 0 || j >= in) {
			ws[t] = 0
		}
		sum += ws[t]
		idx[t] = max(0, min(in-1, j))
	}
	for t := range ws {
		if k.excludeOutside && sum != 0 {
			ws[t] /= sum
		}
		w[t] = float32(ws[t])
	}
	return idx, w
}

func (k *resizeK) round(v float64) int {
	switch k.nearest {
	case "floor":
		return int(math.Floor(v))
	case "ceil":
		return int(math.Ceil(v))
	case "round_prefer_ceil":
		return int(math.Floor(v + 0.5))
	}
	// round_prefer_floor
	if v-math.Floor(v) == 0.5 {
		return int(math.Floor(v))
	}
	return int(math.Round(v))
}

func (k *resizeK) run(rc *runCtx, in, out []*Tensor) error {
	x := in[0]
	outShape, scales, roi, _ := k.sizes(in)
	cur := x
	r := len(x.Shape)
	// One separable pass per resized axis.
	var pending []int
	for a := 0; a < r; a++ {
		if outShape[a] != x.Shape[a] || scales[a] != 1 || k.coord == "tf_crop_and_resize" {
			pending = append(pending, a)
		}
	}
	if len(pending) == 0 {
		copyData(out[0], x)
		return nil
	}
	for pi, a := range pending {
		ns := append([]int{}, cur.Shape...)
		ns[a] = outShape[a]
		var dst *Tensor
		if pi == len(pending)-1 {
			dst = out[0]
		} else {
			dst = newTensor(onnxio.Float, ns)
		}
		inLen, outLen := cur.Shape[a], ns[a]
		var r0, r1 float64
		if roi != nil {
			r0, r1 = roi[a], roi[r+a]
		}
		i0 := make([]int, outLen)
		i1 := make([]int, outLen)
		w := make([]float32, outLen)
		valid := make([]bool, outLen)
		var cidx [][4]int
		var cw [][4]float32
		if k.mode == "cubic" {
			cidx, cw = make([][4]int, outLen), make([][4]float32, outLen)
		}
		for o := 0; o < outLen; o++ {
			v := k.origin(float64(o), inLen, outLen, scales[a], r0, r1)
			valid[o] = true
			if k.coord == "tf_crop_and_resize" && (v < 0 || v > float64(inLen-1)) {
				valid[o] = false
			}
			if k.mode == "cubic" {
				cidx[o], cw[o] = k.cubicTaps(v, inLen)
				continue
			}
			if k.mode == "nearest" {
				j := k.round(v)
				i0[o] = max(0, min(inLen-1, j))
				continue
			}
			v = max(0, min(float64(inLen-1), v))
			f := int(math.Floor(v))
			i0[o], i1[o], w[o] = f, min(f+1, inLen-1), float32(v-float64(f))
		}
		outer, inner := numel(cur.Shape[:a]), numel(cur.Shape[a+1:])
		src := cur.F32
		if inner == 1 && cw == nil && k.coord != "tf_crop_and_resize" {
			// The last axis: a gather per element (a copy call per
			// element would cost more than the work).
			nearest := k.mode == "nearest"
			parallelFor(rc.threads, outer, 16, func(lo, hi int) {
				for p := lo; p < hi; p++ {
					s := src[p*inLen : (p+1)*inLen]
					d := dst.F32[p*outLen : (p+1)*outLen]
					if nearest {
						for o, j := range i0 {
							d[o] = s[j]
						}
						continue
					}
					for o := range d {
						s0 := s[i0[o]]
						if wt := w[o]; wt != 0 {
							s0 += (s[i1[o]] - s0) * wt
						}
						d[o] = s0
					}
				}
			})
			cur = dst
			continue
		}
		parallelFor(rc.threads, outer, 1, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				for o := 0; o < outLen; o++ {
					d := dst.F32[(p*outLen+o)*inner : (p*outLen+o+1)*inner]
					if !valid[o] {
						for i := range d {
							d[i] = k.extrapolation
						}
						continue
					}
					if cw != nil {
						clear(d)
						for t := 0; t < 4; t++ {
							st := src[(p*inLen+cidx[o][t])*inner : (p*inLen+cidx[o][t]+1)*inner]
							wt := cw[o][t]
							for i := range d {
								d[i] += st[i] * wt
							}
						}
						continue
					}
					s0 := src[(p*inLen+i0[o])*inner : (p*inLen+i0[o]+1)*inner]
					if k.mode == "nearest" || w[o] == 0 {
						copy(d, s0)
						continue
					}
					s1 := src[(p*inLen+i1[o])*inner : (p*inLen+i1[o]+1)*inner]
					wt := w[o]
					for i := range d {
						d[i] = s0[i] + (s1[i]-s0[i])*wt
					}
				}
			}
		})
		cur = dst
	}
	return nil
}

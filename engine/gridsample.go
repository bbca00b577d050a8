package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
)

func init() { register(buildGridSample, "GridSample") }

// gridSampleK samples N×C×H×W input at the N×Ho×Wo×2 grid's normalised
// (x, y) positions, as the ONNX reference implementation does.
type gridSampleK struct {
	mode, padding string
	align         bool
}

func buildGridSample(c *nodeCtx) (kernel, error) {
	k := &gridSampleK{mode: c.attrString("mode", "linear"), padding: c.attrString("padding_mode", "zeros"),
		align: c.attrInt("align_corners", 0) != 0}
	switch k.mode {
	case "bilinear":
		k.mode = "linear"
	case "bicubic":
		k.mode = "cubic"
	}
	switch {
	case k.mode != "linear" && k.mode != "nearest" && k.mode != "cubic":
		return nil, unsupported("GridSample mode %q", k.mode)
	case k.padding != "zeros" && k.padding != "border" && k.padding != "reflection":
		return nil, unsupported("GridSample padding_mode %q", k.padding)
	}
	return k, nil
}

func (k *gridSampleK) infer(in []*Tensor) ([]spec, error) {
	x, g := in[0], in[1]
	if x.Type != onnxio.Float || g.Type != onnxio.Float {
		return nil, unsupported("GridSample of %s", onnxio.DataTypeName(x.Type))
	}
	if len(x.Shape) != 4 {
		return nil, unsupported("GridSample of rank %d (only 2-D)", len(x.Shape))
	}
	if len(g.Shape) != 4 || g.Shape[0] != x.Shape[0] || g.Shape[3] != 2 {
		return nil, fmt.Errorf("GridSample grid %v for input %v", g.Shape, x.Shape)
	}
	return []spec{{onnxio.Float, []int{x.Shape[0], x.Shape[1], g.Shape[1], g.Shape[2]}}}, nil
}

func (k *gridSampleK) denorm(v float64, n int) float64 {
	if k.align {
		return (v + 1) / 2 * float64(n-1)
	}
	return ((v+1)*float64(n) - 1) / 2
}

func reflectCoord(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	switch {
	case x < lo:
		dx := lo - x
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if int(n)%2 == 0 {
			return lo + r
		}
		return hi - r
	case x > hi:
		dx := x - hi
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if int(n)%2 == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

func (k *gridSampleK) run(rc *runCtx, in, out []*Tensor) error {
	x, g, o := in[0], in[1], out[0]
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := g.Shape[1], g.Shape[2]
	loX, hiX, loY, hiY := -0.5, float64(w)-0.5, -0.5, float64(h)-0.5
	if k.align {
		loX, hiX, loY, hiY = 0, float64(w-1), 0, float64(h-1)
	}
	parallelFor(rc.threads, n*c, 1, func(plo, phi int) {
		for p := plo; p < phi; p++ {
			ni := p / c
			img := x.F32[p*h*w : (p+1)*h*w]
			at := func(iy, ix int) float64 {
				switch k.padding {
				case "zeros":
					if iy < 0 || iy >= h || ix < 0 || ix >= w {
						return 0
					}
				case "border":
					iy, ix = max(0, min(h-1, iy)), max(0, min(w-1, ix))
				case "reflection":
					iy = int(reflectCoord(float64(iy), loY, hiY))
					ix = int(reflectCoord(float64(ix), loX, hiX))
				}
				return float64(img[iy*w+ix])
			}
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					gi := ((ni*ho+oy)*wo + ox) * 2
					fx := k.denorm(float64(g.F32[gi]), w)
					fy := k.denorm(float64(g.F32[gi+1]), h)
					if k.mode == "nearest" {
						fx, fy = math.RoundToEven(fx), math.RoundToEven(fy)
					}
					if fx < loX || fx > hiX {
						if k.padding == "border" {
							fx = max(0, min(float64(w-1), fx))
						} else if k.padding == "reflection" {
							fx = reflectCoord(fx, loX, hiX)
						}
					}
					if fy < loY || fy > hiY {
						if k.padding == "border" {
							fy = max(0, min(float64(h-1), fy))
						} else if k.padding == "reflection" {
							fy = reflectCoord(fy, loY, hiY)
						}
					}
					var v float64
					switch k.mode {
					case "nearest":
						v = at(int(fy), int(fx))
					case "linear":
						x0, y0 := math.Floor(fx), math.Floor(fy)
						dx, dy := fx-x0, fy-y0
						ix, iy := int(x0), int(y0)
						v = (1-dy)*((1-dx)*at(iy, ix)+dx*at(iy, ix+1)) + dy*((1-dx)*at(iy+1, ix)+dx*at(iy+1, ix+1))
					case "cubic":
						x0, y0 := math.Floor(fx), math.Floor(fy)
						cx, cy := cubicCoeffs(fx-x0), cubicCoeffs(fy-y0)
						ix, iy := int(x0)-1, int(y0)-1
						for a := 0; a < 4; a++ {
							var row float64
							for b := 0; b < 4; b++ {
								row += cx[b] * at(iy+a, ix+b)
							}
							v += cy[a] * row
						}
					}
					o.F32[(p*ho+oy)*wo+ox] = float32(v)
				}
			}
		}
	})
	return nil
}

// cubicCoeffs are the four cubic convolution weights (A = -0.75) at
// fractional offset t.
func cubicCoeffs(t float64) [4]float64 {
	const a = -0.75
	x := math.Abs(t)
	return [4]float64{
		((a*(x+1)-5*a)*(x+1)+8*a)*(x+1) - 4*a,
		((a+2)*x-(a+3))*x*x + 1,
		((a+2)*(1-x)-(a+3))*(1-x)*(1-x) + 1,
		((a*(2-x)-5*a)*(2-x)+8*a)*(2-x) - 4*a,
	}
}

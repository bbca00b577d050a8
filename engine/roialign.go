package engine

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(func(c *nodeCtx) (kernel, error) {
		k := &roiAlignK{halfPixel: c.attrString("coordinate_transformation_mode", "half_pixel") == "half_pixel",
			max: c.attrString("mode", "avg") == "max", oh: int(c.attrInt("output_height", 1)), ow: int(c.attrInt("output_width", 1)),
			ratio: int(c.attrInt("sampling_ratio", 0)), scale: float64(c.attrFloat("spatial_scale", 1))}
		if m := c.attrString("mode", "avg"); m != "avg" && m != "max" {
			return nil, fmt.Errorf("RoiAlign mode %q", m)
		}
		return k, nil
	}, "RoiAlign")
}

// roiAlignK is RoiAlign as ONNX Runtime computes it: each output bin
// averages (or takes the largest weighted corner of) bilinear samples on
// a regular grid.
type roiAlignK struct {
	halfPixel, max bool
	oh, ow, ratio  int
	scale          float64
}

func (k *roiAlignK) infer(in []*Tensor) ([]spec, error) {
	x, rois, bi := in[0], in[1], in[2]
	if x.Type != onnxio.Float || len(x.Shape) != 4 || len(rois.Shape) != 2 || rois.Shape[1] != 4 || len(bi.Shape) != 1 || bi.Shape[0] != rois.Shape[0] {
		return nil, fmt.Errorf("RoiAlign needs X [N,C,H,W], rois [R,4], batch_indices [R]; got %v %v %v", x.Shape, rois.Shape, bi.Shape)
	}
	return []spec{{onnxio.Float, []int{rois.Shape[0], x.Shape[1], k.oh, k.ow}}}, nil
}

func (k *roiAlignK) run(rc *runCtx, in, out []*Tensor) error {
	x, rois, o := in[0], in[1].floats(), out[0]
	bidx := in[2].ints()
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	off := 0.0
	if k.halfPixel {
		off = 0.5
	}
	for r := range bidx {
		b := int(bidx[r])
		if b < 0 || b >= n {
			return fmt.Errorf("RoiAlign batch index %d out of range", b)
		}
		x1, y1 := float64(rois[r*4])*k.scale-off, float64(rois[r*4+1])*k.scale-off
		x2, y2 := float64(rois[r*4+2])*k.scale-off, float64(rois[r*4+3])*k.scale-off
		rw, rh := x2-x1, y2-y1
		if !k.halfPixel {
			rw, rh = math.Max(rw, 1), math.Max(rh, 1)
		}
		bw, bh := rw/float64(k.ow), rh/float64(k.oh)
		gh, gw := k.ratio, k.ratio
		if k.ratio <= 0 {
			gh, gw = int(math.Ceil(rh/float64(k.oh))), int(math.Ceil(rw/float64(k.ow)))
		}
		count := float64(max(gh*gw, 1))
		for ci := 0; ci < c; ci++ {
			img := x.F32[(b*c+ci)*h*w : (b*c+ci+1)*h*w]
			for py := 0; py < k.oh; py++ {
				for px := 0; px < k.ow; px++ {
					acc, first := 0.0, true
					for iy := 0; iy < gh; iy++ {
						yy := y1 + float64(py)*bh + (float64(iy)+0.5)*bh/float64(gh)
						for ix := 0; ix < gw; ix++ {
							xx := x1 + float64(px)*bw + (float64(ix)+0.5)*bw/float64(gw)
							v := bilinearTaps(img, h, w, yy, xx, k.max)
							switch {
							case !k.max:
								acc += v
							case first || v > acc:
								acc = v
							}
							first = false
						}
					}
					if !k.max {
						acc /= count
					}
					o.F32[((r*c+ci)*k.oh+py)*k.ow+px] = float32(acc)
				}
			}
		}
	}
	return nil
}

// bilinearTaps samples img at (y, x) as RoiAlign does: 0 outside
// [-1, size], edges clamped; with max, the largest weighted corner.
func bilinearTaps(img []float32, h, w int, y, x float64, takeMax bool) float64 {
	if y < -1 || y > float64(h) || x < -1 || x > float64(w) {
		return 0
	}
	y, x = math.Max(y, 0), math.Max(x, 0)
	yl, xl := int(y), int(x)
	yh, xh := yl+1, xl+1
	if yl >= h-1 {
		yl, yh, y = h-1, h-1, float64(h-1)
	}
	if xl >= w-1 {
		xl, xh, x = w-1, w-1, float64(w-1)
	}
	ly, lx := y-float64(yl), x-float64(xl)
	hy, hx := 1-ly, 1-lx
	v1, v2 := hy*hx*float64(img[yl*w+xl]), hy*lx*float64(img[yl*w+xh])
	v3, v4 := ly*hx*float64(img[yh*w+xl]), ly*lx*float64(img[yh*w+xh])
	if takeMax {
		return math.Max(math.Max(v1, v2), math.Max(v3, v4))
	}
	return v1 + v2 + v3 + v4
}

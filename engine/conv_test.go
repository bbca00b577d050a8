package engine

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// naiveConv is a float64 reference 2-D convolution.
func naiveConv(x, w, b []float32, n, c, h, wd, m, kh, kw, group, sh, sw, dh, dw, pt, pl, oh, ow int) []float64 {
	out := make([]float64, n*m*oh*ow)
	cg, mg := c/group, m/group
	for ni := 0; ni < n; ni++ {
		for mo := 0; mo < m; mo++ {
			g := mo / mg
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					acc := 0.0
					if b != nil {
						acc = float64(b[mo])
					}
					for ci := 0; ci < cg; ci++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								iy, ix := oy*sh-pt+ky*dh, ox*sw-pl+kx*dw
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								acc += float64(x[((ni*c+g*cg+ci)*h+iy)*wd+ix]) * float64(w[((mo*cg+ci)*kh+ky)*kw+kx])
							}
						}
					}
					out[((ni*m+mo)*oh+oy)*ow+ox] = acc
				}
			}
		}
	}
	return out
}

// TestConvRandomGeometries compares Conv (phased GEMM, the 1x1 direct
// path and the depthwise kernel, with and without fused bias, residual
// and Clip) with a float64 reference over random geometries.
func TestConvRandomGeometries(t *testing.T) {
	r := rand.New(rand.NewSource(42))
	ran := map[string]int{}
	defer func() { t.Logf("geometries run: %v", ran) }()
	for it := 0; it < 160; it++ {
		group := []int{1, 1, 2, 0}[r.Intn(4)] // 0: depthwise
		cg := 1 + r.Intn(3)
		c := cg * max(group, 1)
		m := (1 + r.Intn(3)) * max(group, 1)
		if group == 0 {
			c = 1 + r.Intn(5)
			group, cg, m = c, 1, c
		}
		kh, kw := 1+r.Intn(3), 1+r.Intn(4)
		sh, sw := 1+r.Intn(2), 1+r.Intn(3)
		dh, dw := 1+r.Intn(2), 1+r.Intn(2)
		if r.Intn(4) == 0 {
			kh, kw, sh, sw, dh, dw = 1, 1, 1, 1, 1, 1 // the direct 1x1 path
		}
		pt, pl, pbot, pr := r.Intn(3), r.Intn(3), r.Intn(3), r.Intn(3)
		if kh == 1 && kw == 1 && r.Intn(2) == 0 {
			pt, pl, pbot, pr = 0, 0, 0, 0
		}
		n, h, wd := 1+r.Intn(3), 3+r.Intn(6), 3+r.Intn(9)
		oh := outSize(h, kh, sh, dh, pt, pbot, false)
		ow := outSize(wd, kw, sw, dw, pl, pr, false)
		if oh <= 0 || ow <= 0 {
			continue
		}
		switch {
		case cg == 1 && m == c && group == c && c > 1:
			ran["depthwise"]++
		case kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt+pl+pbot+pr == 0:
			ran["direct 1x1"]++
		default:
			ran["phased"]++
		}
		x := randRange(int64(it), []int{n, c, h, wd}, -1, 1)
		w := randRange(int64(1000+it), []int{m, cg, kh, kw}, -1, 1)
		bias := randRange(int64(2000+it), []int{m}, -1, 1)
		res := randRange(int64(3000+it), []int{n, m, oh, ow}, -1, 1)
		want := naiveConv(x.F32, w.F32, bias.F32, n, c, h, wd, m, kh, kw, group, sh, sw, dh, dw, pt, pl, oh, ow)

		b := newGraph()
		b.input("x", onnxio.Float)
		b.input("res", onnxio.Float)
		b.output("y", onnxio.Float)
		b.output("z", onnxio.Float)
		b.init(t, "w", w)
		b.init(t, "b", bias)
		b.init(t, "lo", NewFloat32([]int{}, []float32{-0.5}))
		b.init(t, "hi", NewFloat32([]int{}, []float32{1.5}))
		pa := []*pb.AttributeProto{attrIs("pads", int64(pt), int64(pl), int64(pbot), int64(pr)), attrIs("strides", int64(sh), int64(sw)),
			attrIs("dilations", int64(dh), int64(dw)), attrI("group", int64(group))}
		b.node("Conv", []string{"x", "w", "b"}, []string{"y"}, pa...)
		b.node("Conv", []string{"x", "w", "b"}, []string{"c2"}, pa...)
		b.node("Add", []string{"c2", "res"}, []string{"a2"})
		b.node("Clip", []string{"a2", "lo", "hi"}, []string{"z"})
		m1 := b.model(t, 13)
		for _, th := range []int{1, 2} {
			got := run1(t, m1, Options{Threads: th}, map[string]*Tensor{"x": x, "res": res})
			desc := fmt.Sprintf("n%d c%d %dx%d m%d k%dx%d g%d s%d,%d d%d,%d p%d,%d,%d,%d threads %d", n, c, h, wd, m, kh, kw, group, sh, sw, dh, dw, pt, pl, pbot, pr, th)
			if !sameShape(got["y"].Shape, []int{n, m, oh, ow}) {
				t.Fatalf("%s: shape %v", desc, got["y"].Shape)
			}
			for i, v := range want {
				z := math.Min(math.Max(v+float64(res.F32[i]), -0.5), 1.5)
				if math.Abs(float64(got["y"].F32[i])-v) > 1e-5 || math.Abs(float64(got["z"].F32[i])-z) > 1e-5 {
					t.Fatalf("%s: element %d: y %g z %g, want %g %g", desc, i, got["y"].F32[i], got["z"].F32[i], v, z)
				}
			}
		}
	}
}

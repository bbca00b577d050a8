package engine

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// TestQConvTransposeORT runs DequantizeLinear -> ConvTranspose [-> Relu
// | Clip] [-> QuantizeLinear] in int8 (kernel equal to the stride: the
// plain scatter; others: col2im) against simulated quantization and ONNX
// Runtime: quantized outputs within one step, float outputs within 1e-4.
func TestQConvTransposeORT(t *testing.T) {
	var cases []qdqCase
	for _, adt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		cases = append(cases,
			// Kernel = stride, no padding: the plain path.
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 2, stride: 2, act: "Relu", outQ: true, bias: "int32"},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: false, kernel: 2, stride: 2, outQ: true},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 2, stride: 2, group: 2, outQ: true, bias: "float"},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 2, stride: 2, outQ: false, bias: "float"},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 2, stride: 2, outCh: 1, outQ: true, bias: "int32"},
			qdqCase{op: "ConvTranspose", adt: adt, kernel: 2, stride: 2, outCh: 1, outQ: false, bias: "int32"},
			// Overlapping taps: col2im.
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 3, stride: 1, pad: 1, act: "Relu", outQ: true, bias: "int32"},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: false, kernel: 3, stride: 2, pad: 1, outPad: 1, act: "Clip", outQ: true, bias: "float"},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 3, stride: 2, group: 2, outQ: true},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 2, stride: 1, group: 2, outQ: false, bias: "int32"},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: false, kernel: 2, stride: 2, pad: 1, outQ: true, bias: "int32"},
			qdqCase{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 3, stride: 2, dilation: 2, pad: 1, outQ: true, bias: "float"},
		)
	}
	runQDQCases(t, cases, rand.New(rand.NewSource(11)))
}

// TestQConvTransposeExact checks the integer accumulation itself: inputs
// on the quantization grid, a float output without bias, against a
// ConvTranspose computed in int64 from the quantized values, scaled the
// way the output stage documents (float32(acc)·float32(sx·sw)): equal
// bit for bit, on the plain and the col2im paths, with groups, padding,
// output_padding and dilation.
func TestQConvTransposeExact(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, adt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		for _, c := range []qdqCase{
			{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 2, stride: 2},
			{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 2, stride: 2, group: 2},
			{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 3, stride: 2, pad: 1, outPad: 1, group: 2},
			{op: "ConvTranspose", adt: adt, kernel: 2, stride: 2, pad: 1},
			{op: "ConvTranspose", adt: adt, kernel: 3, stride: 1},
			{op: "ConvTranspose", adt: adt, perChannel: true, kernel: 3, stride: 2, dilation: 2, pad: 2, group: 2},
		} {
			m, x, _ := c.build(t, rng)
			sx, zx, lo := float32(3.0/255), int32(-20), int32(-128)
			if adt == onnxio.Uint8 {
				zx, lo = 100, 0
			}
			xq := make([]int32, len(x.F32))
			for i := range xq {
				xq[i] = lo + int32(rng.Intn(256))
				x.F32[i] = float32(xq[i]-zx) * sx
			}
			var wq, sw []float32
			for _, in := range m.Graph().GetInitializer() {
				v, err := onnxio.ToFloat32(m, in)
				if err != nil {
					t.Fatal(err)
				}
				switch in.GetName() {
				case "wq":
					wq = v
				case "sw":
					sw = v
				}
			}
			s, err := Compile(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			n8 := 0
			for _, pr := range s.Precisions() {
				if pr.Precision == "int8" {
					n8++
				}
			}
			if n8 != 1 {
				t.Fatalf("%v: steps %+v, want one int8 step", c, s.Precisions())
			}
			got, err := s.Run(map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			y := got["y"]
			n, cin, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
			grp, k, st, p, dl := max(c.group, 1), max(c.kernel, 3), max(c.stride, 1), c.pad, max(c.dilation, 1)
			mout, oh, ow := y.Shape[1], y.Shape[2], y.Shape[3]
			mg, cg := mout/grp, cin/grp
			if oh != st*(h-1)+c.outPad+(k-1)*dl+1-2*p || ow != st*(w-1)+c.outPad+(k-1)*dl+1-2*p {
				t.Fatalf("%v: output %v", c, y.Shape)
			}
			acc := make([]int64, n*mout*oh*ow)
			for ni := 0; ni < n; ni++ {
				for ci := 0; ci < cin; ci++ {
					gi := ci / cg
					for iy := 0; iy < h; iy++ {
						for ix := 0; ix < w; ix++ {
							xv := int64(xq[((ni*cin+ci)*h+iy)*w+ix] - zx)
							for mo := 0; mo < mg; mo++ {
								for ky := 0; ky < k; ky++ {
									for kx := 0; kx < k; kx++ {
										oy, ox := iy*st-p+ky*dl, ix*st-p+kx*dl
										if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
											continue
										}
										wv := int64(wq[((ci*mg+mo)*k+ky)*k+kx])
										acc[((ni*mout+gi*mg+mo)*oh+oy)*ow+ox] += xv * wv
									}
								}
							}
						}
					}
				}
			}
			for i, a := range acc {
				co := i / (oh * ow) % mout
				want := float32(float32(a) * float32(sx*sw[co%mg%len(sw)]))
				if y.F32[i] != want {
					t.Fatalf("%v: element %d = %g, want %g", c, i, y.F32[i], want)
				}
			}
		}
	}
}

// convT adds an integer-quantizable ConvTranspose of x (cin channels) to
// cout channels, kernel k, stride, pads pad and output_padding op: int8
// weights per output channel (axis 1), a float bias.
func (q *qgraph) convT(x string, cin, cout, k, stride, pad, op int, rng *rand.Rand) string {
	w := newTensor(onnxio.Int8, []int{cin, cout, k, k})
	for i := range w.I8 {
		w.I8[i] = int8(rng.Intn(255) - 127)
	}
	sw := make([]float32, cout)
	for i := range sw {
		sw[i] = float32(1.5 / (127 * math.Sqrt(float64(cin))) * (0.5 + rng.Float64()))
	}
	wn, sn, zn, bn := q.name("w"), q.name("sw"), q.name("zw"), q.name("b")
	qinit(q.t, q.b.g, wn, w)
	qinit(q.t, q.b.g, sn, NewFloat32([]int{cout}, sw))
	qinit(q.t, q.b.g, zn, newTensor(onnxio.Int8, []int{cout}))
	qinit(q.t, q.b.g, bn, randRange(rng.Int63(), []int{cout}, -0.2, 0.2))
	wd := q.name("wd")
	q.b.node("DequantizeLinear", []string{wn, sn, zn}, []string{wd}, attrI("axis", 1))
	p, s, o := int64(pad), int64(stride), int64(op)
	return q.op("ConvTranspose", []string{x, wd, bn}, attrIs("strides", s, s), attrIs("pads", p, p, p, p), attrIs("output_padding", o, o))
}

// TestQFloatTable runs DequantizeLinear -> Sigmoid (or Mul by a
// constant) -> graph output as a table of 256 floats: one int8 step,
// bit-identical to the float path, within 1e-6 of ONNX Runtime.
func TestQFloatTable(t *testing.T) {
	dir := t.TempDir()
	for _, dt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		for _, op := range []string{"Sigmoid", "Mul"} {
			label := op + "/" + onnxio.DataTypeName(dt)
			b := newGraph()
			q := &qgraph{t: t, b: b, dt: dt}
			b.input("x", onnxio.Float)
			d := q.qdq("x", -6, 5)
			ins := []string{d}
			if op == "Mul" {
				ins = append(ins, q.scalar(-0.7))
			}
			b.node(op, ins, []string{"y"})
			b.output("y", onnxio.Float)
			m := b.model(t, 13)
			s, err := Compile(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ops []string
			for _, p := range s.Precisions() {
				ops = append(ops, p.Op)
			}
			if fmt.Sprint(ops) != "[QuantizeLinear "+op+"+int8]" {
				t.Errorf("%s: steps %v", label, ops)
			}
			x := randRange(9, []int{2, 3, 17, 5}, -7, 6)
			got, err := s.Run(map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			want := run1(t, m, Options{NoInteger: true}, map[string]*Tensor{"x": x})
			for i, v := range want["y"].F32 {
				if got["y"].F32[i] != v {
					t.Fatalf("%s: element %d = %g, float path %g", label, i, got["y"].F32[i], v)
				}
			}
			path := filepath.Join(dir, label[:len(op)]+onnxio.DataTypeName(dt)+".onnx")
			if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			o, err := testdeps.RunORT(t, path, []testdeps.ORTTensor{testdeps.ORTFloat32("x", x.Shape, x.F32)})
			if err != nil {
				t.Fatalf("%s: ONNX Runtime: %v", label, err)
			}
			if e := relErr(got["y"].F32, bytesF32(o[0].Data)); e > 1e-6 {
				t.Errorf("%s: relative error %.3g against ONNX Runtime", label, e)
			}
		}
	}
}

// BenchmarkQConvTransposeDet times the PP-OCRv4 detector head's two
// ConvTranspose (2×2, stride 2, at 320×320; int8 NHWC in, NCHW out, one
// thread) in integer and, for comparison, the float kernel.
func BenchmarkQConvTransposeDet(b *testing.B) {
	for _, c := range []struct {
		name string
		x    []int
		m    int
	}{
		{"24to24", []int{1, 24, 80, 80}, 24},
		{"24to1", []int{1, 24, 160, 160}, 1},
	} {
		rng := rand.New(rand.NewSource(1))
		x := newTensor(onnxio.Int8, c.x)
		for i := range x.I8 {
			x.I8[i] = int8(rng.Intn(256) - 128)
		}
		w := newTensor(onnxio.Int8, []int{c.x[1], c.m, 2, 2})
		for i := range w.I8 {
			w.I8[i] = int8(rng.Intn(255) - 127)
		}
		ct := convTK{g: convGeom{kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1}, group: 1}
		rc := &runCtx{threads: 1}
		b.Run(c.name+"/int8", func(b *testing.B) {
			q := &qout{dt: onnxio.Int8, scale: slices.Repeat([]float32{0.001}, c.m), bias: make([]int32, c.m), zp: -3}
			k, err := newQConvT(ct, w, nil, 5, q, true, false) // input channels last, as between integer steps
			if err != nil {
				b.Fatal(err)
			}
			sp, err := k.infer([]*Tensor{x})
			if err != nil {
				b.Fatal(err)
			}
			o := newTensor(onnxio.Int8, sp[0].shape)
			for b.Loop() {
				if err := k.run(rc, []*Tensor{x}, []*Tensor{o}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/fp32", func(b *testing.B) {
			xf, wf := randRange(1, c.x, -1, 1), randRange(2, w.Shape, -1, 1)
			k := ct
			sp, err := k.infer([]*Tensor{xf, wf})
			if err != nil {
				b.Fatal(err)
			}
			o := newTensor(onnxio.Float, sp[0].shape)
			for b.Loop() {
				if err := k.run(rc, []*Tensor{xf, wf}, []*Tensor{o}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

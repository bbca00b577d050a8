package engine

import (
	"math"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Test-only QDQ models: a hand-written quantizer for the cnn fixture, in
// the layout ONNX Runtime's quantizer writes (S8S8: int8 activations,
// asymmetric, from min/max over calibration images; int8 weights,
// symmetric per output channel; conv biases int32 behind a
// DequantizeLinear at scale sx·sw, Gemm biases left float), with
// BatchNormalization folded into the convolutions first.

// qinit adds an initializer of any element type the engine holds.
func qinit(t testing.TB, g *pb.GraphProto, name string, v *Tensor) {
	t.Helper()
	g.Initializer = append(g.Initializer, tensorProto(t, name, v))
}

func scalarQ(dt onnxio.DataType, v int32) *Tensor {
	t := newTensor(dt, []int{})
	setAt(t, 0, float64(v))
	return t
}

// actParams are asymmetric activation parameters covering [lo, hi] and 0.
func actParams(lo, hi float32, dt onnxio.DataType) (float32, int32) {
	lo, hi = min(lo, 0), max(hi, 0)
	qmin, qmax := 0.0, 255.0
	if dt == onnxio.Int8 {
		qmin, qmax = -128, 127
	}
	s := (hi - lo) / float32(qmax-qmin)
	if s == 0 {
		s = 1
	}
	zp := math.Max(qmin, math.Min(qmax, math.RoundToEven(qmin-float64(lo/s))))
	return s, int32(zp)
}

// quantizePerChannel quantizes w (M rows of k) symmetrically to int8 in
// [-127, 127], one scale per row.
func quantizePerChannel(w []float32, m int) (*Tensor, []float32) {
	k := len(w) / m
	q := newTensor(onnxio.Int8, []int{len(w)})
	sc := make([]float32, m)
	for o := 0; o < m; o++ {
		var a float32
		for _, v := range w[o*k : (o+1)*k] {
			a = max(a, float32(math.Abs(float64(v))))
		}
		if a == 0 {
			a = 1
		}
		sc[o] = a / 127
		for i, v := range w[o*k : (o+1)*k] {
			q.I8[o*k+i] = int8(math.Max(-127, math.Min(127, math.RoundToEven(float64(v/sc[o])))))
		}
	}
	return q, sc
}

// qdqCNN builds the QDQ cnn, calibrated on calib (N×1×28×28 in [0, 1]).
func qdqCNN(t testing.TB, calib *Tensor) *onnxio.Model {
	t.Helper()
	src, err := onnxio.Load(fixture("cnn"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Compile(src, Options{NoFusion: true})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := map[string]float32{}, map[string]float32{}
	if _, err := fs.RunObserved(map[string]*Tensor{"input": calib}, func(name string, v *Tensor) {
		if v.Type != onnxio.Float {
			return
		}
		l, h := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, x := range v.F32 {
			l, h = min(l, x), max(h, x)
		}
		lo[name], hi[name] = l, h
	}); err != nil {
		t.Fatal(err)
	}
	lo["input"], hi["input"] = 0, 1
	sg := src.Graph()
	consts := map[string]*Tensor{}
	for _, in := range sg.GetInitializer() {
		v, err := TensorFromProto(src, in)
		if err != nil {
			t.Fatal(err)
		}
		consts[in.GetName()] = v
	}
	g := &pb.GraphProto{Name: proto.String("cnn_qdq"), Input: sg.GetInput(), Output: sg.GetOutput()}
	node := func(op string, in, out []string, attrs ...*pb.AttributeProto) {
		g.Node = append(g.Node, &pb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs})
	}
	const adt = onnxio.Int8
	// qdq quantizes float value v: Q -> DQ, returning the dequantized name.
	params := map[string][2]string{}
	qdq := func(v, out string, s float32, zp int32) string {
		sn, zn := v+"_scale", v+"_zp"
		qinit(t, g, sn, NewFloat32([]int{}, []float32{s}))
		qinit(t, g, zn, scalarQ(adt, zp))
		node("QuantizeLinear", []string{v, sn, zn}, []string{v + "_q"})
		if out == "" {
			out = v + "_dq"
		}
		node("DequantizeLinear", []string{v + "_q", sn, zn}, []string{out})
		params[out] = [2]string{sn, zn}
		return out
	}
	actQ := func(v, out string) string {
		s, zp := actParams(lo[v], hi[v], adt)
		return qdq(v, out, s, zp)
	}
	scaleOf := map[string]float32{}
	cur := actQ("input", "")
	scaleOf[cur] = func() float32 { s, _ := actParams(0, 1, adt); return s }()
	nodes := sg.GetNode()
	for i := 0; i < len(nodes); i++ {
		n := nodes[i]
		switch n.GetOpType() {
		case "Conv", "Gemm":
			w := consts[n.GetInput()[1]]
			m := w.Shape[0]
			k := w.Len() / m
			wf := append([]float32{}, w.F32...)
			b := make([]float32, m)
			if len(n.GetInput()) > 2 {
				copy(b, consts[n.GetInput()[2]].F32)
			}
			j := i + 1
			if j < len(nodes) && nodes[j].GetOpType() == "BatchNormalization" {
				bn := nodes[j].GetInput()
				sc, sh := bnParams(consts[bn[1]].F32, consts[bn[2]].F32, consts[bn[3]].F32, consts[bn[4]].F32, attrF(nodes[j], "epsilon", 1e-5))
				for o := 0; o < m; o++ {
					for p := 0; p < k; p++ {
						wf[o*k+p] *= sc[o]
					}
					b[o] = b[o]*sc[o] + sh[o]
				}
				j++
			}
			relu := j < len(nodes) && nodes[j].GetOpType() == "Relu"
			outV := nodes[j-1].GetOutput()[0]
			if relu {
				outV = nodes[j].GetOutput()[0]
				j++
			}
			name := n.GetInput()[1]
			wq, sw := quantizePerChannel(wf, m)
			wq.Shape = w.Shape
			qinit(t, g, name+"_q", wq)
			qinit(t, g, name+"_scale", NewFloat32([]int{m}, sw))
			zq := newTensor(onnxio.Int8, []int{m})
			qinit(t, g, name+"_zp", zq)
			node("DequantizeLinear", []string{name + "_q", name + "_scale", name + "_zp"}, []string{name + "_dq"}, attrI("axis", 0))
			sx := scaleOf[cur]
			var bias string
			if n.GetOpType() == "Conv" {
				bq := newTensor(onnxio.Int32, []int{m})
				bs := make([]float32, m)
				for o := range bq.I32 {
					bs[o] = sx * sw[o]
					bq.I32[o] = int32(math.RoundToEven(float64(b[o] / bs[o])))
				}
				qinit(t, g, name+"_bias_q", bq)
				qinit(t, g, name+"_bias_scale", NewFloat32([]int{m}, bs))
				qinit(t, g, name+"_bias_zp", newTensor(onnxio.Int32, []int{m}))
				node("DequantizeLinear", []string{name + "_bias_q", name + "_bias_scale", name + "_bias_zp"}, []string{name + "_bias"}, attrI("axis", 0))
				bias = name + "_bias"
			} else {
				bias = name + "_biasf"
				qinit(t, g, bias, NewFloat32([]int{m}, b))
			}
			raw := outV + "_raw"
			if !relu {
				raw = outV + "_f"
			}
			g.Node = append(g.Node, &pb.NodeProto{OpType: proto.String(n.GetOpType()), Name: proto.String(n.GetName()),
				Input: []string{cur, name + "_dq", bias}, Output: []string{raw}, Attribute: n.GetAttribute()})
			if relu {
				node("Relu", []string{raw}, []string{outV + "_f"})
			}
			final := ""
			if outV == "logits" {
				final = "logits"
			}
			s, zp := actParams(lo[outV], hi[outV], adt)
			cur = qdq(outV+"_f", final, s, zp)
			scaleOf[cur] = s
			i = j - 1
		case "MaxPool", "Flatten":
			ps := params[cur]
			out := n.GetOutput()[0]
			g.Node = append(g.Node, &pb.NodeProto{OpType: proto.String(n.GetOpType()), Input: []string{cur}, Output: []string{out}, Attribute: n.GetAttribute()})
			node("QuantizeLinear", []string{out, ps[0], ps[1]}, []string{out + "_q"})
			node("DequantizeLinear", []string{out + "_q", ps[0], ps[1]}, []string{out + "_dq"})
			params[out+"_dq"], scaleOf[out+"_dq"] = ps, scaleOf[cur]
			cur = out + "_dq"
		default:
			t.Fatalf("qdqCNN: unexpected %s", n.GetOpType())
		}
	}
	m := &onnxio.Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	return m
}

// fashionImages loads the embedded 1000-image Fashion-MNIST subset as
// N×1×28×28 floats in [0, 1], and its labels.
func fashionImages(t testing.TB) (*Tensor, []byte) {
	dir := filepath.Join(testdeps.Root(), "testdata", "fashion-mnist")
	dims, pix := readIDX(t, filepath.Join(dir, "t10k-1000-images-idx3-ubyte.gz"))
	_, labels := readIDX(t, filepath.Join(dir, "t10k-1000-labels-idx1-ubyte.gz"))
	x := NewFloat32([]int{dims[0], 1, dims[1], dims[2]}, nil)
	for i, p := range pix {
		x.F32[i] = float32(p) / 255
	}
	return x, labels
}

func firstImages(x *Tensor, n int) *Tensor {
	sz := x.Len() / x.Shape[0]
	return NewFloat32([]int{n, x.Shape[1], x.Shape[2], x.Shape[3]}, x.F32[:n*sz])
}

// TestQDQCNN runs the QDQ cnn in integer, in simulated float and with
// ONNX Runtime on the 1000-image subset: every logit agrees within one
// quantization step of the output, and top-1 classes agree on >= 99.9%
// of images.
func TestQDQCNN(t *testing.T) {
	x, labels := fashionImages(t)
	m := qdqCNN(t, firstImages(x, 200))
	si, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	int8Steps := 0
	for _, p := range si.Precisions() {
		t.Logf("%-8s %-18s %s %v", p.Precision, p.Op, p.Node, p.Nodes)
		if p.Precision == "int8" {
			int8Steps++
		}
	}
	if int8Steps != 7 { // 4 Conv (2 with their MaxPool fused), 2 Gemm, Flatten
		t.Errorf("%d steps run in int8, want 7", int8Steps)
	}
	s1, err := Compile(m, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	g1, err := s1.Run(map[string]*Tensor{"input": firstImages(x, 100)})
	if err != nil {
		t.Fatal(err)
	}
	g3, err := (func() (*Session, error) { return Compile(m, Options{Threads: 3}) })()
	if err != nil {
		t.Fatal(err)
	}
	if r3, err := g3.Run(map[string]*Tensor{"input": firstImages(x, 100)}); err != nil {
		t.Fatal(err)
	} else {
		for i, v := range g1["logits"].F32 {
			if r3["logits"].F32[i] != v {
				t.Fatalf("logit %d: %g with 1 thread, %g with 3", i, v, r3["logits"].F32[i])
			}
		}
	}
	sf, err := Compile(m, Options{NoInteger: true})
	if err != nil {
		t.Fatal(err)
	}
	gi, err := si.Run(map[string]*Tensor{"input": x})
	if err != nil {
		t.Fatal(err)
	}
	gf, err := sf.Run(map[string]*Tensor{"input": x})
	if err != nil {
		t.Fatal(err)
	}
	var step float32
	for _, in := range m.Graph().GetInitializer() {
		if in.GetName() == "logits_f_scale" {
			v, _ := TensorFromProto(m, in)
			step = v.F32[0]
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cnn_qdq.onnx")
	if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	n := x.Shape[0]
	compare := func(what string, got, want []float32) {
		var maxSteps float64
		diffEl, diffTop, correct := 0, 0, 0
		for i := range want {
			d := math.Abs(float64(got[i]-want[i])) / float64(step)
			maxSteps = math.Max(maxSteps, d)
			if d > 0.5 {
				diffEl++
			}
		}
		for i := 0; i < n; i++ {
			g, w := argmax(got[i*10:(i+1)*10]), argmax(want[i*10:(i+1)*10])
			if g != w {
				diffTop++
			}
			if g == int(labels[i]) {
				correct++
			}
		}
		t.Logf("int8 vs %s: %d/%d logits differ (max %.3g steps), top-1 differs on %d/%d images; int8 accuracy %.1f%%",
			what, diffEl, len(want), maxSteps, diffTop, n, 100*float64(correct)/float64(n))
		if maxSteps > 1.001 {
			t.Errorf("int8 vs %s: a logit differs by %.3g quantization steps", what, maxSteps)
		}
		if float64(diffTop) > 0.001*float64(n) {
			t.Errorf("int8 vs %s: top-1 differs on %d of %d images", what, diffTop, n)
		}
	}
	compare("simulated float", gi["logits"].F32, gf["logits"].F32)
	outs, err := testdeps.RunORT(t, path, []testdeps.ORTTensor{{Name: "input", Type: "float32",
		Dims: []int64{int64(n), 1, 28, 28}, Data: f32Bytes(x.F32)}})
	if err != nil {
		t.Fatal(err)
	}
	compare("ONNX Runtime", gi["logits"].F32, bytesF32(outs[0].Data))
}

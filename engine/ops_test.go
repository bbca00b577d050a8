package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// graphBuilder assembles small test models.
type graphBuilder struct {
	g *pb.GraphProto
}

func newGraph() *graphBuilder { return &graphBuilder{g: &pb.GraphProto{Name: proto.String("t")}} }

func valueInfo(name string, dt onnxio.DataType) *pb.ValueInfoProto {
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(dt))}}}}
}

func (b *graphBuilder) input(name string, dt onnxio.DataType) {
	b.g.Input = append(b.g.Input, valueInfo(name, dt))
}
func (b *graphBuilder) output(name string, dt onnxio.DataType) {
	b.g.Output = append(b.g.Output, valueInfo(name, dt))
}

func (b *graphBuilder) init(t testing.TB, name string, v *Tensor) {
	t.Helper()
	dims := make([]int64, len(v.Shape))
	for i, d := range v.Shape {
		dims[i] = int64(d)
	}
	var tp *pb.TensorProto
	var err error
	if v.Type == onnxio.Float {
		tp, err = onnxio.NewTensor(name, onnxio.Float, dims, v.F32)
	} else {
		tp, err = onnxio.NewTensor(name, onnxio.Int64, dims, v.I64)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.g.Initializer = append(b.g.Initializer, tp)
}

func (b *graphBuilder) node(op string, in, out []string, attrs ...*pb.AttributeProto) {
	b.g.Node = append(b.g.Node, &pb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs})
}

func attrI(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), I: proto.Int64(v), Type: pb.AttributeProto_INT.Enum()}
}

func attrIs(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Ints: v, Type: pb.AttributeProto_INTS.Enum()}
}

func attrS(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), S: []byte(v), Type: pb.AttributeProto_STRING.Enum()}
}

func (b *graphBuilder) model(t testing.TB, opset int64) *onnxio.Model {
	t.Helper()
	m := &onnxio.Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(8), Graph: b.g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}}}}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	return m
}

func run1(t *testing.T, m *onnxio.Model, opts Options, in map[string]*Tensor) map[string]*Tensor {
	t.Helper()
	s, err := Compile(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Operators the conformance data has no float case for.
func TestOpsWithoutConformanceCase(t *testing.T) {
	x := NewFloat32([]int{2, 3}, []float32{-2, -0.5, 0, 0.5, 1, 3})
	cases := []struct {
		op    string
		attrs []*pb.AttributeProto
		f     func(float64) float64
	}{
		{"Gelu", nil, func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) }},
		{"Gelu", []*pb.AttributeProto{attrS("approximate", "tanh")}, func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}},
		{"Mish", nil, func(v float64) float64 { return v * math.Tanh(math.Log(1+math.Exp(v))) }},
	}
	for _, c := range cases {
		b := newGraph()
		b.input("x", onnxio.Float)
		b.output("y", onnxio.Float)
		b.node(c.op, []string{"x"}, []string{"y"}, c.attrs...)
		y := run1(t, b.model(t, 20), Options{}, map[string]*Tensor{"x": x})["y"]
		for i, v := range x.F32 {
			if want := c.f(float64(v)); math.Abs(float64(y.F32[i])-want) > 1e-6 {
				t.Errorf("%s(%g) = %g, want %g", c.op, v, y.F32[i], want)
			}
		}
	}

	// ReduceLogSumExp over axis 1, CumSum (exclusive, reverse), CastLike.
	b := newGraph()
	b.input("x", onnxio.Float)
	b.init(t, "axes", NewInt64([]int{1}, []int64{1}))
	b.init(t, "axis", NewInt64([]int{}, []int64{1}))
	b.init(t, "like", NewInt64([]int{1}, []int64{0}))
	for _, o := range []string{"lse", "cum", "cast"} {
		b.output(o, onnxio.Float)
	}
	b.g.Output[2] = valueInfo("cast", onnxio.Int64)
	b.node("ReduceLogSumExp", []string{"x", "axes"}, []string{"lse"}, attrI("keepdims", 0))
	b.node("CumSum", []string{"x", "axis"}, []string{"cum"}, attrI("exclusive", 1), attrI("reverse", 1))
	b.node("CastLike", []string{"x", "like"}, []string{"cast"})
	res := run1(t, b.model(t, 18), Options{}, map[string]*Tensor{"x": x})
	for r := 0; r < 2; r++ {
		var s float64
		for c := 0; c < 3; c++ {
			s += math.Exp(float64(x.F32[r*3+c]))
		}
		if got := res["lse"].F32[r]; math.Abs(float64(got)-math.Log(s)) > 1e-6 {
			t.Errorf("ReduceLogSumExp row %d = %g, want %g", r, got, math.Log(s))
		}
	}
	wantCum := []float32{-0.5 + 0, 0, 0, 1 + 3, 3, 0}
	for i, w := range wantCum {
		if res["cum"].F32[i] != w {
			t.Errorf("CumSum[%d] = %g, want %g", i, res["cum"].F32[i], w)
		}
	}
	b2 := newGraph()
	b2.input("x", onnxio.Float)
	b2.output("l1", onnxio.Float)
	b2.output("l2", onnxio.Float)
	b2.node("LpNormalization", []string{"x"}, []string{"l1"}, attrI("p", 1), attrI("axis", 1))
	b2.node("LpNormalization", []string{"x"}, []string{"l2"}, attrI("axis", 0))
	lp := run1(t, b2.model(t, 13), Options{}, map[string]*Tensor{"x": x})
	for i, v := range x.F32 {
		r, c := i/3, i%3
		var n1, n2 float64
		for j := 0; j < 3; j++ {
			n1 += math.Abs(float64(x.F32[r*3+j]))
		}
		for j := 0; j < 2; j++ {
			n2 += float64(x.F32[j*3+c]) * float64(x.F32[j*3+c])
		}
		w1, w2 := float64(v)/n1, 0.0
		if n2 > 0 {
			w2 = float64(v) / math.Sqrt(n2)
		}
		if math.Abs(float64(lp["l1"].F32[i])-w1) > 1e-6 || math.Abs(float64(lp["l2"].F32[i])-w2) > 1e-6 {
			t.Errorf("LpNormalization[%d] = %g, %g, want %g, %g", i, lp["l1"].F32[i], lp["l2"].F32[i], w1, w2)
		}
	}
	wantCast := []int64{-2, 0, 0, 0, 1, 3}
	for i, w := range wantCast {
		if res["cast"].I64[i] != w {
			t.Errorf("CastLike[%d] = %d, want %d", i, res["cast"].I64[i], w)
		}
	}
}

// TestFusionEdgeCases: a residual that broadcasts (not the Conv's shape)
// is added after the GEMM instead of in its epilogue; Gemm with alpha,
// beta, a full C and a runtime B keeps its activation; a Conv whose
// output is also a graph output is not fused. Each is compared with the
// unfused run.
func TestFusionEdgeCases(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.input("bias", onnxio.Float) // [1,4,1,1]: broadcasts
	b.input("gb", onnxio.Float)   // runtime Gemm B
	b.init(t, "w", randRange(1, []int{4, 3, 3, 3}, -1, 1))
	b.init(t, "wb", randRange(2, []int{4}, -1, 1))
	b.init(t, "gc", randRange(3, []int{2, 5}, -1, 1))
	b.init(t, "lo", NewFloat32([]int{}, []float32{-0.5}))
	b.init(t, "hi", NewFloat32([]int{}, []float32{0.5}))
	for _, o := range []string{"y", "c2", "g"} {
		b.output(o, onnxio.Float)
	}
	b.node("Conv", []string{"x", "w", "wb"}, []string{"c"}, attrIs("pads", 1, 0, 0, 1), attrIs("strides", 1, 2))
	b.node("Add", []string{"bias", "c"}, []string{"a"})
	b.node("Clip", []string{"a", "lo", "hi"}, []string{"y"})
	b.node("Conv", []string{"x", "w"}, []string{"c2"})
	b.node("Relu", []string{"c2"}, []string{"r2"})
	b.node("Flatten", []string{"r2"}, []string{"f"})
	b.node("Slice", []string{"f", "zero", "two"}, []string{"fs"})
	b.init(t, "zero", NewInt64([]int{1}, []int64{0}))
	b.init(t, "two", NewInt64([]int{1}, []int64{2}))
	b.node("Gemm", []string{"fs", "gb", "gc"}, []string{"gm"},
		&pb.AttributeProto{Name: proto.String("alpha"), F: proto.Float32(0.5), Type: pb.AttributeProto_FLOAT.Enum()},
		&pb.AttributeProto{Name: proto.String("beta"), F: proto.Float32(2), Type: pb.AttributeProto_FLOAT.Enum()},
		attrI("transB", 1))
	b.node("LeakyRelu", []string{"gm"}, []string{"g"})
	m := b.model(t, 13)
	in := map[string]*Tensor{
		"x":    randRange(4, []int{2, 3, 6, 7}, -1, 1),
		"bias": randRange(5, []int{1, 4, 1, 1}, -1, 1),
		"gb":   randRange(6, []int{5, 4 * 4 * 5}, -1, 1),
	}
	fused := run1(t, m, Options{}, in)
	plain := run1(t, m, Options{NoFusion: true}, in)
	s, _ := Compile(m, Options{})
	var ops []string
	for _, st := range s.steps {
		ops = append(ops, st.op)
	}
	if want := "[Conv+fused Conv Relu Flatten Slice Gemm+fused]"; fmt.Sprint(ops) != want {
		t.Errorf("steps %v, want %s", ops, want)
	}
	for _, o := range []string{"y", "c2", "g"} {
		if e := relErr(fused[o].F32, plain[o].F32); e > 1e-6 || !sameShape(fused[o].Shape, plain[o].Shape) {
			t.Errorf("%s: fused %v and unfused %v differ by %.3g", o, fused[o].Shape, plain[o].Shape, e)
		}
	}
}

// TestAffineAndPaddleHardSwishFused: Conv -> Mul by a per-channel
// constant -> Sub of a scalar -> Div by a per-channel constant ->
// x*Clip(x+3, 0, 6)/6 becomes one step, equal to the unfused graph.
func TestAffineAndPaddleHardSwishFused(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	b.init(t, "w", randRange(1, []int{4, 2, 3, 3}, -1, 1))
	b.init(t, "s", randRange(2, []int{1, 4, 1, 1}, 0.5, 2))
	b.init(t, "sub", NewFloat32([]int{1}, []float32{0.25}))
	b.init(t, "d", randRange(3, []int{4, 1, 1}, 0.5, 2))
	b.init(t, "three", NewFloat32([]int{}, []float32{3}))
	b.init(t, "zero", NewFloat32([]int{}, []float32{0}))
	b.init(t, "six", NewFloat32([]int{}, []float32{6}))
	b.node("Conv", []string{"x", "w"}, []string{"c"}, attrIs("pads", 1, 1, 1, 1))
	b.node("Mul", []string{"s", "c"}, []string{"m"})
	b.node("Sub", []string{"m", "sub"}, []string{"sb"})
	b.node("Div", []string{"sb", "d"}, []string{"v"})
	b.node("Add", []string{"v", "three"}, []string{"a3"})
	b.node("Clip", []string{"a3", "zero", "six"}, []string{"cl"})
	b.node("Mul", []string{"v", "cl"}, []string{"hm"})
	b.node("Div", []string{"hm", "six"}, []string{"y"})
	m := b.model(t, 13)
	s, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.steps) != 1 || s.steps[0].op != "Conv+fused" {
		var ops []string
		for _, st := range s.steps {
			ops = append(ops, st.op)
		}
		t.Fatalf("steps %v, want one fused Conv", ops)
	}
	in := map[string]*Tensor{"x": randRange(4, []int{2, 2, 5, 6}, -3, 3)}
	fused := run1(t, m, Options{}, in)["y"]
	plain := run1(t, m, Options{NoFusion: true}, in)["y"]
	if e := relErr(fused.F32, plain.F32); e > 1e-5 {
		t.Errorf("fused and unfused differ by %.3g", e)
	}
}

// TestMatMulBiasFused: MatMul by a constant matrix, Add of a bias and Relu
// run as one GEMM with a column bias, equal to the unfused graph.
func TestMatMulBiasFused(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	b.init(t, "w", randRange(1, []int{6, 5}, -1, 1))
	b.init(t, "bias", randRange(2, []int{5}, -1, 1))
	b.node("MatMul", []string{"x", "w"}, []string{"mm"})
	b.node("Add", []string{"bias", "mm"}, []string{"a"})
	b.node("Relu", []string{"a"}, []string{"y"})
	m := b.model(t, 13)
	s, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.steps) != 1 {
		t.Errorf("%d steps, want MatMul, Add and Relu fused into one", len(s.steps))
	}
	in := map[string]*Tensor{"x": randRange(3, []int{2, 3, 6}, -1, 1)}
	fused := run1(t, m, Options{}, in)["y"]
	plain := run1(t, m, Options{NoFusion: true}, in)["y"]
	if !sameShape(fused.Shape, []int{2, 3, 5}) || relErr(fused.F32, plain.F32) > 1e-6 {
		t.Errorf("fused %v %v, unfused %v %v", fused.Shape, fused.F32, plain.Shape, plain.F32)
	}
}

// TestConvTransposeFused: ConvTranspose (groups, stride 2) -> Add of a
// per-channel constant -> BatchNormalization -> Relu is one step, equal
// to the unfused graph.
func TestConvTransposeFused(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	b.init(t, "w", randRange(1, []int{4, 3, 2, 3}, -1, 1)) // Cin 4, 2 groups of 3 outputs
	b.init(t, "b", randRange(2, []int{6}, -1, 1))
	b.init(t, "add", randRange(3, []int{6, 1, 1}, -1, 1))
	for i, name := range []string{"gamma", "beta", "mean", "var"} {
		b.init(t, name, randRange(int64(10+i), []int{6}, 0.5, 1.5))
	}
	b.node("ConvTranspose", []string{"x", "w", "b"}, []string{"ct"}, attrIs("strides", 2, 2), attrI("group", 2), attrIs("pads", 0, 1, 1, 0))
	b.node("Add", []string{"ct", "add"}, []string{"a"})
	b.node("BatchNormalization", []string{"a", "gamma", "beta", "mean", "var"}, []string{"bn"})
	b.node("Relu", []string{"bn"}, []string{"y"})
	m := b.model(t, 13)
	s, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.steps) != 1 || s.steps[0].op != "ConvTranspose+fused" {
		t.Fatalf("%d steps, want one fused ConvTranspose", len(s.steps))
	}
	in := map[string]*Tensor{"x": randRange(4, []int{2, 4, 3, 5}, -1, 1)}
	fused := run1(t, m, Options{}, in)["y"]
	plain := run1(t, m, Options{NoFusion: true}, in)["y"]
	if !sameShape(fused.Shape, plain.Shape) || relErr(fused.F32, plain.F32) > 1e-5 {
		t.Errorf("fused %v and unfused %v differ by %.3g", fused.Shape, plain.Shape, relErr(fused.F32, plain.F32))
	}
}

// TestEinsum: the conformance cases are float64 only; the same equations
// on float32, against direct loops.
func TestEinsum(t *testing.T) {
	a := randRange(1, []int{2, 3, 4}, -1, 1)
	bm := randRange(2, []int{2, 4, 5}, -1, 1)
	sq := randRange(3, []int{2, 3, 3}, -1, 1)
	b := newGraph()
	for _, n := range []string{"a", "b", "sq"} {
		b.input(n, onnxio.Float)
	}
	for _, n := range []string{"mm", "diag", "tr", "sum"} {
		b.output(n, onnxio.Float)
	}
	eq := func(s string) *pb.AttributeProto { return attrS("equation", s) }
	b.node("Einsum", []string{"a", "b"}, []string{"mm"}, eq("bij, bjk -> bik"))
	b.node("Einsum", []string{"sq"}, []string{"diag"}, eq("...ii->...i"))
	b.node("Einsum", []string{"a"}, []string{"tr"}, eq("bji"))
	b.node("Einsum", []string{"a"}, []string{"sum"}, eq("bij->i"))
	res := run1(t, b.model(t, 12), Options{}, map[string]*Tensor{"a": a, "b": bm, "sq": sq})
	check := func(name string, shape []int, want []float64) {
		got := res[name]
		if !sameShape(got.Shape, shape) {
			t.Fatalf("%s: shape %v, want %v", name, got.Shape, shape)
		}
		for i, w := range want {
			if math.Abs(float64(got.F32[i])-w) > 1e-5 {
				t.Fatalf("%s[%d] = %g, want %g", name, i, got.F32[i], w)
			}
		}
	}
	var mm, diag, tr []float64
	sum := make([]float64, 3)
	for bi := 0; bi < 2; bi++ {
		for i := 0; i < 3; i++ {
			for k := 0; k < 5; k++ {
				s := 0.0
				for j := 0; j < 4; j++ {
					s += float64(a.F32[(bi*3+i)*4+j]) * float64(bm.F32[(bi*4+j)*5+k])
				}
				mm = append(mm, s)
			}
			diag = append(diag, float64(sq.F32[(bi*3+i)*3+i]))
			for j := 0; j < 4; j++ {
				sum[i] += float64(a.F32[(bi*3+i)*4+j])
			}
		}
		// "bji" implicit output "bij": output[b,i,j] = a[b,j,i] with a's
		// axes named b, j, i, so the result is a transposed: [2,4,3].
		for i := 0; i < 4; i++ {
			for j := 0; j < 3; j++ {
				tr = append(tr, float64(a.F32[(bi*3+j)*4+i]))
			}
		}
	}
	check("mm", []int{2, 3, 5}, mm)
	check("diag", []int{2, 3}, diag)
	check("tr", []int{2, 4, 3}, tr)
	check("sum", []int{3}, sum)
}

// A ConvTranspose bias of the wrong length is an error naming it, fused
// or not.
func TestConvTransposeBadBias(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	b.init(t, "w", randRange(1, []int{4, 3, 2, 2}, -1, 1))
	b.init(t, "b", randRange(2, []int{5}, -1, 1))
	b.node("ConvTranspose", []string{"x", "w", "b"}, []string{"y"}, attrIs("strides", 2, 2))
	m := b.model(t, 13)
	in := map[string]*Tensor{"x": randRange(4, []int{1, 4, 3, 5}, -1, 1)}
	for _, o := range []Options{{}, {NoFusion: true}} {
		s, err := Compile(m, o)
		if err == nil {
			_, err = s.Run(in)
		}
		if err == nil || !strings.Contains(err.Error(), "bias") || strings.Contains(err.Error(), "internal error") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

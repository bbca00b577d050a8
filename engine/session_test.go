package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// TestConcurrentRun: one Session, several goroutines calling Run on
// different inputs and batch sizes at once; every result equals the
// serial run's bit for bit. Run it with -race.
func TestConcurrentRun(t *testing.T) {
	for _, f := range []string{"resnet", "mobilenet"} {
		s := compileFile(t, fixture(f), Options{Threads: 2})
		const jobs = 6
		inputs := make([]*Tensor, jobs)
		want := make([][]float32, jobs)
		for i := range inputs {
			inputs[i] = randInput(int64(i), []int{1 + i%3, 1, 28, 28})
			res, err := s.Run(map[string]*Tensor{"input": inputs[i]})
			if err != nil {
				t.Fatal(err)
			}
			want[i] = res["logits"].F32
		}
		var wg sync.WaitGroup
		errs := make([]error, jobs*3)
		for g := 0; g < jobs*3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				i := g % jobs
				res, err := s.Run(map[string]*Tensor{"input": inputs[i]})
				if err != nil {
					errs[g] = err
					return
				}
				for j, v := range res["logits"].F32 {
					if math.Float32bits(v) != math.Float32bits(want[i][j]) {
						errs[g] = errors.New("result differs from the serial run")
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// TestThreadsBitIdentical: Threads 1 and 2 give bit-identical outputs.
func TestThreadsBitIdentical(t *testing.T) {
	models := map[string][]int{}
	for _, f := range []string{"cnn", "resnet", "mobilenet"} {
		models[fixture(f)] = []int{4, 1, 28, 28}
	}
	models[testdeps.OCRModel(t, "ch_PP-OCRv4_det_infer.onnx")] = []int{1, 3, 96, 128}
	for path, shape := range models {
		var outs [2]*Tensor
		for i, th := range []int{1, 2} {
			s := compileFile(t, path, Options{Threads: th})
			name := s.InputNames()[0]
			res, err := s.Run(map[string]*Tensor{name: randInput(7, shape)})
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = res[s.OutputNames()[0]]
		}
		for j := range outs[0].F32 {
			if math.Float32bits(outs[0].F32[j]) != math.Float32bits(outs[1].F32[j]) {
				t.Fatalf("%s: element %d: threads 1 gives %g, threads 2 %g", path, j, outs[0].F32[j], outs[1].F32[j])
			}
		}
	}
}

// TestFusionMatchesUnfused: fusing BatchNormalization, residual Add and
// activations into the GEMM output stage changes results only by
// rounding.
func TestFusionMatchesUnfused(t *testing.T) {
	for _, f := range []string{"cnn", "resnet", "mobilenet"} {
		fused := compileFile(t, fixture(f), Options{})
		plain := compileFile(t, fixture(f), Options{NoFusion: true})
		if len(fused.steps) >= len(plain.steps) {
			t.Errorf("%s: %d steps fused, %d unfused: nothing was fused", f, len(fused.steps), len(plain.steps))
		}
		x := randInput(3, []int{2, 1, 28, 28})
		a, err := fused.Run(map[string]*Tensor{"input": x})
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.Run(map[string]*Tensor{"input": x})
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(a["logits"].F32, b["logits"].F32); e > 1e-5 {
			t.Errorf("%s: fused and unfused differ by %.3g", f, e)
		}
	}
}

// TestPlanCacheAndMemory: dynamic batch sizes get their own plans,
// cached; activation buffers are reused (fewer slots than activations).
func TestPlanCacheAndMemory(t *testing.T) {
	s := compileFile(t, fixture("resnet"), Options{})
	for _, n := range []int{1, 3, 1, 3, 5} {
		res, err := s.Run(map[string]*Tensor{"input": randInput(1, []int{n, 1, 28, 28})})
		if err != nil {
			t.Fatal(err)
		}
		if got := res["logits"].Shape; got[0] != n || got[1] != 10 {
			t.Fatalf("batch %d: output shape %v", n, got)
		}
	}
	if len(s.plans) != 3 {
		t.Errorf("%d plans cached, want 3 (batch 1, 3, 5)", len(s.plans))
	}
	for _, p := range s.plans {
		acts := 0
		for _, st := range p.live {
			acts += len(st.outs)
		}
		if len(p.slotSize) == 0 || len(p.slotSize) >= acts {
			t.Errorf("%d buffer slots for %d activations: no reuse", len(p.slotSize), acts)
		}
	}
	if in := s.Inputs(); len(in) != 1 || in[0].Name != "input" || in[0].Type != onnxio.Float || fmt.Sprint(in[0].Shape) != "[-1 1 28 28]" {
		t.Errorf("Inputs() = %+v", in)
	}
	if out := s.Outputs(); len(out) != 1 || out[0].Name != "logits" || fmt.Sprint(out[0].Shape) != "[-1 10]" {
		t.Errorf("Outputs() = %+v", out)
	}
	// Wrong shapes and types are errors, not panics.
	if _, err := s.Run(map[string]*Tensor{"input": randInput(1, []int{1, 1, 27, 28})}); err == nil {
		t.Error("wrong input size accepted")
	}
	if _, err := s.Run(map[string]*Tensor{"input": NewInt64([]int{1}, nil)}); err == nil {
		t.Error("int64 input accepted")
	}
	if _, err := s.Run(nil); err == nil {
		t.Error("missing input accepted")
	}
}

// TestUnsupportedListsAll: a model with several unsupported operators
// fails at compile time with one error naming each op type and node.
func TestUnsupportedListsAll(t *testing.T) {
	m, err := onnxio.Load(fixture("cnn"))
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph()
	out := g.GetOutput()[0].GetName()
	g.Node = append(g.Node,
		&pb.NodeProto{Name: proto.String("fancy1"), OpType: proto.String("FancyOp"), Input: []string{out}, Output: []string{"f1"}},
		&pb.NodeProto{Name: proto.String("lstm"), OpType: proto.String("Loop"), Input: []string{"f1"}, Output: []string{"f2"}},
		&pb.NodeProto{Name: proto.String("fancy2"), OpType: proto.String("FancyOp"), Input: []string{"f2"}, Output: []string{"f3"}},
		&pb.NodeProto{Name: proto.String("custom"), OpType: proto.String("Thing"), Domain: proto.String("com.example"), Input: []string{"f3"}, Output: []string{"f4"}})
	_, err = Compile(m, Options{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an UnsupportedError", err)
	}
	msg := err.Error()
	for _, want := range []string{"FancyOp", "Loop", "com.example.Thing", `"fancy1"`, `"fancy2"`, `"lstm"`, `"custom"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %s", msg, want)
		}
	}
	if len(ue.Nodes) != 4 || len(ue.Ops) != 3 {
		t.Errorf("error lists %d nodes and ops %v, want 4 nodes and 3 ops", len(ue.Nodes), ue.Ops)
	}
	// Unsupported forms of known operators are listed the same way.
	m2, _ := onnxio.Load(fixture("cnn"))
	for _, n := range m2.Graph().GetNode() {
		if n.GetOpType() == "BatchNormalization" {
			n.Attribute = append(n.Attribute, &pb.AttributeProto{Name: proto.String("training_mode"), I: proto.Int64(1), Type: pb.AttributeProto_INT.Enum()})
		}
	}
	_, err = Compile(m2, Options{})
	if !errors.As(err, &ue) || len(ue.Nodes) != 4 {
		t.Errorf("got %v, want the 4 BatchNormalization nodes listed", err)
	}
}

// TestShapeSubgraphFolded: a Shape -> Gather -> Concat -> Reshape chain
// on a dynamic input is computed when the plan is built, not per run.
func TestShapeSubgraphFolded(t *testing.T) {
	i64 := func(name string, v ...int64) *pb.TensorProto {
		tp, _ := onnxio.NewTensor(name, onnxio.Int64, []int64{int64(len(v))}, v)
		return tp
	}
	scalar, _ := onnxio.NewTensor("zero", onnxio.Int64, nil, []int64{0})
	vi := func(name string, dims ...any) *pb.ValueInfoProto {
		sh := &pb.TensorShapeProto{}
		for _, d := range dims {
			switch d := d.(type) {
			case int:
				sh.Dim = append(sh.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
			case string:
				sh.Dim = append(sh.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
			}
		}
		return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: sh}}}}
	}
	node := func(op string, in []string, out ...string) *pb.NodeProto {
		return &pb.NodeProto{OpType: proto.String(op), Input: in, Output: out}
	}
	g := &pb.GraphProto{
		Name:        proto.String("g"),
		Input:       []*pb.ValueInfoProto{vi("x", "N", 3, 4)},
		Output:      []*pb.ValueInfoProto{vi("y", "N", 12)},
		Initializer: []*pb.TensorProto{scalar, i64("minus1", -1)},
		Node: []*pb.NodeProto{
			node("Shape", []string{"x"}, "s"),
			node("Gather", []string{"s", "zero"}, "n"),
			node("Unsqueeze", []string{"n", "zero"}, "n1"),
			node("Concat", []string{"n1", "minus1"}, "shape"),
			node("Relu", []string{"x"}, "r"),
			node("Reshape", []string{"r", "shape"}, "y"),
		},
	}
	g.Node[3].Attribute = []*pb.AttributeProto{{Name: proto.String("axis"), I: proto.Int64(0), Type: pb.AttributeProto_INT.Enum()}}
	m := &onnxio.Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	s, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 5} {
		x := randRange(1, []int{n, 3, 4}, -1, 1)
		res, err := s.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		y := res["y"]
		if !sameShape(y.Shape, []int{n, 12}) {
			t.Fatalf("shape %v", y.Shape)
		}
		for i, v := range x.F32 {
			if y.F32[i] != max(v, 0) {
				t.Fatalf("y[%d] = %g", i, y.F32[i])
			}
		}
	}
	for _, p := range s.plans {
		var ops []string
		for _, st := range p.live {
			ops = append(ops, st.op)
		}
		if len(ops) != 2 || ops[0] != "Relu" || ops[1] != "Reshape" {
			t.Errorf("live steps %v, want the shape chain folded: [Relu Reshape]", ops)
		}
	}
}

type panicKernel struct{ kernel }

func (panicKernel) run(rc *runCtx, in, out []*Tensor) error {
	parallelFor(2, 1<<16, 1, func(lo, hi int) {
		if lo > 0 {
			panic("boom")
		}
	})
	return nil
}

// TestKernelPanicIsError: a kernel that panics, even on a worker
// goroutine, makes Run return an error naming the node.
func TestKernelPanicIsError(t *testing.T) {
	s := compileFile(t, fixture("cnn"), Options{Threads: 2})
	st := s.steps[len(s.steps)-1]
	st.k = panicKernel{st.k}
	_, err := s.Run(map[string]*Tensor{"input": randInput(1, []int{1, 1, 28, 28})})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), st.label) {
		t.Fatalf("got %v, want an error naming node %s and the panic", err, st.label)
	}
}

// TestDynamicHW: one Session of the text detector runs several image
// sizes, interleaved, each equal bit for bit to a fresh Session's result.
func TestDynamicHW(t *testing.T) {
	path := testdeps.OCRModel(t, "ch_PP-OCRv4_det_infer.onnx")
	s := compileFile(t, path, Options{})
	shapes := [][]int{{1, 3, 64, 64}, {1, 3, 96, 128}, {2, 3, 32, 96}, {1, 3, 64, 64}}
	for i, sh := range shapes {
		x := randRange(int64(i), sh, -2, 2)
		got, err := s.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		want, err := compileFile(t, path, Options{}).Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		g, w := got["sigmoid_0.tmp_0"], want["sigmoid_0.tmp_0"]
		if !sameShape(g.Shape, []int{sh[0], 1, sh[2], sh[3]}) {
			t.Fatalf("input %v: output shape %v", sh, g.Shape)
		}
		for j := range w.F32 {
			if math.Float32bits(g.F32[j]) != math.Float32bits(w.F32[j]) {
				t.Fatalf("input %v: element %d differs from a fresh session's", sh, j)
			}
		}
	}
	if len(s.plans) != 3 {
		t.Errorf("%d plans, want 3", len(s.plans))
	}
}

// TestRunObserved: with NoFusion every node output of the CNN is
// observed once, in order, and the last one is the returned logits; fused,
// only the steps' outputs are.
func TestRunObserved(t *testing.T) {
	m, err := onnxio.Load(fixture("cnn"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range m.Graph().GetNode() {
		for _, o := range n.GetOutput() {
			want[o] = true
		}
	}
	x := randInput(5, []int{3, 1, 28, 28})
	for _, nf := range []bool{true, false} {
		s, err := Compile(m, Options{NoFusion: nf})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		var last string
		var lastVal []float32
		res, err := s.RunObserved(map[string]*Tensor{"input": x}, func(name string, v *Tensor) {
			seen[name]++
			last, lastVal = name, append([]float32(nil), v.F32...)
			if strings.Contains(name, "Relu") {
				for _, f := range v.F32 {
					if f < 0 {
						t.Fatalf("%s has a negative value", name)
					}
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if last != "logits" || relErr(lastVal, res["logits"].F32) != 0 {
			t.Errorf("last observed %q, want the logits", last)
		}
		for name, n := range seen {
			if n != 1 || !want[name] {
				t.Errorf("observed %q %d times", name, n)
			}
		}
		if nf && len(seen) != len(want) {
			t.Errorf("unfused: observed %d values, the graph has %d", len(seen), len(want))
		}
		if !nf && len(seen) != len(s.steps) {
			t.Errorf("fused: observed %d values for %d steps", len(seen), len(s.steps))
		}
	}
}

// TestMemoryPlanViews: a value read through views (Reshape, Flatten)
// long after it was computed keeps its buffer while other activations
// come and go; a graph output that is a view is a copy the caller owns.
func TestMemoryPlanViews(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	for _, o := range []string{"s2", "v1out", "chain"} {
		b.output(o, onnxio.Float)
	}
	b.init(t, "shape", NewInt64([]int{2}, []int64{-1, 6}))
	b.node("Relu", []string{"x"}, []string{"r"})
	b.node("Reshape", []string{"r", "shape"}, []string{"v1"})
	b.node("Flatten", []string{"r"}, []string{"v2"})
	// A chain of activations that would like r's buffer.
	b.node("Sigmoid", []string{"x"}, []string{"c1"})
	b.node("Neg", []string{"c1"}, []string{"c2"})
	b.node("Exp", []string{"c2"}, []string{"c3"})
	b.node("Abs", []string{"c3"}, []string{"chain"})
	b.node("Tanh", []string{"v2"}, []string{"s2"})
	b.node("Identity", []string{"v1"}, []string{"v1out"})
	m := b.model(t, 13)
	x := randRange(9, []int{2, 3, 4}, -1, 1)
	s, err := Compile(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 2; run++ {
		res, err := s.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x.F32 {
			r := max(v, 0)
			if got := res["s2"].F32[i]; math.Abs(float64(got)-math.Tanh(float64(r))) > 1e-6 {
				t.Fatalf("s2[%d] = %g, want tanh(%g)", i, got, r)
			}
			if res["v1out"].F32[i] != r {
				t.Fatalf("v1out[%d] = %g, want %g", i, res["v1out"].F32[i], r)
			}
			want := math.Exp(-1 / (1 + math.Exp(-float64(v))))
			if got := res["chain"].F32[i]; math.Abs(float64(got)-want) > 1e-6 {
				t.Fatalf("chain[%d] = %g, want %g", i, got, want)
			}
		}
		if !sameShape(res["v1out"].Shape, []int{4, 6}) {
			t.Fatalf("v1out shape %v", res["v1out"].Shape)
		}
		res["v1out"].F32[0] = 42 // the caller's copy: must not leak into the next run
	}
}

// TestDataDependentShapes: shapes that depend on values (a Reshape whose
// shape is a graph input, NonZero) are inferred in every run, so two runs
// with equal input shapes but different values give different shapes;
// the rest of the graph keeps its plan.
func TestDataDependentShapes(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.input("shape", onnxio.Int64)
	b.output("r", onnxio.Float)
	b.output("nz", onnxio.Int64)
	b.output("cnt", onnxio.Int64)
	b.node("Relu", []string{"x"}, []string{"rx"})
	b.node("Reshape", []string{"rx", "shape"}, []string{"r"})
	b.node("NonZero", []string{"rx"}, []string{"nz"})
	b.node("Shape", []string{"nz"}, []string{"cnt"})
	s, err := Compile(b.model(t, 13), Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := NewFloat32([]int{2, 3}, []float32{1, -1, 2, 0, 3, -4})
	for _, c := range []struct {
		shape []int64
		want  []int
	}{{[]int64{3, 2}, []int{3, 2}}, {[]int64{6, -1}, []int{6, 1}}, {[]int64{1, 6}, []int{1, 6}}} {
		res, err := s.Run(map[string]*Tensor{"x": x, "shape": NewInt64([]int{2}, c.shape)})
		if err != nil {
			t.Fatal(err)
		}
		if !sameShape(res["r"].Shape, c.want) {
			t.Errorf("shape %v: Reshape gives %v, want %v", c.shape, res["r"].Shape, c.want)
		}
		if fmt.Sprint(res["nz"].I64) != "[0 0 1 0 2 1]" || fmt.Sprint(res["cnt"].I64) != "[2 3]" {
			t.Errorf("NonZero %v %v, Shape %v", res["nz"].Shape, res["nz"].I64, res["cnt"].I64)
		}
	}
	if len(s.plans) != 1 {
		t.Errorf("%d plans, want 1: the input shapes did not change", len(s.plans))
	}
}

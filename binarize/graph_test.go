package binarize

import (
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// builder makes small float models for the tests.
type builder struct {
	t     *testing.T
	r     *rand.Rand
	g     *pb.GraphProto
	n     int
	input string
	shape []int64
}

func newBuilder(t *testing.T, seed uint64, shape ...int64) *builder {
	b := &builder{t: t, r: rand.New(rand.NewPCG(seed, 7)), g: &pb.GraphProto{Name: proto.String("g")}, input: "x", shape: shape}
	b.g.Input = []*pb.ValueInfoProto{valueInfo("x", shape)}
	// Any batch size.
	b.g.Input[0].GetType().GetTensorType().GetShape().GetDim()[0].Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
	return b
}

func valueInfo(name string, shape []int64) *pb.ValueInfoProto {
	var dims []*pb.TensorShapeProto_Dimension
	if shape == nil {
		return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxio.Float))}}}}
	}
	for _, d := range shape {
		dims = append(dims, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(onnxio.Float)), Shape: &pb.TensorShapeProto{Dim: dims}}}}}
}

// init adds a float initializer and returns its name.
func (b *builder) init(dims []int64, v []float32) string {
	b.n++
	name := "c" + string(rune('a'+b.n%26)) + string(rune('0'+b.n/26))
	tp, err := onnxio.NewTensor(name, onnxio.Float, dims, v)
	if err != nil {
		b.t.Fatal(err)
	}
	b.g.Initializer = append(b.g.Initializer, tp)
	return name
}

// node adds a node and returns its (first) output.
func (b *builder) node(op string, in []string, attrs ...*pb.AttributeProto) string {
	b.n++
	out := op + "_out" + string(rune('a'+b.n%26)) + string(rune('0'+b.n/26))
	b.g.Node = append(b.g.Node, &pb.NodeProto{Name: proto.String("/" + op + "_" + out), OpType: proto.String(op), Input: in, Output: []string{out}, Attribute: attrs})
	return out
}

func ints(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}

func (b *builder) randn(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(b.r.NormFloat64() * scale)
	}
	return v
}

// perChannel is a constant of shape [c, 1, 1] (rank 4) or [c] (rank 2).
func (b *builder) perChannel(c int, rank int, v []float32) string {
	dims := []int64{int64(c), 1, 1}
	if rank == 2 {
		dims = []int64{int64(c)}
	}
	return b.init(dims, v)
}

// binWeights returns ±a_m weights: m rows of per values, a_m = scale
// per row (scale nil: 1).
func (b *builder) binWeights(m, per int, scale []float32) []float32 {
	w := make([]float32, m*per)
	for o := range m {
		a := float32(1)
		if scale != nil {
			a = scale[o]
		}
		for i := range per {
			w[o*per+i] = a
			if b.r.IntN(2) == 0 {
				w[o*per+i] = -a
			}
		}
	}
	return w
}

func (b *builder) positive(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*b.r.Float64())
	}
	return v
}

// conv adds a binary-weight Conv: m outputs, c inputs, 3×3, pads 1.
func (b *builder) conv(x string, c, m, group int, bias bool, scaled bool) string {
	var scale []float32
	if scaled {
		scale = b.positive(m, 0.05, 0.5)
	}
	w := b.init([]int64{int64(m), int64(c / group), 3, 3}, b.binWeights(m, c/group*9, scale))
	in := []string{x, w}
	if bias {
		in = append(in, b.init([]int64{int64(m)}, b.randn(m, 0.3)))
	}
	attrs := []*pb.AttributeProto{ints("pads", 1, 1, 1, 1), ints("kernel_shape", 3, 3)}
	if group > 1 {
		attrs = append(attrs, &pb.AttributeProto{Name: proto.String("group"), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(int64(group))})
	}
	return b.node("Conv", in, attrs...)
}

// bn adds an inference BatchNormalization over c channels.
func (b *builder) bn(x string, c int) string {
	return b.node("BatchNormalization", []string{x,
		b.init([]int64{int64(c)}, b.randn(c, 1)), b.init([]int64{int64(c)}, b.randn(c, 0.5)),
		b.init([]int64{int64(c)}, b.randn(c, 2)), b.init([]int64{int64(c)}, b.positive(c, 0.5, 20))})
}

func (b *builder) model(out string) *onnxio.Model {
	b.g.Output = []*pb.ValueInfoProto{valueInfo(out, nil)}
	mp := &pb.ModelProto{IrVersion: proto.Int64(8), Graph: b.g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}
	by, err := proto.Marshal(mp)
	if err != nil {
		b.t.Fatal(err)
	}
	m, err := onnxio.LoadBytes(by, "")
	if err != nil {
		b.t.Fatal(err)
	}
	return m
}

func run(t *testing.T, m *onnxio.Model, x *engine.Tensor) *engine.Tensor {
	t.Helper()
	s, err := engine.Compile(m, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Run(map[string]*engine.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	return o[s.OutputNames()[0]]
}

// closeOutputs checks got against want up to float rounding: 1e-5 of
// the output's range, and the same arg max per row of the last axis.
func closeOutputs(t *testing.T, name string, want, got *engine.Tensor) {
	t.Helper()
	if len(want.F32) != len(got.F32) || len(want.F32) == 0 {
		t.Fatalf("%s: %d outputs, want %d", name, len(got.F32), len(want.F32))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range want.F32 {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	tol := 1e-5 * math.Max(hi-lo, 1e-6)
	bad := 0
	for i := range want.F32 {
		if d := math.Abs(float64(want.F32[i] - got.F32[i])); !(d <= tol) {
			if bad < 3 {
				t.Errorf("%s: output %d = %g, float %g (tolerance %g)", name, i, got.F32[i], want.F32[i], tol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d outputs differ", name, bad, len(want.F32))
	}
}

// binaryOps counts the nodes of each op type, domain-qualified outside
// the default domain.
func opCounts(m *onnxio.Model) map[string]int {
	c := map[string]int{}
	for _, n := range m.Graph().GetNode() {
		op := n.GetOpType()
		if n.GetDomain() != "" {
			op = n.GetDomain() + "." + op
		}
		c[op]++
	}
	return c
}

func cloneModel(m *onnxio.Model) *onnxio.Model {
	return &onnxio.Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto)}
}

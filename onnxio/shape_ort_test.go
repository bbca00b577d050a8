package onnxio

import (
	"encoding/binary"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// withAllOutputs copies m with every node output (constants included) made
// a graph output, typed with the inferred element type only, so ONNX
// Runtime reports the shape of every intermediate value.
func withAllOutputs(t *testing.T, m *Model, types map[string]ValueType) string {
	t.Helper()
	mp := proto.Clone(m.Proto).(*pb.ModelProto)
	g := mp.GetGraph()
	have := map[string]bool{}
	for _, o := range g.GetOutput() {
		have[o.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o == "" || have[o] {
				continue
			}
			have[o] = true
			tt := &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(types[o].Elem))}
			g.Output = append(g.Output, &pb.ValueInfoProto{Name: proto.String(o),
				Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: tt}}})
		}
	}
	g.ValueInfo = nil
	b, err := marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "all_outputs.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomInput(name string, dims []int64, seed int64) testdeps.ORTTensor {
	n, _ := NumElements(dims)
	r := rand.New(rand.NewSource(seed))
	b := make([]byte, 4*n)
	for i := int64(0); i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(r.Float32()))
	}
	return testdeps.ORTTensor{Name: name, Type: "float32", Dims: dims, Data: b}
}

// ortTypeNames maps onnxruntime-node's type names to ONNX types.
var ortTypeNames = map[string]DataType{
	"float32": Float, "float64": Double, "float16": Float16, "int8": Int8, "uint8": Uint8,
	"int16": Int16, "uint16": Uint16, "int32": Int32, "uint32": Uint32, "int64": Int64,
	"uint64": Uint64, "bool": Bool,
}

// compareWithORT infers the shapes of every value of model for a float32
// input x of the given dims and checks each against what ONNX Runtime
// produces. When ONNX Runtime refuses the input, inference must fail too.
func compareWithORT(t *testing.T, model string, dims []int64) {
	m, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	in := runtimeInputs(m.Graph())[0].GetName()
	types, inferErr := InferShapes(m, map[string]Shape{in: dimsShape(dims)})
	if inferErr != nil {
		// Still run ORT on the original model: it must refuse the input.
		if _, err := testdeps.RunORT(t, model, []testdeps.ORTTensor{randomInput(in, dims, 1)}); err == nil {
			t.Errorf("%s %v: inference fails but ONNX Runtime runs: %v", filepath.Base(model), dims, inferErr)
		} else {
			t.Logf("%s %v: ONNX Runtime and inference both refuse the input: %v", filepath.Base(model), dims, inferErr)
		}
		return
	}
	outs, err := testdeps.RunORT(t, withAllOutputs(t, m, types), []testdeps.ORTTensor{randomInput(in, dims, 1)})
	if err != nil {
		if strings.Contains(err.Error(), "onnx runtime") && !strings.Contains(err.Error(), "bad runner output") {
			t.Errorf("%s %v: inference gives %v but ONNX Runtime fails: %v", filepath.Base(model), dims, graphOutputs(m, types), err)
			return
		}
		t.Fatal(err)
	}
	compared := 0
	for _, o := range outs {
		got, ok := types[o.Name]
		if !ok {
			t.Errorf("%s %v: no inferred type for %q", filepath.Base(model), dims, o.Name)
			continue
		}
		want := &pb.TensorProto{Dims: o.Dims, DataType: proto.Int32(int32(ortTypeNames[o.Type]))}
		if msg := compareType(got, want, false); msg != "" {
			t.Errorf("%s %v: value %q: %s", filepath.Base(model), dims, o.Name, msg)
		}
		compared++
	}
	if compared < len(m.Graph().GetNode()) {
		t.Errorf("%s %v: compared %d values for %d nodes", filepath.Base(model), dims, compared, len(m.Graph().GetNode()))
	}
	t.Logf("%s %v: %d values match ONNX Runtime; outputs %v", filepath.Base(model), dims, compared, graphOutputs(m, types))
}

func graphOutputs(m *Model, types map[string]ValueType) []string {
	var s []string
	for _, o := range m.Graph().GetOutput() {
		s = append(s, o.GetName()+" "+types[o.GetName()].String())
	}
	return s
}

func TestInferShapesOCRAgainstORT(t *testing.T) {
	det := testdeps.OCRModel(t, "ch_PP-OCRv4_det_infer.onnx")
	cls := testdeps.OCRModel(t, "ch_ppocr_mobile_v2.0_cls_infer.onnx")
	rec := testdeps.OCRModel(t, "ch_PP-OCRv4_rec_infer.onnx")
	testdeps.ORTRunner(t)
	for _, c := range []struct {
		model string
		dims  []int64
	}{
		{det, []int64{1, 3, 320, 320}},
		{det, []int64{1, 3, 48, 192}},
		{det, []int64{2, 3, 64, 96}},
		{det, []int64{1, 3, 97, 131}}, // odd: the FPN's Add cannot match sizes
		{cls, []int64{1, 3, 48, 192}},
		{cls, []int64{3, 3, 48, 100}},
		{cls, []int64{1, 3, 320, 320}},
		{cls, []int64{1, 3, 97, 131}},
		{rec, []int64{1, 3, 48, 320}},
		{rec, []int64{2, 3, 48, 97}},
	} {
		compareWithORT(t, c.model, c.dims)
	}
}

package onnxio

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

func valueInfo(name string, dims ...int64) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(Float)), Shape: shape}}}}
}

func node(op, name string, in, out []string) *pb.NodeProto {
	return &pb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out}
}

// smallModel is x[1,4] -> MatMul(W[4,300]) -> Relu -> y, with W large
// enough to go external and a small bias-like initializer that stays.
func smallModel(t *testing.T) *Model {
	t.Helper()
	m, err := newSmallModel()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newSmallModel() (*Model, error) {
	w := make([]float32, 4*300)
	for i := range w {
		w[i] = float32(i%17) - 8
	}
	wt, err := NewTensor("W", Float, []int64{4, 300}, w)
	if err != nil {
		return nil, err
	}
	st, _ := NewTensor("s", Float, []int64{1}, []float32{2})
	mp := &pb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &pb.GraphProto{
			Name:        proto.String("g"),
			Input:       []*pb.ValueInfoProto{valueInfo("x", 1, 4)},
			Output:      []*pb.ValueInfoProto{valueInfo("y", 1, 300)},
			Initializer: []*pb.TensorProto{wt, st},
			Node: []*pb.NodeProto{
				node("MatMul", "mm", []string{"x", "W"}, []string{"h"}),
				node("Mul", "scale", []string{"h", "s"}, []string{"h2"}),
				node("Relu", "relu", []string{"h2"}, []string{"y"}),
			},
		},
	}
	b, err := marshal(mp)
	if err != nil {
		return nil, err
	}
	return LoadBytes(b, "")
}

func TestSaveDeterministicAndAtomic(t *testing.T) {
	m := smallModel(t)
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.onnx")
	if err := m.Save(p1, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(p2, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p1)
	b, _ := os.ReadFile(p2)
	if !bytes.Equal(a, b) {
		t.Error("two saves of the same model differ")
	}
	// Only the two outputs are left: no temporary files.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("folder holds %d entries after saving, want 2", len(ents))
	}
	// A failed save (folder missing) leaves nothing behind and no partial file.
	if err := m.Save(filepath.Join(dir, "nope", "c.onnx"), SaveOptions{}); err == nil {
		t.Error("save into a missing folder succeeded")
	}
}

func TestSaveRefusesInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	if err := smallModel(t).Save(p, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Save(p, SaveOptions{})
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("saving over the input: %v", err)
	}
	// Through a symlink too.
	link := filepath.Join(dir, "link.onnx")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(link, SaveOptions{}); err == nil {
		t.Error("saving over the input through a symlink succeeded")
	}
	if err := m.Save(p, SaveOptions{Overwrite: true}); err != nil {
		t.Errorf("Overwrite: %v", err)
	}
}

func TestExternalDataRoundTrip(t *testing.T) {
	m := smallModel(t)
	want, _ := Decode[float32](m, m.Graph().Initializer[0])
	dir := t.TempDir()
	p := filepath.Join(dir, "ext.onnx")
	before, _ := m.Marshal()
	if err := m.Save(p, SaveOptions{ExternalData: true}); err != nil {
		t.Fatal(err)
	}
	if after, _ := m.Marshal(); !bytes.Equal(before, after) {
		t.Error("Save with external data changed the in-memory model")
	}
	if _, err := os.Stat(p + ".data"); err != nil {
		t.Fatalf("no data file: %v", err)
	}
	m2, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	w := m2.Graph().Initializer[0]
	if !IsExternal(w) || w.RawData != nil {
		t.Fatal("W was not moved to external data")
	}
	if IsExternal(m2.Graph().Initializer[1]) {
		t.Error("a 4-byte tensor went external below the threshold")
	}
	got, err := Decode[float32](m2, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || got[5] != want[5] || got[len(got)-1] != want[len(want)-1] {
		t.Error("external data read back wrong")
	}
	// Untouched re-save to another folder: identical model bytes and data.
	dir2 := t.TempDir()
	p2 := filepath.Join(dir2, "ext.onnx")
	if err := m2.Save(p2, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ext.onnx", "ext.onnx.data"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, err := os.ReadFile(filepath.Join(dir2, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs after re-save (%v)", f, err)
		}
	}
	// And back inline: the external tensor keeps external form unless
	// moved; re-saving with external data again is byte-identical too.
	p3 := filepath.Join(t.TempDir(), "ext.onnx")
	if err := m2.Save(p3, SaveOptions{ExternalData: true}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(p3)
	if !bytes.Equal(a, b) {
		t.Error("re-externalizing an external model changed its bytes")
	}
}

func TestSaveOver2GiBGoesExternal(t *testing.T) {
	old := protoLimit
	protoLimit = 2000 // pretend the protobuf limit is 2 kB
	defer func() { protoLimit = old }()
	m := smallModel(t)
	p := filepath.Join(t.TempDir(), "big.onnx")
	if err := m.Save(p, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !IsExternal(m2.Graph().Initializer[0]) {
		t.Error("the largest tensor stayed inline in a model over the limit")
	}
	if IsExternal(m2.Graph().Initializer[1]) {
		t.Error("a small tensor was moved although the large one was enough")
	}
}

// writeExternalModel saves a model whose tensor W points at location.
func writeExternalModel(t *testing.T, dir, location string) string {
	t.Helper()
	m := smallModel(t)
	w := m.Graph().Initializer[0]
	w.RawData = nil
	w.DataLocation = pb.TensorProto_EXTERNAL.Enum()
	w.ExternalData = []*pb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(location)}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostileExternalPaths(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(root, "secret.bin")
	os.WriteFile(secret, make([]byte, 4*4*300), 0o644)
	dir := filepath.Join(root, "model")
	os.Mkdir(dir, 0o755)
	os.Symlink(secret, filepath.Join(dir, "escape.bin"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "ok.bin"), make([]byte, 4*4*300), 0o644)
	os.WriteFile(filepath.Join(dir, "short.bin"), make([]byte, 100), 0o644)

	for _, c := range []struct{ loc, want string }{
		{secret, "is absolute"},
		{"../secret.bin", "contains .."},
		{"sub/../../secret.bin", "contains .."},
		{`..\secret.bin`, "contains .."},
		{"escape.bin", "outside the model's folder"},
		{"missing.bin", "no such file"},
		{"short.bin", "truncated"},
		{"sub", "not a regular file"},
	} {
		p := writeExternalModel(t, dir, c.loc)
		_, err := Load(p)
		if err == nil {
			t.Errorf("location %q loaded", c.loc)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"W"`) {
			t.Errorf("location %q: error %q should say %q and name tensor W", c.loc, err, c.want)
		}
	}
	p := writeExternalModel(t, dir, "sub/ok.bin")
	m, err := Load(p)
	if err != nil {
		t.Fatalf("a location inside the folder was refused: %v", err)
	}
	if _, err := Decode[float32](m, m.Graph().Initializer[0]); err != nil {
		t.Error(err)
	}
	b, _ := os.ReadFile(p)
	if _, err := LoadBytes(b, ""); err == nil || !strings.Contains(err.Error(), "without a base folder") {
		t.Errorf("external data from bytes without a folder: %v", err)
	}
}

func TestCheckErrors(t *testing.T) {
	cases := []struct {
		name string
		mod  func(g *pb.GraphProto)
		want string
	}{
		{"dangling input", func(g *pb.GraphProto) { g.Node[1].Input[1] = "nowhere" }, `"scale" (Mul): input "nowhere"`},
		{"cycle", func(g *pb.GraphProto) { g.Node[0].Input[0] = "y" }, "cycle"},
		{"two producers", func(g *pb.GraphProto) { g.Node[2].Output[0] = "h" }, `"h" is produced by two nodes`},
		{"output shadows initializer", func(g *pb.GraphProto) { g.Node[1].Output[0] = "W" }, `output "W" has the name of a graph input or initializer`},
		{"missing output", func(g *pb.GraphProto) { g.Output[0].Name = proto.String("zz") }, `"zz"`},
		{"bad initializer", func(g *pb.GraphProto) { g.Initializer[1].Dims = []int64{3} }, `"s"`},
		{"unknown type", func(g *pb.GraphProto) { g.Initializer[1].DataType = proto.Int32(1000) }, "unknown data type 1000"},
		{"bad constant", func(g *pb.GraphProto) {
			g.Node = append(g.Node, &pb.NodeProto{OpType: proto.String("Constant"), Output: []string{"c"},
				Attribute: []*pb.AttributeProto{{Name: proto.String("value"), T: &pb.TensorProto{Name: proto.String("k"), DataType: proto.Int32(1), Dims: []int64{5}}}}})
		}, `"k"`},
	}
	for _, c := range cases {
		m := smallModel(t)
		c.mod(m.Graph())
		err := m.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %s", c.name, err, c.want)
		}
	}
	if _, err := LoadBytes([]byte{0x0a, 0xff, 0xff}, ""); err == nil {
		t.Error("truncated protobuf loaded")
	}
	if _, err := LoadBytes(nil, ""); err == nil {
		t.Error("empty input loaded")
	}
	if _, err := LoadBytes([]byte{0x08, 0x07}, ""); err == nil || !strings.Contains(err.Error(), "no graph") {
		t.Errorf("model without graph: %v", err)
	}
}

func TestTopoSortReorders(t *testing.T) {
	m := smallModel(t)
	g := m.Graph()
	g.Node[0], g.Node[2] = g.Node[2], g.Node[0]
	order, err := TopoSort(g)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range order {
		names = append(names, n.GetName())
	}
	if strings.Join(names, ",") != "mm,scale,relu" {
		t.Errorf("order %v", names)
	}
}

func TestIndexAndNamer(t *testing.T) {
	m := smallModel(t)
	ix := NewIndex(m.Graph())
	if ix.Producer["h"] != 0 || len(ix.Consumers["h"]) != 1 || ix.Consumers["h"][0] != 1 {
		t.Errorf("index of h: producer %d consumers %v", ix.Producer["h"], ix.Consumers["h"])
	}
	if _, ok := ix.Producer["x"]; ok {
		t.Error("graph input has a producer")
	}
	nm := NewNamer(m.Graph())
	if a := nm.Fresh("h"); a == "h" {
		t.Error("Fresh returned a name in use")
	} else if b := nm.Fresh("h"); a == b {
		t.Error("Fresh returned the same name twice")
	}
	if nm.Fresh("new") != "new" {
		t.Error("an unused prefix should be returned as is")
	}
}

func TestConstantsToInitializers(t *testing.T) {
	m := smallModel(t)
	g := m.Graph()
	ct, _ := NewTensor("", Float, []int64{2}, []float32{3, 4})
	g.Node = append([]*pb.NodeProto{
		{OpType: proto.String("Constant"), Output: []string{"c1"}, Attribute: []*pb.AttributeProto{{Name: proto.String("value"), T: ct}}},
		{OpType: proto.String("Constant"), Output: []string{"c2"}, Attribute: []*pb.AttributeProto{{Name: proto.String("value_ints"), Ints: []int64{1, 2, 3}}}},
		{OpType: proto.String("Constant"), Output: []string{"c3"}, Attribute: []*pb.AttributeProto{{Name: proto.String("value_float"), F: proto.Float32(0.5)}}},
	}, g.Node...)
	n, err := m.ConstantsToInitializers()
	if err != nil || n != 3 {
		t.Fatalf("converted %d, %v", n, err)
	}
	if _, err := ConstantValue(&pb.NodeProto{OpType: proto.String("Constant"), Attribute: g.Node[0].Attribute}); err == nil {
		t.Error("a Constant without outputs gave no error")
	}
	if len(g.Node) != 3 || len(g.Initializer) != 5 {
		t.Fatalf("%d nodes, %d initializers", len(g.Node), len(g.Initializer))
	}
	byName := map[string]*pb.TensorProto{}
	for _, t := range g.Initializer {
		byName[t.GetName()] = t
	}
	if v, _ := Decode[float32](nil, byName["c1"]); len(v) != 2 || v[1] != 4 {
		t.Errorf("c1 = %v", v)
	}
	if v, _ := Decode[int64](nil, byName["c2"]); len(v) != 3 || v[2] != 3 {
		t.Errorf("c2 = %v", v)
	}
	if v, _ := Decode[float32](nil, byName["c3"]); len(v) != 1 || v[0] != 0.5 || len(byName["c3"].Dims) != 0 {
		t.Errorf("c3 = %v dims %v", v, byName["c3"].Dims)
	}
	if err := m.Check(); err != nil {
		t.Error(err)
	}
}

func TestOpset(t *testing.T) {
	m := smallModel(t)
	if m.Opset("") != 13 || m.Opset("ai.onnx") != 13 || m.Opset("com.microsoft") != 0 {
		t.Error("Opset")
	}
	m.SetOpset("ai.onnx", 21)
	m.SetOpset("com.microsoft", 1)
	if m.Opset("") != 21 || m.Opset("com.microsoft") != 1 || len(m.Proto.OpsetImport) != 2 {
		t.Errorf("SetOpset: %v", m.Proto.OpsetImport)
	}
}

// Before IR 4 an initializer must also be a graph input.
func TestConstantsToInitializersIR3(t *testing.T) {
	m := smallModel(t)
	m.Proto.IrVersion = proto.Int64(3)
	g := m.Graph()
	g.Node = append([]*pb.NodeProto{{OpType: proto.String("Constant"), Output: []string{"c"},
		Attribute: []*pb.AttributeProto{{Name: proto.String("value_ints"), Ints: []int64{1, 2}}}}}, g.Node...)
	inputs := len(g.Input)
	if _, err := m.ConstantsToInitializers(); err != nil {
		t.Fatal(err)
	}
	if len(g.Input) != inputs+1 || g.Input[inputs].GetName() != "c" ||
		len(g.Input[inputs].GetType().GetTensorType().GetShape().GetDim()) != 1 {
		t.Errorf("IR 3: inputs %v", g.Input)
	}
}

package onnxio

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// conformanceSkips are cases whose ops are all supported but that shape
// inference cannot check, with the reason.
var conformanceSkips = map[string]string{
	"test_cast_BFLOAT16_to_FLOAT":              bf16Data,
	"test_cast_FLOAT_to_BFLOAT16":              bf16Data,
	"test_castlike_BFLOAT16_to_FLOAT":          bf16Data,
	"test_castlike_BFLOAT16_to_FLOAT_expanded": bf16Data,
	"test_castlike_FLOAT_to_BFLOAT16":          bf16Data,
	"test_castlike_FLOAT_to_BFLOAT16_expanded": bf16Data,
}

const bf16Data = "the reference data stores bfloat16 tensors as uint16 (and CastLike's like input with the wrong shape)"

// unsupportedOps lists the ops of m that inference does not know.
func unsupportedOps(m *Model) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range m.Graph().GetNode() {
		d := n.GetDomain()
		key := n.GetOpType()
		if d != "" && d != "ai.onnx" {
			key = d + "." + key
		} else if supportedOp(key) {
			continue
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	}
	return out
}

// readTensors reads prefix_0.pb, prefix_1.pb... from dir.
func readTensors(dir, prefix string) ([]*pb.TensorProto, error) {
	var out []*pb.TensorProto
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s_%d.pb", prefix, i)))
		if os.IsNotExist(err) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		t := new(pb.TensorProto)
		if err := proto.Unmarshal(b, t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
}

func dimsShape(dims []int64) Shape {
	s := Shape{}
	for _, d := range dims {
		s = append(s, Dim{Value: d})
	}
	return s
}

// runtimeInputs lists the graph inputs a caller feeds: those that are not
// initializers, in order.
func runtimeInputs(g *pb.GraphProto) []*pb.ValueInfoProto {
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	var out []*pb.ValueInfoProto
	for _, vi := range g.GetInput() {
		if !inits[vi.GetName()] {
			out = append(out, vi)
		}
	}
	return out
}

type confResult struct {
	checked, skipped, unsupported int
	symbolic                      int // outputs left symbolic from shapes alone
	symRanked, symExact           int // outputs of known rank, and fully determined, from symbolic inputs
	valuesChecked                 int
}

// checkConformanceCase runs one case; it returns a skip reason or "".
func checkConformanceCase(t *testing.T, dir string, res *confResult) string {
	m, err := Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return "model does not load: " + err.Error()
	}
	if ops := unsupportedOps(m); len(ops) > 0 {
		res.unsupported++
		return ""
	}
	name := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
	if why, ok := conformanceSkips[filepath.Base(dir)]; ok {
		res.skipped++
		t.Logf("skip %s: %s", name, why)
		return why
	}
	data := filepath.Join(dir, "test_data_set_0")
	ins, err := readTensors(data, "input")
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return ""
	}
	outs, err := readTensors(data, "output")
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return ""
	}
	g := m.Graph()
	rin := runtimeInputs(g)
	for _, vi := range rin {
		if vi.GetType().GetTensorType() == nil {
			res.skipped++
			return "non-tensor input"
		}
	}
	for _, vi := range g.GetOutput() {
		if vi.GetType().GetTensorType() == nil {
			res.skipped++
			return "non-tensor output"
		}
	}
	if len(ins) != len(rin) || len(outs) != len(g.GetOutput()) {
		t.Errorf("%s: %d input files for %d inputs, %d output files for %d outputs", name, len(ins), len(rin), len(outs), len(g.GetOutput()))
		return ""
	}
	res.checked++

	// Stage 1: shapes alone. Every output must have the right rank and
	// element type, and no known size may contradict the reference.
	shapes := map[string]Shape{}
	for i, vi := range rin {
		shapes[vi.GetName()] = dimsShape(ins[i].GetDims())
	}
	types, err := InferShapes(m, shapes)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return ""
	}
	for i, vi := range g.GetOutput() {
		got := types[vi.GetName()]
		want := outs[i]
		if msg := compareType(got, want, true); msg != "" {
			t.Errorf("%s: from input shapes: output %q: %s", name, vi.GetName(), msg)
		} else if !got.Shape.Known() {
			res.symbolic++
		}
	}

	// Stage 1b: every input size symbolic. Nothing may be refused, and a
	// size inferred as a constant must be the reference's.
	msym := &Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto), Dir: m.Dir}
	for _, vi := range runtimeInputs(msym.Graph()) {
		for k, d := range vi.GetType().GetTensorType().GetShape().GetDim() {
			d.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: fmt.Sprintf("%s_d%d", vi.GetName(), k)}
		}
	}
	symVals, err := inferTypes(msym, nil)
	if err != nil {
		t.Errorf("%s: with symbolic inputs: %v", name, err)
		return ""
	}
	env := map[string]int64{}
	for i, vi := range rin {
		for k, d := range ins[i].GetDims() {
			env[fmt.Sprintf("%s_d%d", vi.GetName(), k)] = d
		}
	}
	for i, vi := range g.GetOutput() {
		sv := symVals[vi.GetName()]
		if !sv.rank {
			continue
		}
		res.symRanked++
		if msg := compareType(sv.valueType(), outs[i], true); msg != "" {
			t.Errorf("%s: with symbolic inputs: output %q: %s", name, vi.GetName(), msg)
			continue
		}
		exact := true
		for k, d := range sv.dims {
			// Bound to the case's input sizes, every expression must
			// give the reference size.
			v, ok := evalExpr(d, env)
			if !ok {
				exact = false
				continue
			}
			if v != outs[i].GetDims()[k] {
				t.Errorf("%s: with symbolic inputs: output %q is %s, which is %d, not %d, at the case's sizes", name, vi.GetName(), sv, v, outs[i].GetDims()[k])
			}
		}
		if exact {
			res.symExact++
		}
	}

	// Stage 2: small inputs given as constants too (as the shape tensors
	// of Reshape, Expand, Resize... are in real models). Every output
	// must then match exactly, and known contents must be right.
	m2 := &Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto), Dir: m.Dir}
	shapes2 := map[string]Shape{}
	for i, vi := range rin {
		if n, err := NumElements(ins[i].GetDims()); err == nil && n <= maxPropagated && ins[i].GetDataType() != int32(String) {
			c := proto.Clone(ins[i]).(*pb.TensorProto)
			c.Name = proto.String(vi.GetName())
			m2.Proto.Graph.Initializer = append(m2.Proto.Graph.Initializer, c)
			continue
		}
		shapes2[vi.GetName()] = dimsShape(ins[i].GetDims())
	}
	vals, err := inferTypes(m2, shapes2)
	if err != nil {
		t.Errorf("%s: with constant inputs: %v", name, err)
		return ""
	}
	for i, vi := range g.GetOutput() {
		ti := vals[vi.GetName()]
		if msg := compareType(ti.valueType(), outs[i], false); msg != "" {
			t.Errorf("%s: with constant inputs: output %q: %s", name, vi.GetName(), msg)
			continue
		}
		if ti.val != nil {
			if msg := compareValue(m2, ti.val, outs[i]); msg != "" {
				t.Errorf("%s: output %q: propagated contents %s", name, vi.GetName(), msg)
			}
			res.valuesChecked++
		}
	}
	return ""
}

// compareType checks an inferred type against a reference tensor;
// symbolic sizes pass when allowSymbolic.
func compareType(got ValueType, want *pb.TensorProto, allowSymbolic bool) string {
	if got.Elem != DataType(want.GetDataType()) {
		return fmt.Sprintf("element type %s, want %s", DataTypeName(got.Elem), DataTypeName(DataType(want.GetDataType())))
	}
	if !got.RankKnown {
		return fmt.Sprintf("rank unknown, want shape %v", want.GetDims())
	}
	if len(got.Shape) != len(want.GetDims()) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.GetDims())
	}
	for i, d := range got.Shape {
		if d.Param != "" && allowSymbolic {
			continue
		}
		if d.Param != "" || d.Value != want.GetDims()[i] {
			return fmt.Sprintf("shape %v, want %v", got.Shape, want.GetDims())
		}
	}
	return ""
}

// compareValue checks propagated contents against a reference tensor.
func compareValue(m *Model, v *value, want *pb.TensorProto) string {
	dt := DataType(want.GetDataType())
	var ref []float64
	switch {
	case isFloatType(dt):
		f, err := ToFloat32(m, want)
		if err != nil {
			return err.Error()
		}
		for _, x := range f {
			ref = append(ref, float64(x))
		}
	case dt == Bool:
		b, err := Decode[bool](m, want)
		if err != nil {
			return err.Error()
		}
		for _, x := range b {
			ref = append(ref, map[bool]float64{false: 0, true: 1}[x])
		}
	default:
		is, err := ToInt64(m, want)
		if err != nil {
			return "" // uint64 and the like: not compared
		}
		for _, x := range is {
			ref = append(ref, float64(x))
		}
	}
	if len(ref) != v.len() {
		return fmt.Sprintf("have %d elements, want %d", v.len(), len(ref))
	}
	for i, r := range ref {
		g, ok := v.floatAt(i)
		if !ok {
			continue // unknown or symbolic elements claim nothing
		}
		if math.Abs(g-r) > 1e-5*math.Max(1, math.Abs(r)) && !(math.IsNaN(g) && math.IsNaN(r)) {
			return fmt.Sprintf("element %d is %v, want %v", i, g, r)
		}
	}
	return ""
}

func TestInferShapesConformance(t *testing.T) {
	root := testdeps.Conformance(t)
	var res confResult
	skipReasons := map[string]int{}
	unsupported := map[string]int{}
	for _, sub := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			dir := filepath.Join(root, sub, e.Name())
			if m, err := Load(filepath.Join(dir, "model.onnx")); err == nil {
				for _, op := range unsupportedOps(m) {
					unsupported[op]++
				}
			}
			if why := checkConformanceCase(t, dir, &res); why != "" {
				skipReasons[why]++
			}
		}
	}
	t.Logf("conformance: %d cases checked (%d outputs left partly symbolic from shapes alone, %d propagated contents compared), %d skipped, %d with unsupported ops",
		res.checked, res.symbolic, res.valuesChecked, res.skipped, res.unsupported)
	t.Logf("with every input size symbolic: %d outputs of known rank, %d of them fully determined by the input symbols (and checked)", res.symRanked, res.symExact)
	for why, n := range skipReasons {
		t.Logf("  skipped %d: %s", n, why)
	}
	if os.Getenv("SHAPE_VERBOSE") != "" {
		var ops []string
		for op, n := range unsupported {
			ops = append(ops, fmt.Sprintf("%s:%d", op, n))
		}
		sort.Strings(ops)
		t.Logf("unsupported ops: %s", strings.Join(ops, " "))
	}
	if res.checked < 500 {
		t.Errorf("checked only %d conformance cases, want over 500", res.checked)
	}
}

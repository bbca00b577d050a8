package engine

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// conformanceSkip lists cases whose operators are all supported but that
// cannot pass, each with the reason.
var conformanceSkip = map[string]string{}

func loadPB(t *testing.T, path string) *Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp := new(pb.TensorProto)
	if err := proto.Unmarshal(b, tp); err != nil {
		t.Fatal(err)
	}
	v, err := TensorFromProto(nil, tp)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// caseSupported reports whether every node and graph input and output of
// m is of a kind the engine runs.
func caseSupported(m *onnxio.Model) (bool, []string) {
	var ops []string
	ok := true
	for _, n := range m.Graph().GetNode() {
		if d := n.GetDomain(); (d != "" && d != "ai.onnx") || builders[n.GetOpType()] == nil {
			ok = false
		}
		ops = append(ops, n.GetOpType())
	}
	for _, vi := range append(append([]*pb.ValueInfoProto{}, m.Graph().GetInput()...), m.Graph().GetOutput()...) {
		tt := vi.GetType().GetTensorType()
		if tt == nil || !supportedType(onnxio.DataType(tt.GetElemType())) {
			ok = false
		}
	}
	for _, t := range m.Graph().GetInitializer() {
		if !supportedType(onnxio.DataType(t.GetDataType())) {
			ok = false
		}
	}
	return ok, ops
}

// closeEnough compares with rtol 1e-3, atol 1e-7 (exact for non-floats).
func closeEnough(got, want *Tensor) error {
	if got.Type != want.Type {
		return fmt.Errorf("type %s, want %s", onnxio.DataTypeName(got.Type), onnxio.DataTypeName(want.Type))
	}
	if !sameShape(got.Shape, want.Shape) && !(got.Len() == want.Len() && got.Len() == 1) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := 0; i < want.Len(); i++ {
		g, w := got.at(i), want.at(i)
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if got.Type == onnxio.Float {
			if math.IsInf(w, 0) && g == w {
				continue
			}
			if !(math.Abs(g-w) <= 1e-7+1e-3*math.Abs(w)) {
				return fmt.Errorf("element %d = %g, want %g", i, g, w)
			}
		} else if g != w {
			return fmt.Errorf("element %d = %g, want %g", i, g, w)
		}
	}
	return nil
}

func TestConformance(t *testing.T) {
	root := testdeps.Conformance(t)
	var ran, passed, unsupportedForm, skipped int
	covered := map[string]bool{}
	var failures []string
	for _, suite := range []string{"node", "pytorch-converted", "pytorch-operator"} {
		dirs, _ := filepath.Glob(filepath.Join(root, suite, "*", "model.onnx"))
		for _, mp := range dirs {
			dir := filepath.Dir(mp)
			name := suite + "/" + filepath.Base(dir)
			m, err := onnxio.Load(mp)
			if err != nil {
				skipped++
				continue
			}
			ok, ops := caseSupported(m)
			if !ok {
				skipped++
				continue
			}
			if why, skip := conformanceSkip[name]; skip {
				t.Logf("skip %s: %s", name, why)
				skipped++
				continue
			}
			ins, _ := filepath.Glob(filepath.Join(dir, "test_data_set_0", "input_*.pb"))
			outs, _ := filepath.Glob(filepath.Join(dir, "test_data_set_0", "output_*.pb"))
			sort.Strings(ins)
			sort.Strings(outs)
			sess, err := Compile(m, Options{})
			var ue *UnsupportedError
			if errors.As(err, &ue) {
				unsupportedForm++
				t.Logf("unsupported form %s: %v", name, err)
				continue
			}
			ran++
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s: compile: %v", name, err))
				continue
			}
			feed := map[string]*Tensor{}
			names := sess.InputNames()
			if len(ins) != len(names) {
				failures = append(failures, fmt.Sprintf("%s: %d input files for inputs %v", name, len(ins), names))
				continue
			}
			for i, f := range ins {
				feed[names[i]] = loadPB(t, f)
			}
			res, err := sess.Run(feed)
			var eu errUnsupported
			if errors.As(err, &eu) {
				ran--
				unsupportedForm++
				t.Logf("unsupported form %s: %v", name, err)
				continue
			}
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s: run: %v", name, err))
				continue
			}
			bad := false
			for i, f := range outs {
				if i >= len(sess.OutputNames()) {
					break
				}
				if err := closeEnough(res[sess.OutputNames()[i]], loadPB(t, f)); err != nil {
					failures = append(failures, fmt.Sprintf("%s: output %d: %v", name, i, err))
					bad = true
					break
				}
			}
			if !bad {
				passed++
				for _, op := range ops {
					covered[op] = true
				}
			}
		}
	}
	var uncovered []string
	for op := range builders {
		if !covered[op] {
			uncovered = append(uncovered, op)
		}
	}
	sort.Strings(uncovered)
	t.Logf("conformance: %d cases ran, %d passed, %d failed; %d with an unsupported operator form; %d skipped (operators or types not supported, or skip list)",
		ran, passed, ran-passed, unsupportedForm, skipped)
	t.Logf("supported operators with no passing case: %s", strings.Join(uncovered, ", "))
	for _, f := range failures {
		t.Error(f)
	}
}

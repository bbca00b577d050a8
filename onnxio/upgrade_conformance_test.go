package onnxio

import (
	"encoding/binary"
	"encoding/json"
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

// ortTypes names the element types onnxruntime-node can feed and return.
var ortTypes = map[DataType]string{
	Float: "float32", Double: "float64", Float16: "float16", Int8: "int8", Uint8: "uint8",
	Int16: "int16", Uint16: "uint16", Int32: "int32", Uint32: "uint32", Int64: "int64",
	Uint64: "uint64", Bool: "bool", String: "string",
}

func readTensorPB(path string) (*pb.TensorProto, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := new(pb.TensorProto)
	if err := proto.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ortTensor turns a conformance TensorProto into a runner input.
func ortTensor(name string, t *pb.TensorProto) (testdeps.ORTTensor, error) {
	dt := DataType(t.GetDataType())
	typ, ok := ortTypes[dt]
	if !ok {
		return testdeps.ORTTensor{}, fmt.Errorf("input %s is %s, which onnxruntime-node cannot feed", name, DataTypeName(dt))
	}
	out := testdeps.ORTTensor{Name: name, Type: typ, Dims: append([]int64{}, t.GetDims()...)}
	if dt == String {
		s := make([]string, len(t.GetStringData()))
		for i, b := range t.GetStringData() {
			s[i] = string(b)
		}
		b, err := json.Marshal(s)
		out.Data = b
		return out, err
	}
	b, err := (*Model)(nil).TensorBytes(t)
	out.Data = b
	return out, err
}

// matchTensor compares an ONNX Runtime output with the expected one as
// ONNX's backend tests do: floats within rtol 1e-3, atol 1e-7 (NaN
// matching NaN), everything else exactly.
func matchTensor(got, want testdeps.ORTTensor) error {
	if got.Type != want.Type {
		return fmt.Errorf("type %s, want %s", got.Type, want.Type)
	}
	if fmt.Sprint(got.Dims) != fmt.Sprint(want.Dims) {
		return fmt.Errorf("shape %v, want %v", got.Dims, want.Dims)
	}
	if want.Type == "string" {
		var g, w []string
		if err := json.Unmarshal(got.Data, &g); err != nil {
			return err
		}
		if err := json.Unmarshal(want.Data, &w); err != nil {
			return err
		}
		if fmt.Sprintf("%q", g) != fmt.Sprintf("%q", w) {
			return fmt.Errorf("strings %q, want %q", g, w)
		}
		return nil
	}
	if len(want.Data) != len(got.Data) {
		return fmt.Errorf("%d bytes, want %d", len(got.Data), len(want.Data))
	}
	var width int
	var value func(b []byte) float64
	switch want.Type {
	case "float32":
		width, value = 4, func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }
	case "float64":
		width, value = 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }
	case "float16":
		width, value = 2, func(b []byte) float64 { return float64(F16(binary.LittleEndian.Uint16(b)).Float32()) }
	default:
		for i := range want.Data {
			if want.Data[i] != got.Data[i] {
				return fmt.Errorf("differs at byte %d", i)
			}
		}
		return nil
	}
	for i := 0; i < len(want.Data); i += width {
		g, w := value(got.Data[i:]), value(want.Data[i:])
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.IsNaN(g) || math.IsNaN(w) || math.Abs(g-w) > 1e-7+1e-3*math.Abs(w) {
			return fmt.Errorf("element %d is %g, want %g", i/width, g, w)
		}
	}
	return nil
}

func matchOutputs(got, want []testdeps.ORTTensor) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if err := matchTensor(got[i], want[i]); err != nil {
			return fmt.Errorf("output %d (%s): %w", i, got[i].Name, err)
		}
	}
	return nil
}

// conformanceCase is one model of the ONNX conformance data with its first
// data set.
type conformanceCase struct {
	name    string
	opset   int64
	inputs  []testdeps.ORTTensor
	outputs []testdeps.ORTTensor
	jobs    map[int64]int // target (the original's opset for itself) -> job index
}

// Every conformance case below opset 21, upgraded to 21 and to 13 (when
// below it), gives the reference outputs through ONNX Runtime. Cases ONNX
// Runtime cannot run, or runs to other results, at their own opset are
// skipped with the reason; cases with operators UpgradeOpset refuses are
// listed.
func TestUpgradeConformanceMatchesReference(t *testing.T) {
	root := testdeps.Conformance(t)
	var paths []string
	for _, dir := range []string{"node", "simple"} {
		p, err := filepath.Glob(filepath.Join(root, dir, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p...)
	}
	if len(paths) < 900 {
		t.Fatalf("found %d conformance models, want over 900", len(paths))
	}
	var (
		cases        []*conformanceCase
		jobs         []testdeps.ORTJob
		refused      []string // below opset 7
		notConverted []string
		skipped      = map[string][]string{} // reason -> cases
	)
	skip := func(name, reason string) { skipped[reason] = append(skipped[reason], name) }
	for _, p := range paths {
		dir := filepath.Dir(p)
		name := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
		m, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v := m.Opset("")
		switch {
		case v == 0:
			skip(name, "no default-domain opset (another domain only)")
			continue
		case v < MinUpgradeOpset:
			refused = append(refused, name)
			continue
		case v >= MaxUpgradeOpset:
			continue
		}
		c := &conformanceCase{name: name, opset: v, jobs: map[int64]int{}}
		inits := map[string]bool{}
		for _, in := range m.Graph().GetInitializer() {
			inits[in.GetName()] = true
		}
		reason := ""
		k := 0
		for _, in := range m.Graph().GetInput() {
			if inits[in.GetName()] {
				continue
			}
			if in.GetType().GetTensorType() == nil {
				reason = "a sequence or optional input, which onnxruntime-node cannot feed"
				break
			}
			tp, err := readTensorPB(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", k)))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			k++
			ti, err := ortTensor(in.GetName(), tp)
			if err != nil {
				reason = err.Error()
				break
			}
			c.inputs = append(c.inputs, ti)
		}
		for i, out := range m.Graph().GetOutput() {
			if reason != "" {
				break
			}
			if out.GetType().GetTensorType() == nil {
				reason = "a sequence or optional output"
				break
			}
			tp, err := readTensorPB(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			to, err := ortTensor(out.GetName(), tp)
			if err != nil {
				reason = "an output of a type onnxruntime-node cannot return"
				break
			}
			c.outputs = append(c.outputs, to)
		}
		if reason != "" {
			skip(name, reason)
			continue
		}
		targets := []int64{MaxUpgradeOpset}
		if v < 13 {
			targets = append(targets, 13)
		}
		var ups []*Model
		for _, target := range targets {
			u, err := upgradedCopy(t, m, target)
			if err != nil {
				notConverted = append(notConverted, fmt.Sprintf("%s (opset %d): %v", name, v, err))
				ups = nil
				break
			}
			ups = append(ups, u)
		}
		if ups == nil {
			continue
		}
		c.jobs[v] = len(jobs)
		jobs = append(jobs, testdeps.ORTJob{Model: p, Inputs: c.inputs})
		for i, u := range ups {
			c.jobs[targets[i]] = len(jobs)
			jobs = append(jobs, testdeps.ORTJob{Model: saveTemp(t, u, "model.onnx"), Inputs: c.inputs})
		}
		cases = append(cases, c)
	}

	res := testdeps.RunORTBatch(t, jobs)
	checked, passed, upgrades, againChecked := 0, 0, 0, 0
	check := func(c *conformanceCase, res []testdeps.ORTResult, want []testdeps.ORTTensor, against string) {
		checked++
		ok := true
		for target, j := range c.jobs {
			if target == c.opset {
				continue
			}
			upgrades++
			r := res[j]
			err := r.Err
			if err == nil {
				err = matchOutputs(r.Outputs, want)
			}
			if err != nil {
				ok = false
				t.Errorf("%s upgraded from %d to %d, against %s: %v", c.name, c.opset, target, against, err)
			}
		}
		if ok {
			passed++
		}
	}
	// Cases where ONNX Runtime's own result for the original differs from
	// the reference are checked against that result instead, when a second
	// run of the original reproduces it (random operators do not).
	var again []*conformanceCase
	var againJobs []testdeps.ORTJob
	againRef := map[*conformanceCase][]testdeps.ORTTensor{}
	for _, c := range cases {
		orig := res[c.jobs[c.opset]]
		if orig.Err != nil {
			msg := orig.Err.Error()
			if i := strings.Index(msg, ".onnx: "); i >= 0 {
				msg = msg[i+len(".onnx: "):]
			}
			if len(msg) > 120 {
				msg = msg[:120] + "..."
			}
			skip(c.name, "ONNX Runtime fails on the original: "+msg)
			continue
		}
		if err := matchOutputs(orig.Outputs, c.outputs); err != nil {
			t.Logf("%s: ONNX Runtime at opset %d differs from the reference: %v", c.name, c.opset, err)
			againRef[c] = orig.Outputs
			again = append(again, c)
			againJobs = append(againJobs, testdeps.ORTJob{Model: jobs[c.jobs[c.opset]].Model, Inputs: c.inputs})
			continue
		}
		check(c, res, c.outputs, "the reference")
	}
	if len(again) > 0 {
		res2 := testdeps.RunORTBatch(t, againJobs)
		for i, c := range again {
			if res2[i].Err != nil || matchOutputs(res2[i].Outputs, againRef[c]) != nil {
				skip(c.name, "ONNX Runtime differs from the reference and from itself on a second run (random operator)")
				continue
			}
			againChecked++
			check(c, res, againRef[c], "ONNX Runtime's result for the original")
		}
	}
	t.Logf("conformance cases below opset %d: %d checked (%d upgraded models), %d passed; %d of them checked against ONNX Runtime's result for the original, which differs from the reference",
		MaxUpgradeOpset, checked, upgrades, passed, againChecked)
	t.Logf("%d cases below opset %d, refused by design: %s", len(refused), MinUpgradeOpset, strings.Join(refused, " "))
	t.Logf("%d cases with operators UpgradeOpset refuses:\n  %s", len(notConverted), strings.Join(notConverted, "\n  "))
	reasons := make([]string, 0, len(skipped))
	for r := range skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	n := 0
	for _, r := range reasons {
		n += len(skipped[r])
	}
	t.Logf("%d cases skipped:", n)
	for _, r := range reasons {
		t.Logf("  %s (%d): %s", r, len(skipped[r]), strings.Join(skipped[r], " "))
	}
	if checked < 700 {
		t.Errorf("only %d conformance cases checked, want over 700", checked)
	}
}

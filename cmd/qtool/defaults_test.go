//go:build amd64 && !race

// The commands on their built-in defaults (200 calibration and 1000
// evaluation images, every variant) take seconds natively and many
// minutes under the race detector or emulation, so this file is left out
// there; make full runs it.

package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/onnxio"
)

// A new user's first run: no model, no data. It writes cnn.int8.onnx in
// the current folder, a loadable QDQ model, and reports accuracy on the
// built-in images within 0.3 points of float.
func TestQuantizeDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	out, err := run(t, "quantize", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep quantizeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if rep.Output != "cnn.int8.onnx" || rep.CalibItems != 200 || rep.EvalItems != 1000 || rep.FloatTop1 == nil || len(rep.Layers) != 6 {
		t.Fatalf("report: %+v", rep)
	}
	if d := *rep.FloatTop1 - *rep.QuantTop1; d > 0.3 {
		t.Errorf("int8 top-1 %.2f vs float %.2f", *rep.QuantTop1, *rep.FloatTop1)
	}
	// Where the two agree they are both right or both wrong, so the
	// accuracies differ by at most the disagreement; int8 keeps nearly
	// every prediction. The MACs are inspect's hand-checked count.
	if rep.Agreement < 98 || rep.Agreement > 100 || math.Abs(*rep.FloatTop1-*rep.QuantTop1) > 100-rep.Agreement+1e-9 {
		t.Errorf("agreement %.2f %% with top-1 %.2f and %.2f", rep.Agreement, *rep.FloatTop1, *rep.QuantTop1)
	}
	if rep.OutputSQNR < 20 || rep.MACs != inspect(t).MACs || rep.FloatMs <= 0 || rep.QuantMs <= 0 || rep.Rounds < 3 || rep.Seed != 1 || rep.Skipped != 0 {
		t.Errorf("eval %+v seed %d skipped %d", *rep.EvalReport, rep.Seed, rep.Skipped)
	}
	for _, l := range rep.Layers {
		if l.Precision != "w8a8" || l.SQNR < 20 || (l.FloatBytes > 5000 && l.WeightBytes*3 > l.FloatBytes) {
			t.Errorf("layer %+v", l)
		}
	}
	m, err := onnxio.Load(filepath.Join(dir, "cnn.int8.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range m.Graph().GetNode() {
		ops[n.GetOpType()]++
	}
	if ops["QuantizeLinear"] == 0 || ops["DequantizeLinear"] <= ops["QuantizeLinear"] || ops["BatchNormalization"] != 0 || m.Opset("") < 13 {
		t.Errorf("ops %v opset %d", ops, m.Opset(""))
	}

	// Text output, another scheme, an explicit model and data.
	cnn := fixture("cnn.onnx")
	o := filepath.Join(dir, "out.onnx")
	txt, err := run(t, "quantize", cnn, "--scheme", "dfp16", "--calib", "builtin", "--calib-size", "50", "--eval", "builtin", "-o", o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dfp16", "SQNR", "/classifier/classifier.1/Gemm", "top-1", "file size", "agreement", "output SQNR", "MACs", "latency"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text output lacks %q:\n%s", want, txt)
		}
	}
	if _, err := os.Stat(o); err != nil {
		t.Error(err)
	}

	// --format qop: QLinearConv nodes.
	if _, err := run(t, "quantize", "--format", "qop", "--calib-size", "50", "-o", "qop.onnx"); err != nil {
		t.Fatal(err)
	}
	m, err = onnxio.Load(filepath.Join(dir, "qop.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	ops = map[string]int{}
	for _, n := range m.Graph().GetNode() {
		ops[n.GetOpType()]++
	}
	if ops["QLinearConv"] != 4 || ops["Conv"] != 0 {
		t.Errorf("qop ops %v", ops)
	}
}

// qtool sweep on its defaults (the built-in CNN and images), two schemes:
// the table names both, the folder holds the variants, sweep.json (the
// same report as --json) and both charts.
func TestSweepCommand(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "sweep", "--schemes", "fp32,int8", "--calib-size", "50", "--runs", "3", "--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scheme", "fp32", "int8", "94.90", "bit-ops", "sweep-bitops.{svg,png}"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"cnn.fp32.onnx", "cnn.int8.onnx", "sweep.json", "sweep-bitops.svg", "sweep-bitops.png", "sweep-latency.svg", "sweep-latency.png"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "sweep.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.SweepReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Scheme != "fp32" || rep.Rows[1].Top1 == nil || rep.EvalItems != 1000 || rep.Machine.Qtool == "" {
		t.Errorf("sweep.json: %+v", rep)
	}
	// Errors name the culprit.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--schemes", "int7", "--dir", dir}, "int7"},
		{[]string{"sweep", filepath.Join(dir, "missing.onnx"), "--dir", dir}, "missing.onnx"},
		{[]string{"sweep", filepath.Join(dir, "cnn.fp32.onnx"), "--dir", dir}, "--data"},
	} {
		if _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to name %q", c.args, err, c.want)
		}
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtool/qtool/bench"
)

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

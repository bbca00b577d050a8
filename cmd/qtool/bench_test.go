package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
)

// benchJSON is the documented contract of `qtool bench MODEL... --json`.
type benchJSON struct {
	Machine struct {
		CPU struct {
			Arch     string   `json:"arch"`
			Brand    string   `json:"brand"`
			Features []string `json:"features"`
		} `json:"cpu"`
		Kernels    map[string]string `json:"kernels"`
		Go         string            `json:"go"`
		OS         string            `json:"goos"`
		Arch       string            `json:"goarch"`
		GOMAXPROCS int               `json:"gomaxprocs"`
		Qtool      string            `json:"qtool"`
	} `json:"machine"`
	Threads    int              `json:"threads"`
	Batch      int              `json:"batch"`
	Runs       int              `json:"runs"`
	Inputs     map[string][]int `json:"inputs"`
	ORTVersion string           `json:"ort_version"`
	Results    []struct {
		Model       string  `json:"model"`
		Runtime     string  `json:"runtime"`
		MinMs       float64 `json:"min_ms"`
		P50Ms       float64 `json:"p50_ms"`
		P90Ms       float64 `json:"p90_ms"`
		MaxMs       float64 `json:"max_ms"`
		Throughput  float64 `json:"items_per_s"`
		MedianRatio float64 `json:"median_ratio"`
		BestRatio   float64 `json:"best_ratio"`
	} `json:"results"`
}

func benchRun(t *testing.T, args ...string) benchJSON {
	t.Helper()
	out, err := run(t, append([]string{"bench", "--json", "--runs", "3", "--warmup", "1"}, args...)...)
	if err != nil {
		t.Fatalf("bench %v: %v", args, err)
	}
	var r benchJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench %v: bad JSON: %v\n%s", args, err, out)
	}
	return r
}

// With no model, bench runs the built-in one, and the JSON says where:
// this machine's CPU and kernel paths, Go and qtool versions.
func TestBenchModelCommand(t *testing.T) {
	r := benchRun(t, "--batch", "2", "--threads", "1")
	m := r.Machine
	if m.CPU.Arch != runtime.GOARCH || m.Arch != runtime.GOARCH || m.OS != runtime.GOOS || m.Go != runtime.Version() ||
		m.Kernels["fp32"] == "" || m.Qtool == "" || m.GOMAXPROCS < 1 {
		t.Errorf("machine %+v", m)
	}
	if r.Threads != 1 || r.Batch != 2 || r.Runs != 3 || !reflect.DeepEqual(r.Inputs["input"], []int{2, 1, 28, 28}) || len(r.Results) != 1 {
		t.Fatalf("%+v", r)
	}
	x := r.Results[0]
	if !strings.Contains(x.Model, "built in") || x.Runtime != "qtool" || !(0 < x.MinMs && x.MinMs <= x.P50Ms && x.P50Ms <= x.P90Ms && x.P90Ms <= x.MaxMs) ||
		x.MedianRatio != 1 || x.BestRatio != 1 || x.Throughput <= 0 {
		t.Errorf("%+v", x)
	}
}

// Several models: one line each in the text table, ratios to the first.
func TestBenchSeveralModels(t *testing.T) {
	cnn, resnet := fixture("cnn.onnx"), fixture("resnet.onnx")
	r := benchRun(t, cnn, resnet)
	if len(r.Results) != 2 || r.Results[0].Model != cnn || r.Results[1].Model != resnet ||
		r.Results[1].MedianRatio != r.Results[1].P50Ms/r.Results[0].P50Ms || r.Results[1].BestRatio != r.Results[1].MinMs/r.Results[0].MinMs {
		t.Errorf("%+v", r.Results)
	}
	out, err := run(t, "bench", "--runs", "2", "--warmup", "1", cnn, resnet)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-3:]
	if !strings.Contains(last[0], "p50/first") || !strings.HasPrefix(last[1], cnn+" ") || !strings.HasPrefix(last[2], resnet+" ") ||
		!strings.HasSuffix(last[1], "1.00       1.00") {
		t.Errorf("table:\n%s", out)
	}
}

func TestBenchModelErrors(t *testing.T) {
	relu := filepath.Join(testdeps.Conformance(t), "node", "test_relu", "model.onnx")
	missing := filepath.Join(t.TempDir(), "missing.onnx")
	cls := testdeps.OCRModel(t, "ch_ppocr_mobile_v2.0_cls_infer.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{fixture("cnn.onnx"), missing}, "bench " + missing},
		{[]string{fixture("cnn.onnx"), relu}, relu + " takes inputs [x], but the first model " + fixture("cnn.onnx") + " takes [input]"},
		{[]string{"--shape", "x=1,3,H,W", cls}, "give every size as a number"},
		{[]string{cls}, "symbolic size"},
		{[]string{"--kernels", fixture("cnn.onnx")}, "--kernels takes no MODEL"},
	} {
		_, err := run(t, append([]string{"bench", "--runs", "1", "--warmup", "1"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

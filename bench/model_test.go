package bench

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// With a clock that each run moves on by a known step, alternate runs the
// contenders in turn, A B C A B C, warm-up included, and times only the
// runs after warm-up; summarize's percentiles and ratios follow by hand.
func TestAlternateAndSummarize(t *testing.T) {
	var clock time.Duration
	var order []string
	steps := map[string][]time.Duration{ // ms per call, warm-up first
		"A": {9, 9, 4, 2, 3, 1, 5},
		"B": {9, 9, 8, 4, 6, 2, 10},  // twice A
		"C": {9, 9, 2, 3, 3, 3, 100}, // faster median, worse max
	}
	var cs []contender
	for _, name := range []string{"A", "B", "C"} {
		calls := 0
		cs = append(cs, contender{model: name, runtime: "qtool", run: func() error {
			order = append(order, name)
			clock += steps[name][calls] * time.Millisecond
			calls++
			return nil
		}})
	}
	lat, err := alternate(cs, 2, 5, func() time.Duration { return clock })
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("ABC", 7); strings.Join(order, "") != want {
		t.Fatalf("order %s, want %s", strings.Join(order, ""), want)
	}
	for i, name := range []string{"A", "B", "C"} {
		var want []time.Duration
		for _, ms := range steps[name][2:] {
			want = append(want, ms*time.Millisecond)
		}
		if !slices.Equal(lat[i], want) {
			t.Errorf("%s: times %v, want %v", name, lat[i], want)
		}
	}
	rs := summarize(cs, lat, 4)
	// Sorted A: 1 2 3 4 5: min 1, p50 = [5/2] = 3, p90 = [4] = 5, max 5.
	// Sorted B: 2 4 6 8 10. Sorted C: 2 3 3 3 100.
	want := []ModelResult{
		{Model: "A", Runtime: "qtool", MinMs: 1, P50Ms: 3, P90Ms: 5, MaxMs: 5, Throughput: 4 / 0.003, MedianRatio: 1, BestRatio: 1},
		{Model: "B", Runtime: "qtool", MinMs: 2, P50Ms: 6, P90Ms: 10, MaxMs: 10, Throughput: 4 / 0.006, MedianRatio: 2, BestRatio: 2},
		{Model: "C", Runtime: "qtool", MinMs: 2, P50Ms: 3, P90Ms: 100, MaxMs: 100, Throughput: 4 / 0.003, MedianRatio: 1, BestRatio: 2},
	}
	for i := range want {
		g, w := rs[i], want[i]
		near := func(a, b float64) bool { return a-b < 1e-9*b && b-a < 1e-9*b }
		if g.Model != w.Model || !near(g.MinMs, w.MinMs) || !near(g.P50Ms, w.P50Ms) || !near(g.P90Ms, w.P90Ms) || !near(g.MaxMs, w.MaxMs) ||
			!near(g.Throughput, w.Throughput) || !near(g.MedianRatio, w.MedianRatio) || !near(g.BestRatio, w.BestRatio) {
			t.Errorf("result %d: %+v, want %+v", i, g, w)
		}
	}
}

// A failing run stops the benchmark with an error naming the model.
func TestAlternateError(t *testing.T) {
	cs := []contender{
		{model: "a.onnx", runtime: "qtool", run: func() error { return nil }},
		{model: "b.onnx", runtime: "onnxruntime", run: func() error { return errors.New("boom") }},
	}
	if _, err := alternate(cs, 1, 3, func() time.Duration { return 0 }); err == nil || !strings.Contains(err.Error(), "b.onnx (onnxruntime): boom") {
		t.Errorf("error %v", err)
	}
}

// fixtureFile loads a fixture from its file (Path set, as ONNX Runtime needs).
func fixtureFile(t *testing.T, name string) *onnxio.Model {
	t.Helper()
	m, err := onnxio.Load(filepath.Join(testdeps.Root(), "testdata", "models", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Two fixtures side by side: one result each, in order, the first the
// reference of the ratios, and the machine described as this process
// sees it.
func TestBenchModelsReport(t *testing.T) {
	cnn, mob := fixtureFile(t, "cnn.onnx"), fixtureFile(t, "mobilenet.onnx")
	r, err := BenchModels([]*onnxio.Model{cnn, mob}, ModelOptions{Batch: 2, Threads: 1, Warmup: 1, Runs: 5, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Results) != 2 || r.Results[0].Model != cnn.Path || r.Results[1].Model != mob.Path {
		t.Fatalf("results %+v", r.Results)
	}
	for _, m := range r.Results {
		if m.Runtime != "qtool" || !(0 < m.MinMs && m.MinMs <= m.P50Ms && m.P50Ms <= m.P90Ms && m.P90Ms <= m.MaxMs) ||
			m.Throughput <= 0 || m.MedianRatio != m.P50Ms/r.Results[0].P50Ms || m.BestRatio != m.MinMs/r.Results[0].MinMs {
			t.Errorf("%+v", m)
		}
	}
	if r.Results[0].MedianRatio != 1 || r.Results[0].BestRatio != 1 {
		t.Errorf("first model's ratios %+v", r.Results[0])
	}
	if !slices.Equal(r.Inputs["input"], []int{2, 1, 28, 28}) || r.Batch != 2 || r.Threads != 1 || r.Runs != 5 || r.Warmup != 1 || r.Seed != 7 {
		t.Errorf("report %+v", r)
	}
	mc := r.Machine
	if mc.CPU.Arch != runtime.GOARCH || mc.Arch != runtime.GOARCH || mc.OS != runtime.GOOS || mc.Go != runtime.Version() ||
		mc.GOMAXPROCS != runtime.GOMAXPROCS(0) || mc.Kernels["fp32"] != kernels.ActivePath().String() || len(mc.Kernels) < 2 {
		t.Errorf("machine %+v", mc)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Machine map[string]any   `json:"machine"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cpu", "kernels", "go", "goos", "goarch", "gomaxprocs"} {
		if _, ok := raw.Machine[k]; !ok {
			t.Errorf("machine JSON lacks %s: %s", k, b)
		}
	}
	for _, k := range []string{"model", "runtime", "min_ms", "p50_ms", "p90_ms", "max_ms", "items_per_s", "median_ratio", "best_ratio"} {
		if _, ok := raw.Results[1][k]; !ok {
			t.Errorf("result JSON lacks %s: %s", k, b)
		}
	}
}

// reluModel is Relu on one float input named name of shape [N, c, 28, 28].
func reluModel(t *testing.T, name string, c int) *onnxio.Model {
	t.Helper()
	g := &pb.GraphProto{
		Input:  []*pb.ValueInfoProto{input(name, "N", c, 28, 28)},
		Node:   []*pb.NodeProto{{OpType: proto.String("Relu"), Input: []string{name}, Output: []string{"y"}}},
		Output: []*pb.ValueInfoProto{input("y", "N", c, 28, 28)},
	}
	b, err := proto.Marshal(&pb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*pb.OperatorSetIdProto{{Version: proto.Int64(13)}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.LoadBytes(b, "")
	if err != nil {
		t.Fatal(err)
	}
	m.Path = name + ".onnx"
	return m
}

// Models that cannot share inputs are refused, naming both and the input.
func TestBenchModelsInputMismatch(t *testing.T) {
	cnn := fixtureFile(t, "cnn.onnx")
	for _, c := range []struct {
		other *onnxio.Model
		want  []string
	}{
		{reluModel(t, "x", 1), []string{"x.onnx takes inputs [x]", cnn.Path + " takes [input]", "input names must match"}},
		{reluModel(t, "input", 3), []string{`input.onnx: input "input" is float32[-1 3 28 28]`, "gets float32[1 1 28 28]"}},
	} {
		_, err := BenchModels([]*onnxio.Model{cnn, c.other}, ModelOptions{Runs: 1, Warmup: 1})
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v, want %q", err, w)
			}
		}
	}
	if _, err := BenchModels(nil, ModelOptions{}); err == nil {
		t.Error("no models: no error")
	}
}

package calib

import (
	"bytes"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

func cnnSession(t testing.TB, noFusion bool) *engine.Session {
	t.Helper()
	b, err := qtool.Fixtures.ReadFile("testdata/models/cnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.LoadBytes(b, "")
	if err != nil {
		t.Fatal(err)
	}
	var s *engine.Session
	if noFusion {
		s, err = NewSession(m, 2)
	} else {
		s, err = engine.Compile(m, engine.Options{Threads: 2})
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixtureSource is the embedded 1000-image subset with labels.
func fixtureSource(t testing.TB) Source {
	im, err := ReadIDX(bytes.NewReader(fixture(t, "t10k-1000-images-idx3-ubyte.gz")))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := ReadIDX(bytes.NewReader(fixture(t, "t10k-1000-labels-idx1-ubyte.gz")))
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewIDX("fashion-mnist", im, lb, Options{Inputs: []engine.ValueInfo{mnistInput}})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

const (
	relu1  = "/features/features.2/Relu_output_0"
	bn1    = "/features/features.1/BatchNormalization_output_0"
	pool2  = "/features/features.13/MaxPool_output_0"
	gemm1  = "/classifier/classifier.1/Gemm_output_0"
	logits = "logits"
)

// Calibrating the cnn fixture on the embedded images: ranges finite and
// plausible, min/max equal to the extremes of the same runs done
// directly, and results independent of the thread count.
func TestCalibrateCNN(t *testing.T) {
	s := cnnSession(t, true)
	// All 1000 images natively; 100 under the race detector and on
	// other architectures (emulated in CI, where the engine is slower).
	n := 1000
	if testing.Short() || raceEnabled || runtime.GOARCH != "amd64" {
		n = 100
	}
	src := Sample(fixtureSource(t), n, 42)
	names := []string{"input", bn1, relu1, pool2, gemm1, logits}
	res, err := Calibrate(s, src, names, MinMax{}, Config{BatchSize: 64, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != n || res.Batches != (n+63)/64 || res.Skipped != 0 || len(res.Tensors) != len(names) {
		t.Fatalf("result %+v", res)
	}
	for _, name := range names {
		st := res.Tensors[name]
		r := st.Range
		if math.IsNaN(float64(r.Min)) || math.IsInf(float64(r.Max), 0) || r.Min >= r.Max || st.NaN+st.Inf != 0 || st.Values == 0 {
			t.Errorf("%s: %+v", name, st)
		}
		if strings.Contains(name, "Relu") || strings.Contains(name, "MaxPool") {
			if r.Min < 0 {
				t.Errorf("%s after ReLU: %v", name, r)
			}
		}
		if math.Abs(float64(r.Min)) > 1000 || math.Abs(float64(r.Max)) > 1000 {
			t.Errorf("%s: implausible range %v", name, r)
		}
	}
	if r := res.Tensors["input"].Range; r != (Range{0, 1}) {
		t.Errorf("input range %v, want [0, 1]", r)
	}
	if r := res.Tensors[bn1].Range; r.Min >= 0 {
		t.Errorf("BatchNormalization output %v has no negative values", r)
	}
	if res.Tensors["input"].Values != int64(n*784) {
		t.Errorf("input: %d values", res.Tensors["input"].Values)
	}
	// The logits' extremes, computed from plain runs.
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for start := 0; start < n; start += 64 {
		var items []Item
		for i := start; i < min(start+64, n); i++ {
			it, _ := src.Item(i)
			items = append(items, it)
		}
		x, _ := stackItems(items, "input", true)
		out, err := s.Run(map[string]*engine.Tensor{"input": x})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out["logits"].F32 {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if r := res.Tensors[logits].Range; r != (Range{lo, hi}) {
		t.Errorf("logits range %v, plain runs give [%v, %v]", r, lo, hi)
	}
	// Entropy clips the logits' tails no wider than min/max; one thread
	// gives the same result as two.
	small := Sample(src, 64, 7)
	e1, err := Calibrate(s, small, []string{logits, relu1}, Entropy{}, Config{BatchSize: 16, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := Calibrate(s, small, []string{logits, relu1}, Entropy{}, Config{BatchSize: 16, Threads: 2})
	if !reflect.DeepEqual(e1.Tensors, e2.Tensors) {
		t.Errorf("thread count changes the result: %+v vs %+v", e1.Tensors, e2.Tensors)
	}
	if r := e1.Tensors[relu1].Range; r.Max > res.Tensors[relu1].Range.Max*1.01 || r.Max <= 0 {
		t.Errorf("entropy range of %s %v, min/max %v", relu1, r, res.Tensors[relu1].Range)
	}
}

// nil observes every float value; a fused-away tensor is an error that
// says how to get it.
func TestCalibrateAllAndFused(t *testing.T) {
	src := Sample(fixtureSource(t), 20, 1)
	s := cnnSession(t, false)
	res, err := Calibrate(s, src, nil, Percentile{}, Config{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Names, "input") || !slices.Contains(res.Names, logits) || res.Batches != 3 {
		t.Errorf("observed %v in %d batches", res.Names, res.Batches)
	}
	_, err = Calibrate(s, src, []string{bn1, "nonesuch"}, MinMax{}, Config{})
	if err == nil || !strings.Contains(err.Error(), "NoFusion") || !strings.Contains(err.Error(), "nonesuch") {
		t.Errorf("fused tensor: %v", err)
	}
}

// NaN and Inf are counted per tensor and left out of the ranges.
func TestCalibrateNaN(t *testing.T) {
	x := make([]float32, 10*784)
	for i := range x {
		x[i] = float32(i%256) / 255
	}
	x[5], x[900], x[7000] = float32(math.NaN()), float32(math.NaN()), float32(math.NaN())
	x[10], x[4000] = float32(math.Inf(1)), float32(math.Inf(-1))
	src, err := NewArrays("crafted", map[string]*engine.Tensor{"x": engine.NewFloat32([]int{10, 1, 28, 28}, x)}, Options{Inputs: []engine.ValueInfo{mnistInput}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Calibrate(cnnSession(t, true), src, []string{"input", relu1}, MinMax{}, Config{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Tensors["input"]
	if st.NaN != 3 || st.Inf != 2 || st.Values != int64(len(x)-5) || st.Range != (Range{0, 1}) {
		t.Errorf("input: %+v", st)
	}
	if res.Tensors[relu1].NaN == 0 || !slices.Contains(res.NonFinite(), "input") {
		t.Errorf("NaN did not propagate to %s: %+v", relu1, res.Tensors[relu1])
	}
}

func TestCalibrateBadData(t *testing.T) {
	s := cnnSession(t, true)
	empty, _ := NewArrays("empty", map[string]*engine.Tensor{"x": engine.NewFloat32([]int{0, 1, 28, 28}, nil)}, Options{Inputs: []engine.ValueInfo{mnistInput}})
	if _, err := Calibrate(s, empty, nil, MinMax{}, Config{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty set: %v", err)
	}
	dir := t.TempDir()
	for i := range 5 {
		writePNG(t, filepath.Join(dir, string(rune('a'+i))+".png"), image.NewGray(image.Rect(0, 0, 28, 28)))
	}
	bad := filepath.Join(dir, "c.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	src, err := OpenImageFolder(dir, Options{Inputs: []engine.ValueInfo{mnistInput}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Calibrate(s, src, []string{"input"}, MinMax{}, Config{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad image: %v", err)
	}
	var bar bytes.Buffer
	res, err := Calibrate(s, src, []string{"input"}, MinMax{}, Config{SkipBad: true, Progress: &bar})
	if err != nil || res.Skipped != 1 || res.Items != 4 || len(res.SkipErrors) != 1 {
		t.Errorf("skip-bad: %+v %v", res, err)
	}
	if !strings.Contains(bar.String(), "5/5") {
		t.Errorf("progress bar wrote %q", bar.String())
	}
	for i := range 5 {
		os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".png"), nil, 0o644)
	}
	if _, err := Calibrate(s, src, []string{"input"}, MinMax{}, Config{SkipBad: true}); err == nil || !strings.Contains(err.Error(), "all 5 items were bad") {
		t.Errorf("all bad: %v", err)
	}
	// Wrong-shaped data is refused naming the input and both shapes.
	wrong, _ := NewArrays("w.npz", map[string]*engine.Tensor{"x": engine.NewFloat32([]int{2, 3, 28, 28}, nil)}, Options{Inputs: []engine.ValueInfo{mnistInput}})
	if _, err := Calibrate(s, wrong, nil, MinMax{}, Config{}); err == nil || !strings.Contains(err.Error(), `w.npz[0]: input "input" has shape [?,1,28,28] (one item: [1,28,28]), got [3,28,28]`) {
		t.Errorf("wrong shape: %v", err)
	}
}

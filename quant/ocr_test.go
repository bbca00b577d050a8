//go:build amd64 && !race

// The detector is slow under the race detector and emulation, so this
// file is left out there; make full runs it natively.

package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// Both PaddleOCR models (weights in Constant nodes, opset 9 and 11,
// unfused BatchNormalization in the classifier, HardSwish, Resize,
// ConvTranspose) quantize under every scheme,
// calibrated on seeded random images; ONNX Runtime loads and runs every
// written model, with outputs close to our engine's.
func TestQuantizeOCRModelsORT(t *testing.T) {
	models := []struct {
		name string
		dims []int
	}{
		{"ch_ppocr_mobile_v2.0_cls_infer.onnx", []int{3, 48, 192}},
		{"ch_PP-OCRv4_det_infer.onnx", []int{3, 96, 96}},
	}
	dir := t.TempDir()
	type job struct {
		label string
		ours  *engine.Tensor
	}
	var jobs []job
	var ortJobs []testdeps.ORTJob
	for _, mc := range models {
		m, err := onnxio.Load(testdeps.OCRModel(t, mc.name))
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		const n = 8
		per := mc.dims[0] * mc.dims[1] * mc.dims[2]
		data := make([]float32, n*per)
		for i := range data {
			data[i] = r.Float32()*2 - 1
		}
		in := m.Graph().GetInput()[0].GetName()
		x := engine.NewFloat32(append([]int{n}, mc.dims...), data)
		vi := []engine.ValueInfo{{Name: in, Type: onnxio.Float, Shape: []int{-1, mc.dims[0], -1, -1}}}
		src, err := calib.NewArrays("random", map[string]*engine.Tensor{in: x}, calib.Options{Inputs: vi})
		if err != nil {
			t.Fatal(err)
		}
		one := engine.NewFloat32(append([]int{1}, mc.dims...), data[:per])
		ortIn := testdeps.ORTFloat32(in, append([]int{1}, mc.dims...), data[:per])
		for _, sc := range ortSchemes {
			scheme := mustScheme(t, sc.name, sc.block)
			res, err := Quantize(m, src, Config{Scheme: scheme}, Options{Calib: calib.Config{Quiet: true, BatchSize: 4}})
			if err != nil {
				t.Fatalf("%s %s: %v", mc.name, sc.name, err)
			}
			label := fmt.Sprintf("%s %s", mc.name, scheme.Precision())
			if len(res.Plan.Float) > 0 {
				t.Logf("%s: float ops %v", label, res.Plan.Float)
			}
			p := filepath.Join(dir, fmt.Sprintf("%s.%s%d.onnx", mc.name, sc.name, sc.block))
			if err := res.Model.Save(p, onnxio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			s, err := Compile(res.Model, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o, err := s.Run(map[string]*engine.Tensor{in: one})
			if err != nil {
				t.Fatal(err)
			}
			if sc.name == "int8" {
				checkIntegerSteps(t, label, res.Model, s, map[string]*engine.Tensor{in: one}, o)
			}
			jobs = append(jobs, job{label, o[s.OutputNames()[0]]})
			ortJobs = append(ortJobs, testdeps.ORTJob{Model: p, Inputs: []testdeps.ORTTensor{ortIn}})
		}
	}
	for i, r := range testdeps.RunORTBatch(t, ortJobs) {
		j := jobs[i]
		if r.Err != nil {
			t.Errorf("%s: ONNX Runtime: %v", j.label, r.Err)
			continue
		}
		got := testdeps.Float32s(r.Outputs[0])
		if len(got) != j.ours.Len() {
			t.Errorf("%s: ONNX Runtime gave %d values, we %d", j.label, len(got), j.ours.Len())
			continue
		}
		var maxDiff, maxAbs, sum float64
		for k, v32 := range got {
			v := float64(v32)
			d := math.Abs(v - float64(j.ours.F32[k]))
			maxDiff, maxAbs, sum = math.Max(maxDiff, d), math.Max(maxAbs, math.Abs(v)), sum+d
		}
		mean := sum / float64(j.ours.Len())
		t.Logf("%-45s ORT vs ours: max |diff| %.3g, mean %.3g, max |out| %.3g", j.label, maxDiff, mean, maxAbs)
		if mean > 0.01*maxAbs {
			t.Errorf("%s: ONNX Runtime and our engine disagree: mean |diff| %.3g, max |out| %.3g", j.label, mean, maxAbs)
		}
	}
}

// checkIntegerSteps checks an int8 QDQ model's run against its float
// path (simulated quantization, Options.NoInteger), which the integer
// steps should reproduce up to the convolutions' rounding, and that most
// steps run in integer.
func checkIntegerSteps(t *testing.T, label string, m *onnxio.Model, s *engine.Session, in map[string]*engine.Tensor, got map[string]*engine.Tensor) {
	t.Helper()
	sim, err := Compile(m, engine.Options{NoInteger: true})
	if err != nil {
		t.Fatal(err)
	}
	want, err := sim.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	name := s.OutputNames()[0]
	g, w := got[name].F32, want[name].F32
	differ, maxDiff := 0, 0.0
	for i := range w {
		if d := math.Abs(float64(g[i] - w[i])); d > 0 {
			differ++
			maxDiff = math.Max(maxDiff, d)
		}
	}
	n8 := 0
	ps := s.Precisions()
	for _, p := range ps {
		if p.Precision != "fp32" {
			n8++
		}
	}
	t.Logf("%s: %d of %d steps in integer (%d steps in the float path); %d/%d outputs differ from the float path, at most by %.3g",
		label, n8, len(ps), len(sim.Precisions()), differ, len(w), maxDiff)
	// Both models' outputs are probabilities.
	if maxDiff > 0.02 {
		t.Errorf("%s: %d/%d outputs differ from the float path, at most by %.3g", label, differ, len(w), maxDiff)
	}
	if n8 < len(ps)*8/10 {
		t.Errorf("%s: %d of %d steps in integer", label, n8, len(ps))
	}
}

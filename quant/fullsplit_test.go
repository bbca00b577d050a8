//go:build amd64 && !race

// The full split is too slow for the race detector and for emulated
// arm64; make full runs it in its own plain amd64 pass.

package quant

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// fullSplit is the Fashion-MNIST test split (10 000 labelled images).
func fullSplit(t *testing.T) calib.Source {
	dir := testdeps.FashionMNIST(t)
	in := []engine.ValueInfo{{Name: "input", Type: onnxio.Float, Shape: []int{-1, 1, 28, 28}}}
	full, err := calib.OpenIDX(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), calib.Options{Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if full.Len() != 10000 {
		t.Fatalf("%d images", full.Len())
	}
	return full
}

// The accuracy targets on the whole Fashion-MNIST test split
// (10 000 images), calibrated on 200 of the embedded ones: int8 within
// 0.3 points of float, dfp16 within 0.05, w4a8 (per channel and in
// blocks of 32) within 1.5, evaluated with our engine.
func TestQuantizeFullSplitTargets(t *testing.T) {
	full := fullSplit(t)
	targets := []struct {
		sc   schemeCase
		drop float64
	}{{schemeCase{"int8", 0}, 0.3}, {schemeCase{"dfp16", 0}, 0.05}, {schemeCase{"w4a8", 0}, 1.5}, {schemeCase{"w4a8", 32}, 1.5}}
	for _, f := range fixtures.Names {
		floatAcc := 0.0
		for _, tc := range targets {
			res := quantizeFixture(t, f, mustScheme(t, tc.sc.name, tc.sc.block), 200)
			if floatAcc == 0 {
				floatAcc = accuracy(t, res.Float, full)
			}
			qa := accuracy(t, res.Model, full)
			t.Logf("%-10s %-9s float %.2f quantized %.2f (%+.2f)", f, res.Layers[0].Precision, floatAcc, qa, qa-floatAcc)
			if floatAcc-qa > tc.drop {
				t.Errorf("%s %s: top-1 drop %.2f points, target %.2f", f, res.Layers[0].Precision, floatAcc-qa, tc.drop)
			}
		}
	}
}

// The agreement target: for every scheme's file, our engine and
// ONNX Runtime 1.30 agree on every output element within one
// quantization step and on the top-1 prediction of at least 99.9% of
// the 10 000 test images. The rewriter leaves the logits in float, so
// their step is that of an 8-bit quantization of their range over the
// split ((max-min)/255).
var agreeSchemes = []schemeCase{{"int8", 0}, {"u8s8", 0}}

func TestQuantizeFullSplitAgreeORT(t *testing.T) {
	full := fullSplit(t)
	const chunk = 1000
	dir := t.TempDir()
	// The images once, in chunks ONNX Runtime reads from disk.
	var inputs []testdeps.ORTTensor
	var ours []map[string]*engine.Tensor
	if err := batches(full, chunk, func(b map[string]*engine.Tensor, _ []int) error {
		x := b["input"]
		in := testdeps.ORTFloat32("input", x.Shape, x.F32)
		in.File = filepath.Join(dir, fmt.Sprintf("chunk%d.bin", len(inputs)))
		if err := os.WriteFile(in.File, in.Data, 0o644); err != nil {
			return err
		}
		in.Data = nil
		inputs = append(inputs, in)
		ours = append(ours, b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	type model struct {
		label  string
		logits []float32
	}
	var models []model
	var jobs []testdeps.ORTJob
	for _, f := range fixtures.Names {
		for _, sc := range agreeSchemes {
			t0 := time.Now()
			res := quantizeFixture(t, f, mustScheme(t, sc.name, sc.block), 200)
			label := fmt.Sprintf("%s %s", f, res.Layers[0].Precision)
			p := filepath.Join(dir, fmt.Sprintf("%s.%s%d.onnx", f, sc.name, sc.block))
			if err := res.Model.Save(p, onnxio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			s, err := Compile(res.Model, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var logits []float32
			for i, in := range ours {
				o, err := s.Run(in)
				if err != nil {
					t.Fatal(err)
				}
				logits = append(logits, o["logits"].F32...)
				jobs = append(jobs, testdeps.ORTJob{Model: p, Inputs: []testdeps.ORTTensor{inputs[i]}})
			}
			models = append(models, model{label, logits})
			t.Logf("%s: ours in %v", label, time.Since(t0))
		}
	}
	t0 := time.Now()
	results := testdeps.RunORTBatch(t, jobs)
	t.Logf("ORT in %v", time.Since(t0))
	for mi, m := range models {
		var ort []float32
		for _, r := range results[mi*len(inputs) : (mi+1)*len(inputs)] {
			if r.Err != nil {
				t.Fatalf("%s: ONNX Runtime: %v", m.label, r.Err)
			}
			ort = append(ort, testdeps.Float32s(r.Outputs[0])...)
		}
		if len(ort) != len(m.logits) {
			t.Fatalf("%s: ONNX Runtime gave %d logits, we %d", m.label, len(ort), len(m.logits))
		}
		a := compareLogits(ort, m.logits, 10)
		t.Logf("%-22s ORT vs ours: %s", m.label, a)
		if a.over > 0 || float64(a.same) < 0.999*float64(a.n) {
			t.Errorf("%s: ONNX Runtime and our engine disagree: %s (targets: none over one step, 99.9%% same top-1)", m.label, a)
		}
	}
}

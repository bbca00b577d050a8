package quant

import (
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// accuracyTargets are the largest top-1 drops (points) on the embedded
// 1000 images, per scheme (the targets; the full split is checked
// by TestQuantizeFullSplitTargets). w4a4 is only reported.
var accuracyTargets = map[string]float64{"int8": 0.3, "u8s8": 0.3, "dfp16": 0.05, "dfp8": 1.5, "w4a8": 1.5, "w4a8/b32": 1.5, "w4a4": 100}

type schemeCase struct {
	name  string
	block int
}

var ortSchemes = []schemeCase{{"int8", 0}, {"u8s8", 0}, {"w4a8", 0}, {"w4a8", 32}, {"w4a4", 0}, {"dfp16", 0}, {"dfp8", 0}}

// schemePrecision is the precision Session.Precisions reports for the
// integer steps of each scheme.
var schemePrecision = map[string]string{"int8": "int8", "u8s8": "int8", "w4a8": "w4a8", "w4a4": "w4a4", "dfp16": "int16", "dfp8": "int8"}

// Every scheme on every fixture: the quantized model (evaluated with our
// engine, its Conv and Gemm layers on the integer kernels of the
// scheme's precision) stays within the accuracy target of float on the
// embedded images, and ONNX Runtime loads and runs the written model with
// the same predictions (one image may differ) and every logit within one
// step of ours (see compareLogits).
func TestQuantizeFixturesORT(t *testing.T) {
	src := fixtures.FashionMNIST(t)
	const nORT = 100
	dir := t.TempDir()
	type job struct {
		label string
		path  string
		ours  *engine.Tensor
	}
	var jobs []job
	var ortJobs []testdeps.ORTJob
	// The first nORT images as one batch.
	in := map[string]*engine.Tensor{}
	if err := batches(src, nORT, func(b map[string]*engine.Tensor, _ []int) error {
		if len(in) == 0 {
			in = b
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	x := in["input"]
	ortIn := testdeps.ORTFloat32("input", x.Shape, x.F32)
	fixtures, schemes := fixtures.Names, ortSchemes
	if raceEnabled || testing.Short() || runtime.GOARCH != "amd64" {
		// The race detector and emulation make the engine ten times
		// slower or more.
		fixtures, schemes = fixtures[:1], []schemeCase{{"int8", 0}, {"w4a8", 32}, {"w4a4", 0}, {"dfp16", 0}}
	}
	for _, f := range fixtures {
		var floatAcc float64
		for _, sc := range schemes {
			s := mustScheme(t, sc.name, sc.block)
			label := fmt.Sprintf("%s %s", f, s.Precision())
			res := quantizeFixture(t, f, s, 200)
			if floatAcc == 0 {
				floatAcc = accuracy(t, res.Float, src)
			}
			qa := accuracy(t, res.Model, src)
			key := sc.name
			if sc.block > 0 {
				key = fmt.Sprintf("%s/b%d", sc.name, sc.block)
			}
			t.Logf("%-22s top-1 float %.2f quantized %.2f (%+.2f)", label, floatAcc, qa, qa-floatAcc)
			if floatAcc-qa > accuracyTargets[key] {
				t.Errorf("%s: top-1 drop %.2f points, target %.2f", label, floatAcc-qa, accuracyTargets[key])
			}
			p := filepath.Join(dir, fmt.Sprintf("%s.%s%d.onnx", f, sc.name, sc.block))
			if err := res.Model.Save(p, onnxio.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			qs, err := Compile(res.Model, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			nInt := 0
			for _, p := range qs.Precisions() {
				if p.Precision == schemePrecision[sc.name] {
					nInt++
				}
			}
			// The first and last layers of 4-bit schemes are int8, and
			// cnn's w4a4 keeps the tensors next to its MaxPools float
			// (see MakePlan): one w4a4 layer is left there.
			if nInt < 1 || (nInt < 2 && label != "cnn w4a4") {
				t.Errorf("%s: %d steps run in %s: %+v", label, nInt, schemePrecision[sc.name], qs.Precisions())
			}
			out, err := qs.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, job{label, p, out["logits"]})
			ortJobs = append(ortJobs, testdeps.ORTJob{Model: p, Inputs: []testdeps.ORTTensor{ortIn}})
			if s.Weight == onnxio.Int8 && !s.PowerOfTwo {
				// The QOperator form of the same model.
				qm := clone(res.Model)
				nc, err := ToQOperator(qm)
				if err != nil || nc == 0 {
					t.Fatalf("%s: ToQOperator: %d nodes, %v", label, nc, err)
				}
				pq := strings.TrimSuffix(p, ".onnx") + ".qop.onnx"
				if err := qm.Save(pq, onnxio.SaveOptions{}); err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, job{label + " qop", pq, out["logits"]})
				ortJobs = append(ortJobs, testdeps.ORTJob{Model: pq, Inputs: []testdeps.ORTTensor{ortIn}})
			}
		}
	}
	results := testdeps.RunORTBatch(t, ortJobs)
	for i, r := range results {
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
		a := compareLogits(got, j.ours.F32, j.ours.Shape[len(j.ours.Shape)-1])
		t.Logf("%-22s ORT vs ours: %s", j.label, a)
		if a.over > 0 || a.same < a.n-1 {
			t.Errorf("%s: ONNX Runtime and our engine disagree: %s", j.label, a)
		}
	}
}

// logitAgreement compares ONNX Runtime's logits with ours.
type logitAgreement struct {
	maxDiff, step float64
	over          int // logits more than one step apart
	same, n       int // images with the same top-1 prediction, of n
}

// compareLogits compares logits of rows of classes values. The rewriter
// leaves logits in float, so their step is that of an 8-bit
// quantization of ONNX Runtime's range: (max-min)/255.
func compareLogits(ort, ours []float32, classes int) logitAgreement {
	a := logitAgreement{n: len(ort) / classes}
	lo, hi := ort[0], ort[0]
	for _, v := range ort {
		lo, hi = min(lo, v), max(hi, v)
	}
	a.step = float64(hi-lo) / 255
	for i, v := range ort {
		d := math.Abs(float64(v) - float64(ours[i]))
		a.maxDiff = math.Max(a.maxDiff, d)
		if d > a.step {
			a.over++
		}
	}
	x := Argmax(engine.NewFloat32([]int{a.n, classes}, ort))
	y := Argmax(engine.NewFloat32([]int{a.n, classes}, ours))
	for i := range x {
		if x[i] == y[i] {
			a.same++
		}
	}
	return a
}

func (a logitAgreement) String() string {
	return fmt.Sprintf("max |diff| %.3g = %.2f steps, %d logits over one step, same top-1 on %d/%d (%.2f%%)",
		a.maxDiff, a.maxDiff/a.step, a.over, a.same, a.n, 100*float64(a.same)/float64(a.n))
}

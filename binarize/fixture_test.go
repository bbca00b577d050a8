package binarize

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

func accuracy(t testing.TB, m *onnxio.Model, src calib.Source) float64 {
	t.Helper()
	s, err := quant.Compile(m, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := quant.Accuracy(s, src)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// slow reports a slow engine: the race detector and emulation make it
// ten times slower or more, and the fixture tests take fewer images.
func slow() bool { return raceEnabled || testing.Short() || runtime.GOARCH != "amd64" }

// images is the embedded set, or its first n under slow().
func images(t testing.TB, n int) calib.Source {
	if slow() {
		return calib.Sample(fixtures.FashionMNIST(t), n, 3)
	}
	return fixtures.FashionMNIST(t)
}

func quietOpts(rest string, th Thresholds) Options {
	return Options{Rest: rest, Thresholds: th, Calib: calib.Config{Quiet: true, BatchSize: 50}}
}

// Post-training binarization of the float fixtures: the inner Conv and
// Gemm layers become binary nodes, the first and last stay int8 (or
// float with --rest fp32), and the model runs; its accuracy on 300 of
// the embedded images is logged. Without retraining it falls to about
// chance with every inner layer binary (see TestPostTrainingThresholds).
func TestPostTrainingFixtures(t *testing.T) {
	data := calib.Sample(fixtures.FashionMNIST(t), 300, 2)
	cal := calib.Sample(fixtures.FashionMNIST(t), 100, 1)
	names := fixtures.Names
	if slow() {
		data, cal, names = calib.Sample(data, 30, 1), calib.Sample(cal, 20, 1), names[:1]
	}
	for _, f := range names {
		m := fixtures.Model(t, f)
		rests := []string{"int8"}
		if f == "cnn" {
			rests = append(rests, "fp32")
		}
		for _, rest := range rests {
			res, err := Binarize(m, cal, quietOpts(rest, ""))
			if err != nil {
				t.Fatalf("%s %s: %v", f, rest, err)
			}
			if res.Trained {
				t.Errorf("%s: float model taken for a trained binary network", f)
			}
			var prec []string
			for _, l := range res.Layers {
				prec = append(prec, l.Precision)
			}
			edge := "w8a8"
			if rest == "fp32" {
				edge = "fp32"
			}
			if len(prec) < 3 || prec[0] != edge || prec[len(prec)-1] != edge {
				t.Errorf("%s %s: layer precisions %v, want %s first and last", f, rest, prec, edge)
			}
			// Every inner layer binary but the depthwise ones (mobilenet's,
			// skipped by default, each with why).
			if n := strings.Count(strings.Join(prec, " "), "binary"); n+len(res.Skipped) != len(prec)-2 || n != len(res.Binary) {
				t.Errorf("%s: %d binary layers (%v) of %d inner ones, skipped %v", f, n, res.Binary, len(prec)-2, res.Skipped)
			}
			for _, sk := range res.Skipped {
				if f != "mobilenet" || !strings.Contains(sk, "1 channels per group") {
					t.Errorf("%s: skipped %s", f, sk)
				}
			}
			if slices.Contains(res.FloatOps, "BinaryConv") || slices.Contains(res.FloatOps, "BinaryGemm") {
				t.Errorf("%s: binary ops reported as left in float: %v", f, res.FloatOps)
			}
			if ops := opCounts(res.Model); ops["ai.qtool.BinaryConv"]+ops["ai.qtool.BinaryGemm"] != len(res.Binary) {
				t.Errorf("%s: ops %v for %d binary layers", f, ops, len(res.Binary))
			}
			t.Logf("%-9s rest %-4s: binary %.1f %% (%d binary layers)", f, rest, accuracy(t, res.Model, data), len(res.Binary))
		}
	}
}

// One binarized layer with its input's scale and center compensated
// keeps most of the accuracy: cnn's last convolution binary, the rest
// float, is far above chance (88.8 % against 94.9 % float) with mean
// thresholds (median: 20.7 %); sign(x) (threshold 0) of its all non-negative
// input (after a Relu) makes every activation +1, and the layer's
// output a constant.
func TestPostTrainingOneLayer(t *testing.T) {
	data := images(t, 200)
	cal := calib.Sample(data, 200, 1)
	m := fixtures.Model(t, "cnn")
	for _, th := range []Thresholds{Mean, Median, Zero} {
		o := quietOpts("fp32", th)
		o.Layers = []string{"/features/features.10/Conv"}
		res, err := Binarize(m, cal, o)
		if err != nil {
			t.Fatal(err)
		}
		acc := accuracy(t, res.Model, data)
		t.Logf("thresholds %s: %.1f %%", th, acc)
		if th == Mean && acc < 60 || th == Zero && acc > 20 {
			t.Errorf("thresholds %s: accuracy %.1f %%", th, acc)
		}
	}
}

//go:build amd64 && !race

// The full split is too slow for the race detector and for emulated
// arm64; make full runs it in its own plain amd64 pass.

package binarize

import (
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// The target on the whole Fashion-MNIST test split (10 000
// images): the converted bnn fixture with --rest fp32 agrees with the
// float model on every top-1; --rest int8 is logged.
func TestBNNFullSplit(t *testing.T) {
	dir := testdeps.FashionMNIST(t)
	in := []engine.ValueInfo{{Name: "input", Type: onnxio.Float, Shape: []int{-1, 1, 28, 28}}}
	full, err := calib.OpenIDX(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), calib.Options{Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if full.Len() != 10000 {
		t.Fatalf("%d images", full.Len())
	}
	for _, rest := range []string{"fp32", "int8"} {
		_, c := compareBNN(t, rest, full)
		t.Logf("rest %s: %d images, float %.2f %%, binary %.2f %%, agreement %.2f %%, SQNR %.1f dB", rest, c.Items, c.FloatTop1, c.QuantTop1, c.Agreement, c.SQNR)
		if rest == "fp32" && c.Agreement != 100 {
			t.Errorf("rest fp32: top-1 agreement %.2f %%, want 100 %%", c.Agreement)
		}
	}
}

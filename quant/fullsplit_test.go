//go:build amd64 && !race

// The full split is too slow for the race detector and for emulated
// arm64; make full runs it in its own plain amd64 pass.

package quant

import (
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// The accuracy targets on the whole Fashion-MNIST test split
// (10 000 images), calibrated on 200 of the embedded ones: int8 within
// 0.3 points of float, dfp16 within 0.05, w4a8 (blocks of 32) within
// 1.5, evaluated with our engine.
func TestQuantizeFullSplitTargets(t *testing.T) {
	dir := testdeps.FashionMNIST(t)
	in := []engine.ValueInfo{{Name: "input", Type: onnxio.Float, Shape: []int{-1, 1, 28, 28}}}
	full, err := calib.OpenIDX(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), calib.Options{Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if full.Len() != 10000 {
		t.Fatalf("%d images", full.Len())
	}
	targets := []struct {
		sc   schemeCase
		drop float64
	}{{schemeCase{"int8", 0}, 0.3}, {schemeCase{"dfp16", 0}, 0.05}, {schemeCase{"w4a8", 32}, 1.5}}
	for _, f := range fixtureNames {
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

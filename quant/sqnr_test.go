package quant

import (
	"math"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
)

// Every quantized layer of the int8 cnn has a finite SQNR in a plausible
// range: its dequantized output is observed (not fused away by the
// engine's integer execution) and differs from float by rounding noise.
func TestMeasureSQNRFinite(t *testing.T) {
	res := quantizeFixture(t, "cnn", mustScheme(t, "int8", 0), 100)
	if err := MeasureSQNR(res.Float, res.Model, res.Layers, calib.Sample(fixtures.FashionMNIST(t), 50, 2), 1); err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Layers {
		if math.IsInf(l.SQNR, 0) || math.IsNaN(l.SQNR) || l.SQNR < 15 || l.SQNR > 70 {
			t.Errorf("%s: SQNR %v dB", l.Name, l.SQNR)
		}
	}
}

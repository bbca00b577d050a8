//go:build amd64 && !race

package binarize

import (
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
)

// The threshold choices compared (too slow for the race detector and
// emulated arm64; make full runs it): each fixture with every inner
// layer binarized after training, the rest float, on the 1000 embedded
// images. Logged for the README; the accuracy is near chance whichever
// is chosen.
func TestPostTrainingThresholds(t *testing.T) {
	data := fixtures.FashionMNIST(t)
	cal := calib.Sample(data, 200, 1)
	for _, f := range []string{"cnn", "resnet", "mobilenet"} {
		m := fixtures.Model(t, f)
		t.Logf("%-9s float %.1f %%", f, accuracy(t, m, data))
		for _, th := range []Thresholds{Mean, Median, Zero} {
			res, err := Binarize(m, cal, quietOpts("fp32", th))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%-9s thresholds %-6s: binary %.1f %%", f, th, accuracy(t, res.Model, data))
		}
	}
}

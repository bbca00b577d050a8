package quant

import (
	"math"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
)

// Compare's accuracies are Accuracy's; a model against itself agrees
// everywhere with no noise; a 4-bit model disagrees on some items, never
// more than its accuracy change allows; unlabelled data gives agreement
// without accuracy.
func TestCompare(t *testing.T) {
	src := fixtures.FashionMNIST(t)
	res := quantizeFixture(t, "cnn", mustScheme(t, "w4a4", 0), 100)
	// w4a4 changes many predictions (72 % agree), so the bound on the
	// accuracy change below is tested where it can fail.
	fs, err := engine.Compile(res.Float, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := Compile(res.Model, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	same, err := Compare(fs, fs, src, 0)
	if err != nil || same.Agreement != 100 || !math.IsInf(same.SQNR, 1) || same.FloatTop1 != same.QuantTop1 || same.Items != src.Len() {
		t.Errorf("float against itself: %+v %v", same, err)
	}
	c, err := Compare(fs, qs, src, 64)
	if err != nil {
		t.Fatal(err)
	}
	fa, _ := Accuracy(fs, src)
	qa, _ := Accuracy(qs, src)
	if !c.Labelled || c.FloatTop1 != fa || c.QuantTop1 != qa {
		t.Errorf("top-1 %.2f and %.2f, Accuracy says %.2f and %.2f", c.FloatTop1, c.QuantTop1, fa, qa)
	}
	if c.Agreement >= 100 || c.Agreement < 50 || math.Abs(fa-qa) > 100-c.Agreement+1e-9 || c.SQNR < 3 || c.SQNR > 30 {
		t.Errorf("w4a4 against float: agreement %.2f %%, SQNR %.1f dB", c.Agreement, c.SQNR)
	}
	t.Logf("w4a4 CNN: agreement %.2f %%, output SQNR %.1f dB, top-1 %.2f -> %.2f", c.Agreement, c.SQNR, fa, qa)
	un, err := Compare(fs, qs, unlabelled{src}, 0)
	if err != nil || un.Labelled || un.Agreement != c.Agreement || math.Abs(un.SQNR-c.SQNR) > 1e-6 {
		t.Errorf("unlabelled: %+v %v", un, err)
	}
	if _, err := Compare(fs, qs, halfLabelled{src}, 0); err == nil {
		t.Errorf("half labelled data: no error")
	}
}

type unlabelled struct{ calib.Source }

func (u unlabelled) Item(i int) (calib.Item, error) {
	it, err := u.Source.Item(i)
	it.Label = -1
	return it, err
}

type halfLabelled struct{ calib.Source }

func (u halfLabelled) Item(i int) (calib.Item, error) {
	it, err := u.Source.Item(i)
	if i%2 == 1 {
		it.Label = -1
	}
	return it, err
}

package quant

import (
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

func mustScheme(t testing.TB, name string, block int) Scheme {
	t.Helper()
	s, err := SchemeByName(name)
	if err != nil {
		t.Fatal(err)
	}
	s.Block = block
	return s
}

func quantizeFixture(t testing.TB, name string, s Scheme, calibN int) *Result {
	t.Helper()
	res, err := Quantize(fixtures.Model(t, name), calib.Sample(fixtures.FashionMNIST(t), calibN, 1), Config{Scheme: s}, Options{Calib: calib.Config{Quiet: true, BatchSize: 50}})
	if err != nil {
		t.Fatalf("%s %s: %v", name, s.Name, err)
	}
	return res
}

func accuracy(t testing.TB, m *onnxio.Model, src calib.Source) float64 {
	t.Helper()
	s, err := Compile(m, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Accuracy(s, src)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

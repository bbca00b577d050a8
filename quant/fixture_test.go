package quant

import (
	"testing"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

var fixtureNames = []string{"cnn", "resnet", "mobilenet"}

func loadFixture(t testing.TB, name string) *onnxio.Model {
	t.Helper()
	b, err := qtool.Fixtures.ReadFile("testdata/models/" + name + ".onnx")
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.LoadBytes(b, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mnist is the embedded 1000-image Fashion-MNIST subset with labels.
func mnist(t testing.TB) calib.Source {
	t.Helper()
	in := []engine.ValueInfo{{Name: "input", Type: onnxio.Float, Shape: []int{-1, 1, 28, 28}}}
	src, err := calib.OpenIDXFS(qtool.Fixtures, qtool.FashionMNISTImages, qtool.FashionMNISTLabels, calib.Options{Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

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
	res, err := Quantize(loadFixture(t, name), calib.Sample(mnist(t), calibN, 1), Config{Scheme: s}, Options{Calib: calib.Config{Quiet: true, BatchSize: 50}})
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

package quant

import (
	"math"
	"testing"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// Prepare folds every BatchNormalization of the fixtures (resnet's
// shortcut ones read their bias through Identity nodes) and keeps the
// outputs equal up to float rounding.
func TestPrepareFixtures(t *testing.T) {
	src := mnist(t)
	var in map[string]*engine.Tensor
	if err := batches(src, 16, func(b map[string]*engine.Tensor, _ []int) error {
		if in == nil {
			in = b
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtureNames {
		m := loadFixture(t, f)
		bns := 0
		for _, n := range m.Graph().GetNode() {
			if n.GetOpType() == "BatchNormalization" {
				bns++
			}
		}
		p := clone(m)
		folded, err := Prepare(p, 21)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range p.Graph().GetNode() {
			if n.GetOpType() == "BatchNormalization" || n.GetOpType() == "Constant" || n.GetOpType() == "Identity" {
				t.Errorf("%s: %s left after Prepare", f, n.GetOpType())
			}
		}
		if folded != bns || p.Opset("") != 21 || p.Proto.GetIrVersion() < 10 {
			t.Errorf("%s: folded %d of %d, opset %d, IR %d", f, folded, bns, p.Opset(""), p.Proto.GetIrVersion())
		}
		run := func(m2 *onnxio.Model) []float32 {
			s, err := engine.Compile(m2, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o, err := s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			return o["logits"].F32
		}
		a, b := run(m), run(p)
		var md, mx float64
		for i := range a {
			md = math.Max(md, math.Abs(float64(a[i]-b[i])))
			mx = math.Max(mx, math.Abs(float64(a[i])))
		}
		if md > 1e-4*mx {
			t.Errorf("%s: prepared model differs by %g (max |logit| %g)", f, md, mx)
		}
	}
}

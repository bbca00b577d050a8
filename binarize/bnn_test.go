package binarize

import (
	"math"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

// compareBNN converts the bnn fixture with rest and compares it with the
// float model on src: top-1 of each, agreement and output SQNR.
func compareBNN(t *testing.T, rest string, src calib.Source) (*Result, *quant.Comparison) {
	t.Helper()
	m := fixtures.Model(t, "bnn")
	calibN := 200
	if slow() {
		calibN = 20
	}
	res, err := Binarize(m, calib.Sample(fixtures.FashionMNIST(t), calibN, 1), quietOpts(rest, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Trained || len(res.Binary) != 6 {
		t.Fatalf("rest %s: trained %v, binary layers %v: want the 6 trained blocks converted", rest, res.Trained, res.Binary)
	}
	c, err := quant.Compare(compile(t, m), compile(t, res.Model), src, 0)
	if err != nil {
		t.Fatal(err)
	}
	return res, c
}

// The trained Bi-Real fixture converts losslessly: with --rest fp32 its
// six binary blocks become BinaryConv nodes (Sub, Sign and BatchNorm
// folded) and every top-1 on the 1000 embedded images (100 under
// slow()) is the float model's. The logits of nearly every image equal
// the float model's to 1e-5 of their range; the few others (1 in 200
// when measured) hold an activation within float rounding of its
// threshold, whose sign the folded BatchNorm's different rounding
// flips. With --rest int8 the stem and head are int8.
func TestBNNConvert(t *testing.T) {
	data := images(t, 100)
	res, c := compareBNN(t, "fp32", data)
	ops := opCounts(res.Model)
	if ops["ai.qtool.BinaryConv"] != 6 || ops["Sign"] != 0 || ops["Sub"] != 0 || ops["Conv"] != 1 {
		t.Errorf("ops %v", ops)
	}
	t.Logf("rest fp32: float %.2f %%, binary %.2f %%, agreement %.2f %%, SQNR %.1f dB", c.FloatTop1, c.QuantTop1, c.Agreement, c.SQNR)
	if c.Agreement != 100 {
		t.Errorf("rest fp32: agreement %.2f %%, want 100 %%", c.Agreement)
	}
	fs, bs := compile(t, res.Float), compile(t, res.Model)
	out := fs.OutputNames()[0]
	exact := 0
	n := min(200, data.Len())
	for i := range n {
		it, err := data.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		x := it.Inputs["input"]
		in := map[string]*engine.Tensor{"input": engine.NewFloat32(append([]int{1}, x.Shape...), x.F32)}
		a, err := fs.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bs.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi, d := math.Inf(1), math.Inf(-1), 0.0
		for k, v := range a[out].F32 {
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
			d = math.Max(d, math.Abs(float64(v-b[out].F32[k])))
		}
		if d <= 1e-5*(hi-lo) {
			exact++
		}
	}
	t.Logf("rest fp32: %d of %d images with logits equal to 1e-5 of their range", exact, n)
	if exact < n*97/100 {
		t.Errorf("rest fp32: only %d of %d images with logits equal up to float rounding", exact, n)
	}
	res, c = compareBNN(t, "int8", data)
	var prec []string
	for _, l := range res.Layers {
		prec = append(prec, l.Precision)
	}
	if len(prec) != 8 || prec[0] != "w8a8" || prec[7] != "w8a8" {
		t.Errorf("rest int8: precisions %v", prec)
	}
	t.Logf("rest int8: float %.2f %%, binary %.2f %%, agreement %.2f %%, SQNR %.1f dB", c.FloatTop1, c.QuantTop1, c.Agreement, c.SQNR)
	if c.FloatTop1-c.QuantTop1 > 1 {
		t.Errorf("rest int8: top-1 %.2f %% against float %.2f %%", c.QuantTop1, c.FloatTop1)
	}
}

func compile(t *testing.T, m *onnxio.Model) *engine.Session {
	t.Helper()
	s, err := quant.Compile(m, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

package quant

import (
	"errors"
	"fmt"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// Comparison is how a quantized model's first output compares with the
// float model's on the same data.
type Comparison struct {
	Items int
	// Labelled says whether the items carry labels; the accuracies are
	// only set when they do.
	Labelled bool
	// FloatTop1 and QuantTop1 are the top-1 accuracies in percent (arg max
	// of the first output against the label).
	FloatTop1, QuantTop1 float64
	// Agreement is the share of items, in percent, whose top-1 is the
	// same for both models; it needs no labels.
	Agreement float64
	// SQNR is 10·log10(Σf² / Σ(f - q)²) of the first output over all
	// items and elements, in dB (+Inf when equal).
	SQNR float64
}

// Compare runs the items of src through a float session fs and a
// quantized one qs in one pass, in batches of batch items
// (calib.DefaultBatch when zero or less; items of different shapes need
// 1). Items must be all labelled or all unlabelled.
func Compare(fs, qs *engine.Session, src calib.Source, batch int) (*Comparison, error) {
	fo, qo := fs.OutputNames()[0], qs.OutputNames()[0]
	c := &Comparison{}
	var fc, qc, agree, unlabelled int
	var sig, noise float64
	if batch <= 0 {
		batch = calib.DefaultBatch(src)
	}
	err := batches(src, batch, func(in map[string]*engine.Tensor, labels []int) error {
		f, err := fs.Run(in)
		if err != nil {
			return fmt.Errorf("float model: %w", err)
		}
		q, err := qs.Run(in)
		if err != nil {
			return fmt.Errorf("quantized model: %w", err)
		}
		ft, qt := f[fo], q[qo]
		if ft.Type != onnxio.Float || qt.Type != onnxio.Float || len(ft.F32) != len(qt.F32) {
			return errors.New("quant: the models' first outputs are not float32 tensors of one size")
		}
		for k, v := range ft.F32 {
			d := float64(v) - float64(qt.F32[k])
			sig += float64(v) * float64(v)
			noise += d * d
		}
		fp, qp := Argmax(ft), Argmax(qt)
		for i, l := range labels {
			c.Items++
			if fp[i] == qp[i] {
				agree++
			}
			if l < 0 {
				unlabelled++
				continue
			}
			if fp[i] == l {
				fc++
			}
			if qp[i] == l {
				qc++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if unlabelled > 0 && unlabelled < c.Items {
		return nil, fmt.Errorf("quant: %d of %d items have no label; label all or none", unlabelled, c.Items)
	}
	pct := func(k int) float64 { return 100 * float64(k) / float64(c.Items) }
	c.Labelled = unlabelled == 0
	if c.Labelled {
		c.FloatTop1, c.QuantTop1 = pct(fc), pct(qc)
	}
	c.Agreement, c.SQNR = pct(agree), SQNR(sig, noise)
	return c, nil
}

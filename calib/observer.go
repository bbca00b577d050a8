package calib

import (
	"errors"
	"fmt"
	"math"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// Range is a calibrated float range of a tensor. It is the range the
// method chose, not adjusted to include zero: making a quantization range
// out of it (including zero, symmetric or not) is the quantizer's job.
type Range struct {
	Min, Max float32
}

// Observer accumulates the values of one tensor over many runs and
// reduces them to a Range. Observers keep summaries (extremes,
// histograms) of fixed size, never the values themselves, so their
// memory does not grow with the number of batches; Observe does not
// allocate once the observer has seen its first batch.
//
// Observe reads only float32 tensors (others are ignored) and skips NaN
// and infinite values; Calibrate counts those separately. t is not
// retained. An Observer is not safe for concurrent use.
type Observer interface {
	Observe(t *engine.Tensor)
	// Range reduces what was observed; it fails if no finite value was.
	Range() (Range, error)
}

// Method makes the observers of one calibration method: MinMax,
// Percentile, Entropy or MSE.
type Method interface {
	NewObserver() Observer
	String() string
}

// ErrNoValues is returned by Range when an observer saw no finite value.
var ErrNoValues = errors.New("no finite values observed")

func floats(t *engine.Tensor) []float32 {
	if t == nil || t.Type != onnxio.Float {
		return nil
	}
	return t.F32
}

// MinMax takes the extremes of the observed values. With MovingAverage
// it takes, as ONNX Runtime's MinMax calibrator does, each batch's
// extremes and moves the range towards them by AveragingConstant (0.01
// when zero): min += c·(batchMin - min), and likewise for max.
type MinMax struct {
	MovingAverage     bool
	AveragingConstant float64
}

func (m MinMax) String() string {
	if m.MovingAverage {
		return fmt.Sprintf("minmax (moving average %g)", m.constant())
	}
	return "minmax"
}

func (m MinMax) constant() float64 {
	if m.AveragingConstant == 0 {
		return 0.01
	}
	return m.AveragingConstant
}

// NewObserver returns an observer tracking the range.
func (m MinMax) NewObserver() Observer {
	return &minMaxObserver{moving: m.MovingAverage, c: m.constant(), lo: math.Inf(1), hi: math.Inf(-1)}
}

type minMaxObserver struct {
	moving bool
	c      float64
	lo, hi float64
	seen   bool
}

func (o *minMaxObserver) Observe(t *engine.Tensor) {
	bmin, bmax := math.Inf(1), math.Inf(-1)
	for _, v := range floats(t) {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		bmin, bmax = min(bmin, f), max(bmax, f)
	}
	if bmin > bmax {
		return
	}
	switch {
	case !o.seen || !o.moving:
		o.lo, o.hi = min(o.lo, bmin), max(o.hi, bmax)
	default:
		o.lo += o.c * (bmin - o.lo)
		o.hi += o.c * (bmax - o.hi)
	}
	o.seen = true
}

func (o *minMaxObserver) Range() (Range, error) {
	if !o.seen {
		return Range{}, ErrNoValues
	}
	return Range{float32(o.lo), float32(o.hi)}, nil
}

// Percentile clips the range to a percentile of the values, read from a
// histogram of Bins bins (DefaultBins when zero). Symmetric takes the
// Percentile-th percentile T of |x| and gives [-T, T]; otherwise the
// (100-Percentile)/2 percent cut from each side gives [lo, hi]. Percentile
// is 99.999 when zero. The result is within one bin width of the exact
// percentile of the data.
type Percentile struct {
	Percentile float64
	Bins       int
	Symmetric  bool
}

func (p Percentile) String() string {
	s := fmt.Sprintf("percentile %g", p.pct())
	if p.Symmetric {
		s += " (symmetric)"
	}
	return s
}

func (p Percentile) pct() float64 {
	if p.Percentile <= 0 || p.Percentile > 100 {
		return 99.999
	}
	return p.Percentile
}

// NewObserver returns an observer keeping the histogram.
func (p Percentile) NewObserver() Observer {
	kind := HistSigned
	if p.Symmetric {
		kind = HistAbs
	}
	return &percentileObserver{p: p, h: NewHistogram(kind, binsOr(p.Bins, DefaultBins))}
}

func binsOr(b, def int) int {
	if b <= 0 {
		return def
	}
	return b
}

type percentileObserver struct {
	p Percentile
	h *Histogram
}

func (o *percentileObserver) Observe(t *engine.Tensor) { o.h.Add(floats(t)) }

func (o *percentileObserver) Range() (Range, error) {
	if o.h.N == 0 {
		return Range{}, ErrNoValues
	}
	q := o.p.pct() / 100
	if o.p.Symmetric {
		t := float32(o.h.Quantile(q))
		return Range{-t, t}, nil
	}
	cut := (1 - q) / 2
	return Range{float32(o.h.Quantile(cut)), float32(o.h.Quantile(1 - cut))}, nil
}

// HistogramOf returns the observer's histogram (for tests and reports), or
// nil if o is not a histogram-based observer.
func HistogramOf(o Observer) *Histogram {
	switch o := o.(type) {
	case *percentileObserver:
		return o.h
	case *entropyObserver:
		return o.h
	case *mseObserver:
		return o.h
	}
	return nil
}

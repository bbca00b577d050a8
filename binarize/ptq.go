package binarize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// Thresholds say where post-training binarization puts each input
// channel's threshold t, from the layer input's values on the
// calibration data.
type Thresholds string

const (
	// Median splits each channel's values in halves: the binary
	// activation carries the most information (as many -1 as +1).
	Median Thresholds = "median"
	// Mean is each channel's mean.
	Mean Thresholds = "mean"
	// Zero is sign(x), as binary networks trained from scratch use.
	Zero Thresholds = "zero"
)

// sampleCap bounds the values an observer keeps per channel (a uniform
// sample of them all): enough for the median to within a few tenths of a
// percentile.
const sampleCap = 4096

// channelObserver keeps, per channel of axis 1, a uniform sample of the
// values (reservoir sampling, seeded: the same data give the same
// sample), their count and sum.
type channelObserver struct {
	rng    *rand.Rand
	n      []int64
	sum    []float64
	sample [][]float32
}

func (o *channelObserver) Observe(t *engine.Tensor) {
	if t.Type != onnxio.Float || len(t.Shape) < 2 {
		return
	}
	ch := t.Shape[1]
	if o.n == nil {
		o.n, o.sum, o.sample = make([]int64, ch), make([]float64, ch), make([][]float32, ch)
	}
	if len(o.n) != ch {
		return
	}
	inner := 1
	for _, d := range t.Shape[2:] {
		inner *= d
	}
	for i, v := range t.F32 {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		c := i / inner % ch
		o.n[c]++
		o.sum[c] += f
		if len(o.sample[c]) < sampleCap {
			o.sample[c] = append(o.sample[c], v)
		} else if j := o.rng.Int64N(o.n[c]); j < sampleCap {
			o.sample[c][j] = v
		}
	}
}

// Range is the sample's extremes (calib.Observer).
func (o *channelObserver) Range() (calib.Range, error) {
	r := calib.Range{Min: float32(math.Inf(1)), Max: float32(math.Inf(-1))}
	for _, s := range o.sample {
		for _, v := range s {
			r.Min, r.Max = min(r.Min, v), max(r.Max, v)
		}
	}
	if r.Min > r.Max {
		return r, calib.ErrNoValues
	}
	return r, nil
}

// activation returns per channel the threshold t and the mean distance
// β = E|x - t| (the scale of x ≈ t + β·sign(x - t)).
func (o *channelObserver) activation(th Thresholds) (t, beta []float64) {
	t, beta = make([]float64, len(o.n)), make([]float64, len(o.n))
	for c, s := range o.sample {
		if len(s) == 0 {
			continue
		}
		switch th {
		case Mean:
			t[c] = o.sum[c] / float64(o.n[c])
		case Median:
			v := slices.Clone(s)
			slices.Sort(v)
			t[c] = median(v)
		}
		for _, x := range s {
			beta[c] += math.Abs(float64(x) - t[c])
		}
		beta[c] /= float64(len(s))
	}
	return t, beta
}

// channelStats is a calib.Method whose observers are channelObservers,
// kept in the order Calibrate makes them (the order of its Result.Names).
type channelStats struct{ made *[]*channelObserver }

func (m channelStats) NewObserver() calib.Observer {
	o := &channelObserver{rng: rand.New(rand.NewPCG(1, uint64(len(*m.made))))}
	*m.made = append(*m.made, o)
	return o
}

func (channelStats) String() string { return "per-channel sample" }

// observeInputs runs src through the float model fm and returns the
// channel statistics of each tensor named.
func observeInputs(fm *onnxio.Model, tensors []string, src calib.Source, cfg calib.Config, threads int) (map[string]*channelObserver, error) {
	s, err := calib.NewSession(fm, threads)
	if err != nil {
		return nil, err
	}
	var made []*channelObserver
	res, err := calib.Calibrate(s, src, tensors, channelStats{&made}, cfg)
	if err != nil {
		return nil, fmt.Errorf("binarize: observing layer inputs: %w", err)
	}
	out := map[string]*channelObserver{}
	for i, name := range res.Names {
		out[name] = made[i]
	}
	return out, nil
}

// binarizeWeights makes l (from weighted, with its float weights w) a
// binary layer reading its input binarized at t per input channel:
// weight signs sign(W), and, with the input approximated as
// t + β·sign(x - t), multiplier mean|W·β| per output channel (sign(W)
// scaled by mean|W| per the least-squares choice, of the weights with
// each input channel's β folded in) and bias + Σ W·t (the thresholds'
// share of the output, exact away from the zero-padded borders).
func binarizeWeights(l *layer, w []float32, t, beta []float64) {
	per := len(w) / l.m
	taps := l.kh * l.kw
	outPerGroup := l.m / l.group
	l.neg = make([]bool, len(w))
	for o := range l.m {
		var abs, shift float64
		for i, x := range w[o*per : (o+1)*per] {
			c := o/outPerGroup*l.cg + i/taps
			l.neg[o*per+i] = x < 0
			abs += math.Abs(float64(x)) * beta[c]
			shift += float64(x) * t[c]
		}
		l.bias[o] += l.mult[o] * shift
		l.mult[o] *= abs / float64(per)
	}
	l.thr = t
	l.input = l.node.GetInput()[0]
}

// median returns the threshold that splits the sorted values v the most
// evenly into those below it (-1) and the rest (+1): the median, or the
// next float above it when many values equal it (after a Relu, over half
// the values are often 0, and x >= 0 would make them all +1).
func median(v []float32) float64 {
	m := v[len(v)/2]
	below, _ := slices.BinarySearch(v, m)
	atOrBelow, _ := slices.BinarySearch(v, math.Nextafter32(m, float32(math.Inf(1))))
	half := len(v) / 2
	if abs(atOrBelow-half) < abs(below-half) {
		return float64(math.Nextafter32(m, float32(math.Inf(1))))
	}
	return float64(m)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

package calib

import (
	"fmt"
	"math"

	"github.com/qtool/qtool/engine"
)

// DefaultQuantizedBins is the number of quantized levels the entropy
// method compares against (128, the TensorRT choice for int8).
const DefaultQuantizedBins = 128

// Entropy chooses the range whose quantization loses the least
// information: the TensorRT method, in the form of ONNX Runtime's entropy
// calibrator. The values go into a histogram of Bins bins centered on
// zero, [-T, T]; for every candidate window of 2i+1 bins around zero (i
// from QuantizedBins/2 to Bins/2), the window's distribution P (values
// outside it added to its end bins) is compared with Q, the window merged
// into QuantizedBins levels and spread back over P's non-empty bins, and
// the window with the smallest Kullback-Leibler divergence KL(P‖Q) gives
// the range (its edges).
//
// Bins and QuantizedBins default to 2048 and 128. ONNX Runtime's defaults
// are 128 and 128, which leave a single candidate, the whole histogram,
// so that its entropy method returns the symmetric min/max range; set
// both to 128 to get that behaviour. Unlike ONNX Runtime, qtool's
// histogram keeps its bin count as the range grows (see Histogram), and
// Q is spread as real numbers rather than truncated to integers; the
// range is clipped to the largest magnitude seen.
type Entropy struct {
	Bins, QuantizedBins int
}

// EntropyORT is the entropy method with ONNX Runtime's default settings
// (128 bins, 128 quantized bins), which give the symmetric min/max range.
var EntropyORT = Entropy{Bins: 128, QuantizedBins: 128}

func (e Entropy) String() string {
	b, q := e.bins()
	return fmt.Sprintf("entropy (%d bins, %d levels)", b, q)
}

func (e Entropy) bins() (int, int) {
	b := max(4, (binsOr(e.Bins, DefaultBins)+3)/4*4)
	q := min(max(2, binsOr(e.QuantizedBins, DefaultQuantizedBins)), b)
	return b, q
}

// NewObserver returns an observer keeping the centered histogram.
func (e Entropy) NewObserver() Observer {
	b, q := e.bins()
	return &entropyObserver{h: NewHistogram(HistCentered, b), levels: q}
}

type entropyObserver struct {
	h      *Histogram
	levels int
}

func (o *entropyObserver) Observe(t *engine.Tensor) { o.h.Add(floats(t)) }

func (o *entropyObserver) Range() (Range, error) {
	if o.h.N == 0 {
		return Range{}, ErrNoValues
	}
	if o.h.Hi == o.h.Lo {
		return Range{float32(o.h.Lo), float32(o.h.Hi)}, nil
	}
	lo, hi, _ := klThreshold(o.h, o.levels)
	// The histogram may reach past the data (it grows by doubling): no
	// edge goes beyond the largest magnitude seen, as in ONNX Runtime,
	// whose histogram ends there.
	amax := max(-o.h.Min, o.h.Max)
	return Range{float32(max(lo, -amax)), float32(min(hi, amax))}, nil
}

// klThreshold runs the search over h (a HistCentered histogram) and
// returns the chosen window's edges and its divergence.
func klThreshold(h *Histogram, levels int) (lo, hi, best float64) {
	hist := h.Counts
	nb := len(hist)
	zero := nb / 2
	half := levels / 2
	p := make([]float64, nb)
	q := make([]float64, nb)
	quant := make([]float64, levels)
	best = math.Inf(1)
	lo, hi = h.Lo, h.Hi
	for i := half; i <= zero; i++ {
		start, end := zero-i, min(zero+i+1, nb)
		sl := hist[start:end]
		n := len(sl)
		p, q := p[:n], q[:n]
		copy(p, sl)
		for _, c := range hist[:start] {
			p[0] += c
		}
		for _, c := range hist[end:] {
			p[n-1] += c
		}
		merged := n / levels
		clear(quant)
		for j := range levels {
			for _, c := range sl[j*merged : (j+1)*merged] {
				quant[j] += c
			}
		}
		for _, c := range sl[levels*merged:] {
			quant[levels-1] += c
		}
		clear(q)
		for j := range levels {
			nz := 0
			for k := j * merged; k < (j+1)*merged; k++ {
				if p[k] != 0 {
					nz++
				}
			}
			if nz == 0 {
				continue
			}
			for k := j * merged; k < (j+1)*merged; k++ {
				if p[k] != 0 {
					q[k] = quant[j] / float64(nz)
				}
			}
		}
		d := math.Inf(1)
		if smooth(p) && smooth(q) {
			d = kl(p, q)
		}
		if d < best {
			best, lo, hi = d, h.Edge(start), h.Edge(end)
		}
	}
	return lo, hi, best
}

// smooth moves a little mass (1e-4 per bin) into the empty bins of a
// distribution, taking it evenly from the others, so that KL divergence
// is finite; it reports false if every bin is empty.
func smooth(p []float64) bool {
	const eps = 1e-4
	zeros := 0
	for _, v := range p {
		if v == 0 {
			zeros++
		}
	}
	if zeros == len(p) {
		return false
	}
	eps1 := eps * float64(zeros) / float64(len(p)-zeros)
	for i, v := range p {
		if v == 0 {
			p[i] = eps
		} else {
			p[i] -= eps1
		}
	}
	return true
}

// kl is the Kullback-Leibler divergence of the distributions p and q
// (each normalised to sum 1).
func kl(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	d := 0.0
	for i := range p {
		if p[i] > 0 {
			pi, qi := p[i]/sp, q[i]/sq
			if qi <= 0 {
				return math.Inf(1)
			}
			d += pi * math.Log(pi/qi)
		}
	}
	return d
}

// MSE chooses the clipping range that minimises the mean squared error
// of quantizing the observed values to Bits bits (8 when zero; 2 to 24), as read
// from a histogram of Bins bins (DefaultBins when zero). Symmetric
// searches thresholds T for the range [-T, T] with signed levels
// ±(2^(Bits-1)-1); otherwise it searches the ranges f·[min(lo,0),
// max(hi,0)] for f in (0, 1] with unsigned levels 0..2^Bits-1 and a zero
// point, as asymmetric quantization uses them. Each of 512 candidates is
// scored by the error of four evenly spaced values per bin, weighted by
// the bin's count; values rounded to the nearest level (half to even) and
// clipped to the range.
type MSE struct {
	Bits      int
	Symmetric bool
	Bins      int
}

func (m MSE) String() string {
	s := fmt.Sprintf("mse (%d bits", m.bits())
	if m.Symmetric {
		s += ", symmetric"
	}
	return s + ")"
}

func (m MSE) bits() int {
	if m.Bits <= 0 {
		return 8
	}
	return min(max(m.Bits, 2), 24)
}

// NewObserver returns an observer keeping the histogram.
func (m MSE) NewObserver() Observer {
	kind := HistSigned
	if m.Symmetric {
		kind = HistAbs
	}
	return &mseObserver{m: m, h: NewHistogram(kind, binsOr(m.Bins, DefaultBins))}
}

type mseObserver struct {
	m MSE
	h *Histogram
}

func (o *mseObserver) Observe(t *engine.Tensor) { o.h.Add(floats(t)) }

const mseCandidates = 512

func (o *mseObserver) Range() (Range, error) {
	h := o.h
	if h.N == 0 {
		return Range{}, ErrNoValues
	}
	bits := o.m.bits()
	a, b := min(h.Min, 0), max(h.Max, 0)
	if o.m.Symmetric {
		a, b = -h.Max, h.Max
	}
	if a == b {
		return Range{float32(a), float32(b)}, nil
	}
	best, bestF := math.Inf(1), 1.0
	for k := 1; k <= mseCandidates; k++ {
		f := float64(k) / mseCandidates
		var e float64
		if o.m.Symmetric {
			e = histMSE(h, func(x float64) float64 { return qdqSym(x, f*b, bits) })
		} else {
			e = histMSE(h, func(x float64) float64 { return qdqAsym(x, f*a, f*b, bits) })
		}
		if e < best {
			best, bestF = e, f
		}
	}
	return Range{float32(bestF * a), float32(bestF * b)}, nil
}

// histMSE is the squared error of qdq summed over h, each bin standing
// for four evenly spaced values inside it (clamped to the data's extremes).
func histMSE(h *Histogram, qdq func(float64) float64) float64 {
	w := h.Width()
	var sum float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		base := h.Edge(i)
		for s := range 4 {
			x := min(max(base+(float64(s)+0.5)*w/4, h.Min), h.Max)
			d := x - qdq(x)
			sum += c / 4 * d * d
		}
	}
	return sum
}

// qdqSym quantizes x to the signed levels of bits bits over [-t, t] and
// back.
func qdqSym(x, t float64, bits int) float64 {
	qmax := math.Exp2(float64(bits-1)) - 1
	scale := t / qmax
	return min(max(math.RoundToEven(x/scale), -qmax), qmax) * scale
}

// qdqAsym quantizes x to the unsigned levels of bits bits over [lo, hi]
// (lo <= 0 <= hi) with a zero point, and back.
func qdqAsym(x, lo, hi float64, bits int) float64 {
	levels := math.Exp2(float64(bits)) - 1
	scale := (hi - lo) / levels
	zp := min(max(math.RoundToEven(-lo/scale), 0), levels)
	return (min(max(math.RoundToEven(x/scale)+zp, 0), levels) - zp) * scale
}

// ChannelRanges returns the min/max range of each slice of w along axis
// (per output channel: axis 0 for Conv weights [M, C/g, kH, kW] and for
// Gemm weights stored [N, K] with transB=1; axis 1 for MatMul weights
// [K, N]). NaN and infinite values are skipped; a channel without finite
// values gets the range {0, 0}.
func ChannelRanges(w *engine.Tensor, axis int) ([]Range, error) {
	x := floats(w)
	if x == nil {
		return nil, fmt.Errorf("calib: channel ranges need a float32 tensor, got %v", w)
	}
	if axis < 0 {
		axis += len(w.Shape)
	}
	if axis < 0 || axis >= len(w.Shape) {
		return nil, fmt.Errorf("calib: axis out of range for a weight of shape %v", w.Shape)
	}
	if len(x) != w.Len() {
		return nil, fmt.Errorf("calib: weight of shape %v holds %d values", w.Shape, len(x))
	}
	ch := w.Shape[axis]
	inner := 1
	for _, d := range w.Shape[axis+1:] {
		inner *= d
	}
	out := make([]Range, ch)
	lo, hi := make([]float32, ch), make([]float32, ch)
	seen := make([]bool, ch)
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		c := i / inner % ch
		if !seen[c] {
			lo[c], hi[c], seen[c] = v, v, true
			continue
		}
		lo[c], hi[c] = min(lo[c], v), max(hi[c], v)
	}
	for c := range out {
		out[c] = Range{lo[c], hi[c]}
	}
	return out, nil
}

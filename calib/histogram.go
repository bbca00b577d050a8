package calib

import (
	"fmt"
	"math"
)

// HistKind is the domain a Histogram covers.
type HistKind int

const (
	// HistSigned covers [Lo, Hi], growing at either end.
	HistSigned HistKind = iota
	// HistCentered covers [-T, T], growing symmetrically about zero, so
	// that zero is always the edge between the two middle bins (the
	// histogram the entropy method works on).
	HistCentered
	// HistAbs covers |x| in [0, T].
	HistAbs
)

// DefaultBins is the bin count of the histogram methods (2048, as
// TensorRT and ONNX Runtime's percentile calibrator use).
const DefaultBins = 2048

// Histogram counts values in a fixed number of equal-width bins over a
// range that grows as values outside it arrive. It grows by doubling its
// width and adding adjacent pairs of bins, which re-bins exactly (the old
// edges are edges of the new bins), so its memory is fixed at creation:
// the number of values added has no effect on it. The price is that the
// final range may be up to twice the data's, halving the resolution in
// the worst case; the first batch sets the range to the data's exactly.
// The last bin includes the top of the range, and a value counted there
// stays below that edge when the range grows.
//
// Non-finite values (NaN, ±Inf) are not counted; Add reports how many it
// skipped.
type Histogram struct {
	Kind   HistKind
	Counts []float64 // Counts[i] covers [Lo+i*w, Lo+(i+1)*w), w = (Hi-Lo)/len(Counts); the last bin includes Hi
	Lo, Hi float64
	// Min and Max are the exact extremes of the values added (of |x| for
	// HistAbs); N is how many values were counted.
	Min, Max float64
	N        int64
}

// NewHistogram returns an empty histogram of bins bins (rounded up to a
// multiple of 4, at least 4).
func NewHistogram(kind HistKind, bins int) *Histogram {
	bins = max(4, (bins+3)/4*4)
	return &Histogram{Kind: kind, Counts: make([]float64, bins), Min: math.Inf(1), Max: math.Inf(-1)}
}

// Width is the width of one bin.
func (h *Histogram) Width() float64 { return (h.Hi - h.Lo) / float64(len(h.Counts)) }

// Edge returns the left edge of bin i (Edge(len(Counts)) is Hi).
func (h *Histogram) Edge(i int) float64 {
	if i == len(h.Counts) {
		return h.Hi
	}
	return h.Lo + float64(i)*h.Width()
}

// Add counts the finite values of x and returns how many values it
// skipped for being NaN or infinite. It does not allocate.
func (h *Histogram) Add(x []float32) (skipped int) {
	bmin, bmax := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			skipped++
			continue
		}
		if h.Kind == HistAbs {
			f = math.Abs(f)
		}
		bmin, bmax = min(bmin, f), max(bmax, f)
	}
	if bmin > bmax {
		return skipped
	}
	h.cover(bmin, bmax)
	n, lo, scale, last := 0, h.Lo, 0.0, len(h.Counts)-1
	if h.Hi > h.Lo {
		scale = float64(len(h.Counts)) / (h.Hi - h.Lo)
	}
	for _, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if h.Kind == HistAbs {
			f = math.Abs(f)
		}
		i := int((f - lo) * scale)
		h.Counts[min(max(i, 0), last)]++
		n++
	}
	h.N += int64(n)
	h.Min, h.Max = min(h.Min, bmin), max(h.Max, bmax)
	return skipped
}

// cover grows the range to include [lo, hi].
func (h *Histogram) cover(lo, hi float64) {
	if h.N == 0 || h.Hi == h.Lo {
		// Empty, or all the mass so far at one point (h.Min == h.Max):
		// start afresh from the union, putting the old mass back.
		old, at := float64(h.N), h.Min
		if h.N > 0 {
			lo, hi = min(lo, at), max(hi, at)
		}
		clear(h.Counts)
		switch h.Kind {
		case HistSigned:
			h.Lo, h.Hi = lo, hi
		case HistCentered:
			t := max(math.Abs(lo), math.Abs(hi))
			h.Lo, h.Hi = -t, t
		case HistAbs:
			h.Lo, h.Hi = 0, hi
		}
		if old > 0 {
			h.Counts[h.bin(at)] += old
		}
		return
	}
	for lo < h.Lo || hi > h.Hi {
		n, w := len(h.Counts), h.Hi-h.Lo
		switch {
		case h.Kind == HistCentered:
			// Old bins 2m, 2m+1 become new bin n/4+m.
			for m := 0; m < n/2; m++ {
				h.Counts[m] = h.Counts[2*m] + h.Counts[2*m+1]
			}
			copy(h.Counts[n/4:3*n/4], h.Counts[:n/2])
			clear(h.Counts[:n/4])
			clear(h.Counts[3*n/4:])
			h.Lo, h.Hi = h.Lo*2, h.Hi*2
		case hi > h.Hi || h.Kind == HistAbs:
			for m := 0; m < n/2; m++ {
				h.Counts[m] = h.Counts[2*m] + h.Counts[2*m+1]
			}
			clear(h.Counts[n/2:])
			h.Hi = h.Lo + 2*w
		default: // grow downwards
			for m := n/2 - 1; m >= 0; m-- {
				h.Counts[n/2+m] = h.Counts[2*m] + h.Counts[2*m+1]
			}
			clear(h.Counts[:n/2])
			h.Lo = h.Hi - 2*w
		}
	}
}

func (h *Histogram) bin(f float64) int {
	if h.Hi == h.Lo {
		return 0
	}
	i := int((f - h.Lo) / (h.Hi - h.Lo) * float64(len(h.Counts)))
	return min(max(i, 0), len(h.Counts)-1)
}

// Quantile returns the value below which a fraction q (0..1) of the
// counted values lie, interpolating linearly inside the bin where the
// cumulative count crosses q·N, and clamped to the exact Min and Max. Its
// error against the exact quantile of the data is at most one bin width.
func (h *Histogram) Quantile(q float64) float64 {
	if h.N == 0 {
		return math.NaN()
	}
	target := min(max(q, 0), 1) * float64(h.N)
	cum := 0.0
	for i, c := range h.Counts {
		if c > 0 && cum+c >= target {
			v := h.Edge(i) + (target-cum)/c*h.Width()
			return min(max(v, h.Min), h.Max)
		}
		cum += c
	}
	return h.Max
}

func (h *Histogram) String() string {
	return fmt.Sprintf("histogram of %d values in %d bins over [%g, %g]", h.N, len(h.Counts), h.Lo, h.Hi)
}

package calib

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qtool/qtool/engine"
)

// testData returns n values: a Laplace-like bulk and a few large
// outliers, deterministic.
func testData(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n)
	for i := range x {
		v := r.ExpFloat64() * 0.5
		if r.IntN(2) == 0 {
			v = -v
		}
		if r.IntN(1000) == 0 {
			v *= 20
		}
		x[i] = float32(v + 0.3)
	}
	return x
}

func batches(x []float32, size int) []*engine.Tensor {
	var out []*engine.Tensor
	for i := 0; i < len(x); i += size {
		b := x[i:min(i+size, len(x))]
		out = append(out, engine.NewFloat32([]int{len(b)}, b))
	}
	return out
}

func observeAll(m Method, x []float32, size int) Observer {
	o := m.NewObserver()
	for _, b := range batches(x, size) {
		o.Observe(b)
	}
	return o
}

func TestMinMaxExact(t *testing.T) {
	x := testData(10000, 1)
	x[17] = float32(math.NaN())
	x[99] = float32(math.Inf(1))
	x[500] = float32(math.Inf(-1))
	r, err := observeAll(MinMax{}, x, 333).Range()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if r != (Range{lo, hi}) {
		t.Errorf("minmax %v, want [%v, %v]", r, lo, hi)
	}
	// Moving average, ONNX Runtime's formula, in float64.
	var mlo, mhi float64
	for i, b := range batches(x, 333) {
		blo, bhi := math.Inf(1), math.Inf(-1)
		for _, v := range b.F32 {
			if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
				blo, bhi = min(blo, f), max(bhi, f)
			}
		}
		if i == 0 {
			mlo, mhi = blo, bhi
		} else {
			mlo += 0.01 * (blo - mlo)
			mhi += 0.01 * (bhi - mhi)
		}
	}
	r, _ = observeAll(MinMax{MovingAverage: true}, x, 333).Range()
	if r != (Range{float32(mlo), float32(mhi)}) {
		t.Errorf("moving average %v, want [%v, %v]", r, mlo, mhi)
	}
	if _, err := (MinMax{}).NewObserver().Range(); err != ErrNoValues {
		t.Errorf("empty observer: %v", err)
	}
}

// sortedPercentile is NumPy's default (linear) percentile.
func sortedPercentile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

func TestPercentileAgainstSort(t *testing.T) {
	x := testData(200000, 2)
	// Batches growing in range, so the histogram re-bins several times.
	for i := range 5000 {
		x[i] *= 0.01
	}
	var s, abs []float64
	for _, v := range x {
		s = append(s, float64(v))
		abs = append(abs, math.Abs(float64(v)))
	}
	slices.Sort(s)
	slices.Sort(abs)
	for _, p := range []float64{99.999, 99.9, 99, 90} {
		for _, sym := range []bool{false, true} {
			o := observeAll(Percentile{Percentile: p, Symmetric: sym}, x, 1000)
			r, err := o.Range()
			if err != nil {
				t.Fatal(err)
			}
			h := HistogramOf(o)
			tol := h.Width() * 1.001
			var wlo, whi float64
			if sym {
				whi = sortedPercentile(abs, p/100)
				wlo = -whi
			} else {
				cut := (1 - p/100) / 2
				wlo, whi = sortedPercentile(s, cut), sortedPercentile(s, 1-cut)
			}
			if math.Abs(float64(r.Min)-wlo) > tol || math.Abs(float64(r.Max)-whi) > tol {
				t.Errorf("percentile %g symmetric=%v: %v, want [%g, %g] ± %g", p, sym, r, wlo, whi, tol)
			}
		}
	}
}

// Re-binning as the range grows gives the counts that binning every
// value directly into the final range gives (dyadic values, so no edge
// is in doubt). The exception, as documented: a value at the top of the
// range when it came (1 here) stays in the bin below that edge.
func TestHistogramGrowthExact(t *testing.T) {
	for _, kind := range []HistKind{HistSigned, HistCentered, HistAbs} {
		r := rand.New(rand.NewPCG(3, uint64(kind)))
		h := NewHistogram(kind, 64)
		var all []float32
		for b := range 50 {
			x := make([]float32, 100)
			scale := float64(int(1) << (b / 10))
			for i := range x {
				x[i] = float32((math.Floor((r.Float64()*2-0.7)*64) + 0.5) / 64 * scale) // never on a bin edge
			}
			if b == 0 {
				for i := range x {
					x[i] = min(max(x[i], -1), 1)
				}
				x[0], x[1] = -1, 1 // a dyadic initial range
			}
			h.Add(x)
			all = append(all, x...)
		}
		want := make([]float64, len(h.Counts))
		for _, v := range all {
			f := float64(v)
			if kind == HistAbs {
				f = math.Abs(f)
			}
			pos := (f - h.Lo) / (h.Hi - h.Lo) * float64(len(want))
			i := int(pos)
			if f == 1 {
				i = int(math.Ceil(pos)) - 1
			}
			want[min(i, len(want)-1)]++
		}
		if !slices.Equal(h.Counts, want) || h.N != int64(len(all)) {
			t.Errorf("kind %d: grown histogram differs from direct binning over [%g, %g]:\n%v\n%v", kind, h.Lo, h.Hi, h.Counts, want)
		}
		if len(h.Counts) != 64 {
			t.Errorf("kind %d: histogram grew to %d bins", kind, len(h.Counts))
		}
	}
}

// bruteKL is the entropy search written per value rather than per
// histogram bin: for each candidate window, every value is put in its
// window bin (clipped to the ends) for P; Q merges the window's own
// values into levels and spreads them over P's non-empty bins.
func bruteKL(x []float32, lo, hi float64, bins, levels int) (float64, float64) {
	w := (hi - lo) / float64(bins)
	binOf := func(v float64) int { return min(int((v-lo)/w), bins-1) }
	best, blo, bhi := math.Inf(1), 0.0, 0.0
	for i := levels / 2; i <= bins/2; i++ {
		start, end := bins/2-i, min(bins/2+i+1, bins)
		n := end - start
		p := make([]float64, n)
		in := make([]float64, n)
		for _, v := range x {
			k := binOf(float64(v))
			if k >= start && k < end {
				in[k-start]++
			}
			p[min(max(k, start), end-1)-start]++
		}
		m := n / levels
		q := make([]float64, n)
		for j := range levels {
			last := (j + 1) * m
			if j == levels-1 {
				last = n
			}
			var mass float64
			nz := 0
			for k := j * m; k < last; k++ {
				mass += in[k]
				if k < (j+1)*m && p[k] != 0 {
					nz++
				}
			}
			for k := j * m; k < (j+1)*m; k++ {
				if p[k] != 0 {
					q[k] = mass / float64(nz)
				}
			}
		}
		sm := func(d []float64) {
			z := 0
			for _, v := range d {
				if v == 0 {
					z++
				}
			}
			for k, v := range d {
				if v == 0 {
					d[k] = 1e-4
				} else {
					d[k] -= 1e-4 * float64(z) / float64(n-z)
				}
			}
		}
		sm(p)
		sm(q)
		var sp, sq, div float64
		for k := range p {
			sp += p[k]
			sq += q[k]
		}
		for k := range p {
			div += p[k] / sp * math.Log((p[k]/sp)/(q[k]/sq))
		}
		if div < best {
			best, blo, bhi = div, lo+float64(start)*w, lo+float64(end)*w
		}
	}
	return blo, bhi
}

func TestEntropyAgainstBruteForce(t *testing.T) {
	x := testData(3000, 4)
	for _, c := range []struct{ bins, levels int }{{256, 32}, {128, 16}, {64, 64}} {
		o := observeAll(Entropy{Bins: c.bins, QuantizedBins: c.levels}, x, len(x))
		r, err := o.Range()
		if err != nil {
			t.Fatal(err)
		}
		h := HistogramOf(o)
		lo, hi := bruteKL(x, h.Lo, h.Hi, c.bins, c.levels)
		if r != (Range{float32(lo), float32(hi)}) {
			t.Errorf("%d bins, %d levels: %v, brute force [%g, %g]", c.bins, c.levels, r, lo, hi)
		}
		if c.bins == c.levels && r != (Range{float32(h.Lo), float32(h.Hi)}) {
			t.Errorf("%d bins = levels should give the whole range %v, got %v", c.bins, h, r)
		}
	}
	// ONNX Runtime's settings give the symmetric min/max range.
	r, _ := observeAll(EntropyORT, x, 500).Range()
	var amax float64
	for _, v := range x {
		amax = max(amax, math.Abs(float64(v)))
	}
	if r != (Range{float32(-amax), float32(amax)}) {
		t.Errorf("EntropyORT: %v, want ±%g", r, amax)
	}
	// The defaults clip the outliers: the range is well inside min/max.
	r, _ = observeAll(Entropy{}, testData(100000, 5), 5000).Range()
	mm, _ := observeAll(MinMax{}, testData(100000, 5), 5000).Range()
	if !(r.Max < mm.Max/2 && r.Max > 1) {
		t.Errorf("entropy range %v, minmax %v: expected clipping of the outliers", r, mm)
	}
}

func dataMSE(x []float32, qdq func(float64) float64) float64 {
	var s float64
	for _, v := range x {
		d := float64(v) - qdq(float64(v))
		s += d * d
	}
	return s / float64(len(x))
}

// The MSE threshold does as well, on the data itself, as the best of a
// fine brute-force grid (within 2%).
func TestMSEAgainstGrid(t *testing.T) {
	x := testData(8000, 6)
	for _, bits := range []int{8, 4} {
		for _, sym := range []bool{true, false} {
			r, err := observeAll(MSE{Bits: bits, Symmetric: sym}, x, 700).Range()
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range x {
				lo, hi = min(lo, float64(v)), max(hi, float64(v))
			}
			lo, hi = min(lo, 0), max(hi, 0)
			amax := max(-lo, hi)
			q := func(f float64) func(float64) float64 {
				if sym {
					return func(v float64) float64 { return qdqSym(v, f*amax, bits) }
				}
				return func(v float64) float64 { return qdqAsym(v, f*lo, f*hi, bits) }
			}
			best := math.Inf(1)
			for k := 1; k <= 500; k++ {
				best = min(best, dataMSE(x, q(float64(k)/500)))
			}
			var got float64
			if sym {
				got = dataMSE(x, func(v float64) float64 { return qdqSym(v, float64(r.Max), bits) })
			} else {
				got = dataMSE(x, func(v float64) float64 { return qdqAsym(v, float64(r.Min), float64(r.Max), bits) })
			}
			if got > best*1.02 {
				t.Errorf("bits %d symmetric %v: range %v has MSE %g, grid best %g", bits, sym, r, got, best)
			}
			if bits == 4 && float64(r.Max) > hi*0.9 {
				t.Errorf("bits %d symmetric %v: range %v does not clip (max %g)", bits, sym, r, hi)
			}
		}
	}
}

// Observers keep a fixed-size summary: after the first batch, observing
// allocates nothing, and 1000 batches (of growing range) leave the
// histograms at their bin count.
func TestObserversBoundedMemory(t *testing.T) {
	for _, m := range []Method{MinMax{}, MinMax{MovingAverage: true}, Percentile{}, Entropy{}, MSE{}} {
		o := m.NewObserver()
		x := testData(4096, 8)
		b := engine.NewFloat32([]int{len(x)}, x)
		o.Observe(b)
		k := 0
		allocs := testing.AllocsPerRun(1000, func() {
			k++
			for i := range 8 {
				x[(k*8+i)%len(x)] *= 1.01 // the range keeps growing
			}
			o.Observe(b)
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per Observe", m, allocs)
		}
		if h := HistogramOf(o); h != nil && len(h.Counts) != DefaultBins {
			t.Errorf("%v: %d bins after 1000 batches", m, len(h.Counts))
		}
		if _, err := o.Range(); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
}

func TestChannelRanges(t *testing.T) {
	w := engine.NewFloat32([]int{2, 3, 2}, []float32{1, -2, 3, 4, 5, 6, -7, 8, 9, 10, 11, float32(math.NaN())})
	got, err := ChannelRanges(w, 0)
	if err != nil || !slices.Equal(got, []Range{{-2, 6}, {-7, 11}}) {
		t.Errorf("axis 0: %v %v", got, err)
	}
	got, err = ChannelRanges(w, -1)
	if err != nil || !slices.Equal(got, []Range{{-7, 11}, {-2, 10}}) {
		t.Errorf("axis -1: %v %v", got, err)
	}
	if _, err := ChannelRanges(w, 3); err == nil {
		t.Error("axis 3 accepted")
	}
}

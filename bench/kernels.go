package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/qtool/qtool/kernels"
)

// KernelRow is one line of `qtool bench --kernels`: a kernel family on one
// path and shape, against the ceiling measured in the same run. Its JSON
// field names are a contract later reports rely on.
type KernelRow struct {
	Family string `json:"family"` // fp32; the integer and binary families add theirs
	Path   string `json:"path"`   // generic, avx2, avx512, neon
	Shape  string `json:"shape"`  // e.g. "gemm 1024x1024x1024"
	// GOPS counts a multiply-accumulate as two operations.
	GOPS float64 `json:"gops"`
	// CeilingGOPS is the path's register-only FMA loop, measured in the
	// same run; 0 where the path has none (generic).
	CeilingGOPS float64 `json:"ceiling_gops"`
	Efficiency  float64 `json:"efficiency"` // GOPS / CeilingGOPS, 0 without a ceiling
	VsFP32      float64 `json:"vs_fp32"`    // GOPS / the best fp32 row of the same shape
	Ms          float64 `json:"ms"`         // best time of one call
}

// KernelOptions chooses what BenchKernels measures.
type KernelOptions struct {
	// Paths defaults to every path this CPU supports.
	Paths []kernels.Path
	// Shapes are GEMM sizes {M, N, K}; default DefaultShapes.
	Shapes [][3]int
	// Rounds alternate the paths this many times so machine drift hits all
	// alike; the best time of all rounds counts. Default 3.
	Rounds int
	// MinTime is how long each measurement repeats at least (default
	// 200 ms); a single call longer than that is measured once.
	MinTime time.Duration
	// Families chooses the families measured (fp32 and those in
	// familyBenches); default all. Paths applies to fp32; the other
	// families run every path they support.
	Families []string
}

// DefaultShapes are the GEMMs BenchKernels measures unless told: a large
// square one, a conv-like one, and two from real convolution layers (M
// output pixels, N output channels, K = input channels × taps): the
// PP-OCRv4 detector's 3x3 96->24 convolution on 80x80 and the fixture
// CNN's 3x3 16->16 on 28x28.
var DefaultShapes = [][3]int{{1024, 1024, 1024}, {256, 3136, 576}, {6400, 24, 864}, {784, 16, 144}}

// familyBench measures one kernel family beside fp32 on each path it
// supports. Files kernels_<family>.go register theirs in init.
type familyBench struct {
	family string
	run    func(opt KernelOptions, rng *rand.Rand) ([]KernelRow, error)
}

var familyBenches []familyBench

func wants(opt KernelOptions, family string) bool {
	return len(opt.Families) == 0 || slices.Contains(opt.Families, family)
}

// fillVsFP32 sets each row's VsFP32 to its GOPS over the best fp32 row of
// the same shape (0 when the run has none).
func fillVsFP32(rows []KernelRow) {
	best := map[string]float64{}
	for _, r := range rows {
		if r.Family == "fp32" {
			best[r.Shape] = max(best[r.Shape], r.GOPS)
		}
	}
	for i := range rows {
		if b := best[rows[i].Shape]; b > 0 {
			rows[i].VsFP32 = rows[i].GOPS / b
		}
	}
}

// BenchKernels measures the kernel families single-threaded, on every path
// side by side, with each path's FMA ceiling measured in the same rounds.
// It leaves the active kernel path as it found it.
func BenchKernels(opt KernelOptions) ([]KernelRow, error) {
	if len(opt.Paths) == 0 {
		opt.Paths = kernels.SupportedPaths()
	}
	if len(opt.Shapes) == 0 {
		opt.Shapes = DefaultShapes
	}
	if opt.Rounds <= 0 {
		opt.Rounds = 3
	}
	if opt.MinTime <= 0 {
		opt.MinTime = 200 * time.Millisecond
	}
	for _, p := range opt.Paths {
		if ok, why := kernels.Supported(p); !ok {
			return nil, fmt.Errorf("kernel path %v: %s", p, why)
		}
	}
	active := kernels.ActivePath()
	defer kernels.SetPath(active)

	type key struct {
		p kernels.Path
		s int
	}
	best := map[key]time.Duration{}
	ceiling := map[kernels.Path]float64{}
	rng := rand.New(rand.NewPCG(1, 2))
	if !wants(opt, "fp32") {
		opt.Paths = nil
	}
	for round := 0; round < opt.Rounds; round++ {
		for _, p := range opt.Paths {
			if err := kernels.SetPath(p); err != nil {
				return nil, err
			}
			ceiling[p] = max(ceiling[p], peakGOPS(p, opt.MinTime))
			for si, s := range opt.Shapes {
				d := timeSgemm(s, opt.MinTime, rng)
				if b, ok := best[key{p, si}]; !ok || d < b {
					best[key{p, si}] = d
				}
			}
		}
	}
	var rows []KernelRow
	for _, p := range opt.Paths {
		for si, s := range opt.Shapes {
			rows = append(rows, gemmRow("fp32", p.String(), s, best[key{p, si}], ceiling[p]))
		}
	}
	for _, fb := range familyBenches {
		if wants(opt, fb.family) {
			fr, err := fb.run(opt, rng)
			if err != nil {
				return nil, fmt.Errorf("%s kernels: %w", fb.family, err)
			}
			rows = append(rows, fr...)
		}
	}
	fillVsFP32(rows)
	return rows, nil
}

// gemmVariant is one configuration a family is measured in on each of its
// paths: a suffix for the rows' path name ("" or "/b32", say), which paths
// have it (nil: all), and the best time of one GEMM of a shape with
// weights packed for the active path.
type gemmVariant struct {
	suffix string
	on     func(path string) bool
	time   func(s [3]int, minTime time.Duration, rng *rand.Rand) time.Duration
}

// benchGemmFamily measures the variants on every supported path of f,
// alternating the paths over opt.Rounds rounds with each path's ceiling
// (ceiling(path, minTime), 0 for none) measured in the same rounds, and
// returns a row per variant, path and shape. It leaves f's active path
// as it found it.
func benchGemmFamily(opt KernelOptions, rng *rand.Rand, family string, f *kernels.Family,
	ceiling func(path string, minTime time.Duration) float64, variants []gemmVariant) ([]KernelRow, error) {
	active := f.Active()
	defer f.Set(active)
	paths := f.SupportedPaths()
	type key struct {
		p    string
		v, s int
	}
	best := map[key]time.Duration{}
	ceil := map[string]float64{}
	for round := 0; round < opt.Rounds; round++ {
		for _, p := range paths {
			if err := f.Set(p); err != nil {
				return nil, err
			}
			ceil[p] = max(ceil[p], ceiling(p, opt.MinTime))
			for vi, v := range variants {
				if v.on != nil && !v.on(p) {
					continue
				}
				for si, s := range opt.Shapes {
					d := v.time(s, opt.MinTime, rng)
					if b, ok := best[key{p, vi, si}]; !ok || d < b {
						best[key{p, vi, si}] = d
					}
				}
			}
		}
	}
	var rows []KernelRow
	for vi, v := range variants {
		for _, p := range paths {
			if v.on != nil && !v.on(p) {
				continue
			}
			for si, s := range opt.Shapes {
				rows = append(rows, gemmRow(family, p+v.suffix, s, best[key{p, vi, si}], ceil[p]))
			}
		}
	}
	return rows, nil
}

// gemmRow is the KernelRow of an M×N×K GEMM taking d.
func gemmRow(family, path string, s [3]int, d time.Duration, ceiling float64) KernelRow {
	r := KernelRow{
		Family:      family,
		Path:        path,
		Shape:       fmt.Sprintf("gemm %dx%dx%d", s[0], s[1], s[2]),
		GOPS:        2 * float64(s[0]) * float64(s[1]) * float64(s[2]) / d.Seconds() / 1e9,
		CeilingGOPS: ceiling,
		Ms:          float64(d.Nanoseconds()) / 1e6,
	}
	if r.CeilingGOPS > 0 {
		r.Efficiency = r.GOPS / r.CeilingGOPS
	}
	return r
}

// peakGOPS runs the path's FMA loop for at least minTime and returns its
// best rate.
func peakGOPS(p kernels.Path, minTime time.Duration) float64 {
	if kernels.PeakFLOP(p, 1) == 0 {
		return 0
	}
	return bestRate(minTime, func() float64 { return kernels.PeakFLOP(p, 1<<14) })
}

// bestRate runs op (a register-only loop returning the operations it
// did) for at least minTime and returns the best rate of one call in
// Gop/s: like a kernel's best time, so a busy machine lowers neither the
// ceiling nor the kernel more than the other.
func bestRate(minTime time.Duration, op func() float64) float64 {
	best := 0.0
	for start := time.Now(); time.Since(start) < minTime; {
		t := time.Now()
		ops := op()
		best = max(best, ops/time.Since(t).Seconds()/1e9)
	}
	return best
}

// bestTime returns the best time of run, called once to warm caches and
// pools and then repeated for at least minTime.
func bestTime(minTime time.Duration, run func()) time.Duration {
	once := func() time.Duration {
		t := time.Now()
		run()
		return time.Since(t)
	}
	once()
	best := once()
	for total := best; total < minTime; {
		d := once()
		total += d
		best = min(best, d)
	}
	return best
}

// timeSgemm returns the best time of one m×n×k Sgemm with B packed once,
// as the engine uses weights, repeated for at least minTime.
func timeSgemm(s [3]int, minTime time.Duration, rng *rand.Rand) time.Duration {
	m, n, k := s[0], s[1], s[2]
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = rng.Float32()*2 - 1
	}
	for i := range b {
		b[i] = rng.Float32()*2 - 1
	}
	pb := kernels.PackB(k, n, b, n, false).Operand()
	return bestTime(minTime, func() {
		kernels.Sgemm(m, n, k, kernels.Dense(a, k, false), pb, c, n, nil, 1)
	})
}

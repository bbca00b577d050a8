package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// ModelOptions says how BenchModel runs a model.
type ModelOptions struct {
	Batch   int                     // size for a symbolic first dimension; default 1
	Shapes  map[string]onnxio.Shape // full input shapes by name, overriding Batch
	Threads int                     // engine threads; 0 means GOMAXPROCS
	Warmup  int                     // untimed runs first; default 3
	Runs    int                     // timed runs; default 20
	Seed    uint64                  // for the random inputs
}

// ModelResult is `qtool bench MODEL --json`. Latencies are per Run call.
type ModelResult struct {
	Model      string           `json:"model"`
	Inputs     map[string][]int `json:"inputs"`
	Threads    int              `json:"threads"`
	Runs       int              `json:"runs"`
	MinMs      float64          `json:"min_ms"`
	P50Ms      float64          `json:"p50_ms"`
	P90Ms      float64          `json:"p90_ms"`
	MaxMs      float64          `json:"max_ms"`
	Throughput float64          `json:"items_per_s"` // batch items per second at the median latency
	KernelPath string           `json:"kernel_path"`
	CPU        string           `json:"cpu"`
	GoVersion  string           `json:"go"`
}

// BenchModel compiles m once and times Run on seeded random inputs.
func BenchModel(m *onnxio.Model, opt ModelOptions) (*ModelResult, error) {
	if opt.Batch <= 0 {
		opt.Batch = 1
	}
	if opt.Warmup < 0 || opt.Runs < 0 {
		return nil, fmt.Errorf("warm-up and run counts must not be negative")
	}
	if opt.Warmup == 0 {
		opt.Warmup = 3
	}
	if opt.Runs == 0 {
		opt.Runs = 20
	}
	if opt.Threads <= 0 {
		opt.Threads = runtime.GOMAXPROCS(0)
	}
	s, err := engine.Compile(m, engine.Options{Threads: opt.Threads})
	if err != nil {
		return nil, err
	}
	inputs, shapes, err := RandomInputs(s, opt.Batch, opt.Shapes, opt.Seed)
	if err != nil {
		return nil, err
	}
	for i := 0; i < opt.Warmup; i++ {
		if _, err := s.Run(inputs); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, opt.Runs)
	for i := range lat {
		t := time.Now()
		if _, err := s.Run(inputs); err != nil {
			return nil, err
		}
		lat[i] = time.Since(t)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	batch := 1
	for _, sh := range shapes {
		if len(sh) > 0 {
			batch = max(batch, sh[0])
		}
	}
	return &ModelResult{
		Model:      m.Path,
		Inputs:     shapes,
		Threads:    opt.Threads,
		Runs:       opt.Runs,
		MinMs:      ms(lat[0]),
		P50Ms:      ms(pct(0.5)),
		P90Ms:      ms(pct(0.9)),
		MaxMs:      ms(lat[len(lat)-1]),
		Throughput: float64(batch) / pct(0.5).Seconds(),
		KernelPath: kernels.ActivePath().String(),
		CPU:        kernels.DetectCPU().Brand,
		GoVersion:  runtime.Version(),
	}, nil
}

// RandomInputs makes seeded inputs for every input of s: floats uniform
// in [0, 1), integers and booleans zero. A symbolic first dimension takes
// batch; any other symbolic size must come from shapes.
func RandomInputs(s *engine.Session, batch int, shapes map[string]onnxio.Shape, seed uint64) (map[string]*engine.Tensor, map[string][]int, error) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	ins := map[string]*engine.Tensor{}
	used := map[string][]int{}
	for _, vi := range s.Inputs() {
		var shape []int
		if given, ok := shapes[vi.Name]; ok {
			ints, known := given.Ints()
			if !known {
				return nil, nil, fmt.Errorf("--shape %s: give every size as a number", vi.Name)
			}
			for _, d := range ints {
				shape = append(shape, int(d))
			}
		} else {
			if vi.Shape == nil {
				return nil, nil, fmt.Errorf("input %q has an unknown rank; give its shape with --shape %s=D0,D1,...", vi.Name, vi.Name)
			}
			shape = slices.Clone(vi.Shape)
			for i, d := range shape {
				switch {
				case d >= 0:
				case i == 0:
					shape[i] = batch
				default:
					return nil, nil, fmt.Errorf("input %q has a symbolic size at dimension %d (%v); give its shape with --shape %s=D0,D1,...", vi.Name, i, vi.Shape, vi.Name)
				}
			}
		}
		t, err := engine.Zeros(vi.Type, shape)
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: %w", vi.Name, err)
		}
		for i := range t.F32 {
			t.F32[i] = rng.Float32()
		}
		ins[vi.Name] = t
		used[vi.Name] = shape
	}
	for name := range shapes {
		if _, ok := ins[name]; !ok {
			return nil, nil, fmt.Errorf("--shape %s: the model has no input of that name", name)
		}
	}
	return ins, used, nil
}

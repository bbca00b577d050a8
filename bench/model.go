package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/ort"
	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// ModelOptions says how BenchModels runs models.
type ModelOptions struct {
	Batch   int                     // size for a symbolic first dimension; default 1
	Shapes  map[string]onnxio.Shape // full input shapes by name, overriding Batch
	Threads int                     // engine (and ONNX Runtime intra-op) threads; 0 means GOMAXPROCS
	Warmup  int                     // untimed runs of each first; default 3
	Runs    int                     // timed runs of each; default 20
	Seed    uint64                  // for the random inputs
	// ORT, when set, is the path of a libonnxruntime shared library: every
	// model then also runs through ONNX Runtime, on the same inputs and in
	// the same alternation (needs a build with -tags ort).
	ORT string
}

// ModelReport is `qtool bench MODEL... --json`: where and how the models
// ran, and one result per model and runtime.
type ModelReport struct {
	Machine Machine          `json:"machine"`
	Threads int              `json:"threads"`
	Batch   int              `json:"batch"` // largest first dimension of the inputs
	Warmup  int              `json:"warmup"`
	Runs    int              `json:"runs"`
	Seed    uint64           `json:"seed"`
	Inputs  map[string][]int `json:"inputs"`
	// ORTVersion is the ONNX Runtime library's version when --ort ran it.
	ORTVersion string        `json:"ort_version,omitempty"`
	Results    []ModelResult `json:"results"`
}

// ModelResult is one model on one runtime. Latencies are per run, in
// milliseconds; p50 is the upper median.
type ModelResult struct {
	Model      string  `json:"model"`
	Runtime    string  `json:"runtime"` // "qtool" or "onnxruntime"
	MinMs      float64 `json:"min_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	MaxMs      float64 `json:"max_ms"`
	Throughput float64 `json:"items_per_s"` // batch items per second at the median latency
	// MedianRatio and BestRatio are P50Ms and MinMs over the first
	// result's: below 1 is faster than the first model.
	MedianRatio float64 `json:"median_ratio"`
	BestRatio   float64 `json:"best_ratio"`
}

// Machine says where a benchmark ran, so that runs on different machines
// compare: the CPU and its features, the kernel path dispatch chose for
// each family, and the Go build.
type Machine struct {
	CPU        kernels.CPU       `json:"cpu"`
	Kernels    map[string]string `json:"kernels"`
	Go         string            `json:"go"`
	OS         string            `json:"goos"`
	Arch       string            `json:"goarch"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	// Qtool is qtool's version; the command fills it in.
	Qtool string `json:"qtool,omitempty"`
}

// ThisMachine describes the machine this process runs on.
func ThisMachine() Machine {
	return Machine{
		CPU:        kernels.DetectCPU(),
		Kernels:    kernels.ActivePaths(),
		Go:         runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
}

// contender is one model on one runtime, as BenchModels times it.
type contender struct {
	model, runtime string
	run            func() error
}

// BenchModels compiles every model once and times them side by side on
// the same seeded random inputs (made for the first model; the others
// must take the same inputs): after warm-up, one run of each in turn, so
// that drift in the machine's speed hits all alike. With opt.ORT each
// model also runs through ONNX Runtime, right after its qtool run.
func BenchModels(models []*onnxio.Model, opt ModelOptions) (*ModelReport, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("no model to benchmark")
	}
	if err := runDefaults(&opt.Batch, &opt.Warmup, &opt.Runs, &opt.Threads); err != nil {
		return nil, err
	}
	var lib *ort.Library
	if opt.ORT != "" {
		var err error
		if lib, err = ort.Open(opt.ORT); err != nil {
			return nil, err
		}
	}
	sessions := make([]*engine.Session, len(models))
	for i, m := range models {
		s, err := engine.Compile(m, engine.Options{Threads: opt.Threads})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		sessions[i] = s
	}
	inputs, shapes, err := RandomInputs(sessions[0], opt.Batch, opt.Shapes, opt.Seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", models[0].Path, err)
	}
	for i, s := range sessions[1:] {
		if err := sameInputs(models[0].Path, models[i+1].Path, s, inputs); err != nil {
			return nil, err
		}
	}
	r := &ModelReport{Machine: ThisMachine(), Threads: opt.Threads, Batch: 1, Warmup: opt.Warmup, Runs: opt.Runs,
		Seed: opt.Seed, Inputs: shapes}
	for _, sh := range shapes {
		if len(sh) > 0 {
			r.Batch = max(r.Batch, sh[0])
		}
	}
	var ortRuns []*ort.Session
	if lib != nil {
		r.ORTVersion = lib.Version()
		if ortRuns, err = ortSessions(lib, models, sessions[0], inputs, opt.Threads); err != nil {
			return nil, err
		}
		defer func() {
			for _, s := range ortRuns {
				s.Close()
			}
		}()
	}
	var cs []contender
	for i, m := range models {
		s := sessions[i]
		cs = append(cs, contender{model: m.Path, runtime: "qtool", run: func() error {
			_, err := s.Run(inputs)
			return err
		}})
		if ortRuns != nil {
			cs = append(cs, contender{model: m.Path, runtime: "onnxruntime", run: ortRuns[i].Run})
		}
	}
	start := time.Now()
	lat, err := alternate(cs, opt.Warmup, opt.Runs, func() time.Duration { return time.Since(start) })
	if err != nil {
		return nil, err
	}
	r.Results = summarize(cs, lat, r.Batch)
	return r, nil
}

// sameInputs checks that the session s of model path takes the inputs
// made for the first model: the same names, element types and sizes.
func sameInputs(first, path string, s *engine.Session, inputs map[string]*engine.Tensor) error {
	var want, got []string
	for name := range inputs {
		want = append(want, name)
	}
	for _, vi := range s.Inputs() {
		got = append(got, vi.Name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return fmt.Errorf("%s takes inputs %v, but the first model %s takes %v: models benchmarked together run on the same inputs, so their input names must match", path, got, first, want)
	}
	for _, vi := range s.Inputs() {
		t := inputs[vi.Name]
		fits := vi.Type == t.Type && (vi.Shape == nil || len(vi.Shape) == len(t.Shape))
		for i := 0; fits && vi.Shape != nil && i < len(vi.Shape); i++ {
			fits = vi.Shape[i] < 0 || vi.Shape[i] == t.Shape[i]
		}
		if !fits {
			return fmt.Errorf("%s: input %q is %s%v, but the first model %s gets %s%v: models benchmarked together run on the same inputs",
				path, vi.Name, onnxio.DataTypeName(vi.Type), vi.Shape, first, onnxio.DataTypeName(t.Type), t.Shape)
		}
	}
	return nil
}

// alternate runs every contender warmup times untimed and then runs times
// timed, one run of each in turn (A B C A B C ...), and returns each one's
// run times. now reads a monotonic clock.
func alternate(cs []contender, warmup, runs int, now func() time.Duration) ([][]time.Duration, error) {
	lat := make([][]time.Duration, len(cs))
	for round := 0; round < warmup+runs; round++ {
		for i, c := range cs {
			t := now()
			if err := c.run(); err != nil {
				return nil, fmt.Errorf("%s (%s): %w", c.model, c.runtime, err)
			}
			if round >= warmup {
				lat[i] = append(lat[i], now()-t)
			}
		}
	}
	return lat, nil
}

// summarize turns run times into results, with ratios to the first
// contender's.
func summarize(cs []contender, lat [][]time.Duration, batch int) []ModelResult {
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	out := make([]ModelResult, len(cs))
	for i, c := range cs {
		l := slices.Sorted(slices.Values(lat[i]))
		pct := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
		out[i] = ModelResult{
			Model:      c.model,
			Runtime:    c.runtime,
			MinMs:      ms(l[0]),
			P50Ms:      ms(pct(0.5)),
			P90Ms:      ms(pct(0.9)),
			MaxMs:      ms(l[len(l)-1]),
			Throughput: float64(batch) / pct(0.5).Seconds(),
		}
		out[i].MedianRatio = out[i].P50Ms / out[0].P50Ms
		out[i].BestRatio = out[i].MinMs / out[0].MinMs
	}
	return out
}

// runDefaults fills in the defaults of a measurement's batch (1),
// warm-up runs (3), timed runs (20) and threads (GOMAXPROCS), and rejects
// negative run counts.
func runDefaults(batch, warmup, runs, threads *int) error {
	if *warmup < 0 || *runs < 0 {
		return fmt.Errorf("warm-up and run counts must not be negative")
	}
	if *batch <= 0 {
		*batch = 1
	}
	if *warmup == 0 {
		*warmup = 3
	}
	if *runs == 0 {
		*runs = 20
	}
	if *threads <= 0 {
		*threads = runtime.GOMAXPROCS(0)
	}
	return nil
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

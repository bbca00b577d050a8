package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qtool/qtool/binarize"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

// DefaultSweepSchemes are the variants a sweep makes when given none.
var DefaultSweepSchemes = []string{"fp32", "dfp16", "int8", "w4a8", "w4a4", "binary"}

// SweepOptions says how Sweep makes and measures the variants.
type SweepOptions struct {
	// Schemes are "fp32" (the model as it is), quant's scheme names and
	// "binary" (binarize, other layers int8); DefaultSweepSchemes when
	// empty. The first is the reference of the
	// agreement column.
	Schemes []string
	// Calib is the calibration data, Eval the labelled evaluation data
	// (with EvalLabels when its items carry none).
	Calib, Eval calib.Source
	EvalLabels  Labels
	Method      calib.Method // calib.MinMax{} when nil
	Threads     int          // engine threads (0: GOMAXPROCS)
	// Runs is how many timed runs of each variant (alternating between
	// them) the latency is the median of; 20 when zero.
	Runs int
	// Dir is where the variants are written, as NAME.SCHEME.onnx.
	Dir string
	// Progress, when not nil, hears what the sweep is doing.
	Progress func(step string)
}

// SweepRow is one variant's accuracy and cost.
type SweepRow struct {
	Scheme string `json:"scheme"`
	Path   string `json:"path"`
	// Top1 is nil when the evaluation data is not labelled; Agreement is
	// the share of items (percent) whose top-1 is the first variant's.
	Top1      *float64 `json:"top1,omitempty"`
	Agreement float64  `json:"agreement"`
	MACs      int64    `json:"macs"`
	BitOps    int64    `json:"bit_ops"`
	// FileBytes is the saved model's size; LatencyMs the median of one
	// item's run, measured alternating with the other variants.
	FileBytes int64   `json:"file_bytes"`
	LatencyMs float64 `json:"latency_ms"`
	// ParetoBitOps and ParetoLatency say whether the variant is on the
	// front of accuracy against that cost.
	ParetoBitOps  bool `json:"pareto_bit_ops"`
	ParetoLatency bool `json:"pareto_latency"`
}

// SweepReport is `qtool sweep --json` (and the sweep.json it writes).
type SweepReport struct {
	Model      string     `json:"model"`
	CalibItems int        `json:"calib_items"`
	EvalItems  int        `json:"eval_items"`
	Threads    int        `json:"threads"`
	Runs       int        `json:"runs"`
	Machine    Machine    `json:"machine"`
	Rows       []SweepRow `json:"rows"`
}

// Sweep makes each variant of m (name is its base name for the files),
// evaluates all of them on opt.Eval, measures their cost, and marks the
// Pareto fronts. The charts are WriteSweepCharts'.
func Sweep(m *onnxio.Model, name string, opt SweepOptions) (*SweepReport, error) {
	if opt.Eval == nil || opt.Calib == nil {
		return nil, errors.New("bench: Sweep needs calibration and evaluation data")
	}
	schemes := opt.Schemes
	if len(schemes) == 0 {
		schemes = DefaultSweepSchemes
	}
	if opt.Runs <= 0 {
		opt.Runs = 20
	}
	say := func(f string, a ...any) {
		if opt.Progress != nil {
			opt.Progress(fmt.Sprintf(f, a...))
		}
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, err
	}
	rep := &SweepReport{Model: m.Path, CalibItems: opt.Calib.Len(), EvalItems: opt.Eval.Len(), Threads: opt.Threads, Runs: opt.Runs, Machine: ThisMachine()}
	var files []*onnxio.Model
	seen := map[string]bool{}
	for _, sc := range schemes {
		if seen[sc] {
			return nil, fmt.Errorf("scheme %s is listed twice", sc)
		}
		seen[sc] = true
		v, err := sweepVariant(m, sc, opt, say)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc, err)
		}
		path := filepath.Join(opt.Dir, name+"."+sc+".onnx")
		if err := v.Save(path, onnxio.SaveOptions{}); err != nil {
			return nil, err
		}
		// Loaded back from the file: the rows measure what was written.
		f, err := onnxio.Load(path)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		row := SweepRow{Scheme: sc, Path: path}
		if fi, err := os.Stat(path); err == nil {
			row.FileBytes = fi.Size()
		}
		rep.Rows = append(rep.Rows, row)
	}
	say("evaluating %d variants on %d items", len(files), opt.Eval.Len())
	var sessions []*engine.Session
	for _, f := range files {
		s, err := engine.Compile(f, engine.Options{Threads: opt.Threads})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		sessions = append(sessions, s)
	}
	ev, err := Evaluate(sessions, schemes, opt.Eval, EvalOptions{Labels: opt.EvalLabels, Threads: opt.Threads})
	if err != nil {
		return nil, err
	}
	say("timing the variants, alternating")
	lat, err := BenchModels(files, ModelOptions{Threads: opt.Threads, Runs: opt.Runs})
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		r := &rep.Rows[i]
		r.Top1, r.Agreement = ev.Models[i].Top1, ev.Models[i].Agreement
		r.LatencyMs = lat.Results[i].P50Ms
		c, err := Cost(f, CostOptions{Threads: opt.Threads, Runs: 1, Warmup: 0})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		r.MACs, r.BitOps = c.Total.MACs, c.Total.BitOps
	}
	pts := rep.Points()
	for _, i := range ParetoFront(pts, CostBitOps.Of) {
		rep.Rows[i].ParetoBitOps = true
	}
	for _, i := range ParetoFront(pts, CostLatency.Of) {
		rep.Rows[i].ParetoLatency = true
	}
	return rep, nil
}

// sweepVariant makes the variant sc of m.
func sweepVariant(m *onnxio.Model, sc string, opt SweepOptions, say func(string, ...any)) (*onnxio.Model, error) {
	switch sc {
	case "fp32":
		return m, nil
	case "binary":
		say("binarizing on %d items", opt.Calib.Len())
		res, err := binarize.Binarize(m, opt.Calib, binarize.Options{Method: opt.Method, Threads: opt.Threads, Calib: calib.Config{Quiet: true}})
		if err != nil {
			return nil, err
		}
		return res.Model, nil
	}
	scheme, err := quant.SchemeByName(sc)
	if err != nil {
		return nil, err
	}
	say("quantizing to %s on %d items", sc, opt.Calib.Len())
	res, err := quant.Quantize(m, opt.Calib, quant.Config{Scheme: scheme}, quant.Options{Method: opt.Method, Threads: opt.Threads, Calib: calib.Config{Quiet: true}})
	if err != nil {
		return nil, err
	}
	return res.Model, nil
}

// Points are the rows as chart points (unlabelled data: accuracy 0).
func (r *SweepReport) Points() []Point {
	pts := make([]Point, len(r.Rows))
	for i, row := range r.Rows {
		pts[i] = Point{Label: row.Scheme, BitOps: float64(row.BitOps), LatencyMs: row.LatencyMs}
		if row.Top1 != nil {
			pts[i].Top1 = *row.Top1
		}
	}
	return pts
}

// WriteSweepCharts writes the two charts of a sweep into dir:
// sweep-bitops and sweep-latency, each as SVG and PNG, and returns their
// paths without extension.
func WriteSweepCharts(r *SweepReport, dir, title string) ([]string, error) {
	var paths []string
	for _, c := range []Measure{CostBitOps, CostLatency} {
		p := filepath.Join(dir, "sweep-"+c.Short)
		if err := WriteChart(p, title, r.Points(), c); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

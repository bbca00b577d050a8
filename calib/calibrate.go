package calib

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// NewSession compiles m for calibration: with threads engine threads (0
// for GOMAXPROCS) and without fusion, so that every node output is
// computed and can be observed.
func NewSession(m *onnxio.Model, threads int) (*engine.Session, error) {
	s, err := engine.Compile(m, engine.Options{Threads: threads, NoFusion: true})
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	return s, nil
}

// Config tunes Calibrate.
type Config struct {
	// BatchSize is how many items go into one Run (DefaultBatch when
	// zero). A model
	// input with a fixed batch size uses that instead (a last, partial
	// batch is left out and counted in Result.Dropped), and one of
	// unknown rank takes one item per Run.
	BatchSize int
	// Threads is how many goroutines read and preprocess items (GOMAXPROCS
	// when zero). The engine's own thread count is the session's
	// (engine.Options.Threads at Compile). Results do not depend on
	// either: batches are run and observed in order.
	Threads int
	// SkipBad skips items that cannot be read (an undecodable image, a
	// wrong shape), counting them in Result.Skipped, instead of failing.
	SkipBad bool
	// Progress receives a progress bar. When nil, the bar goes to
	// standard error if that is a terminal and Quiet is not set.
	Progress io.Writer
	Quiet    bool
}

// TensorStats is what calibration found for one tensor.
type TensorStats struct {
	Range Range
	// Values counts the finite values observed; NaN and Inf the
	// non-finite ones, which the range leaves out.
	Values, NaN, Inf int64
}

// Result is the outcome of Calibrate.
type Result struct {
	Method  string
	Tensors map[string]*TensorStats
	// Names lists the tensors in the order the runs first computed them.
	Names []string
	// Items is how many items were run, in Batches runs; Skipped how many
	// were skipped as bad (Config.SkipBad), with the first few errors;
	// Dropped how many did not fill a batch of a model with a fixed batch
	// size.
	Items, Batches, Skipped, Dropped int
	SkipErrors                       []error
}

// NonFinite lists the tensors that had NaN or infinite values.
func (r *Result) NonFinite() []string {
	var out []string
	for _, n := range r.Names {
		if st := r.Tensors[n]; st.NaN+st.Inf > 0 {
			out = append(out, n)
		}
	}
	return out
}

const maxSkipErrors = 10

// Calibrate runs the items of src through s in batches and observes the
// float32 tensors named in tensors (graph inputs or values the session
// computes; nil means all of them) with method m, returning each one's
// range. Memory stays bounded: observers keep fixed-size summaries, and
// one batch is held at a time.
//
// An empty source is an error, as is a named tensor the runs never
// computed (not in the model, or fused away by Compile: compile with
// engine.Options.NoFusion to observe every node output) or one with no
// finite value. NaN and infinite values are counted per tensor and left
// out of the ranges.
func Calibrate(s *engine.Session, src Source, tensors []string, m Method, cfg Config) (*Result, error) {
	n := src.Len()
	if n == 0 {
		return nil, errors.New("calib: the calibration set is empty")
	}
	inputs := s.Inputs()
	batch := cfg.BatchSize
	if batch <= 0 {
		batch = DefaultBatch(src)
	}
	stack, fixed := true, false
	for _, vi := range inputs {
		switch {
		case len(vi.Shape) == 0:
			batch, stack = 1, false
		case vi.Shape[0] > 0:
			batch, fixed = vi.Shape[0], true
		}
	}
	threads := cfg.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	res := &Result{Method: m.String(), Tensors: map[string]*TensorStats{}}
	obs := map[string]Observer{}
	want := map[string]bool{}
	for _, t := range tensors {
		want[t] = true
	}
	observe := func(name string, t *engine.Tensor) {
		if t.Type != onnxio.Float || (len(want) > 0 && !want[name]) {
			return
		}
		st := res.Tensors[name]
		if st == nil {
			st = &TensorStats{}
			res.Tensors[name] = st
			res.Names = append(res.Names, name)
			obs[name] = m.NewObserver()
		}
		for _, v := range t.F32 {
			switch f := float64(v); {
			case math.IsNaN(f):
				st.NaN++
			case math.IsInf(f, 0):
				st.Inf++
			default:
				st.Values++
			}
		}
		obs[name].Observe(t)
	}

	bar := progress(cfg, n)
	items := make([]Item, batch)
	errs := make([]error, batch)
	var ready []Item
	var readyAt []int // their indices in src
	run := func() error {
		if len(ready) == 0 {
			return nil
		}
		if fixed && stack && len(ready) != batch {
			res.Dropped += len(ready)
			ready, readyAt = ready[:0], readyAt[:0]
			return nil
		}
		feed := map[string]*engine.Tensor{}
		for _, vi := range inputs {
			t, err := stackItems(ready, vi.Name, stack)
			if err != nil {
				return err
			}
			feed[vi.Name] = t
			observe(vi.Name, t)
		}
		if _, err := s.RunObserved(feed, observe); err != nil {
			return fmt.Errorf("calib: running items %s .. %s: %w", src.Name(readyAt[0]), src.Name(readyAt[len(readyAt)-1]), err)
		}
		res.Items += len(ready)
		res.Batches++
		ready, readyAt = ready[:0], readyAt[:0]
		return nil
	}
	for start := 0; start < n; start += batch {
		k := min(batch, n-start)
		load(src, start, items[:k], errs[:k], threads)
		for i := range k {
			if errs[i] != nil {
				if !cfg.SkipBad {
					return nil, errs[i]
				}
				res.Skipped++
				if len(res.SkipErrors) < maxSkipErrors {
					res.SkipErrors = append(res.SkipErrors, errs[i])
				}
				continue
			}
			if len(ready) > 0 && !sameShapes(ready[0], items[i]) {
				if err := run(); err != nil {
					return nil, err
				}
			}
			ready, readyAt = append(ready, items[i]), append(readyAt, start+i)
			if !stack || len(ready) == batch {
				if err := run(); err != nil {
					return nil, err
				}
			}
		}
		if bar != nil {
			bar.Add(k)
		}
	}
	if err := run(); err != nil {
		return nil, err
	}
	if bar != nil {
		bar.Finish()
	}
	switch {
	case res.Items == 0 && res.Dropped > 0:
		return nil, fmt.Errorf("calib: the calibration set is empty: the model takes batches of %d, and only %d items could be read", batch, res.Dropped)
	case res.Items == 0:
		return nil, fmt.Errorf("calib: the calibration set is empty: all %d items were bad (first: %v)", n, res.SkipErrors[0])
	}
	var missing []string
	for _, t := range tensors {
		if res.Tensors[t] == nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("calib: tensors %q were not computed by the runs: not float32 values of the model, or fused away (compile with engine.Options{NoFusion: true} to observe every node output)", missing)
	}
	for _, name := range res.Names {
		r, err := obs[name].Range()
		if err != nil {
			st := res.Tensors[name]
			return nil, fmt.Errorf("calib: tensor %q: %w (%d NaN, %d infinite values)", name, err, st.NaN, st.Inf)
		}
		res.Tensors[name].Range = r
	}
	return res, nil
}

// load reads items start.. into items and errs with up to threads
// goroutines.
func load(src Source, start int, items []Item, errs []error, threads int) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(threads, len(items)) {
		wg.Go(func() {
			for i := range next {
				items[i], errs[i] = src.Item(start + i)
			}
		})
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
}

func sameShapes(a, b Item) bool {
	for k, t := range a.Inputs {
		u := b.Inputs[k]
		if u == nil || !slices.Equal(t.Shape, u.Shape) || t.Type != u.Type {
			return false
		}
	}
	return len(a.Inputs) == len(b.Inputs)
}

// stackItems stacks the items' tensors for input name along a new first
// axis (or, with stack false, returns the one item's tensor).
func stackItems(items []Item, name string, stack bool) (*engine.Tensor, error) {
	first := items[0].Inputs[name]
	if first == nil {
		return nil, fmt.Errorf("calib: the data has no tensor for model input %q", name)
	}
	if !stack {
		return first, nil
	}
	t, err := engine.Zeros(first.Type, append([]int{len(items)}, first.Shape...))
	if err != nil {
		return nil, err
	}
	per := first.Len()
	for i, it := range items {
		x := it.Inputs[name]
		lo := i * per
		switch t.Type {
		case onnxio.Float:
			copy(t.F32[lo:], x.F32)
		case onnxio.Int64:
			copy(t.I64[lo:], x.I64)
		case onnxio.Int32:
			copy(t.I32[lo:], x.I32)
		case onnxio.Uint8:
			copy(t.U8[lo:], x.U8)
		case onnxio.Int8:
			copy(t.I8[lo:], x.I8)
		case onnxio.Bool:
			copy(t.Bool[lo:], x.Bool)
		}
	}
	return t, nil
}

// batchElements bounds the input elements of a default batch. The
// engine's memory for a run grows with the batch, and large items gain
// nothing from batching: the PP-OCRv4 detector at 3x320x320 calibrated in
// 15% less CPU time one item per run than 16 per run (and 230 MB less
// memory), while 28x28 images still go 16 at a time.
const batchElements = 1 << 18

// DefaultBatch is the batch size for src when none is given: 16 items,
// or fewer so that a batch's inputs hold at most 2^18 elements, judged by
// the first item.
func DefaultBatch(src Source) int {
	const most = 16
	if src.Len() == 0 {
		return most
	}
	it, err := src.Item(0)
	if err != nil {
		return most
	}
	n := 0
	for _, t := range it.Inputs {
		n += t.Len()
	}
	return max(1, min(most, batchElements/max(n, 1)))
}

// progress returns a progress bar for n items, or nil when there should
// be none.
func progress(cfg Config, n int) *progressbar.ProgressBar {
	w := cfg.Progress
	if w == nil {
		if cfg.Quiet || !isTerminal(os.Stderr) {
			return nil
		}
		w = os.Stderr
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("calibrating"),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

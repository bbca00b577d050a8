package main

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

// readable leaves the unreadable items out of src (--skip-bad), with a
// warning naming the first few.
func readable(cmd *cobra.Command, flag string, src calib.Source, threads int) (calib.Source, int, error) {
	good, bad, err := calib.Readable(src, threads)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", flag, err)
	}
	for i, e := range bad {
		if i == 3 {
			fmt.Fprintf(cmd.ErrOrStderr(), "qtool: warning: %s: %d more unreadable items skipped\n", flag, len(bad)-i)
			break
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "qtool: warning: %s: skipped: %v\n", flag, e)
	}
	return good, len(bad), nil
}

// evaluate compares the float model m (compiled as fs) with the quantized
// session qs on es: accuracy, agreement and output SQNR over every item,
// and the MACs and latency of the first item.
func evaluate(m *onnxio.Model, fs, qs *engine.Session, es calib.Source, threads int) (*EvalReport, error) {
	c, err := quant.Compare(fs, qs, es, 0)
	if err != nil {
		return nil, err
	}
	r := &EvalReport{EvalItems: c.Items, Agreement: c.Agreement, OutputSQNR: c.SQNR}
	if c.Labelled {
		r.FloatTop1, r.QuantTop1 = &c.FloatTop1, &c.QuantTop1
	}
	it, err := es.Item(0)
	if err != nil {
		return nil, err
	}
	one := map[string]*engine.Tensor{}
	for name, t := range it.Inputs {
		b := *t
		b.Shape = append([]int{1}, t.Shape...)
		one[name] = &b
	}
	info, err := bench.Inspect(m, itemShapes(it))
	if err != nil {
		return nil, fmt.Errorf("counting MACs: %w", err)
	}
	r.MACs = info.MACs
	ms, rounds, err := latency([]*engine.Session{fs, qs}, one)
	if err != nil {
		return nil, err
	}
	r.FloatMs, r.QuantMs, r.Rounds = ms[0], ms[1], rounds
	r.Threads = threads
	if r.Threads <= 0 {
		r.Threads = runtime.GOMAXPROCS(0)
	}
	return r, nil
}

// latency times one Run of each session on in, alternating between them
// (so that both see the same machine load) for 3 to 25 rounds, about a
// second in all, after one untimed run each, and returns the medians in
// milliseconds.
func latency(ss []*engine.Session, in map[string]*engine.Tensor) ([]float64, int, error) {
	times := make([][]time.Duration, len(ss))
	start := time.Now()
	for round := -1; round < 25; round++ {
		if round >= 3 && time.Since(start) > time.Second {
			break
		}
		for i, s := range ss {
			t := time.Now()
			if _, err := s.Run(in); err != nil {
				return nil, 0, err
			}
			if round >= 0 {
				times[i] = append(times[i], time.Since(t))
			}
		}
	}
	out := make([]float64, len(ss))
	for i, ts := range times {
		slices.Sort(ts)
		out[i] = float64(ts[len(ts)/2].Nanoseconds()) / 1e6
	}
	return out, len(times[0]), nil
}

package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/kernels"
)

func newBench(opt *options) *cobra.Command {
	var (
		mo         bench.ModelOptions
		shapeFlags []string
		kernelMode bool
		paths      string
		families   string
		shapes     string
		minTime    time.Duration
		rounds     int
	)
	cmd := &cobra.Command{
		Use:   "bench [MODEL...] | bench --kernels",
		Short: "Measure models' latency side by side, or kernel speed against the CPU's ceiling",
		Long: `bench MODEL... compiles each model once and times them side by side on
the same seeded random inputs: --warmup untimed runs of each, then --runs
timed runs, one run of each model in turn (A B A B ...) so that drift in
the machine's speed hits all alike. It prints each model's latency (min,
p50, p90, max in ms), throughput, and its ratios to the first model: of
the medians and of the best runs (below 1 is faster). The models must
take the same inputs. A symbolic first dimension takes --batch; other
symbolic sizes need --shape. With no MODEL it runs the built-in
Fashion-MNIST CNN.

--ort LIB also runs every model through ONNX Runtime, loaded from the
shared library LIB (libonnxruntime.so, .dylib), on the same inputs in the
same alternation, with --threads intra-op threads. It needs a qtool built
with -tags ort (cgo); the static release binaries have no ONNX Runtime.

JSON holds the machine (CPU, features, the kernel path of each family,
Go version, GOOS/GOARCH), threads, batch, inputs, and per model and
runtime min_ms, p50_ms, p90_ms, max_ms, items_per_s, median_ratio and
best_ratio, so that runs on different machines compare.

bench --kernels times each kernel family single-threaded on every kernel
path this CPU supports (or those given with --paths), side by side in
alternating rounds, and compares each with the path's register-only FMA
ceiling measured in the same run. A multiply-accumulate counts as two
operations. JSON rows carry family, path, shape, gops, ceiling_gops,
efficiency and vs_fp32.`,
		Example: `  qtool bench model.onnx model.int8.onnx --batch 8 --threads 1
  qtool bench det.onnx --shape x=1,3,320,320 --json
  qtool bench model.onnx --ort /usr/lib/libonnxruntime.so.1
  qtool bench --kernels --paths avx512,avx2 --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !kernelMode {
				return benchModels(cmd, opt, args, mo, shapeFlags)
			}
			if len(args) > 0 {
				return fmt.Errorf("--kernels takes no MODEL")
			}
			ko := bench.KernelOptions{MinTime: minTime, Rounds: rounds}
			if families != "" {
				for _, f := range strings.Split(families, ",") {
					f = strings.TrimSpace(f)
					if f != "fp32" && kernels.FamilyByName(f) == nil && !bench.KnownFamily(f) {
						return fmt.Errorf("--families: unknown family %q", f)
					}
					ko.Families = append(ko.Families, f)
				}
			}
			if paths != "" {
				for _, s := range strings.Split(paths, ",") {
					p, err := kernels.ParsePath(strings.TrimSpace(s))
					if err != nil {
						return fmt.Errorf("--paths: %w", err)
					}
					ko.Paths = append(ko.Paths, p)
				}
			}
			for _, s := range strings.Split(shapes, ",") {
				var mnk [3]int
				if _, err := fmt.Sscanf(strings.TrimSpace(s), "%dx%dx%d", &mnk[0], &mnk[1], &mnk[2]); err != nil || mnk[0] <= 0 || mnk[1] <= 0 || mnk[2] <= 0 {
					return fmt.Errorf("--shapes %q: want MxNxK sizes such as 1024x1024x1024", s)
				}
				ko.Shapes = append(ko.Shapes, mnk)
			}
			rows, err := bench.BenchKernels(ko)
			if err != nil {
				return err
			}
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"cpu": kernels.DetectCPU(), "kernels": rows})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "family\tpath\tshape\tms\tGOPS\tceiling\tefficiency\tvs fp32\t")
			for _, r := range rows {
				eff, vs := "-", "-"
				if r.CeilingGOPS > 0 {
					eff = fmt.Sprintf("%.0f%%", 100*r.Efficiency)
				}
				if r.VsFP32 > 0 {
					vs = fmt.Sprintf("%.2fx", r.VsFP32)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.1f\t%.1f\t%s\t%s\t\n", r.Family, r.Path, r.Shape, r.Ms, r.GOPS, r.CeilingGOPS, eff, vs)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&mo.Batch, "batch", 1, "size of a symbolic first (batch) dimension")
	cmd.Flags().IntVar(&mo.Threads, "threads", 0, "engine threads (default GOMAXPROCS)")
	cmd.Flags().IntVar(&mo.Runs, "runs", 20, "timed runs of each model")
	cmd.Flags().IntVar(&mo.Warmup, "warmup", 3, "untimed warm-up runs of each model")
	cmd.Flags().StringVar(&mo.ORT, "ort", "", "also run every model through ONNX Runtime loaded from this libonnxruntime shared library (builds with -tags ort)")
	cmd.Flags().Uint64Var(&mo.Seed, "seed", 1, "seed of the random inputs")
	cmd.Flags().StringArrayVar(&shapeFlags, "shape", nil, "input shape as NAME=D0,D1,... (repeatable)")
	cmd.Flags().BoolVar(&kernelMode, "kernels", false, "benchmark the kernel families instead of a model")
	cmd.Flags().StringVar(&paths, "paths", "", "comma-separated fp32 kernel paths (default: all this CPU supports)")
	cmd.Flags().StringVar(&families, "families", "", "comma-separated kernel families to measure, e.g. fp32,int8 (default: all)")
	cmd.Flags().StringVar(&shapes, "shapes", "1024x1024x1024,256x3136x576,6400x24x864,784x16x144", "comma-separated GEMM sizes MxNxK (the last two: a PP-OCRv4 detector and a fixture CNN convolution layer)")
	cmd.Flags().DurationVar(&minTime, "time", 200*time.Millisecond, "minimum time per measurement")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "alternating rounds over the paths")
	return cmd
}

// benchModels is `qtool bench MODEL...`.
func benchModels(cmd *cobra.Command, opt *options, args []string, mo bench.ModelOptions, shapeFlags []string) error {
	var err error
	if mo.Shapes, err = parseShapes(shapeFlags); err != nil {
		return err
	}
	models, err := loadModels(args)
	if err != nil {
		return fmt.Errorf("bench %w", err)
	}
	r, err := bench.BenchModels(models, mo)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	v := buildVersion()
	r.Machine.Qtool = strings.TrimSpace(v.Version + " " + v.Revision)
	if opt.json {
		return writeJSON(cmd.OutOrStdout(), r)
	}
	w := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "inputs\t%s (seed %d)\n", shapesString(toInt64(r.Inputs)), r.Seed)
	fmt.Fprintf(tw, "runs\t%d timed of each model after %d warm-up, alternating; threads %d\n", r.Runs, r.Warmup, r.Threads)
	fmt.Fprintf(tw, "cpu\t%s, %s/%s, %s\n", r.Machine.CPU.Brand, r.Machine.OS, r.Machine.Arch, r.Machine.Go)
	var paths []string
	for f, p := range r.Machine.Kernels {
		paths = append(paths, f+" "+p)
	}
	slices.Sort(paths)
	fmt.Fprintf(tw, "kernels\t%s\n", strings.Join(paths, ", "))
	if r.ORTVersion != "" {
		fmt.Fprintf(tw, "onnxruntime\t%s (%s)\n", r.ORTVersion, mo.ORT)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Names left-aligned, numbers right-aligned.
	width := len("model")
	for _, m := range r.Results {
		width = max(width, len(m.Model))
	}
	fmt.Fprintf(w, "\n%-*s  %-11s  %8s  %8s  %8s  %8s  %9s  %9s  %9s\n", width, "model", "runtime",
		"min ms", "p50 ms", "p90 ms", "max ms", "items/s", "p50/first", "min/first")
	for _, m := range r.Results {
		fmt.Fprintf(w, "%-*s  %-11s  %8.3f  %8.3f  %8.3f  %8.3f  %9.1f  %9.2f  %9.2f\n", width, m.Model, m.Runtime,
			m.MinMs, m.P50Ms, m.P90Ms, m.MaxMs, m.Throughput, m.MedianRatio, m.BestRatio)
	}
	return nil
}

func toInt64(m map[string][]int) map[string][]int64 {
	out := make(map[string][]int64, len(m))
	for k, v := range m {
		for _, d := range v {
			out[k] = append(out[k], int64(d))
		}
	}
	return out
}

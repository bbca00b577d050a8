package main

import (
	"fmt"
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
		Use:   "bench [MODEL] | bench --kernels",
		Short: "Measure a model's latency, or kernel speed against the CPU's ceiling",
		Long: `bench MODEL compiles the model once, runs it --warmup times untimed and
--runs times timed on seeded random inputs, and prints the latency
(min, p50, p90, max in ms), throughput, the kernel path and the CPU. A
symbolic first dimension takes --batch; other symbolic sizes need --shape.
With no MODEL it runs the built-in Fashion-MNIST CNN.

bench --kernels times each kernel family single-threaded on every kernel
path this CPU supports (or those given with --paths), side by side in
alternating rounds, and compares each with the path's register-only FMA
ceiling measured in the same run. A multiply-accumulate counts as two
operations.

JSON rows carry family, path, shape, gops, ceiling_gops, efficiency and
vs_fp32.`,
		Example: `  qtool bench model.onnx --batch 8 --threads 1
  qtool bench det.onnx --shape x=1,3,320,320 --json
  qtool bench --kernels --paths avx512,avx2 --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !kernelMode {
				var err error
				if mo.Shapes, err = parseShapes(shapeFlags); err != nil {
					return err
				}
				m, err := loadModel(args)
				if err != nil {
					return err
				}
				r, err := bench.BenchModel(m, mo)
				if err != nil {
					return fmt.Errorf("bench %s: %w", m.Path, err)
				}
				if opt.json {
					return writeJSON(cmd.OutOrStdout(), r)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "model\t%s\n", r.Model)
				fmt.Fprintf(tw, "inputs\t%s\n", shapesString(toInt64(r.Inputs)))
				fmt.Fprintf(tw, "latency\tmin %.3f  p50 %.3f  p90 %.3f  max %.3f ms over %d runs\n", r.MinMs, r.P50Ms, r.P90Ms, r.MaxMs, r.Runs)
				fmt.Fprintf(tw, "throughput\t%.1f items/s\n", r.Throughput)
				fmt.Fprintf(tw, "threads\t%d, fp32 kernels %s\n", r.Threads, r.KernelPath)
				fmt.Fprintf(tw, "cpu\t%s\n", r.CPU)
				return tw.Flush()
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
	cmd.Flags().IntVar(&mo.Runs, "runs", 20, "timed runs")
	cmd.Flags().IntVar(&mo.Warmup, "warmup", 3, "untimed warm-up runs")
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

func toInt64(m map[string][]int) map[string][]int64 {
	out := make(map[string][]int64, len(m))
	for k, v := range m {
		for _, d := range v {
			out[k] = append(out[k], int64(d))
		}
	}
	return out
}

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
		kernelMode bool
		paths      string
		shapes     string
		minTime    time.Duration
		rounds     int
	)
	cmd := &cobra.Command{
		Use:   "bench --kernels",
		Short: "Measure kernel speed against the CPU's ceiling",
		Long: `bench --kernels times each kernel family single-threaded on every kernel
path this CPU supports (or those given with --paths), side by side in
alternating rounds, and compares each with the path's register-only FMA
ceiling measured in the same run. A multiply-accumulate counts as two
operations.

JSON rows carry family, path, shape, gops, ceiling_gops, efficiency and
vs_fp32.`,
		Example: `  qtool bench --kernels
  qtool bench --kernels --paths avx512,avx2 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !kernelMode {
				return fmt.Errorf("say what to measure: --kernels")
			}
			ko := bench.KernelOptions{MinTime: minTime, Rounds: rounds}
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
			fmt.Fprintln(tw, "family\tpath\tshape\tms\tGOPS\tceiling\tefficiency\t")
			for _, r := range rows {
				eff := "-"
				if r.CeilingGOPS > 0 {
					eff = fmt.Sprintf("%.0f%%", 100*r.Efficiency)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.1f\t%.1f\t%s\t\n", r.Family, r.Path, r.Shape, r.Ms, r.GOPS, r.CeilingGOPS, eff)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&kernelMode, "kernels", false, "benchmark the kernel families")
	cmd.Flags().StringVar(&paths, "paths", "", "comma-separated kernel paths (default: all this CPU supports)")
	cmd.Flags().StringVar(&shapes, "shapes", "1024x1024x1024,256x3136x576", "comma-separated GEMM sizes MxNxK")
	cmd.Flags().DurationVar(&minTime, "time", 200*time.Millisecond, "minimum time per measurement")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "alternating rounds over the paths")
	return cmd
}

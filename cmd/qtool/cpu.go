package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool/kernels"
)

// cpuReport is `qtool cpu --json`. Kernels maps each kernel family to the
// path dispatch picked.
type cpuReport struct {
	kernels.CPU
	Kernels map[string]string `json:"kernels"`
}

func newCPU(opt *options) *cobra.Command {
	return &cobra.Command{
		Use:   "cpu",
		Short: "Show the CPU features and caches the kernels dispatch on",
		Long: `cpu prints the processor's brand, cache sizes and the instruction set
features qtool's kernels can use. GODEBUG=cpu.<feature>=off hides a feature
from dispatch (e.g. GODEBUG=cpu.avx512f=off), which this command shows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := cpuReport{CPU: kernels.DetectCPU(), Kernels: kernels.ActivePaths()}
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "cpu\t%s (%s)\n", r.Brand, r.Vendor)
			fmt.Fprintf(tw, "arch\t%s, %d logical CPUs, %d physical cores\n", r.Arch, r.LogicalCPUs, r.PhysCores)
			fmt.Fprintf(tw, "caches\tL1d %s, L2 %s, L3 %s, line %d B\n", kib(r.L1D), kib(r.L2), kib(r.L3), r.CacheLine)
			fmt.Fprintf(tw, "features\t%s\n", strings.Join(r.Features, " "))
			fmt.Fprintf(tw, "kernels\tfp32 %s (%s)\n", r.Kernels["fp32"], kernels.PathNote())
			for _, f := range kernels.Families() {
				fmt.Fprintf(tw, "\t%s %s (%s)\n", f.Name(), f.Active(), f.Note())
			}
			return tw.Flush()
		},
	}
}

func kib(n int) string {
	switch {
	case n <= 0:
		return "unknown"
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

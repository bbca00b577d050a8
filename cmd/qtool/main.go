// Command qtool quantizes ONNX models, runs them with its own integer and
// binary kernels and reports accuracy against compute cost.
//
// The commands are thin: each parses flags, calls the library packages
// and prints. Every command takes --json for machine-readable output;
// errors go to stderr with a non-zero exit status.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool/kernels"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "qtool:", err)
		os.Exit(1)
	}
}

// options are the flags every command shares.
type options struct {
	json    bool
	kernels string
}

func newRoot() *cobra.Command {
	opt := &options{}
	root := &cobra.Command{
		Use:   "qtool",
		Short: "Quantize ONNX models and measure what it costs and gains",
		Long: `qtool reads an ONNX model, calibrates it on real data, rewrites it to
INT8, 4-bit, dynamic fixed point or binary operators, runs the result with
its own integer and XNOR/popcount kernels and reports accuracy against
compute cost.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVar(&opt.json, "json", false, "print machine-readable JSON instead of text")
	root.PersistentFlags().StringVar(&opt.kernels, "kernels", "", "force kernel paths: a path name for every family that has it (generic, avx2, avx512, neon...) or family=path items, comma-separated (default: the best this CPU runs; also QTOOL_KERNELS)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if opt.kernels == "" {
			return nil
		}
		if err := kernels.SetPaths(opt.kernels); err != nil {
			return fmt.Errorf("--kernels: %w", err)
		}
		return nil
	}
	root.AddCommand(newInspect(opt), newRun(opt), newBench(opt), newCPU(opt), newVersion(opt), newQuantize(opt), newEval(opt), newSweep(opt))
	return root
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

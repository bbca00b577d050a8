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
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "qtool:", err)
		os.Exit(1)
	}
}

// options are the flags every command shares.
type options struct {
	json bool
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
	root.AddCommand(newInspect(opt), newCPU(opt), newVersion(opt))
	return root
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

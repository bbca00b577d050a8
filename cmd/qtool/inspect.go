package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

func newInspect(opt *options) *cobra.Command {
	var shapeFlags []string
	cmd := &cobra.Command{
		Use:   "inspect [MODEL]",
		Short: "Describe a model: inputs, outputs, operators, parameters and MACs per layer",
		Long: `inspect prints a model's IR version and opsets, its inputs and outputs,
an operator histogram, parameter count and weight bytes by type, and the
multiply-accumulates (MACs) of every Conv, ConvTranspose, Gemm and MatMul,
and the steps qtool's engine compiles the model to with the precision
each runs in (fp32, or the integer precision of a quantized step), with
a count of steps per precision.

Symbolic sizes (a dynamic batch, H or W) count as 1 unless --shape gives
the input's shape, e.g. --shape x=1,3,224,224. With no MODEL it inspects
the Fashion-MNIST CNN built into qtool.`,
		Example: `  qtool inspect model.onnx
  qtool inspect --shape x=1,3,640,640 --json det.onnx`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			shapes, err := parseShapes(shapeFlags)
			if err != nil {
				return err
			}
			m, err := loadModel(args)
			if err != nil {
				return err
			}
			info, err := bench.Inspect(m, shapes)
			if err != nil {
				return fmt.Errorf("inspect %s: %w", m.Path, err)
			}
			r := inspectReport{ModelInfo: info, Steps: []stepPrecision{}, StepsByPrecision: map[string]int{}}
			// Compiled as `qtool run` and `quantize --eval` run it: types
			// the engine lacks are emulated in float, and show as such.
			if s, err := quant.Compile(m, engine.Options{}); err != nil {
				r.CompileError = err.Error()
				fmt.Fprintf(cmd.ErrOrStderr(), "qtool: warning: the engine cannot run %s, so no precisions are shown: %v\n", m.Path, err)
			} else {
				for _, p := range s.Precisions() {
					r.Steps = append(r.Steps, stepPrecision{Node: p.Node, Op: p.Op, Precision: p.Precision, Nodes: p.Nodes})
					r.StepsByPrecision[p.Precision]++
				}
			}
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			return printInfo(cmd.OutOrStdout(), r)
		},
	}
	cmd.Flags().StringArrayVar(&shapeFlags, "shape", nil, "input shape as NAME=D0,D1,... (repeatable)")
	return cmd
}

// inspectReport is `qtool inspect --json`: bench.ModelInfo's fields and
// the compiled steps.
type inspectReport struct {
	*bench.ModelInfo
	// Steps are the engine's compiled steps in execution order.
	Steps            []stepPrecision `json:"steps"`
	StepsByPrecision map[string]int  `json:"steps_by_precision"`
	// CompileError says why the engine could not compile the model (Steps
	// is then empty).
	CompileError string `json:"compile_error,omitempty"`
}

// stepPrecision is engine.NodePrecision with JSON names.
type stepPrecision struct {
	Node      string   `json:"node"`
	Op        string   `json:"op"`
	Precision string   `json:"precision"`
	Nodes     []string `json:"nodes,omitempty"`
}

// loadModel loads the model named on the command line, or the embedded
// default model when there is none.
func loadModel(args []string) (*onnxio.Model, error) {
	if len(args) > 0 {
		return onnxio.Load(args[0])
	}
	b, err := qtool.Fixtures.ReadFile(qtool.DefaultModel)
	if err != nil {
		return nil, err
	}
	m, err := onnxio.LoadBytes(b, "")
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", qtool.DefaultModel, err)
	}
	m.Path = "(built in) " + qtool.DefaultModel
	return m, nil
}

// parseShapes reads --shape NAME=1,3,224,224 flags.
func parseShapes(flags []string) (map[string]onnxio.Shape, error) {
	out := map[string]onnxio.Shape{}
	for _, f := range flags {
		name, dims, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--shape %q: want NAME=D0,D1,... such as x=1,3,224,224", f)
		}
		s, err := onnxio.ParseShape(dims)
		if err != nil {
			return nil, fmt.Errorf("--shape %q: %w", f, err)
		}
		if !s.Known() {
			return nil, fmt.Errorf("--shape %q: give every size as a number", f)
		}
		out[name] = s
	}
	return out, nil
}

func printInfo(w io.Writer, r inspectReport) error {
	info := r.ModelInfo
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", info.Path)
	fmt.Fprintf(tw, "IR version\t%d\n", info.IRVersion)
	var opsets []string
	for d, v := range info.Opsets {
		opsets = append(opsets, fmt.Sprintf("%s %d", d, v))
	}
	sort.Strings(opsets)
	fmt.Fprintf(tw, "opsets\t%s\n", strings.Join(opsets, ", "))
	if info.Producer != "" {
		fmt.Fprintf(tw, "producer\t%s\n", info.Producer)
	}
	for _, in := range info.Inputs {
		fmt.Fprintf(tw, "input\t%s\t%s%s\n", in.Name, in.DType, shapeString(in.Shape))
	}
	for _, out := range info.Outputs {
		fmt.Fprintf(tw, "output\t%s\t%s%s\n", out.Name, out.DType, shapeString(out.Shape))
	}
	fmt.Fprintf(tw, "nodes\t%d\n", info.Nodes)
	fmt.Fprintf(tw, "parameters\t%s\n", count(info.Params))
	var types []string
	for t := range info.WeightBytes {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintf(tw, "weight bytes\t%s\t%s\n", t, count(info.WeightBytes[t]))
	}
	fmt.Fprintf(tw, "MACs\t%s\tat %s\n", count(info.MACs), shapesString(info.Shapes))
	if info.BitOps > 0 {
		fmt.Fprintf(tw, "bit-ops\t%s\tin binary layers (1-bit × 1-bit MACs)\n", count(info.BitOps))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\noperators")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, op := range info.SortedOps() {
		fmt.Fprintf(tw, "  %s\t%d\n", op, info.Ops[op])
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(info.Layers) > 0 {
		fmt.Fprintln(w, "\nlayers")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "  name\top\tinput\tweight\toutput\tMACs\t%\t"
		if info.BitOps > 0 {
			head += "bit-ops\t"
		}
		fmt.Fprintln(tw, head)
		for _, l := range info.Layers {
			pct := 0.0
			if info.MACs > 0 {
				pct = 100 * float64(l.MACs) / float64(info.MACs)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%v\t%v\t%v\t%s\t%.1f\t", l.Name, l.Op, dims(l.Input), dims(l.Weight), dims(l.Output), count(l.MACs), pct)
			if info.BitOps > 0 {
				ops := "-"
				if l.BitOps > 0 {
					ops = count(l.BitOps)
				}
				fmt.Fprintf(tw, "%s\t", ops)
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Steps) == 0 {
		return nil
	}
	var precs []string
	for p := range r.StepsByPrecision {
		precs = append(precs, p)
	}
	sort.Strings(precs)
	var sum []string
	for _, p := range precs {
		sum = append(sum, fmt.Sprintf("%s %d", p, r.StepsByPrecision[p]))
	}
	fmt.Fprintf(w, "\nengine steps (%d: %s)\n", len(r.Steps), strings.Join(sum, ", "))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  step\top\tprecision\tnodes")
	for _, st := range r.Steps {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", st.Node, st.Op, st.Precision, strings.Join(st.Nodes, " "))
	}
	return tw.Flush()
}

func shapeString(s []any) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func dims(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

func shapesString(m map[string][]int64) string {
	var parts []string
	for name, s := range m {
		parts = append(parts, name+"="+dims(s))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// count writes n with thousands separators, and a short form for big ones.
func count(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%s (%.2f G)", b.String(), float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%s (%.2f M)", b.String(), float64(n)/1e6)
	}
	return b.String()
}

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
	var (
		shapeFlags []string
		cost       bool
		co         bench.CostOptions
	)
	cmd := &cobra.Command{
		Use:   "inspect [MODEL]",
		Short: "Describe a model: inputs, outputs, operators, parameters and MACs per layer",
		Long: `inspect prints a model's IR version and opsets, its inputs and outputs,
an operator histogram, parameter count and weight bytes by type, and the
multiply-accumulates (MACs) of every Conv, ConvTranspose, Gemm and MatMul,
and the steps qtool's engine compiles the model to with the precision
each runs in (fp32, or the integer precision of a quantized step), with
a count of steps per precision.

With --cost it runs the model instead (--runs profiled runs on seeded
random inputs, after --warmup untimed ones) and prints the cost of every
step the engine runs: MACs, bit-operations (MACs × weight bits ×
activation bits in the precision the step runs: 32×32 for fp32, 8×8 for
int8, 4×8 for w4a8, 4×4 for w4a4, 16×16 for int16, 1×1 for binary),
the stored bytes of the layer's weights, the activation bytes it reads
and writes, and its median time. A last row holds the rest of a
run's median time (plan lookup, output copies, and the difference
between the median of a sum and the sum of medians), so that the times
add up to a whole run's.

Symbolic sizes (a dynamic batch, H or W) count as 1 unless --shape gives
the input's shape, e.g. --shape x=1,3,224,224. With no MODEL it inspects
the Fashion-MNIST CNN built into qtool.`,
		Example: `  qtool inspect model.onnx
  qtool inspect --shape x=1,3,640,640 --json det.onnx
  qtool inspect --cost model.int8.onnx --runs 50`,
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
			if cost {
				co.Shapes = shapes
				r, err := bench.Cost(m, co)
				if err != nil {
					return fmt.Errorf("inspect --cost %s: %w", m.Path, err)
				}
				if opt.json {
					return writeJSON(cmd.OutOrStdout(), r)
				}
				return printCost(cmd.OutOrStdout(), r)
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
	cmd.Flags().BoolVar(&cost, "cost", false, "run the model and print each step's MACs, bit-operations, weight and activation bytes and measured time")
	cmd.Flags().IntVar(&co.Runs, "runs", 20, "with --cost: profiled runs the times are medians of")
	cmd.Flags().IntVar(&co.Warmup, "warmup", 3, "with --cost: untimed runs first")
	cmd.Flags().IntVar(&co.Batch, "batch", 1, "with --cost: size of a symbolic first (batch) dimension")
	cmd.Flags().IntVar(&co.Threads, "threads", 0, "with --cost: engine threads (default GOMAXPROCS)")
	return cmd
}

func printCost(w io.Writer, r *bench.CostReport) error {
	fmt.Fprintf(w, "model    %s\n", r.Model)
	fmt.Fprintf(w, "inputs   %s\n", shapesString(toInt64(r.Inputs)))
	fmt.Fprintf(w, "time     median of %d profiled runs, %d threads; a whole run %.3f ms\n\n", r.Runs, r.Threads, r.WallMs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\top\tprecision\tMACs\tbits\tbit-ops\tweight bytes\tact bytes\tms\t%\t")
	line := func(row bench.CostRow) {
		bits := "-"
		if row.WeightBits > 0 {
			bits = fmt.Sprintf("%dx%d", row.WeightBits, row.ActBits)
		}
		pct := 0.0
		if r.Total.Ms > 0 {
			pct = 100 * row.Ms / r.Total.Ms
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.1f\t\n", row.Name, row.Op, row.Precision, short(row.MACs), bits,
			short(row.BitOps), short(row.WeightBytes), short(row.ActBytes), row.Ms, pct)
	}
	for _, row := range r.Rows {
		line(row)
	}
	line(r.Total)
	return tw.Flush()
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
// loadModels loads each model named in args, or the built-in one when
// there are none; an error names the file.
func loadModels(args []string) ([]*onnxio.Model, error) {
	if len(args) == 0 {
		m, err := loadModel(nil)
		return []*onnxio.Model{m}, err
	}
	var models []*onnxio.Model
	for _, path := range args {
		m, err := onnxio.Load(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		models = append(models, m)
	}
	return models, nil
}

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

// short writes n with three significant digits and a k, M or G suffix
// (exact below 10,000).
func short(n int64) string {
	f := float64(n)
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3g G", f/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3g M", f/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.3g k", f/1e3)
	}
	return fmt.Sprint(n)
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

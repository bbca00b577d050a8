package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

func newSweep(opt *options) *cobra.Command {
	var (
		calibPath, dataPath, labelsPath, method, dir string
		schemes                                      []string
		calibSize, threads, runs                     int
		seed                                         uint64
		prep                                         prepFlags
	)
	cmd := &cobra.Command{
		Use:   "sweep [MODEL]",
		Short: "Quantize a model with each scheme, evaluate and time every variant, and chart accuracy against cost",
		Long: `sweep makes one variant of the model per scheme (fp32 is the model as it
is), evaluates all of them on the same data, times them alternating run by
run on one item, counts their bit-operations (MACs × weight bits ×
activation bits, at the precision each layer runs), and writes into --dir:
the variants (NAME.SCHEME.onnx), sweep.json, and two charts of top-1
accuracy against bit-operations and against latency, as SVG and PNG, with
the Pareto front (the variants no other one beats in both accuracy and
that cost) marked.

With no MODEL it sweeps the built-in Fashion-MNIST CNN; with no --calib it
calibrates on 200 of the built-in 1000 test images and evaluates on all
1000 (as qtool quantize does).`,
		Example: `  qtool sweep
  qtool sweep model.onnx --calib train/ --data test/ --schemes fp32,int8,w4a8 --dir sweep-model`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pre, err := prep.preprocess()
			if err != nil {
				return err
			}
			meth, err := calibMethod(method)
			if err != nil {
				return err
			}
			m, err := loadModel(args)
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(filepath.Base(qtool.DefaultModel), ".onnx")
			if len(args) > 0 {
				name = strings.TrimSuffix(filepath.Base(args[0]), ".onnx")
			}
			if dir == "" {
				dir = "sweep-" + name
			}
			if len(args) == 0 && dataPath == "" {
				dataPath = embeddedData
			}
			if dataPath == "" {
				return fmt.Errorf("give --data DATA (labelled evaluation data) and --calib DATA")
			}
			fs, err := engine.Compile(m, engine.Options{Threads: threads})
			if err != nil {
				return fmt.Errorf("%s: %w", m.Path, err)
			}
			data := calib.Options{Inputs: fs.Inputs(), Preprocess: pre}
			cs, err := openData(calibPath, "", data, len(args) == 0)
			if err != nil {
				return fmt.Errorf("--calib: %w", err)
			}
			es, err := openData(dataPath, "", data, true)
			if err != nil {
				return fmt.Errorf("--data: %w", err)
			}
			so := bench.SweepOptions{Schemes: splitList(schemes), Calib: calib.Sample(cs, calibSize, seed), Eval: es,
				Method: meth, Threads: threads, Runs: runs, Dir: dir}
			if labelsPath != "" {
				if so.EvalLabels, err = bench.ReadLabels(labelsPath); err != nil {
					return fmt.Errorf("--labels: %w", err)
				}
			}
			if !opt.json {
				so.Progress = func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), "qtool: sweep:", s) }
			}
			rep, err := bench.Sweep(m, name, so)
			if err != nil {
				return err
			}
			v := buildVersion()
			rep.Machine.Qtool = strings.TrimSpace(v.Version + " " + v.Revision)
			charts, err := bench.WriteSweepCharts(rep, dir, name)
			if err != nil {
				return err
			}
			if err := onnxio.WriteAtomic(filepath.Join(dir, "sweep.json"), func(w io.Writer) error { return writeJSON(w, rep) }); err != nil {
				return err
			}
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			return printSweep(cmd.OutOrStdout(), rep, dir, charts)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&schemes, "schemes", nil, "variants, comma-separated: fp32 and quantize's schemes (default "+strings.Join(bench.DefaultSweepSchemes, ",")+")")
	f.StringVar(&calibPath, "calib", "", "calibration data: image folder, .npy/.npz, IDX file or TensorProto folder (default: the built-in images, for the built-in model)")
	f.IntVar(&calibSize, "calib-size", 200, "calibrate on this many items sampled with --seed (0: all)")
	f.Uint64Var(&seed, "seed", 1, "seed of the --calib-size sample")
	f.StringVar(&method, "method", "minmax", "calibration method: minmax, percentile, entropy or mse")
	f.StringVar(&dataPath, "data", "", "labelled evaluation data ("+embeddedData+": the built-in 1000 Fashion-MNIST test images)")
	f.StringVar(&labelsPath, "labels", "", "valid classes per item for --data that carries none: .json, .csv, IDX labels, .npy or .pb")
	f.StringVar(&dir, "dir", "", "folder for the variants, sweep.json and the charts (default sweep-NAME)")
	f.IntVar(&runs, "runs", 20, "timed runs of each variant for its latency")
	f.IntVar(&threads, "threads", 0, "engine threads (0: all cores)")
	prep.register(cmd)
	return cmd
}

// printSweep prints the sweep's table and where its files are.
func printSweep(w io.Writer, r *bench.SweepReport, dir string, charts []string) error {
	fmt.Fprintf(w, "model        %s\n", r.Model)
	fmt.Fprintf(w, "data         %d items calibrate, %d evaluate; latency: median of %d runs of one item, %d threads\n\n",
		r.CalibItems, r.EvalItems, r.Runs, r.Machine.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scheme\ttop-1 %\tagree %\tMACs\tbit-ops\tfile\tlatency ms\tPareto\t")
	for _, row := range r.Rows {
		top1 := "-"
		if row.Top1 != nil {
			top1 = fmt.Sprintf("%.2f", *row.Top1)
		}
		var front []string
		if row.ParetoBitOps {
			front = append(front, "bit-ops")
		}
		if row.ParetoLatency {
			front = append(front, "latency")
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\t%.3f\t%s\t\n", row.Scheme, top1, row.Agreement,
			short(row.MACs), short(row.BitOps), short(row.FileBytes)+"B", row.LatencyMs, strings.Join(front, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nwritten to %s: the variants, sweep.json, ", dir)
	for i, c := range charts {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%s.{svg,png}", filepath.Base(c))
	}
	fmt.Fprintln(w)
	return nil
}

package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/quant"
)

// evalReport is `qtool eval --json`.
type evalReport struct {
	Data   string `json:"data"`
	Labels string `json:"labels,omitempty"`
	*bench.EvalReport
}

func newEval(opt *options) *cobra.Command {
	var (
		dataPath, labelsPath string
		limit, threads       int
		eo                   bench.EvalOptions
		prep                 prepFlags
	)
	cmd := &cobra.Command{
		Use:   "eval [MODEL...] [--data DATA] [--labels LABELS]",
		Short: "Accuracy of one or more classifiers on labelled data, and their agreement with the first",
		Long: `eval runs every item of --data through each model with qtool's engine and
compares the arg max of each model's first output with the item's label:
top-1 and top-5 accuracy, top-1 accuracy per class, and the share of
items whose top-1 class is the first model's (the reference, say the
float model before quantization).

--data is an image folder (class sub-folders give the labels), a .npy
or .npz file, an IDX images file (with its labels file beside it) or a
folder of ONNX TensorProto .pb files; images are preprocessed as by
qtool quantize (--resize, --crop, --mean, --std, --layout, --color).

--labels gives the valid classes of each item, replacing the data's own
labels; a prediction is correct when it is any of them (as in the
multi-label re-assessments of ImageNet), and an item with none is left
out of the accuracies:
  .json  one entry per item: [[3], [1, 7], [], 5]
  .csv   one line per item, index,label[,label...] (index from 0; a line
         "index" alone for no valid class; # comments and a header line
         starting "index" are skipped)
  an IDX labels file, .npy or .pb (ONNX TensorProto): one class per item.

A progress bar shows on a terminal, not with --json. With no MODEL it
evaluates the built-in Fashion-MNIST CNN, and with no --data (for the
built-in model only) the built-in 1000 test images.`,
		Example: `  qtool eval
  qtool eval model.onnx model.int8.onnx --data val/ --resize 256x256 --crop 224x224 --mean 123.675,116.28,103.53 --std 58.395,57.12,57.375
  qtool eval model.onnx --data val.npz --labels real.json --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return fmt.Errorf("--limit %d: want a count of items, or 0 for all", limit)
			}
			pre, err := prep.preprocess()
			if err != nil {
				return err
			}
			models, err := loadModels(args)
			if err != nil {
				return err
			}
			var sessions []*engine.Session
			var names []string
			for _, m := range models {
				s, err := quant.Compile(m, engine.Options{Threads: threads})
				if err != nil {
					return fmt.Errorf("%s: %w", m.Path, err)
				}
				sessions, names = append(sessions, s), append(names, m.Path)
			}
			if dataPath == "" && len(args) == 0 {
				dataPath = embeddedData
			}
			if dataPath == "" {
				return fmt.Errorf("give --data DATA: an image folder, .npy/.npz, IDX or TensorProto folder")
			}
			src, err := openData(dataPath, "", calib.Options{Inputs: sessions[0].Inputs(), Preprocess: pre}, true)
			if err != nil {
				return fmt.Errorf("--data: %w", err)
			}
			if labelsPath != "" {
				if eo.Labels, err = bench.ReadLabels(labelsPath); err != nil {
					return fmt.Errorf("--labels: %w", err)
				}
				if len(eo.Labels) != src.Len() {
					return fmt.Errorf("--labels %s lists %d items and --data %s holds %d", labelsPath, len(eo.Labels), dataPath, src.Len())
				}
			}
			eo.Limit, eo.Threads = limit, threads
			n := src.Len()
			if limit > 0 {
				n = min(n, limit)
			}
			if bar := progress(cmd.ErrOrStderr(), opt.json, n, "evaluating"); bar != nil {
				eo.Progress = func(k int) { _ = bar.Add(k) }
			}
			r, err := bench.Evaluate(sessions, names, src, eo)
			if err != nil {
				return resizeHint(err, sessions[0].Inputs(), pre)
			}
			rep := evalReport{Data: dataPath, Labels: labelsPath, EvalReport: r}
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			return printEval(cmd.OutOrStdout(), rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataPath, "data", "", "evaluation data: image folder, .npy/.npz, IDX file or TensorProto folder ("+embeddedData+": the built-in 1000 Fashion-MNIST test images)")
	f.StringVar(&labelsPath, "labels", "", "valid classes per item: .json, .csv (multi-label), IDX labels, .npy or .pb")
	f.IntVar(&limit, "limit", 0, "evaluate the first N items only (0: all)")
	f.IntVar(&eo.Batch, "batch", 0, "items per engine run (default: up to 16, by item size)")
	f.IntVar(&threads, "threads", 0, "engine threads (0: all cores)")
	prep.register(cmd)
	return cmd
}

// progress is a progress bar for n items on w when w is a terminal and
// quiet is false, else nil.
func progress(w io.Writer, quiet bool, n int, what string) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if quiet || !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

func printEval(w io.Writer, r evalReport) error {
	fmt.Fprintf(w, "data      %s: %d items, %d labelled", r.Data, r.Items, r.Labelled)
	if r.Labels != "" {
		fmt.Fprintf(w, " by %s", r.Labels)
	}
	if r.MultiLabel {
		fmt.Fprint(w, " (several valid classes for some items)")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tmodel\ttop-1 %\ttop-5 %\tagreement %\t")
	pct := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", *p)
	}
	for i, m := range r.Models {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.2f\t\n", i+1, m.Model, pct(m.Top1), pct(m.Top5), m.Agreement)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Labelled == 0 {
		return nil
	}
	fmt.Fprintln(w, "\ntop-1 % per class (model #)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "class\titems\t")
	for i := range r.Models {
		fmt.Fprintf(tw, "#%d\t", i+1)
	}
	fmt.Fprintln(tw)
	for c, ca := range r.Models[0].PerClass {
		fmt.Fprintf(tw, "%d\t%d\t", ca.Class, ca.Items)
		for _, m := range r.Models {
			fmt.Fprintf(tw, "%.2f\t", m.PerClass[c].Top1)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

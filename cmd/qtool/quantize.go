package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/binarize"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

// embeddedData names the built-in Fashion-MNIST subset for --calib and
// --eval.
const embeddedData = "builtin"

// quantizeReport is the output of qtool quantize (--json fields).
type quantizeReport struct {
	Model      string `json:"model"`
	Output     string `json:"output"`
	Scheme     string `json:"scheme"`
	Format     string `json:"format"`
	Method     string `json:"method"`
	CalibItems int    `json:"calib_items"`
	Seed       uint64 `json:"seed"`
	// Skipped counts the unreadable items left out (--skip-bad) of the
	// calibration and evaluation data.
	Skipped     int           `json:"skipped_items"`
	Folded      int           `json:"folded_nodes"`
	Layers      []quant.Layer `json:"layers"`
	Unsupported []string      `json:"unsupported_ops"`
	FloatBytes  int64         `json:"float_file_bytes"`
	QuantBytes  int64         `json:"quant_file_bytes"`
	// Binary is set for --scheme binary.
	Binary *binaryReport `json:"binary,omitempty"`
	// With --eval, its fields are the report's own.
	*EvalReport
}

// binaryReport is what --scheme binary adds to the report.
type binaryReport struct {
	// Trained: the model held trained binary layers, converted
	// losslessly; otherwise layers were binarized after training.
	Trained    bool   `json:"trained"`
	Rest       string `json:"rest"`
	Thresholds string `json:"thresholds,omitempty"`
	// Skipped lists layers left out of post-training binarization.
	Skipped []string `json:"skipped,omitempty"`
	// MACs per layer for one item, and the binary layers' bit-operations
	// (MACs × 1 bit × 1 bit), per layer and in all.
	LayerMACs   map[string]int64 `json:"layer_macs"`
	LayerBitOps map[string]int64 `json:"layer_bit_ops"`
	BitOps      int64            `json:"bit_ops"`
}

// EvalReport compares the float and quantized models on the --eval data
// (exported for encoding/json to fill it as an embedded pointer).
type EvalReport struct {
	EvalItems int `json:"eval_items"`
	// Top-1 accuracies in percent, for labelled data only.
	FloatTop1 *float64 `json:"float_top1,omitempty"`
	QuantTop1 *float64 `json:"quant_top1,omitempty"`
	// Agreement: percent of items whose top-1 class is the same for both
	// models; OutputSQNR: of the first output against float, in dB.
	Agreement  float64 `json:"agreement"`
	OutputSQNR float64 `json:"output_sqnr_db"`
	// MACs of one item (the first) through the model.
	MACs int64 `json:"macs"`
	// Median latency of one item with qtool's engine, float and
	// quantized, measured alternately in Rounds rounds.
	FloatMs float64 `json:"float_ms"`
	QuantMs float64 `json:"quant_ms"`
	Rounds  int     `json:"latency_rounds"`
	Threads int     `json:"threads"`
}

func newQuantize(opt *options) *cobra.Command {
	var (
		out, schemeName, calibPath, method, format, evalPath, labels, overrides, firstLast string
		rest, thresholds                                                                   string
		calibSize, block, threads                                                          int
		seed                                                                               uint64
		exclude, opTypes, layers                                                           []string
		perTensor, skipBad                                                                 bool
		prep                                                                               prepFlags
	)
	cmd := &cobra.Command{
		Use:   "quantize [MODEL]",
		Short: "Calibrate a float model and rewrite it to INT8, 4-bit or dynamic fixed point (QDQ)",
		Long: `quantize calibrates a float ONNX model's activations on real data and
writes a quantized model in QDQ form (QuantizeLinear/DequantizeLinear around
the quantized operators, weights stored as integers with a DequantizeLinear),
which ONNX Runtime and qtool's engine run.

Schemes: int8 (int8 symmetric per-channel weights, int8 asymmetric
activations; u8s8 for uint8 activations; --per-tensor for one weight
scale), w4a8 (int4 weights per channel or per --block, int8 activations),
w4a4 (int4 activations too), dfp16 and dfp8 (dynamic fixed point:
power-of-two scales, zero point 0, int16 or int8).

--scheme binary writes qtool's binary operators (BinaryConv, BinaryGemm,
domain ai.qtool). A model holding trained binary layers (weights ±a per
output channel read from Sign, Sign(x - t) or Where(x > t, 1, -1)) has
them converted losslessly, with their scale, BatchNorm, Relu and a
following Sign folded in; a float model has --layers (default: every
Conv/Gemm but the first and last) binarized after training: weights
sign(W) per output channel, activations sign(x - t) with t per input
channel from the calibration data (--thresholds). The other Conv/Gemm
layers take --rest (int8, or fp32 to keep them float). Expect a large
accuracy loss from binarizing a float model without retraining.

It prints a table per weighted layer: precision, weight bytes and the SQNR
of the layer's output against float on the calibration data. With --eval
it compares the two models with qtool's engine: top-1 accuracy of each
(labelled data), the share of items whose top-1 agree, the SQNR of the
first output, the MACs of one item and the latency of each on one item.

Images are decoded, resized (--resize), center-cropped (--crop) and
normalised per channel as (pixel - mean) / std with pixels in 0..255
(--mean, --std; by default values in [0,1]), in the model input's layout
(--layout) and channel order (--color). A calibration run reads
--calib-size items chosen with --seed, the same for the same seed; an
unreadable item is an error naming it unless --skip-bad leaves it out.
A progress bar shows on a terminal, not with --json.

With no MODEL it quantizes the built-in Fashion-MNIST CNN, and with no
--calib it calibrates on 200 of the built-in 1000 test images (and
evaluates on all 1000). The output defaults to MODEL.<scheme>.onnx beside
the model and never replaces the input.`,
		Example: `  qtool quantize
  qtool quantize model.onnx --scheme int8 --calib images/ --calib-size 500 --eval test/
  qtool quantize det.onnx --calib photos/ --resize 640x640 --mean 123.675,116.28,103.53 --std 58.395,57.12,57.375
  qtool quantize model.onnx --scheme w4a8 --block 32 --calib data.npz -o model.w4.onnx
  qtool quantize bnn.onnx --scheme binary --rest fp32 --calib builtin --eval builtin`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "qdq" && format != "qop" {
				return fmt.Errorf("--format %s: want qdq or qop", format)
			}
			if strings.EqualFold(schemeName, "binary") {
				for _, name := range []string{"format", "block", "per-tensor", "exclude", "op-types", "first-last", "overrides"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s does not apply to --scheme binary (its other layers take --rest int8 or fp32)", name)
					}
				}
				return quantizeBinary(cmd, opt, args, binaryArgs{out: out, calib: calibPath, calibSize: calibSize, seed: seed, method: method,
					eval: evalPath, labels: labels, rest: rest, thresholds: thresholds, layers: splitList(layers), skipBad: skipBad, threads: threads, prep: prep})
			}
			for _, name := range []string{"rest", "layers", "thresholds"} {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("--%s applies to --scheme binary", name)
				}
			}
			scheme, err := quant.SchemeByName(schemeName)
			if err != nil {
				return fmt.Errorf("--scheme: %w", err)
			}
			pre, err := prep.preprocess()
			if err != nil {
				return err
			}
			if calibSize < 0 {
				return fmt.Errorf("--calib-size %d: want a count of items, or 0 for all", calibSize)
			}
			if scheme.IsFloat() {
				return errors.New("--scheme float quantizes nothing; choose int8, u8s8, w4a8, w4a4, dfp16 or dfp8")
			}
			if perTensor {
				if scheme.PowerOfTwo {
					return errors.New("--per-tensor: dynamic fixed point is always per tensor")
				}
				scheme.PerChannel = false
			}
			if block != 0 {
				if scheme.Weight != onnxio.Int4 {
					return fmt.Errorf("--block applies to the 4-bit schemes (w4a8, w4a4), not %s", scheme.Name)
				}
				scheme.Block = block
			}
			if err := scheme.Validate(); err != nil {
				return err
			}
			if format == "qop" && (onnxio.ElemBits(scheme.Weight) != 8 || onnxio.ElemBits(scheme.Act) != 8) {
				return fmt.Errorf("--format qop: ONNX's quantized operators (QLinearConv, QLinearMatMul) are 8-bit; use qdq for %s", scheme.Name)
			}
			m, err := loadModel(args)
			if err != nil {
				return err
			}
			if len(args) == 0 && calibPath == "" && evalPath == "" {
				evalPath = embeddedData
			}
			outPath, err := quantizeOutput(args, out, scheme.Name)
			if err != nil {
				return err
			}
			meth, err := calibMethod(method)
			if err != nil {
				return err
			}
			cfg := quant.Config{Scheme: scheme, Exclude: splitList(exclude), FirstLast: firstLast}
			if len(opTypes) > 0 {
				cfg.OpTypes = splitList(opTypes)
			}
			if overrides != "" {
				if cfg.Overrides, err = quant.LoadOverrides(overrides); err != nil {
					return err
				}
			}
			fs, err := engine.Compile(m, engine.Options{Threads: threads})
			if err != nil {
				return fmt.Errorf("%s: %w", m.Path, err)
			}
			inputs := fs.Inputs()
			data := calib.Options{Inputs: inputs, Preprocess: pre}
			src, err := openData(calibPath, "", data, len(args) == 0)
			if err != nil {
				return fmt.Errorf("--calib: %w", err)
			}
			src = calib.Sample(src, calibSize, seed)
			skipped := 0
			if skipBad {
				if src, skipped, err = readable(cmd, "--calib", src, threads); err != nil {
					return err
				}
			}
			// The progress bar goes to standard error when it is a
			// terminal (not with --json).
			res, err := quant.Quantize(m, src, cfg, quant.Options{Method: meth, Threads: threads,
				Calib: calib.Config{Quiet: opt.json, SkipBad: skipBad}})
			if err != nil {
				return resizeHint(err, inputs, pre)
			}
			calibItems := src.Len()
			if res.Calib != nil {
				calibItems, skipped = res.Calib.Items, skipped+res.Calib.Skipped
			}
			if err := quant.MeasureSQNR(res.Float, res.Model, res.Layers, src, threads); err != nil {
				return fmt.Errorf("measuring SQNR: %w", err)
			}
			if len(res.Plan.Float) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "qtool: warning: these operators stay in float: %s\n", strings.Join(res.Plan.Float, ", "))
			}
			rep := quantizeReport{Model: m.Path, Output: outPath, Scheme: scheme.Precision(), Format: format, Method: meth.String(),
				CalibItems: calibItems, Seed: seed, Folded: res.Folded, Layers: res.Layers, Unsupported: res.Plan.Float}
			if rep.Unsupported == nil {
				rep.Unsupported = []string{}
			}
			if evalPath != "" {
				es, err := openData(evalPath, labels, data, true)
				if err != nil {
					return fmt.Errorf("--eval: %w", err)
				}
				if skipBad {
					n := 0
					if es, n, err = readable(cmd, "--eval", es, threads); err != nil {
						return err
					}
					skipped += n
				}
				qs, err := quant.Compile(res.Model, engine.Options{Threads: threads})
				if err != nil {
					return err
				}
				if rep.EvalReport, err = evaluate(m, fs, qs, es, threads); err != nil {
					return fmt.Errorf("--eval: %w", err)
				}
			}
			rep.Skipped = skipped
			if b, err := m.Marshal(); err == nil {
				rep.FloatBytes = int64(len(b))
			}
			if format == "qop" {
				// Accuracy and SQNR above were measured on the QDQ form,
				// which computes the same.
				if _, err := quant.ToQOperator(res.Model); err != nil {
					return err
				}
			}
			if err := res.Model.Save(outPath, onnxio.SaveOptions{}); err != nil {
				return err
			}
			if fi, err := os.Stat(outPath); err == nil {
				rep.QuantBytes = fi.Size()
			}
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), jsonSafe(rep))
			}
			return printQuantize(cmd.OutOrStdout(), rep)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "output model (default MODEL.<scheme>.onnx beside MODEL)")
	f.StringVar(&schemeName, "scheme", "int8", "int8, u8s8, w4a8, w4a4, dfp16, dfp8 or binary")
	f.StringVar(&rest, "rest", "int8", "--scheme binary: the Conv/Gemm layers not made binary, int8 or fp32")
	f.StringSliceVar(&layers, "layers", nil, "--scheme binary: Conv/Gemm nodes to binarize after training (default every one but the first and last weighted layer)")
	f.StringVar(&thresholds, "thresholds", "mean", "--scheme binary: activation thresholds of post-training binarization per input channel: mean, median or zero")
	f.StringVar(&calibPath, "calib", "", "calibration data: image folder, .npy/.npz, IDX file or TensorProto folder (default: the built-in images, for the built-in model)")
	f.IntVar(&calibSize, "calib-size", 200, "calibrate on this many items sampled with --seed (0: all)")
	f.Uint64Var(&seed, "seed", 1, "seed of the --calib-size sample: the same seed picks the same items")
	f.BoolVar(&skipBad, "skip-bad", false, "leave out unreadable items of --calib and --eval data (counted in the report) instead of failing")
	f.StringVar(&method, "method", "minmax", "calibration method: minmax, percentile, entropy or mse")
	f.StringVar(&format, "format", "qdq", "output format: qdq (QuantizeLinear/DequantizeLinear around float operators) or qop (QLinearConv, QLinearMatMul; 8-bit schemes; Gemm and other groups stay QDQ)")
	f.StringVar(&evalPath, "eval", "", "data to compare the float and quantized models on (top-1 accuracy when labelled, agreement, output SQNR, latency; "+embeddedData+": the built-in 1000 Fashion-MNIST test images)")
	f.StringVar(&labels, "labels", "", "labels for --eval data that carries none (.npy of integers)")
	f.IntVar(&block, "block", 0, "4-bit weights in blocks of 32, 64 or 128 along the input channels (default per channel)")
	f.BoolVar(&perTensor, "per-tensor", false, "one scale per weight tensor instead of per output channel")
	f.StringSliceVar(&exclude, "exclude", nil, "node names to keep in float (comma-separated)")
	f.StringSliceVar(&opTypes, "op-types", nil, "operator types to quantize (default "+strings.Join(quant.DefaultOpTypes, ",")+")")
	f.StringVar(&firstLast, "first-last", "", "scheme of the first and last weighted layers, or float (default: int8 for 4-bit schemes, else --scheme)")
	f.StringVar(&overrides, "overrides", "", `JSON file of per-node and per-tensor schemes: {"nodes": {NAME: SCHEME}, "tensors": {NAME: SCHEME}}`)
	f.IntVar(&threads, "threads", 0, "engine threads (0: all cores)")
	prep.register(cmd)
	return cmd
}

func splitList(v []string) []string {
	var out []string
	for _, s := range v {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// quantizeOutput picks the output path and refuses the input's own.
func quantizeOutput(args []string, out, scheme string) (string, error) {
	if out == "" {
		if len(args) == 0 {
			out = strings.TrimSuffix(filepath.Base(qtool.DefaultModel), ".onnx") + "." + scheme + ".onnx"
		} else {
			out = strings.TrimSuffix(args[0], ".onnx") + "." + scheme + ".onnx"
		}
	}
	if len(args) > 0 {
		a, err1 := filepath.Abs(out)
		b, err2 := filepath.Abs(args[0])
		same := err1 == nil && err2 == nil && a == b
		if fa, err := os.Stat(out); err == nil {
			if fb, err := os.Stat(args[0]); err == nil && os.SameFile(fa, fb) {
				same = true
			}
		}
		if same {
			return "", fmt.Errorf("-o %s is the input model; write the quantized model to another file", out)
		}
	}
	return out, nil
}

func calibMethod(name string) (calib.Method, error) {
	switch strings.ToLower(name) {
	case "minmax":
		return calib.MinMax{}, nil
	case "percentile":
		return calib.Percentile{}, nil
	case "entropy":
		return calib.Entropy{}, nil
	case "mse":
		return calib.MSE{}, nil
	}
	return nil, fmt.Errorf("--method %s: want minmax, percentile, entropy or mse", name)
}

// openData opens a data set for the model's inputs; "" or "builtin" for
// the built-in model means the embedded Fashion-MNIST subset.
func openData(path, labels string, opts calib.Options, builtinOK bool) (calib.Source, error) {
	if path == "" && !builtinOK {
		return nil, errors.New("calibration data is needed for a model of your own: give --calib DATA (an image folder, .npy/.npz, IDX or TensorProto folder)")
	}
	var src calib.Source
	var err error
	if path == "" || path == embeddedData {
		src, err = builtinImages(opts)
	} else {
		src, err = calib.Open(path, opts)
	}
	if err != nil {
		return nil, err
	}
	if src.Len() == 0 {
		return nil, fmt.Errorf("%s holds no items", path)
	}
	if labels != "" {
		t, err := calib.ReadTensor(labels)
		if err != nil {
			return nil, fmt.Errorf("--labels: %w", err)
		}
		if t.Len() != src.Len() {
			return nil, fmt.Errorf("--labels: %d labels for %d items", t.Len(), src.Len())
		}
		src = &labelled{Source: src, labels: t}
	}
	return src, nil
}

type labelled struct {
	calib.Source
	labels *engine.Tensor
}

func (l *labelled) Item(i int) (calib.Item, error) {
	it, err := l.Source.Item(i)
	if err != nil {
		return it, err
	}
	switch {
	case l.labels.I64 != nil:
		it.Label = int(l.labels.I64[i])
	case l.labels.I32 != nil:
		it.Label = int(l.labels.I32[i])
	case l.labels.U8 != nil:
		it.Label = int(l.labels.U8[i])
	case l.labels.I8 != nil:
		it.Label = int(l.labels.I8[i])
	case l.labels.F32 != nil:
		it.Label = int(l.labels.F32[i])
	}
	return it, nil
}

func builtinImages(opts calib.Options) (calib.Source, error) {
	return calib.OpenIDXFS(qtool.Fixtures, qtool.FashionMNISTImages, qtool.FashionMNISTLabels, opts)
}

// jsonSafe replaces infinite SQNRs (no error at all) by a large number
// JSON can hold.
func jsonSafe(r quantizeReport) quantizeReport {
	r.Layers = append([]quant.Layer(nil), r.Layers...)
	if r.EvalReport != nil {
		e := *r.EvalReport
		if math.IsInf(e.OutputSQNR, 1) || math.IsNaN(e.OutputSQNR) {
			e.OutputSQNR = 999
		}
		r.EvalReport = &e
	}
	for i := range r.Layers {
		switch l := &r.Layers[i]; {
		case math.IsNaN(l.SQNR) && l.Precision == "binary":
			l.SQNR = 0 // packed bits out (output ""): nothing to compare
		case math.IsInf(l.SQNR, 1) || math.IsNaN(l.SQNR):
			l.SQNR = 999
		}
	}
	return r
}

func printQuantize(w io.Writer, r quantizeReport) error {
	fmt.Fprintf(w, "model        %s\n", r.Model)
	fmt.Fprintf(w, "output       %s\n", r.Output)
	fmt.Fprintf(w, "scheme       %s (%s, %s calibration on %d items, %d nodes folded into convolutions)\n", r.Scheme, r.Format, r.Method, r.CalibItems, r.Folded)
	if b := r.Binary; b != nil {
		how := "trained binary layers converted losslessly"
		if !b.Trained {
			how = "binarized after training, " + b.Thresholds + " thresholds"
		}
		fmt.Fprintf(w, "binary       %s; other Conv/Gemm layers %s\n", how, b.Rest)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	head := "layer\top\tprecision\tfp32 bytes\tbytes\tSQNR dB\t"
	if r.Binary != nil {
		head += "MACs\tbit-ops\t"
	}
	fmt.Fprintln(tw, head)
	var fb, qb int64
	for _, l := range r.Layers {
		sqnr := fmt.Sprintf("%.1f", l.SQNR)
		if math.IsNaN(l.SQNR) {
			sqnr = "-" // packed bits: no float output to compare
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t", l.Name, l.Op, l.Precision, l.FloatBytes, l.WeightBytes, sqnr)
		if b := r.Binary; b != nil {
			ops := "-"
			if v, ok := b.LayerBitOps[l.Name]; ok {
				ops = fmt.Sprint(v)
			}
			fmt.Fprintf(tw, "%d\t%s\t", b.LayerMACs[l.Name], ops)
		}
		fmt.Fprintln(tw)
		fb += l.FloatBytes
		qb += l.WeightBytes
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t\t\n", fb, qb)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "file size    %d -> %d bytes\n", r.FloatBytes, r.QuantBytes)
	if r.Skipped > 0 {
		fmt.Fprintf(w, "skipped      %d unreadable items\n", r.Skipped)
	}
	if e := r.EvalReport; e != nil {
		fmt.Fprintf(w, "eval         %d items\n", e.EvalItems)
		if e.FloatTop1 != nil {
			fmt.Fprintf(w, "top-1        float %.2f %%, quantized %.2f %% (%+.2f points)\n", *e.FloatTop1, *e.QuantTop1, *e.QuantTop1-*e.FloatTop1)
		}
		fmt.Fprintf(w, "agreement    %.2f %% of items have the same top-1\n", e.Agreement)
		fmt.Fprintf(w, "output SQNR  %.1f dB\n", e.OutputSQNR)
		fmt.Fprintf(w, "MACs         %s per item\n", count(e.MACs))
		if b := r.Binary; b != nil {
			fmt.Fprintf(w, "bit-ops      %s per item in binary layers (1-bit × 1-bit MACs, %.1f %% of the MACs)\n", count(b.BitOps), 100*float64(b.BitOps)/float64(max(e.MACs, 1)))
		}
		fmt.Fprintf(w, "latency      float %.3f ms, quantized %.3f ms (%.2fx) per item, median of %d, %d threads\n",
			e.FloatMs, e.QuantMs, e.FloatMs/e.QuantMs, e.Rounds, e.Threads)
	}
	return nil
}

// resizeHint adds to a failed run's error, for a model whose image input
// has a dynamic height and width fed without --resize, that the images
// kept their own sizes, which such models often refuse (PaddleOCR's
// detector wants multiples of 32).
func resizeHint(err error, inputs []engine.ValueInfo, pre calib.Preprocess) error {
	if pre.ResizeW > 0 || len(inputs) != 1 || len(inputs[0].Shape) != 4 {
		return err
	}
	if inputs[0].Shape[2] >= 0 {
		return err // a fixed size (axis 2 is W or H in either layout): images are resized to it
	}
	return fmt.Errorf("%w (model input %q has a dynamic height and width, so images kept their own sizes: give --resize WxH, e.g. a multiple of 32 for PaddleOCR's detector)", err, inputs[0].Name)
}

// binaryArgs are the flags of quantize --scheme binary.
type binaryArgs struct {
	out, calib, method, eval, labels, rest, thresholds string
	calibSize, threads                                 int
	seed                                               uint64
	layers                                             []string
	skipBad                                            bool
	prep                                               prepFlags
}

// quantizeBinary is quantize --scheme binary: binarize.Binarize, then the
// report as for the other schemes with the binary layers' bit-operations.
func quantizeBinary(cmd *cobra.Command, opt *options, args []string, a binaryArgs) error {
	pre, err := a.prep.preprocess()
	if err != nil {
		return err
	}
	if a.calibSize < 0 {
		return fmt.Errorf("--calib-size %d: want a count of items, or 0 for all", a.calibSize)
	}
	meth, err := calibMethod(a.method)
	if err != nil {
		return err
	}
	m, err := loadModel(args)
	if err != nil {
		return err
	}
	if len(args) == 0 && a.calib == "" && a.eval == "" {
		a.eval = embeddedData
	}
	outPath, err := quantizeOutput(args, a.out, "binary")
	if err != nil {
		return err
	}
	fs, err := engine.Compile(m, engine.Options{Threads: a.threads})
	if err != nil {
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	inputs := fs.Inputs()
	data := calib.Options{Inputs: inputs, Preprocess: pre}
	src, err := openData(a.calib, "", data, len(args) == 0)
	if err != nil {
		return fmt.Errorf("--calib: %w", err)
	}
	src = calib.Sample(src, a.calibSize, a.seed)
	skipped := 0
	if a.skipBad {
		if src, skipped, err = readable(cmd, "--calib", src, a.threads); err != nil {
			return err
		}
	}
	res, err := binarize.Binarize(m, src, binarize.Options{Rest: a.rest, Layers: a.layers, Thresholds: binarize.Thresholds(a.thresholds),
		Method: meth, Threads: a.threads, Calib: calib.Config{Quiet: opt.json, SkipBad: a.skipBad}})
	if err != nil {
		return resizeHint(err, inputs, pre)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(cmd.ErrOrStderr(), "qtool: warning: not binarized: %s\n", s)
	}
	if len(res.FloatOps) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "qtool: warning: these operators stay in float: %s\n", strings.Join(res.FloatOps, ", "))
	}
	calibItems := src.Len()
	if res.Calib != nil {
		calibItems, skipped = res.Calib.Items, skipped+res.Calib.Skipped
	}
	if err := binarize.MeasureSQNR(res, src, a.threads); err != nil {
		return fmt.Errorf("measuring SQNR: %w", err)
	}
	br := &binaryReport{Trained: res.Trained, Rest: a.rest, Skipped: res.Skipped, LayerMACs: map[string]int64{}, LayerBitOps: map[string]int64{}}
	if !res.Trained {
		br.Thresholds = a.thresholds
	}
	// MACs at one item's input shapes, from the float model (the binary
	// nodes keep their layers' names).
	it, err := src.Item(0)
	if err != nil {
		return err
	}
	info, err := bench.Inspect(res.Float, itemShapes(it))
	if err != nil {
		return fmt.Errorf("counting MACs: %w", err)
	}
	for _, l := range info.Layers {
		br.LayerMACs[l.Name] = l.MACs
	}
	for _, l := range res.Layers {
		if l.Precision == "binary" {
			br.LayerBitOps[l.Name] = br.LayerMACs[l.Name]
			br.BitOps += br.LayerMACs[l.Name]
		}
	}
	rep := quantizeReport{Model: m.Path, Output: outPath, Scheme: "binary", Format: "qdq", Method: meth.String(), CalibItems: calibItems,
		Seed: a.seed, Folded: res.Folded, Layers: res.Layers, Unsupported: append([]string{}, res.FloatOps...), Binary: br}
	if a.eval != "" {
		es, err := openData(a.eval, a.labels, data, true)
		if err != nil {
			return fmt.Errorf("--eval: %w", err)
		}
		if a.skipBad {
			n := 0
			if es, n, err = readable(cmd, "--eval", es, a.threads); err != nil {
				return err
			}
			skipped += n
		}
		qs, err := quant.Compile(res.Model, engine.Options{Threads: a.threads})
		if err != nil {
			return err
		}
		if rep.EvalReport, err = evaluate(m, fs, qs, es, a.threads); err != nil {
			return fmt.Errorf("--eval: %w", err)
		}
	}
	rep.Skipped = skipped
	if b, err := m.Marshal(); err == nil {
		rep.FloatBytes = int64(len(b))
	}
	if err := res.Model.Save(outPath, onnxio.SaveOptions{}); err != nil {
		return err
	}
	if fi, err := os.Stat(outPath); err == nil {
		rep.QuantBytes = fi.Size()
	}
	if opt.json {
		return writeJSON(cmd.OutOrStdout(), jsonSafe(rep))
	}
	return printQuantize(cmd.OutOrStdout(), rep)
}

// itemShapes are the shapes of one item's inputs as a batch of one.
func itemShapes(it calib.Item) map[string]onnxio.Shape {
	shapes := map[string]onnxio.Shape{}
	for name, t := range it.Inputs {
		s := onnxio.Shape{{Value: 1}}
		for _, d := range t.Shape {
			s = append(s, onnxio.Dim{Value: int64(d)})
		}
		shapes[name] = s
	}
	return shapes
}

package quant

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Options are the calibration settings of Quantize.
type Options struct {
	// Method observes activation ranges (calib.MinMax{} when nil).
	Method calib.Method
	// Calib tunes the calibration runs.
	Calib calib.Config
	// Threads for the engine (0: GOMAXPROCS).
	Threads int
}

// Result is what Quantize made.
type Result struct {
	// Model is the quantized model (QDQ), Float the prepared float model it
	// was made from (Constant nodes as initializers, BatchNormalization
	// folded), the reference for accuracy and SQNR.
	Model, Float *onnxio.Model
	Plan         *Plan
	Layers       []Layer
	// Folded counts the BatchNormalization nodes folded into Conv.
	Folded int
	Calib  *calib.Result
}

// Quantize prepares a copy of m, calibrates its activations on src and
// rewrites it per cfg. m is not modified. A missing or empty calibration
// source is an error.
func Quantize(m *onnxio.Model, src calib.Source, cfg Config, opt Options) (*Result, error) {
	if src == nil {
		return nil, errors.New("quant: no calibration data (give a data set to calibrate on)")
	}
	if src.Len() == 0 {
		return nil, errors.New("quant: the calibration data set is empty")
	}
	if err := cfg.Scheme.Validate(); err != nil {
		return nil, err
	}
	opset := cfg.Scheme.Opset()
	if o := cfg.Overrides; o != nil {
		for _, mm := range []map[string]string{o.Nodes, o.Tensors} {
			for _, v := range mm {
				s, err := SchemeByName(v)
				if err != nil {
					return nil, err
				}
				if s.Weight == onnxio.Int4 && cfg.Scheme.Block > 0 {
					s.Block = cfg.Scheme.Block
				}
				opset = max(opset, s.Opset())
			}
		}
	}
	fm := clone(m)
	folded, err := Prepare(fm, opset)
	if err != nil {
		return nil, err
	}
	plan, err := MakePlan(fm, cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Float: fm, Plan: plan, Folded: folded}
	ranges := map[string]calib.Range{}
	{
		s, err := calib.NewSession(fm, opt.Threads)
		if err != nil {
			return nil, err
		}
		// Only float32 values the runs compute can be quantized: drop
		// planned tensors that are integer or shape computations
		// (folded at plan time), as one item's run shows.
		computed := map[string]bool{}
		if err := batches(calib.Sample(src, 1, 1), 1, func(in map[string]*engine.Tensor, _ []int) error {
			for k, v := range in {
				computed[k] = v.Type == onnxio.Float
			}
			_, err := s.RunObserved(in, func(name string, t *engine.Tensor) { computed[name] = t.Type == onnxio.Float })
			return err
		}); err != nil {
			return nil, fmt.Errorf("quant: running the float model: %w", err)
		}
		plan.keep(func(t string) bool { return computed[t] })
		method := opt.Method
		if method == nil {
			method = calib.MinMax{}
		}
		if err := inputMeans(s, fm, plan, src); err != nil {
			return nil, err
		}
		if len(plan.Order) > 0 {
			cr, err := calib.Calibrate(s, src, plan.Order, method, opt.Calib)
			if err != nil {
				return nil, err
			}
			res.Calib = cr
			for t, st := range cr.Tensors {
				ranges[t] = st.Range
			}
		}
	}
	qm := clone(fm)
	// The plan refers to fm's nodes; remake it on the copy.
	qplan, err := MakePlan(qm, cfg)
	if err != nil {
		return nil, err
	}
	qplan.keep(func(t string) bool { _, ok := plan.Tensors[t]; return ok })
	qplan.InputMeans = plan.InputMeans
	layers, err := Rewrite(qm, qplan, ranges)
	if err != nil {
		return nil, err
	}
	res.Model, res.Layers = qm, layers
	return res, nil
}

func clone(m *onnxio.Model) *onnxio.Model {
	return &onnxio.Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto), Path: m.Path, Dir: m.Dir}
}

// batches runs the items of src through fn in batches of up to size,
// stacking each input along a new first axis; labels come along.
func batches(src calib.Source, size int, fn func(in map[string]*engine.Tensor, labels []int) error) error {
	n := src.Len()
	if n == 0 {
		return errors.New("quant: the data set is empty")
	}
	for start := 0; start < n; start += size {
		end := min(n, start+size)
		var items []calib.Item
		for i := start; i < end; i++ {
			it, err := src.Item(i)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		in := map[string]*engine.Tensor{}
		labels := make([]int, len(items))
		for k, it := range items {
			labels[k] = it.Label
		}
		for name, t0 := range items[0].Inputs {
			if t0.Type != onnxio.Float {
				return fmt.Errorf("quant: input %q is %s; only float32 inputs are batched", name, onnxio.DataTypeName(t0.Type))
			}
			per := t0.Len()
			data := make([]float32, 0, per*len(items))
			for _, it := range items {
				t := it.Inputs[name]
				if t == nil || t.Len() != per {
					return fmt.Errorf("quant: item inputs differ in shape")
				}
				data = append(data, t.F32...)
			}
			in[name] = engine.NewFloat32(append([]int{len(items)}, t0.Shape...), data)
		}
		if err := fn(in, labels); err != nil {
			return err
		}
	}
	return nil
}

// Compile compiles a quantized model for our engine, which runs every
// scheme's QDQ natively (int8 and 4-bit and 16-bit patterns on the
// integer kernels).
func Compile(m *onnxio.Model, opts engine.Options) (*engine.Session, error) {
	return engine.Compile(m, opts)
}

// Accuracy is the top-1 accuracy of a classifier on labelled data: the
// arg max of the first output against each item's label.
func Accuracy(s *engine.Session, src calib.Source) (float64, error) {
	correct, total := 0, 0
	out := s.OutputNames()[0]
	err := batches(src, 100, func(in map[string]*engine.Tensor, labels []int) error {
		o, err := s.Run(in)
		if err != nil {
			return err
		}
		pred := Argmax(o[out])
		for i, l := range labels {
			if l < 0 {
				return errors.New("quant: accuracy needs labelled data (no label for an item)")
			}
			total++
			if pred[i] == l {
				correct++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return 100 * float64(correct) / float64(total), nil
}

// Argmax returns the arg max of each row of a [N, ...] float tensor.
func Argmax(t *engine.Tensor) []int {
	n := t.Shape[0]
	per := t.Len() / max(n, 1)
	out := make([]int, n)
	for i := range n {
		row := t.F32[i*per : (i+1)*per]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// MeasureSQNR fills each layer's SQNR: 10·log10(Σx² / Σ(x - q)²) of the
// layer's output in the quantized model against the float model, over
// src (signal and noise summed over every item and element).
func MeasureSQNR(floatM, quantM *onnxio.Model, layers []Layer, src calib.Source, threads int) error {
	fs, err := engine.Compile(floatM, engine.Options{Threads: threads, NoFusion: true})
	if err != nil {
		return err
	}
	// NoInteger: the engine would otherwise run each DequantizeLinear ->
	// op -> QuantizeLinear group as one integer step, and the layer's
	// dequantized float output would never be observed.
	qs, err := Compile(quantM, engine.Options{Threads: threads, NoFusion: true, NoInteger: true})
	if err != nil {
		return err
	}
	want := map[string]int{}  // float model name -> layer
	wantQ := map[string]int{} // quantized model name -> layer
	for i, l := range layers {
		want[l.Output] = i
		q := l.QuantOutput
		if q == "" {
			q = l.Output
		}
		wantQ[q] = i
	}
	sig := make([]float64, len(layers))
	noise := make([]float64, len(layers))
	// Small batches bound the memory of the two unfused runs and of ref.
	err = batches(src, calib.DefaultBatch(src), func(in map[string]*engine.Tensor, _ []int) error {
		ref := map[string][]float32{}
		if _, err := fs.RunObserved(in, func(name string, t *engine.Tensor) {
			if _, ok := want[name]; ok && t.Type == onnxio.Float {
				ref[name] = append([]float32(nil), t.F32...)
			}
		}); err != nil {
			return err
		}
		var qerr error
		seen := func(name string, t *engine.Tensor) {
			i, ok := wantQ[name]
			if !ok || t.Type != onnxio.Float {
				return
			}
			r := ref[layers[i].Output]
			if len(r) != len(t.F32) {
				qerr = fmt.Errorf("quant: layer output %s differs in size", name)
				return
			}
			for k, v := range r {
				d := float64(v) - float64(t.F32[k])
				sig[i] += float64(v) * float64(v)
				noise[i] += d * d
			}
		}
		if _, err := qs.RunObserved(in, seen); err != nil {
			return err
		}
		return qerr
	})
	if err != nil {
		return err
	}
	for i := range layers {
		layers[i].SQNR = SQNR(sig[i], noise[i])
	}
	return nil
}

// SQNR is 10·log10(signal/noise) in dB, +Inf for no noise.
func SQNR(signal, noise float64) float64 {
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(signal/noise)
}

// inputMeans fills plan.InputMeans: the per-channel means, over src, of
// the activation inputs of weighted nodes with 4-bit weights.
func inputMeans(s *engine.Session, m *onnxio.Model, plan *Plan, src calib.Source) error {
	axes := map[string]int{} // tensor -> channel axis (-1: last)
	inits := initializers(m.Graph())
	for n, sc := range plan.Nodes {
		// No bias correction for ConvTranspose (biasCorrection: an
		// output sums a varying number of taps).
		if onnxio.ElemBits(sc.Weight) > 4 || !isWeightedOp(n.GetOpType()) || n.GetOpType() == "ConvTranspose" || len(n.GetInput()) < 3 || inits[n.GetInput()[1]] == nil {
			continue
		}
		if n.GetOpType() == "Gemm" {
			if a := attr(n, "transA"); a != nil && a.GetI() != 0 {
				continue
			}
		}
		ax := -1
		if n.GetOpType() == "Conv" {
			ax = 1
		}
		axes[n.GetInput()[0]] = ax
	}
	if len(axes) == 0 {
		return nil
	}
	sums := map[string][]float64{}
	counts := map[string]float64{}
	add := func(name string, t *engine.Tensor) {
		ax, ok := axes[name]
		if !ok || t.Type != onnxio.Float || len(t.Shape) < 2 {
			return
		}
		if ax < 0 {
			ax = len(t.Shape) - 1
		}
		d := t.Shape[ax]
		inner := 1
		for _, v := range t.Shape[ax+1:] {
			inner *= v
		}
		if sums[name] == nil {
			sums[name] = make([]float64, d)
		}
		if len(sums[name]) != d {
			return
		}
		sm := sums[name]
		for i, v := range t.F32 {
			if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
				sm[i/inner%d] += float64(v)
			}
		}
		counts[name] += float64(t.Len() / d)
	}
	err := batches(src, 32, func(in map[string]*engine.Tensor, _ []int) error {
		for k, v := range in {
			add(k, v)
		}
		_, err := s.RunObserved(in, add)
		return err
	})
	if err != nil {
		return fmt.Errorf("quant: input means: %w", err)
	}
	plan.InputMeans = map[string][]float64{}
	for name, sm := range sums {
		for i := range sm {
			sm[i] /= counts[name]
		}
		plan.InputMeans[name] = sm
	}
	return nil
}

package binarize

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
	"github.com/qtool/qtool/quant"
)

// Options are Binarize's settings.
type Options struct {
	// Rest is the precision of the Conv and Gemm layers not made binary:
	// "int8" (qtool's int8 QDQ scheme, the default) or "fp32".
	Rest string
	// Layers names the Conv and Gemm nodes post-training binarization
	// binarizes; nil means every one but the first and the last weighted
	// layer. A model holding trained binary layers takes none.
	Layers []string
	// Thresholds places the activation thresholds (Mean when empty).
	Thresholds Thresholds
	// Method observes the int8 layers' activation ranges (MinMax when
	// nil); Calib tunes the calibration runs.
	Method  calib.Method
	Calib   calib.Config
	Threads int
}

// Result is what Binarize made.
type Result struct {
	// Model is the binary model, Float the prepared float model it was
	// made from (the reference for accuracy and SQNR).
	Model, Float *onnxio.Model
	// Trained is true when the model held trained binary layers, which
	// were converted losslessly; otherwise layers were binarized after
	// training.
	Trained bool
	// Binary lists the binary nodes by name, in graph order.
	Binary []string
	// Layers describes every weighted layer: binary ones with precision
	// "binary" (Output empty when the layer writes packed bits, which
	// have no float counterpart to compare: MeasureSQNR gives them NaN,
	// qtool's JSON 0), the rest int8 or fp32.
	Layers []quant.Layer
	// Folded counts the nodes quant.Prepare folded into convolutions.
	Folded int
	// Skipped lists the layers post-training binarization left out by
	// default, with why.
	Skipped []string
	// Calib is the int8 calibration (nil for Rest fp32).
	Calib *calib.Result
	// FloatOps lists the operator types int8 quantization left in float
	// that compute (quant.Plan.Float).
	FloatOps []string
}

// Binarize makes a binary model of m: if m holds trained binary layers
// (Convert finds them), it converts them losslessly; otherwise it
// binarizes opt.Layers after training, with thresholds calibrated on
// src. The other Conv and Gemm layers get opt.Rest. m is not modified.
func Binarize(m *onnxio.Model, src calib.Source, opt Options) (*Result, error) {
	if src == nil || src.Len() == 0 {
		return nil, errors.New("binarize: no calibration data (give a data set to calibrate on)")
	}
	rest, err := restScheme(opt.Rest)
	if err != nil {
		return nil, err
	}
	fm := clone(m)
	folded, err := quant.Prepare(fm, rest.Opset())
	if err != nil {
		return nil, err
	}
	res := &Result{Float: fm, Folded: folded}
	bm := clone(fm)
	if res.Binary, err = Convert(bm); err != nil {
		return nil, err
	}
	res.Trained = len(res.Binary) > 0
	switch {
	case res.Trained && opt.Layers != nil:
		return nil, fmt.Errorf("binarize: --layers chooses layers to binarize after training, but %s holds trained binary layers (%s), which are converted as they are", m.Path, res.Binary[0])
	case !res.Trained:
		if res.Binary, res.Skipped, err = binarizeAfterTraining(bm, fm, src, opt); err != nil {
			return nil, err
		}
	}
	binary, err := binaryLayers(fm, bm, res.Binary)
	if err != nil {
		return nil, err
	}
	if rest.IsFloat() {
		res.Model = bm
		res.Layers = append(binary, floatLayers(bm)...)
	} else {
		qr, err := quant.Quantize(bm, src, quant.Config{Scheme: rest}, quant.Options{Method: opt.Method, Calib: opt.Calib, Threads: opt.Threads})
		if err != nil {
			return nil, err
		}
		res.Model, res.Calib = qr.Model, qr.Calib
		for _, op := range qr.Plan.Float {
			if op != "BinaryConv" && op != "BinaryGemm" {
				res.FloatOps = append(res.FloatOps, op)
			}
		}
		res.Layers = append(binary, qr.Layers...)
	}
	order := map[string]int{}
	for i, n := range fm.Graph().GetNode() {
		order[n.GetName()] = i
	}
	slices.SortStableFunc(res.Layers, func(a, b quant.Layer) int { return order[a.Name] - order[b.Name] })
	return res, nil
}

// binarizeAfterTraining is post-training binarization of the layers opt
// chooses: it rewrites them in bm, calibrating their inputs on fm.
func binarizeAfterTraining(bm, fm *onnxio.Model, src calib.Source, opt Options) (names, skipped []string, err error) {
	th := opt.Thresholds
	if th == "" {
		th = Mean
	}
	if th != Median && th != Mean && th != Zero {
		return nil, nil, fmt.Errorf("binarize: thresholds %q: want median, mean or zero", th)
	}
	gr := newGraph(bm)
	var cands []*pb.NodeProto
	for _, n := range gr.g.GetNode() {
		if (n.GetOpType() == "Conv" || n.GetOpType() == "Gemm") && (n.GetDomain() == "" || n.GetDomain() == "ai.onnx") {
			cands = append(cands, n)
		}
	}
	chosen := map[*pb.NodeProto]bool{}
	if opt.Layers == nil {
		for i, n := range cands {
			chosen[n] = i > 0 && i < len(cands)-1
		}
	} else {
		byName := map[string]*pb.NodeProto{}
		for _, n := range gr.g.GetNode() {
			byName[n.GetName()] = n
		}
		for _, name := range opt.Layers {
			n := byName[name]
			switch {
			case n == nil:
				return nil, nil, fmt.Errorf("binarize: --layers: no node named %q", name)
			case !slices.Contains(cands, n):
				return nil, nil, fmt.Errorf("binarize: --layers: node %q is a %s; qtool binarizes Conv and Gemm", name, n.GetOpType())
			}
			chosen[n] = true
		}
	}
	var layers []*layer
	var weights [][]float32
	var inputs []string
	for _, n := range cands {
		if !chosen[n] {
			continue
		}
		l, w, err := gr.weighted(n)
		if err != nil {
			if opt.Layers != nil {
				return nil, nil, fmt.Errorf("binarize: layer %q cannot be binarized: %w", n.GetName(), err)
			}
			skipped = append(skipped, fmt.Sprintf("%s: %v", n.GetName(), err))
			continue
		}
		if opt.Layers == nil && l.group > 1 && l.cg < 64 {
			// A depthwise (or narrow grouped) convolution has a few taps
			// of a few channels per output: packed into 64-bit words it
			// runs slower than int8, and binary it costs the most accuracy.
			skipped = append(skipped, fmt.Sprintf("%s: a grouped convolution of %d channels per group (name it in --layers to binarize it anyway)", n.GetName(), l.cg))
			continue
		}
		layers, weights = append(layers, l), append(weights, w)
		inputs = append(inputs, n.GetInput()[0])
	}
	if len(layers) == 0 {
		return nil, skipped, errors.New("binarize: no layer to binarize (the first and last weighted layers stay as they are; name others with --layers)")
	}
	stats, err := observeInputs(fm, inputs, src, opt.Calib, opt.Threads)
	if err != nil {
		return nil, nil, err
	}
	for i, l := range layers {
		st := stats[inputs[i]]
		if st == nil || len(st.n) != l.cg*l.group {
			return nil, nil, fmt.Errorf("binarize: layer %q: its input %q has no %d channels on axis 1", l.node.GetName(), inputs[i], l.cg*l.group)
		}
		t, beta := st.activation(th)
		binarizeWeights(l, weights[i], t, beta)
	}
	// A Relu or Clip after a layer joins its output stage.
	dead := map[*pb.NodeProto]bool{}
	for _, l := range layers {
		gr.foldOutput(l, nil, dead)
	}
	names, err = gr.finish(layers, dead)
	return names, skipped, err
}

// restScheme is the scheme of the layers left out of binarization.
func restScheme(name string) (quant.Scheme, error) {
	switch name {
	case "", "int8":
		return quant.SchemeByName("int8")
	case "fp32", "float":
		return quant.Float, nil
	}
	return quant.Scheme{}, fmt.Errorf("binarize: rest %q: want int8 or fp32", name)
}

// binaryLayers describes the binary nodes of bm (named), against the
// float model fm they were made from (same node names).
func binaryLayers(fm, bm *onnxio.Model, names []string) ([]quant.Layer, error) {
	byName := map[string]*pb.NodeProto{}
	for _, n := range fm.Graph().GetNode() {
		byName[n.GetName()] = n
	}
	fsize := sizes(fm)
	bsize := sizes(bm)
	var out []quant.Layer
	for _, n := range bm.Graph().GetNode() {
		if n.GetDomain() != Domain || !slices.Contains(names, n.GetName()) {
			continue
		}
		f := byName[n.GetName()]
		if f == nil {
			return nil, fmt.Errorf("binarize: binary node %q has no float layer of that name", n.GetName())
		}
		l := quant.Layer{Name: n.GetName(), Op: n.GetOpType(), Precision: "binary", Output: n.GetOutput()[0]}
		if a := attr(n, "output"); a != nil && string(a.GetS()) == outBits {
			l.Output = ""
		}
		for _, in := range f.GetInput()[1:] {
			l.FloatBytes += fsize[in]
		}
		for _, in := range n.GetInput()[1:] {
			l.WeightBytes += bsize[in]
		}
		out = append(out, l)
	}
	return out, nil
}

// floatLayers describes the standard Conv and Gemm nodes of m, left in
// float.
func floatLayers(m *onnxio.Model) []quant.Layer {
	size := sizes(m)
	var out []quant.Layer
	for _, n := range m.Graph().GetNode() {
		if n.GetDomain() != "" || !slices.Contains(quant.WeightedOps, n.GetOpType()) {
			continue
		}
		l := quant.Layer{Name: n.GetName(), Op: n.GetOpType(), Precision: quant.Float.Precision(), Output: n.GetOutput()[0]}
		for _, in := range n.GetInput()[1:] {
			l.FloatBytes += size[in]
		}
		l.WeightBytes = l.FloatBytes
		out = append(out, l)
	}
	return out
}

// sizes maps each initializer of m to its size in bytes.
func sizes(m *onnxio.Model) map[string]int64 {
	out := map[string]int64{}
	for _, t := range m.Graph().GetInitializer() {
		if n, err := onnxio.NumElements(t.GetDims()); err == nil {
			out[t.GetName()] = onnxio.ByteSize(onnxio.DataType(t.GetDataType()), n)
		}
	}
	return out
}

func clone(m *onnxio.Model) *onnxio.Model {
	return &onnxio.Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto), Path: m.Path, Dir: m.Dir}
}

// MeasureSQNR fills each layer's SQNR against the float model over src
// (quant.MeasureSQNR); layers writing packed bits have no float output
// to compare and get NaN.
func MeasureSQNR(res *Result, src calib.Source, threads int) error {
	if err := quant.MeasureSQNR(res.Float, res.Model, res.Layers, src, threads); err != nil {
		return err
	}
	for i, l := range res.Layers {
		if l.Output == "" {
			res.Layers[i].SQNR = math.NaN()
		}
	}
	return nil
}

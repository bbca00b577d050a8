// Package engine compiles an ONNX graph into a plan (operator order, shapes,
// packed weights, buffer reuse) and runs it with the numeric kernels, for
// float models and for the quantized and binary variants qtool produces.
//
// engine imports onnxio and kernels; it must not import calib, quant,
// binarize, bench or cmd.
//
// # Use
//
//	m, _ := onnxio.Load("model.onnx")
//	s, err := engine.Compile(m, engine.Options{}) // Threads 0: GOMAXPROCS
//	out, err := s.Run(map[string]*engine.Tensor{
//		"input": engine.NewFloat32([]int{8, 1, 28, 28}, pixels),
//	})
//	logits := out["logits"].F32
//
// A Tensor is dense and row-major: float32 for activations and weights,
// int64, int32, uint8, int8 and bool for shape, index, mask and quantized
// values.
// RunObserved is Run with a callback seeing every value computed (for
// calibration; compile with Options.NoFusion to see every node output).
//
// # Compile
//
// Compile works on a copy of the model and does, once:
//
//   - Normalise the opset: models at opset 7 to 20 are upgraded to 21 with
//     onnxio.UpgradeOpset, so each kernel implements only the newest form
//     of its operator (Clip, Pad, Slice, Squeeze, Split and the reductions
//     take inputs rather than attributes; old Softmax becomes
//     Flatten-Softmax-Reshape; Upsample becomes Resize...). Opset-6 models
//     (and older ones made only of operators that have not changed) are
//     read as opset 7 first: the legacy broadcast attribute of arithmetic
//     is honoured, is_test and consumed_inputs are dropped.
//   - Check every node: a model with operators, operator forms (an
//     attribute value such as Resize antialias, training-mode
//     BatchNormalization) or element types the engine lacks fails with one
//     *UnsupportedError listing every such node and op type.
//   - Constant nodes become initializers; nodes are put in topological
//     order; nodes whose inputs are all constant are evaluated and dropped.
//   - Fusion: a Conv followed by BatchNormalization (constant parameters,
//     folded into the weights and bias), an Add of a residual, and one
//     activation (Relu, LeakyRelu, Clip with constant bounds, HardSigmoid,
//     HardSwish, or x*HardSigmoid(x) with alpha 1/6 and beta 1/2), and a
//     Gemm followed by an activation, become one step whose chain runs in
//     the kernels' output stage (kernels.Epilogue). Only values with a
//     single consumer that are not graph outputs are fused away.
//   - Constant weights are packed once: Conv weights as kernels.PackA (M =
//     output channels, K = input channels per group × kernel window),
//     ConvTranspose weights transposed the same way, Gemm and 2-D MatMul
//     B operands as kernels.PackB (Gemm's alpha folded in).
//
// # Plans
//
// The first Run for a given set of input shapes builds a plan: every
// value's type and shape is inferred from the inputs' shapes; Shape and
// everything computed only from shapes and constants (Shape -> Gather ->
// Concat -> Reshape chains and the like) is evaluated then and becomes a
// constant of the plan; float32 activations get slots of a memory plan,
// a slot reused as soon as the last reader of its value has run; Reshape,
// Flatten, Squeeze, Unsqueeze, Identity and Dropout are views, not copies.
// Plans are cached per input shape (16 at most), so a model with a dynamic
// batch, height or width is re-planned once per new shape. Steps whose
// output shapes depend on values a run computes (NonZero, Compress,
// NonMaxSuppression, Unique, a Reshape whose shape is a graph input), and the steps after them, are
// inferred and allocated in every run instead.
//
// # Concurrency and threads
//
// A Session is safe for concurrent use: any number of goroutines may call
// Run at once. Plans, constants and packed weights are shared read-only;
// each Run takes its own activation buffers from the plan's pool. Within
// one Run, GEMM (Conv, Gemm, MatMul) is split across Options.Threads
// goroutines by the kernels, and depthwise convolution, im2col, 1-D and
// 2-D pooling, Resize and large float arithmetic and unary operators split
// their outer loops. Every output element is computed by one goroutine in
// a fixed order, so results are bit-identical for any thread count.
//
// # Integer execution
//
// QLinearConv, ConvInteger, QLinearMatMul and MatMulInteger run on the
// INT8 GEMM kernels (kernels.QGemmU8/QGemmS8): NCHW inputs are unfolded
// by a byte im2col in pixel-major order (K contiguous per output pixel),
// and the kernels' output stage adds the int32 bias and requantizes with
// the float factor sx·sw/sy (round half to even, saturated), as ONNX
// Runtime does.
//
// QDQ models (ONNX Runtime's quantizer, qtool's rewriter) are recognised
// at Compile: DequantizeLinear -> Conv/ConvTranspose/Gemm/MatMul [->
// Relu/Clip] [-> QuantizeLinear] (2-D ConvTranspose with 8-bit types,
// on the GEMM and an exact int32 col2im), with uint8/int8 activations per tensor and constant
// int8/uint8 weights per tensor or per output channel (bias float, or
// int32 behind a DequantizeLinear), runs as one integer step: the
// quantized input goes straight to the GEMM, the bias is quantized to
// int32 at scale sx·sw, Relu/Clip become a clamp in the quantized domain
// and the output is requantized in the kernel (or written as float32 when
// no QuantizeLinear follows); a MaxPool right after such a Conv is fused
// into it. MaxPool, Relu and Clip (a clamp), Flatten, Reshape, Squeeze
// and Unsqueeze between equal quantization parameters run on the
// quantized bytes. So do the operators between convolutions that read
// 8-bit per-tensor values and end in a QuantizeLinear: elementwise groups
// of one or two quantized tensors (arithmetic with scalar constants,
// Clip, HardSigmoid, Sigmoid..., a decomposed HardSwish, a residual Add,
// a squeeze-and-excitation gate) as byte tables made by running their
// float nodes on every input value, so the bytes are the float path's;
// GlobalAveragePool, AveragePool, Concat and nearest Resize; one
// elementwise node between a DequantizeLinear and a graph output (a
// detection head's Sigmoid) is a table of 256 floats. Quantized
// values passed only between such integer steps and the convolutions are
// kept N×H×W×C (RunObserved sees them in that order).
// The same Conv/Gemm/MatMul patterns with 4-bit weights (int4/uint4, per
// tensor, per channel or blocked along the input channels) and 8-bit or
// 4-bit activations (w4a8, w4a4), or with int16 activations and weights
// at power-of-two scales (dfp16), run on the 4-bit and 16-bit kernels
// (qlowbit.go). Everything else runs in float: simulated quantization,
// QuantizeLinear/DequantizeLinear of every integer type of opset 21.
// Options.NoInteger turns the recognition off. Session.Precisions lists
// each step with "int8", "w4a8", "w4a4", "int16" or "fp32" (for qtool
// inspect).
//
// # Operators (ai.onnx, opsets 6 to 21)
//
// Conv (groups, depthwise, dilations, auto_pad, asymmetric pads, 1-D to
// 3-D), ConvTranspose (output_padding, output_shape, auto_pad, 1-D to
// 3-D), Gemm, MatMul (batched, broadcast), Einsum (direct loops),
// GridSample (2-D; nearest, linear, cubic; zeros, border, reflection),
// RoiAlign (avg, max), RNN, GRU, LSTM (directions, sequence_lens, initial states, peepholes,
// clip, layouts; Sigmoid, Tanh and Relu activations);
// BatchNormalization, InstanceNormalization, LayerNormalization, LRN,
// MeanVarianceNormalization, LpNormalization; Relu, LeakyRelu, PRelu,
// Clip, HardSigmoid, HardSwish, Sigmoid, Tanh, Softmax, LogSoftmax,
// Hardmax, Elu, Selu, Celu, Gelu, Mish, Softplus, Softsign,
// ThresholdedRelu, Shrink; Add, Sub, Mul, Div, Pow, Mod, Max, Min, Sum,
// Mean (multidirectional broadcasting), Sqrt, Exp, Log, Neg, Abs, Sign,
// Erf, Reciprocal, Floor, Ceil, Round, the trigonometric and hyperbolic
// functions, IsNaN, IsInf; Equal, Less, Greater, LessOrEqual,
// GreaterOrEqual, And, Or, Xor, Not, Where, NonZero, Compress,
// NonMaxSuppression, Unique; MaxPool
// (Indices, storage_order), AveragePool (count_include_pad, ceil_mode),
// GlobalAveragePool, GlobalMaxPool; Flatten, Reshape, Transpose, Concat,
// Split, Slice, Squeeze, Unsqueeze, Expand, Tile, Pad (constant, reflect,
// edge, wrap), Shape, Size, Gather, GatherElements, GatherND,
// ScatterElements, ScatterND, TopK, OneHot, Trilu, CumSum, Range,
// DepthToSpace, SpaceToDepth, EyeLike, Cast, CastLike, Constant,
// ConstantOfShape, Identity, Dropout (inference); QuantizeLinear,
// DequantizeLinear (int8/uint8, per tensor or per axis: QDQ models run as
// simulated quantization, or in integer: see Integer execution),
// DynamicQuantizeLinear; QLinearConv, ConvInteger (uint8/int8 X and W,
// groups, per-channel weight zero points and scales, int32 bias; 1-D and
// 2-D), QLinearMatMul, MatMulInteger (batched, broadcast; per-column B
// zero points and scales) on the INT8 GEMM kernels; Resize (nearest with
// round_prefer_floor, round_prefer_ceil, floor, ceil; linear; cubic with
// cubic_coeff_a and exclude_outside; coordinate transformation modes
// half_pixel, half_pixel_symmetric, asymmetric, align_corners,
// pytorch_half_pixel, tf_crop_and_resize); ReduceMean, ReduceMax,
// ReduceMin, ReduceSum, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2,
// ReduceLogSum, ReduceLogSumExp, ArgMax, ArgMin.
//
// Not supported: control flow (If, Loop, Scan), training-mode
// BatchNormalization and Dropout, block quantization, per-row zero
// points of MatMulInteger's A, 3-D integer convolution, and element types
// other than the six above (float16 and float64 models fail at compile
// time).
package engine

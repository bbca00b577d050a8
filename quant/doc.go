// Package quant defines the quantization schemes (INT8, 4-bit, dynamic
// fixed point) and rewrites float ONNX graphs into quantized ones.
//
// # Schemes
//
// A [Scheme] gives the element types of weights and activations and how
// scales are chosen ([SchemeByName]): int8 (ONNX Runtime's S8S8 default:
// int8 symmetric per-channel weights on [-127, 127], int8 asymmetric
// per-tensor activations), u8s8 (uint8 activations), w4a8 (int4
// weights on [-7, 7] per channel, or per block of 32/64/128 along the
// input channels, int8 activations), w4a4 (int4 activations too),
// dfp16 and dfp8 (dynamic fixed point: every scale a power of two 2^-f,
// f the largest fraction length whose range holds the calibrated
// magnitude, zero point 0, int16 or int8, per tensor).
//
// The parameter functions are pure and follow ONNX Runtime's quantizer:
// [Asymmetric] widens the range to include 0, scale = (rmax-rmin)/(qmax-qmin)
// and zero point round(qmin - rmin/scale) in float32; [Symmetric] is
// amax/qmax; [PowerOfTwo] picks the shared exponent. [QuantizeValue]
// is QuantizeLinear (round half to even, saturation). Biases are int32
// with scale x_scale·w_scale ([QuantizeBias]); a bias that would not
// fit stays float. Blocked 4-bit weights clip each block's range to the
// one with the least squared error, and 4-bit layers get bias correction:
// the mean output error, Σ (w - ŵ)·E[x] per output channel with the input
// channel means measured during calibration, is added to the bias.
//
// # Pipeline
//
// [Quantize] runs the pieces in order, each usable alone:
//
//   - [Prepare]: Constant nodes to initializers, Identity of
//     initializers bypassed, BatchNormalization and constant
//     per-channel Mul/Add/Sub/Div folded into the Conv or
//     ConvTranspose before it ([FoldAffine]), opset raised to what the scheme needs
//     ([Scheme.Opset]: 13 for per-channel int8, 21 for int4, int16 and
//     blocked), IR version raised to match.
//   - [MakePlan]: which nodes and tensors to quantize ([Config]:
//     --op-types, --exclude, first/last layer kept, per-node and
//     per-tensor [Overrides] for mixed precision). Operators that stay
//     float and compute are listed in [Plan].Float.
//   - calib.Calibrate on the prepared float model for the planned
//     activations.
//   - [Rewrite]: the QDQ graph.
//
// # QDQ placement
//
// It follows ONNX Runtime's QDQ quantizer, so the engine can find
// DQ -> op -> Q groups to run in integer kernels:
//
//   - Quantized operators (by default Conv, ConvTranspose, Gemm, MatMul,
//     Add, MaxPool, AveragePool, GlobalAveragePool, Concat) have a DequantizeLinear on
//     each input: a QuantizeLinear/DequantizeLinear pair after each float
//     activation they read or write, one pair per tensor shared by all
//     readers, all of which read the DequantizeLinear's output.
//   - Weights are stored quantized with a DequantizeLinear (axis for
//     per-channel, axis and block_size for blocks); biases int32 with
//     their DequantizeLinear.
//   - A Relu or Clip that alone reads a weighted operator's output stays
//     between the operator and the QuantizeLinear (DQ -> Conv -> Relu ->
//     Q), ready to be fused into the kernel's epilogue; the pair goes on
//     the activation's output.
//   - MaxPool's output reuses its input's parameters (no requantization).
//   - Graph outputs stay float (the logits are not quantized).
//   - For 4-bit activations two ONNX Runtime 1.30 limits shape the graph:
//     a Clip whose quantized range lies inside its bounds is dropped (the
//     QuantizeLinear saturates identically; ONNX Runtime's Clip fusion
//     fails on int4), and tensors next to a MaxPool stay float (ONNX
//     Runtime moves the pair across the MaxPool and lacks an int4 one).
//
// [ToQOperator] turns int8 groups of a QDQ model into QLinearConv and
// QLinearMatMul (the QOperator format; other groups stay QDQ).
//
// Quantized models run in ONNX Runtime and in the engine, which runs
// every scheme natively ([Compile]), so [Accuracy] and [MeasureSQNR]
// evaluate every scheme with our engine.
//
// quant imports calib, engine and onnxio; it must not import binarize,
// bench or cmd.
package quant

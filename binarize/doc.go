// Package binarize turns Sign+Conv graphs of trained binary networks into
// qtool's binary operators and binarizes float models after training.
//
// The operators are BinaryConv and BinaryGemm of the custom domain
// ai.qtool, version 1 (the contract is in the README, "Binary
// operators"): packed sign bits of the weights, a per-output-channel
// multiplier and bias, a per-input-channel threshold for float inputs,
// and a float, int8 or packed-bits output. The rest of a graph stays
// standard ONNX.
//
// [Convert] finds, in a prepared model (quant.Prepare), every Conv or
// Gemm whose weights take two values ±a per output channel and whose
// input is binarized by Sign(x), Sign(x - t) or the Where/Greater forms
// PyTorch exports, and rewrites it losslessly: the scale, the following
// BatchNormalization and per-channel Mul/Add, a Relu or Clip, and a
// following Sign whose readers are all binary layers (the layer then
// writes packed bits) fold into the node's output stage. Outputs equal
// the float model's up to float rounding; a value exactly at a threshold,
// where ONNX's Sign gives 0, is taken as +1.
//
// [Binarize] is `qtool quantize --scheme binary`: it converts the trained
// binary layers a model holds or, when it holds none, binarizes chosen
// Conv/Gemm layers of a float model after training (weights sign(W) per
// output channel, activations sign(x - t) with t per input channel from
// the calibration data, the input's scale and center folded into
// multiplier and bias), and gives the other Conv/Gemm layers int8 (quant's
// QDQ rewriter, around the binary nodes) or float.
//
// binarize imports quant, calib, engine and onnxio; it must not import bench
// or cmd.
package binarize

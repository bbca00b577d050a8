// Package engine compiles an ONNX graph into a plan (operator order, shapes,
// packed weights, buffer reuse) and runs it with the numeric kernels, for
// float models and for the quantized and binary variants qtool produces.
//
// engine imports onnxio and kernels; it must not import calib, quant,
// binarize, bench or cmd.
package engine

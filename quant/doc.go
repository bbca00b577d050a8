// Package quant defines the quantization schemes (INT8, 4-bit, dynamic
// fixed point) and rewrites float ONNX graphs into quantized ones.
//
// quant imports calib, engine and onnxio; it must not import binarize,
// bench or cmd.
package quant

// Package calib reads calibration and evaluation data (image folders, NumPy
// files, IDX files, TensorProto files) and observes tensor ranges while the
// engine runs it, with bounded memory.
//
// calib imports engine and onnxio; it must not import quant, binarize,
// bench or cmd.
package calib

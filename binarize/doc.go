// Package binarize turns Sign+Conv graphs of trained binary networks into
// qtool's binary operators and binarizes float models after training.
//
// binarize imports quant, calib, engine and onnxio; it must not import bench
// or cmd.
package binarize

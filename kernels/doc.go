// Package kernels holds qtool's numeric kernels: GEMM, convolution and
// their integer, 4-bit, fixed-point and binary variants, with assembly
// microkernels chosen at run time by CPU feature and a pure-Go path for
// every other machine (and for the purego build tag).
//
// kernels knows nothing of ONNX and imports no other qtool package, so Go
// programs can embed it on its own.
package kernels

// Package kernels holds qtool's numeric kernels: GEMM, convolution and
// their integer, 4-bit, fixed-point and binary variants, with assembly
// microkernels chosen at run time by CPU feature and a pure-Go path for
// every other machine (and for the purego build tag).
//
// The families and their entry points:
//
//   - fp32: Sgemm (with PackA/PackB, Dense and Rows operands and a fused
//     Epilogue), TapSum (depthwise taps over a plane), Elementwise,
//     CopyRows, ApplyEpilogue. Paths: Path (generic, avx2, avx512, neon).
//   - int8: PackInt8Weights, QGemmU8/QGemmS8 with a QOutput stage,
//     PackDepthwiseInt8/QDepthwiseConvU8 (Family Int8).
//   - 4-bit: PackInt4Weights, QGemmW4U8, QGemmW4A4 (Family Int4).
//   - 16-bit dynamic fixed point: PackInt16Weights, GemmInt16 (Family
//     Int16); DFP8 through the int8 family's ShiftRequant.
//   - binary: PackSigns, NewBinaryConv, NewBinaryGemm, BinaryMaxPool
//     (Family Binary).
//   - quantize: QuantizeInt8/Uint8/Int16/Uint16 and DequantizeInt8/...
//     (per-tensor QuantizeLinear and DequantizeLinear; Family Quantize).
//   - lookup: Lookup8 (a 256-entry byte table over a run of bytes, the
//     integer form of elementwise operators; Family Lookup).
//
// Every path of a family gives the same bits as its Go path, so tests
// compare paths for equality; QTOOL_KERNELS or SetPaths force paths.
// Microkernels are named by tile shape and instruction set, as XNNPACK
// names its own (sgemm_14x32_avx512, qgemm_12x32c4_avx512vnni,
// bgemm_6x32_avx512vpopcnt).
//
// kernels knows nothing of ONNX and imports no other qtool package, so Go
// programs can embed it on its own.
package kernels

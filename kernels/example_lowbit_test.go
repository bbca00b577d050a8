package kernels_test

import (
	"fmt"

	"github.com/qtool/qtool/kernels"
)

// A MatMulNBits-style layer: uint8 activations (scale 0.5, zero point
// 128), int4 weights in ONNX order with one scale and zero point per block
// of 16 weights along K, float32 output.
func ExampleQGemmW4U8() {
	const m, n, k, bs = 1, 2, 32, 16
	// Channel 0: weights 1, channel 1: weights -2 (int4), nibble-packed
	// two per byte, element 2i in the low nibble.
	w := make([]int8, n*k)
	for q := 0; q < k; q++ {
		w[q], w[k+q] = 1, -2
	}
	pw := kernels.PackInt4Weights(n, k, kernels.PackNibbles(w), kernels.Int4Quant{
		Signed:     true,
		BlockSize:  bs,
		ZeroPoints: []int32{0, 1, 0, 0},             // [n][block]: channel 0's second block has zero point 1
		Scales:     []float32{0.25, 0.25, 0.5, 0.5}, // [n][block]
	})
	x := make([]uint8, k)
	for q := range x {
		x[q] = 130 // real value (130-128)·0.5 = 1
	}
	y := make([]float32, m*n)
	kernels.QGemmW4U8(m, x, k, 128, pw, &kernels.QOutput{Float32: y, Ldc: n, Scale: []float32{0.5}}, 1)
	// Channel 0: block 0: 16·2·1 = 32 → 32·0.25·0.5 = 4; block 1: (1-1) = 0.
	// Channel 1: 2 blocks of 16·2·(-2) = -64 → -64·0.5·0.5 = -16 each.
	fmt.Println(y)
	// Output: [4 -32]
}

// W4A4: 4-bit activations and weights, int32 sums (MatMulInteger-like).
func ExampleQGemmW4A4() {
	const m, n, k = 2, 1, 4
	a := kernels.PackNibbles([]int8{1, 2, 3, 4, 15, 0, 0, 15}) // uint4, row-major 2×4
	pw := kernels.PackInt4Weights(n, k, kernels.PackNibbles([]int8{-1, 1, -1, 1}), kernels.Int4Quant{Signed: true})
	c := make([]int32, m*n)
	kernels.QGemmW4A4(m, a, k, false, 0, pw, &kernels.QOutput{Int32: c, Ldc: n}, 1)
	fmt.Println(c)
	// Output: [2 0]
}

// 16-bit dynamic fixed point: activations with 12 fraction bits, weights
// with 14, int16 output with 10 (value = q·2^-f): the sums are exact and
// the output is requantized by a rounding shift of 12+14-10 bits.
func ExampleGemmInt16() {
	const m, n, k = 1, 2, 3
	xf := []float32{0.5, -1.25, 2}
	wf := []float32{1, 0.5, -0.25, -1, 1, 0.125}
	fa, fw, fy := 12, 14, 10
	x, w := make([]int16, m*k), make([]int16, n*k)
	kernels.QuantizeDFP16(x, xf, fa)
	kernels.QuantizeDFP16(w, wf, fw)
	pw := kernels.PackInt16Weights(n, k, w, k)
	y := make([]int16, m*n)
	kernels.GemmInt16(m, x, k, pw, &kernels.I16Output{Int16: y, Ldc: n, Shift: fa + fw - fy}, 1)
	// 0.5 - 0.625 - 0.5 = -0.625 and -0.5 - 1.25 + 0.25 = -1.5, times 2^10.
	fmt.Println(y, float64(y[0])/float64(int(1)<<fy), float64(y[1])/float64(int(1)<<fy))
	fmt.Println("planes:", pw.Planes(), "fraction bits for max |x| = 3.7:", kernels.DFPFrac(3.7, 16))
	// Output:
	// [-640 -1536] -0.625 -1.5
	// planes: 2 fraction bits for max |x| = 3.7: 13
}

// DFP8 through the INT8 kernels: a power-of-two output scale is a
// rounding arithmetic shift (ties to even), exact in the fixed-point
// output stage.
func ExampleShiftRequant() {
	mult, shift := kernels.ShiftRequant(3) // y = round_half_even(acc / 8)
	pw := kernels.PackInt8Weights(1, 2, []int8{1, 1}, 2)
	y := make([]int8, 3)
	for i, x := range []uint8{6, 10, 14} { // acc = 2x: 12, 20, 28 → 1.5, 2.5, 3.5
		kernels.QGemmU8(1, []uint8{x, x}, 2, 0, pw, &kernels.QOutput{Int8: y[i : i+1], Ldc: 1,
			Multiplier: []int32{mult}, Shift: []int32{shift}}, 1)
	}
	fmt.Println(y)
	// Output: [2 2 4]
}

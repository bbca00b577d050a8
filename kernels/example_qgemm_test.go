package kernels_test

import (
	"fmt"

	"github.com/qtool/qtool/kernels"
)

// A 1×1 convolution (or Gemm) in the QLinearConv style: uint8
// activations with a zero point, symmetric int8 weights with one scale per
// output channel, int32 bias, requantized uint8 output with a fused Relu.
func ExampleQGemmU8() {
	const m, n, k = 2, 3, 4 // 2 pixels, 3 output channels, 4 input channels
	x := []uint8{           // NHWC: pixel-major, channels contiguous
		130, 128, 126, 140,
		100, 200, 128, 128,
	}
	const xScale, xZero = 0.05, 128
	w := []int8{ // [OC][IC]
		1, 2, 3, 4,
		-1, 0, 1, 0,
		10, -10, 10, -10,
	}
	wScale := []float32{0.1, 0.2, 0.05}
	bias := []int32{10, 0, -20} // scale xScale·wScale[n], zero point 0
	const yScale, yZero = 0.02, 100

	pw := kernels.PackInt8Weights(n, k, w, k) // once per model load
	mult := make([]float32, n)
	for j := range mult {
		mult[j] = float32(xScale * float64(wScale[j]) / yScale)
	}
	y := make([]uint8, m*n)
	kernels.QGemmU8(m, x, k, xZero, pw, &kernels.QOutput{
		Uint8: y, Ldc: n, Bias: bias, Scale: mult, ZeroPoint: yZero,
		Clamp: true, Min: yZero, Max: 255, // Relu: y >= the zero point
	}, 1)
	// Pixel 0, channel 0: (2·1 + 0·2 - 2·3 + 12·4) + 10 = 54; 54·0.25 =
	// 13.5 rounds (half to even) to 14; + 100 = 114.
	fmt.Println(y)
	// Output: [114 100 100 132 114 100]
}

// MatMulInteger / ConvInteger: int8 activations, a per-channel weight
// zero point, raw int32 output.
func ExampleQGemmS8() {
	a := []int8{-1, 2, -3, 4, 5}
	w := []int8{ // 2 output channels × 5
		1, 1, 1, 1, 1,
		3, 0, 3, 0, 3,
	}
	pw := kernels.PackInt8Weights(2, 5, w, 5, 1, 2) // zero points 1 and 2
	c := make([]int32, 2)
	kernels.QGemmS8(1, a, 5, 0, pw, &kernels.QOutput{Int32: c, Ldc: 2}, 1)
	fmt.Println(c) // Σ a·(w-zw): 0, then -1 - 4 - 3 - 8 + 5
	// Output: [0 -11]
}

// Fixed-point requantization (integer only): the real factor becomes a
// Q0.31 multiplier and a shift, rounded once, half to even.
func ExampleQuantizeMultiplier() {
	mult, shift := kernels.QuantizeMultiplier(0.125)
	fmt.Println(mult, shift) // 2^30 / 2^(31+2)
	pw := kernels.PackInt8Weights(1, 1, []int8{1}, 1)
	y := make([]int8, 3)
	kernels.QGemmU8(3, []uint8{4, 12, 20}, 1, 0, pw, &kernels.QOutput{
		Int8: y, Ldc: 1, Multiplier: []int32{mult}, Shift: []int32{shift}, ZeroPoint: -10,
	}, 1)
	fmt.Println(y) // 0.5, 1.5, 2.5 round to 0, 2, 2
	// Output:
	// 1073741824 2
	// [-10 -8 -8]
}

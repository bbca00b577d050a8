package kernels_test

import (
	"fmt"

	"github.com/qtool/qtool/kernels"
)

// Signs pack channels-last, least significant bit first: channel c of a
// pixel is bit c%64 of word c/64, 1 for a negative value.
func ExamplePackSigns() {
	x := []float32{
		1, -2, -0.5, 3, // pixel 0: channels 0-3
		-1, -1, 0, 2, // pixel 1
	}
	w := kernels.PackSigns(nil, x, 2, 4)
	fmt.Printf("%d word(s) per pixel: %04b %04b\n", kernels.BitWords(4), w[0], w[1])
	back := make([]float32, 8)
	kernels.UnpackSigns(back, w, 2, 4)
	fmt.Println(back)
	// Output:
	// 1 word(s) per pixel: 0110 0011
	// [1 -1 -1 1 -1 -1 1 1]
}

// A binary matrix product: each output is K - 2*popcount(a XOR w), the dot
// product of ±1 vectors, then the fused output stage.
func ExampleNewBinaryGemm() {
	w := []float32{ // 2 outputs × 5 inputs; only the signs count
		1, 1, 1, 1, 1,
		1, -1, 1, -1, 1,
	}
	g, err := kernels.NewBinaryGemm(2, 5, w)
	if err != nil {
		panic(err)
	}
	a := kernels.PackSigns(nil, []float32{
		1, 1, 1, 1, 1,
		-1, 1, -1, 1, -1,
	}, 2, 5)
	dots := make([]int32, 4)
	g.RunDot(dots, a, 2)
	fmt.Println("dots:", dots)

	// Scale by 0.5, add 1 to output 0, clamp to [0, 10].
	g.SetOutput(kernels.BinaryOutput{Multiplier: []float32{0.5, 0.5}, Bias: []float32{1, 0}, Clamp: true, Lo: 0, Hi: 10})
	y := make([]float32, 4)
	g.RunF32(y, a, 2)
	fmt.Println("y:", y)
	// Output:
	// dots: [5 1 -1 -5]
	// y: [3.5 0.5 0.5 0]
}

// A 3x3 binary convolution with exact zero padding, giving what a float
// convolution of the ±1 values gives, then a second binary layer fed
// straight from the packed output bits, and a binary max-pool.
func ExampleNewBinaryConv() {
	const h, w, c = 4, 4, 3
	x := make([]float32, h*w*c) // NHWC
	for i := range x {
		x[i] = float32(1 - 2*(i*7%5%2)) // some ±1 pattern
	}
	weights := make([]float32, 2*c*3*3) // OIHW: 2 output channels
	for i := range weights {
		weights[i] = float32(1 - 2*(i*3%4%2))
	}
	conv, err := kernels.NewBinaryConv(kernels.BinaryConvParams{
		InH: h, InW: w, InC: c, OutC: 2, KH: 3, KW: 3,
		PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1,
		ZeroPad: true,
	}, weights)
	if err != nil {
		panic(err)
	}
	oh, ow := conv.OutputSize()
	src := kernels.PackSigns(nil, x, h*w, c)
	dots := make([]int32, oh*ow*2)
	conv.RunDot(dots, src, 1)
	for oy := 0; oy < oh; oy++ {
		fmt.Println("channel 0:", dots[(oy*ow+0)*2], dots[(oy*ow+1)*2], dots[(oy*ow+2)*2], dots[(oy*ow+3)*2])
	}

	// The same from a float convolution, padded with zeros.
	same := true
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for o := 0; o < 2; o++ {
				var s float32
				for ky := 0; ky < 3; ky++ {
					for kx := 0; kx < 3; kx++ {
						iy, ix := oy+ky-1, ox+kx-1
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						for ci := 0; ci < c; ci++ {
							s += x[(iy*w+ix)*c+ci] * weights[((o*c+ci)*3+ky)*3+kx]
						}
					}
				}
				same = same && float32(dots[(oy*ow+ox)*2+o]) == s
			}
		}
	}
	fmt.Println("same as the float convolution:", same)

	// Packed output for the next layer: bit set where the output stage's
	// value is negative; here dot - 2.5 for channel 0, dot for channel 1.
	if err := conv.SetOutput(kernels.BinaryOutput{Bias: []float32{-2.5, 0}}); err != nil {
		panic(err)
	}
	bits := make([]uint64, oh*ow*kernels.BitWords(2))
	conv.RunBits(bits, src, 1)
	fmt.Printf("row 0 bits: %02b %02b %02b %02b\n", bits[0], bits[1], bits[2], bits[3])

	// 2x2 max-pool on the packed bits: +1 (bit 0) wins.
	pooled := make([]uint64, 2*2)
	ph, pw := kernels.BinaryMaxPool(pooled, bits, 1, kernels.BinaryPoolParams{InH: oh, InW: ow, C: 2, KH: 2, KW: 2, StrideH: 2, StrideW: 2})
	fmt.Printf("pooled %dx%d: %02b\n", ph, pw, pooled)
	// Output:
	// channel 0: 0 2 -2 2
	// channel 0: 2 -3 3 -2
	// channel 0: -2 3 -3 2
	// channel 0: 2 -2 2 0
	// same as the float convolution: true
	// row 0 bits: 01 11 01 11
	// pooled 2x2: [01 00 00 01]
}

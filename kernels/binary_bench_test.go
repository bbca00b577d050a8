package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkBinaryConv times the 3x3 binary convolutions of the kernel
// report on every supported path (float output, one-padding).
func BenchmarkBinaryConv(b *testing.B) {
	for _, s := range []struct{ c, hw int }{{64, 56}, {128, 28}} {
		r := rand.New(rand.NewPCG(1, 2))
		p := BinaryConvParams{InH: s.hw, InW: s.hw, InC: s.c, OutC: s.c, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		conv, err := NewBinaryConv(p, pm1(r, s.c*s.c*9))
		if err != nil {
			b.Fatal(err)
		}
		src := PackSigns(nil, pm1(r, s.hw*s.hw*s.c), s.hw*s.hw, s.c)
		dst := make([]float32, s.hw*s.hw*s.c)
		dstBits := make([]uint64, s.hw*s.hw*BitWords(s.c))
		dstQ := make([]int8, s.hw*s.hw*s.c)
		ops := 2 * float64(s.hw*s.hw*s.c*s.c*9)
		forEachBinaryPath(b, func(path string) {
			b.Run(fmt.Sprintf("%s/%d-%dx%d", path, s.c, s.hw, s.hw), func(b *testing.B) {
				for b.Loop() {
					conv.RunF32(dst, src, 1)
				}
				b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
			b.Run(fmt.Sprintf("%s/%d-%dx%d/bits", path, s.c, s.hw, s.hw), func(b *testing.B) {
				for b.Loop() {
					conv.RunBits(dstBits, src, 1)
				}
				b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
			b.Run(fmt.Sprintf("%s/%d-%dx%d/int8", path, s.c, s.hw, s.hw), func(b *testing.B) {
				for b.Loop() {
					conv.RunInt8(dstQ, src, 1)
				}
				b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
		})
	}
}

var benchK = 64

func BenchmarkBinaryMicrokernel(b *testing.B) {
	forEachBinaryPath(b, func(path string) {
		b.Run(path, func(b *testing.B) {
			var ops float64
			loop := BinaryMicrokernelLoop(benchK)
			for b.Loop() {
				ops += loop(100)
			}
			b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOPS")
		})
		b.Run(path+"/peak", func(b *testing.B) {
			var ops float64
			for b.Loop() {
				ops += BinaryPeakOps(10000)
			}
			b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	})
}

func BenchmarkPackSigns(b *testing.B) {
	x := make([]float32, 56*56*64)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	var d []uint64
	forEachBinaryPath(b, func(path string) {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				d = PackSigns(d, x, 56*56, 64)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gfloat/s")
		})
	})
}

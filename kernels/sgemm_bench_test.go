package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var benchShapes = []struct{ m, n, k int }{
	{1024, 1024, 1024},
	{256, 3136, 576}, // conv-like: 3x3x64 -> 256 channels on 56x56, im2col
	{64, 64, 64},
}

func benchSgemm(b *testing.B, uk *microkernel, m, n, k, threads int, packedB bool) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bb, c := randSlice(r, m*k, 0), randSlice(r, k*n, 0), make([]float32, m*n)
	bop := Dense(bb, n, false)
	if packedB {
		p := &PackedB{k: k, n: n, nr: uk.nr, data: make([]float32, ((n+uk.nr-1)/uk.nr)*k*uk.nr)}
		packB(p.data, uk.nr, bb, n, false, 0, k, 0, n)
		bop = p.Operand()
	}
	sgemmWith(uk, m, n, k, Dense(a, k, false), bop, c, n, nil, threads)
	b.ResetTimer()
	for b.Loop() {
		sgemmWith(uk, m, n, k, Dense(a, k, false), bop, c, n, nil, threads)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm/<path>/<shape>: single thread, both operands dense.
func BenchmarkSgemm(b *testing.B) {
	for _, p := range SupportedPaths() {
		for _, s := range benchShapes {
			if p == PathGeneric && s.m*s.n*s.k > 1<<26 {
				continue // minutes per op; the 64^3 case shows its speed
			}
			b.Run(fmt.Sprintf("%v/%dx%dx%d", p, s.m, s.n, s.k), func(b *testing.B) {
				benchSgemm(b, pathKernel(p), s.m, s.n, s.k, 1, false)
			})
		}
	}
}

// BenchmarkSgemmThreads: best path, 2 threads, B prepacked.
func BenchmarkSgemmThreads(b *testing.B) {
	p := bestPath()
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%v/%dx%dx%d", p, s.m, s.n, s.k), func(b *testing.B) {
			benchSgemm(b, pathKernel(p), s.m, s.n, s.k, 2, true)
		})
	}
}

// BenchmarkSgemmShape compares alternative microkernel shapes in the full
// driver on 1024^3 (how the registered shapes were chosen).
func BenchmarkSgemmShape(b *testing.B) {
	for i := range extraKernels {
		uk := &extraKernels[i]
		b.Run(uk.name, func(b *testing.B) {
			if ok, _ := Supported(PathAVX512); !ok {
				b.Skip("no AVX-512")
			}
			benchSgemm(b, uk, 1024, 1024, 1024, 1, false)
		})
	}
}

// BenchmarkFMAPeak/<path>: register-only independent FMAs, the single-core
// ceiling the Sgemm numbers compare against.
func BenchmarkFMAPeak(b *testing.B) {
	for _, p := range SupportedPaths() {
		b.Run(p.String(), func(b *testing.B) {
			if p == PathGeneric {
				b.Skip("no peak loop for the generic path")
			}
			const iters = 1 << 16
			var flop float64
			for b.Loop() {
				flop += fmaPeak(p, iters)
			}
			b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMicrokernel: each microkernel alone on L1-resident panels
// (k = 256), its ceiling inside the driver.
func BenchmarkMicrokernel(b *testing.B) {
	var uks []*microkernel
	for _, p := range SupportedPaths() {
		uks = append(uks, pathKernel(p))
	}
	if ok, _ := Supported(PathAVX512); ok {
		for i := range extraKernels {
			uks = append(uks, &extraKernels[i])
		}
	}
	for _, uk := range uks {
		b.Run(uk.name, func(b *testing.B) {
			const k = 256
			r := rand.New(rand.NewPCG(1, 1))
			a, bb, c := alignedFloats(k*uk.mr), alignedFloats(k*uk.nr), alignedFloats(uk.mr*uk.nr)
			copy(a, randSlice(r, len(a), 0))
			copy(bb, randSlice(r, len(bb), 0))
			for b.Loop() {
				uk.fn(k, &a[0], &bb[0], &c[0], uk.nr, 1, &c[0])
			}
			b.ReportMetric(2*float64(uk.mr*uk.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

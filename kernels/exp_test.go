package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkExpKernel(b *testing.B) {
	for i := range extraKernels {
		uk := &extraKernels[i]
		for _, k := range []int{192, 512} {
			b.Run(fmt.Sprintf("%s/k%d", uk.name, k), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				a, bb, c := randSlice(r, k*uk.mr, 0), randSlice(r, k*uk.nr, 0), make([]float32, uk.mr*uk.nr)
				for b.Loop() {
					uk.fn(k, &a[0], &bb[0], &c[0], uk.nr, 1, &c[0])
				}
				b.ReportMetric(2*float64(uk.mr*uk.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkExpKC(b *testing.B) {
	for _, name := range []string{"sgemm_8x32_avx512", "sgemm_14x32_avx512"} {
		var uk *microkernel
		for i := range extraKernels {
			if extraKernels[i].name == name {
				uk = &extraKernels[i]
			}
		}
		for _, kc := range []int{128, 192, 256, 384, 512, 1024} {
			for _, mc := range []int{64, 256, 1024} {
				b.Run(fmt.Sprintf("%s/kc%d/mc%d", name, kc, mc), func(b *testing.B) {
					blockingOverride = func(uk *microkernel) blocking { return blocking{kc, mc / uk.mr * uk.mr, 4096} }
					defer func() { blockingOverride = nil }()
					benchSgemm(b, uk, 1024, 1024, 1024, 1, false)
				})
			}
		}
	}
}

func BenchmarkExpKernel2(b *testing.B) {
	for _, name := range []string{"sgemm_8x32_avx512", "sgemm_14x32_avx512"} {
		var uk *microkernel
		for i := range extraKernels {
			if extraKernels[i].name == name {
				uk = &extraKernels[i]
			}
		}
		for _, k := range []int{192, 384} {
			for _, ldc := range []int{32, 1024, 1040} {
				for _, load := range []int{0, 1} {
					b.Run(fmt.Sprintf("%s/k%d/ldc%d/load%d", uk.name, k, ldc, load), func(b *testing.B) {
						r := rand.New(rand.NewPCG(1, 1))
						np := 1024 / uk.mr
						a, bb, c := randSlice(r, np*k*uk.mr, 0), randSlice(r, k*uk.nr, 0), make([]float32, 1024*ldc)
						for b.Loop() {
							for p := 0; p < np; p++ {
								uk.fn(k, &a[p*k*uk.mr], &bb[0], &c[p*uk.mr*ldc], ldc, load, &c[min(p+1, np-1)*uk.mr*ldc])
							}
						}
						b.ReportMetric(2*float64(np*uk.mr*uk.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}

//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_lowbit_amd64.go > lowbit_amd64.s"

// Int16 and Int4 microkernels in lowbit_amd64.s (contracts: i16kernel,
// w4kernel).

//go:noescape
func i16gemm_12x32p1_avx512vnni(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

//go:noescape
func i16gemm_6x32p2_avx512vnni(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

//go:noescape
func i16gemm_6x32e_avx512vnni(ks, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

//go:noescape
func i16gemm_6x16p1_avx2(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

//go:noescape
func i16gemm_3x16p2_avx2(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

//go:noescape
func w4gemm_12x32_avx512vnni(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4blk_12x32_avx512vnni(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

//go:noescape
func w4gemm_5x16lo_avx2(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4gemm_5x16hi_avx2(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4blk_5x16lo_avx2(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

//go:noescape
func w4blk_5x16hi_avx2(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

//go:noescape
func w4gemm_6x16lo_avxvnni(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4gemm_6x16hi_avxvnni(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4blk_6x16lo_avxvnni(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

//go:noescape
func w4blk_6x16hi_avxvnni(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

// i16shiftRow_avx512 is the Int16/Int32 output stage of n (a multiple of
// 8) int64 sums: round_half_even(x / 2^s), s in [1, 62], half = 2^(s-1),
// saturated to int16 (out16 != 0) or int32 (see i16out_amd64.s).
//
//go:noescape
func i16shiftRow_avx512(src *int64, dst unsafe.Pointer, n int, s int, half int64, out16 int)

// i16peak_avx512vnni runs n iterations of 24 independent VPDPWSSD zmm.
func i16peak_avx512vnni(n int)

var lowbitRegistered = func() bool {
	x := cpu.X86
	vnni := x.HasAVX && x.HasAVX2 && x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI
	i16Kernels[Int16.index("avx512vnni")] = &i16kernel{name: "i16gemm_avx512vnni", mr: [2]int{12, 6},
		est: i16gemm_6x32e_avx512vnni, mrEst: 6,
		fn: [2]func(int, int, unsafe.Pointer, unsafe.Pointer, *int64, int, int){i16gemm_12x32p1_avx512vnni, i16gemm_6x32p2_avx512vnni}}
	i16Kernels[Int16.index("avx2")] = &i16kernel{name: "i16gemm_avx2", half: true, mr: [2]int{6, 3},
		fn: [2]func(int, int, unsafe.Pointer, unsafe.Pointer, *int64, int, int){i16gemm_6x16p1_avx2, i16gemm_3x16p2_avx2}}
	w4Kernels[Int4.index("avx512vnni")] = &w4kernel{name: "w4gemm_12x32_avx512vnni", mr: 12,
		fn: w4gemm_12x32_avx512vnni, blk: w4blk_12x32_avx512vnni}
	w4Kernels[Int4.index("avx2")] = &w4kernel{name: "w4gemm_5x16_avx2", mr: 5, half: true,
		fn: w4gemm_5x16lo_avx2, blk: w4blk_5x16lo_avx2, fnHi: w4gemm_5x16hi_avx2, blkHi: w4blk_5x16hi_avx2}
	w4Kernels[Int4.index("avxvnni")] = &w4kernel{name: "w4gemm_6x16_avxvnni", mr: 6, half: true,
		fn: w4gemm_6x16lo_avxvnni, blk: w4blk_6x16lo_avxvnni, fnHi: w4gemm_6x16hi_avxvnni, blkHi: w4blk_6x16hi_avxvnni}
	Int4.support("avx2", x.HasAVX && x.HasAVX2 && x.HasFMA, "needs AVX2 and FMA")
	Int4.support("avxvnni", x.HasAVX && x.HasAVX2 && x.HasFMA && x.HasAVXVNNI, "needs AVX2, FMA and AVX-VNNI")
	if x.HasAVX512F {
		i16shiftRowAsm = i16shiftRow_avx512
	}
	Int16.support("avx2", x.HasAVX && x.HasAVX2, "needs AVX2")
	Int16.support("avx512vnni", vnni, "needs AVX512F, BW, VL and VNNI")
	Int4.support("avx512vnni", vnni, "needs AVX512F, BW, VL and VNNI")
	return true
}()

// i16peak runs path's VPDPWSSD ceiling loop for n iterations and returns
// the operations done (a multiply-accumulate counts 2), 0 for generic.
func i16peak(path string, n int) float64 {
	switch path {
	case "avx512vnni":
		i16peak_avx512vnni(n)
		return float64(n) * 24 * 32 * 2
	case "avx2":
		return qpeak(path, n) // the INT8 avx2 loop is VPMADDWD + VPADDD ymm
	}
	return 0
}

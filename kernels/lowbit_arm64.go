//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_lowbit_arm64.go > lowbit_arm64.s"

// Int16 and Int4 NEON microkernels in lowbit_arm64.s (contracts:
// i16kernel, w4kernel). Tested under qemu only (no arm64 hardware here):
// correctness, not speed, is what is known of them.

//go:noescape
func i16gemm_3x16p1_neon(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

// i16gemm_3x16p2w_neon ignores chunk: its int64 sums are exact for any
// K (SMULL products, SADALP into int64).
//
//go:noescape
func i16gemm_3x16p2w_neon(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

// i16peak_neon runs n iterations of 24 independent SMLAL/SMLAL2.
func i16peak_neon(n int)

// Int4 half kernels (16 channels: lo the low nibbles, hi the high ones),
// signedA: neon SMULL/SMULL2 + SADALP 2 rows, neondot SDOT by element 4
// rows.

//go:noescape
func w4gemm_2x16lo_neon(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4gemm_2x16hi_neon(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4blk_2x16lo_neon(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

//go:noescape
func w4blk_2x16hi_neon(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

//go:noescape
func w4gemm_4x16lo_neondot(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4gemm_4x16hi_neondot(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func w4blk_4x16lo_neondot(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

//go:noescape
func w4blk_4x16hi_neondot(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)

// The Int4 paths' ceiling is the INT8 loop of the same name (PeakInt8:
// SDOT for neondot, SMULL+SADALP for neon), as on amd64.

var lowbitRegistered = func() bool {
	a := cpu.ARM64
	// Half kernels (16 channels a call), 3 rows: one plane SMLAL into
	// int32 chunks, two planes joined in registers, SMULL + SADALP into
	// int64.
	i16Kernels[Int16.index("neon")] = &i16kernel{name: "i16gemm_neon", half: true, mr: [2]int{3, 3},
		fn: [2]func(int, int, unsafe.Pointer, unsafe.Pointer, *int64, int, int){i16gemm_3x16p1_neon, i16gemm_3x16p2w_neon}}
	Int16.support("neon", a.HasASIMD, "needs ASIMD")
	w4Kernels[Int4.index("neon")] = &w4kernel{name: "w4gemm_2x16_neon", mr: 2, half: true, signedA: true,
		fn: w4gemm_2x16lo_neon, blk: w4blk_2x16lo_neon, fnHi: w4gemm_2x16hi_neon, blkHi: w4blk_2x16hi_neon}
	w4Kernels[Int4.index("neondot")] = &w4kernel{name: "w4gemm_4x16_neondot", mr: 4, half: true, signedA: true,
		fn: w4gemm_4x16lo_neondot, blk: w4blk_4x16lo_neondot, fnHi: w4gemm_4x16hi_neondot, blkHi: w4blk_4x16hi_neondot}
	Int4.support("neon", a.HasASIMD, "needs ASIMD")
	Int4.support("neondot", a.HasASIMD && a.HasASIMDDP, "needs ASIMD and the dot product (asimddp)")
	return true
}()

// i16peak runs path's SMLAL ceiling loop for n iterations and returns
// the operations done (a multiply-accumulate counts 2), 0 for generic.
func i16peak(path string, n int) float64 {
	if path == "neon" {
		i16peak_neon(n)
		return float64(n) * 24 * 4 * 2
	}
	return 0
}

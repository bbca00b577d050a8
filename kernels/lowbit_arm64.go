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

//go:noescape
func i16gemm_1x16p2_neon(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)

// i16peak_neon runs n iterations of 24 independent SMLAL/SMLAL2.
func i16peak_neon(n int)

var lowbitRegistered = func() bool {
	a := cpu.ARM64
	// Half kernels (16 channels a call): one plane 3 rows, two planes 1
	// row (16 accumulators a row).
	i16Kernels[Int16.index("neon")] = &i16kernel{name: "i16gemm_neon", half: true, mr: [2]int{3, 1},
		fn: [2]func(int, int, unsafe.Pointer, unsafe.Pointer, *int64, int, int){i16gemm_3x16p1_neon, i16gemm_1x16p2_neon}}
	Int16.support("neon", a.HasASIMD, "needs ASIMD")
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

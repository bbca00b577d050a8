//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func qarith_avx512(dst, a, b unsafe.Pointer, n int, args *qarithArgs)

//go:noescape
func sumDeq_avx512(acc *float32, q unsafe.Pointer, rows, c, n int, flip uint32, z, scale float32)

//go:noescape
func sumDeq_avx2(acc *float32, q unsafe.Pointer, rows, c, n int, flip uint32, z, scale float32)

func init() {
	if cpu.X86.HasAVX2 {
		sumDeqAVX2 = sumDeq_avx2
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		qarithAsm = qarith_avx512
		if cpu.X86.HasBMI2 { // BZHI makes the last block's mask
			sumDeqAsm = sumDeq_avx512
		}
	}
}

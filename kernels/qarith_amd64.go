//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func qarith_avx512(dst, a, b unsafe.Pointer, n int, args *qarithArgs)

func init() {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		qarithAsm = qarith_avx512
	}
}

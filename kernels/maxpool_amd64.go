//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:noescape
func maxPool2x2Row_avx2(dst, r0, r1 *byte, ow, c int, signed bool)

func init() {
	if cpu.X86.HasAVX2 {
		maxPool2x2RowAsm = func(dst, r0, r1 []byte, ow, c int, signed bool) {
			_, _, _ = dst[ow*c-1], r0[2*ow*c-1], r1[2*ow*c-1]
			maxPool2x2Row_avx2(&dst[0], &r0[0], &r1[0], ow, c, signed)
		}
	}
}

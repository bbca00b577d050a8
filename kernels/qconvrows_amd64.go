//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_qconvrows_amd64.go > qconvrows_amd64.s"

//go:noescape
func qconvRows_16x8_avx512vnni(rows *unsafe.Pointer, ntap, step int, idx *byte, kmask uint64, w *int32, nblk int, lastMask uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, dst *byte, plane, cout int)

//go:noescape
func qconvRows_16x16_avx512vnni(rows *unsafe.Pointer, ntap, step int, idx *byte, kmask uint64, w *int32, nblk int, lastMask uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, dst *byte, plane, cout int)

func init() {
	x := cpu.X86
	if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI && x.HasAVX512VBMI {
		qconvRowsAsm = [2]func(*unsafe.Pointer, int, int, *byte, uint64, *int32, int, uint32, *int32, *float32, int, float32, float32, int32, *byte, int, int){
			qconvRows_16x8_avx512vnni, qconvRows_16x16_avx512vnni}
	}
}

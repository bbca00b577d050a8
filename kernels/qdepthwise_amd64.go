//go:build !purego

package kernels

import "unsafe"

// qdwQuadOut_avx512vnni is qdwQuadReqAsm (scale non-nil); with scale nil
// it stores the int32 sums, which qdwQuad_avx512vnni (qdwQuadAsm) has it
// do.
//
//go:noescape
func qdwQuadOut_avx512vnni(rows *unsafe.Pointer, kh, nq, sws, npix int, wq *int32, c, wstride int, init *int32, dst *byte, ldd int, scale *float32, flo, fhi float32, zp int32)

func init() {
	// (After the package's variables, which set qdwQuadAsm.)
	if qdwQuadAsm != nil {
		qdwQuadReqAsm = qdwQuadOut_avx512vnni
	}
}

//go:build !purego

package kernels

import "unsafe"

// Depthwise kernels in qdepthwise_amd64.s, registered with the Int8
// family's paths in qgemm_amd64.go.

// qdwQuad_avx512vnni and qdwQuadBuild_avx512 are qdwQuadAsm and
// qdwQuadBuildAsm.
//
//go:noescape
func qdwQuad_avx512vnni(rows *unsafe.Pointer, kh, nq, sws, npix int, wq *int32, c, wstride int, init *int32, dst unsafe.Pointer, ldd int, scale *float32, flo, fhi float32, zp int32)

//go:noescape
func qdwQuadBuild_avx512(dst *int32, segs *qdwSeg, c, off int)

// qdwRow_avx512vnni, qdwRow_avx512 and qdwRow_avx2 are qdwRow (depthwise,
// a row segment of output pixels) with VPDPWSSD (AVX512-VNNI), VPMULLD
// (AVX512F) or VPMULLD on 8 lanes (AVX2).
//
//go:noescape
func qdwRow_avx512vnni(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)

//go:noescape
func qdwRow_avx512(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)

//go:noescape
func qdwRow_avx2(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)

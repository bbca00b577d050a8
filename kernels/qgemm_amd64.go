//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_qgemm_amd64.go > qgemm_amd64.s"

// INT8 microkernels in qgemm_amd64.s (see qkernel for the contract).

//go:noescape
func qgemm_1x32c4_avx512vnni(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_14x32c4_avx512vnni(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_12x32c4_avx512vnni(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_8x32c4_avx512vnni(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_6x64c4_avx512vnni(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_6x16c4_avxvnni(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_6x16c2_avx2(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_4x16c2_avx2(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_12x32c4_avx512vnni_u4(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_12x32c4_avx512vnni_b2(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_12x32c4_avx512vnni_u4_b2(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_6x64c4_avx512vnni_u4_b2(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_4x24c4_avxvnni(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_4x16c2_avx2_u4(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

// Microkernels with the requantization fused in (see qfusedKernel).

//go:noescape
func qgemm_1x32c4_fp32_avx512vnni(kg int, a unsafe.Pointer, lda int, b, dst unsafe.Pointer, ldd, rows int, masks uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, flip uint32)

//go:noescape
func qgemm_12x32c4_fp32_avx512vnni(kg int, a unsafe.Pointer, lda int, b, dst unsafe.Pointer, ldd, rows int, masks uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, flip uint32)

//go:noescape
func qgemm_24x16c4_fp32_avx512vnni(kg int, a unsafe.Pointer, lda int, b, dst unsafe.Pointer, ldd, rows int, masks uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, flip uint32)

// Register-only ceiling loops: n iterations of independent dot products
// (see qpeakOps).
func qpeak_avx512vnni(n int)
func qpeak_avxvnni(n int)
func qpeak_avx2(n int)

// qvexTest_avxvnni is acc += 2·VPDPBUSD(a, w) through the hand-encoded
// VEX instruction on other registers than the kernels use (tests only).
//
//go:noescape
func qvexTest_avxvnni(acc, a, w *[8]int32)

// qrequantRow_avx512 is the float requantization of one tile row (see
// qrequantRow), AVX512F.
//
//go:noescape
func qrequantRow_avx512(src *int32, dst *byte, n int, scale *float32, perCh int, flo, fhi float32, zp int32)

// qfloatRow_avx512 is the float32 output stage of one tile row (see
// qfloatRow), AVX512F.
//
//go:noescape
func qfloatRow_avx512(src *int32, dst *float32, n int, scale, fbias *float32, perCh int)

// qpackA4Small_avx packs four rows of A, any number of groups, with
// 128-bit vectors (see qpackA4SmallAsm).
//
//go:noescape
func qpackA4Small_avx(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, groups int, x uint32)

// qpackA4_avx512 packs four rows of A into c4 groups (see qpackA4Asm),
// AVX512F.
//
//go:noescape
func qpackA4_avx512(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, chunks int, x uint32)

// AVX2 versions of the above, on whole vectors of 8 elements (rows) or
// chunks of 8 groups (packing).
//
//go:noescape
func qrequantRow_avx2(src *int32, dst *byte, n int, scale *float32, perCh int, flo, fhi float32, zp int32)

//go:noescape
func qfloatRow_avx2(src *int32, dst *float32, n int, scale, fbias *float32, perCh int)

//go:noescape
func qpackA4_avx2(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, chunks int, x uint32)

// qfixedRow_avx512 is the fixed-point requantization of one tile row (see
// qfixedRow), AVX512F.
//
//go:noescape
func qfixedRow_avx512(src *int32, dst *byte, n int, mult, shift *int32, perCh int, lo, hi, zp int32)

// qrequantTile_avx512 is qrequantRow_avx512 on a tile (see
// qrequantTileAsm).
//
//go:noescape
func qrequantTile_avx512(src *int32, srcStride int, dst *byte, dstStride int, rows, n int, scale *float32, perCh int, flo, fhi float32, zp int32)

var int8Registered = func() bool {
	x := cpu.X86
	avx2 := x.HasAVX && x.HasAVX2
	avx512 := avx2 && x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL
	int8Kernels[Int8.index("avx2")] = &qkernel{name: "qgemm_6x16c2_avx2", mr: 6, nr: 16, wide: true, fn: qgemm_6x16c2_avx2}
	int8Kernels[Int8.index("avxvnni")] = &qkernel{name: "qgemm_6x16c4_avxvnni", mr: 6, nr: 16, fn: qgemm_6x16c4_avxvnni}
	int8Kernels[Int8.index("avx512vnni")] = &qkernel{name: "qgemm_12x32c4_avx512vnni", mr: 12, nr: 32, fn: qgemm_12x32c4_avx512vnni,
		small: &qkernel{name: "qgemm_1x32c4_avx512vnni", mr: 1, nr: 32, fn: qgemm_1x32c4_avx512vnni},
		fused: &qfused{
			small:  qfusedKernel{name: "qgemm_1x32c4_fp32_avx512vnni", mr: 1, nv: 2, fn: qgemm_1x32c4_fp32_avx512vnni},
			wide:   qfusedKernel{name: "qgemm_12x32c4_fp32_avx512vnni", mr: 12, nv: 2, fn: qgemm_12x32c4_fp32_avx512vnni},
			narrow: qfusedKernel{name: "qgemm_24x16c4_fp32_avx512vnni", mr: 24, nv: 1, fn: qgemm_24x16c4_fp32_avx512vnni},
		}}
	if avx2 {
		qrequantRowAsm, qfloatRowAsm, qrowAsmStep = qrequantRow_avx2, qfloatRow_avx2, 8
		qpackA4Asm, qpackA4Chunk = qpackA4_avx2, 8
		qpackA4SmallAsm = qpackA4Small_avx
		qdwRowAsm, qdwRowAsmStep = qdwRow_avx2, 8
	}
	if avx2 && x.HasAVX512F {
		qrowAsmStep, qpackA4Chunk, qdwRowAsmStep = 1, 16, 1
		qrequantRowAsm = qrequantRow_avx512
		qfloatRowAsm = qfloatRow_avx512
		qfixedRowAsm = qfixedRow_avx512
		qrequantTileAsm = qrequantTile_avx512
		qpackA4Asm = qpackA4_avx512
		qdwRowAsm = qdwRow_avx512
		if avx512 && x.HasAVX512VNNI {
			qdwRowAsm = qdwRow_avx512vnni
			if x.HasBMI2 {
				qdwQuadAsm, qdwQuadBuildAsm = qdwQuad_avx512vnni, qdwQuadBuild_avx512
			}
		}
	}
	Int8.support("avx2", avx2, "needs AVX2")
	Int8.support("avxvnni", avx2 && x.HasAVXVNNI, "needs AVX2 and AVX-VNNI")
	Int8.support("avx512vnni", avx512 && x.HasAVX512VNNI, "needs AVX512F, BW, VL and VNNI")
	return true
}()

// qpeak runs path's ceiling loop for n iterations and returns the
// operations done (a multiply-accumulate counts 2), 0 for generic.
func qpeak(path string, n int) float64 {
	switch path {
	case "avx512vnni":
		qpeak_avx512vnni(n)
		return float64(n) * 24 * 64 * 2
	case "avxvnni":
		qpeak_avxvnni(n)
		return float64(n) * 12 * 32 * 2
	case "avx2":
		qpeak_avx2(n)
		return float64(n) * 12 * 16 * 2
	}
	return 0
}

// int8ExtraKernels are alternative tile shapes, benchmarked against each
// other to choose the registered ones.
var int8ExtraKernels = []qkernel{
	{name: "qgemm_14x32c4_avx512vnni", mr: 14, nr: 32, wide: false, fn: qgemm_14x32c4_avx512vnni},
	{name: "qgemm_12x32c4_avx512vnni", mr: 12, nr: 32, wide: false, fn: qgemm_12x32c4_avx512vnni},
	{name: "qgemm_8x32c4_avx512vnni", mr: 8, nr: 32, wide: false, fn: qgemm_8x32c4_avx512vnni},
	{name: "qgemm_6x64c4_avx512vnni", mr: 6, nr: 64, wide: false, fn: qgemm_6x64c4_avx512vnni},
	{name: "qgemm_12x32c4_avx512vnni_u4", mr: 12, nr: 32, fn: qgemm_12x32c4_avx512vnni_u4},
	{name: "qgemm_12x32c4_avx512vnni_b2", mr: 12, nr: 32, fn: qgemm_12x32c4_avx512vnni_b2},
	{name: "qgemm_12x32c4_avx512vnni_u4_b2", mr: 12, nr: 32, fn: qgemm_12x32c4_avx512vnni_u4_b2},
	{name: "qgemm_6x64c4_avx512vnni_u4_b2", mr: 6, nr: 64, fn: qgemm_6x64c4_avx512vnni_u4_b2},
	{name: "qgemm_4x24c4_avxvnni", mr: 4, nr: 24, fn: qgemm_4x24c4_avxvnni},
	{name: "qgemm_6x16c4_avxvnni", mr: 6, nr: 16, wide: false, fn: qgemm_6x16c4_avxvnni},
	{name: "qgemm_6x16c2_avx2", mr: 6, nr: 16, wide: true, fn: qgemm_6x16c2_avx2},
	{name: "qgemm_4x16c2_avx2", mr: 4, nr: 16, wide: true, fn: qgemm_4x16c2_avx2},
	{name: "qgemm_4x16c2_avx2_u4", mr: 4, nr: 16, wide: true, fn: qgemm_4x16c2_avx2_u4},
}

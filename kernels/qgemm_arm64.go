//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_qgemm_arm64.go > qgemm_arm64.s"

// INT8 microkernels in qgemm_arm64.s (see qkernel for the contract). All
// take signedA panels (int8 A, a-128) and c4 int8 weights: neondot with
// SDOT by element, neon with SMULL/SMULL2 into int16 and SADALP into
// int32 (one product per int16, so exact for every int8 pair).

//go:noescape
func qgemm_8x12c4_neondot(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_12x8c4_neondot(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_4x16c4_neondot(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_4x12c4_neon(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

//go:noescape
func qgemm_4x8c4_neon(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)

// qdwRow_neon is qdwRow (depthwise, a row segment of output pixels) with
// ASIMD for all channels: uint8 inputs widened to int32, MLA by the int32
// weights.
//
//go:noescape
func qdwRow_neon(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)

// qrequantRow_neon and qfloatRow_neon are the output stages of one tile
// row (see qrequantRow, qfloatRow) for n a multiple of 8 (qrowAsmStep):
// Go finishes the rows.
//
//go:noescape
func qrequantRow_neon(src *int32, dst *byte, n int, scale *float32, perCh int, flo, fhi float32, zp int32)

//go:noescape
func qfloatRow_neon(src *int32, dst *float32, n int, scale, fbias *float32, perCh int)

// qpackA4_neon is qpackA4Asm (A packing, 4 rows at a time) in chunks of
// 4 groups.
//
//go:noescape
func qpackA4_neon(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, chunks int, x uint32)

// qfixedRow_neon is the fixed-point requantization of one tile row (see
// qfixedRow) for n a multiple of 4; qfixedRowNEON finishes the row in Go.
//
//go:noescape
func qfixedRow_neon(src *int32, dst *byte, n int, mult, shift *int32, perCh int, lo, hi, zp int32)

func qfixedRowNEON(src *int32, dst *byte, n int, mult, shift *int32, perCh int, lo, hi, zp int32) {
	m := n &^ 3
	if m > 0 {
		qfixedRow_neon(src, dst, m, mult, shift, perCh, lo, hi, zp)
	}
	if m < n {
		l, o := 1, 0
		if perCh != 0 {
			l, o = n, m
		}
		qfixedRowGo(unsafe.Slice(src, n)[m:], unsafe.Slice(dst, n)[m:], unsafe.Slice(mult, l)[o:], unsafe.Slice(shift, l)[o:], perCh != 0, lo, hi, zp)
	}
}

// Register-only ceiling loops: n iterations of independent dot products
// (see qpeak).
func qpeak_neondot(n int)
func qpeak_neon(n int)

// 8x12 for neondot is sgemm_8x12_neon's shape: 24 SDOTs per 5 16-byte
// loads, 29 of the 32 vector registers. neon's 4x12 holds two partial
// sums per output, so 24 accumulators make a 48-output tile. Both use
// NR = 12, so weights packed for one run on the other without repacking.
// Not yet measured on hardware (only tested under qemu); llvm-mca 14's
// models give per K group: 8x12 neondot 12 cycles on Cortex-A76 (2 SDOT
// per cycle, the ceiling), 29 on A55 (ceiling 24); 4x12 neon 13 cycles on
// A72 (7.4 of the ceiling loop's 8 MACs per cycle), 38 on A55. 12x8
// neondot models at 15 cycles on A76, 4x16 at the ceiling.
var int8Registered = func() bool {
	a := cpu.ARM64
	int8Kernels[Int8.index("neon")] = &qkernel{name: "qgemm_4x12c4_neon", mr: 4, nr: 12, signedA: true, fn: qgemm_4x12c4_neon}
	int8Kernels[Int8.index("neondot")] = &qkernel{name: "qgemm_8x12c4_neondot", mr: 8, nr: 12, signedA: true, fn: qgemm_8x12c4_neondot}
	if a.HasASIMD {
		qdwRowAsm, qdwRowAsmStep = qdwRow_neon, 1
		qrequantRowAsm, qfloatRowAsm, qrowAsmStep = qrequantRow_neon, qfloatRow_neon, 8
		qpackA4Asm, qpackA4Chunk = qpackA4_neon, 4
		qfixedRowAsm = qfixedRowNEON
	}
	Int8.support("neon", a.HasASIMD, "needs ASIMD")
	Int8.support("neondot", a.HasASIMD && a.HasASIMDDP, "needs ASIMD and the dot product (asimddp)")
	return true
}()

// qpeak runs path's ceiling loop for n iterations and returns the
// operations done (a multiply-accumulate counts 2), 0 for generic.
func qpeak(path string, n int) float64 {
	switch path {
	case "neondot":
		qpeak_neondot(n)
		return float64(n) * 24 * 16 * 2
	case "neon":
		qpeak_neon(n)
		return float64(n) * 16 * 8 * 2
	}
	return 0
}

// int8ExtraKernels are alternative tile shapes, benchmarked against each
// other to choose the registered ones.
var int8ExtraKernels = []qkernel{
	{name: "qgemm_8x12c4_neondot", mr: 8, nr: 12, signedA: true, fn: qgemm_8x12c4_neondot},
	{name: "qgemm_12x8c4_neondot", mr: 12, nr: 8, signedA: true, fn: qgemm_12x8c4_neondot},
	{name: "qgemm_4x16c4_neondot", mr: 4, nr: 16, signedA: true, fn: qgemm_4x16c4_neondot},
	{name: "qgemm_4x12c4_neon", mr: 4, nr: 12, signedA: true, fn: qgemm_4x12c4_neon},
	{name: "qgemm_4x8c4_neon", mr: 4, nr: 8, signedA: true, fn: qgemm_4x8c4_neon},
}

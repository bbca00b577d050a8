//go:build !purego

#include "textflag.h"

// func transposeStrip8x16AVX(dst *byte, ld int, src *byte, ls, nblk int, flip *[16]byte)
//
// For each of nblk blocks: the 8 rows × 16 bytes at src (rows ls apart),
// XORed with *flip, go to dst as 16 rows × 8 bytes (rows ld apart); then
// src moves 16 bytes on and dst 16 rows down. Unpacking bytes of row
// pairs, then words of pair pairs, then dwords of the two halves leaves
// columns 2k and 2k+1 (8 bytes each) in one register.
TEXT ·transposeStrip8x16AVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ld+8(FP), R12
	MOVQ src+16(FP), SI
	MOVQ ls+24(FP), R8
	MOVQ nblk+32(FP), CX
	MOVQ flip+40(FP), R11
	LEAQ (R8)(R8*2), R9    // 3 source rows
	LEAQ (R12)(R12*2), R13 // 3 destination rows
	LEAQ (SI)(R8*4), R10   // source row 4

block:
	VMOVDQU (SI), X0
	VMOVDQU (SI)(R8*1), X1
	VMOVDQU (SI)(R8*2), X2
	VMOVDQU (SI)(R9*1), X3
	VMOVDQU (R10), X4
	VMOVDQU (R10)(R8*1), X5
	VMOVDQU (R10)(R8*2), X6
	VMOVDQU (R10)(R9*1), X7
	VPXOR (R11), X0, X0
	VPXOR (R11), X1, X1
	VPXOR (R11), X2, X2
	VPXOR (R11), X3, X3
	VPXOR (R11), X4, X4
	VPXOR (R11), X5, X5
	VPXOR (R11), X6, X6
	VPXOR (R11), X7, X7

	// Bytes: column k of rows (0,1) in word k of X8 (0-7) and X9 (8-15).
	VPUNPCKLBW X1, X0, X8
	VPUNPCKHBW X1, X0, X9
	VPUNPCKLBW X3, X2, X10
	VPUNPCKHBW X3, X2, X11
	VPUNPCKLBW X5, X4, X12
	VPUNPCKHBW X5, X4, X13
	VPUNPCKLBW X7, X6, X14
	VPUNPCKHBW X7, X6, X15

	// Words: columns 0-3, 4-7, 8-11, 12-15 of rows 0-3 (X0-X3) and 4-7
	// (X4-X7), a dword per column.
	VPUNPCKLWD X10, X8, X0
	VPUNPCKHWD X10, X8, X1
	VPUNPCKLWD X11, X9, X2
	VPUNPCKHWD X11, X9, X3
	VPUNPCKLWD X14, X12, X4
	VPUNPCKHWD X14, X12, X5
	VPUNPCKLWD X15, X13, X6
	VPUNPCKHWD X15, X13, X7

	// Dwords: columns (0,1), (2,3) ... (14,15), a qword each.
	VPUNPCKLDQ X4, X0, X8
	VPUNPCKHDQ X4, X0, X9
	VPUNPCKLDQ X5, X1, X10
	VPUNPCKHDQ X5, X1, X11
	VPUNPCKLDQ X6, X2, X12
	VPUNPCKHDQ X6, X2, X13
	VPUNPCKLDQ X7, X3, X14
	VPUNPCKHDQ X7, X3, X15

	MOVQ DI, AX
	VMOVQ X8, (AX)
	VMOVHPS X8, (AX)(R12*1)
	VMOVQ X9, (AX)(R12*2)
	VMOVHPS X9, (AX)(R13*1)
	LEAQ (AX)(R12*4), AX
	VMOVQ X10, (AX)
	VMOVHPS X10, (AX)(R12*1)
	VMOVQ X11, (AX)(R12*2)
	VMOVHPS X11, (AX)(R13*1)
	LEAQ (AX)(R12*4), AX
	VMOVQ X12, (AX)
	VMOVHPS X12, (AX)(R12*1)
	VMOVQ X13, (AX)(R12*2)
	VMOVHPS X13, (AX)(R13*1)
	LEAQ (AX)(R12*4), AX
	VMOVQ X14, (AX)
	VMOVHPS X14, (AX)(R12*1)
	VMOVQ X15, (AX)(R12*2)
	VMOVHPS X15, (AX)(R13*1)
	LEAQ (AX)(R12*4), DI

	ADDQ $16, SI
	ADDQ $16, R10
	DECQ CX
	JNZ block
	RET

// func transposeStrip8x8F32AVX(dst *float32, ld int, src *float32, ls, nblk int)
//
// For each of nblk blocks: the 8 rows × 8 float32 at src (rows ls floats
// apart) go to dst as 8 rows × 8 (rows ld floats apart); then src moves 8
// floats on and dst 8 rows down. Unpacking row pairs, then shuffling pair
// pairs, leaves each 128-bit half a column's quarter; VPERM2F128 joins them.
TEXT ·transposeStrip8x8F32AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ld+8(FP), R12
	SHLQ $2, R12
	MOVQ src+16(FP), SI
	MOVQ ls+24(FP), R8
	SHLQ $2, R8
	MOVQ nblk+32(FP), CX
	LEAQ (R8)(R8*2), R9    // 3 source rows
	LEAQ (R12)(R12*2), R13 // 3 destination rows

fblock:
	LEAQ (SI)(R8*4), R10
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	VUNPCKLPS Y1, Y0, Y8  // r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]
	VUNPCKHPS Y1, Y0, Y9  // r0[2] r1[2] r0[3] r1[3] | ...
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0 // r0[0] r1[0] r2[0] r3[0] | col 4
	VSHUFPS $0xEE, Y10, Y8, Y1 // col 1 | col 5
	VSHUFPS $0x44, Y11, Y9, Y2 // col 2 | col 6
	VSHUFPS $0xEE, Y11, Y9, Y3 // col 3 | col 7
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	LEAQ (DI)(R12*4), R10
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R12*1)
	VMOVUPS Y10, (DI)(R12*2)
	VMOVUPS Y11, (DI)(R13*1)
	VMOVUPS Y12, (R10)
	VMOVUPS Y13, (R10)(R12*1)
	VMOVUPS Y14, (R10)(R12*2)
	VMOVUPS Y15, (R10)(R13*1)
	ADDQ $32, SI
	LEAQ (R10)(R12*4), DI
	DECQ CX
	JNZ fblock
	VZEROUPPER
	RET

// Shuffle masks of transposeP3AVX: for output vector o (16 of the 48
// bytes of 16 pixels) and plane c, the source byte of each output byte
// (0x80: zero). Mask (o*3+c) is at 16*(o*3+c).
DATA p3mask<>+0(SB)/8, $0x8002808001808000
DATA p3mask<>+8(SB)/8, $0x0580800480800380
DATA p3mask<>+16(SB)/8, $0x0280800180800080
DATA p3mask<>+24(SB)/8, $0x8080048080038080
DATA p3mask<>+32(SB)/8, $0x8080018080008080
DATA p3mask<>+40(SB)/8, $0x8004808003808002
DATA p3mask<>+48(SB)/8, $0x8080078080068080
DATA p3mask<>+56(SB)/8, $0x800a808009808008
DATA p3mask<>+64(SB)/8, $0x8007808006808005
DATA p3mask<>+72(SB)/8, $0x0a80800980800880
DATA p3mask<>+80(SB)/8, $0x0780800680800580
DATA p3mask<>+88(SB)/8, $0x8080098080088080
DATA p3mask<>+96(SB)/8, $0x0d80800c80800b80
DATA p3mask<>+104(SB)/8, $0x80800f80800e8080
DATA p3mask<>+112(SB)/8, $0x80800c80800b8080
DATA p3mask<>+120(SB)/8, $0x800f80800e80800d
DATA p3mask<>+128(SB)/8, $0x800c80800b80800a
DATA p3mask<>+136(SB)/8, $0x0f80800e80800d80
GLOBL p3mask<>(SB), RODATA|NOPTR, $144

// func transposeP3AVX(dst *byte, src *byte, n, nblk int, flip *[16]byte)
//
// Three planes of n bytes (at src, src+n, src+2n: an RGB image in NCHW) to
// pixel triples (NHWC), nblk blocks of 16 pixels, each byte XORed with
// flip[0]: per block three loads and, for each 16 output bytes, one
// VPSHUFB of each plane ORed together.
TEXT ·transposeP3AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), R8
	MOVQ nblk+24(FP), CX
	MOVQ flip+32(FP), R11
	VMOVDQU (R11), X15
	LEAQ p3mask<>(SB), R10
	VMOVDQU 0(R10), X6
	VMOVDQU 16(R10), X7
	VMOVDQU 32(R10), X8
	VMOVDQU 48(R10), X9
	VMOVDQU 64(R10), X10
	VMOVDQU 80(R10), X11
	VMOVDQU 96(R10), X12
	VMOVDQU 112(R10), X13
	VMOVDQU 128(R10), X14

p3loop:
	VMOVDQU (SI), X0
	VMOVDQU (SI)(R8*1), X1
	VMOVDQU (SI)(R8*2), X2
	VPSHUFB X6, X0, X3
	VPSHUFB X7, X1, X4
	VPOR X4, X3, X3
	VPSHUFB X8, X2, X4
	VPOR X4, X3, X3
	VPXOR X15, X3, X3
	VMOVDQU X3, (DI)
	VPSHUFB X9, X0, X3
	VPSHUFB X10, X1, X4
	VPOR X4, X3, X3
	VPSHUFB X11, X2, X4
	VPOR X4, X3, X3
	VPXOR X15, X3, X3
	VMOVDQU X3, 16(DI)
	VPSHUFB X12, X0, X3
	VPSHUFB X13, X1, X4
	VPOR X4, X3, X3
	VPSHUFB X14, X2, X4
	VPOR X4, X3, X3
	VPXOR X15, X3, X3
	VMOVDQU X3, 32(DI)
	ADDQ $16, SI
	ADDQ $48, DI
	DECQ CX
	JNZ p3loop
	VZEROUPPER
	RET

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

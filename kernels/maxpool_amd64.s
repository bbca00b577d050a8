//go:build !purego

#include "textflag.h"

// func maxPool2x2Row_avx2(dst, r0, r1 *byte, ow, c int, signed bool)
//
// For each of ow output pixels of c bytes (c a multiple of 32): the
// bytewise maximum of input pixels 2ox and 2ox+1 of rows r0 and r1
// (VPMAXSB for int8, VPMAXUB for uint8), 32 channels a step.
TEXT ·maxPool2x2Row_avx2(SB), NOSPLIT, $0-41
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ ow+24(FP), CX
	MOVQ c+32(FP), R8
	MOVBLZX signed+40(FP), R9
	TESTQ CX, CX
	JLE done

pixel:
	XORQ R10, R10
	LEAQ (SI)(R8*1), R11 // r0's second pixel
	LEAQ (DX)(R8*1), R12 // r1's second pixel

chunk:
	VMOVDQU (SI)(R10*1), Y0
	VMOVDQU (R11)(R10*1), Y1
	VMOVDQU (DX)(R10*1), Y2
	VMOVDQU (R12)(R10*1), Y3
	TESTQ R9, R9
	JZ unsigned
	VPMAXSB Y1, Y0, Y0
	VPMAXSB Y3, Y2, Y2
	VPMAXSB Y2, Y0, Y0
	JMP store

unsigned:
	VPMAXUB Y1, Y0, Y0
	VPMAXUB Y3, Y2, Y2
	VPMAXUB Y2, Y0, Y0

store:
	VMOVDQU Y0, (DI)(R10*1)
	ADDQ $32, R10
	CMPQ R10, R8
	JLT chunk
	ADDQ R8, DI
	LEAQ (SI)(R8*2), SI
	LEAQ (DX)(R8*2), DX
	DECQ CX
	JNZ pixel

done:
	VZEROUPPER
	RET

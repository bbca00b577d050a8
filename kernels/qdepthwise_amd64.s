//go:build !purego

#include "textflag.h"

// func qdwPixel_avx512(ptrs *unsafe.Pointer, ntaps int, w *int32, c int, za int32, init, acc *int32)
//
// acc[ch] = init[ch] + Σ_t (x_t[ch] - za)·w[t*c+ch], x_t = ptrs[t] (c
// uint8), 16 channels per vector, the last block masked (masked loads
// don't fault past the end).
TEXT ·qdwPixel_avx512(SB), NOSPLIT, $0-56
	MOVQ ptrs+0(FP), BX
	MOVQ ntaps+8(FP), R9
	MOVQ w+16(FP), DX
	MOVQ c+24(FP), R8
	MOVL za+32(FP), AX
	VPBROADCASTD AX, Z2
	MOVQ init+40(FP), R10
	MOVQ acc+48(FP), DI
	MOVQ R8, R11
	SHLQ $2, R11
	XORQ R12, R12

block:
	MOVQ R8, CX
	SUBQ R12, CX
	JLE done
	MOVL $0xFFFF, AX
	CMPQ CX, $16
	JGE setmask
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

setmask:
	KMOVW AX, K1
	VMOVDQU32.Z (R10)(R12*4), K1, Z0
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13

tap:
	MOVQ (BX)(R13*8), SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z1
	VPSUBD Z2, Z1, Z1
	VPMULLD (AX), Z1, K1, Z1
	VPADDD Z1, Z0, Z0
	ADDQ R11, AX
	INCQ R13
	CMPQ R13, R9
	JLT tap
	VMOVDQU32 Z0, K1, (DI)(R12*4)
	ADDQ $16, R12
	JMP block

done:
	VZEROUPPER
	RET

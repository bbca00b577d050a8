//go:build !purego

#include "textflag.h"

DATA evenidx<>+0(SB)/4, $0
DATA evenidx<>+4(SB)/4, $2
DATA evenidx<>+8(SB)/4, $4
DATA evenidx<>+12(SB)/4, $6
DATA evenidx<>+16(SB)/4, $8
DATA evenidx<>+20(SB)/4, $10
DATA evenidx<>+24(SB)/4, $12
DATA evenidx<>+28(SB)/4, $14
DATA evenidx<>+32(SB)/4, $16
DATA evenidx<>+36(SB)/4, $18
DATA evenidx<>+40(SB)/4, $20
DATA evenidx<>+44(SB)/4, $22
DATA evenidx<>+48(SB)/4, $24
DATA evenidx<>+52(SB)/4, $26
DATA evenidx<>+56(SB)/4, $28
DATA evenidx<>+60(SB)/4, $30
GLOBL evenidx<>(SB), RODATA|NOPTR, $64

// func copyRowsAVX512(dst, src *float32, rows, n, dstStride, srcStride, step int)
//
// For each of rows rows: dst[j] = src[j*step] for j < n (step 1 or 2),
// then dst += dstStride, src += srcStride (floats). The tail of a row
// goes through masked loads and stores, so nothing outside the rows is
// read or written. Step 2 takes the even elements of 32 loaded floats
// with one VPERMT2PS.
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ dstStride+32(FP), R10
	SHLQ $2, R10
	MOVQ srcStride+40(FP), R11
	SHLQ $2, R11
	MOVQ step+48(FP), R12
	VMOVUPS evenidx<>(SB), Z7
	TESTQ R8, R8
	JZ done
	TESTQ R9, R9
	JZ done
row:
	MOVQ DI, AX
	MOVQ SI, BX
	MOVQ R9, CX
	CMPQ R12, $2
	JEQ step2
step1:
	CMPQ CX, $16
	JLT tail1
	VMOVUPS (BX), Z0
	VMOVUPS Z0, (AX)
	ADDQ $64, AX
	ADDQ $64, BX
	SUBQ $16, CX
	JMP step1
tail1:
	TESTQ CX, CX
	JZ next
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	VMOVUPS.Z (BX), K1, Z0
	VMOVUPS Z0, K1, (AX)
	JMP next
step2:
	CMPQ CX, $16
	JLT tail2
	CMPQ CX, $16
	JEQ tail2 // the last 16 outputs read 31 floats, not 32
	VMOVUPS (BX), Z0
	VMOVUPS 64(BX), Z1
	VPERMT2PS Z1, Z7, Z0
	VMOVUPS Z0, (AX)
	ADDQ $64, AX
	ADDQ $128, BX
	SUBQ $16, CX
	JMP step2
tail2:
	// K3 masks the CX outputs; 2*CX-1 source floats: K1 masks the first
	// min(that, 16) (Z0), K2 the rest (Z1).
	MOVQ CX, R13
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K3
	LEAQ -1(R13)(R13*1), CX
	CMPQ CX, $16
	JLE small2
	SUBQ $16, CX
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K2
	KXNORW K1, K1, K1
	JMP load2
small2:
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	KXORW K2, K2, K2
load2:
	VMOVUPS.Z (BX), K1, Z0
	VMOVUPS.Z 64(BX), K2, Z1
	VPERMT2PS Z1, Z7, Z0
	VMOVUPS Z0, K3, (AX)
next:
	ADDQ R10, DI
	ADDQ R11, SI
	DECQ R8
	JNZ row
done:
	VZEROUPPER
	RET

// func copyByteRowsAVX512(dst, src *byte, rows, n, dstStride, srcStride int, x byte)
//
// For each of rows rows: n bytes from src to dst, each XOR x, then dst +=
// dstStride, src += srcStride: 64-byte moves, the rest of the row (n mod
// 64 bytes) one masked move (AVX512BW), so nothing outside the rows is
// touched.
TEXT ·copyByteRowsAVX512(SB), NOSPLIT, $0-49
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ dstStride+32(FP), R10
	MOVQ srcStride+40(FP), R11
	MOVBLZX x+48(FP), AX
	VPBROADCASTB AX, Z1
	MOVQ R9, CX
	ANDQ $63, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVQ AX, K1
	SHRQ $6, R9
	TESTQ R8, R8
	JZ bdone
brow:
	MOVQ DI, AX
	MOVQ SI, BX
	MOVQ R9, CX
	TESTQ CX, CX
	JZ btail
bfull:
	VPXORD (BX), Z1, Z0
	VMOVDQU8 Z0, (AX)
	ADDQ $64, AX
	ADDQ $64, BX
	DECQ CX
	JNZ bfull
btail:
	VMOVDQU8.Z (BX), K1, Z0
	VPXORD Z1, Z0, Z0
	VMOVDQU8 Z0, K1, (AX)
	ADDQ R10, DI
	ADDQ R11, SI
	DECQ R8
	JNZ brow
bdone:
	VZEROUPPER
	RET

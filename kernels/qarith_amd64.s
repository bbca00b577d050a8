//go:build !purego

#include "textflag.h"

// func qarith_avx512(dst, a, b unsafe.Pointer, n int, args *qarithArgs)
//
// QArithBytes, 16 codes a step: each operand XORed to unsigned order,
// widened, converted, less its zero point, times its scale; the operator;
// then QuantizeLinear as quantize8_avx512 does it (divide, clamp to the
// bounds less the zero point, round half to even by the conversion's
// embedded rounding, add the zero point, keep the low byte).
TEXT ·qarith_avx512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ args+32(FP), AX
	VPBROADCASTD 0(AX), X10
	VPBROADCASTD 4(AX), X11
	VBROADCASTSS 8(AX), Z12
	VBROADCASTSS 12(AX), Z13
	VBROADCASTSS 16(AX), Z14
	VBROADCASTSS 20(AX), Z15
	VBROADCASTSS 24(AX), Z16
	VBROADCASTSS 28(AX), Z17
	VBROADCASTSS 32(AX), Z18
	VPBROADCASTD 36(AX), Z19
	MOVL 40(AX), R9

qaloop:
	VPXORD (SI), X10, X0
	VPMOVZXBD X0, Z0
	VCVTDQ2PS Z0, Z0
	VSUBPS Z12, Z0, Z0
	VMULPS Z13, Z0, Z0
	VPXORD (DX), X11, X1
	VPMOVZXBD X1, Z1
	VCVTDQ2PS Z1, Z1
	VSUBPS Z14, Z1, Z1
	VMULPS Z15, Z1, Z1
	CMPL R9, $1
	JEQ qasub
	JGT qamul
	VADDPS Z1, Z0, Z0
	JMP qaquant

qasub:
	VSUBPS Z1, Z0, Z0
	JMP qaquant

qamul:
	VMULPS Z1, Z0, Z0

qaquant:
	VDIVPS Z16, Z0, Z0
	VMAXPS Z17, Z0, Z0
	VMINPS Z18, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD Z19, Z0, Z0
	VPMOVDB Z0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $16, CX
	JNZ qaloop
	VZEROUPPER
	RET

// func sumDeq_avx512(acc *float32, q unsafe.Pointer, rows, c, n int, flip uint32, z, scale float32)
//
// For each block of 16 channels below n (the last one masked): the
// accumulators stay in a register while every row's codes are widened,
// XORed to unsigned order, converted, less z, times scale, and added, row
// after row.
TEXT ·sumDeq_avx512(SB), NOSPLIT, $0-52
	MOVQ acc+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ c+24(FP), R8
	MOVQ n+32(FP), R9
	MOVL flip+40(FP), AX
	ANDL $0xFF, AX
	VPBROADCASTD AX, Z10
	VBROADCASTSS z+44(FP), Z11
	VBROADCASTSS scale+48(FP), Z12
	XORQ R10, R10

sdblk:
	MOVQ R9, AX
	SUBQ R10, AX
	JLE sddone
	MOVL $16, BX
	CMPQ AX, BX
	CMOVQGT BX, AX
	MOVL $0xFFFF, BX
	BZHIL AX, BX, BX
	KMOVW BX, K1
	VMOVUPS.Z (DI)(R10*4), K1, Z0
	LEAQ (SI)(R10*1), DX
	MOVQ rows+16(FP), CX

sdrow:
	VPMOVZXBD.Z (DX), K1, Z1
	VPXORD Z10, Z1, Z1
	VCVTDQ2PS Z1, Z1
	VSUBPS Z11, Z1, Z1
	VMULPS Z12, Z1, Z1
	VADDPS Z1, Z0, Z0
	ADDQ R8, DX
	DECQ CX
	JNZ sdrow
	VMOVUPS Z0, K1, (DI)(R10*4)
	ADDQ $16, R10
	JMP sdblk

sddone:
	VZEROUPPER
	RET

// func sumDeq_avx2(acc *float32, q unsafe.Pointer, rows, c, n int, flip uint32, z, scale float32)
//
// sumDeq_avx512 on blocks of 8 channels (n a multiple of 8).
TEXT ·sumDeq_avx2(SB), NOSPLIT, $0-52
	MOVQ acc+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ c+24(FP), R8
	MOVQ n+32(FP), R9
	MOVL flip+40(FP), AX
	ANDL $0xFF, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	VBROADCASTSS z+44(FP), Y11
	VBROADCASTSS scale+48(FP), Y12
	XORQ R10, R10

s2blk:
	CMPQ R10, R9
	JGE s2done
	VMOVUPS (DI)(R10*4), Y0
	LEAQ (SI)(R10*1), DX
	MOVQ rows+16(FP), CX

s2row:
	VPMOVZXBD (DX), Y1
	VPXOR Y10, Y1, Y1
	VCVTDQ2PS Y1, Y1
	VSUBPS Y11, Y1, Y1
	VMULPS Y12, Y1, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, DX
	DECQ CX
	JNZ s2row
	VMOVUPS Y0, (DI)(R10*4)
	ADDQ $8, R10
	JMP s2blk

s2done:
	VZEROUPPER
	RET

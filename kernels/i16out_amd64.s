//go:build !purego

#include "textflag.h"

// func i16shiftRow_avx512(src *int64, dst unsafe.Pointer, n int, s int, half int64, out16 int)
// For n (a multiple of 8) int64 src values: y = round_half_even(x / 2^s)
// (s in [1, 62], half = 2^(s-1)), saturated to int16 (out16 != 0) or int32
// and stored to dst. AVX512F.
TEXT ·i16shiftRow_avx512(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ s+24(FP), AX
	MOVQ half+32(FP), BX
	MOVQ out16+40(FP), DX
	VMOVQ AX, X15            // shift count
	VPBROADCASTQ BX, Z14     // half
	MOVQ $1, AX
	VPBROADCASTQ AX, Z13     // one
	SHRQ $3, CX
	JZ done
loop:
	VMOVDQU64 (SI), Z0        // x
	VPSRAQ X15, Z0, Z1        // q = floor(x / 2^s)
	VPSLLQ X15, Z1, Z2
	VPSUBQ Z2, Z0, Z2         // rem = x - q·2^s, in [0, 2^s)
	VPCMPQ $6, Z14, Z2, K1    // rem > half
	VPCMPEQQ Z14, Z2, K2      // rem == half
	VPTESTMQ Z13, Z1, K3      // q odd
	KANDW K2, K3, K2
	KORW K1, K2, K1
	VPADDQ Z13, Z1, K1, Z1    // q + 1 where rounding up
	TESTQ DX, DX
	JZ out32
	VPMOVSQW Z1, (DI)
	ADDQ $16, DI
	JMP next
out32:
	VPMOVSQD Z1, (DI)
	ADDQ $32, DI
next:
	ADDQ $64, SI
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET

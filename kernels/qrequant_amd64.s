//go:build !purego

#include "textflag.h"

// func qrequantRow_avx512(src *int32, dst *byte, n int, scale *float32, perCh int, flo, fhi float32, zp int32)
//
// dst[x] = byte(int32(round_half_even(min(max(float32(src[x])·scale[x or 0], flo), fhi))) + zp)
// in exactly qoutStage.apply's float32 operations: VCVTDQ2PS, VMULPS,
// VMAXPS, VMINPS, then a conversion rounding half to even by its embedded
// rounding mode (whatever MXCSR says), which equals the Go path's + and -
// 1.5·2^23 on these clamped values. VPMOVDB keeps the low byte, right for
// uint8 and int8 alike since the value is in range.
TEXT ·qrequantRow_avx512(SB), NOSPLIT, $0-52
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ scale+24(FP), DX
	MOVQ perCh+32(FP), R8
	SHLQ $6, R8
	VBROADCASTSS flo+40(FP), Z1
	VBROADCASTSS fhi+44(FP), Z2
	MOVL zp+48(FP), AX
	VPBROADCASTD AX, Z3
	VBROADCASTSS (DX), Z5

loop:
	CMPQ CX, $16
	JLT tail
	VCVTDQ2PS (SI), Z0
	TESTQ R8, R8
	JZ mul
	VMOVUPS (DX), Z5

mul:
	VMULPS Z5, Z0, Z0
	VMAXPS Z1, Z0, Z0
	VMINPS Z2, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD Z3, Z0, Z0
	VPMOVDB Z0, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	ADDQ R8, DX
	SUBQ $16, CX
	JMP loop

tail:
	TESTQ CX, CX
	JZ done
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVDQU32.Z (SI), K1, Z0
	VCVTDQ2PS Z0, Z0
	TESTQ R8, R8
	JZ mul1
	VMOVUPS.Z (DX), K1, Z5

mul1:
	VMULPS Z5, Z0, Z0
	VMAXPS Z1, Z0, Z0
	VMINPS Z2, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD Z3, Z0, Z0
	VPMOVDB Z0, K1, (DI)

done:
	VZEROUPPER
	RET

// func qfloatRow_avx512(src *int32, dst *float32, n int, scale, fbias *float32, perCh int)
//
// dst[x] = float32(src[x])·scale[x or 0] (+ fbias[x or 0] unless fbias is
// nil): VCVTDQ2PS, VMULPS, VADDPS, as qfloatRowGo (no FMA).
TEXT ·qfloatRow_avx512(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ scale+24(FP), DX
	MOVQ fbias+32(FP), BX
	MOVQ perCh+40(FP), R8
	SHLQ $6, R8
	VBROADCASTSS (DX), Z5
	VPXORD Z6, Z6, Z6
	TESTQ BX, BX
	JZ floop
	VBROADCASTSS (BX), Z6

floop:
	MOVL $0xFFFF, AX
	CMPQ CX, $16
	JGE fmask
	TESTQ CX, CX
	JZ fdone
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

fmask:
	KMOVW AX, K1
	VMOVDQU32.Z (SI), K1, Z0
	VCVTDQ2PS Z0, Z0
	TESTQ R8, R8
	JZ fmul
	VMOVUPS.Z (DX), K1, Z5
	TESTQ BX, BX
	JZ fmul
	VMOVUPS.Z (BX), K1, Z6

fmul:
	VMULPS Z5, Z0, Z0
	TESTQ BX, BX
	JZ fstore
	VADDPS Z6, Z0, Z0

fstore:
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ R8, DX
	TESTQ BX, BX
	JZ fnext
	ADDQ R8, BX

fnext:
	SUBQ $16, CX
	JG floop

fdone:
	VZEROUPPER
	RET

// Low byte of each dword, per 128-bit lane, into the lane's first 4 bytes.
DATA qlowbytes<>+0(SB)/8, $0x808080800c080400
DATA qlowbytes<>+8(SB)/8, $0x8080808080808080
DATA qlowbytes<>+16(SB)/8, $0x808080800c080400
DATA qlowbytes<>+24(SB)/8, $0x8080808080808080
GLOBL qlowbytes<>(SB), RODATA|NOPTR, $32

// func qrequantRow_avx2(src *int32, dst *byte, n int, scale *float32, perCh int, flo, fhi float32, zp int32)
//
// qrequantRow_avx512's operations on 8 lanes, for n a multiple of 8 (the
// caller does the rest in Go); the low byte of each int32 is kept.
TEXT ·qrequantRow_avx2(SB), NOSPLIT, $0-52
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ scale+24(FP), DX
	MOVQ perCh+32(FP), R8
	SHLQ $5, R8
	VBROADCASTSS flo+40(FP), Y1
	VBROADCASTSS fhi+44(FP), Y2
	MOVL zp+48(FP), AX
	VMOVD AX, X3
	VPBROADCASTD X3, Y3
	MOVL $0x4B400000, AX
	VMOVD AX, X4
	VPBROADCASTD X4, Y4
	VBROADCASTSS (DX), Y5
	VMOVDQU qlowbytes<>(SB), Y7
	SHRQ $3, CX
	JZ qdone

qloop:
	VCVTDQ2PS (SI), Y0
	TESTQ R8, R8
	JZ qmul
	VMOVUPS (DX), Y5

qmul:
	VMULPS Y5, Y0, Y0
	VMAXPS Y1, Y0, Y0
	VMINPS Y2, Y0, Y0
	VADDPS Y4, Y0, Y0
	VSUBPS Y4, Y0, Y0
	VCVTTPS2DQ Y0, Y0
	VPADDD Y3, Y0, Y0
	VPSHUFB Y7, Y0, Y0
	VEXTRACTI128 $1, Y0, X6
	VPUNPCKLDQ X6, X0, X0
	VMOVQ X0, (DI)
	ADDQ $32, SI
	ADDQ $8, DI
	ADDQ R8, DX
	DECQ CX
	JNZ qloop

qdone:
	VZEROUPPER
	RET

// func qfloatRow_avx2(src *int32, dst *float32, n int, scale, fbias *float32, perCh int)
//
// qfloatRow_avx512 on 8 lanes, for n a multiple of 8.
TEXT ·qfloatRow_avx2(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ scale+24(FP), DX
	MOVQ fbias+32(FP), BX
	MOVQ perCh+40(FP), R8
	SHLQ $5, R8
	VBROADCASTSS (DX), Y5
	VXORPS Y6, Y6, Y6
	TESTQ BX, BX
	JZ gstart
	VBROADCASTSS (BX), Y6

gstart:
	SHRQ $3, CX
	JZ gdone

gloop:
	VCVTDQ2PS (SI), Y0
	TESTQ R8, R8
	JZ gmul
	VMOVUPS (DX), Y5
	TESTQ BX, BX
	JZ gmul
	VMOVUPS (BX), Y6

gmul:
	VMULPS Y5, Y0, Y0
	TESTQ BX, BX
	JZ gstore
	VADDPS Y6, Y0, Y0

gstore:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ R8, DX
	TESTQ BX, BX
	JZ gnext
	ADDQ R8, BX

gnext:
	DECQ CX
	JNZ gloop

gdone:
	VZEROUPPER
	RET

// func qfixedRow_avx512(src *int32, dst *byte, n int, mult, shift *int32, perCh int, lo, hi, zp int32)
//
// qfixedRowGo on 8 int64 lanes: x = acc·M (VPMULDQ of sign-extended
// values, exact), q = x >> s (arithmetic), rem = x - q<<s, and q+1 where
// 2·rem > 2^s or (2·rem == 2^s and q is odd): round half to even, exactly
// as roundShiftEven. Then clamp to [lo, hi], + zp, low byte (VPMOVQB).
TEXT ·qfixedRow_avx512(SB), NOSPLIT, $0-60
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ mult+24(FP), DX
	MOVQ shift+32(FP), BX
	MOVQ perCh+40(FP), R8
	MOVL $31, AX
	VPBROADCASTQ AX, Z10
	MOVL $1, AX
	VPBROADCASTQ AX, Z6
	MOVLQSX lo+48(FP), AX
	VPBROADCASTQ AX, Z7
	MOVLQSX hi+52(FP), AX
	VPBROADCASTQ AX, Z8
	MOVLQSX zp+56(FP), AX
	VPBROADCASTQ AX, Z9
	MOVLQSX (DX), AX
	VPBROADCASTQ AX, Z1
	MOVLQSX (BX), AX
	VPBROADCASTQ AX, Z2
	VPADDQ Z10, Z2, Z2

xloop:
	MOVL $0xFF, AX
	CMPQ CX, $8
	JGE xmask
	TESTQ CX, CX
	JLE xdone
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

xmask:
	KMOVW AX, K1
	VPMOVSXDQ.Z (SI), K1, Z0
	TESTQ R8, R8
	JZ xcompute
	VPMOVSXDQ.Z (DX), K1, Z1
	VPMOVSXDQ.Z (BX), K1, Z2
	VPADDQ Z10, Z2, Z2

xcompute:
	VPMULDQ Z1, Z0, Z3
	VPSRAVQ Z2, Z3, Z4
	VPSLLVQ Z2, Z4, Z11
	VPSUBQ Z11, Z3, Z11
	VPSLLQ $1, Z11, Z11
	VPSLLVQ Z2, Z6, Z5
	VPCMPQ $6, Z5, Z11, K2
	VPCMPEQQ Z5, Z11, K3
	VPTESTMQ Z6, Z4, K4
	KANDW K3, K4, K3
	KORW K2, K3, K2
	VPADDQ Z6, Z4, K2, Z4
	VPMAXSQ Z7, Z4, Z4
	VPMINSQ Z8, Z4, Z4
	VPADDQ Z9, Z4, Z4
	VPMOVQB Z4, K1, (DI)
	ADDQ $32, SI
	ADDQ $8, DI
	TESTQ R8, R8
	JZ xnext
	ADDQ $32, DX
	ADDQ $32, BX

xnext:
	SUBQ $8, CX
	JG xloop

xdone:
	VZEROUPPER
	RET

// func qrequantTile_avx512(src *int32, srcStride int, dst *byte, dstStride int, rows, n int, scale *float32, perCh int, flo, fhi float32, zp int32)
//
// qrequantRow_avx512 on rows rows of n elements, src rows srcStride int32
// apart and dst rows dstStride bytes apart: one call per output tile.
TEXT ·qrequantTile_avx512(SB), NOSPLIT, $0-76
	MOVQ src+0(FP), R9
	MOVQ srcStride+8(FP), R13
	SHLQ $2, R13
	MOVQ dst+16(FP), R10
	MOVQ dstStride+24(FP), BX
	MOVQ rows+32(FP), R11
	MOVQ scale+48(FP), R12
	MOVQ perCh+56(FP), R8
	SHLQ $6, R8
	VBROADCASTSS flo+64(FP), Z1
	VBROADCASTSS fhi+68(FP), Z2
	MOVL zp+72(FP), AX
	VPBROADCASTD AX, Z3
	VBROADCASTSS (R12), Z5
	TESTQ R11, R11
	JLE tdone

trow:
	MOVQ R9, SI
	MOVQ R10, DI
	MOVQ R12, DX
	MOVQ n+40(FP), CX

tloop:
	CMPQ CX, $16
	JLT ttail
	VCVTDQ2PS (SI), Z0
	TESTQ R8, R8
	JZ tmul
	VMOVUPS (DX), Z5

tmul:
	VMULPS Z5, Z0, Z0
	VMAXPS Z1, Z0, Z0
	VMINPS Z2, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD Z3, Z0, Z0
	VPMOVDB Z0, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	ADDQ R8, DX
	SUBQ $16, CX
	JMP tloop

ttail:
	TESTQ CX, CX
	JZ tnext
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVDQU32.Z (SI), K1, Z0
	VCVTDQ2PS Z0, Z0
	TESTQ R8, R8
	JZ tmul1
	VMOVUPS.Z (DX), K1, Z5

tmul1:
	VMULPS Z5, Z0, Z0
	VMAXPS Z1, Z0, Z0
	VMINPS Z2, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD Z3, Z0, Z0
	VPMOVDB Z0, K1, (DI)

tnext:
	ADDQ R13, R9
	ADDQ BX, R10
	DECQ R11
	JNZ trow

tdone:
	VZEROUPPER
	RET

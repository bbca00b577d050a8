//go:build !purego

#include "textflag.h"

// func qpackA4_avx512(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, chunks int, x uint32)
//
// For 16·chunks groups g of 4 bytes: dst[g*stride + i*4 .. +4] = srci[4g ..
// 4g+4] XOR x, i = 0..3. Per chunk: 64 bytes from each row, a 4×4 dword
// transpose within each 128-bit lane (lane L then holds groups 4L..4L+3),
// and 16 stores of 16 bytes.
TEXT ·qpackA4_avx512(SB), NOSPLIT, $0-60
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), R8
	MOVQ src0+16(FP), SI
	MOVQ src1+24(FP), R9
	MOVQ src2+32(FP), R10
	MOVQ src3+40(FP), R11
	MOVQ chunks+48(FP), CX
	MOVL x+56(FP), AX
	VPBROADCASTD AX, Z31

loop:
	VPXORD (SI), Z31, Z0
	VPXORD (R9), Z31, Z1
	VPXORD (R10), Z31, Z2
	VPXORD (R11), Z31, Z3
	VPUNPCKLDQ Z1, Z0, Z4
	VPUNPCKHDQ Z1, Z0, Z5
	VPUNPCKLDQ Z3, Z2, Z6
	VPUNPCKHDQ Z3, Z2, Z7
	VPUNPCKLQDQ Z6, Z4, Z0
	VPUNPCKHQDQ Z6, Z4, Z1
	VPUNPCKLQDQ Z7, Z5, Z2
	VPUNPCKHQDQ Z7, Z5, Z3
	MOVQ DI, DX
	VMOVDQU X0, (DX)
	ADDQ R8, DX
	VMOVDQU X1, (DX)
	ADDQ R8, DX
	VMOVDQU X2, (DX)
	ADDQ R8, DX
	VMOVDQU X3, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $1, Z0, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $1, Z1, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $1, Z2, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $1, Z3, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $2, Z0, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $2, Z1, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $2, Z2, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $2, Z3, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $3, Z0, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $3, Z1, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $3, Z2, (DX)
	ADDQ R8, DX
	VEXTRACTI32X4 $3, Z3, (DX)
	ADDQ R8, DX
	MOVQ DX, DI
	ADDQ $64, SI
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ CX
	JNZ loop
	VZEROUPPER
	RET

// func qpackA4_avx2(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, chunks int, x uint32)
//
// qpackA4_avx512 with chunks of 8 groups (32 bytes per row).
TEXT ·qpackA4_avx2(SB), NOSPLIT, $0-60
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), R8
	MOVQ src0+16(FP), SI
	MOVQ src1+24(FP), R9
	MOVQ src2+32(FP), R10
	MOVQ src3+40(FP), R11
	MOVQ chunks+48(FP), CX
	MOVL x+56(FP), AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15

loop2:
	VPXOR (SI), Y15, Y0
	VPXOR (R9), Y15, Y1
	VPXOR (R10), Y15, Y2
	VPXOR (R11), Y15, Y3
	VPUNPCKLDQ Y1, Y0, Y4
	VPUNPCKHDQ Y1, Y0, Y5
	VPUNPCKLDQ Y3, Y2, Y6
	VPUNPCKHDQ Y3, Y2, Y7
	VPUNPCKLQDQ Y6, Y4, Y0
	VPUNPCKHQDQ Y6, Y4, Y1
	VPUNPCKLQDQ Y7, Y5, Y2
	VPUNPCKHQDQ Y7, Y5, Y3
	MOVQ DI, DX
	VMOVDQU X0, (DX)
	ADDQ R8, DX
	VMOVDQU X1, (DX)
	ADDQ R8, DX
	VMOVDQU X2, (DX)
	ADDQ R8, DX
	VMOVDQU X3, (DX)
	ADDQ R8, DX
	VEXTRACTI128 $1, Y0, (DX)
	ADDQ R8, DX
	VEXTRACTI128 $1, Y1, (DX)
	ADDQ R8, DX
	VEXTRACTI128 $1, Y2, (DX)
	ADDQ R8, DX
	VEXTRACTI128 $1, Y3, (DX)
	ADDQ R8, DX
	MOVQ DX, DI
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	DECQ CX
	JNZ loop2
	VZEROUPPER
	RET

// func qpackA4Small_avx(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, groups int, x uint32)
//
// qpackA4_avx512's transpose on 128-bit vectors for any groups >= 1: four
// groups at a time, then two, then one, each load reading only the groups
// it packs (rows of a few groups end right there).
TEXT ·qpackA4Small_avx(SB), NOSPLIT, $0-60
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), R8
	MOVQ src0+16(FP), SI
	MOVQ src1+24(FP), R9
	MOVQ src2+32(FP), R10
	MOVQ src3+40(FP), R11
	MOVQ groups+48(FP), CX
	MOVL x+56(FP), AX
	VMOVD AX, X15
	VPBROADCASTD X15, X15

small4:
	CMPQ CX, $4
	JLT small2
	VPXOR (SI), X15, X0
	VPXOR (R9), X15, X1
	VPXOR (R10), X15, X2
	VPXOR (R11), X15, X3
	VPUNPCKLDQ X1, X0, X4
	VPUNPCKHDQ X1, X0, X5
	VPUNPCKLDQ X3, X2, X6
	VPUNPCKHDQ X3, X2, X7
	VPUNPCKLQDQ X6, X4, X0
	VPUNPCKHQDQ X6, X4, X1
	VPUNPCKLQDQ X7, X5, X2
	VPUNPCKHQDQ X7, X5, X3
	VMOVDQU X0, (DI)
	ADDQ R8, DI
	VMOVDQU X1, (DI)
	ADDQ R8, DI
	VMOVDQU X2, (DI)
	ADDQ R8, DI
	VMOVDQU X3, (DI)
	ADDQ R8, DI
	ADDQ $16, SI
	ADDQ $16, R9
	ADDQ $16, R10
	ADDQ $16, R11
	SUBQ $4, CX
	JMP small4

small2:
	CMPQ CX, $2
	JLT small1
	VMOVQ (SI), X0
	VMOVQ (R9), X1
	VMOVQ (R10), X2
	VMOVQ (R11), X3
	VPXOR X15, X0, X0
	VPXOR X15, X1, X1
	VPXOR X15, X2, X2
	VPXOR X15, X3, X3
	VPUNPCKLDQ X1, X0, X4
	VPUNPCKLDQ X3, X2, X6
	VPUNPCKLQDQ X6, X4, X0
	VPUNPCKHQDQ X6, X4, X1
	VMOVDQU X0, (DI)
	ADDQ R8, DI
	VMOVDQU X1, (DI)
	ADDQ R8, DI
	ADDQ $8, SI
	ADDQ $8, R9
	ADDQ $8, R10
	ADDQ $8, R11
	SUBQ $2, CX

small1:
	TESTQ CX, CX
	JZ smalldone
	VMOVD (SI), X0
	VMOVD (R9), X1
	VMOVD (R10), X2
	VMOVD (R11), X3
	VPUNPCKLDQ X1, X0, X4
	VPUNPCKLDQ X3, X2, X6
	VPUNPCKLQDQ X6, X4, X0
	VPXOR X15, X0, X0
	VMOVDQU X0, (DI)

smalldone:
	VZEROUPPER
	RET

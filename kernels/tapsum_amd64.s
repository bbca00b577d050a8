// TapSum kernels: out[i] = sum over t of w[t]*data[off[t]+i], a multiply
// then an add per tap (no FMA) with the operands in the order Go's
// acc += float32(w*x) uses them, so results match tapSumGo bit for bit.
// The wide loop keeps 4 vectors of outputs in registers across all taps.

//go:build !purego

#include "textflag.h"

// func tapsum_64_avx512(n int, data *float32, off *int, w *float32, taps int, out *float32)
TEXT ·tapsum_64_avx512(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ data+8(FP), SI
	MOVQ off+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ taps+32(FP), R10
	MOVQ out+40(FP), DI
wide:
	CMPQ CX, $64
	JLT wide_done
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ R11, R11
wide_tap:
	MOVQ (R8)(R11*8), AX
	VBROADCASTSS (R9)(R11*4), Z15
	LEAQ (SI)(AX*4), BX
	VMULPS 0(BX), Z15, Z8
	VADDPS Z8, Z0, Z0
	VMULPS 64(BX), Z15, Z9
	VADDPS Z9, Z1, Z1
	VMULPS 128(BX), Z15, Z10
	VADDPS Z10, Z2, Z2
	VMULPS 192(BX), Z15, Z11
	VADDPS Z11, Z3, Z3
	INCQ R11
	CMPQ R11, R10
	JLT wide_tap
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $64, CX
	JMP wide
wide_done:
one:
	CMPQ CX, $16
	JLT one_done
	VPXORD Z0, Z0, Z0
	XORQ R11, R11
one_tap:
	MOVQ (R8)(R11*8), AX
	VBROADCASTSS (R9)(R11*4), Z15
	LEAQ (SI)(AX*4), BX
	VMULPS 0(BX), Z15, Z8
	VADDPS Z8, Z0, Z0
	INCQ R11
	CMPQ R11, R10
	JLT one_tap
	VMOVUPS Z0, 0(DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP one
one_done:
	VZEROUPPER
	RET

// func tapsum_32_avx2(n int, data *float32, off *int, w *float32, taps int, out *float32)
TEXT ·tapsum_32_avx2(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ data+8(FP), SI
	MOVQ off+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ taps+32(FP), R10
	MOVQ out+40(FP), DI
wide:
	CMPQ CX, $32
	JLT wide_done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ R11, R11
wide_tap:
	MOVQ (R8)(R11*8), AX
	VBROADCASTSS (R9)(R11*4), Y15
	LEAQ (SI)(AX*4), BX
	VMULPS 0(BX), Y15, Y8
	VADDPS Y8, Y0, Y0
	VMULPS 32(BX), Y15, Y9
	VADDPS Y9, Y1, Y1
	VMULPS 64(BX), Y15, Y10
	VADDPS Y10, Y2, Y2
	VMULPS 96(BX), Y15, Y11
	VADDPS Y11, Y3, Y3
	INCQ R11
	CMPQ R11, R10
	JLT wide_tap
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JMP wide
wide_done:
one:
	CMPQ CX, $8
	JLT one_done
	VXORPS Y0, Y0, Y0
	XORQ R11, R11
one_tap:
	MOVQ (R8)(R11*8), AX
	VBROADCASTSS (R9)(R11*4), Y15
	LEAQ (SI)(AX*4), BX
	VMULPS 0(BX), Y15, Y8
	VADDPS Y8, Y0, Y0
	INCQ R11
	CMPQ R11, R10
	JLT one_tap
	VMOVUPS Y0, 0(DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP one
one_done:
	VZEROUPPER
	RET

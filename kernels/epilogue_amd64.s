//go:build !purego

#include "textflag.h"

DATA signbit<>+0(SB)/4, $0x80000000
GLOBL signbit<>(SB), RODATA|NOPTR, $4
DATA one<>+0(SB)/4, $0x3f800000
GLOBL one<>(SB), RODATA|NOPTR, $4

// func biasActRowAVX2(x *float32, n int, bias, res *float32, mode int, lo, hi float32)
//
// For n a multiple of 8: v = x[i] (+ *bias if bias != nil) (+ res[i] if
// res != nil); then v = max(v, lo) if mode&1, v = min(v, hi) if mode&2;
// mode 4 is HardSigmoid with alpha lo and beta hi, mode 8 HardSwish (v
// times HardSigmoid(v) with lo = 1/6, hi = 0.5); x[i] = v.
// HardSigmoid's clamps are Go's `if y < 0 { y = 0 }; if y > 1 { y = 1 }`:
// MAXPS(0, y) and MINPS(1, y), which pass a NaN y through as Go does. max and min are the instruction sequences Go compiles its
// builtins to (min(a, b) = MINPS(MINPS(a, b), a) | MINPS(a, b), max(a, b)
// = -min(-a, -b)), so NaN payloads and signed zeros come out as in Go.
TEXT ·biasActRowAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ bias+16(FP), AX
	MOVQ res+24(FP), SI
	MOVQ mode+32(FP), DX
	VBROADCASTSS signbit<>(SB), Y6
	VBROADCASTSS lo+40(FP), Y7
	VXORPS Y6, Y7, Y7 // -lo
	VBROADCASTSS hi+44(FP), Y3
	VBROADCASTSS lo+40(FP), Y10
	VBROADCASTSS one<>(SB), Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y1, Y1, Y1
	TESTQ AX, AX
	JZ nobias
	VBROADCASTSS (AX), Y1
nobias:
	SHRQ $3, CX
	JZ done
loop:
	VMOVUPS (DI), Y0
	TESTQ AX, AX
	JZ skipbias
	VADDPS Y1, Y0, Y0
skipbias:
	TESTQ SI, SI
	JZ skipres
	VADDPS (SI), Y0, Y0
	ADDQ $32, SI
skipres:
	TESTQ $1, DX
	JZ skipmax
	VXORPS Y6, Y0, Y8 // -v
	VMINPS Y7, Y8, Y9 // t = MINPS(-v, -lo)
	VMINPS Y8, Y9, Y0 // MINPS(t, -v)
	VORPS Y9, Y0, Y0
	VXORPS Y6, Y0, Y0
skipmax:
	TESTQ $2, DX
	JZ skipmin
	VMINPS Y3, Y0, Y9 // t = MINPS(v, hi)
	VMINPS Y0, Y9, Y0 // MINPS(t, v)
	VORPS Y9, Y0, Y0
skipmin:
	TESTQ $12, DX
	JZ store
	VMULPS Y0, Y10, Y9 // alpha*v
	VADDPS Y3, Y9, Y9 // + beta
	VMAXPS Y9, Y12, Y9 // y < 0 -> 0
	VMINPS Y9, Y11, Y9 // y > 1 -> 1
	TESTQ $8, DX
	JZ hsig
	VMULPS Y9, Y0, Y0 // v * y
	JMP store
hsig:
	VMOVAPS Y9, Y0
store:
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET

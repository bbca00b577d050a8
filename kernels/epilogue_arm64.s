//go:build !purego

#include "textflag.h"

// func biasActRowNEON(x *float32, n int, bias, res *float32, mode int, lo, hi float32)
//
// For n a multiple of 4: v = x[i] (+ *bias if bias != nil) (+ res[i] if
// res != nil), then by mode: 0 none, 1 Relu max(v, 0), 2 Clip
// min(max(v, lo), hi), 3 HardSigmoid with alpha lo and beta hi, 4
// HardSwish (v times HardSigmoid(v) with lo = 1/6, hi = 0.5), 5 LeakyRelu
// with alpha lo; x[i] = v. 16 floats per iteration, then 4.
//
// Bit-identical to biasActRowGo as Go 1.26 compiles it on arm64: each
// operation is the vector form of the scalar instruction Go emits, with the
// operands in the same order (with two NaN operands the first one's payload
// wins): bias x+b, residual res+x (FADDS puts res first), Relu FMAX(v, 0),
// Clip FMIN(FMAX(v, lo), hi) (Go's max/min builtins are FMAXS/FMINS),
// HardSigmoid beta + v*alpha, HardSwish 0.5 + (1/6)*v then y*v (the
// constant-folded inlined hardSigmoid), LeakyRelu v*alpha. HardSigmoid's
// `if y < 0 { y = 0 }; if y > 1 { y = 1 }` are FCMGT masks then BIC / BIT,
// so a NaN y and -0 pass through unchanged as with Go's branches (FMAX
// would quiet a signalling NaN and turn -0 into +0).
//
// The vector FADD/FMUL/FMAX/FMIN/FCMGT/BIC/BIT are WORDs (the Go assembler
// lacks them), the instruction in a comment. Registers: values V0-V3,
// temporaries V4-V11, bias V20, lo V21, hi V22, zero V23, one V24.
TEXT ·biasActRowNEON(SB), NOSPLIT, $0-48
	MOVD x+0(FP), R0
	MOVD n+8(FP), R1
	MOVD bias+16(FP), R2
	MOVD res+24(FP), R3
	MOVD mode+32(FP), R4
	FMOVS lo+40(FP), F21
	VDUP V21.S[0], V21.S4
	FMOVS hi+44(FP), F22
	VDUP V22.S[0], V22.S4
	VEOR V23.B16, V23.B16, V23.B16
	MOVW $0x3f800000, R5
	VDUP R5, V24.S4
	CBZ R2, nobiasreg
	VLD1R (R2), [V20.S4]
nobiasreg:
loop16:
	CMP $16, R1
	BLT done16
	VLD1 (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	CBZ R2, nobias16
	WORD $0x4e34d400 // FADD V0.4S, V0.4S, V20.4S
	WORD $0x4e34d421 // FADD V1.4S, V1.4S, V20.4S
	WORD $0x4e34d442 // FADD V2.4S, V2.4S, V20.4S
	WORD $0x4e34d463 // FADD V3.4S, V3.4S, V20.4S
nobias16:
	CBZ R3, nores16
	VLD1.P 64(R3), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD $0x4e20d480 // FADD V0.4S, V4.4S, V0.4S
	WORD $0x4e21d4a1 // FADD V1.4S, V5.4S, V1.4S
	WORD $0x4e22d4c2 // FADD V2.4S, V6.4S, V2.4S
	WORD $0x4e23d4e3 // FADD V3.4S, V7.4S, V3.4S
nores16:
	CBZ R4, store16
	CMP $1, R4
	BEQ relu16
	CMP $2, R4
	BEQ clip16
	CMP $3, R4
	BEQ hsig16
	CMP $4, R4
	BEQ hswish16
	// mode 5: LeakyRelu, v < 0 ? v*alpha : v
	WORD $0x6ea0e6e4 // FCMGT V4.4S, V23.4S, V0.4S
	WORD $0x6e35dc08 // FMUL V8.4S, V0.4S, V21.4S
	WORD $0x6ea41d00 // BIT V0.16B, V8.16B, V4.16B
	WORD $0x6ea1e6e5 // FCMGT V5.4S, V23.4S, V1.4S
	WORD $0x6e35dc29 // FMUL V9.4S, V1.4S, V21.4S
	WORD $0x6ea51d21 // BIT V1.16B, V9.16B, V5.16B
	WORD $0x6ea2e6e6 // FCMGT V6.4S, V23.4S, V2.4S
	WORD $0x6e35dc4a // FMUL V10.4S, V2.4S, V21.4S
	WORD $0x6ea61d42 // BIT V2.16B, V10.16B, V6.16B
	WORD $0x6ea3e6e7 // FCMGT V7.4S, V23.4S, V3.4S
	WORD $0x6e35dc6b // FMUL V11.4S, V3.4S, V21.4S
	WORD $0x6ea71d63 // BIT V3.16B, V11.16B, V7.16B
	B store16
relu16:
	WORD $0x4e37f400 // FMAX V0.4S, V0.4S, V23.4S
	WORD $0x4e37f421 // FMAX V1.4S, V1.4S, V23.4S
	WORD $0x4e37f442 // FMAX V2.4S, V2.4S, V23.4S
	WORD $0x4e37f463 // FMAX V3.4S, V3.4S, V23.4S
	B store16
clip16:
	WORD $0x4e35f400 // FMAX V0.4S, V0.4S, V21.4S
	WORD $0x4eb6f400 // FMIN V0.4S, V0.4S, V22.4S
	WORD $0x4e35f421 // FMAX V1.4S, V1.4S, V21.4S
	WORD $0x4eb6f421 // FMIN V1.4S, V1.4S, V22.4S
	WORD $0x4e35f442 // FMAX V2.4S, V2.4S, V21.4S
	WORD $0x4eb6f442 // FMIN V2.4S, V2.4S, V22.4S
	WORD $0x4e35f463 // FMAX V3.4S, V3.4S, V21.4S
	WORD $0x4eb6f463 // FMIN V3.4S, V3.4S, V22.4S
	B store16
hsig16:
	WORD $0x6e35dc00 // FMUL V0.4S, V0.4S, V21.4S
	WORD $0x4e20d6c0 // FADD V0.4S, V22.4S, V0.4S
	WORD $0x6ea0e6e4 // FCMGT V4.4S, V23.4S, V0.4S
	WORD $0x4e641c00 // BIC V0.16B, V0.16B, V4.16B
	WORD $0x6eb8e404 // FCMGT V4.4S, V0.4S, V24.4S
	WORD $0x6ea41f00 // BIT V0.16B, V24.16B, V4.16B
	WORD $0x6e35dc21 // FMUL V1.4S, V1.4S, V21.4S
	WORD $0x4e21d6c1 // FADD V1.4S, V22.4S, V1.4S
	WORD $0x6ea1e6e5 // FCMGT V5.4S, V23.4S, V1.4S
	WORD $0x4e651c21 // BIC V1.16B, V1.16B, V5.16B
	WORD $0x6eb8e425 // FCMGT V5.4S, V1.4S, V24.4S
	WORD $0x6ea51f01 // BIT V1.16B, V24.16B, V5.16B
	WORD $0x6e35dc42 // FMUL V2.4S, V2.4S, V21.4S
	WORD $0x4e22d6c2 // FADD V2.4S, V22.4S, V2.4S
	WORD $0x6ea2e6e6 // FCMGT V6.4S, V23.4S, V2.4S
	WORD $0x4e661c42 // BIC V2.16B, V2.16B, V6.16B
	WORD $0x6eb8e446 // FCMGT V6.4S, V2.4S, V24.4S
	WORD $0x6ea61f02 // BIT V2.16B, V24.16B, V6.16B
	WORD $0x6e35dc63 // FMUL V3.4S, V3.4S, V21.4S
	WORD $0x4e23d6c3 // FADD V3.4S, V22.4S, V3.4S
	WORD $0x6ea3e6e7 // FCMGT V7.4S, V23.4S, V3.4S
	WORD $0x4e671c63 // BIC V3.16B, V3.16B, V7.16B
	WORD $0x6eb8e467 // FCMGT V7.4S, V3.4S, V24.4S
	WORD $0x6ea71f03 // BIT V3.16B, V24.16B, V7.16B
	B store16
hswish16:
	WORD $0x6e20dea8 // FMUL V8.4S, V21.4S, V0.4S
	WORD $0x4e28d6c8 // FADD V8.4S, V22.4S, V8.4S
	WORD $0x6ea8e6e4 // FCMGT V4.4S, V23.4S, V8.4S
	WORD $0x4e641d08 // BIC V8.16B, V8.16B, V4.16B
	WORD $0x6eb8e504 // FCMGT V4.4S, V8.4S, V24.4S
	WORD $0x6ea41f08 // BIT V8.16B, V24.16B, V4.16B
	WORD $0x6e20dd00 // FMUL V0.4S, V8.4S, V0.4S
	WORD $0x6e21dea9 // FMUL V9.4S, V21.4S, V1.4S
	WORD $0x4e29d6c9 // FADD V9.4S, V22.4S, V9.4S
	WORD $0x6ea9e6e5 // FCMGT V5.4S, V23.4S, V9.4S
	WORD $0x4e651d29 // BIC V9.16B, V9.16B, V5.16B
	WORD $0x6eb8e525 // FCMGT V5.4S, V9.4S, V24.4S
	WORD $0x6ea51f09 // BIT V9.16B, V24.16B, V5.16B
	WORD $0x6e21dd21 // FMUL V1.4S, V9.4S, V1.4S
	WORD $0x6e22deaa // FMUL V10.4S, V21.4S, V2.4S
	WORD $0x4e2ad6ca // FADD V10.4S, V22.4S, V10.4S
	WORD $0x6eaae6e6 // FCMGT V6.4S, V23.4S, V10.4S
	WORD $0x4e661d4a // BIC V10.16B, V10.16B, V6.16B
	WORD $0x6eb8e546 // FCMGT V6.4S, V10.4S, V24.4S
	WORD $0x6ea61f0a // BIT V10.16B, V24.16B, V6.16B
	WORD $0x6e22dd42 // FMUL V2.4S, V10.4S, V2.4S
	WORD $0x6e23deab // FMUL V11.4S, V21.4S, V3.4S
	WORD $0x4e2bd6cb // FADD V11.4S, V22.4S, V11.4S
	WORD $0x6eabe6e7 // FCMGT V7.4S, V23.4S, V11.4S
	WORD $0x4e671d6b // BIC V11.16B, V11.16B, V7.16B
	WORD $0x6eb8e567 // FCMGT V7.4S, V11.4S, V24.4S
	WORD $0x6ea71f0b // BIT V11.16B, V24.16B, V7.16B
	WORD $0x6e23dd63 // FMUL V3.4S, V11.4S, V3.4S
store16:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB $16, R1, R1
	B loop16
done16:
loop4:
	CMP $4, R1
	BLT done4
	VLD1 (R0), [V0.S4]
	CBZ R2, nobias4
	WORD $0x4e34d400 // FADD V0.4S, V0.4S, V20.4S
nobias4:
	CBZ R3, nores4
	VLD1.P 16(R3), [V4.S4]
	WORD $0x4e20d480 // FADD V0.4S, V4.4S, V0.4S
nores4:
	CBZ R4, store4
	CMP $1, R4
	BEQ relu4
	CMP $2, R4
	BEQ clip4
	CMP $3, R4
	BEQ hsig4
	CMP $4, R4
	BEQ hswish4
	// mode 5: LeakyRelu, v < 0 ? v*alpha : v
	WORD $0x6ea0e6e4 // FCMGT V4.4S, V23.4S, V0.4S
	WORD $0x6e35dc08 // FMUL V8.4S, V0.4S, V21.4S
	WORD $0x6ea41d00 // BIT V0.16B, V8.16B, V4.16B
	B store4
relu4:
	WORD $0x4e37f400 // FMAX V0.4S, V0.4S, V23.4S
	B store4
clip4:
	WORD $0x4e35f400 // FMAX V0.4S, V0.4S, V21.4S
	WORD $0x4eb6f400 // FMIN V0.4S, V0.4S, V22.4S
	B store4
hsig4:
	WORD $0x6e35dc00 // FMUL V0.4S, V0.4S, V21.4S
	WORD $0x4e20d6c0 // FADD V0.4S, V22.4S, V0.4S
	WORD $0x6ea0e6e4 // FCMGT V4.4S, V23.4S, V0.4S
	WORD $0x4e641c00 // BIC V0.16B, V0.16B, V4.16B
	WORD $0x6eb8e404 // FCMGT V4.4S, V0.4S, V24.4S
	WORD $0x6ea41f00 // BIT V0.16B, V24.16B, V4.16B
	B store4
hswish4:
	WORD $0x6e20dea8 // FMUL V8.4S, V21.4S, V0.4S
	WORD $0x4e28d6c8 // FADD V8.4S, V22.4S, V8.4S
	WORD $0x6ea8e6e4 // FCMGT V4.4S, V23.4S, V8.4S
	WORD $0x4e641d08 // BIC V8.16B, V8.16B, V4.16B
	WORD $0x6eb8e504 // FCMGT V4.4S, V8.4S, V24.4S
	WORD $0x6ea41f08 // BIT V8.16B, V24.16B, V4.16B
	WORD $0x6e20dd00 // FMUL V0.4S, V8.4S, V0.4S
store4:
	VST1.P [V0.S4], 16(R0)
	SUB $4, R1, R1
	B loop4
done4:
	RET

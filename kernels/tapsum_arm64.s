//go:build !purego

#include "textflag.h"

// TapSum kernel for arm64 ASIMD: out[i] = sum over t of w[t]*data[off[t]+i],
// a multiply then an add per tap (FMUL, FADD; no FMLA) with the operands
// in the order Go 1.26 compiles tapSumGo's acc += float32(w*x) to on
// arm64 (FMULS: w first; FADDS: acc first; with two NaNs the first
// operand's wins), from +0, so results match tapSumGo bit for bit. The
// vector FMUL/FADD are WORDs (Vd = Vn op Vm), the instruction in a comment.
// The wide loop keeps 8 vectors (32 outputs) in V0-V7 across all taps,
// products in V16-V23, w[t] broadcast in V24; then 4 outputs at a time.

// func tapsum_neon(n int, data *float32, off *int, w *float32, taps int, out *float32)
// n a multiple of 4, taps >= 1, offsets in floats.
TEXT ·tapsum_neon(SB), NOSPLIT, $0-48
	MOVD n+0(FP), R0
	MOVD data+8(FP), R1
	MOVD off+16(FP), R2
	MOVD w+24(FP), R3
	MOVD taps+32(FP), R4
	MOVD out+40(FP), R5
wide:
	CMP $32, R0
	BLT one
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	MOVD R2, R6
	MOVD R3, R7
	MOVD R4, R8
wide_tap:
	MOVD.P 8(R6), R9
	ADD R9<<2, R1, R10
	VLD1R.P 4(R7), [V24.S4]
	VLD1.P 64(R10), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1 (R10), [V20.S4, V21.S4, V22.S4, V23.S4]
	WORD $0x6e30df10 // FMUL V16.4S, V24.4S, V16.4S
	WORD $0x6e31df11 // FMUL V17.4S, V24.4S, V17.4S
	WORD $0x6e32df12 // FMUL V18.4S, V24.4S, V18.4S
	WORD $0x6e33df13 // FMUL V19.4S, V24.4S, V19.4S
	WORD $0x6e34df14 // FMUL V20.4S, V24.4S, V20.4S
	WORD $0x6e35df15 // FMUL V21.4S, V24.4S, V21.4S
	WORD $0x6e36df16 // FMUL V22.4S, V24.4S, V22.4S
	WORD $0x6e37df17 // FMUL V23.4S, V24.4S, V23.4S
	WORD $0x4e30d400 // FADD V0.4S, V0.4S, V16.4S
	WORD $0x4e31d421 // FADD V1.4S, V1.4S, V17.4S
	WORD $0x4e32d442 // FADD V2.4S, V2.4S, V18.4S
	WORD $0x4e33d463 // FADD V3.4S, V3.4S, V19.4S
	WORD $0x4e34d484 // FADD V4.4S, V4.4S, V20.4S
	WORD $0x4e35d4a5 // FADD V5.4S, V5.4S, V21.4S
	WORD $0x4e36d4c6 // FADD V6.4S, V6.4S, V22.4S
	WORD $0x4e37d4e7 // FADD V7.4S, V7.4S, V23.4S
	SUBS $1, R8, R8
	BNE wide_tap
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R5)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R5)
	ADD $128, R1, R1
	SUB $32, R0, R0
	B wide
one:
	CBZ R0, done
	VEOR V0.B16, V0.B16, V0.B16
	MOVD R2, R6
	MOVD R3, R7
	MOVD R4, R8
one_tap:
	MOVD.P 8(R6), R9
	ADD R9<<2, R1, R10
	VLD1R.P 4(R7), [V24.S4]
	VLD1 (R10), [V16.S4]
	WORD $0x6e30df10 // FMUL V16.4S, V24.4S, V16.4S
	WORD $0x4e30d400 // FADD V0.4S, V0.4S, V16.4S
	SUBS $1, R8, R8
	BNE one_tap
	VST1.P [V0.S4], 16(R5)
	ADD $16, R1, R1
	SUB $4, R0, R0
	B one
done:
	RET

//go:build !purego

#include "textflag.h"

// func copyRowsNEON(dst, src *float32, rows, n, dstStride, srcStride, step int)
//
// For each of rows rows (rows, n >= 1): dst[j] = src[j*step] for j < n
// (step 1 or 2), then dst += dstStride, src += srcStride (floats). Step 1
// copies 16, then 4 floats per iteration; step 2 de-interleaves with LD2
// (the even elements land in the first register), 8 then 4 outputs per
// iteration, only while the loaded pairs end at or before the row's last
// element read (src[(n-1)*2]): nothing past it is read. Tails go one float
// at a time (FMOVS, a bit copy: NaN payloads are kept).
TEXT ·copyRowsNEON(SB), NOSPLIT, $0-56
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD n+24(FP), R3
	MOVD dstStride+32(FP), R4
	LSL $2, R4, R4
	MOVD srcStride+40(FP), R5
	LSL $2, R5, R5
	MOVD step+48(FP), R6
	CMP $2, R6
	BEQ step2
row1:
	MOVD R0, R7
	MOVD R1, R8
	MOVD R3, R9
r1_16:
	CMP $16, R9
	BLT r1_4
	VLD1.P 64(R8), [V0.S4, V1.S4, V2.S4, V3.S4]
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R7)
	SUB $16, R9, R9
	B r1_16
r1_4:
	CMP $4, R9
	BLT r1_1
	VLD1.P 16(R8), [V0.S4]
	VST1.P [V0.S4], 16(R7)
	SUB $4, R9, R9
	B r1_4
r1_1:
	CBZ R9, r1_next
	FMOVS.P 4(R8), F0
	FMOVS.P F0, 4(R7)
	SUB $1, R9, R9
	B r1_1
r1_next:
	ADD R4, R0, R0
	ADD R5, R1, R1
	SUBS $1, R2, R2
	BNE row1
	RET

step2:
	MOVD R0, R7
	MOVD R1, R8
	MOVD R3, R9
r2_8:
	// 8 outputs read src[0..15]: needs 15 <= 2*(R9-1), R9 >= 9.
	CMP $9, R9
	BLT r2_4
	VLD2.P 32(R8), [V0.S4, V1.S4]
	VLD2.P 32(R8), [V2.S4, V3.S4]
	VMOV V2.B16, V1.B16
	VST1.P [V0.S4, V1.S4], 32(R7)
	SUB $8, R9, R9
	B r2_8
r2_4:
	// 4 outputs read src[0..7]: R9 >= 5.
	CMP $5, R9
	BLT r2_1
	VLD2.P 32(R8), [V0.S4, V1.S4]
	VST1.P [V0.S4], 16(R7)
	SUB $4, R9, R9
	B r2_4
r2_1:
	CBZ R9, r2_next
	FMOVS.P 8(R8), F0
	FMOVS.P F0, 4(R7)
	SUB $1, R9, R9
	B r2_1
r2_next:
	ADD R4, R0, R0
	ADD R5, R1, R1
	SUBS $1, R2, R2
	BNE step2
	RET

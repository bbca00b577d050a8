//go:build ignore

// Command gen_binary_arm64 writes kernels/binary_arm64.s: the NEON binary
// (XOR + popcount) GEMM microkernel and its register-only ceiling loop.
// Run from kernels/:
//
//	go run _generate/gen_binary_arm64.go > binary_arm64.s
//
// Microkernel contract (bkernel in binary.go): for i < rows (a multiple of
// 4) and j < 8,
//
//	c[i*ldc+j] = Σ_{p<k} popcount(A(i,p) XOR b[p*32+j])
//
// where A(i,p) is the word at byte address a[i/4] + (i%4)*lda + off[p] (one
// base per tile); 1 <= k <= 4095 (the halfword accumulators take at most
// 16 per k step).
//
// The Go assembler lacks UADALP, UADDLP, XTN and the vector SCVTF, FMUL,
// FADD, FMAX, FMIN, CMGT and FCMLT: they are WORDs with the instruction in
// a comment (encodings checked under qemu against the Go paths).
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&out, "%s:\n", l) }
func raw(s string)                 { out.WriteString(s + "\n") }

// uadalp: Vd.8H += pairwise sums of Vn.16B (unsigned, widening).
func uadalp(d, n int) {
	p("WORD $0x%08X // UADALP V%d.8H, V%d.16B", 0x6E206800|n<<5|d, d, n)
}

// uaddlp8: Vd.4S = pairwise sums of Vn.8H; uaddlp4: Vd.2D = of Vn.4S.
func uaddlp8(d, n int) { p("WORD $0x%08X // UADDLP V%d.4S, V%d.8H", 0x6E602800|n<<5|d, d, n) }
func uaddlp4(d, n int) { p("WORD $0x%08X // UADDLP V%d.2D, V%d.4S", 0x6EA02800|n<<5|d, d, n) }

// xtn: Vd.2S = the low halves of Vn.2D.
func xtn(d, n int) { p("WORD $0x%08X // XTN V%d.2S, V%d.2D", 0x0EA12800|n<<5|d, d, n) }

// Vector floating-point and compare instructions the Go assembler lacks,
// on .4S arrangements.
func scvtf(d, n int) { p("WORD $0x%08X // SCVTF V%d.4S, V%d.4S", 0x4E21D800|n<<5|d, d, n) }
func fmul(d, n, m int) {
	p("WORD $0x%08X // FMUL V%d.4S, V%d.4S, V%d.4S", 0x6E20DC00|m<<16|n<<5|d, d, n, m)
}
func fadd(d, n, m int) {
	p("WORD $0x%08X // FADD V%d.4S, V%d.4S, V%d.4S", 0x4E20D400|m<<16|n<<5|d, d, n, m)
}
func fmax(d, n, m int) {
	p("WORD $0x%08X // FMAX V%d.4S, V%d.4S, V%d.4S", 0x4E20F400|m<<16|n<<5|d, d, n, m)
}
func fmin(d, n, m int) {
	p("WORD $0x%08X // FMIN V%d.4S, V%d.4S, V%d.4S", 0x4EA0F400|m<<16|n<<5|d, d, n, m)
}
func cmgt(d, n, m int) {
	p("WORD $0x%08X // CMGT V%d.4S, V%d.4S, V%d.4S", 0x4EA03400|m<<16|n<<5|d, d, n, m)
}
func fcmltz(d, n int) { p("WORD $0x%08X // FCMLT V%d.4S, V%d.4S, #0.0", 0x4EA0E800|n<<5|d, d, n) }

// masksToBits turns four .4S lane masks (all ones or zero) in V0-V3
// (lanes 0-15 in order) into 16 bits in the low halfword of V0, using the
// bit weights 1, 2, ..., 128 (twice) in V29.
func masksToBits() {
	p("VUZP1 V1.H8, V0.H8, V4.H8")
	p("VUZP1 V3.H8, V2.H8, V5.H8")
	p("VUZP1 V5.B16, V4.B16, V0.B16")
	p("VAND V29.B16, V0.B16, V0.B16")
	p("VADDP V0.B16, V0.B16, V0.B16")
	p("VADDP V0.B16, V0.B16, V0.B16")
	p("VADDP V0.B16, V0.B16, V0.B16")
}

func bitWeights() {
	p("MOVD $0x8040201008040201, R17")
	p("VMOV R17, V29.D[0]")
	p("VMOV R17, V29.D[1]")
}

// outStages writes the float and bits output stages (see outStage in
// gen_binary_amd64.go for what they compute): 4 outputs per step (float),
// 16 (bits).
func outStages() {
	raw("")
	raw("// func boutF32_neon(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32)")
	raw("TEXT ·boutF32_neon(SB), NOSPLIT, $0-72")
	p("MOVD rows+0(FP), R0")
	p("MOVD pop+16(FP), R1")
	p("MOVD ldp+24(FP), R2")
	p("LSL $2, R2, R2")
	p("MOVD kc+32(FP), R3")
	p("MOVD mult+40(FP), R4")
	p("MOVD bias+48(FP), R5")
	p("FMOVS lo+56(FP), F30")
	p("FMOVS hi+60(FP), F31")
	p("VDUP V30.S[0], V30.S4")
	p("VDUP V31.S[0], V31.S4")
	p("MOVD dst+64(FP), R6")
	label("f32row")
	p("MOVD (R3), R7")
	p("MOVD (R6), R8")
	p("MOVD R1, R9")
	p("MOVD R4, R10")
	p("MOVD R5, R11")
	p("MOVD n+8(FP), R12")
	label("f32col")
	p("VLD1.P 16(R9), [V0.S4]")
	p("VLD1.P 16(R7), [V1.S4]")
	p("VLD1.P 16(R10), [V2.S4]")
	p("VLD1.P 16(R11), [V3.S4]")
	p("VSHL $1, V0.S4, V0.S4")
	p("VSUB V0.S4, V1.S4, V1.S4")
	scvtf(1, 1)
	fmul(1, 1, 2)
	fadd(1, 1, 3)
	fmax(1, 1, 30)
	fmin(1, 1, 31)
	p("VST1.P [V1.S4], 16(R8)")
	p("SUBS $4, R12, R12")
	p("BNE f32col")
	p("ADD R2, R1, R1")
	p("ADD $8, R3, R3")
	p("ADD $8, R6, R6")
	p("SUBS $1, R0, R0")
	p("BNE f32row")
	p("RET")

	raw("")
	raw("// func boutBits_neon(rows, n int, pop *int32, ldp int, kc **int32, sgn, thr *int32, dst **uint64)")
	raw("TEXT ·boutBits_neon(SB), NOSPLIT, $0-64")
	p("MOVD rows+0(FP), R0")
	p("MOVD pop+16(FP), R1")
	p("MOVD ldp+24(FP), R2")
	p("LSL $2, R2, R2")
	p("MOVD kc+32(FP), R3")
	p("MOVD sgn+40(FP), R4")
	p("MOVD thr+48(FP), R5")
	p("MOVD dst+56(FP), R6")
	bitWeights()
	label("bitsrow")
	p("MOVD (R3), R7")
	p("MOVD (R6), R8")
	p("MOVD R1, R9")
	p("MOVD R4, R10")
	p("MOVD R5, R11")
	p("MOVD n+8(FP), R12")
	label("bitscol")
	for v := 0; v < 4; v++ {
		p("VLD1.P 16(R9), [V16.S4]")
		p("VLD1.P 16(R7), [V17.S4]")
		p("VLD1.P 16(R10), [V18.S4]")
		p("VLD1.P 16(R11), [V19.S4]")
		p("VSHL $1, V16.S4, V16.S4")
		p("VSUB V16.S4, V17.S4, V17.S4")
		p("VEOR V18.B16, V17.B16, V17.B16")
		cmgt(v, 19, 17)
	}
	masksToBits()
	p("VMOV V0.H[0], R13")
	p("MOVH.P R13, 2(R8)")
	p("SUBS $16, R12, R12")
	p("BNE bitscol")
	p("ADD R2, R1, R1")
	p("ADD $8, R3, R3")
	p("ADD $8, R6, R6")
	p("SUBS $1, R0, R0")
	p("BNE bitsrow")
	p("RET")

	raw("")
	raw("// func packSigns_neon(dst *uint64, x *float32, words int)")
	raw("TEXT ·packSigns_neon(SB), NOSPLIT, $0-24")
	p("MOVD dst+0(FP), R0")
	p("MOVD x+8(FP), R1")
	p("MOVD words+16(FP), R2")
	bitWeights()
	label("pack")
	for q := 0; q < 4; q++ {
		p("VLD1.P 64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]")
		for v := 0; v < 4; v++ {
			fcmltz(v, 16+v)
		}
		masksToBits()
		p("VMOV V0.H[0], R13")
		p("MOVH.P R13, 2(R0)")
	}
	p("SUBS $1, R2, R2")
	p("BNE pack")
	p("RET")
}

func main() {
	raw("// Code generated by go run _generate/gen_binary_arm64.go; DO NOT EDIT.")
	raw("")
	raw("//go:build !purego")
	raw("")
	raw(`#include "textflag.h"`)
	raw("")
	raw("// bgemm_4x8_neon: a 4x8 tile, row i and columns 2j, 2j+1 in V(4i+j) as")
	raw("// eight halfword sums (UADALP of the CNT byte counts: no horizontal")
	raw("// reduction inside the k loop), B in V16-V19, the row words (LD1R) in")
	raw("// V20-V23, temporaries V24-V31. At the end UADDLP twice gives each")
	raw("// 64-bit lane's count, XTN narrows to int32.")
	raw("")
	raw("// func bgemm_4x8_neon(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int)")
	raw("TEXT ·bgemm_4x8_neon(SB), NOSPLIT, $0-64")
	p("MOVD rows+0(FP), R0")
	p("MOVD a+16(FP), R19")
	p("MOVD lda+24(FP), R3")
	p("MOVD off+32(FP), R4")
	p("MOVD b+40(FP), R16")
	p("MOVD c+48(FP), R9")
	p("MOVD ldc+56(FP), R10")
	p("LSL $2, R10, R10")
	label("tile")
	p("MOVD.P 8(R19), R2")
	for i := 0; i < 16; i++ {
		p("VEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	p("ADD R3, R2, R12")
	p("ADD R3, R12, R13")
	p("ADD R3, R13, R14")
	p("MOVD R4, R5")
	p("MOVD R16, R6")
	p("MOVD k+8(FP), R15")
	label("kloop")
	p("MOVD.P 8(R5), R7")
	p("VLD1 (R6), [V16.D2, V17.D2, V18.D2, V19.D2]")
	p("ADD $256, R6, R6")
	for i, rb := range []string{"R2", "R12", "R13", "R14"} {
		p("ADD R7, %s, R8", rb)
		p("VLD1R (R8), [V%d.D2]", 20+i)
	}
	t := 24
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			p("VEOR V%d.B16, V%d.B16, V%d.B16", 20+i, 16+j, t)
			p("VCNT V%d.B16, V%d.B16", t, t)
			uadalp(4*i+j, t)
			t++
			if t == 32 {
				t = 24
			}
		}
	}
	p("SUBS $1, R15, R15")
	p("BNE kloop")
	p("MOVD R9, R8")
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			a := 4*i + j
			uaddlp8(a, a)
			uaddlp4(a, a)
			xtn(a, a)
			p("FMOVD F%d, %d(R8)", a, 8*j)
		}
		if i < 3 {
			p("ADD R10, R8, R8")
		}
	}
	p("LSL $2, R10, R7")
	p("ADD R7, R9, R9")
	p("SUBS $4, R0, R0")
	p("BNE tile")
	p("RET")

	raw("")
	raw("// bpeak_neon runs n iterations of 16 register-only EOR + CNT + UADALP")
	raw("// triples (no EOR of a register with itself).")
	raw("")
	raw("// func bpeak_neon(n int)")
	raw("TEXT ·bpeak_neon(SB), NOSPLIT, $0-8")
	p("MOVD n+0(FP), R0")
	for i := 0; i < 16; i++ {
		p("VEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	label("peak")
	t = 24
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			p("VEOR V%d.B16, V%d.B16, V%d.B16", 20+i, 16+j, t)
			p("VCNT V%d.B16, V%d.B16", t, t)
			uadalp(4*i+j, t)
			t++
			if t == 32 {
				t = 24
			}
		}
	}
	p("SUBS $1, R0, R0")
	p("BNE peak")
	p("RET")
	outStages()
	os.Stdout.WriteString(out.String())
}

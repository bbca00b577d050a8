//go:build ignore

// Command gen_binary_amd64 writes kernels/binary_amd64.s: the binary
// (XOR + popcount) GEMM microkernels, their register-only ceiling loops
// and the vectorized float output stages. Run from kernels/:
//
//	go run _generate/gen_binary_amd64.go > binary_amd64.s
//
// Microkernel contract (bkernel in binary.go): for i < rows (a multiple of
// MR) and j < NR,
//
//	c[i*ldc+j] = Σ_{p<k} popcount(A(i,p) XOR b[p*32+j])
//
// where A(i,p) is the word at byte address a[i/MR] + (i%MR)*lda + off[p]
// (a holds one base per tile of MR rows, in an im2col buffer or the input
// image itself); k >= 1.
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

const gemmSig = "(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int)"

func header(name, sig string, frame string) {
	raw("")
	raw("// func " + name + sig)
	raw("TEXT ·" + name + "(SB), NOSPLIT, " + frame)
}

// avx512: 6 rows × 32 columns (4 zmm of 8 qword lanes) in Z0-Z23 (row i,
// vector j in Z(4i+j)), B in Z24-Z27, the broadcast A word in Z28,
// temporaries Z29-Z31. Per k step: 4 B loads and, per row, a broadcast
// load, then VPXORQ, VPOPCNTQ and VPADDQ into each of the 4 accumulators.
// Six row base registers leave one offset load per k step, and k is
// unrolled by two, so scalar work stays off the vector ports (measured:
// 77% of the ceiling with EVEX {1to8} XORs from memory and per-step row
// address arithmetic, 82% with register broadcasts, this form best). The
// first k step writes the accumulators (no zeroing, no adds) and the
// store narrows two accumulators per shuffle: with a conv's small k (9
// words for 64 channels 3x3) the per-tile work matters. R15 is not used,
// so the constant load is safe when dynamically linked.
func avx512() {
	const mr = 6
	name := "bgemm_6x32_avx512vpopcnt"
	header(name, gemmSig, "$0-64")
	p("MOVQ lda+24(FP), R8")
	p("MOVQ b+40(FP), R13")
	p("MOVQ ldc+56(FP), R12")
	p("SHLQ $2, R12")
	label("b512tile")
	p("MOVQ a+16(FP), R14")
	p("MOVQ (R14), R14")
	// Row bases: rows 0-5 in R14, SI, R9, R10, BX, R11.
	p("LEAQ (R14)(R8*1), SI")
	p("LEAQ (R14)(R8*2), R9")
	p("LEAQ (SI)(R8*2), R10")
	p("LEAQ (R14)(R8*4), BX")
	p("LEAQ (SI)(R8*4), R11")
	p("MOVQ off+32(FP), DX")
	p("MOVQ R13, DI")
	rowsRegs := []string{"R14", "SI", "R9", "R10", "BX", "R11"}
	// kstep does one k step; the first writes the popcounts into the
	// accumulators instead of adding them (no zeroing).
	kstep := func(offDisp, bDisp int, first bool) {
		p("MOVQ %d(DX), AX", offDisp)
		for j := 0; j < 4; j++ {
			p("VMOVDQU64 %d(DI), Z%d", bDisp+64*j, 24+j)
		}
		for i := 0; i < mr; i++ {
			p("VPBROADCASTQ (%s)(AX*1), Z28", rowsRegs[i])
			for j := 0; j < 4; j++ {
				t := 29 + (i*4+j)%3
				p("VPXORQ Z28, Z%d, Z%d", 24+j, t)
				if first {
					p("VPOPCNTQ Z%d, Z%d", t, 4*i+j)
					continue
				}
				p("VPOPCNTQ Z%d, Z%d", t, t)
				p("VPADDQ Z%d, Z%d, Z%d", t, 4*i+j, 4*i+j)
			}
		}
	}
	kstep(0, 0, true)
	p("ADDQ $8, DX")
	p("ADDQ $256, DI")
	// The other k-1 steps in pairs, then an odd one (k even).
	p("MOVQ k+8(FP), CX")
	p("DECQ CX")
	p("SHRQ $1, CX")
	p("JZ b512tail")
	label("b512k")
	kstep(0, 0, false)
	kstep(8, 256, false)
	p("ADDQ $16, DX")
	p("ADDQ $512, DI")
	p("DECQ CX")
	p("JNZ b512k")
	label("b512tail")
	p("TESTQ $1, k+8(FP)")
	p("JNZ b512store")
	kstep(0, 0, false)
	label("b512store")
	// Narrow each row's two pairs of qword accumulators into 16 dwords
	// each (VPERMT2D: one shuffle per 16 outputs, where VPMOVQD to memory
	// takes one per 8) and store them.
	p("VMOVDQU64 bevendw<>(SB), Z24")
	p("MOVQ c+48(FP), AX")
	for i := 0; i < mr; i++ {
		p("VPERMT2D Z%d, Z24, Z%d", 4*i+1, 4*i)
		p("VPERMT2D Z%d, Z24, Z%d", 4*i+3, 4*i+2)
		p("VMOVDQU32 Z%d, (AX)", 4*i)
		p("VMOVDQU32 Z%d, 64(AX)", 4*i+2)
		p("ADDQ R12, AX")
	}
	p("MOVQ AX, c+48(FP)")
	p("ADDQ $8, a+16(FP)")
	p("SUBQ $%d, rows+0(FP)", mr)
	p("JNZ b512tile")
	p("VZEROUPPER")
	p("RET")
	raw("")
	for q := 0; q < 8; q++ {
		raw(fmt.Sprintf("DATA bevendw<>+%d(SB)/8, $0x%08x%08x", 8*q, 4*q+2, 4*q))
	}
	raw("GLOBL bevendw<>(SB), RODATA|NOPTR, $64")

	// Ceiling: the same 24 XOR+VPOPCNTQ+VPADDQ per iteration, from
	// registers only. No XOR takes a register with itself: that is a
	// zeroing idiom, which the renamer drops without executing it (an
	// earlier version did so for a third of its XORs and read 12% high).
	header("bpeak_avx512vpopcnt", "(n int)", "$0-8")
	p("MOVQ n+0(FP), CX")
	for i := 0; i < 24; i++ {
		p("VPXORQ Z%d, Z%d, Z%d", i, i, i)
	}
	label("bpeak512")
	for i := 0; i < mr; i++ {
		for j := 0; j < 4; j++ {
			t := 28 + j
			p("VPXORQ Z%d, Z%d, Z%d", 24+(j+1+i%3)%4, 24+j, t)
			p("VPOPCNTQ Z%d, Z%d", t, t)
			p("VPADDQ Z%d, Z%d, Z%d", t, 4*i+j, 4*i+j)
		}
	}
	p("DECQ CX")
	p("JNZ bpeak512")
	p("VZEROUPPER")
	p("RET")
}

// popcntStep is the AVX2 nibble-lookup popcount of x (Y14, clobbered)
// added bytewise into acc, with Y11 = 0x0f bytes, Y12 = the lookup table.
func popcntStep(acc int) {
	p("VPAND Y11, Y14, Y15")
	p("VPSRLW $4, Y14, Y14")
	p("VPAND Y11, Y14, Y14")
	p("VPSHUFB Y15, Y12, Y15")
	p("VPSHUFB Y14, Y12, Y14")
	p("VPADDB Y15, Y%d, Y%d", acc, acc)
	p("VPADDB Y14, Y%d, Y%d", acc, acc)
}

// avx2: 2 rows × 8 columns (2 ymm of 4 qword lanes). Byte counts
// accumulate in Y0-Y3 (row i, vector j in Y(2i+j)) for at most 30 k steps
// (8 per byte per step: 240 < 256; k unrolled by two), then VPSADBW folds
// them into the qword sums Y4-Y7. B in Y8-Y9, the broadcast A word in Y10, Y13 = 0.
func avx2() {
	const mr = 2
	header("bgemm_2x8_avx2", gemmSig, "$0-64")
	p("MOVQ lda+24(FP), R8")
	p("MOVQ b+40(FP), R13")
	p("MOVQ c+48(FP), DX")
	p("MOVQ ldc+56(FP), R12")
	p("SHLQ $2, R12")
	p("VMOVDQU bnibble<>(SB), Y11")
	p("VMOVDQU bpoplut<>(SB), Y12")
	p("VPXOR Y13, Y13, Y13")
	label("b2tile")
	for i := 4; i < 8; i++ {
		p("VPXOR Y%d, Y%d, Y%d", i, i, i)
	}
	p("MOVQ a+16(FP), R14")
	p("MOVQ (R14), R14")
	p("LEAQ (R14)(R8*1), R9")
	p("MOVQ off+32(FP), R10")
	p("MOVQ R13, DI")
	p("MOVQ k+8(FP), CX")
	label("b2chunk")
	p("MOVQ CX, AX")
	p("CMPQ AX, $30")
	p("JLE b2n")
	p("MOVQ $30, AX")
	label("b2n")
	p("SUBQ AX, CX")
	for i := 0; i < 4; i++ {
		p("VPXOR Y%d, Y%d, Y%d", i, i, i)
	}
	kstep := func(offDisp, bDisp int) {
		p("MOVQ %d(R10), BX", offDisp)
		p("VMOVDQU %d(DI), Y8", bDisp)
		p("VMOVDQU %d(DI), Y9", bDisp+32)
		for i, a := range []string{"(R14)(BX*1)", "(R9)(BX*1)"} {
			p("VPBROADCASTQ %s, Y10", a)
			for j := 0; j < 2; j++ {
				p("VPXOR Y%d, Y10, Y14", 8+j)
				popcntStep(2*i + j)
			}
		}
	}
	// k in pairs, then an odd step.
	p("MOVQ AX, R11")
	p("SHRQ $1, R11")
	p("JZ b2odd")
	label("b2k")
	kstep(0, 0)
	kstep(8, 256)
	p("ADDQ $16, R10")
	p("ADDQ $512, DI")
	p("DECQ R11")
	p("JNZ b2k")
	label("b2odd")
	p("TESTQ $1, AX")
	p("JZ b2fold")
	kstep(0, 0)
	p("ADDQ $8, R10")
	p("ADDQ $256, DI")
	label("b2fold")
	for i := 0; i < 4; i++ {
		p("VPSADBW Y13, Y%d, Y%d", i, i)
		p("VPADDQ Y%d, Y%d, Y%d", i, 4+i, 4+i)
	}
	p("TESTQ CX, CX")
	p("JNZ b2chunk")
	p("VMOVDQU bpermq2d<>(SB), Y14")
	p("MOVQ DX, BX")
	for i := 0; i < mr; i++ {
		for j := 0; j < 2; j++ {
			p("VPERMD Y%d, Y14, Y15", 4+2*i+j)
			p("VMOVDQU X15, %d(BX)", 16*j)
		}
		if i < mr-1 {
			p("ADDQ R12, BX")
		}
	}
	p("ADDQ $8, a+16(FP)")
	p("LEAQ (DX)(R12*2), DX")
	p("SUBQ $%d, rows+0(FP)", mr)
	p("JNZ b2tile")
	p("VZEROUPPER")
	p("RET")

	// Ceiling: 8 independent XOR + nibble-lookup popcount + byte adds per
	// iteration, registers only.
	header("bpeak_avx2", "(n int)", "$0-8")
	p("MOVQ n+0(FP), CX")
	p("VMOVDQU bnibble<>(SB), Y11")
	p("VMOVDQU bpoplut<>(SB), Y12")
	for i := 0; i < 8; i++ {
		p("VPXOR Y%d, Y%d, Y%d", i, i, i)
	}
	label("bpeak2")
	for i := 0; i < 8; i++ {
		p("VPXOR Y%d, Y%d, Y14", 8+i%2, 9-i%2)
		popcntStep(i)
	}
	p("DECQ CX")
	p("JNZ bpeak2")
	p("VZEROUPPER")
	p("RET")

	raw("")
	raw("DATA bnibble<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f")
	raw("DATA bnibble<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f")
	raw("DATA bnibble<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f")
	raw("DATA bnibble<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f")
	raw("GLOBL bnibble<>(SB), RODATA|NOPTR, $32")
	raw("DATA bpoplut<>+0(SB)/8, $0x0302020102010100")
	raw("DATA bpoplut<>+8(SB)/8, $0x0403030203020201")
	raw("DATA bpoplut<>+16(SB)/8, $0x0302020102010100")
	raw("DATA bpoplut<>+24(SB)/8, $0x0403030203020201")
	raw("GLOBL bpoplut<>(SB), RODATA|NOPTR, $32")
	raw("DATA bpermq2d<>+0(SB)/8, $0x0000000200000000")
	raw("DATA bpermq2d<>+8(SB)/8, $0x0000000600000004")
	raw("DATA bpermq2d<>+16(SB)/8, $0")
	raw("DATA bpermq2d<>+24(SB)/8, $0")
	raw("GLOBL bpermq2d<>(SB), RODATA|NOPTR, $32")
}

// scalar: 1 row × 8 columns with POPCNTQ; accumulators R8-R14 and BX,
// the A word in DX, the offset pointer in R15 (no global data is
// accessed, so R15 is free even when dynamically linked). rows and c live
// in the argument slots.
func scalar() {
	header("bgemm_1x8_popcnt", gemmSig, "$0-64")
	accs := []string{"R8", "R9", "R10", "R11", "R12", "R13", "R14", "BX"}
	label("bptile")
	p("MOVQ a+16(FP), SI")
	p("MOVQ (SI), SI")
	for _, r := range accs {
		p("XORQ %s, %s", r, r)
	}
	p("MOVQ off+32(FP), R15")
	p("MOVQ b+40(FP), DI")
	p("MOVQ k+8(FP), CX")
	label("bpk")
	p("MOVQ (R15), DX")
	p("MOVQ (SI)(DX*1), DX")
	for j, r := range accs {
		p("MOVQ DX, AX")
		p("XORQ %d(DI), AX", 8*j)
		p("POPCNTQ AX, AX")
		p("ADDQ AX, %s", r)
	}
	p("ADDQ $8, R15")
	p("ADDQ $256, DI")
	p("DECQ CX")
	p("JNZ bpk")
	p("MOVQ c+48(FP), AX")
	for j, r := range accs {
		p("MOVL %s, %d(AX)", r, 4*j)
	}
	p("MOVQ ldc+56(FP), DX")
	p("LEAQ (AX)(DX*4), AX")
	p("MOVQ AX, c+48(FP)")
	p("ADDQ $8, a+16(FP)")
	p("DECQ rows+0(FP)")
	p("JNZ bptile")
	p("RET")

	header("bpeak_popcnt", "(n int)", "$0-8")
	p("MOVQ n+0(FP), CX")
	p("MOVQ $0x5555aaaa3333cccc, SI")
	p("MOVQ $0x0f0f1e1e2d2d3c3c, DI")
	for _, r := range accs {
		p("XORQ %s, %s", r, r)
	}
	label("bpeakp")
	for _, r := range accs {
		p("MOVQ SI, AX")
		p("XORQ DI, AX")
		p("POPCNTQ AX, AX")
		p("ADDQ AX, %s", r)
	}
	p("DECQ CX")
	p("JNZ bpeakp")
	p("RET")
}

// Output stages, for r < rows and j < n (n a multiple of the vector
// width w), from d = kc[r][j] - 2*pop[r*ldp+j]:
//
//	F32:  dst[r][j] = min(max(float32(float32(d)*mult[j]) + bias[j], lo), hi)
//	I8:   the same (lo, hi already narrowed to [-128, 127]), rounded half
//	      to even (VCVTPS2DQ under the default MXCSR) to int8
//	Bits: bit j of row r's words = thr[j] > (d XOR sgn[j]), written w bits
//	      at a time (sgn is 0 or -1: a negative multiplier flips the test)
const (
	stageF32        = iota
	stageF32NoClamp // stageF32 without the clamp (lo = -Inf, hi = +Inf)
	stageI8
	stageBits
)

func outStage(name, reg string, w, mode int) {
	l := name[len(name)-6:]
	if mode == stageBits {
		header(name, "(rows, n int, pop *int32, ldp int, kc **int32, sgn, thr *int32, dst **uint64)", "$0-64")
	} else {
		dt := "float32"
		if mode == stageI8 {
			dt = "int8"
		}
		header(name, "(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **"+dt+")", "$0-72")
	}
	p("MOVQ rows+0(FP), R11")
	p("MOVQ pop+16(FP), SI")
	p("MOVQ ldp+24(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ kc+32(FP), R9")
	p("MOVQ %s+40(FP), R12", map[bool]string{true: "sgn", false: "mult"}[mode == stageBits])
	p("MOVQ %s+48(FP), R13", map[bool]string{true: "thr", false: "bias"}[mode == stageBits])
	if mode == stageBits {
		p("MOVQ dst+56(FP), R10")
	} else {
		p("VBROADCASTSS lo+56(FP), %s2", reg)
		p("VBROADCASTSS hi+60(FP), %s3", reg)
		p("MOVQ dst+64(FP), R10")
	}
	label("o" + l + "row")
	p("MOVQ (R9), DX")
	p("MOVQ (R10), DI")
	p("XORQ AX, AX")
	p("XORQ BX, BX")
	p("MOVQ n+8(FP), CX")
	label("o" + l + "col")
	mov := "VMOVDQU"
	if reg == "Z" {
		mov = "VMOVDQU32"
	}
	p("%s (SI)(AX*4), %s0", mov, reg)
	p("VPSLLD $1, %s0, %s0", reg, reg)
	p("%s (DX)(AX*4), %s1", mov, reg)
	p("VPSUBD %s0, %s1, %s1", reg, reg, reg)
	switch mode {
	case stageF32, stageF32NoClamp, stageI8:
		p("VCVTDQ2PS %s1, %s1", reg, reg)
		p("VMULPS (R12)(AX*4), %s1, %s1", reg, reg)
		p("VADDPS (R13)(AX*4), %s1, %s1", reg, reg)
		if mode != stageF32NoClamp {
			p("VMAXPS %s2, %s1, %s1", reg, reg, reg)
			p("VMINPS %s3, %s1, %s1", reg, reg, reg)
		}
		if mode != stageI8 {
			p("VMOVUPS %s1, (DI)(AX*4)", reg)
			break
		}
		p("VCVTPS2DQ %s1, %s1", reg, reg)
		if reg == "Z" {
			p("VPMOVSDB Z1, (DI)(AX*1)")
		} else {
			p("VPACKSSDW Y1, Y1, Y1")
			p("VPACKSSWB Y1, Y1, Y1")
			p("VEXTRACTI128 $1, Y1, X0")
			p("VPUNPCKLDQ X0, X1, X1")
			p("VMOVQ X1, (DI)(AX*1)")
		}
	case stageBits:
		p("%s (R12)(AX*4), %s0", mov, reg)
		p("%s %s0, %s1, %s1", map[bool]string{true: "VPXORD", false: "VPXOR"}[reg == "Z"], reg, reg, reg)
		if reg == "Z" {
			p("VMOVDQU32 (R13)(AX*4), Z0")
			p("VPCMPGTD Z1, Z0, K1")
			p("KMOVW K1, (DI)(BX*2)")
		} else {
			p("VMOVDQU (R13)(AX*4), Y0")
			p("VPCMPGTD Y1, Y0, Y0")
			p("VMOVMSKPS Y0, R14")
			p("MOVB R14, (DI)(BX*1)")
		}
		p("INCQ BX")
	}
	p("ADDQ $%d, AX", w)
	p("SUBQ $%d, CX", w)
	p("JNZ o" + l + "col")
	p("ADDQ R8, SI")
	p("ADDQ $8, R9")
	p("ADDQ $8, R10")
	p("DECQ R11")
	p("JNZ o" + l + "row")
	p("VZEROUPPER")
	p("RET")
}

// Sign packing: words×64 floats at x to words words at dst, bit i of a
// word set when float i < 0 (GT_OQ against zero: NaN and -0 give 0).
func packSigns() {
	header("packSigns_avx512", "(dst *uint64, x *float32, words int)", "$0-24")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ words+16(FP), CX")
	p("VPXORD Z0, Z0, Z0")
	label("ps512")
	for i := 0; i < 4; i++ {
		p("VCMPPS $0x1e, %d(SI), Z0, K%d", 64*i, i+1)
	}
	for i := 0; i < 4; i++ {
		p("KMOVW K%d, %d(DI)", i+1, 2*i)
	}
	p("ADDQ $256, SI")
	p("ADDQ $8, DI")
	p("DECQ CX")
	p("JNZ ps512")
	p("VZEROUPPER")
	p("RET")

	header("packSigns_avx2", "(dst *uint64, x *float32, words int)", "$0-24")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ words+16(FP), CX")
	p("VXORPS Y0, Y0, Y0")
	label("ps2")
	for i := 0; i < 8; i++ {
		p("VCMPPS $0x1e, %d(SI), Y0, Y%d", 32*i, 1+i%4)
		p("VMOVMSKPS Y%d, AX", 1+i%4)
		p("MOVB AX, %d(DI)", i)
	}
	p("ADDQ $256, SI")
	p("ADDQ $8, DI")
	p("DECQ CX")
	p("JNZ ps2")
	p("VZEROUPPER")
	p("RET")
}

func main() {
	raw("// Code generated by go run _generate/gen_binary_amd64.go; DO NOT EDIT.")
	raw("")
	raw("//go:build !purego")
	raw("")
	raw(`#include "textflag.h"`)
	avx512()
	avx2()
	scalar()
	outStage("boutF32_avx512", "Z", 16, stageF32)
	outStage("boutF32_avx2", "Y", 8, stageF32)
	outStage("boutF32nc_avx512", "Z", 16, stageF32NoClamp)
	outStage("boutF32nc_avx2", "Y", 8, stageF32NoClamp)
	outStage("boutI8_avx512", "Z", 16, stageI8)
	outStage("boutI8_avx2", "Y", 8, stageI8)
	outStage("boutBits_avx512", "Z", 16, stageBits)
	outStage("boutBits_avx2", "Y", 8, stageBits)
	packSigns()
	os.Stdout.WriteString(out.String())
}

//go:build ignore

// Command gen_qgemm_arm64 writes kernels/qgemm_arm64.s: the arm64 INT8
// GEMM microkernels and their register-only ceiling loops, and the NEON
// helpers of the INT8 paths (depthwise row, output stages, A packing).
// Run from kernels/:
//
//	go run _generate/gen_qgemm_arm64.go > qgemm_arm64.s
//
// Both paths take signedA panels (see qkernel in qgemm.go): A packed as
// int8 (a-128), weights int8, in groups of 4 bytes per row / column:
//
//	a[g*MR*4 + i*4 + t]   (s8)
//	b[g*NR*4 + j*4 + t]   (s8)
//	acc[i][j] = start[i][j] + Σ_g Σ_t a·b        (exact int32, wrapping)
//
// where start is c's current tile (row stride ldc int32) when load != 0,
// else init (NR int32, the same for every row); the tile is stored to c.
//
//   - neondot (ARMv8.2 dot product): SDOT Vd.4S, Vn.16B, Vm.4B[i], the
//     weights of 4 columns in Vn, row i's 4 bytes of A picked by element:
//     one instruction per 4 columns of a row per group, no broadcast.
//   - neon (baseline ASIMD): row i's 4 bytes broadcast (DUP Vd.4S,
//     Vn.S[i]), SMULL/SMULL2 s8×s8 into int16 (one product each: exact,
//     |a·w| <= 2^14), SADALP adding the pairs into int32. The
//     accumulators hold two partial sums per column (k0+k1, k2+k3), added
//     by ADDP at the end. SMLAL would add two products in int16, which
//     overflows for (-128)·(-128) twice: not exact, not used.
//
// The Go assembler has none of SDOT, SMULL(2), SADALP, ADDP (vector, in
// the form used), DUP (element), MLA and most vector float, compare and
// narrowing instructions: they are WORDs with the instruction in a
// comment, encoded by the functions below. Every distinct WORD was
// checked against llvm-mc's encoding of its comment:
//
//	grep -o 'WORD .*' qgemm_arm64.s | sort -u | sed 's|.*// ||' |
//		llvm-mc -triple=aarch64 -mattr=+dotprod -show-encoding
//
// and the tests compare every kernel with the generic path under qemu.
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// sdotElem is SDOT Vd.4S, Vn.16B, Vm.4B[i].
func sdotElem(d, n, m, i int) {
	w := 0x4F80E000 | (i&1)<<21 | m<<16 | (i>>1)<<11 | n<<5 | d
	p("\tWORD $0x%08x // SDOT V%d.4S, V%d.16B, V%d.4B[%d]", w, d, n, m, i)
}

// sdot is SDOT Vd.4S, Vn.16B, Vm.16B.
func sdot(d, n, m int) {
	w := 0x4E809400 | m<<16 | n<<5 | d
	p("\tWORD $0x%08x // SDOT V%d.4S, V%d.16B, V%d.16B", w, d, n, m)
}

// smull is SMULL Vd.8H, Vn.8B, Vm.8B, or SMULL2 Vd.8H, Vn.16B, Vm.16B
// (the upper halves) when hi.
func smull(d, n, m int, hi bool) {
	w := 0x0E20C000 | m<<16 | n<<5 | d
	if hi {
		p("\tWORD $0x%08x // SMULL2 V%d.8H, V%d.16B, V%d.16B", w|1<<30, d, n, m)
		return
	}
	p("\tWORD $0x%08x // SMULL V%d.8H, V%d.8B, V%d.8B", w, d, n, m)
}

// sadalp is SADALP Vd.4S, Vn.8H.
func sadalp(d, n int) {
	p("\tWORD $0x%08x // SADALP V%d.4S, V%d.8H", 0x4E606800|n<<5|d, d, n)
}

// addp is ADDP Vd.4S, Vn.4S, Vm.4S.
func addp(d, n, m int) {
	p("\tWORD $0x%08x // ADDP V%d.4S, V%d.4S, V%d.4S", 0x4EA0BC00|m<<16|n<<5|d, d, n, m)
}

// dupS is DUP Vd.4S, Vn.S[i].
func dupS(d, n, i int) {
	imm5 := i<<3 | 4
	p("\tWORD $0x%08x // DUP V%d.4S, V%d.S[%d]", 0x4E000400|imm5<<16|n<<5|d, d, n, i)
}

// regs lists count consecutive vector registers from first as "V8.S4, V9.S4".
func regs(first, count int) string {
	var s []string
	for r := first; r < first+count; r++ {
		s = append(s, fmt.Sprintf("V%d.S4", r))
	}
	return strings.Join(s, ", ")
}

const args = `	MOVD kg+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD c+24(FP), R3
	MOVD ldc+32(FP), R4
	LSL $2, R4, R4
	MOVD init+40(FP), R5
	MOVD load+48(FP), R6
	// R5 walks the starting tile: init (stride 0) or c (stride ldc).
	MOVD ZR, R9
	CBZ R6, startset
	MOVD R3, R5
	MOVD R4, R9
startset:`

// neondot: an mr×nr tile (mr, nr multiples of 4) of accumulators
// V(base + i*nr/4 + j) (row i, columns 4j..4j+3; base = 32 - mr*nr/4),
// started from the starting tile; one SDOT by element per accumulator and
// group. A is in V0.. (4 rows per register), the weights in two sets,
// W0 = V(mr/4).. and W1 right after, software-pipelined for in-order
// cores (Cortex-A55): the next group's weights load into the other set a
// whole group ahead, and each A register is reloaded for the next group
// as soon as its 4 rows are done; nothing is read past the kg groups.
func neondot(mr, nr int) {
	ar, wr := mr/4, nr/4
	base := 32 - mr*wr
	acc := func(i, j int) int { return base + i*wr + j }
	w0, w1 := ar, ar+wr
	if w1+wr > base {
		panic("neondot: too many registers")
	}
	name := fmt.Sprintf("qgemm_%dx%dc4_neondot", mr, nr)
	// group: the SDOTs of one group with weights in set w; reloadA
	// loads the next group's A register by register behind them.
	group := func(w int, reloadA bool) {
		for i := 0; i < mr; i++ {
			for j := 0; j < wr; j++ {
				sdotElem(acc(i, j), w+j, i/4, i%4)
			}
			if reloadA && i%4 == 3 {
				p("\tVLD1.P 16(R1), [V%d.S4]", i/4)
			}
		}
	}
	loadW := func(w int) { p("\tVLD1.P %d(R2), [%s]", nr*4, regs(w, wr)) }
	p("// func %s(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("%s", args)
	for i := 0; i < mr; i++ {
		p("\tVLD1 (R5), [%s]", regs(acc(i, 0), wr))
		if i < mr-1 {
			p("\tADD R9, R5, R5")
		}
	}
	p("\tCBZ R0, store")
	p("\t// The first group's operands; R0 = groups after the loaded one.")
	p("\tVLD1.P %d(R1), [%s]", mr*4, regs(0, ar))
	loadW(w0)
	p("\tSUB $1, R0, R0")
	p("\tCMP $2, R0")
	p("\tBLT tail")
	p("pairs:")
	loadW(w1)
	group(w0, true)
	loadW(w0)
	group(w1, true)
	p("\tSUB $2, R0, R0")
	p("\tCMP $2, R0")
	p("\tBGE pairs")
	p("tail:")
	p("\tCBZ R0, last")
	loadW(w1)
	group(w0, true)
	group(w1, false)
	p("\tB store")
	p("last:")
	group(w0, false)
	p("store:")
	p("\tMOVD R3, R7")
	for i := 0; i < mr; i++ {
		p("\tVST1 [%s], (R7)", regs(acc(i, 0), wr))
		if i < mr-1 {
			p("\tADD R4, R7, R7")
		}
	}
	p("\tRET")
	p("")
}

// neon: a 4×nr tile (nr a multiple of 4) in 2·nr accumulators: row i,
// weight register j (columns 4j..4j+3), half h (columns 4j+2h, 4j+2h+1,
// two partial sums each) in V(8 + i*nr/2 + 2j + h), from zero. Per
// group: A in V0, the weights in V1.., row i broadcast into V4,
// products in V5-V7. At the end ADDP folds each pair of partial sums
// and the starting tile is added.
func neon(nr int) {
	const mr = 4
	wr := nr / 4
	acc := func(i, j, h int) int { return 8 + i*nr/2 + 2*j + h }
	if 1+wr > 4 || acc(mr-1, wr-1, 1) > 31 {
		panic("neon: too many registers")
	}
	name := fmt.Sprintf("qgemm_%dx%dc4_neon", mr, nr)
	p("// func %s(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("%s", args)
	for r := 8; r <= acc(mr-1, wr-1, 1); r++ {
		p("\tVEOR V%d.B16, V%d.B16, V%d.B16", r, r, r)
	}
	p("\tCBZ R0, store")
	p("loop:")
	p("\tVLD1.P 16(R1), [V0.S4]")
	p("\tVLD1.P %d(R2), [%s]", nr*4, regs(1, wr))
	// Products rotate through V5-V7, each SADALP two SMULLs behind its
	// own, so an in-order core need not wait on the multiply.
	type prod struct{ acc, tmp int }
	var pending []prod
	n := 0
	for i := 0; i < mr; i++ {
		dupS(4, 0, i)
		for j := 0; j < wr; j++ {
			for h := 0; h < 2; h++ {
				tmp := 5 + n%3
				n++
				smull(tmp, 1+j, 4, h == 1)
				pending = append(pending, prod{acc(i, j, h), tmp})
				if len(pending) == 3 {
					sadalp(pending[0].acc, pending[0].tmp)
					pending = pending[1:]
				}
			}
		}
	}
	for _, q := range pending {
		sadalp(q.acc, q.tmp)
	}
	p("\tSUBS $1, R0, R0")
	p("\tBNE loop")
	p("store:")
	p("\tMOVD R3, R7")
	// Row i: start in V4.., the folded sums in V1.. (free now).
	for i := 0; i < mr; i++ {
		p("\tVLD1 (R5), [%s]", regs(4, wr))
		if i < mr-1 {
			p("\tADD R9, R5, R5")
		}
		for j := 0; j < wr; j++ {
			addp(1+j, acc(i, j, 0), acc(i, j, 1))
		}
		for j := 0; j < wr; j++ {
			p("\tVADD V%d.S4, V%d.S4, V%d.S4", 1+j, 4+j, 4+j)
		}
		p("\tVST1 [%s], (R7)", regs(4, wr))
		if i < mr-1 {
			p("\tADD R4, R7, R7")
		}
	}
	p("\tRET")
	p("")
}

// mla is MLA Vd.4S, Vn.4S, Vm.4S.
func mla(d, n, m int) {
	p("\tWORD $0x%08x // MLA V%d.4S, V%d.4S, V%d.4S", 0x4EA09400|m<<16|n<<5|d, d, n, m)
}

// dwRow is qdwRow (see qdepthwise.go) with ASIMD for all C channels:
// for each of the npix pixels, channels in blocks of 16 (four
// accumulators), then 4, then one at a time; per tap the uint8 inputs
// (at ptrs[t] + p·strides[t]) are widened to int32 (UXTL twice) and
// multiplied by the int32 weights (MLA; |x·w| < 2^16, exact). ptrs is
// left alone.
func dwRow() {
	tap := func(label string) {
		p("%s:", label)
		p("\tMOVD.P 8(R10), R13")
		p("\tMOVD.P 8(R20), R23")
		p("\tMADD R23, R13, R17, R13")
	}
	p(`// func qdwRow_neon(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)
// ntaps, npix >= 1. R17 is the pixel, R5 its acc row, R7 the first
// channel of the block; R10 and R20 walk the tap pointers and strides,
// R11 the block's weights tap by tap (C int32 apart).
TEXT ·qdwRow_neon(SB), NOSPLIT, $0-64
	MOVD ptrs+0(FP), R0
	MOVD strides+8(FP), R19
	MOVD ntaps+16(FP), R1
	MOVD npix+24(FP), R16
	MOVD w+32(FP), R2
	MOVD c+40(FP), R3
	MOVD init+48(FP), R4
	MOVD acc+56(FP), R5
	LSL $2, R3, R6
	MOVD ZR, R17
pixel:
	MOVD ZR, R7
block16:
	SUB R7, R3, R8
	CMP $16, R8
	BLT block4
	ADD R7<<2, R4, R9
	VLD1 (R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	MOVD R0, R10
	MOVD R19, R20
	ADD R7<<2, R2, R11
	MOVD R1, R12`)
	tap("tap16")
	p(`	ADD R7, R13, R13
	VLD1 (R13), [V4.B16]
	VLD1 (R11), [V16.S4, V17.S4, V18.S4, V19.S4]
	ADD R6, R11, R11
	VUXTL V4.B8, V5.H8
	VUXTL2 V4.B16, V6.H8
	VUXTL V5.H4, V20.S4
	VUXTL2 V5.H8, V21.S4
	VUXTL V6.H4, V22.S4
	VUXTL2 V6.H8, V23.S4`)
	for q := 0; q < 4; q++ {
		mla(q, 20+q, 16+q)
	}
	p(`	SUBS $1, R12, R12
	BNE tap16
	ADD R7<<2, R5, R9
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R9)
	ADD $16, R7, R7
	B block16
block4:
	CMP $4, R8
	BLT tail
	ADD R7<<2, R4, R9
	VLD1 (R9), [V0.S4]
	MOVD R0, R10
	MOVD R19, R20
	ADD R7<<2, R2, R11
	MOVD R1, R12`)
	tap("tap4")
	p(`	ADD R7, R13, R13
	FMOVS (R13), F4
	VLD1 (R11), [V16.S4]
	ADD R6, R11, R11
	VUXTL V4.B8, V5.H8
	VUXTL V5.H4, V20.S4`)
	mla(0, 20, 16)
	p(`	SUBS $1, R12, R12
	BNE tap4
	ADD R7<<2, R5, R9
	VST1 [V0.S4], (R9)
	ADD $4, R7, R7
	SUB R7, R3, R8
	B block4
tail:
	CBZ R8, next
	MOVW (R4)(R7<<2), R21
	MOVD R0, R10
	MOVD R19, R20
	ADD R7<<2, R2, R11
	MOVD R1, R12`)
	tap("tap1")
	p(`	MOVBU (R13)(R7), R14
	MOVW (R11), R22
	ADD R6, R11, R11
	MADDW R14, R21, R22, R21
	SUBS $1, R12, R12
	BNE tap1
	MOVW R21, (R5)(R7<<2)
	ADD $1, R7, R7
	SUB $1, R8, R8
	B tail
next:
	ADD R6, R5, R5
	ADD $1, R17, R17
	CMP R16, R17
	BLT pixel
	RET
`)
}

// vop emits a three-register 4S vector instruction from its base
// encoding.
func vop(name string, base, d, n, m int) {
	p("\tWORD $0x%08x // %s V%d.4S, V%d.4S, V%d.4S", base|m<<16|n<<5|d, name, d, n, m)
}

func fmul(d, n, m int) { vop("FMUL", 0x6E20DC00, d, n, m) }
func fadd(d, n, m int) { vop("FADD", 0x4E20D400, d, n, m) }
func fsub(d, n, m int) { vop("FSUB", 0x4EA0D400, d, n, m) }
func fmax(d, n, m int) { vop("FMAX", 0x4E20F400, d, n, m) }
func fmin(d, n, m int) { vop("FMIN", 0x4EA0F400, d, n, m) }

// scvtf is SCVTF Vd.4S, Vn.4S; fcvtzs is FCVTZS Vd.4S, Vn.4S.
func scvtf(d, n int) { p("\tWORD $0x%08x // SCVTF V%d.4S, V%d.4S", 0x4E21D800|n<<5|d, d, n) }
func fcvtzs(d, n int) {
	p("\tWORD $0x%08x // FCVTZS V%d.4S, V%d.4S", 0x4EA1B800|n<<5|d, d, n)
}

// dupW is DUP Vd.4S, Wn.
func dupW(d, n int) { p("\tWORD $0x%08x // DUP V%d.4S, W%d", 0x4E040C00|n<<5|d, d, n) }

// outRows: the output stages of one tile row (see qrequantRow and
// qfloatRow in qgemm.go), 8 elements per step, the same IEEE float32
// operations in the same order as the Go code (no FMA; FMAX/FMIN are Go's
// max/min on non-NaN values, +0 over -0 included). n is a multiple of 8
// (the Go wrappers finish the row). Scales (and float biases) are loaded
// 8 at a time per channel, or broadcast once (V20/V21, V22/V23).
func outRows() {
	p(`// func qrequantRow_neon(src *int32, dst *byte, n int, scale *float32, perCh int, flo, fhi float32, zp int32)
TEXT ·qrequantRow_neon(SB), NOSPLIT, $0-52
	MOVD src+0(FP), R0
	MOVD dst+8(FP), R1
	MOVD n+16(FP), R2
	MOVD scale+24(FP), R3
	MOVD perCh+32(FP), R4
	FMOVS flo+40(FP), F16
	FMOVS fhi+44(FP), F17
	MOVW zp+48(FP), R5
	MOVW $0x4b400000, R6 // 1.5·2^23, roundMagic`)
	dupS(16, 16, 0)
	dupS(17, 17, 0)
	dupW(18, 5)
	dupW(19, 6)
	p(`	CBZ R2, done
	CBNZ R4, perch
	FMOVS (R3), F20`)
	dupS(20, 20, 0)
	dupS(21, 20, 0)
	p("tensor:")
	requant8()
	p("\tSUBS $8, R2, R2")
	p("\tBNE tensor")
	p("\tRET")
	p("perch:")
	p("\tVLD1.P 32(R3), [V20.S4, V21.S4]")
	requant8()
	p("\tSUBS $8, R2, R2")
	p("\tBNE perch")
	p("done:")
	p("\tRET")
	p("")

	p(`// func qfloatRow_neon(src *int32, dst *float32, n int, scale, fbias *float32, perCh int)
TEXT ·qfloatRow_neon(SB), NOSPLIT, $0-48
	MOVD src+0(FP), R0
	MOVD dst+8(FP), R1
	MOVD n+16(FP), R2
	MOVD scale+24(FP), R3
	MOVD fbias+32(FP), R4
	MOVD perCh+40(FP), R5
	CBZ R2, done
	CBNZ R5, perch
	FMOVS (R3), F20`)
	dupS(20, 20, 0)
	dupS(21, 20, 0)
	p("\tCBZ R4, tensor_nobias")
	p("\tFMOVS (R4), F22")
	dupS(22, 22, 0)
	dupS(23, 22, 0)
	p("tensor_bias:")
	float8(true)
	p("\tSUBS $8, R2, R2")
	p("\tBNE tensor_bias")
	p("\tRET")
	p("tensor_nobias:")
	float8(false)
	p("\tSUBS $8, R2, R2")
	p("\tBNE tensor_nobias")
	p("\tRET")
	p("perch:")
	p("\tCBZ R4, perch_nobias")
	p("perch_bias:")
	p("\tVLD1.P 32(R3), [V20.S4, V21.S4]")
	p("\tVLD1.P 32(R4), [V22.S4, V23.S4]")
	float8(true)
	p("\tSUBS $8, R2, R2")
	p("\tBNE perch_bias")
	p("\tRET")
	p("perch_nobias:")
	p("\tVLD1.P 32(R3), [V20.S4, V21.S4]")
	float8(false)
	p("\tSUBS $8, R2, R2")
	p("\tBNE perch_nobias")
	p("done:")
	p("\tRET")
	p("")
}

// requant8: 8 int32 from R0 to 8 bytes at R1, scales in V20, V21.
func requant8() {
	p("\tVLD1.P 32(R0), [V0.S4, V1.S4]")
	for q := 0; q < 2; q++ {
		scvtf(q, q)
	}
	for q := 0; q < 2; q++ {
		fmul(q, q, 20+q)
	}
	for q := 0; q < 2; q++ {
		fmax(q, q, 16)
	}
	for q := 0; q < 2; q++ {
		fmin(q, q, 17)
	}
	for q := 0; q < 2; q++ {
		fadd(q, q, 19)
	}
	for q := 0; q < 2; q++ {
		fsub(q, q, 19)
	}
	for q := 0; q < 2; q++ {
		fcvtzs(q, q)
	}
	for q := 0; q < 2; q++ {
		p("\tVADD V18.S4, V%d.S4, V%d.S4", q, q)
	}
	p("\tWORD $0x0e612802 // XTN V2.4H, V0.4S")
	p("\tWORD $0x4e612822 // XTN2 V2.8H, V1.4S")
	p("\tWORD $0x0e212842 // XTN V2.8B, V2.8H")
	p("\tVST1.P [V2.B8], 8(R1)")
}

// float8: 8 int32 from R0 to 8 float32 at R1, scales in V20, V21, float
// biases (when bias) in V22, V23.
func float8(bias bool) {
	p("\tVLD1.P 32(R0), [V0.S4, V1.S4]")
	for q := 0; q < 2; q++ {
		scvtf(q, q)
	}
	for q := 0; q < 2; q++ {
		fmul(q, q, 20+q)
	}
	if bias {
		for q := 0; q < 2; q++ {
			fadd(q, q, 22+q)
		}
	}
	p("\tVST1.P [V0.S4, V1.S4], 32(R1)")
}

// trn is TRN1 (second false) or TRN2 Vd.T, Vn.T, Vm.T for T = 4S or
// (d2) 2D.
func trn(second, d2 bool, d, n, m int) {
	w, name, t := 0x4E802800, "TRN1", "4S"
	if second {
		w, name = w|0x4000, "TRN2"
	}
	if d2 {
		w, t = w|0x400000, "2D"
	}
	p("\tWORD $0x%08x // %s V%d.%s, V%d.%s, V%d.%s", w|m<<16|n<<5|d, name, d, t, n, t, m, t)
}

// packA4 is qpackA4Asm (see packA in qgemm.go) for chunks of 4 groups:
// 16 bytes of each of 4 rows, XOR x, a 4×4 transpose of 32-bit groups
// (TRN1/TRN2 on 4S, then on 2D), one 16-byte store per group.
func packA4() {
	p(`// func qpackA4_neon(dst unsafe.Pointer, stride int, src0, src1, src2, src3 unsafe.Pointer, chunks int, x uint32)
TEXT ·qpackA4_neon(SB), NOSPLIT, $0-60
	MOVD dst+0(FP), R0
	MOVD stride+8(FP), R1
	MOVD src0+16(FP), R2
	MOVD src1+24(FP), R3
	MOVD src2+32(FP), R4
	MOVD src3+40(FP), R5
	MOVD chunks+48(FP), R6
	MOVWU x+56(FP), R7`)
	dupW(16, 7)
	p(`	CBZ R6, done
loop:
	VLD1.P 16(R2), [V0.B16]
	VLD1.P 16(R3), [V1.B16]
	VLD1.P 16(R4), [V2.B16]
	VLD1.P 16(R5), [V3.B16]`)
	for q := 0; q < 4; q++ {
		p("\tVEOR V16.B16, V%d.B16, V%d.B16", q, q)
	}
	trn(false, false, 4, 0, 1) // a0 b0 a2 b2
	trn(true, false, 5, 0, 1)  // a1 b1 a3 b3
	trn(false, false, 6, 2, 3) // c0 d0 c2 d2
	trn(true, false, 7, 2, 3)  // c1 d1 c3 d3
	trn(false, true, 0, 4, 6)  // group 0
	trn(false, true, 1, 5, 7)  // group 1
	trn(true, true, 2, 4, 6)   // group 2
	trn(true, true, 3, 5, 7)   // group 3
	for q := 0; q < 4; q++ {
		p("\tVST1 [V%d.B16], (R0)", q)
		p("\tADD R1, R0, R0")
	}
	p(`	SUBS $1, R6, R6
	BNE loop
done:
	RET
`)
}

// v3 emits a three-register vector instruction from its base encoding,
// with arrangement t on all three registers (shapes differing per operand
// go through word).
func v3(name, t string, base, d, n, m int) {
	p("\tWORD $0x%08x // %s V%d.%s, V%d.%s, V%d.%s", base|m<<16|n<<5|d, name, d, t, n, t, m, t)
}

// word emits a WORD with its instruction (already encoded registers).
func word(w int, format string, args ...any) {
	p("\tWORD $0x%08x // %s", w, fmt.Sprintf(format, args...))
}

// fixedRow is qfixedRowAsm (see qfixedRow in qgemm.go) for n a multiple
// of 4 (a Go wrapper finishes the row), exact in int64 lanes: x = v·M
// (SMULL/SMULL2), s = 31+shift, q = x >> s (SSHL by -s, arithmetic),
// r = x & (2^s-1); rounding up (q+1) when 2r > 2^s, or 2r = 2^s and q is
// odd (2r < 2^63: no overflow; s = 0 gives r = 0, never up). Then
// saturated to int32 (SQXTN, which cannot change the clamp's result, as
// lo and hi are int32), clamped to [lo, hi] (SMAX/SMIN), + zp, narrowed.
// Per channel, M and shift are loaded 4 at a time and the shift
// constants built per lane; per tensor they are built once.
//
// V16 = 1 (2D), V17 = lo, V18 = hi, V19 = zp, V20 = M, V28 = 31 (4S);
// per half h (lanes 0-1, 2-3): -s in V22+h, 2^s in V24+h, 2^s-1 in V26+h.
func fixedRow() {
	p(`// func qfixedRow_neon(src *int32, dst *byte, n int, mult, shift *int32, perCh int, lo, hi, zp int32)
TEXT ·qfixedRow_neon(SB), NOSPLIT, $0-60
	MOVD src+0(FP), R0
	MOVD dst+8(FP), R1
	MOVD n+16(FP), R2
	MOVD mult+24(FP), R3
	MOVD shift+32(FP), R4
	MOVD perCh+40(FP), R5
	MOVW lo+48(FP), R6
	MOVW hi+52(FP), R7
	MOVW zp+56(FP), R8
	MOVD $1, R9
	MOVD $31, R10`)
	word(0x4E080C00|9<<5|16, "DUP V16.2D, X9")
	dupW(17, 6)
	dupW(18, 7)
	dupW(19, 8)
	dupW(28, 10)
	p(`	CBZ R2, done
	CBNZ R5, perch
	// Per tensor: the constants of s = 31+shift[0] once.
	MOVW (R3), R11
	MOVW (R4), R12
	ADD $31, R12, R12
	NEG R12, R13
	LSL R12, R9, R14
	SUB $1, R14, R15`)
	dupW(20, 11)
	for h := 0; h < 2; h++ {
		word(0x4E080C00|13<<5|(22+h), "DUP V%d.2D, X13", 22+h)
		word(0x4E080C00|14<<5|(24+h), "DUP V%d.2D, X14", 24+h)
		word(0x4E080C00|15<<5|(26+h), "DUP V%d.2D, X15", 26+h)
	}
	p("tensor:")
	fixed4()
	p(`	SUBS $4, R2, R2
	BNE tensor
	RET
perch:
	VLD1.P 16(R3), [V20.S4]
	VLD1.P 16(R4), [V21.S4]
	VADD V28.S4, V21.S4, V21.S4`)
	word(0x0F20A400|21<<5|22, "SXTL V22.2D, V21.2S")
	word(0x4F20A400|21<<5|23, "SXTL2 V23.2D, V21.4S")
	for h := 0; h < 2; h++ {
		v3("SSHL", "2D", 0x4EE04400, 24+h, 16, 22+h) // 2^s
		v3("SUB", "2D", 0x6EE08400, 26+h, 24+h, 16)  // 2^s - 1
		word(0x6EE0B800|(22+h)<<5|(22+h), "NEG V%d.2D, V%d.2D", 22+h, 22+h)
	}
	fixed4()
	p(`	SUBS $4, R2, R2
	BNE perch
done:
	RET
`)
}

// fixed4: 4 int32 from R0 to 4 bytes at R1.
func fixed4() {
	p("\tVLD1.P 16(R0), [V0.S4]")
	word(0x0EA0C000|20<<16|0<<5|1, "SMULL V1.2D, V0.2S, V20.2S")
	word(0x4EA0C000|20<<16|0<<5|2, "SMULL2 V2.2D, V0.4S, V20.4S")
	for h := 0; h < 2; h++ {
		x := 1 + h
		v3("SSHL", "2D", 0x4EE04400, 3, x, 22+h) // q
		p("\tVAND V%d.B16, V%d.B16, V4.B16", 26+h, x)
		v3("ADD", "2D", 0x4EE08400, 4, 4, 4)     // 2r
		v3("CMGT", "2D", 0x4EE03400, 5, 4, 24+h) // 2r > 2^s
		v3("CMEQ", "2D", 0x6EE08C00, 6, 4, 24+h) // 2r == 2^s
		p("\tVAND V16.B16, V3.B16, V7.B16")      // q & 1
		word(0x6EE0B800|7<<5|7, "NEG V7.2D, V7.2D")
		p("\tVAND V7.B16, V6.B16, V6.B16")
		p("\tVORR V6.B16, V5.B16, V5.B16")
		v3("SUB", "2D", 0x6EE08400, x, 3, 5) // q - (-1 or 0)
	}
	word(0x0EA14800|1<<5|0, "SQXTN V0.2S, V1.2D")
	word(0x4EA14800|2<<5|0, "SQXTN2 V0.4S, V2.2D")
	v3("SMAX", "4S", 0x4EA06400, 0, 0, 17)
	v3("SMIN", "4S", 0x4EA06C00, 0, 0, 18)
	p("\tVADD V19.S4, V0.S4, V0.S4")
	word(0x0E612800|0<<5|0, "XTN V0.4H, V0.4S")
	word(0x0E212800|0<<5|0, "XTN V0.8B, V0.8H")
	p("\tFMOVS F0, (R1)")
	p("\tADD $4, R1, R1")
}

func peakNeondot() {
	p("// func qpeak_neondot(n int)")
	p("// n iterations of 24 independent register-only SDOTs (4x4 int8 MACs each).")
	p("TEXT ·qpeak_neondot(SB), NOSPLIT, $0-8")
	p("\tMOVD n+0(FP), R0")
	p("\tCBZ R0, done")
	p("\tVEOR V0.B16, V0.B16, V0.B16")
	p("\tVEOR V1.B16, V1.B16, V1.B16")
	p("loop:")
	for d := 8; d < 32; d++ {
		sdot(d, 0, 1)
	}
	p("\tSUBS $1, R0, R0")
	p("\tBNE loop")
	p("done:")
	p("\tRET")
	p("")
}

func peakNeon() {
	p("// func qpeak_neon(n int)")
	p("// n iterations of 16 register-only SMULL/SMULL2 (8 int8 MACs each),")
	p("// each followed by its SADALP into one of 16 accumulators.")
	p("TEXT ·qpeak_neon(SB), NOSPLIT, $0-8")
	p("\tMOVD n+0(FP), R0")
	p("\tCBZ R0, done")
	p("\tVEOR V0.B16, V0.B16, V0.B16")
	p("\tVEOR V1.B16, V1.B16, V1.B16")
	p("loop:")
	tmp := []int{2, 3, 4, 5, 6, 7, 24, 25}
	for q := 0; q < 16; q++ {
		smull(tmp[q%8], 0, 1, q%2 == 1)
		if q%8 == 7 {
			for r := q - 7; r <= q; r++ {
				sadalp(8+r, tmp[r%8])
			}
		}
	}
	p("\tSUBS $1, R0, R0")
	p("\tBNE loop")
	p("done:")
	p("\tRET")
	p("")
}

func main() {
	p("// Code generated by gen_qgemm_arm64.go. DO NOT EDIT.")
	p("")
	p("//go:build !purego")
	p("")
	p(`#include "textflag.h"`)
	p("")
	p("// INT8 GEMM microkernels for arm64 (see _generate/gen_qgemm_arm64.go and")
	p("// qkernel in qgemm.go). Instructions the Go assembler lacks are WORDs")
	p("// with the instruction in a comment.")
	p("")
	neondot(8, 12)
	neondot(12, 8)
	neondot(4, 16)
	neon(12)
	neon(8)
	peakNeondot()
	peakNeon()
	dwRow()
	outRows()
	packA4()
	fixedRow()
	os.Stdout.WriteString(out.String())
}

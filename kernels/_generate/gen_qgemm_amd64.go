//go:build ignore

// Command gen_qgemm_amd64 writes kernels/qgemm_amd64.s: the INT8 GEMM
// microkernels and their register-only ceiling loops. Run from kernels/:
//
//	go run _generate/gen_qgemm_amd64.go > qgemm_amd64.s
//
// Every microkernel computes one MR x NR int32 tile from a packed A
// micro-panel and a packed weight micro-panel, both in groups of 4 bytes
// per row / column (see qgemm.go):
//
//	a[g*MR*4 + i*4 + t]   (u8, or int16 pairs for avx2: 2 per 4 bytes)
//	b[g*NR*4 + j*4 + t]   (s8, or int16 pairs for avx2)
//	acc[i][j] = Σ_g Σ_t a·b        (exact int32, wrapping)
//
// starting from c's current tile (row stride ldc int32) when load != 0,
// else from init (NR int32, the same for every row), and stores the tile
// to c.
//
//   - avx512vnni: VPDPBUSD zmm (u8 × s8, 4-way dot into int32).
//   - avxvnni: VPDPBUSD ymm in its VEX encoding (AVX-VNNI), which the Go
//     assembler does not know: emitted as BYTEs by vexVPDPBUSD.
//   - avx2: A and weights widened to int16 at packing time, VPMADDWD
//     (2-way dot into int32, exact for any int16) + VPADDD. No 7-bit
//     weights, no VPMADDUBSW saturation.
package main

import (
	"fmt"
	"os"
	"strings"
)

type isa struct {
	name  string // avx512vnni / avxvnni / avx2
	reg   string // Z / Y
	width int    // int32 lanes per vector
	nregs int
	c     string // "c4" (4 bytes per group) or "c2" (2 int16 per group)
}

var (
	avx512vnni = isa{"avx512vnni", "Z", 16, 32, "c4"}
	avxvnni    = isa{"avxvnni", "Y", 8, 16, "c4"}
	avx2       = isa{"avx2", "Y", 8, 16, "c2"}
)

type kernel struct {
	isa    isa
	mr, nv int // rows, vectors per row
	unroll int // K groups per loop iteration (default 2, a power of two)
	nb     int // broadcast registers used in turn (default 1)
}

func (k kernel) u() int {
	if k.unroll == 0 {
		return 2
	}
	return k.unroll
}

func (k kernel) nr() int { return k.nv * k.isa.width }
func (k kernel) name() string {
	suffix := ""
	if k.unroll != 0 {
		suffix += fmt.Sprintf("_u%d", k.unroll)
	}
	if k.nb > 1 {
		suffix += fmt.Sprintf("_b%d", k.nb)
	}
	return fmt.Sprintf("qgemm_%dx%d%s_%s%s", k.mr, k.nr(), k.isa.c, k.isa.name, suffix)
}
func (k kernel) acc(i, v int) int { return i*k.nv + v }
func (k kernel) wreg(v int) int   { return k.mr*k.nv + v }
func (k kernel) areg() int        { return k.mr*k.nv + k.nv }
func (k kernel) tmp() int         { return k.mr*k.nv + k.nv + max(1, k.nb) } // avx2 only
func (k kernel) breg(i int) int {
	return k.areg() + i%max(1, k.nb)
}

func (k kernel) r(n int) string { return fmt.Sprintf("%s%d", k.isa.reg, n) }

// vexVPDPBUSD encodes the AVX-VNNI instruction VPDPBUSD ymm(dst), ymm(a),
// ymm(w) (Intel operand order: dst += Σ4 u8(a)·s8(w)), register form:
// VEX.256.66.0F38.W0 50 /r, 3-byte VEX prefix C4 [R̄ X̄ B̄ m=00010]
// [W=0 v̄v̄v̄v̄ L=1 pp=01], opcode 50, ModRM 11 reg=dst rm=w.
func vexVPDPBUSD(dst, a, w int) []byte {
	if dst < 0 || dst > 15 || a < 0 || a > 15 || w < 0 || w > 15 {
		panic("vexVPDPBUSD: register out of range")
	}
	b1 := byte(0x40 | 0x02) // X̄ = 1, map 0F38
	if dst < 8 {
		b1 |= 0x80 // R̄
	}
	if w < 8 {
		b1 |= 0x20 // B̄
	}
	b2 := byte((^a&0xF)<<3 | 0x04 | 0x01) // vvvv = ~a, L = 1, pp = 66
	modrm := byte(0xC0 | (dst&7)<<3 | w&7)
	return []byte{0xC4, b1, b2, 0x50, modrm}
}

func emitVEX(p func(string, ...any), dst, a, w int) {
	bs := vexVPDPBUSD(dst, a, w)
	for i, b := range bs {
		if i == 0 {
			p("BYTE $0x%02X // VPDPBUSD Y%d, Y%d, Y%d (VEX; Intel order dst, a(u8), w(s8))", b, dst, a, w)
		} else {
			p("BYTE $0x%02X", b)
		}
	}
}

// dot emits acc += dot(a, w) for the kernel's ISA.
func (k kernel) dot(p func(string, ...any), acc, a, w int) {
	switch k.isa.name {
	case "avx512vnni":
		// Go order: VPDPBUSD src2(s8), src1(u8), dst.
		p("VPDPBUSD %s, %s, %s", k.r(w), k.r(a), k.r(acc))
	case "avxvnni":
		emitVEX(p, acc, a, w)
	case "avx2":
		p("VPMADDWD %s, %s, %s", k.r(w), k.r(a), k.r(k.tmp()))
		p("VPADDD %s, %s, %s", k.r(k.tmp()), k.r(acc), k.r(acc))
	}
}

func (k kernel) gen(w *strings.Builder) {
	need := k.mr*k.nv + k.nv + max(1, k.nb)
	if k.isa.name == "avx2" {
		need++
	}
	if need > k.isa.nregs {
		panic("too many registers: " + k.name())
	}
	vb := k.isa.width * 4
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	fmt.Fprintf(w, "// func %s(kg int, a, b unsafe.Pointer, c *int32, ldc int, init *int32, load int)\n", k.name())
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", k.name())
	p("MOVQ kg+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ b+16(FP), DX")
	p("MOVQ c+24(FP), DI")
	p("MOVQ ldc+32(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ init+40(FP), R10")
	p("MOVQ load+48(FP), R9")
	mov := "VMOVDQU"
	movr := "VMOVDQA"
	if k.isa.reg == "Z" {
		mov, movr = "VMOVDQU32", "VMOVDQA32"
	}
	// Prefetch the C tile: its rows are often 4 KiB apart
	// (same L1 set) and cold; the K loop hides the misses.
	p("MOVQ DI, R11")
	for i := 0; i < k.mr; i++ {
		for l := 0; l < k.nr()*4; l += 64 {
			p("PREFETCHT0 %d(R11)", l)
		}
		if i < k.mr-1 {
			p("ADDQ R8, R11")
		}
	}
	p("TESTQ R9, R9")
	p("JNZ loadc")
	// Every row starts from init (the per-column correction and bias).
	for v := 0; v < k.nv; v++ {
		p("%s %d(R10), %s", mov, v*vb, k.r(k.wreg(v)))
	}
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.nv; v++ {
			p("%s %s, %s", movr, k.r(k.wreg(v)), k.r(k.acc(i, v)))
		}
	}
	p("JMP kloop")
	fmt.Fprintln(w, "loadc:")
	p("MOVQ DI, R10")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.nv; v++ {
			p("%s %d(R10), %s", mov, v*vb, k.r(k.acc(i, v)))
		}
		if i < k.mr-1 {
			p("ADDQ R8, R10")
		}
	}
	fmt.Fprintln(w, "kloop:")
	step := func(u int) {
		for v := 0; v < k.nv; v++ {
			if k.isa.reg == "Z" {
				p("VMOVDQU32 %d(DX), %s", u*k.nr()*4+v*vb, k.r(k.wreg(v)))
			} else {
				p("VMOVDQU %d(DX), %s", u*k.nr()*4+v*vb, k.r(k.wreg(v)))
			}
		}
		for i := 0; i < k.mr; i++ {
			p("VPBROADCASTD %d(SI), %s", (u*k.mr+i)*4, k.r(k.breg(i)))
			for v := 0; v < k.nv; v++ {
				k.dot(p, k.acc(i, v), k.breg(i), k.wreg(v))
			}
		}
	}
	unroll := k.u()
	shift := 0
	for 1<<shift < unroll {
		shift++
	}
	p("MOVQ CX, R11")
	p("SHRQ $%d, R11", shift)
	p("JZ tail")
	fmt.Fprintln(w, "loop:")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	p("ADDQ $%d, SI", unroll*k.mr*4)
	p("ADDQ $%d, DX", unroll*k.nr()*4)
	p("DECQ R11")
	p("JNZ loop")
	fmt.Fprintln(w, "tail:")
	p("ANDQ $%d, CX", unroll-1)
	p("JZ store")
	if unroll > 2 {
		fmt.Fprintln(w, "loop1:")
		step(0)
		p("ADDQ $%d, SI", k.mr*4)
		p("ADDQ $%d, DX", k.nr()*4)
		p("DECQ CX")
		p("JNZ loop1")
	} else {
		step(0)
	}
	fmt.Fprintln(w, "store:")
	p("MOVQ DI, R10")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.nv; v++ {
			p("%s %s, %d(R10)", mov, k.r(k.acc(i, v)), v*vb)
		}
		if i < k.mr-1 {
			p("ADDQ R8, R10")
		}
	}
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// fused is a microkernel with the float requantization fused in, reading
// A in place (XNNPACK's "fp32" requantization GEMMs): rows lda bytes
// apart, group g of row i the 4 bytes at a + i*lda + 4g, XOR flip
// (0x80808080 turns int8 activations into the uint8 VPDPBUSD takes); the
// weights a 32-wide
// avx512vnni panel (128 bytes per group; a 16-wide kernel reads the half
// b points at). Each of the MR x 16·nv sums starts from init[j] and goes
// through the same IEEE float32 steps as qrequantRow: float32(acc)·scale,
// clamp to [flo, fhi], round half to even, + zp, the low byte stored
// under the column masks (16 bits per vector) for the first rows rows, ldd
// bytes apart. All MR rows are read: the driver hands a padded copy when
// the last rows of A are fewer or end early.
type fused struct {
	mr, nv int
}

func (f fused) name() string {
	return fmt.Sprintf("qgemm_%dx%dc4_fp32_avx512vnni", f.mr, f.nv*16)
}

func (f fused) gen(w *strings.Builder) {
	if f.mr*f.nv > 24 || f.mr > 24 {
		panic("too many accumulators: " + f.name())
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	z := func(n int) string { return fmt.Sprintf("Z%d", n) }
	acc := func(i, v int) string { return z(i*f.nv + v) }
	const bw0, bt0, bt1, zflip, zzp = 24, 26, 27, 28, 28 // flip's register holds zp after the K loop
	fmt.Fprintf(w, "// func %s(kg int, a unsafe.Pointer, lda int, b, dst unsafe.Pointer, ldd, rows int, masks uint32, init *int32, scale *float32, perCh int, flo, fhi float32, zp int32, flip uint32)\n", f.name())
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-104\n", f.name())
	// Row bases: one per 4 rows, rows at (base), (base)(L*1), (base)(L*2),
	// (base)(L3*1).
	bases := []string{"SI", "R10", "R11", "R12", "R13", "R14"}
	nb := (f.mr + 3) / 4
	p("MOVQ kg+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ lda+16(FP), R8")
	p("LEAQ (R8)(R8*2), R9")
	for q := 1; q < nb; q++ {
		p("LEAQ (%s)(R8*4), %s", bases[q-1], bases[q])
	}
	p("MOVQ b+24(FP), DX")
	p("MOVQ init+64(FP), AX")
	for v := 0; v < f.nv; v++ {
		p("VMOVDQU32 %d(AX), %s", v*64, z(bw0+v))
	}
	for i := 0; i < f.mr; i++ {
		for v := 0; v < f.nv; v++ {
			p("VMOVDQA32 %s, %s", z(bw0+v), acc(i, v))
		}
	}
	rowAddr := func(i int) string {
		b := bases[i/4]
		switch i % 4 {
		case 0:
			return "(" + b + ")"
		case 1:
			return "(" + b + ")(R8*1)"
		case 2:
			return "(" + b + ")(R8*2)"
		}
		return "(" + b + ")(R9*1)"
	}
	p("MOVL flip+100(FP), AX")
	p("VPBROADCASTD AX, %s", z(zflip))
	loop := func(label string, xor bool) {
		fmt.Fprintf(w, "%s:\n", label)
		for v := 0; v < f.nv; v++ {
			p("VMOVDQU32 %d(DX), %s", v*64, z(bw0+v))
		}
		for i := 0; i < f.mr; i++ {
			t := z(bt0 + i%2)
			p("VPBROADCASTD %s, %s", rowAddr(i), t)
			if xor {
				p("VPXORD %s, %s, %s", z(zflip), t, t)
			}
			for v := 0; v < f.nv; v++ {
				p("VPDPBUSD %s, %s, %s", z(bw0+v), t, acc(i, v))
			}
		}
		p("ADDQ $128, DX")
		for q := 0; q < nb; q++ {
			p("ADDQ $4, %s", bases[q])
		}
		p("DECQ CX")
		p("JNZ %s", label)
		p("JMP requant")
	}
	p("TESTL AX, AX")
	p("JZ kloop")
	loop("kloopx", true)
	loop("kloop", false)
	fmt.Fprintln(w, "requant:")
	p("MOVL masks+56(FP), AX")
	p("KMOVW AX, K1")
	if f.nv > 1 {
		p("SHRL $16, AX")
		p("KMOVW AX, K2")
	}
	p("MOVQ scale+72(FP), BX")
	p("MOVQ perCh+80(FP), CX")
	p("TESTQ CX, CX")
	p("JZ pertensor")
	for v := 0; v < f.nv; v++ {
		p("VMOVUPS.Z %d(BX), K%d, %s", v*64, v+1, z(bw0+v))
	}
	p("JMP scaled")
	fmt.Fprintln(w, "pertensor:")
	for v := 0; v < f.nv; v++ {
		p("VBROADCASTSS (BX), %s", z(bw0+v))
	}
	fmt.Fprintln(w, "scaled:")
	p("VBROADCASTSS flo+88(FP), %s", z(bt0))
	p("VBROADCASTSS fhi+92(FP), %s", z(bt1))
	p("MOVL zp+96(FP), AX")
	p("VPBROADCASTD AX, %s", z(zzp))
	p("MOVQ dst+32(FP), DI")
	p("MOVQ ldd+40(FP), R8")
	p("MOVQ rows+48(FP), CX")
	for i := 0; i < f.mr; i++ {
		for v := 0; v < f.nv; v++ {
			a := acc(i, v)
			p("VCVTDQ2PS %s, %s", a, a)
			p("VMULPS %s, %s, %s", z(bw0+v), a, a)
			p("VMAXPS %s, %s, %s", z(bt0), a, a)
			p("VMINPS %s, %s, %s", z(bt1), a, a)
			p("VCVTPS2DQ.RN_SAE %s, %s", a, a)
			p("VPADDD %s, %s, %s", z(zzp), a, a)
			p("VPMOVDB %s, K%d, %d(DI)", a, v+1, v*16)
		}
		if i < f.mr-1 {
			p("CMPQ CX, $%d", i+1)
			p("JLE done")
			p("ADDQ R8, DI")
		}
	}
	fmt.Fprintln(w, "done:")
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// peak writes the path's register-only ceiling loop: n iterations of
// chains independent dot products (VPDPBUSD, or VPMADDWD + VPADDD).
func peak(w *strings.Builder, s isa, chains int) {
	k := kernel{isa: s, mr: chains, nv: 1}
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	name := "qpeak_" + s.name
	fmt.Fprintf(w, "// func %s(n int)  (%d dot products of %d lanes per iteration)\n", name, chains, s.width)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	p("MOVQ n+0(FP), CX")
	for i := 0; i < s.nregs; i++ {
		r := k.r(i)
		if s.reg == "Z" {
			p("VPXORD %s, %s, %s", r, r, r)
		} else {
			p("VPXOR %s, %s, %s", r, r, r)
		}
	}
	p("TESTQ CX, CX")
	p("JZ done")
	fmt.Fprintln(w, "loop:")
	a, b := s.nregs-4, s.nregs-3
	for i := 0; i < chains; i++ {
		switch s.name {
		case "avx512vnni":
			p("VPDPBUSD %s, %s, %s", k.r(b), k.r(a), k.r(i))
		case "avxvnni":
			emitVEX(p, i, a, b)
		case "avx2":
			t := s.nregs - 2 + i%2
			p("VPMADDWD %s, %s, %s", k.r(b), k.r(a), k.r(t))
			p("VPADDD %s, %s, %s", k.r(t), k.r(i), k.r(i))
		}
	}
	p("DECQ CX")
	p("JNZ loop")
	fmt.Fprintln(w, "done:")
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// vexTest writes qvexTest_avxvnni(acc, a, w *[8]int32): acc += VPDPBUSD
// through the hand-encoded VEX form on registers the kernels don't use in
// those roles (high dst, low a and w, and the reverse), so the test covers
// each prefix bit.
func vexTest(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	fmt.Fprintf(w, "// func qvexTest_avxvnni(acc, a, w *[8]int32)\n")
	fmt.Fprintf(w, "TEXT ·qvexTest_avxvnni(SB), NOSPLIT, $0-24\n")
	p("MOVQ acc+0(FP), DI")
	p("MOVQ a+8(FP), SI")
	p("MOVQ w+16(FP), DX")
	// acc in Y9 (R̄=0), a in Y3, w in Y4 (B̄=1): Y9 += a·w.
	p("VMOVDQU (DI), Y9")
	p("VMOVDQU (SI), Y3")
	p("VMOVDQU (DX), Y4")
	emitVEX(p, 9, 3, 4)
	// Then through acc Y2 (R̄=1), a Y11, w Y15 (B̄=0): Y2 = 0 + a·w, and
	// the sum of both lands in acc: acc + 2·(a·w).
	p("VPXOR Y2, Y2, Y2")
	p("VMOVDQU Y3, Y11")
	p("VMOVDQU Y4, Y15")
	emitVEX(p, 2, 11, 15)
	p("VPADDD Y2, Y9, Y9")
	p("VMOVDQU Y9, (DI)")
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

func main() {
	var w strings.Builder
	w.WriteString("// Code generated by _generate/gen_qgemm_amd64.go; DO NOT EDIT.\n\n//go:build !purego\n\n#include \"textflag.h\"\n\n")
	for _, k := range kernels {
		k.gen(&w)
	}
	for _, f := range fusedKernels {
		f.gen(&w)
	}
	peak(&w, avx512vnni, 24)
	peak(&w, avxvnni, 12)
	peak(&w, avx2, 12)
	vexTest(&w)
	os.Stdout.WriteString(w.String())
}

var kernels = []kernel{
	{isa: avx512vnni, mr: 1, nv: 2}, // m < 4: a GEMV's one row
	{isa: avx512vnni, mr: 14, nv: 2},
	{isa: avx512vnni, mr: 12, nv: 2},
	{isa: avx512vnni, mr: 8, nv: 2},
	{isa: avx512vnni, mr: 6, nv: 4},
	{isa: avx512vnni, mr: 12, nv: 2, unroll: 4},
	{isa: avx512vnni, mr: 12, nv: 2, nb: 2},
	{isa: avx512vnni, mr: 12, nv: 2, unroll: 4, nb: 2},
	{isa: avx512vnni, mr: 6, nv: 4, unroll: 4, nb: 2},
	{isa: avxvnni, mr: 6, nv: 2},
	{isa: avxvnni, mr: 4, nv: 3},
	{isa: avx2, mr: 6, nv: 2},
	{isa: avx2, mr: 4, nv: 2},
	{isa: avx2, mr: 4, nv: 2, unroll: 4},
}

var fusedKernels = []fused{
	{mr: 1, nv: 2},  // m < 4
	{mr: 12, nv: 2}, // N > 16
	{mr: 24, nv: 1}, // N <= 16 (a last panel's 16 columns)
}

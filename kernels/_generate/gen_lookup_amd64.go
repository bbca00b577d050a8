//go:build ignore

// Command gen_lookup_amd64 writes kernels/lookup_amd64.s: Lookup8,
// dst[i] = tab[src[i]], for AVX-512 VBMI and AVX2. Run from kernels/:
//
//	go run _generate/gen_lookup_amd64.go > lookup_amd64.s
//
// avx512vbmi: the table lives in Z0..Z3. Per 64 bytes, VPERMI2B looks
// every byte up in entries 0..127 (Z0:Z1) and in 128..255 (Z2:Z3) by its
// low 7 bits, and VPBLENDMB keeps the second where the byte's top bit
// (VPMOVB2M) is set. The last n%64 bytes go through the same steps with
// masked loads and stores, so any n is done.
//
// avx2: VPSHUFB reads only 16 entries, and gives 0 where the index has
// its top bit set. For k = 0..15, y = x - 16k (wrapping) has a zero high
// nibble exactly where x's high nibble is k and keeps x's low nibble;
// adding 0x70 with unsigned saturation leaves those bytes below 0x80 and
// lifts every other one to 0x80 or more, so VPSHUFB of entries
// 16k..16k+15 gives the entry where the high nibble is k and 0
// elsewhere, and the sixteen results are ORed. n is a multiple of 32
// (64 a step, then one 32).
//
// lookup8x2 (dst[i] = tab[a[i]<<8 | b[i]]): VPGATHERDD of the aligned
// dword holding each entry (index>>2, never past the table's end), then
// VPSRLVD by 8·(index&3) brings the entry to the low byte. n is a
// multiple of 16 (avx512) or 8 (avx2).
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func raw(s string)                 { out.WriteString(s + "\n") }

const sig = "(dst, src *uint8, n int, tab *[256]uint8)"

func header(name string) {
	raw("")
	raw("// func " + name + sig)
	raw("TEXT ·" + name + "(SB), NOSPLIT, $0-32")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ n+16(FP), CX")
	p("MOVQ tab+24(FP), AX")
}

// vbmiStep looks up Z4 into Z6 (K1: its top bits).
func vbmiStep() {
	p("VPMOVB2M Z4, K1")
	p("VMOVDQA64 Z4, Z5")
	p("VPERMI2B Z1, Z0, Z5")
	p("VPERMI2B Z3, Z2, Z4")
	p("VPBLENDMB Z4, Z5, K1, Z6")
}

func avx512vbmi() {
	name := "lookup8_avx512vbmi"
	header(name)
	for i := range 4 {
		p("VMOVDQU64 %d(AX), Z%d", 64*i, i)
	}
	raw(name + "_loop:")
	p("CMPQ CX, $64")
	p("JB %s_tail", name)
	p("VMOVDQU64 (SI), Z4")
	vbmiStep()
	p("VMOVDQU64 Z6, (DI)")
	p("ADDQ $64, SI")
	p("ADDQ $64, DI")
	p("SUBQ $64, CX")
	p("JMP %s_loop", name)
	raw(name + "_tail:")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	p("MOVQ $1, DX")
	p("SHLQ CX, DX")
	p("DECQ DX")
	p("KMOVQ DX, K2")
	p("VMOVDQU8.Z (SI), K2, Z4")
	vbmiStep()
	p("VMOVDQU8 Z6, K2, (DI)")
	raw(name + "_done:")
	p("VZEROUPPER")
	p("RET")
}

func avx2() {
	name := "lookup8_avx2"
	header(name)
	// VMOVD, not MOVL to an X register: that SSE encoding, with the
	// upper halves dirty on entry, cost about 190 ns a call here.
	p("MOVL $0x70707070, DX")
	p("VMOVD DX, X1")
	p("VPBROADCASTD X1, Y1")
	p("MOVL $0x10101010, DX")
	p("VMOVD DX, X2")
	p("VPBROADCASTD X2, Y2")
	raw(name + "_loop:")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	// Two vectors a step share the table loads and two chains overlap.
	p("CMPQ CX, $64")
	p("JB %s_one", name)
	p("VMOVDQU (SI), Y0")
	p("VMOVDQU 32(SI), Y6")
	p("VPXOR Y5, Y5, Y5")
	p("VPXOR Y8, Y8, Y8")
	for k := range 16 {
		if k > 0 {
			p("VPSUBB Y2, Y0, Y0")
			p("VPSUBB Y2, Y6, Y6")
		}
		p("VBROADCASTI128 %d(AX), Y4", 16*k)
		p("VPADDUSB Y1, Y0, Y3")
		p("VPADDUSB Y1, Y6, Y7")
		p("VPSHUFB Y3, Y4, Y3")
		p("VPSHUFB Y7, Y4, Y7")
		p("VPOR Y3, Y5, Y5")
		p("VPOR Y7, Y8, Y8")
	}
	p("VMOVDQU Y5, (DI)")
	p("VMOVDQU Y8, 32(DI)")
	p("ADDQ $64, SI")
	p("ADDQ $64, DI")
	p("SUBQ $64, CX")
	p("JMP %s_loop", name)
	raw(name + "_one:")
	p("VMOVDQU (SI), Y0")
	p("VPXOR Y5, Y5, Y5")
	for k := range 16 {
		if k > 0 {
			p("VPSUBB Y2, Y0, Y0")
		}
		p("VPADDUSB Y1, Y0, Y3")
		p("VBROADCASTI128 %d(AX), Y4", 16*k)
		p("VPSHUFB Y3, Y4, Y3")
		p("VPOR Y3, Y5, Y5")
	}
	p("VMOVDQU Y5, (DI)")
	raw(name + "_done:")
	p("VZEROUPPER")
	p("RET")
}

const sig2 = "(dst, a, b *uint8, n int, tab *[1 << 16]uint8)"

// lookup2 writes lookup8x2_<isa>.
func lookup2(isa string) {
	name := "lookup8x2_" + isa
	r, w := "Y", 8
	if isa == "avx512" {
		r, w = "Z", 16
	}
	raw("")
	raw("// func " + name + sig2)
	raw("TEXT ·" + name + "(SB), NOSPLIT, $0-40")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ a+8(FP), SI")
	p("MOVQ b+16(FP), BX")
	p("MOVQ n+24(FP), CX")
	p("MOVQ tab+32(FP), AX")
	p("MOVL $3, DX")
	p("VMOVD DX, X7")
	p("VPBROADCASTD X7, %s7", r)
	if isa == "avx2" {
		// Byte 0 of each dword to the low 4 bytes of its lane.
		p("MOVL $0x0c080400, DX")
		p("VMOVD DX, X9")
		p("VPBROADCASTD X9, Y9")
	}
	raw(name + "_loop:")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	p("VPMOVZXBD (SI), %s1", r)
	p("VPMOVZXBD (BX), %s2", r)
	p("VPSLLD $8, %s1, %s1", r, r)
	if isa == "avx512" {
		p("VPORD Z2, Z1, Z1")
		p("VPANDD Z7, Z1, Z2")
	} else {
		p("VPOR Y2, Y1, Y1")
		p("VPAND Y7, Y1, Y2")
	}
	p("VPSLLD $3, %s2, %s2", r, r)
	p("VPSRLD $2, %s1, %s1", r, r)
	if isa == "avx512" {
		p("KXNORW K1, K1, K1")
		p("VPXORD Z3, Z3, Z3")
		p("VPGATHERDD (AX)(Z1*4), K1, Z3")
		p("VPSRLVD Z2, Z3, Z3")
		p("VPMOVDB Z3, (DI)")
	} else {
		p("VPCMPEQD Y8, Y8, Y8")
		p("VPXOR Y3, Y3, Y3")
		p("VPGATHERDD Y8, (AX)(Y1*4), Y3")
		p("VPSRLVD Y2, Y3, Y3")
		p("VPSHUFB Y9, Y3, Y3")
		p("VEXTRACTI128 $1, Y3, X4")
		p("VPUNPCKLDQ X4, X3, X3")
		p("VMOVQ X3, (DI)")
	}
	p("ADDQ $%d, SI", w)
	p("ADDQ $%d, BX", w)
	p("ADDQ $%d, DI", w)
	p("SUBQ $%d, CX", w)
	p("JMP %s_loop", name)
	raw(name + "_done:")
	p("VZEROUPPER")
	p("RET")
}

func main() {
	raw(`// Code generated by _generate/gen_lookup_amd64.go; DO NOT EDIT.

//go:build !purego

#include "textflag.h"`)
	avx512vbmi()
	avx2()
	lookup2("avx512")
	lookup2("avx2")
	os.Stdout.WriteString(out.String())
}

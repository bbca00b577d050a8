//go:build ignore

// Command gen_quantize_amd64 writes kernels/quantize_amd64.s: per-tensor
// QuantizeLinear (float32 -> 8- or 16-bit) and DequantizeLinear (int8,
// uint8, int16, uint16 -> float32) for AVX2 and AVX-512 (see quantize.go
// for the arithmetic). Run from kernels/:
//
//	go run _generate/gen_quantize_amd64.go > quantize_amd64.s
//
// Quantize, per vector: VDIVPS by the scale; VMAXPS with the bound
// lo-zp as the second source (Intel order), which it returns when the
// quotient is NaN; VMINPS hi-zp; VCVTPS2DQ (MXCSR's round half to even);
// VPADDD zp. The int32 values are then in the output type's range, so
// narrowing by truncation is exact: VPMOVDB/VPMOVDW on AVX-512; on AVX2
// the values masked to 8 or 16 bits and packed with unsigned saturation
// (which then never saturates). n is a multiple of the vector width
// (16 for AVX-512, 8 for AVX2); the Go caller does the rest.
package main

import (
	"fmt"
	"math"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func raw(s string)                 { out.WriteString(s + "\n") }

const qsig = "(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)"
const dqsig = "(dst *float32, q unsafe.Pointer, n int, scale, zp float32)"

// quantize writes quantize<bits>_<isa>, or with recip quantize<bits>r_<isa>
// (AVX-512): the quotient as x·(1/scale), which is cheaper than VDIVPS and
// rounds to the same integer as the exact quotient unless that lies
// within a few ulps of a half-integer; a vector with such a value (|y| <
// bound, distance to the nearest half-integer below eps, both far wider
// than the product's error of under 2 ulps) is divided instead, so the
// result is the division's exactly. Values beyond the bound saturate
// either way; NaN and infinities take the product, which the clamps treat
// as they treat the quotient. The caller checks that scale and 1/scale
// are normal numbers.
func quantize(isa string, bits int, recip bool) {
	name := fmt.Sprintf("quantize%d_%s", bits, isa)
	if recip {
		name = fmt.Sprintf("quantize%dr_%s", bits, isa)
	}
	raw("")
	raw("// func " + name + qsig)
	raw("TEXT ·" + name + "(SB), NOSPLIT, $0-40")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ n+16(FP), CX")
	r, w, es := "Y", 8, bits/8
	if isa == "avx512" {
		r, w = "Z", 16
	}
	p("VBROADCASTSS scale+24(FP), %s1", r)
	p("VBROADCASTSS lo+28(FP), %s2", r)
	p("VBROADCASTSS hi+32(FP), %s3", r)
	p("MOVL zp+36(FP), AX")
	// VEX-encoded moves only: an SSE instruction while the upper
	// register halves are dirty (as Go's runtime leaves them) cost about
	// 150 ns a call here.
	p("VMOVD AX, X4")
	p("VPBROADCASTD X4, %s4", r)
	if isa == "avx2" {
		mask := "$0x000000ff"
		if bits == 16 {
			mask = "$0x0000ffff"
		}
		p("MOVL %s, AX", mask)
		p("VMOVD AX, X5")
		p("VPBROADCASTD X5, Y5")
	}
	if recip {
		// Z5 = 1/scale, Z6 = 0.5 - eps, Z7 = bound, Z8 = the sign mask's
		// complement: bound 2^(bits+1) (beyond the output's range), eps
		// 4 ulps there.
		bound := 1 << (bits + 1)
		eps := math.Ldexp(4, bits+1-23)
		p("MOVL $0x%08x, AX", math.Float32bits(1))
		p("VPBROADCASTD AX, Z5")
		p("VDIVPS Z1, Z5, Z5")
		p("MOVL $0x%08x, AX", math.Float32bits(float32(0.5-eps)))
		p("VPBROADCASTD AX, Z6")
		p("MOVL $0x%08x, AX", math.Float32bits(float32(bound)))
		p("VPBROADCASTD AX, Z7")
		p("MOVL $0x7fffffff, AX")
		p("VPBROADCASTD AX, Z8")
	}
	raw(name + "_loop:")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	p("VMOVUPS (SI), %s0", r)
	if recip {
		p("VMULPS Z5, Z0, Z9")
		p("VRNDSCALEPS $8, Z9, Z10") // to nearest even, no precision exception
		p("VSUBPS Z10, Z9, Z10")
		p("VPANDD Z8, Z10, Z10")
		p("VPANDD Z8, Z9, Z11")
		p("VCMPPS $0x1e, Z6, Z10, K1")     // |y - round(y)| > 0.5 - eps (GT_OQ)
		p("VCMPPS $0x11, Z7, Z11, K1, K2") // and |y| < bound (LT_OQ)
		p("KORTESTW K2, K2")
		p("JNZ %s_div", name)
		p("VMOVAPS Z9, Z0")
		p("JMP %s_clamp", name)
		raw(name + "_div:")
		p("VDIVPS %s1, %s0, %s0", r, r, r)
		raw(name + "_clamp:")
	} else {
		p("VDIVPS %s1, %s0, %s0", r, r, r)
	}
	p("VMAXPS %s2, %s0, %s0", r, r, r)
	p("VMINPS %s3, %s0, %s0", r, r, r)
	p("VCVTPS2DQ %s0, %s0", r, r)
	p("VPADDD %s4, %s0, %s0", r, r, r)
	if isa == "avx512" {
		if bits == 8 {
			p("VPMOVDB Z0, (DI)")
		} else {
			p("VPMOVDW Z0, (DI)")
		}
	} else {
		p("VPAND Y5, Y0, Y0")
		p("VEXTRACTI128 $1, Y0, X6")
		p("VPACKUSDW X6, X0, X0")
		if bits == 8 {
			p("VPACKUSWB X0, X0, X0")
			p("VMOVQ X0, (DI)")
		} else {
			p("VMOVDQU X0, (DI)")
		}
	}
	p("ADDQ $%d, SI", 4*w)
	p("ADDQ $%d, DI", es*w)
	p("SUBQ $%d, CX", w)
	p("JMP %s_loop", name)
	raw(name + "_done:")
	p("VZEROUPPER")
	p("RET")
}

// dequantize writes dequantize<t>_<isa>: dst = (float32(q) - zp)·scale.
func dequantize(isa, t string) {
	name := fmt.Sprintf("dequantize%s_%s", t, isa)
	ext := map[string]string{"S8": "VPMOVSXBD", "U8": "VPMOVZXBD", "S16": "VPMOVSXWD", "U16": "VPMOVZXWD"}[t]
	es := map[string]int{"S8": 1, "U8": 1, "S16": 2, "U16": 2}[t]
	r, w := "Y", 8
	if isa == "avx512" {
		r, w = "Z", 16
	}
	raw("")
	raw("// func " + name + dqsig)
	raw("TEXT ·" + name + "(SB), NOSPLIT, $0-32")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ q+8(FP), SI")
	p("MOVQ n+16(FP), CX")
	p("VBROADCASTSS scale+24(FP), %s1", r)
	p("VBROADCASTSS zp+28(FP), %s2", r)
	raw(name + "_loop:")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	p("%s (SI), %s0", ext, r)
	p("VCVTDQ2PS %s0, %s0", r, r)
	p("VSUBPS %s2, %s0, %s0", r, r, r)
	p("VMULPS %s1, %s0, %s0", r, r, r)
	p("VMOVUPS %s0, (DI)", r)
	p("ADDQ $%d, SI", es*w)
	p("ADDQ $%d, DI", 4*w)
	p("SUBQ $%d, CX", w)
	p("JMP %s_loop", name)
	raw(name + "_done:")
	p("VZEROUPPER")
	p("RET")
}

func main() {
	raw(`// Code generated by _generate/gen_quantize_amd64.go; DO NOT EDIT.

//go:build !purego

#include "textflag.h"`)
	for _, isa := range []string{"avx2", "avx512"} {
		quantize(isa, 8, false)
		quantize(isa, 16, false)
		if isa == "avx512" {
			quantize(isa, 8, true)
			quantize(isa, 16, true)
		}
		for _, t := range []string{"S8", "U8", "S16", "U16"} {
			dequantize(isa, t)
		}
	}
	os.Stdout.WriteString(out.String())
}

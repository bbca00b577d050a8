//go:build ignore

// Command gen_lowbit_amd64 writes kernels/lowbit_amd64.s: the Int16
// (DFP16) and Int4 (4-bit weight) microkernels and the VPDPWSSD ceiling
// loop. Run from kernels/:
//
//	go run _generate/gen_lowbit_amd64.go > lowbit_amd64.s
//
// Int16 (see i16gemm.go): A micro-panels of int16 pairs (4 bytes per row
// per group), weight panels of 32 channels × int16 pairs per plane;
// VPDPWSSD accumulates int32 chunks (whose bound i16gemm.go proves), which
// are widened (VPMOVSXDQ) and added to the int64 tile after each chunk,
// two planes as 256·hi + lo.
//
// Int4 (see w4gemm.go): 64-byte nibble groups; low nibbles are the c4
// weights of channels 0-15, high nibbles those of channels 16-31:
// VPSRLW $4 + VPANDD 0x0F expand them, VPSUBB subtracts the zero points
// (u - zu in [-15, 15]), VPDPBUSD multiplies by the u8 activations.
package main

import (
	"fmt"
	"os"
	"strings"
)

type gen struct{ w strings.Builder }

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.w, "\t"+format+"\n", args...) }
func (g *gen) label(l string)               { fmt.Fprintf(&g.w, "%s:\n", l) }

// spill emits body(true) (add to the tile), a jump over body(false)
// (store, then set load), and the label after both.
func (g *gen) spill(body func(add bool)) {
	body(true)
	g.p("JMP spilled")
	g.label("spillstore")
	body(false)
	g.p("MOVQ $1, R13")
	g.label("spilled")
}

func z(n int) string { return fmt.Sprintf("Z%d", n) }
func y(n int) string { return fmt.Sprintf("Y%d", n) }

// i16 writes i16gemm_<mr>x32p<planes>_avx512vnni(kg, chunk int, a, b
// unsafe.Pointer, c *int64, ldc int).
func (g *gen) i16(mr, planes int) {
	const nv = 2
	acc := func(p, i, v int) int { return (i*nv+v)*planes + p }
	base := mr * nv * planes
	wr := func(p, v int) int { return base + p*nv + v }
	b := base + planes*nv
	if b >= 32 {
		panic("registers")
	}
	t := []int{wr(0, 0), wr(0, 1), b}
	if planes == 2 {
		t = []int{wr(0, 0), wr(0, 1), wr(1, 0), wr(1, 1)}
	}
	name := fmt.Sprintf("i16gemm_%dx32p%d_avx512vnni", mr, planes)
	fmt.Fprintf(&g.w, "// func %s(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)\n", name)
	fmt.Fprintf(&g.w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	g.p("MOVQ kg+0(FP), CX")
	g.p("MOVQ chunk+8(FP), R12")
	g.p("MOVQ a+16(FP), SI")
	g.p("MOVQ b+24(FP), DX")
	g.p("MOVQ c+32(FP), DI")
	g.p("MOVQ ldc+40(FP), R8")
	g.p("SHLQ $3, R8")
	g.p("MOVQ load+48(FP), R13")
	g.label("outer")
	g.p("MOVQ R12, R11")
	g.p("CMPQ CX, R11")
	g.p("CMOVQLT CX, R11")
	g.p("SUBQ R11, CX")
	for r := 0; r < base; r++ {
		g.p("VPXORD %s, %s, %s", z(r), z(r), z(r))
	}
	// Two groups per iteration, then at most one more.
	step := func(u int) {
		for p := 0; p < planes; p++ {
			for v := 0; v < nv; v++ {
				g.p("VMOVDQU32 %d(DX), %s", ((u*planes+p)*nv+v)*64, z(wr(p, v)))
			}
		}
		for i := 0; i < mr; i++ {
			g.p("VPBROADCASTD %d(SI), %s", (u*mr+i)*4, z(b))
			for p := 0; p < planes; p++ {
				for v := 0; v < nv; v++ {
					g.p("VPDPWSSD %s, %s, %s", z(wr(p, v)), z(b), z(acc(p, i, v)))
				}
			}
		}
	}
	g.label("inner")
	g.p("CMPQ R11, $2")
	g.p("JLT inner1")
	step(0)
	step(1)
	g.p("ADDQ $%d, SI", 2*mr*4)
	g.p("ADDQ $%d, DX", 2*planes*nv*64)
	g.p("SUBQ $2, R11")
	g.p("JNZ inner")
	g.p("JMP innerdone")
	g.label("inner1")
	step(0)
	g.p("ADDQ $%d, SI", mr*4)
	g.p("ADDQ $%d, DX", planes*nv*64)
	g.label("innerdone")
	// Spill the chunk into the int64 tile: added to it, or stored when
	// load is 0 (the call's first chunk; later chunks add).
	g.p("MOVQ DI, R10")
	g.p("TESTQ R13, R13")
	g.p("JZ spillstore")
	g.spill(func(add bool) {
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				h := acc(0, i, v)
				g.p("VEXTRACTI64X4 $1, %s, %s", z(h), y(t[0]))
				g.p("VPMOVSXDQ %s, %s", y(h), z(t[1]))
				g.p("VPMOVSXDQ %s, %s", y(t[0]), z(t[2]))
				lo, hi := t[1], t[2]
				if planes == 2 {
					l := acc(1, i, v)
					g.p("VPSLLQ $8, %s, %s", z(lo), z(lo))
					g.p("VPSLLQ $8, %s, %s", z(hi), z(hi))
					g.p("VEXTRACTI64X4 $1, %s, %s", z(l), y(t[0]))
					g.p("VPMOVSXDQ %s, %s", y(l), z(t[3]))
					g.p("VPADDQ %s, %s, %s", z(t[3]), z(lo), z(lo))
					g.p("VPMOVSXDQ %s, %s", y(t[0]), z(t[3]))
					g.p("VPADDQ %s, %s, %s", z(t[3]), z(hi), z(hi))
				}
				if add {
					g.p("VPADDQ %d(R10), %s, %s", v*128, z(lo), z(lo))
					g.p("VPADDQ %d(R10), %s, %s", v*128+64, z(hi), z(hi))
				}
				g.p("VMOVDQU64 %s, %d(R10)", z(lo), v*128)
				g.p("VMOVDQU64 %s, %d(R10)", z(hi), v*128+64)
			}
			if i < mr-1 {
				g.p("ADDQ R8, R10")
			}
		}
	})
	g.p("TESTQ CX, CX")
	g.p("JNZ outer")
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

// i16est writes i16gemm_6x32e_avx512vnni(ks, chunk int, a, b
// unsafe.Pointer, c *int64, ldc int, load int): the exact full-range
// scheme with a high-byte estimate (see i16gemm.go). Per step of 4 K:
// weights W16 (two groups of 32 channels × int16 pairs, 256 bytes) and W8
// (32 channels × 4 high bytes, 128 bytes); A: two groups of mr int16 pairs
// and mr × 4 high bytes + 128. L += VPDPWSSD (exact mod 2^32), E +=
// VPDPBUSD. After each chunk of up to chunk steps the weight stream holds
// 32 int32 corrections (128·Σ high bytes); the exact sum is
// (E-corr)·2^16 + int32(L - (E-corr)·2^16), widened to int64.
func (g *gen) i16est() {
	const mr, nv = 6, 2
	L := func(i, v int) int { return i*nv + v }
	E := func(i, v int) int { return 12 + i*nv + v }
	const w0, bc = 24, 30
	name := "i16gemm_6x32e_avx512vnni"
	fmt.Fprintf(&g.w, "// func %s(ks, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)\n", name)
	fmt.Fprintf(&g.w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	g.p("MOVQ ks+0(FP), CX")
	g.p("MOVQ chunk+8(FP), R12")
	g.p("MOVQ a+16(FP), SI")
	g.p("MOVQ b+24(FP), DX")
	g.p("MOVQ c+32(FP), DI")
	g.p("MOVQ ldc+40(FP), R8")
	g.p("SHLQ $3, R8")
	g.p("MOVQ load+48(FP), R13")
	g.label("outer")
	g.p("MOVQ R12, R11")
	g.p("CMPQ CX, R11")
	g.p("CMOVQLT CX, R11")
	g.p("SUBQ R11, CX")
	for r := 0; r < 24; r++ {
		g.p("VPXORD %s, %s, %s", z(r), z(r), z(r))
	}
	g.label("inner")
	for x := 0; x < 6; x++ {
		g.p("VMOVDQU32 %d(DX), %s", x*64, z(w0+x))
	}
	for i := 0; i < mr; i++ {
		for gg := 0; gg < 2; gg++ {
			g.p("VPBROADCASTD %d(SI), %s", (gg*mr+i)*4, z(bc))
			for v := 0; v < nv; v++ {
				g.p("VPDPWSSD %s, %s, %s", z(w0+gg*2+v), z(bc), z(L(i, v)))
			}
		}
		g.p("VPBROADCASTD %d(SI), %s", (2*mr+i)*4, z(bc))
		for v := 0; v < nv; v++ {
			g.p("VPDPBUSD %s, %s, %s", z(w0+4+v), z(bc), z(E(i, v)))
		}
	}
	g.p("ADDQ $%d, SI", 3*mr*4)
	g.p("ADDQ $384, DX")
	g.p("DECQ R11")
	g.p("JNZ inner")
	// Corrections, then the spill.
	g.p("VMOVDQU32 (DX), %s", z(w0))
	g.p("VMOVDQU32 64(DX), %s", z(w0+1))
	g.p("ADDQ $128, DX")
	t := []int{26, 27, 28, 29}
	g.p("MOVQ DI, R10")
	g.p("TESTQ R13, R13")
	g.p("JZ spillstore")
	g.spill(func(add bool) {
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				e, l := E(i, v), L(i, v)
				g.p("VPSUBD %s, %s, %s", z(w0+v), z(e), z(e))
				g.p("VPSLLD $16, %s, %s", z(e), z(t[0]))
				g.p("VPSUBD %s, %s, %s", z(t[0]), z(l), z(l))
				g.p("VEXTRACTI64X4 $1, %s, %s", z(e), y(t[0]))
				g.p("VPMOVSXDQ %s, %s", y(e), z(t[1]))
				g.p("VPMOVSXDQ %s, %s", y(t[0]), z(t[2]))
				g.p("VPSLLQ $16, %s, %s", z(t[1]), z(t[1]))
				g.p("VPSLLQ $16, %s, %s", z(t[2]), z(t[2]))
				g.p("VEXTRACTI64X4 $1, %s, %s", z(l), y(t[0]))
				g.p("VPMOVSXDQ %s, %s", y(l), z(t[3]))
				g.p("VPADDQ %s, %s, %s", z(t[3]), z(t[1]), z(t[1]))
				g.p("VPMOVSXDQ %s, %s", y(t[0]), z(t[3]))
				g.p("VPADDQ %s, %s, %s", z(t[3]), z(t[2]), z(t[2]))
				if add {
					g.p("VPADDQ %d(R10), %s, %s", v*128, z(t[1]), z(t[1]))
					g.p("VPADDQ %d(R10), %s, %s", v*128+64, z(t[2]), z(t[2]))
				}
				g.p("VMOVDQU64 %s, %d(R10)", z(t[1]), v*128)
				g.p("VMOVDQU64 %s, %d(R10)", z(t[2]), v*128+64)
			}
			if i < mr-1 {
				g.p("ADDQ R8, R10")
			}
		}
	})
	g.p("TESTQ CX, CX")
	g.p("JNZ outer")
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

// i16avx2 writes i16gemm_<mr>x16p<planes>_avx2(kg, chunk int, a, b
// unsafe.Pointer, c *int64, ldc int): the tile covers 16 of a panel's 32
// channels (the caller passes b and c offset for the other half; the
// group stride stays planes·128 bytes). VPMADDWD + VPADDD ymm; weights in
// registers for one plane, memory operands for two.
func (g *gen) i16avx2(mr, planes int) {
	const nv = 2
	acc := func(p, i, v int) int { return (i*nv+v)*planes + p }
	base := mr * nv * planes
	memW := planes == 2
	wr := func(p, v int) int { return base + p*nv + v }
	b := base
	if !memW {
		b = base + planes*nv
	}
	tmp := b + 1
	if tmp >= 16 {
		panic("registers")
	}
	var t []int
	for r := base; r < 16 && len(t) < 4; r++ {
		t = append(t, r)
	}
	name := fmt.Sprintf("i16gemm_%dx16p%d_avx2", mr, planes)
	fmt.Fprintf(&g.w, "// func %s(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)\n", name)
	fmt.Fprintf(&g.w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	g.p("MOVQ kg+0(FP), CX")
	g.p("MOVQ chunk+8(FP), R12")
	g.p("MOVQ a+16(FP), SI")
	g.p("MOVQ b+24(FP), DX")
	g.p("MOVQ c+32(FP), DI")
	g.p("MOVQ ldc+40(FP), R8")
	g.p("SHLQ $3, R8")
	g.p("MOVQ load+48(FP), R13")
	g.label("outer")
	g.p("MOVQ R12, R11")
	g.p("CMPQ CX, R11")
	g.p("CMOVQLT CX, R11")
	g.p("SUBQ R11, CX")
	for r := 0; r < base; r++ {
		g.p("VPXOR %s, %s, %s", y(r), y(r), y(r))
	}
	g.label("inner")
	if !memW {
		for v := 0; v < nv; v++ {
			g.p("VMOVDQU %d(DX), %s", v*32, y(wr(0, v)))
		}
	}
	for i := 0; i < mr; i++ {
		g.p("VPBROADCASTD %d(SI), %s", i*4, y(b))
		for p := 0; p < planes; p++ {
			for v := 0; v < nv; v++ {
				if memW {
					g.p("VPMADDWD %d(DX), %s, %s", p*128+v*32, y(b), y(tmp))
				} else {
					g.p("VPMADDWD %s, %s, %s", y(wr(p, v)), y(b), y(tmp))
				}
				g.p("VPADDD %s, %s, %s", y(tmp), y(acc(p, i, v)), y(acc(p, i, v)))
			}
		}
	}
	g.p("ADDQ $%d, SI", mr*4)
	g.p("ADDQ $%d, DX", planes*128)
	g.p("DECQ R11")
	g.p("JNZ inner")
	x := func(n int) string { return fmt.Sprintf("X%d", n) }
	g.p("MOVQ DI, R10")
	g.p("TESTQ R13, R13")
	g.p("JZ spillstore")
	g.spill(func(add bool) {
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				h := acc(0, i, v)
				g.p("VEXTRACTI128 $1, %s, %s", y(h), x(t[0]))
				g.p("VPMOVSXDQ %s, %s", x(h), y(t[1]))
				g.p("VPMOVSXDQ %s, %s", x(t[0]), y(t[2]))
				lo, hi := t[1], t[2]
				if planes == 2 {
					l := acc(1, i, v)
					g.p("VPSLLQ $8, %s, %s", y(lo), y(lo))
					g.p("VPSLLQ $8, %s, %s", y(hi), y(hi))
					g.p("VEXTRACTI128 $1, %s, %s", y(l), x(t[0]))
					g.p("VPMOVSXDQ %s, %s", x(l), y(t[3]))
					g.p("VPADDQ %s, %s, %s", y(t[3]), y(lo), y(lo))
					g.p("VPMOVSXDQ %s, %s", x(t[0]), y(t[3]))
					g.p("VPADDQ %s, %s, %s", y(t[3]), y(hi), y(hi))
				}
				if add {
					g.p("VPADDQ %d(R10), %s, %s", v*64, y(lo), y(lo))
					g.p("VPADDQ %d(R10), %s, %s", v*64+32, y(hi), y(hi))
				}
				g.p("VMOVDQU %s, %d(R10)", y(lo), v*64)
				g.p("VMOVDQU %s, %d(R10)", y(hi), v*64+32)
			}
			if i < mr-1 {
				g.p("ADDQ R8, R10")
			}
		}
	})
	g.p("TESTQ CX, CX")
	g.p("JNZ outer")
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

// Int4 registers (12×32 tile): accumulators 0-23, expanded weights 24-25,
// broadcast 26, nibble mask 27, zero points 28-29.
const (
	w4mr   = 12
	w4w0   = 24
	w4b    = 26
	w4mask = 27
	w4zu   = 28
)

func w4acc(i, v int) int { return i*2 + v }

// w4group emits one group: expand 64 nibble bytes at (DX) into Z24/Z25,
// then the 24 dot products with the 12 rows at (SI).
func (g *gen) w4group(u int) {
	g.p("VMOVDQU32 %d(DX), %s", u*64, z(w4w0))
	g.p("VPSRLW $4, %s, %s", z(w4w0), z(w4w0+1))
	g.p("VPANDD %s, %s, %s", z(w4mask), z(w4w0), z(w4w0))
	g.p("VPANDD %s, %s, %s", z(w4mask), z(w4w0+1), z(w4w0+1))
	g.p("VPSUBB %s, %s, %s", z(w4zu), z(w4w0), z(w4w0))
	g.p("VPSUBB %s, %s, %s", z(w4zu+1), z(w4w0+1), z(w4w0+1))
	for i := 0; i < w4mr; i++ {
		g.p("VPBROADCASTD %d(SI), %s", (u*w4mr+i)*4, z(w4b))
		for v := 0; v < 2; v++ {
			g.p("VPDPBUSD %s, %s, %s", z(w4w0+v), z(w4b), z(w4acc(i, v)))
		}
	}
}

// w4loop emits the group loop on counter cnt (> 0): two groups per
// iteration, then at most one more; l names the labels.
func (g *gen) w4loop(cnt, l string) {
	g.label(l)
	g.p("CMPQ %s, $2", cnt)
	g.p("JLT %s1", l)
	g.w4group(0)
	g.w4group(1)
	g.p("ADDQ $%d, SI", 2*w4mr*4)
	g.p("ADDQ $128, DX")
	g.p("SUBQ $2, %s", cnt)
	g.p("JNZ %s", l)
	g.p("JMP %sdone", l)
	g.label(l + "1")
	g.w4group(0)
	g.p("ADDQ $%d, SI", w4mr*4)
	g.p("ADDQ $64, DX")
	g.label(l + "done")
}

func (g *gen) w4mask() {
	g.p("MOVL $0x0F0F0F0F, AX")
	g.p("VPBROADCASTD AX, %s", z(w4mask))
}

// w4int writes w4gemm_12x32_avx512vnni (the per-channel kernel: the INT8
// qkernel contract plus the zero points).
func (g *gen) w4int() {
	name := "w4gemm_12x32_avx512vnni"
	fmt.Fprintf(&g.w, "// func %s(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)\n", name)
	fmt.Fprintf(&g.w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	g.p("MOVQ kg+0(FP), CX")
	g.p("MOVQ a+8(FP), SI")
	g.p("MOVQ b+16(FP), DX")
	g.p("MOVQ zu+24(FP), R9")
	g.p("MOVQ c+32(FP), DI")
	g.p("MOVQ ldc+40(FP), R8")
	g.p("SHLQ $2, R8")
	g.p("MOVQ init+48(FP), R10")
	g.p("MOVQ load+56(FP), R11")
	g.w4mask()
	g.p("VMOVDQU32 (R9), %s", z(w4zu))
	g.p("VMOVDQU32 64(R9), %s", z(w4zu+1))
	g.p("TESTQ R11, R11")
	g.p("JNZ loadc")
	g.p("VMOVDQU32 (R10), %s", z(w4w0))
	g.p("VMOVDQU32 64(R10), %s", z(w4w0+1))
	for i := 0; i < w4mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQA32 %s, %s", z(w4w0+v), z(w4acc(i, v)))
		}
	}
	g.p("JMP kloop")
	g.label("loadc")
	g.p("MOVQ DI, R10")
	for i := 0; i < w4mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQU32 %d(R10), %s", v*64, z(w4acc(i, v)))
		}
		if i < w4mr-1 {
			g.p("ADDQ R8, R10")
		}
	}
	g.label("kloop")
	g.p("TESTQ CX, CX")
	g.p("JZ store")
	g.w4loop("CX", "loop")
	g.label("store")
	g.p("MOVQ DI, R10")
	for i := 0; i < w4mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQU32 %s, %d(R10)", z(w4acc(i, v)), v*64)
		}
		if i < w4mr-1 {
			g.p("ADDQ R8, R10")
		}
	}
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

// w4blk writes w4blk_12x32_avx512vnni (the per-block kernel): per block,
// int32 dots from the block's start values, then f += float32(dot)·scale
// (VCVTDQ2PS, then VFMADD213PS: f + float32(dot)·scale rounded once, as
// the Go kernel's fmaf32).
func (g *gen) w4blk() {
	name := "w4blk_12x32_avx512vnni"
	fmt.Fprintf(&g.w, "// func %s(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)\n", name)
	fmt.Fprintf(&g.w, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
	g.p("MOVQ nblk+0(FP), CX")
	g.p("MOVQ gpb+8(FP), R12")
	g.p("MOVQ a+16(FP), SI")
	g.p("MOVQ b+24(FP), DX")
	g.p("MOVQ zu+32(FP), R9")
	g.p("MOVQ sc+40(FP), R13")
	g.p("MOVQ init+48(FP), R10")
	g.p("MOVQ f+56(FP), DI")
	g.p("MOVQ ldf+64(FP), R8")
	g.p("SHLQ $2, R8")
	g.w4mask()
	g.label("blk")
	g.p("VMOVDQU32 (R9), %s", z(w4zu))
	g.p("VMOVDQU32 64(R9), %s", z(w4zu+1))
	g.p("ADDQ $128, R9")
	g.p("VMOVDQU32 (R10), %s", z(w4w0))
	g.p("VMOVDQU32 64(R10), %s", z(w4w0+1))
	g.p("ADDQ $128, R10")
	for i := 0; i < w4mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQA32 %s, %s", z(w4w0+v), z(w4acc(i, v)))
		}
	}
	g.p("MOVQ R12, R11")
	g.w4loop("R11", "grp")
	g.p("VMOVUPS (R13), %s", z(w4w0))
	g.p("VMOVUPS 64(R13), %s", z(w4w0+1))
	g.p("ADDQ $128, R13")
	g.p("MOVQ DI, AX")
	for i := 0; i < w4mr; i++ {
		for v := 0; v < 2; v++ {
			a := z(w4acc(i, v))
			g.p("VCVTDQ2PS %s, %s", a, a)
			g.p("VFMADD213PS %d(AX), %s, %s", v*64, z(w4w0+v), a) // a = scale·a + f
			g.p("VMOVUPS %s, %d(AX)", a, v*64)
		}
		if i < w4mr-1 {
			g.p("ADDQ R8, AX")
		}
	}
	g.p("DECQ CX")
	g.p("JNZ blk")
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

// Int4 ymm kernels (half panel: 16 channels; hi selects the high
// nibbles, i.e. channels 16-31): zero points are memory operands.
//
//   - avx2, 5×16: VPMADDUBSW (u8 × s8 pairs into int16, exact: |pair| <=
//     2·255·15 < 2^15) + VPMADDWD by ones + VPADDD. Registers:
//     accumulators 0-9, weights 10-11, broadcast 12, product 13, mask 14,
//     int16 ones 15.
//   - avxvnni, 6×16: VEX VPDPBUSD (emitted as bytes). Accumulators 0-11,
//     weights 12-13, broadcast 14, mask 15.
type ymmW4 struct {
	isa string
	mr  int
}

func (k ymmW4) acc(i, v int) int { return i*2 + v }
func (k ymmW4) w(v int) int      { return 2*k.mr + v }
func (k ymmW4) b() int           { return 2*k.mr + 2 }
func (k ymmW4) tmp() int         { return 2*k.mr + 3 } // avx2
func (k ymmW4) mask() int        { return 15 - b2i(k.isa == "avx2") }
func (k ymmW4) ones() int        { return 15 } // avx2

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// vexVPDPBUSD encodes the AVX-VNNI VPDPBUSD ymm(dst), ymm(a), ymm(w)
// (dst += Σ4 u8(a)·s8(w)), register form: VEX.256.66.0F38.W0 50 /r.
func vexVPDPBUSD(dst, a, w int) []byte {
	b1 := byte(0x40 | 0x02)
	if dst < 8 {
		b1 |= 0x80
	}
	if w < 8 {
		b1 |= 0x20
	}
	b2 := byte((^a&0xF)<<3 | 0x04 | 0x01)
	return []byte{0xC4, b1, b2, 0x50, byte(0xC0 | (dst&7)<<3 | w&7)}
}

func (g *gen) ymmGroup(k ymmW4, hi bool) {
	for v := 0; v < 2; v++ {
		g.p("VMOVDQU %d(DX), Y%d", v*32, k.w(v))
		if hi {
			g.p("VPSRLW $4, Y%d, Y%d", k.w(v), k.w(v))
		}
		g.p("VPAND Y%d, Y%d, Y%d", k.mask(), k.w(v), k.w(v))
		g.p("VPSUBB %d(R9), Y%d, Y%d", v*32, k.w(v), k.w(v))
	}
	for i := 0; i < k.mr; i++ {
		g.p("VPBROADCASTD %d(SI), Y%d", i*4, k.b())
		for v := 0; v < 2; v++ {
			if k.isa == "avxvnni" {
				for x, by := range vexVPDPBUSD(k.acc(i, v), k.b(), k.w(v)) {
					if x == 0 {
						g.p("BYTE $0x%02X // VPDPBUSD Y%d, Y%d, Y%d (VEX; Intel order dst, a(u8), w(s8))", by, k.acc(i, v), k.b(), k.w(v))
					} else {
						g.p("BYTE $0x%02X", by)
					}
				}
				continue
			}
			g.p("VPMADDUBSW Y%d, Y%d, Y%d", k.w(v), k.b(), k.tmp())
			g.p("VPMADDWD Y%d, Y%d, Y%d", k.ones(), k.tmp(), k.tmp())
			g.p("VPADDD Y%d, Y%d, Y%d", k.tmp(), k.acc(i, v), k.acc(i, v))
		}
	}
	g.p("ADDQ $%d, SI", k.mr*4)
	g.p("ADDQ $64, DX")
}

func (g *gen) ymmConsts(k ymmW4) {
	g.p("MOVL $0x0F0F0F0F, AX")
	g.p("VMOVQ AX, X%d", k.mask())
	g.p("VPBROADCASTD X%d, Y%d", k.mask(), k.mask())
	if k.isa == "avx2" {
		g.p("MOVL $0x00010001, AX")
		g.p("VMOVQ AX, X%d", k.ones())
		g.p("VPBROADCASTD X%d, Y%d", k.ones(), k.ones())
	}
}

func half(hi bool) string {
	if hi {
		return "hi"
	}
	return "lo"
}

// ymmInt writes w4gemm_<mr>x16<lo|hi>_<isa> (per channel; zu points at the
// half's 64 zero-point bytes, init at its 16 start values).
func (g *gen) ymmInt(k ymmW4, hi bool) {
	name := fmt.Sprintf("w4gemm_%dx16%s_%s", k.mr, half(hi), k.isa)
	fmt.Fprintf(&g.w, "// func %s(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)\n", name)
	fmt.Fprintf(&g.w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	g.p("MOVQ kg+0(FP), CX")
	g.p("MOVQ a+8(FP), SI")
	g.p("MOVQ b+16(FP), DX")
	g.p("MOVQ zu+24(FP), R9")
	g.p("MOVQ c+32(FP), DI")
	g.p("MOVQ ldc+40(FP), R8")
	g.p("SHLQ $2, R8")
	g.p("MOVQ init+48(FP), R10")
	g.p("MOVQ load+56(FP), R11")
	g.ymmConsts(k)
	g.p("TESTQ R11, R11")
	g.p("JNZ loadc")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQU %d(R10), Y%d", v*32, k.acc(i, v))
		}
	}
	g.p("JMP kloop")
	g.label("loadc")
	g.p("MOVQ DI, R10")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQU %d(R10), Y%d", v*32, k.acc(i, v))
		}
		if i < k.mr-1 {
			g.p("ADDQ R8, R10")
		}
	}
	g.label("kloop")
	g.p("TESTQ CX, CX")
	g.p("JZ store")
	g.label("loop")
	g.ymmGroup(k, hi)
	g.p("DECQ CX")
	g.p("JNZ loop")
	g.label("store")
	g.p("MOVQ DI, R10")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQU Y%d, %d(R10)", k.acc(i, v), v*32)
		}
		if i < k.mr-1 {
			g.p("ADDQ R8, R10")
		}
	}
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

// ymmBlk writes w4blk_<mr>x16<lo|hi>_<isa> (per block; zu, sc and init
// point at the half's part of block 0 and advance by a whole block's 128
// bytes).
func (g *gen) ymmBlk(k ymmW4, hi bool) {
	name := fmt.Sprintf("w4blk_%dx16%s_%s", k.mr, half(hi), k.isa)
	fmt.Fprintf(&g.w, "// func %s(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)\n", name)
	fmt.Fprintf(&g.w, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
	g.p("MOVQ nblk+0(FP), CX")
	g.p("MOVQ gpb+8(FP), R12")
	g.p("MOVQ a+16(FP), SI")
	g.p("MOVQ b+24(FP), DX")
	g.p("MOVQ zu+32(FP), R9")
	g.p("MOVQ sc+40(FP), R13")
	g.p("MOVQ init+48(FP), R10")
	g.p("MOVQ f+56(FP), DI")
	g.p("MOVQ ldf+64(FP), R8")
	g.p("SHLQ $2, R8")
	g.ymmConsts(k)
	g.label("blk")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < 2; v++ {
			g.p("VMOVDQU %d(R10), Y%d", v*32, k.acc(i, v))
		}
	}
	g.p("ADDQ $128, R10")
	g.p("MOVQ R12, R11")
	g.label("grp")
	g.ymmGroup(k, hi)
	g.p("DECQ R11")
	g.p("JNZ grp")
	g.p("ADDQ $128, R9")
	g.p("VMOVUPS (R13), Y%d", k.w(0))
	g.p("VMOVUPS 32(R13), Y%d", k.w(1))
	g.p("ADDQ $128, R13")
	g.p("MOVQ DI, AX")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < 2; v++ {
			a := fmt.Sprintf("Y%d", k.acc(i, v))
			g.p("VCVTDQ2PS %s, %s", a, a)
			g.p("VFMADD213PS %d(AX), Y%d, %s", v*32, k.w(v), a) // a = scale·a + f
			g.p("VMOVUPS %s, %d(AX)", a, v*32)
		}
		if i < k.mr-1 {
			g.p("ADDQ R8, AX")
		}
	}
	g.p("DECQ CX")
	g.p("JNZ blk")
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

// peak writes i16peak_avx512vnni(n int): n iterations of 24 independent
// VPDPWSSD zmm (32 int16 multiply-adds each).
func (g *gen) peak() {
	fmt.Fprintf(&g.w, "// func i16peak_avx512vnni(n int)\n")
	fmt.Fprintf(&g.w, "TEXT ·i16peak_avx512vnni(SB), NOSPLIT, $0-8\n")
	g.p("MOVQ n+0(FP), CX")
	for r := 0; r < 32; r++ {
		g.p("VPXORD %s, %s, %s", z(r), z(r), z(r))
	}
	g.p("TESTQ CX, CX")
	g.p("JZ done")
	g.label("loop")
	for i := 0; i < 24; i++ {
		g.p("VPDPWSSD Z29, Z28, %s", z(i))
	}
	g.p("DECQ CX")
	g.p("JNZ loop")
	g.label("done")
	g.p("VZEROUPPER")
	g.p("RET")
	fmt.Fprintln(&g.w)
}

func main() {
	var g gen
	g.w.WriteString("// Code generated by _generate/gen_lowbit_amd64.go; DO NOT EDIT.\n\n//go:build !purego\n\n#include \"textflag.h\"\n\n")
	g.i16(12, 1)
	g.i16(6, 2)
	g.i16est()
	g.i16avx2(6, 1)
	g.i16avx2(3, 2)
	g.w4int()
	g.w4blk()
	for _, k := range []ymmW4{{"avx2", 5}, {"avxvnni", 6}} {
		for _, hi := range []bool{false, true} {
			g.ymmInt(k, hi)
			g.ymmBlk(k, hi)
		}
	}
	g.peak()
	os.Stdout.WriteString(g.w.String())
}

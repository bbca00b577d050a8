//go:build ignore

// Command gen_sgemm_arm64 writes kernels/sgemm_arm64.s: the NEON FP32 GEMM
// microkernels (the 8x12 tile, its in-place-B form and the last-rows
// kernels of both) and the FMA peak loop, and (with the argument decls)
// sgemm_rows_arm64.go, the Go declarations of the last-rows kernels. Run
// from kernels/:
//
//	go run _generate/gen_sgemm_arm64.go > sgemm_arm64.s
//	go run _generate/gen_sgemm_arm64.go decls > sgemm_rows_arm64.go
//
// Every kernel has the schedule of sgemm_8x12_neon (see the header of the
// generated file): an 8x12 tile in 24 accumulators, one by-element FMLA
// per accumulator and k step, in k order, from +0 or the loaded C, so the
// same chain of single-rounded FMAs as the generic path. Variants:
//
//   - boff: B is read in place, row p of the tile's B being the 12 floats
//     at b + boff[p] bytes (microkernel.fnOff), instead of from a packed
//     panel; the FMAs are the same, in the same order.
//   - rows r < 8: only the first r rows of the tile are computed, loaded
//     and stored (A panels are still 8 high): microkernel.rows/rowsOff.
package main

import (
	"fmt"
	"os"
	"strings"
)

const (
	panel = 8  // A micro-panel height (floats per k step)
	nr    = 12 // B micro-panel width
	nv    = 3  // vectors per row
)

type kernel struct {
	mr   int  // rows computed (1..panel)
	boff bool // B in place
}

func (k kernel) name() string {
	rows := fmt.Sprint(k.mr)
	if k.mr != panel {
		rows = fmt.Sprintf("%dof%d", k.mr, panel)
	}
	if k.boff {
		return fmt.Sprintf("sgemm_%sx%d_boff_neon", rows, nr)
	}
	return fmt.Sprintf("sgemm_%sx%d_neon", rows, nr)
}

// fmlaElem encodes FMLA Vd.4S, Vn.4S, Vm.S[i].
func fmlaElem(d, n, m, i int) uint32 {
	return 0x4F801000 | uint32(i&1)<<21 | uint32(m)<<16 | uint32(i>>1)<<11 | uint32(n)<<5 | uint32(d)
}

func acc(i, v int) int { return 8 + nv*i + v }

func (k kernel) gen(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	label := func(l string) { fmt.Fprintf(w, "%s:\n", l) }
	if k.boff {
		fmt.Fprintf(w, "// func %s(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)\n", k.name())
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", k.name())
	} else {
		fmt.Fprintf(w, "// func %s(k int, a, b, c *float32, ldc int, load int, next *float32)\n", k.name())
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", k.name())
	}
	off := 0
	arg := func(name, reg string) {
		p("MOVD %s+%d(FP), %s", name, off, reg)
		off += 8
	}
	arg("k", "R0")
	arg("a", "R1")
	arg("b", "R2")
	if k.boff {
		arg("boff", "R8")
	}
	arg("c", "R3")
	arg("ldc", "R4")
	p("LSL $2, R4, R4")
	arg("load", "R5")
	arg("next", "R6")
	for i := 0; i < k.mr; i++ {
		if i > 0 {
			p("ADD R4, R6, R6")
		}
		p("PRFM (R6), PLDL1KEEP")
		p("PRFM 40(R6), PLDL1KEEP")
	}
	p("CBNZ R5, loadc")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < nv; v++ {
			r := acc(i, v)
			p("VEOR V%d.B16, V%d.B16, V%d.B16", r, r, r)
		}
	}
	p("B kloop")
	label("loadc")
	p("MOVD R3, R7")
	for i := 0; i < k.mr; i++ {
		if i > 0 {
			p("ADD R4, R7, R7")
		}
		p("VLD1 (R7), [V%d.S4, V%d.S4, V%d.S4]", acc(i, 0), acc(i, 1), acc(i, 2))
	}
	// bload loads the next k step's B into V(b)..V(b+2).
	bload := func(b int) {
		if k.boff {
			p("MOVD.P 8(R8), R9")
			p("ADD R9, R2, R10")
			p("VLD1 (R10), [V%d.S4, V%d.S4, V%d.S4]", b, b+1, b+2)
			return
		}
		p("VLD1.P 48(R2), [V%d.S4, V%d.S4, V%d.S4]", b, b+1, b+2)
	}
	// fmla does the FMLAs of rows 4h..4h+3 (those < mr) with B in V(b)..,
	// A in V(h).
	fmla := func(b, h int) {
		for i := 4 * h; i < 4*h+4 && i < k.mr; i++ {
			for v := 0; v < nv; v++ {
				p("WORD $0x%08x // FMLA V%d.4S, V%d.4S, V%d.S[%d]", fmlaElem(acc(i, v), b+v, h, i%4), acc(i, v), b+v, h, i%4)
			}
		}
	}
	// aload reloads A's half h for the next k step (only advancing past
	// rows the kernel doesn't compute).
	aload := func(h int) {
		if 4*h < k.mr {
			p("VLD1.P 16(R1), [V%d.S4]", h)
		} else {
			p("ADD $16, R1, R1")
		}
	}
	label("kloop")
	p("CBZ R0, store")
	p("// First step's operands; R0 = steps still to load ahead for.")
	if k.mr > 4 {
		p("VLD1.P 32(R1), [V0.S4, V1.S4]")
	} else {
		p("VLD1 (R1), [V0.S4]")
		p("ADD $32, R1, R1")
	}
	bload(2)
	p("SUB $1, R0, R0")
	p("CMP $2, R0")
	p("BLT pairs_done")
	label("pairs")
	bload(5)
	fmla(2, 0)
	aload(0)
	fmla(2, 1)
	aload(1)
	bload(2)
	fmla(5, 0)
	aload(0)
	fmla(5, 1)
	aload(1)
	p("SUB $2, R0, R0")
	p("CMP $2, R0")
	p("BGE pairs")
	label("pairs_done")
	p("CBZ R0, last_v2")
	bload(5)
	fmla(2, 0)
	aload(0)
	fmla(2, 1)
	aload(1)
	fmla(5, 0)
	fmla(5, 1)
	p("B store")
	label("last_v2")
	fmla(2, 0)
	fmla(2, 1)
	label("store")
	p("MOVD R3, R7")
	for i := 0; i < k.mr; i++ {
		if i > 0 {
			p("ADD R4, R7, R7")
		}
		p("VST1 [V%d.S4, V%d.S4, V%d.S4], (R7)", acc(i, 0), acc(i, 1), acc(i, 2))
	}
	p("RET")
	fmt.Fprintln(w)
}

func peak(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	w.WriteString(`// func fmaPeak_neon(n int)
// n iterations of 24 independent register-only FMLAs (by element, as in
// the microkernel).
TEXT ·fmaPeak_neon(SB), NOSPLIT, $0-8
	MOVD n+0(FP), R0
	CBZ R0, peak_done
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
peak:
`)
	for h := 0; h < 2; h++ {
		for i := 4 * h; i < 4*h+4; i++ {
			for v := 0; v < nv; v++ {
				p("WORD $0x%08x // FMLA V%d.4S, V%d.4S, V%d.S[%d]", fmlaElem(acc(i, v), 2+v, h, i%4), acc(i, v), 2+v, h, i%4)
			}
		}
	}
	w.WriteString("\tSUBS $1, R0, R0\n\tBNE peak\npeak_done:\n\tRET\n")
}

const header = `// Code generated by _generate/gen_sgemm_arm64.go; DO NOT EDIT.

//go:build !purego

#include "textflag.h"

// FP32 microkernels for arm64 ASIMD (see microkernel in sgemm.go for the
// contract). The Go assembler has no by-element FMLA, so those are WORDs
// with the instruction in a comment: FMLA Vd.4S, Vn.4S, Vm.S[i] encodes as
// 0x4F801000 | (i&1)<<21 | m<<16 | (i>>1)<<11 | n<<5 | d.
//
// sgemm_8x12_neon: an 8x12 tile in 24 accumulators, row i and columns
// 4j..4j+3 in V(8+3i+j). Per k step: A (8 floats) in V0 (rows 0-3) and V1
// (rows 4-7), B (12 floats) in V2-V4 or V5-V7 alternately, so the next
// step's B is loaded a whole step ahead and A half a step ahead; nothing
// is read past the k steps of the panels. Each accumulator gets exactly
// one FMLA per k step, in k order, from +0 (or the loaded C): the same
// chain of single-rounded FMAs as the generic path.
//
// sgemm_8x12_boff_neon is the same with B read in place (microkernel.fnOff):
// row p of B is the 12 floats at b + boff[p] bytes (R8 walks boff, R9/R10
// form the address); no boff entry past k is read. sgemm_Rof8x12[_boff]_neon
// (R = 1..7) compute, load and store only the first R rows of the tile
// from the same 8-high A panels (microkernel.rows/rowsOff); with R <= 4 the
// upper half of A is skipped, not loaded.

`

func allKernels() []kernel {
	ks := []kernel{{mr: panel}, {mr: panel, boff: true}}
	return append(ks, partialKernels()...)
}

func partialKernels() []kernel {
	var ks []kernel
	for _, boff := range []bool{false, true} {
		for r := 1; r < panel; r++ {
			ks = append(ks, kernel{mr: r, boff: boff})
		}
	}
	return ks
}

func decls() string {
	var w strings.Builder
	w.WriteString("// Code generated by _generate/gen_sgemm_arm64.go decls; DO NOT EDIT.\n\n//go:build !purego\n\npackage kernels\n\n")
	var rows, rowsOff []string
	for _, k := range partialKernels() {
		if k.boff {
			fmt.Fprintf(&w, "//go:noescape\nfunc %s(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)\n\n", k.name())
			rowsOff = append(rowsOff, k.name())
		} else {
			fmt.Fprintf(&w, "//go:noescape\nfunc %s(k int, a, b, c *float32, ldc int, load int, next *float32)\n\n", k.name())
			rows = append(rows, k.name())
		}
	}
	fmt.Fprintf(&w, "// neonRows8[r] computes rows [0, r) of a tile; index 0 is unused.\nvar neonRows8 = []func(k int, a, b, c *float32, ldc int, load int, next *float32){nil, %s}\n\n", strings.Join(rows, ", "))
	fmt.Fprintf(&w, "// neonRows8Off[r] computes rows [0, r) of a tile; index 0 is unused.\nvar neonRows8Off = []func(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32){nil, %s}\n", strings.Join(rowsOff, ", "))
	return w.String()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "decls" {
		os.Stdout.WriteString(decls())
		return
	}
	var w strings.Builder
	w.WriteString(header)
	for _, k := range allKernels() {
		k.gen(&w)
	}
	peak(&w)
	os.Stdout.WriteString(w.String())
}

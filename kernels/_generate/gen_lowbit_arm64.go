//go:build ignore

// Command gen_lowbit_arm64 writes kernels/lowbit_arm64.s: the arm64 NEON
// microkernels of the Int16 and Int4 families and their register-only
// ceiling loops. Run from kernels/:
//
//	go run _generate/gen_lowbit_arm64.go > lowbit_arm64.s
//
// Int16 (see i16kernel in i16gemm.go; half kernels, 16 channels a call):
// the weights of one group are 16 channels × 2 int16 (t = 0, 1)
// interleaved, in four registers; row i's pair (a0, a1) is broadcast
// (DUP Vd.4S from a general register) and SMLAL/SMLAL2 multiply 4 int16
// lanes by 4 (a0, a1, a0, a1) lanes into int32, so accumulator lanes are
// (channel, t) partial sums. After every chunk of groups (the packing's
// contract: the chunk's sum of a·w fits int32), ADDP folds the t halves
// into per-channel int32 sums, which are widened (SXTL/SXTL2, or for the
// high plane of the two-plane split SSHLL/SSHLL2 #8 with the low plane
// added by SADDW/SADDW2: 256·hi + lo exactly) and added to the int64
// tile in memory.
//
// The Go assembler has none of SMLAL(2), ADDP (vector), SXTL/SSHLL(2),
// SADDW(2), SDOT, SMULL(2), SADALP: they are WORDs with the instruction
// in a comment, encoded by the functions below. Every distinct WORD was
// checked against llvm-mc's encoding of its comment:
//
//	grep -o 'WORD .*' lowbit_arm64.s | sort -u | sed 's|.*// ||' |
//		llvm-mc -triple=aarch64 -mattr=+dotprod -show-encoding
//
// and the tests compare every kernel with the generic path under qemu.
// Not measured on hardware (there is none here): correctness only.
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// smlal is SMLAL Vd.4S, Vn.4H, Vm.4H, or SMLAL2 Vd.4S, Vn.8H, Vm.8H when hi.
func smlal(d, n, m int, hi bool) {
	w := 0x0E608000 | m<<16 | n<<5 | d
	if hi {
		p("\tWORD $0x%08x // SMLAL2 V%d.4S, V%d.8H, V%d.8H", w|1<<30, d, n, m)
		return
	}
	p("\tWORD $0x%08x // SMLAL V%d.4S, V%d.4H, V%d.4H", w, d, n, m)
}

// addp is ADDP Vd.4S, Vn.4S, Vm.4S.
func addp(d, n, m int) {
	p("\tWORD $0x%08x // ADDP V%d.4S, V%d.4S, V%d.4S", 0x4EA0BC00|m<<16|n<<5|d, d, n, m)
}

// sshll is SSHLL Vd.2D, Vn.2S, #sh (SSHLL2 Vd.2D, Vn.4S, #sh when hi);
// shift 0 is SXTL(2).
func sshll(d, n, sh int, hi bool) {
	w := 0x0F20A400 | sh<<16 | n<<5 | d
	q := ""
	if hi {
		w |= 1 << 30
		q = "2"
	}
	if sh == 0 {
		if hi {
			p("\tWORD $0x%08x // SXTL2 V%d.2D, V%d.4S", w, d, n)
		} else {
			p("\tWORD $0x%08x // SXTL V%d.2D, V%d.2S", w, d, n)
		}
		return
	}
	if hi {
		p("\tWORD $0x%08x // SSHLL%s V%d.2D, V%d.4S, #%d", w, q, d, n, sh)
	} else {
		p("\tWORD $0x%08x // SSHLL V%d.2D, V%d.2S, #%d", w, d, n, sh)
	}
}

// saddw is SADDW Vd.2D, Vn.2D, Vm.2S (SADDW2 Vd.2D, Vn.2D, Vm.4S when hi).
func saddw(d, n, m int, hi bool) {
	w := 0x0EA01000 | m<<16 | n<<5 | d
	if hi {
		p("\tWORD $0x%08x // SADDW2 V%d.2D, V%d.2D, V%d.4S", w|1<<30, d, n, m)
		return
	}
	p("\tWORD $0x%08x // SADDW V%d.2D, V%d.2D, V%d.2S", w, d, n, m)
}

// addD is ADD Vd.2D, Vn.2D, Vm.2D.
func addD(d, n, m int) {
	p("\tWORD $0x%08x // ADD V%d.2D, V%d.2D, V%d.2D", 0x4EE08400|m<<16|n<<5|d, d, n, m)
}

// regs lists count consecutive vector registers from first with
// arrangement arr, as "V8.S4, V9.S4".
func regs(first, count int, arr string) string {
	var s []string
	for r := first; r < first+count; r++ {
		s = append(s, fmt.Sprintf("V%d.%s", r, arr))
	}
	return strings.Join(s, ", ")
}

// i16 writes i16gemm_<mr>x16p<planes>_neon: mr rows × 16 channels (a
// half panel) for one or two planes.
//
//	func(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)
//
// Registers: plane q's weights V(4q)..V(4q+3) (16 channels × 2 int16),
// row broadcasts alternate V(4P), V(4P+1); accumulator (row i, plane q,
// weight register r, half h) V(4P+2 + ((i·P + q)·4 + r)·2 + h), lanes
// (channel, t) for channels 4r+2h, 4r+2h+1. R0 kg, R1 chunk, R2 a, R3 b,
// R4 c, R5 ldc in bytes, R6 load, R8 the groups of this chunk.
func i16(mr, planes int) {
	P := planes
	base := 4*P + 2
	acc := func(i, q, r, h int) int { return base + ((i*P+q)*4+r)*2 + h }
	if acc(mr-1, P-1, 3, 1) > 31 {
		panic("i16: too many registers")
	}
	name := fmt.Sprintf("i16gemm_%dx16p%d_neon", mr, P)
	p("// func %s(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p(`	MOVD kg+0(FP), R0
	MOVD chunk+8(FP), R1
	MOVD a+16(FP), R2
	MOVD b+24(FP), R3
	MOVD c+32(FP), R4
	MOVD ldc+40(FP), R5
	LSL $3, R5, R5
	MOVD load+48(FP), R6
	CBNZ R6, chunks
	// load 0: the tile starts from zero (it is not read before).
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	MOVD R4, R7`)
	for i := 0; i < mr; i++ {
		p("\tVST1 [V0.D2, V1.D2, V2.D2, V3.D2], (R7)")
		p("\tADD $64, R7, R10")
		p("\tVST1 [V0.D2, V1.D2, V2.D2, V3.D2], (R10)")
		if i < mr-1 {
			p("\tADD R5, R7, R7")
		}
	}
	p("chunks:")
	p("\tCBZ R0, done")
	p("\tCMP R1, R0")
	p("\tCSEL LT, R0, R1, R8")
	p("\tSUB R8, R0, R0")
	for r := base; r <= acc(mr-1, P-1, 3, 1); r++ {
		p("\tVEOR V%d.B16, V%d.B16, V%d.B16", r, r, r)
	}
	p("group:")
	for q := 0; q < P; q++ {
		if q == 0 {
			p("\tVLD1 (R3), [%s]", regs(0, 4, "H8"))
		} else {
			p("\tADD $%d, R3, R10", 128*q)
			p("\tVLD1 (R10), [%s]", regs(4*q, 4, "H8"))
		}
	}
	p("\tADD $%d, R3, R3", 128*P)
	for i := 0; i < mr; i++ {
		d := 4*P + i%2
		p("\tMOVWU.P 4(R2), R7")
		p("\tVDUP R7, V%d.S4", d)
		for q := 0; q < P; q++ {
			for r := 0; r < 4; r++ {
				smlal(acc(i, q, r, 0), 4*q+r, d, false)
				smlal(acc(i, q, r, 1), 4*q+r, d, true)
			}
		}
	}
	p("\tSUBS $1, R8, R8")
	p("\tBNE group")
	p("\t// Widen the chunk's sums into the int64 tile: per row and weight")
	p("\t// register, 4 channels (2 int64 registers) at a time.")
	p("\tMOVD R4, R7")
	for i := 0; i < mr; i++ {
		for r := 0; r < 4; r++ {
			// V0 (plane 0) and V1 (plane 1) the folded int32 sums; V2, V3
			// the widened ones; V4, V5 the tile.
			for q := 0; q < P; q++ {
				addp(q, acc(i, q, r, 0), acc(i, q, r, 1))
			}
			if P == 1 {
				sshll(2, 0, 0, false)
				sshll(3, 0, 0, true)
			} else {
				sshll(2, 0, 8, false)
				sshll(3, 0, 8, true)
				saddw(2, 2, 1, false)
				saddw(3, 3, 1, true)
			}
			p("\tVLD1 (R7), [V4.D2, V5.D2]")
			addD(4, 4, 2)
			addD(5, 5, 3)
			p("\tVST1.P [V4.D2, V5.D2], 32(R7)")
		}
		p("\tSUB $128, R7, R7")
		if i < mr-1 {
			p("\tADD R5, R7, R7")
		}
	}
	p("\tB chunks")
	p("done:")
	p("\tRET")
	p("")
}

// i16peak writes i16peak_neon: n iterations of 24 independent
// register-only SMLAL/SMLAL2 (4 int16 MACs each).
func i16peak() {
	p("// func i16peak_neon(n int)")
	p("// n iterations of 24 independent register-only SMLAL/SMLAL2 (4 int16 MACs each).")
	p("TEXT ·i16peak_neon(SB), NOSPLIT, $0-8")
	p("\tMOVD n+0(FP), R0")
	p("\tCBZ R0, done")
	p("\tVEOR V0.B16, V0.B16, V0.B16")
	p("\tVEOR V1.B16, V1.B16, V1.B16")
	p("loop:")
	for r := 8; r < 32; r++ {
		smlal(r, 0, 1, r%2 == 1)
	}
	p("\tSUBS $1, R0, R0")
	p("\tBNE loop")
	p("done:")
	p("\tRET")
	p("")
}

func main() {
	p("// Code generated by go run _generate/gen_lowbit_arm64.go; DO NOT EDIT.")
	p("")
	p("//go:build !purego")
	p("")
	p(`#include "textflag.h"`)
	p("")
	i16(3, 1)
	i16(1, 2)
	i16peak()
	os.Stdout.WriteString(out.String())
}

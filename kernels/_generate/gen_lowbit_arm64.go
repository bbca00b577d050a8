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
// into per-channel int32 sums, which are widened (SXTL/SXTL2) and added
// to the int64 tile in memory. Two planes (full range) go through
// i16wide instead: int16 weights rebuilt in registers, exact int32
// products (SMULL) added pairwise into int64 (SADALP), no chunks. (i16
// can also run two planes, SSHLL #8 + SADDW joining the planes' chunk
// sums, but with 16 accumulators a row only one row fits.)
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

// sdotElem is SDOT Vd.4S, Vn.16B, Vm.4B[i].
func sdotElem(d, n, m, i int) {
	w := 0x4F80E000 | (i&1)<<21 | m<<16 | (i>>1)<<11 | n<<5 | d
	p("\tWORD $0x%08x // SDOT V%d.4S, V%d.16B, V%d.4B[%d]", w, d, n, m, i)
}

// smull is SMULL Vd.8H, Vn.8B, Vm.8B, or SMULL2 Vd.8H, Vn.16B, Vm.16B
// when hi.
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

// dupS is DUP Vd.4S, Vn.S[i].
func dupS(d, n, i int) {
	imm5 := i<<3 | 4
	p("\tWORD $0x%08x // DUP V%d.4S, V%d.S[%d]", 0x4E000400|imm5<<16|n<<5|d, d, n, i)
}

// scvtf is SCVTF Vd.4S, Vn.4S.
func scvtf(d, n int) {
	p("\tWORD $0x%08x // SCVTF V%d.4S, V%d.4S", 0x4E21D800|n<<5|d, d, n)
}

// fmla is FMLA Vd.4S, Vn.4S, Vm.4S (fused: one rounding).
func fmla(d, n, m int) {
	p("\tWORD $0x%08x // FMLA V%d.4S, V%d.4S, V%d.4S", 0x4E20CC00|m<<16|n<<5|d, d, n, m)
}

// w4 writes one Int4 half microkernel (16 channels: the low nibbles, or
// the high ones with hi), per channel (blk false) or per block:
//
//	w4gemm_<mr>x16{lo,hi}_{neon,neondot}(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)
//	w4blk_<mr>x16{lo,hi}_{neon,neondot}(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)
//
// A is signed (a-128, the driver's signedA packing). Per group: the 64
// weight bytes in V1-V4 (channels 4r..4r+3 of the half in V(1+r), c4),
// expanded in place (AND 0x0F in V9, or USHR #4) and minus zu (V5-V8,
// per block) into int8 u - zu in [-15, 15]; then
//
//   - neondot: A's mr rows in V0 (4 bytes each), SDOT by element into
//     acc(i, r) = V(16 + 4i + r), started from init / c (or, per block,
//     init).
//   - neon: row i broadcast into V10 (DUP), SMULL/SMULL2 (|a·w| <= 1920)
//     into V11-V13 and SADALP into acc(i, r, h) = V(16 + 8i + 2r + h)
//     (two partial sums per channel), from zero; ADDP folds them at the
//     end and the start values are added.
//
// The per-block epilogue converts each block's int32 sums to float32
// (SCVTF, round to nearest even as Go's float32(int32)) and adds them
// times the block's scales to f with FMLA, one rounding as fmaf32.
func w4(mr int, hi, dot, blk bool) {
	half, isa := "lo", "neon"
	if hi {
		half = "hi"
	}
	if dot {
		isa = "neondot"
	}
	kind := "w4gemm"
	if blk {
		kind = "w4blk"
	}
	name := fmt.Sprintf("%s_%dx16%s_%s", kind, mr, half, isa)
	accD := func(i, r int) int { return 16 + 4*i + r }
	accN := func(i, r, h int) int { return 16 + 8*i + 2*r + h }
	last := accD(mr-1, 3)
	if !dot {
		last = accN(mr-1, 3, 1)
	}
	if last > 31 || (dot && mr != 4) || (!dot && mr > 2) {
		panic("w4: bad tile")
	}
	// Registers: fn: R0 kg, R1 a, R2 b, R3 zu, R4 c, R5 ldc bytes, R6
	// init, R7 load, R9 start rows (stride R10). blk: R0 nblk, R1 a,
	// R2 b, R3 zu, R4 f, R5 ldf bytes, R6 init, R7 sc, R12 gpb, R8 the
	// group counter.
	if blk {
		p("// func %s(nblk, gpb int, a, b, zu, sc unsafe.Pointer, init *int32, f *float32, ldf int)", name)
		p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
		p(`	MOVD nblk+0(FP), R0
	MOVD gpb+8(FP), R12
	MOVD a+16(FP), R1
	MOVD b+24(FP), R2
	MOVD zu+32(FP), R3
	MOVD sc+40(FP), R7
	MOVD init+48(FP), R6
	MOVD f+56(FP), R4
	MOVD ldf+64(FP), R5
	LSL $2, R5, R5`)
	} else {
		p("// func %s(kg int, a, b, zu unsafe.Pointer, c *int32, ldc int, init *int32, load int)", name)
		p("TEXT ·%s(SB), NOSPLIT, $0-64", name)
		p(`	MOVD kg+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD zu+24(FP), R3
	MOVD c+32(FP), R4
	MOVD ldc+40(FP), R5
	LSL $2, R5, R5
	MOVD init+48(FP), R6
	MOVD load+56(FP), R7
	// R9 walks the starting tile: init (stride 0) or c (stride ldc).
	MOVD R6, R9
	MOVD ZR, R10
	CBZ R7, startset
	MOVD R4, R9
	MOVD R5, R10
startset:`)
	}
	if !hi {
		p("\tMOVD $0x0f0f0f0f0f0f0f0f, R11")
		p("\tVDUP R11, V9.D2")
	}
	if blk {
		p("block:")
		p("\tMOVD R12, R8")
	}
	p("\tVLD1 (R3), [%s]", regs(5, 4, "B16"))
	if blk {
		p("\tADD $128, R3, R3")
	}
	// Start values.
	if dot {
		for i := 0; i < mr; i++ {
			if blk {
				p("\tVLD1 (R6), [%s]", regs(accD(i, 0), 4, "S4"))
			} else {
				p("\tVLD1 (R9), [%s]", regs(accD(i, 0), 4, "S4"))
				if i < mr-1 {
					p("\tADD R10, R9, R9")
				}
			}
		}
	} else {
		for r := 16; r <= last; r++ {
			p("\tVEOR V%d.B16, V%d.B16, V%d.B16", r, r, r)
		}
	}
	cnt := "R0"
	if blk {
		cnt = "R8"
	}
	p("\tCBZ %s, sums", cnt)
	p("group:")
	p("\tVLD1.P 64(R2), [%s]", regs(1, 4, "B16"))
	if dot {
		p("\tVLD1.P 16(R1), [V0.B16]")
	} else {
		p("\tVLD1.P %d(R1), [V0.B8]", mr*4)
	}
	for r := 0; r < 4; r++ {
		if hi {
			p("\tVUSHR $4, V%d.B16, V%d.B16", 1+r, 1+r)
		} else {
			p("\tVAND V9.B16, V%d.B16, V%d.B16", 1+r, 1+r)
		}
		p("\tVSUB V%d.B16, V%d.B16, V%d.B16", 5+r, 1+r, 1+r)
	}
	if dot {
		for i := 0; i < mr; i++ {
			for r := 0; r < 4; r++ {
				sdotElem(accD(i, r), 1+r, 0, i)
			}
		}
	} else {
		type prod struct{ acc, tmp int }
		var pending []prod
		n := 0
		for i := 0; i < mr; i++ {
			dupS(10, 0, i)
			for r := 0; r < 4; r++ {
				for h := 0; h < 2; h++ {
					tmp := 11 + n%3
					n++
					smull(tmp, 1+r, 10, h == 1)
					pending = append(pending, prod{accN(i, r, h), tmp})
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
	}
	p("\tSUBS $1, %s, %s", cnt, cnt)
	p("\tBNE group")
	p("sums:")
	// sum(i, r): the register holding row i's sums of channels 4r..4r+3.
	sum := func(i, r int) int { return accD(i, r) }
	if !dot {
		// Fold the pairs into V1-V4 row by row, then add the start
		// values (V5-V8, free now).
		sum = func(i, r int) int { return 1 + r }
	}
	if !blk {
		p("\tMOVD R4, R11")
		for i := 0; i < mr; i++ {
			if !dot {
				for r := 0; r < 4; r++ {
					addp(1+r, accN(i, r, 0), accN(i, r, 1))
				}
				p("\tVLD1 (R9), [%s]", regs(5, 4, "S4"))
				if i < mr-1 {
					p("\tADD R10, R9, R9")
				}
				for r := 0; r < 4; r++ {
					p("\tVADD V%d.S4, V%d.S4, V%d.S4", 5+r, 1+r, 1+r)
				}
			}
			p("\tVST1 [%s, %s, %s, %s], (R11)", fmt.Sprintf("V%d.S4", sum(i, 0)), fmt.Sprintf("V%d.S4", sum(i, 1)), fmt.Sprintf("V%d.S4", sum(i, 2)), fmt.Sprintf("V%d.S4", sum(i, 3)))
			if i < mr-1 {
				p("\tADD R5, R11, R11")
			}
		}
		p("\tRET")
		p("")
		return
	}
	// Per block: scales in V11-V14, f updated 4 floats at a time in V0.
	p("\tVLD1 (R7), [%s]", regs(11, 4, "S4"))
	if !dot {
		p("\tVLD1 (R6), [%s]", regs(5, 4, "S4"))
	}
	p("\tMOVD R4, R11")
	for i := 0; i < mr; i++ {
		if !dot {
			for r := 0; r < 4; r++ {
				addp(1+r, accN(i, r, 0), accN(i, r, 1))
				p("\tVADD V%d.S4, V%d.S4, V%d.S4", 5+r, 1+r, 1+r)
			}
		}
		p("\tMOVD R11, R13")
		for r := 0; r < 4; r++ {
			scvtf(10, sum(i, r))
			p("\tVLD1 (R13), [V0.S4]")
			fmla(0, 10, 11+r)
			p("\tVST1.P [V0.S4], 16(R13)")
		}
		if i < mr-1 {
			p("\tADD R5, R11, R11")
		}
	}
	p("\tADD $128, R7, R7")
	p("\tADD $128, R6, R6")
	p("\tSUBS $1, R0, R0")
	p("\tBNE block")
	p("\tRET")
	p("")
}

// smullH is SMULL Vd.4S, Vn.4H, Vm.4H, or SMULL2 Vd.4S, Vn.8H, Vm.8H
// when hi.
func smullH(d, n, m int, hi bool) {
	w := 0x0E60C000 | m<<16 | n<<5 | d
	if hi {
		p("\tWORD $0x%08x // SMULL2 V%d.4S, V%d.8H, V%d.8H", w|1<<30, d, n, m)
		return
	}
	p("\tWORD $0x%08x // SMULL V%d.4S, V%d.4H, V%d.4H", w, d, n, m)
}

// sadalpD is SADALP Vd.2D, Vn.4S.
func sadalpD(d, n int) {
	p("\tWORD $0x%08x // SADALP V%d.2D, V%d.4S", 0x4EA06800|n<<5|d, d, n)
}

// i16wide writes i16gemm_<mr>x16p2w_neon, the two-plane (full range)
// half kernel without int32 chunks: per group the planes are joined back
// into the int16 weights in registers (SHL #8 and ADD: 256·wh + wl is
// w, exactly, in int16 lanes), SMULL/SMULL2 multiply them by row i's
// broadcast pair into exact int32 products (|a·w| <= 2^30) and SADALP
// adds each channel's pair of products into an int64 accumulator, so
// nothing can overflow and chunk is not used. Registers: weights V0-V3,
// the broadcast V4, products V5-V7, accumulator (row i, weight register
// r, half h) V(8 + 8i + 2r + h): int64 sums of channels 4r+2h, 4r+2h+1.
func i16wide(mr int) {
	acc := func(i, r, h int) int { return 8 + 8*i + 2*r + h }
	if acc(mr-1, 3, 1) > 31 {
		panic("i16wide: too many registers")
	}
	name := fmt.Sprintf("i16gemm_%dx16p2w_neon", mr)
	p("// func %s(kg, chunk int, a, b unsafe.Pointer, c *int64, ldc int, load int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p(`	MOVD kg+0(FP), R0
	MOVD a+16(FP), R2
	MOVD b+24(FP), R3
	MOVD c+32(FP), R4
	MOVD ldc+40(FP), R5
	LSL $3, R5, R5
	MOVD load+48(FP), R6`)
	for r := 8; r <= acc(mr-1, 3, 1); r++ {
		p("\tVEOR V%d.B16, V%d.B16, V%d.B16", r, r, r)
	}
	p("\tCBZ R0, store")
	p("group:")
	p("\tVLD1 (R3), [%s]", regs(0, 4, "H8"))
	p("\tADD $128, R3, R10")
	p("\tVLD1 (R10), [%s]", regs(4, 4, "H8"))
	p("\tADD $256, R3, R3")
	for r := 0; r < 4; r++ {
		p("\tVSHL $8, V%d.H8, V%d.H8", r, r)
		p("\tVADD V%d.H8, V%d.H8, V%d.H8", 4+r, r, r)
	}
	type prod struct{ acc, tmp int }
	var pending []prod
	n := 0
	for i := 0; i < mr; i++ {
		p("\tMOVWU.P 4(R2), R7")
		p("\tVDUP R7, V4.S4")
		for r := 0; r < 4; r++ {
			for h := 0; h < 2; h++ {
				tmp := 5 + n%3
				n++
				smullH(tmp, r, 4, h == 1)
				pending = append(pending, prod{acc(i, r, h), tmp})
				if len(pending) == 3 {
					sadalpD(pending[0].acc, pending[0].tmp)
					pending = pending[1:]
				}
			}
		}
		// The next row's DUP overwrites V4: finish this row's products.
		for _, q := range pending {
			sadalpD(q.acc, q.tmp)
		}
		pending = nil
	}
	p("\tSUBS $1, R0, R0")
	p("\tBNE group")
	p("store:")
	p("\tMOVD R4, R7")
	for i := 0; i < mr; i++ {
		p("\tADD $64, R7, R10")
		p("\tCBZ R6, store%d", i)
		p("\tVLD1 (R7), [%s]", regs(0, 4, "D2"))
		p("\tVLD1 (R10), [%s]", regs(4, 4, "D2"))
		for x := 0; x < 8; x++ {
			addD(acc(i, 0, 0)+x, acc(i, 0, 0)+x, x)
		}
		p("store%d:", i)
		p("\tVST1 [%s], (R7)", regs(acc(i, 0, 0), 4, "D2"))
		p("\tVST1 [%s], (R10)", regs(acc(i, 0, 0)+4, 4, "D2"))
		if i < mr-1 {
			p("\tADD R5, R7, R7")
		}
	}
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
	i16wide(3)
	i16peak()
	for _, dot := range []bool{false, true} {
		mr := 2
		if dot {
			mr = 4
		}
		for _, blk := range []bool{false, true} {
			for _, hi := range []bool{false, true} {
				w4(mr, hi, dot, blk)
			}
		}
	}
	os.Stdout.WriteString(out.String())
}

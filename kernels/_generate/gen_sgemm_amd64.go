//go:build ignore

// Command gen_sgemm_amd64 writes kernels/sgemm_amd64.s: the FP32 GEMM
// microkernels and the FMA peak loops, and (with the argument decls)
// sgemm_rows_amd64.go, the Go declarations of the last-rows kernels. Run
// from kernels/:
//
//	go run _generate/gen_sgemm_amd64.go > sgemm_amd64.s
//	go run _generate/gen_sgemm_amd64.go decls > sgemm_rows_amd64.go
//
// Each microkernel computes one MR x NR tile of C from a packed A
// micro-panel (k steps of MR floats) and a packed B micro-panel (k steps of
// NR floats):
//
//	for p := 0; p < k; p++ { acc[i][j] = fma(a[p*MR+i], b[p*NR+j], acc[i][j]) }
//
// with acc starting at zero (load == 0) or at C's current values (load != 0),
// then stored to C (row stride ldc floats). One VFMADD231PS per element and
// k step, in k order: the same rounding as the Go microkernel.
package main

import (
	"fmt"
	"os"
	"strings"
)

type isa struct {
	name  string // avx2 / avx512
	reg   string // Y / Z
	width int    // floats per vector
	nregs int
}

var (
	avx2   = isa{"avx2", "Y", 8, 16}
	avx512 = isa{"avx512", "Z", 16, 32}
)

type kernel struct {
	isa    isa
	mr, nv int  // rows, vectors per row
	bcst   bool // FMAs with embedded broadcast of A (AVX-512 only; measured 10-20% slower than VBROADCASTSS + register FMAs, so unused)
	// boff reads B in place instead of from a packed panel: row p of the
	// tile's B is NR floats at b + boff[p] bytes (convolution taps are
	// shifted windows of one image, and 1x1 convolutions read the input
	// as it is, so neither needs an im2col or packing copy).
	boff bool
	// masked (with boff, AVX-512 only) takes a column mask, bit j for
	// column j, and loads and stores only those columns of B and C: the
	// last columns of N in place, without packing or a temporary tile.
	masked bool
	// panel is the height of the packed A micro-panels read (0: mr).
	// Kernels with mr < panel compute the last rows of M, the first mr
	// rows of a zero-padded panel, without the waste of a full tile.
	panel int
}

func (k kernel) apanel() int {
	if k.panel == 0 {
		return k.mr
	}
	return k.panel
}

func (k kernel) nr() int { return k.nv * k.isa.width }
func (k kernel) name() string {
	suffix := ""
	if k.bcst {
		suffix = "bcst"
	}
	rows := fmt.Sprint(k.mr)
	if k.apanel() != k.mr {
		rows = fmt.Sprintf("%dof%d", k.mr, k.apanel())
	}
	if k.masked {
		return fmt.Sprintf("sgemm_%sx%d_boffmask_%s", rows, k.nr(), k.isa.name)
	}
	if k.boff {
		return fmt.Sprintf("sgemm_%sx%d_boff_%s", rows, k.nr(), k.isa.name)
	}
	return fmt.Sprintf("sgemm_%sx%d_%s%s", rows, k.nr(), k.isa.name, suffix)
}
func (k kernel) acc(i, v int) string { return fmt.Sprintf("%s%d", k.isa.reg, i*k.nv+v) }
func (k kernel) breg(v int) string   { return fmt.Sprintf("%s%d", k.isa.reg, k.mr*k.nv+v) }
func (k kernel) areg() string        { return fmt.Sprintf("%s%d", k.isa.reg, k.mr*k.nv+k.nv) }

const unroll = 4

var prefetch = "PREFETCHT0"

// bDist is how far ahead (bytes) the K loop prefetches B; 0 for none.
var bDist = 0

func (k kernel) gen(w *strings.Builder) {
	if k.mr*k.nv+k.nv+1 > k.isa.nregs {
		panic("too many registers: " + k.name())
	}
	vb := k.isa.width * 4 // vector bytes
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	args := 0
	arg := func(name, reg string) {
		p("MOVQ %s+%d(FP), %s", name, args, reg)
		args += 8
	}
	if k.masked {
		fmt.Fprintf(w, "// func %s(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32, mask int)\n", k.name())
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-72\n", k.name())
	} else if k.boff {
		fmt.Fprintf(w, "// func %s(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)\n", k.name())
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", k.name())
	} else {
		fmt.Fprintf(w, "// func %s(k int, a, b, c *float32, ldc int, load int, next *float32)\n", k.name())
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", k.name())
	}
	arg("k", "CX")
	arg("a", "SI")
	arg("b", "DX")
	if k.boff {
		arg("boff", "AX")
	}
	arg("c", "DI")
	arg("ldc", "R8")
	p("SHLQ $2, R8")
	arg("load", "R9")
	// Prefetch the next tile's C rows (from L3/L2; rows a power-of-two
	// stride apart share L1 sets, so the loads at the start of the next
	// call would otherwise miss).
	arg("next", "R12")
	// kmask(v) is the mask register of vector v (K1, K2, ...) or "".
	kmask := func(v int) string {
		if !k.masked {
			return ""
		}
		return fmt.Sprintf("K%d", v+1)
	}
	if k.masked {
		arg("mask", "R13")
		for v := 0; v < k.nv; v++ {
			p("KMOVW R13, %s", kmask(v))
			if v < k.nv-1 {
				p("SHRQ $%d, R13", k.isa.width)
			}
		}
	}
	for i := 0; i < k.mr; i++ {
		for l := 0; l < k.nr()*4; l += 64 {
			p("%s %d(R12)", prefetch, l)
		}
		if i < k.mr-1 {
			p("ADDQ R8, R12")
		}
	}
	p("TESTQ R9, R9")
	p("JNZ loadc")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.nv; v++ {
			r := k.acc(i, v)
			if k.isa.reg == "Z" {
				p("VPXORD %s, %s, %s", r, r, r)
			} else {
				p("VXORPS %s, %s, %s", r, r, r)
			}
		}
	}
	p("JMP kloop")
	fmt.Fprintln(w, "loadc:")
	p("MOVQ DI, R10")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.nv; v++ {
			if k.masked {
				p("VMOVUPS.Z %d(R10), %s, %s", v*vb, kmask(v), k.acc(i, v))
				continue
			}
			p("VMOVUPS %d(R10), %s", v*vb, k.acc(i, v))
		}
		if i < k.mr-1 {
			p("ADDQ R8, R10")
		}
	}
	fmt.Fprintln(w, "kloop:")
	step := func(u int) {
		if k.boff {
			p("MOVQ %d(AX), BX", u*8)
		}
		for v := 0; v < k.nv; v++ {
			if k.masked {
				p("VMOVUPS.Z %d(DX)(BX*1), %s, %s", v*k.isa.width*4, kmask(v), k.breg(v))
			} else if k.boff {
				p("VMOVUPS %d(DX)(BX*1), %s", v*k.isa.width*4, k.breg(v))
			} else {
				p("VMOVUPS %d(DX), %s", (u*k.nr()+v*k.isa.width)*4, k.breg(v))
			}
		}
		for i := 0; i < k.mr; i++ {
			if k.bcst {
				// Embedded broadcast: the load micro-fuses into the FMA.
				for v := 0; v < k.nv; v++ {
					p("VFMADD231PS.BCST %d(SI), %s, %s", (u*k.apanel()+i)*4, k.breg(v), k.acc(i, v))
				}
				continue
			}
			p("VBROADCASTSS %d(SI), %s", (u*k.apanel()+i)*4, k.areg())
			for v := 0; v < k.nv; v++ {
				p("VFMADD231PS %s, %s, %s", k.areg(), k.breg(v), k.acc(i, v))
			}
		}
	}
	p("MOVQ CX, R11")
	p("SHRQ $%d, R11", 2)
	p("JZ tail")
	fmt.Fprintln(w, "loop4:")
	for u := 0; u < unroll; u++ {
		if bDist > 0 {
			// Prefetch the B micro-panel bDist bytes ahead (it streams
			// from L2: each B panel is used once per A micro-panel).
			for l := 0; l < k.nr()*4; l += 64 {
				p("PREFETCHT0 %d(DX)", bDist+u*k.nr()*4+l)
			}
		}
		step(u)
	}
	p("ADDQ $%d, SI", unroll*k.apanel()*4)
	if k.boff {
		p("ADDQ $%d, AX", unroll*8)
	} else {
		p("ADDQ $%d, DX", unroll*k.nr()*4)
	}
	p("DECQ R11")
	p("JNZ loop4")
	fmt.Fprintln(w, "tail:")
	p("ANDQ $%d, CX", unroll-1)
	p("JZ store")
	fmt.Fprintln(w, "loop1:")
	step(0)
	p("ADDQ $%d, SI", k.apanel()*4)
	if k.boff {
		p("ADDQ $8, AX")
	} else {
		p("ADDQ $%d, DX", k.nr()*4)
	}
	p("DECQ CX")
	p("JNZ loop1")
	fmt.Fprintln(w, "store:")
	p("MOVQ DI, R10")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.nv; v++ {
			if k.masked {
				p("VMOVUPS %s, %s, %d(R10)", k.acc(i, v), kmask(v), v*vb)
				continue
			}
			p("VMOVUPS %s, %d(R10)", k.acc(i, v), v*vb)
		}
		if i < k.mr-1 {
			p("ADDQ R8, R10")
		}
	}
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// peak writes a register-only loop of independent FMAs: n iterations of
// chains VFMADD231PS, chains*width*2 FLOP per iteration.
func peak(w *strings.Builder, s isa, chains int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	name := "fmaPeak_" + s.name
	fmt.Fprintf(w, "// func %s(n int)  (%d FMAs of %d floats per iteration)\n", name, chains, s.width)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	p("MOVQ n+0(FP), CX")
	a, b := fmt.Sprintf("%s%d", s.reg, s.nregs-2), fmt.Sprintf("%s%d", s.reg, s.nregs-1)
	for i := 0; i < chains; i++ {
		r := fmt.Sprintf("%s%d", s.reg, i)
		if s.reg == "Z" {
			p("VPXORD %s, %s, %s", r, r, r)
		} else {
			p("VXORPS %s, %s, %s", r, r, r)
		}
	}
	if s.reg == "Z" {
		p("VPXORD %s, %s, %s", a, a, a)
		p("VPXORD %s, %s, %s", b, b, b)
	} else {
		p("VXORPS %s, %s, %s", a, a, a)
		p("VXORPS %s, %s, %s", b, b, b)
	}
	p("TESTQ CX, CX")
	p("JZ done")
	fmt.Fprintln(w, "loop:")
	for i := 0; i < chains; i++ {
		p("VFMADD231PS %s, %s, %s%d", a, b, s.reg, i)
	}
	p("DECQ CX")
	p("JNZ loop")
	fmt.Fprintln(w, "done:")
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// decls writes the Go side of the last-rows kernels: declarations and the
// tables microkernel.rows and rowsOff index by row count.
func decls() string {
	var w strings.Builder
	w.WriteString("// Code generated by _generate/gen_sgemm_amd64.go decls; DO NOT EDIT.\n\n//go:build !purego\n\npackage kernels\n\n")
	tables := map[string][]string{}
	var order []string
	for _, k := range partialKernels() {
		if k.boff {
			fmt.Fprintf(&w, "//go:noescape\nfunc %s(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)\n\n", k.name())
		} else {
			fmt.Fprintf(&w, "//go:noescape\nfunc %s(k int, a, b, c *float32, ldc int, load int, next *float32)\n\n", k.name())
		}
		t := fmt.Sprintf("%sRows%d", k.isa.name, k.apanel())
		if k.boff {
			t += "Off"
		}
		if tables[t] == nil {
			order = append(order, t)
		}
		tables[t] = append(tables[t], k.name())
	}
	for _, t := range order {
		typ := "func(k int, a, b, c *float32, ldc int, load int, next *float32)"
		if strings.HasSuffix(t, "Off") {
			typ = "func(k int, a, b *float32, boff *int, c *float32, ldc int, load int, next *float32)"
		}
		fmt.Fprintf(&w, "// %s[r] computes rows [0, r) of a tile; index 0 is unused.\nvar %s = []%s{nil, %s}\n\n", t, t, typ, strings.Join(tables[t], ", "))
	}
	return strings.TrimRight(w.String(), "\n") + "\n"
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "decls" {
		os.Stdout.WriteString(decls())
		return
	}
	if len(os.Args) > 1 {
		prefetch = os.Args[1]
	}
	if len(os.Args) > 2 {
		fmt.Sscan(os.Args[2], &bDist)
	}
	var w strings.Builder
	w.WriteString("// Code generated by _generate/gen_sgemm_amd64.go; DO NOT EDIT.\n\n//go:build !purego\n\n#include \"textflag.h\"\n\n")
	for _, k := range append(kernels, partialKernels()...) {
		k.gen(&w)
	}
	peak(&w, avx2, 12)
	peak(&w, avx512, 24)
	os.Stdout.WriteString(w.String())
}

var kernels = []kernel{
	{isa: avx2, mr: 6, nv: 2},
	{isa: avx512, mr: 6, nv: 2},
	{isa: avx512, mr: 8, nv: 2},
	{isa: avx512, mr: 12, nv: 2},
	{isa: avx512, mr: 14, nv: 2},
	{isa: avx512, mr: 8, nv: 3},
	{isa: avx512, mr: 4, nv: 4},
	{isa: avx2, mr: 6, nv: 2, boff: true},
	{isa: avx512, mr: 14, nv: 2, boff: true},
	{isa: avx512, mr: 14, nv: 2, boff: true, masked: true},
}

// partialKernels are the last-rows kernels of the registered tiles
// (14x32 avx512, 6x16 avx2), packed and in place.
func partialKernels() []kernel {
	var ks []kernel
	for _, full := range []kernel{{isa: avx512, mr: 14, nv: 2}, {isa: avx2, mr: 6, nv: 2}} {
		for _, boff := range []bool{false, true} {
			for r := 1; r < full.mr; r++ {
				ks = append(ks, kernel{isa: full.isa, mr: r, nv: full.nv, boff: boff, panel: full.mr})
			}
		}
	}
	return ks
}

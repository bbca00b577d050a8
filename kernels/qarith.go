package kernels

import (
	"fmt"
	"unsafe"
)

// QArith is an arithmetic operator between two dequantized 8-bit tensors,
// quantized again: out = Q(DQ(a) op DQ(b)), each step in float32 as
// ONNX's DequantizeLinear, the operator and QuantizeLinear compute it
// (DQ(v) = (v - zp)·scale; Q rounds x/scale half to even, adds the zero
// point and saturates), so the result is the float path's bit for bit.
// It stands for a 65536-entry table (Lookup8x2) where SIMD arithmetic is
// faster than the table's gathers.
type QArith struct {
	Op             byte // '+', '-' or '*'
	SignedA        bool // int8 (else uint8) codes
	SignedB        bool
	SignedOut      bool
	ScaleA, ScaleB float32
	ZeroA, ZeroB   int32
	ScaleOut       float32
	ZeroOut        int32
}

// QArithBytes computes dst[i] = p(a[i], b[i]) (len(a) = len(b) =
// len(dst)).
func QArithBytes(dst, a, b []byte, p *QArith) {
	if len(a) != len(dst) || len(b) != len(dst) {
		panic(fmt.Sprintf("kernels: QArithBytes: %d and %d codes for %d", len(a), len(b), len(dst)))
	}
	if p.Op != '+' && p.Op != '-' && p.Op != '*' {
		panic(fmt.Sprintf("kernels: QArithBytes: operator %q", p.Op))
	}
	done := 0
	if QArithFast() && len(dst) >= 16 {
		done = len(dst) &^ 15
		args := p.args()
		qarithAsm(unsafe.Pointer(&dst[0]), unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), done, &args)
	}
	lo, hi := int32(0), int32(255)
	if p.SignedOut {
		lo, hi = -128, 127
	}
	for i := done; i < len(dst); i++ {
		fa := float32((float32(code(a[i], p.SignedA)) - float32(p.ZeroA)) * p.ScaleA)
		fb := float32((float32(code(b[i], p.SignedB)) - float32(p.ZeroB)) * p.ScaleB)
		var y float32
		switch p.Op {
		case '+':
			y = fa + fb
		case '-':
			y = fa - fb
		default:
			y = fa * fb
		}
		dst[i] = byte(QuantizeValue(y, p.ScaleOut, p.ZeroOut, lo, hi))
	}
}

// QArithFast reports whether QArithBytes runs in SIMD on the active
// quantize path (where it beats a table's lookups).
func QArithFast() bool {
	return qarithAsm != nil && Quantize.activeIndex() >= Quantize.index("avx512")
}

// code is the value of an 8-bit code.
func code(v byte, signed bool) int32 {
	if signed {
		return int32(int8(v))
	}
	return int32(v)
}

// qarithArgs is QArith as qarithAsm reads it: codes XOR flip are uint8
// (flip 0x80 and zero point + 128 for int8), the bounds are the output's
// minus its zero point.
type qarithArgs struct {
	flipA, flipB uint32
	za, sa       float32
	zb, sb       float32
	so, lo, hi   float32
	zo, op       int32
}

func (p *QArith) args() qarithArgs {
	g := qarithArgs{za: float32(p.ZeroA), sa: p.ScaleA, zb: float32(p.ZeroB), sb: p.ScaleB, so: p.ScaleOut, zo: p.ZeroOut}
	if p.SignedA {
		g.flipA, g.za = 0x80808080, float32(p.ZeroA+128)
	}
	if p.SignedB {
		g.flipB, g.zb = 0x80808080, float32(p.ZeroB+128)
	}
	lo, hi := int32(0), int32(255)
	if p.SignedOut {
		lo, hi = -128, 127
	}
	g.lo, g.hi = float32(lo-p.ZeroOut), float32(hi-p.ZeroOut)
	switch p.Op {
	case '-':
		g.op = 1
	case '*':
		g.op = 2
	}
	return g
}

// qarithAsm, where set, is QArithBytes on n (a multiple of 16) codes.
var qarithAsm func(dst, a, b unsafe.Pointer, n int, args *qarithArgs)

// SumDequantized adds to acc (c values) the dequantized values of rows
// rows of c 8-bit codes q (row-major: pixels × channels), one row after
// the other: acc[ch] += (code - zp)·scale in float32, row by row, so each
// channel's sum rounds as a float loop over the rows would (a global
// average pool over channels-last codes).
func SumDequantized(acc []float32, q []byte, rows int, signed bool, scale float32, zp int32) {
	c := len(acc)
	if len(q) < rows*c {
		panic(fmt.Sprintf("kernels: SumDequantized: %d codes for %d rows of %d", len(q), rows, c))
	}
	done := 0
	if c > 0 && rows > 0 {
		z := float32(zp)
		var flip uint32
		if signed {
			flip, z = 0x80808080, float32(zp+128)
		}
		switch {
		case sumDeqAsm != nil && QArithFast():
			done = c
			sumDeqAsm(&acc[0], unsafe.Pointer(&q[0]), rows, c, done, flip, z, scale)
		case sumDeqAVX2 != nil && c >= 8 && Quantize.Active() == "avx2":
			done = c &^ 7
			sumDeqAVX2(&acc[0], unsafe.Pointer(&q[0]), rows, c, done, flip, z, scale)
		}
	}
	if done == c {
		return
	}
	for r := 0; r < rows; r++ {
		row := q[r*c : (r+1)*c]
		for ch := done; ch < c; ch++ {
			acc[ch] += float32((float32(code(row[ch], signed)) - float32(zp)) * scale)
		}
	}
}

// sumDeqAsm and sumDeqAVX2, where set, are SumDequantized for channels
// [0, n) (any n; a multiple of 8 for AVX2) on the avx512 and avx2
// Quantize paths, codes XORed with flip (its low byte) in unsigned order
// less z.
var sumDeqAsm, sumDeqAVX2 func(acc *float32, q unsafe.Pointer, rows, c, n int, flip uint32, z, scale float32)

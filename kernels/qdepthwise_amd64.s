//go:build !purego

#include "funcdata.h"
#include "textflag.h"

// The quad kernel's stores: SI walks the pixels (R14 bytes apart), R12 is
// the channel block. STOREACC stores int32 sums; STOREREQ requantizes
// first, in qrequantRowGo's float32 steps (scale Z17, clamps Z18 and Z19,
// zero point Z20), and stores the low bytes. It rounds by adding 1.5·2^23
// (Z21; the clamped values are far below 2^22), after which the low byte
// of the bits is the rounded value mod 256: this spares VCVTPS2DQ, which
// competes with VPDPBUSD for port 0.
#define STOREACC(z) VMOVDQU32 z, K1, (SI)(R12*4); ADDQ R14, SI
#define STOREREQ(z) VCVTDQ2PS z, z; VMULPS Z17, z, z; VMAXPS Z18, z, z; VMINPS Z19, z, z; VADDPS Z21, z, z; VPADDD Z20, z, z; VPMOVDB z, K1, (SI)(R12*1); ADDQ R14, SI

// STORESETUP points SI at the first pixel, R14 at the pixel stride, and
// jumps to acc with int32 sums (scale nil); else loads the block's scales.
#define STORESETUP(acc) MOVQ DI, SI; MOVQ ldd+80(FP), R14; MOVQ scale+88(FP), AX; TESTQ AX, AX; JZ acc; VMOVUPS.Z (AX)(R12*4), K1, Z17

// STORE4 stores four pixels' accumulators (masked by K1) at DI + R12*4,
// pixels R11 bytes apart (SI is scratch).
#define STORE4(a, b, c, d) VMOVDQU32 a, K1, (DI)(R12*4); LEAQ (DI)(R11*1), SI; VMOVDQU32 b, K1, (SI)(R12*4); ADDQ R11, SI; VMOVDQU32 c, K1, (SI)(R12*4); ADDQ R11, SI; VMOVDQU32 d, K1, (SI)(R12*4)

// For each of npix output pixels p: acc[p*c+ch] = init[ch] +
// Σ_t x_t[ch]·w[t*c+ch], x_t = ptrs[t] (c uint8), after which every
// ptrs[t] moves by strides[t] bytes. 16 channels per vector, the last block
// masked (masked loads don't fault past the end).

// func qdwRow_avx512vnni(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)
//
// x zero-extended to int32 is the int16 pair (x, 0), w (|w| <= 255) the
// pair (w, sign): VPDPWSSD adds x·w + 0·sign, exactly.
TEXT ·qdwRow_avx512vnni(SB), NOSPLIT, $0-64
	MOVQ ptrs+0(FP), BX
	MOVQ ntaps+16(FP), R9
	MOVQ w+32(FP), DX
	MOVQ c+40(FP), R8
	MOVQ init+48(FP), R10
	MOVQ acc+56(FP), DI
	MOVQ R8, R11
	SHLQ $2, R11

vpixel:
	MOVQ npix+24(FP), AX
	CMPQ AX, $4
	JGE quad
	TESTQ AX, AX
	JLE vexit
	XORQ R12, R12

block:
	MOVQ R8, CX
	SUBQ R12, CX
	JLE done
	MOVL $0xFFFF, AX
	CMPQ CX, $16
	JGE setmask
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

setmask:
	KMOVW AX, K1
	VMOVDQU32.Z (R10)(R12*4), K1, Z0
	VPXORD Z4, Z4, Z4
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13
	MOVQ R9, CX
	SHRQ $1, CX
	JZ tap1

tap2:
	MOVQ (BX)(R13*8), SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z1
	MOVQ 8(BX)(R13*8), SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z3
	VPDPWSSD.Z (AX), Z1, K1, Z0
	VPDPWSSD.Z (AX)(R11*1), Z3, K1, Z4
	LEAQ (AX)(R11*2), AX
	ADDQ $2, R13
	DECQ CX
	JNZ tap2

tap1:
	CMPQ R13, R9
	JGE store
	MOVQ (BX)(R13*8), SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z1
	VPDPWSSD.Z (AX), Z1, K1, Z0

store:
	VPADDD Z4, Z0, Z0
	VMOVDQU32 Z0, K1, (DI)(R12*4)
	ADDQ $16, R12
	JMP block

done:
	// Next pixel, if any (the pointers never move past the last one):
	// every tap pointer moves by its stride.
	DECQ npix+24(FP)
	JLE vexit
	MOVQ strides+8(FP), AX
	XORQ R13, R13

vadv:
	MOVQ (AX)(R13*8), CX
	ADDQ CX, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT vadv
	ADDQ R11, DI
	JMP vpixel

vexit:
	VZEROUPPER
	RET

	// Four pixels at a time, one accumulator each: a pixel's taps are a
	// chain of dependent VPDPWSSDs, so independent pixels hide its latency.
quad:
	XORQ R12, R12

qblock:
	MOVQ R8, CX
	SUBQ R12, CX
	JLE qdone
	MOVL $0xFFFF, AX
	CMPQ CX, $16
	JGE qsetmask
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

qsetmask:
	KMOVW AX, K1
	VMOVDQU32.Z (R10)(R12*4), K1, Z0
	VMOVDQA64 Z0, Z5
	VMOVDQA64 Z0, Z6
	VMOVDQA64 Z0, Z7
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13

qtap:
	MOVQ strides+8(FP), CX
	MOVQ (CX)(R13*8), CX
	MOVQ (BX)(R13*8), SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z1
	VPDPWSSD.Z (AX), Z1, K1, Z0
	ADDQ CX, SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z2
	VPDPWSSD.Z (AX), Z2, K1, Z5
	ADDQ CX, SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z3
	VPDPWSSD.Z (AX), Z3, K1, Z6
	ADDQ CX, SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z4
	VPDPWSSD.Z (AX), Z4, K1, Z7
	ADDQ R11, AX
	INCQ R13
	CMPQ R13, R9
	JLT qtap
	STORE4(Z0, Z5, Z6, Z7)
	ADDQ $16, R12
	JMP qblock

qdone:
	// Next pixels, if any: every tap pointer moves by four strides; else
	// to the last pixel, by three (as the one-pixel loop leaves them).
	MOVQ strides+8(FP), AX
	XORQ R13, R13
	SUBQ $4, npix+24(FP)
	JLE qlast

qadv:
	MOVQ (AX)(R13*8), CX
	SHLQ $2, CX
	ADDQ CX, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT qadv
	LEAQ (DI)(R11*4), DI
	JMP vpixel

qlast:
	MOVQ (AX)(R13*8), CX
	LEAQ (CX)(CX*2), CX
	ADDQ CX, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT qlast
	JMP vexit

// func qdwRow_avx512(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)
//
// The same with VPMULLD + VPADDD (AVX512F only).
TEXT ·qdwRow_avx512(SB), NOSPLIT, $0-64
	MOVQ ptrs+0(FP), BX
	MOVQ ntaps+16(FP), R9
	MOVQ w+32(FP), DX
	MOVQ c+40(FP), R8
	MOVQ init+48(FP), R10
	MOVQ acc+56(FP), DI
	MOVQ R8, R11
	SHLQ $2, R11

fpixel:
	MOVQ npix+24(FP), AX
	TESTQ AX, AX
	JLE fexit
	XORQ R12, R12

fblock:
	MOVQ R8, CX
	SUBQ R12, CX
	JLE fdone
	MOVL $0xFFFF, AX
	CMPQ CX, $16
	JGE fsetmask
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

fsetmask:
	KMOVW AX, K1
	VMOVDQU32.Z (R10)(R12*4), K1, Z0
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13

ftap:
	MOVQ (BX)(R13*8), SI
	VPMOVZXBD.Z (SI)(R12*1), K1, Z1
	VPMULLD.Z (AX), Z1, K1, Z1
	VPADDD Z1, Z0, Z0
	ADDQ R11, AX
	INCQ R13
	CMPQ R13, R9
	JLT ftap
	VMOVDQU32 Z0, K1, (DI)(R12*4)
	ADDQ $16, R12
	JMP fblock

fdone:
	// Next pixel, if any (the pointers never move past the last one):
	// every tap pointer moves by its stride.
	DECQ npix+24(FP)
	JLE fexit
	MOVQ strides+8(FP), AX
	XORQ R13, R13

fadv:
	MOVQ (AX)(R13*8), CX
	ADDQ CX, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT fadv
	ADDQ R11, DI
	JMP fpixel

fexit:
	VZEROUPPER
	RET

// func qdwRow_avx2(ptrs *unsafe.Pointer, strides *int, ntaps, npix int, w *int32, c int, init, acc *int32)
//
// The same for channels [0, c&^7) only (8 per vector, no masking in AVX2:
// the caller does the last c%8 in Go): VPMADDWD of x (zero-extended: the
// int16 pair (x, 0)) by w (the pair (w, sign)) is x·w exactly, + VPADDD.
TEXT ·qdwRow_avx2(SB), NOSPLIT, $0-64
	MOVQ ptrs+0(FP), BX
	MOVQ ntaps+16(FP), R9
	MOVQ w+32(FP), DX
	MOVQ c+40(FP), R8
	MOVQ init+48(FP), R10
	MOVQ acc+56(FP), DI
	MOVQ R8, R11
	SHLQ $2, R11

apixel:
	MOVQ npix+24(FP), AX
	TESTQ AX, AX
	JLE aexit
	XORQ R12, R12

ablock:
	MOVQ R8, CX
	ANDQ $-8, CX
	SUBQ R12, CX
	JLE adone
	VMOVDQU (R10)(R12*4), Y0
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13

atap:
	MOVQ (BX)(R13*8), SI
	VPMOVZXBD (SI)(R12*1), Y1
	VPMADDWD (AX), Y1, Y1
	VPADDD Y1, Y0, Y0
	ADDQ R11, AX
	INCQ R13
	CMPQ R13, R9
	JLT atap
	VMOVDQU Y0, (DI)(R12*4)
	ADDQ $8, R12
	JMP ablock

adone:
	// Next pixel, if any (the pointers never move past the last one).
	DECQ npix+24(FP)
	JLE aexit
	MOVQ strides+8(FP), AX
	XORQ R13, R13

aadv:
	MOVQ (AX)(R13*8), CX
	ADDQ CX, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT aadv
	ADDQ R11, DI
	JMP apixel

aexit:
	VZEROUPPER
	RET

// MASK16 sets K1 to the low min(n, 16) lanes (n is clamped; t is
// scratch).
#define MASK16(n, t) MOVL $16, t; CMPQ n, t; CMOVQGT t, n; MOVL $0xFFFF, t; BZHIL n, t, t; KMOVW t, K1

// func qdwQuad_avx512vnni(rows *unsafe.Pointer, kh, nq, sws, npix int, wq *int32, c, wstride int, init *int32, dst unsafe.Pointer, ldd int, scale *float32, flo, fhi float32, zp int32)
//
// The quad form of qdwRow (see qdwQuadAsm): for each of npix output
// pixels and each 16-channel block, acc = init + Σ over kernel rows ky and
// quads q of VPDPBUSD(Q, wq): Q the kernel row's quad row at pixel·sws +
// 16·C·q bytes (four uint8 columns of a channel per dword), wq the four
// int8 taps (c channels of a quad row or acc pixel; wq rows wstride int32
// apart). Eight or four pixels at a time, one accumulator each; every
// rows[ky] moves on to the next pixels, never past the last one. Pixel p's
// c channels go to dst + p·ldd: the int32 sums if scale is nil, else
// requantized as qrequantRow does (scale: c per-channel factors; flo, fhi
// relative to zp) to c bytes. Only the stores are masked: the loads of wq
// and the quad rows read up to 15 int32 past the last channel.
TEXT ·qdwQuad_avx512vnni(SB), NOSPLIT, $0-108
	MOVQ rows+0(FP), BX
	MOVQ kh+8(FP), R9
	MOVQ sws+24(FP), R15
	MOVQ wq+40(FP), DX
	MOVQ c+48(FP), R8
	MOVQ init+64(FP), R10
	MOVQ dst+72(FP), DI
	MOVQ R8, R11
	SHLQ $2, R11
	LEAQ (R15)(R15*2), CX
	SHLQ $2, wstride+56(FP)
	VBROADCASTSS flo+96(FP), Z18
	VBROADCASTSS fhi+100(FP), Z19
	MOVL zp+104(FP), AX
	VPBROADCASTD AX, Z20
	MOVL $0x4B400000, AX
	VPBROADCASTD AX, Z21

qpix:
	MOVQ npix+32(FP), AX
	CMPQ AX, $8
	JGE q8
	CMPQ AX, $4
	JLT one
	XORQ R12, R12

qblk:
	MOVQ R8, AX
	SUBQ R12, AX
	JLE qnext
	MASK16(AX, R13)
	VMOVDQU32.Z (R10)(R12*4), K1, Z0
	VMOVDQA64 Z0, Z1
	VMOVDQA64 Z0, Z2
	VMOVDQA64 Z0, Z3
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13

qky:
	MOVQ (BX)(R13*8), SI
	LEAQ (SI)(R12*4), SI
	MOVQ nq+16(FP), R14

qq:
	VMOVDQU32 (AX), Z8
	VMOVDQU32 (SI), Z4
	VPDPBUSD Z8, Z4, Z0
	VMOVDQU32 (SI)(R15*1), Z5
	VPDPBUSD Z8, Z5, Z1
	VMOVDQU32 (SI)(R15*2), Z6
	VPDPBUSD Z8, Z6, Z2
	VMOVDQU32 (SI)(CX*1), Z7
	VPDPBUSD Z8, Z7, Z3
	ADDQ wstride+56(FP), AX
	LEAQ (SI)(R11*4), SI
	DECQ R14
	JNZ qq
	INCQ R13
	CMPQ R13, R9
	JLT qky
	STORESETUP(qacc)
	STOREREQ(Z0)
	STOREREQ(Z1)
	STOREREQ(Z2)
	STOREREQ(Z3)
	JMP qstored

qacc:
	STOREACC(Z0)
	STOREACC(Z1)
	STOREACC(Z2)
	STOREACC(Z3)

qstored:
	ADDQ $16, R12
	JMP qblk

qnext:
	// The pointers never move past the last pixel (they are Go pointers).
	SUBQ $4, npix+32(FP)
	JLE qexit
	MOVQ ldd+80(FP), AX
	LEAQ (DI)(AX*4), DI
	MOVQ R15, AX
	SHLQ $2, AX
	XORQ R13, R13

qadv:
	ADDQ AX, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT qadv
	JMP qpix

q8:
	// Eight pixels: eight independent accumulators hide VPDPBUSD's
	// latency, which four leave exposed. R9 (kh) holds pixel 4's quads.
	XORQ R12, R12

q8blk:
	MOVQ R8, AX
	SUBQ R12, AX
	JLE q8next
	MASK16(AX, R13)
	VMOVDQU32.Z (R10)(R12*4), K1, Z0
	VMOVDQA64 Z0, Z1
	VMOVDQA64 Z0, Z2
	VMOVDQA64 Z0, Z3
	VMOVDQA64 Z0, Z4
	VMOVDQA64 Z0, Z5
	VMOVDQA64 Z0, Z6
	VMOVDQA64 Z0, Z7
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13

q8ky:
	MOVQ (BX)(R13*8), SI
	LEAQ (SI)(R12*4), SI
	LEAQ (SI)(R15*4), R9
	MOVQ nq+16(FP), R14

q8q:
	VMOVDQU32 (AX), Z8
	VMOVDQU32 (SI), Z9
	VPDPBUSD Z8, Z9, Z0
	VMOVDQU32 (SI)(R15*1), Z10
	VPDPBUSD Z8, Z10, Z1
	VMOVDQU32 (SI)(R15*2), Z11
	VPDPBUSD Z8, Z11, Z2
	VMOVDQU32 (SI)(CX*1), Z12
	VPDPBUSD Z8, Z12, Z3
	VMOVDQU32 (R9), Z13
	VPDPBUSD Z8, Z13, Z4
	VMOVDQU32 (R9)(R15*1), Z14
	VPDPBUSD Z8, Z14, Z5
	VMOVDQU32 (R9)(R15*2), Z15
	VPDPBUSD Z8, Z15, Z6
	VMOVDQU32 (R9)(CX*1), Z16
	VPDPBUSD Z8, Z16, Z7
	ADDQ wstride+56(FP), AX
	LEAQ (SI)(R11*4), SI
	LEAQ (R9)(R11*4), R9
	DECQ R14
	JNZ q8q
	INCQ R13
	CMPQ R13, kh+8(FP)
	JLT q8ky
	STORESETUP(q8acc)
	STOREREQ(Z0)
	STOREREQ(Z1)
	STOREREQ(Z2)
	STOREREQ(Z3)
	STOREREQ(Z4)
	STOREREQ(Z5)
	STOREREQ(Z6)
	STOREREQ(Z7)
	JMP q8stored

q8acc:
	STOREACC(Z0)
	STOREACC(Z1)
	STOREACC(Z2)
	STOREACC(Z3)
	STOREACC(Z4)
	STOREACC(Z5)
	STOREACC(Z6)
	STOREACC(Z7)

q8stored:
	ADDQ $16, R12
	JMP q8blk

q8next:
	MOVQ kh+8(FP), R9
	SUBQ $8, npix+32(FP)
	JLE qexit
	MOVQ ldd+80(FP), AX
	LEAQ (DI)(AX*8), DI
	MOVQ R15, AX
	SHLQ $3, AX
	XORQ R13, R13

q8adv:
	ADDQ AX, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT q8adv
	JMP qpix

one:
	TESTQ AX, AX
	JLE qexit
	XORQ R12, R12

oblk:
	MOVQ R8, AX
	SUBQ R12, AX
	JLE onext
	MASK16(AX, R13)
	VMOVDQU32.Z (R10)(R12*4), K1, Z0
	LEAQ (DX)(R12*4), AX
	XORQ R13, R13

oky:
	MOVQ (BX)(R13*8), SI
	LEAQ (SI)(R12*4), SI
	MOVQ nq+16(FP), R14

oq:
	VMOVDQU32 (AX), Z8
	VMOVDQU32 (SI), Z4
	VPDPBUSD Z8, Z4, Z0
	ADDQ wstride+56(FP), AX
	LEAQ (SI)(R11*4), SI
	DECQ R14
	JNZ oq
	INCQ R13
	CMPQ R13, R9
	JLT oky
	STORESETUP(oacc)
	STOREREQ(Z0)
	JMP ostored

oacc:
	STOREACC(Z0)

ostored:
	ADDQ $16, R12
	JMP oblk

onext:
	DECQ npix+32(FP)
	JLE qexit
	ADDQ ldd+80(FP), DI
	XORQ R13, R13

oadv:
	ADDQ R15, (BX)(R13*8)
	INCQ R13
	CMPQ R13, R9
	JLT oadv
	JMP qpix

qexit:
	VZEROUPPER
	RET

// func qdwQuadBuild_avx512(dst *int32, segs *qdwSeg, c, off int)
//
// dst[j*c+ch] = x[j][ch] | x[j+1][ch]<<8 | x[j+2][ch]<<16 | x[j+3][ch]<<24
// for ch < c, where x runs through the columns of the three segments
// (segs[k]: n columns of bytes, the first at p + off, stride apart, each
// byte XOR segs[k].flip) and j through all but its last three: per
// 16-channel block, each quad is the previous one shifted down a byte
// with the next column's byte on top, stored from the fourth column on.
TEXT ·qdwQuadBuild_avx512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ c+16(FP), R8
	MOVQ off+24(FP), R10
	MOVQ R8, R11
	SHLQ $2, R11
	XORQ R12, R12

bblk:
	MOVQ R8, AX
	SUBQ R12, AX
	JLE bdone
	MASK16(AX, CX)
	LEAQ (R10)(R12*1), R13
	LEAQ (DI)(R12*4), DX
	VPXORD Z0, Z0, Z0
	MOVQ $-3, R14
	MOVQ segs+8(FP), R9
	MOVQ $3, R15

bseg:
	MOVQ 0(R9), BX
	MOVQ 8(R9), AX
	MOVQ 16(R9), CX
	MOVL 24(R9), SI
	VPBROADCASTD SI, Z2

bcol:
	TESTQ CX, CX
	JZ bsegdone
	VPMOVZXBD.Z (BX)(R13*1), K1, Z1
	VPXORD Z2, Z1, Z1
	VPSRLD $8, Z0, Z0
	VPSLLD $24, Z1, Z1
	VPORD Z1, Z0, Z0
	INCQ R14
	JLE bskip
	VMOVDQU32 Z0, K1, (DX)
	ADDQ R11, DX

bskip:
	ADDQ AX, BX
	DECQ CX
	JMP bcol

bsegdone:
	ADDQ $32, R9
	DECQ R15
	JNZ bseg
	ADDQ $16, R12
	JMP bblk

bdone:
	VZEROUPPER
	RET

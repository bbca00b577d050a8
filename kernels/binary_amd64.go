//go:build !purego

package kernels

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_binary_amd64.go > binary_amd64.s"

// Binary microkernels in binary_amd64.s (see bkernel for the contract).

//go:noescape
func bgemm_6x32_avx512vpopcnt(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int)

//go:noescape
func bgemm_2x8_avx2(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int)

//go:noescape
func bgemm_1x8_popcnt(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int)

// Register-only XOR+POPCNT+ADD loops: n iterations of 24 zmm (avx512),
// 8 ymm (avx2) or 8 scalar (popcnt) XOR, popcount and add triples.
func bpeak_avx512vpopcnt(n int)
func bpeak_avx2(n int)
func bpeak_popcnt(n int)

// Float output stages for n a multiple of 16 (avx512) or 8 (avx2).

//go:noescape
func boutF32_avx512(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32)

//go:noescape
func boutF32_avx2(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32)

// The same without the clamp, for lo = -Inf and hi = +Inf.

//go:noescape
func boutF32nc_avx512(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32)

//go:noescape
func boutF32nc_avx2(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32)

//go:noescape
func boutI8_avx512(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **int8)

//go:noescape
func boutI8_avx2(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **int8)

// Bits output stages for n a multiple of 16 (avx512) or 8 (avx2): they
// write n/16 (n/8) pieces of each row's bits.

//go:noescape
func boutBits_avx512(rows, n int, pop *int32, ldp int, kc **int32, sgn, thr *int32, dst **uint64)

//go:noescape
func boutBits_avx2(rows, n int, pop *int32, ldp int, kc **int32, sgn, thr *int32, dst **uint64)

// Sign packers: words×64 floats to words words (see PackSigns).

//go:noescape
func packSigns_avx512(dst *uint64, x *float32, words int)

//go:noescape
func packSigns_avx2(dst *uint64, x *float32, words int)

// Threshold sign packers (see binaryImpl.packT and packCodes).

//go:noescape
func packCodes_avx512(dst *uint64, x, thr *byte, or *uint64, pixels, wc int, flip uint64)

//go:noescape
func packCodes_avx2(dst *uint64, x, thr *byte, or *uint64, pixels, wc int, flip uint64)

//go:noescape
func packSignsT_avx512(dst *uint64, x, thr *float32, pixels, wc int)

//go:noescape
func packSignsT_avx2(dst *uint64, x, thr *float32, pixels, wc int)

// Measured on the Sapphire Rapids-class Xeon (qtool bench --kernels,
// single thread, best of 9 rounds, register-only XOR+POPCNT+ADD ceilings
// in the same run): bgemm_6x32_avx512vpopcnt 2458 GOPS of a 2452 ceiling,
// bgemm_2x8_avx2 670 of 689, bgemm_1x8_popcnt 458 of 460; 3x3 binary conv
// 64->64 on 56x56 1712 GOPS (0.135 ms, 18.1x our fp32 conv) and 128->128
// on 28x28 1961 GOPS (0.118 ms, 15.8x) on avx512vpopcnt, 662 and 627 GOPS
// on avx2 (7.0x and 5.0x the avx512 fp32 conv, whose ratio the
// nibble-lookup ceiling caps at 5.5x for 128 channels; 10.0x and 7.3x the
// fp32 conv on the avx2 fp32 path).
var binaryRegistered = func() bool {
	x := cpu.X86
	// The AVX-512 kernels use AVX512F (zmm XOR/ADD, VPMOVQD, the float
	// stage) and VPOPCNTDQ; the AVX2 ones AVX2 only (the float stage
	// multiplies and adds separately: no FMA).
	avx512 := x.HasAVX512F && x.HasAVX512VPOPCNTDQ && x.HasAVX2
	avx2 := x.HasAVX && x.HasAVX2
	if Binary.support("avx512vpopcnt", avx512, "needs AVX512F and AVX512VPOPCNTDQ") {
		binaryImpls[bpAVX512] = binaryImpl{
			gemm:    bkernel{"bgemm_6x32_avx512vpopcnt", 6, 32, bgemm_6x32_avx512vpopcnt},
			outF32:  outF32Vector(unclamped(boutF32_avx512, boutF32nc_avx512), 16),
			outI8:   outI8Vector(boutI8_avx512, 16),
			outBits: outBitsVector(boutBits_avx512, 16),
			pack:    packSigns_avx512,
			packT:   packSignsT_avx512,
			peak:    func(n int) float64 { bpeak_avx512vpopcnt(n); return float64(n) * 24 * 512 * 2 },
		}
		if x.HasAVX512BW { // byte compares and 64-bit masks
			binaryImpls[bpAVX512].packC = packCodesVector(packCodes_avx512, 0)
		} else {
			binaryImpls[bpAVX512].packC = packCodesVector(packCodes_avx2, 0x80)
		}
	}
	if Binary.support("avx2", avx2, "needs AVX2") {
		binaryImpls[bpAVX2] = binaryImpl{
			gemm:    bkernel{"bgemm_2x8_avx2", 2, 8, bgemm_2x8_avx2},
			outF32:  outF32Vector(unclamped(boutF32_avx2, boutF32nc_avx2), 8),
			outI8:   outI8Vector(boutI8_avx2, 8),
			outBits: outBitsVector(boutBits_avx2, 8),
			pack:    packSigns_avx2,
			packT:   packSignsT_avx2,
			packC:   packCodesVector(packCodes_avx2, 0x80),
			peak:    func(n int) float64 { bpeak_avx2(n); return float64(n) * 8 * 256 * 2 },
		}
	}
	if Binary.support("popcnt", x.HasPOPCNT, "needs POPCNT") {
		binaryImpls[bpPopcnt] = binaryImpl{
			gemm: bkernel{"bgemm_1x8_popcnt", 1, 8, bgemm_1x8_popcnt},
			peak: func(n int) float64 { bpeak_popcnt(n); return float64(n) * 8 * 64 * 2 },
		}
	}
	return true
}()

type boutF32Asm = func(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32)

// unclamped picks nc, the stage without VMAXPS/VMINPS, when there is no
// clamp (min and max with infinities change nothing, the values being
// finite).
func unclamped(clamp, nc boutF32Asm) boutF32Asm {
	return func(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32) {
		if math.IsInf(float64(lo), -1) && math.IsInf(float64(hi), 1) {
			nc(rows, n, pop, ldp, kc, mult, bias, lo, hi, dst)
			return
		}
		clamp(rows, n, pop, ldp, kc, mult, bias, lo, hi, dst)
	}
}

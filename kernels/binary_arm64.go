//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate sh -c "go run _generate/gen_binary_arm64.go > binary_arm64.s"

// Binary microkernel in binary_arm64.s (see bkernel for the contract).

//go:noescape
func bgemm_4x8_neon(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int)

// bpeak_neon runs n iterations of 16 register-only EOR+CNT+UADALP
// triples on 128-bit vectors.
func bpeak_neon(n int)

// Output stages for n a multiple of 4 (float) or 16 (bits), and the sign
// packer (see the amd64 ones).

//go:noescape
func boutF32_neon(rows, n int, pop *int32, ldp int, kc **int32, mult, bias *float32, lo, hi float32, dst **float32)

//go:noescape
func boutBits_neon(rows, n int, pop *int32, ldp int, kc **int32, sgn, thr *int32, dst **uint64)

//go:noescape
func packSigns_neon(dst *uint64, x *float32, words int)

// The int8 stage is the Go one.
var binaryRegistered = func() bool {
	if Binary.support("neon", cpu.ARM64.HasASIMD, "needs ASIMD") {
		binaryImpls[bpNEON] = binaryImpl{
			gemm:    bkernel{"bgemm_4x8_neon", 4, 8, bgemm_4x8_neon},
			outF32:  outF32Vector(boutF32_neon, 4),
			outBits: outBitsVector(boutBits_neon, 16),
			pack:    packSigns_neon,
			peak:    func(n int) float64 { bpeak_neon(n); return float64(n) * 16 * 128 * 2 },
			// Halfword accumulators take up to 16 per k step.
			maxK: 4095,
		}
	}
	return true
}()

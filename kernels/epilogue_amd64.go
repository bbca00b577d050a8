//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate sh -c "go run _generate/gen_vec_amd64.go epilogue > epilogue_amd64.s"

//go:noescape
func biasActRowAVX2(x *float32, n int, bias, res *float32, mode int, lo, hi float32)

//go:noescape
func biasActRowAVX512(x *float32, n int, bias, res *float32, mode int, lo, hi float32)

var (
	epilogueAVX2   = cpu.X86.HasAVX && cpu.X86.HasAVX2
	epilogueAVX512 = epilogueAVX2 && cpu.X86.HasAVX512F
)

// biasActRow applies the epilogue to one row in assembly where it can:
// row (+ *bias) (+ res) then the activation. It reports false, touching
// nothing, for the other activations, where AVX2 is missing and on the
// generic path; the Go epilogue then runs. The result is bit-identical to
// the Go epilogue's (TestBiasActRow).
func biasActRow(row []float32, bias *float32, res []float32, act Activation, alpha, beta float32) bool {
	path := ActivePath()
	n := len(row) &^ 7
	if path == PathAVX512 && epilogueAVX512 {
		n = len(row) // the last vector goes under a mask
	}
	if !epilogueAVX2 || n == 0 || path == PathGeneric {
		return false
	}
	mode, lo, hi := 0, float32(0), beta
	switch act {
	case ActNone:
	case ActRelu:
		mode = 1
	case ActClip:
		mode, lo = 3, alpha
	case ActHardSigmoid:
		mode, lo = 4, alpha
	case ActHardSwish:
		mode, lo, hi = 8, 1.0/6, 0.5
	default:
		return false
	}
	var r *float32
	if res != nil {
		r = &res[0]
	}
	if n == len(row) && path == PathAVX512 {
		biasActRowAVX512(&row[0], n, bias, r, mode, lo, hi)
		return true
	}
	biasActRowAVX2(&row[0], n, bias, r, mode, lo, hi)
	if n < len(row) {
		var rt []float32
		if res != nil {
			rt = res[n:]
		}
		biasActRowGo(row[n:], bias, rt, act, alpha, beta)
	}
	return true
}

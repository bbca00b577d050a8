//go:build !purego

package kernels

//go:noescape
func biasActRowNEON(x *float32, n int, bias, res *float32, mode int, lo, hi float32)

// biasActRow applies the epilogue to one row in assembly on the NEON path:
// row (+ *bias) (+ res) then the activation, the leading multiple of 4
// elements in assembly and the rest in Go. It reports false, touching
// nothing, on other paths and for empty rows; the Go epilogue then runs.
// The result is bit-identical to the Go epilogue's (TestBiasActRow).
func biasActRow(row []float32, bias *float32, res []float32, act Activation, alpha, beta float32) bool {
	n := len(row) &^ 3
	if n == 0 || ActivePath() != PathNEON {
		return false
	}
	mode, lo, hi := 0, alpha, beta
	switch act {
	case ActNone:
	case ActRelu:
		mode = 1
	case ActClip:
		mode = 2
	case ActHardSigmoid:
		mode = 3
	case ActHardSwish:
		mode, lo, hi = 4, 1.0/6, 0.5
	case ActLeakyRelu:
		mode = 5
	default:
		return false
	}
	var r *float32
	if res != nil {
		r = &res[0]
	}
	biasActRowNEON(&row[0], n, bias, r, mode, lo, hi)
	if n < len(row) {
		var rt []float32
		if res != nil {
			rt = res[n:]
		}
		biasActRowGo(row[n:], bias, rt, act, alpha, beta)
	}
	return true
}

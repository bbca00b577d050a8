//go:build !purego

package kernels

// Tap-sum kernel in tapsum_arm64.s: n outputs (a multiple of 4), taps ≥ 1,
// offsets in floats.

//go:noescape
func tapsum_neon(n int, data *float32, off *int, w *float32, taps int, out *float32)

// tapSumAsm computes the leading multiple of 4 outputs of TapSum on the
// NEON path and returns how many.
func tapSumAsm(out, data []float32, off []int, w []float32) int {
	if ActivePath() != PathNEON {
		return 0
	}
	n := len(out) &^ 3
	if n > 0 {
		tapsum_neon(n, &data[0], &off[0], &w[0], len(w), &out[0])
	}
	return n
}

//go:build !purego

package kernels

//go:generate sh -c "go run _generate/gen_vec_amd64.go tapsum > tapsum_amd64.s"

// Tap-sum kernels in tapsum_amd64.s: n outputs (any n for AVX-512, a
// multiple of 8 for AVX2), taps ≥ 1, offsets in floats.

//go:noescape
func tapsum_64_avx512(n int, data *float32, off *int, w *float32, taps int, out *float32)

//go:noescape
func tapsum_32_avx2(n int, data *float32, off *int, w *float32, taps int, out *float32)

// tapSumAsm computes the leading outputs of TapSum that the active path's
// vector width covers and returns how many.
func tapSumAsm(out, data []float32, off []int, w []float32) int {
	switch ActivePath() {
	case PathAVX512:
		if len(out) > 0 {
			tapsum_64_avx512(len(out), &data[0], &off[0], &w[0], len(w), &out[0])
		}
		return len(out)
	case PathAVX2:
		n := len(out) &^ 7
		if n > 0 {
			tapsum_32_avx2(n, &data[0], &off[0], &w[0], len(w), &out[0])
		}
		return n
	}
	return 0
}

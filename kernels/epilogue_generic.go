//go:build purego || !(amd64 || arm64)

package kernels

// biasActRow has no assembly here: the Go epilogue runs.
func biasActRow(row []float32, bias *float32, res []float32, act Activation, alpha, beta float32) bool {
	return false
}

package kernels

import "math"

// sameFloat reports whether a and b are the same float32: the same bits,
// or both NaN. Which NaN payload an addition or multiplication of two NaNs
// propagates depends on the order of its operands, which Go leaves to the
// compiler (it differs between amd64 and arm64, and under -race), so paths
// may differ there and only there.
func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

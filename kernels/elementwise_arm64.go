//go:build !purego

package kernels

//go:generate sh -c "GOOS= GOARCH= go run _generate/gen_elementwise_arm64.go > elementwise_arm64.s"

//go:noescape
func elemAddVVNEON(dst, a, b *float32, n int)

//go:noescape
func elemAddVSNEON(dst, a, b *float32, n int)

//go:noescape
func elemAddSVNEON(dst, a, b *float32, n int)

//go:noescape
func elemSubVVNEON(dst, a, b *float32, n int)

//go:noescape
func elemSubVSNEON(dst, a, b *float32, n int)

//go:noescape
func elemSubSVNEON(dst, a, b *float32, n int)

//go:noescape
func elemMulVVNEON(dst, a, b *float32, n int)

//go:noescape
func elemMulVSNEON(dst, a, b *float32, n int)

//go:noescape
func elemMulSVNEON(dst, a, b *float32, n int)

//go:noescape
func elemDivVVNEON(dst, a, b *float32, n int)

//go:noescape
func elemDivVSNEON(dst, a, b *float32, n int)

//go:noescape
func elemDivSVNEON(dst, a, b *float32, n int)

//go:noescape
func elemMaxVVNEON(dst, a, b *float32, n int)

//go:noescape
func elemMaxVSNEON(dst, a, b *float32, n int)

//go:noescape
func elemMaxSVNEON(dst, a, b *float32, n int)

//go:noescape
func elemMinVVNEON(dst, a, b *float32, n int)

//go:noescape
func elemMinVSNEON(dst, a, b *float32, n int)

//go:noescape
func elemMinSVNEON(dst, a, b *float32, n int)

// elemNEON[op][form] is the kernel for op with form 0 (vector, vector),
// 1 (vector, scalar) or 2 (scalar, vector).
var elemNEON = [numElemOps][3]func(dst, a, b *float32, n int){
	{elemAddVVNEON, elemAddVSNEON, elemAddSVNEON},
	{elemSubVVNEON, elemSubVSNEON, elemSubSVNEON},
	{elemMulVVNEON, elemMulVSNEON, elemMulSVNEON},
	{elemDivVVNEON, elemDivVSNEON, elemDivSVNEON},
	{elemMaxVVNEON, elemMaxVSNEON, elemMaxSVNEON},
	{elemMinVVNEON, elemMinVSNEON, elemMinSVNEON},
}

// elementwiseAsm computes the leading multiple of 4 elements of
// Elementwise on the NEON path and returns how many.
func elementwiseAsm(op ElemOp, form int, dst, a, b []float32) int {
	n := len(dst) &^ 3
	if n == 0 || ActivePath() != PathNEON {
		return 0
	}
	elemNEON[op][form](&dst[0], &a[0], &b[0], n)
	return n
}

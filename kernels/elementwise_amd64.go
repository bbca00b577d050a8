//go:build !purego

package kernels

//go:generate sh -c "go run _generate/gen_vec_amd64.go elementwise > elementwise_amd64.s"

//go:noescape
func elemAddVVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemAddVSAVX2(dst, a, b *float32, n int)

//go:noescape
func elemAddSVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemSubVVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemSubVSAVX2(dst, a, b *float32, n int)

//go:noescape
func elemSubSVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMulVVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMulVSAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMulSVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemDivVVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemDivVSAVX2(dst, a, b *float32, n int)

//go:noescape
func elemDivSVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMaxVVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMaxVSAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMaxSVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMinVVAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMinVSAVX2(dst, a, b *float32, n int)

//go:noescape
func elemMinSVAVX2(dst, a, b *float32, n int)

// elemAVX2[op][form] is the kernel for op with form 0 (vector, vector),
// 1 (vector, scalar) or 2 (scalar, vector).
var elemAVX2 = [numElemOps][3]func(dst, a, b *float32, n int){
	{elemAddVVAVX2, elemAddVSAVX2, elemAddSVAVX2},
	{elemSubVVAVX2, elemSubVSAVX2, elemSubSVAVX2},
	{elemMulVVAVX2, elemMulVSAVX2, elemMulSVAVX2},
	{elemDivVVAVX2, elemDivVSAVX2, elemDivSVAVX2},
	{elemMaxVVAVX2, elemMaxVSAVX2, elemMaxSVAVX2},
	{elemMinVVAVX2, elemMinVSAVX2, elemMinSVAVX2},
}

// elementwiseAsm computes the leading multiple of 8 elements of
// Elementwise and returns how many.
func elementwiseAsm(op ElemOp, form int, dst, a, b []float32) int {
	n := len(dst) &^ 7
	if n == 0 || !epilogueAVX2 || ActivePath() == PathGeneric {
		return 0
	}
	elemAVX2[op][form](&dst[0], &a[0], &b[0], n)
	return n
}

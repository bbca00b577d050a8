//go:build !purego && (amd64 || arm64)

package kernels

// lookupKernel is a path's Lookup8 kernel, which takes n a multiple of
// mult, and its Lookup8x2 kernel (nil: Go), which takes n a multiple of
// mult2.
type lookupKernel struct {
	f     func(dst, src *uint8, n int, tab *[256]uint8)
	mult  int
	f2    func(dst, a, b *uint8, n int, tab *[1 << 16]uint8)
	mult2 int
}

// lookupAsm runs the active path's kernel on the longest multiple of its
// step of src and returns how many bytes it did.
func lookupAsm(dst, src []uint8, tab *[256]uint8) int {
	k := lookupPaths[Lookup.activeIndex()]
	if k.f == nil {
		return 0
	}
	n := len(src) / k.mult * k.mult
	if n == 0 {
		return 0
	}
	k.f(&dst[0], &src[0], n, tab)
	return n
}

// lookup2Asm is lookupAsm for Lookup8x2.
func lookup2Asm(dst, a, b []uint8, tab *[1 << 16]uint8) int {
	k := lookupPaths[Lookup.activeIndex()]
	if k.f2 == nil {
		return 0
	}
	n := len(a) / k.mult2 * k.mult2
	if n == 0 {
		return 0
	}
	k.f2(&dst[0], &a[0], &b[0], n, tab)
	return n
}

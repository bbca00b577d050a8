//go:build purego || !(amd64 || arm64)

package kernels

// lookupAsm has no assembly here: Lookup8 runs in Go.
func lookupAsm(dst, src []uint8, tab *[256]uint8) int { return 0 }

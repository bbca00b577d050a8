//go:build purego || !(amd64 || arm64)

package kernels

// lookupAsm and lookup2Asm have no assembly here: Lookup8 and Lookup8x2
// run in Go.
func lookupAsm(dst, src []uint8, tab *[256]uint8) int { return 0 }

func lookup2Asm(dst, a, b []uint8, tab *[1 << 16]uint8) int { return 0 }

//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate sh -c "go run _generate/gen_lookup_amd64.go > lookup_amd64.s"

// lookup8_avx512vbmi takes any n (the tail with masked loads and
// stores); lookup8_avx2 a multiple of 32; the lookup8x2 kernels a
// multiple of 16 (avx512) or 8 (avx2).

//go:noescape
func lookup8_avx512vbmi(dst, src *uint8, n int, tab *[256]uint8)

//go:noescape
func lookup8_avx2(dst, src *uint8, n int, tab *[256]uint8)

//go:noescape
func lookup8x2_avx512(dst, a, b *uint8, n int, tab *[1 << 16]uint8)

//go:noescape
func lookup8x2_avx2(dst, a, b *uint8, n int, tab *[1 << 16]uint8)

// lookupPaths are the kernels by path index.
var lookupPaths = func() []lookupKernel {
	x := cpu.X86
	avx2 := x.HasAVX && x.HasAVX2
	Lookup.support("avx2", avx2, "needs AVX2")
	Lookup.support("avx512vbmi", avx2 && x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VBMI, "needs AVX512F, AVX512BW and AVX512VBMI")
	k := make([]lookupKernel, len(Lookup.paths))
	k[Lookup.index("avx2")] = lookupKernel{lookup8_avx2, 32, lookup8x2_avx2, 8}
	k[Lookup.index("avx512vbmi")] = lookupKernel{lookup8_avx512vbmi, 1, lookup8x2_avx512, 16}
	return k
}()

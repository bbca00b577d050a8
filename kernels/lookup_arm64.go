//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate sh -c "GOOS= GOARCH= go run _generate/gen_lookup_arm64.go > lookup_arm64.s"

// lookup8_neon takes n a multiple of 16.
//
//go:noescape
func lookup8_neon(dst, src *uint8, n int, tab *[256]uint8)

// lookupPaths are the kernels by path index.
var lookupPaths = func() []lookupKernel {
	Lookup.support("neon", cpu.ARM64.HasASIMD, "needs ASIMD")
	k := make([]lookupKernel, len(Lookup.paths))
	k[Lookup.index("neon")] = lookupKernel{f: lookup8_neon, mult: 16}
	return k
}()

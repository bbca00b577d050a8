//go:build purego || !(amd64 || arm64)

// Architectures without binary assembly (and the purego build) run the
// generic path only: binaryImpls holds it from the start, and nothing
// calls Binary.support.

package kernels

//go:build !race

// The race detector allocates on its own, so this file is left out of
// race-enabled builds.

package kernels

import "testing"

// Steady-state Sgemm allocates nothing (packing buffers come from a pool).
func TestSgemmNoAlloc(t *testing.T) {
	m, n, k := 40, 70, 50
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	pb := PackB(k, n, b, n, false).Operand()
	ep := &Epilogue{Act: ActRelu, RowBias: make([]float32, m)}
	allocs := testing.AllocsPerRun(20, func() {
		Sgemm(m, n, k, Dense(a, k, false), pb, c, n, ep, 1)
	})
	if allocs > 0 {
		t.Errorf("%v allocations per Sgemm", allocs)
	}
	off := make([]int, k)
	for p := range off {
		off[p] = p * n
	}
	allocs = testing.AllocsPerRun(20, func() {
		Sgemm(m, n, k, Dense(a, k, false), Rows(b, off), c, n, ep, 1)
	})
	if allocs > 0 {
		t.Errorf("%v allocations per Sgemm with Rows", allocs)
	}
}

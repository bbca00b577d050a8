package kernels

import (
	"math"
	"unsafe"
)

// fmaf32 returns x*y+z rounded once to float32 (round to nearest even), as
// VFMADD231PS and ARM's FMLA compute it. Go has no float32 FMA, and
// float32(math.FMA(x, y, z)) rounds twice (to float64, then to float32),
// which can differ. Instead: x*y is exact in float64 (24+24 bits), the sum
// is computed in float64 with its exact error (TwoSum), and the float64
// sum is turned into round-to-odd (Boldo and Melquiond, "When double
// rounding is odd"), after which rounding to float32 is exact-once. Float64
// subnormals can't arise from float32 inputs (|x*y| >= 2^-298), and float32
// subnormal results come out right because round-to-odd at 53 bits is
// innocuous for any coarser target grid.
func fmaf32(x, y, z float32) float32 {
	xy := float64(x) * float64(y)
	zz := float64(z)
	s := xy + zz
	bb := s - xy
	e := (xy - (s - bb)) + (zz - bb) // s + e == xy + zz exactly
	bits := math.Float64bits(s)
	if e != 0 && bits&0x7ff0000000000000 != 0x7ff0000000000000 {
		// Inexact and finite: round to odd, i.e. truncate towards zero
		// (step back one ulp when s is beyond the exact sum, which is when
		// e and s differ in sign) and set the last bit. Branch-free in the
		// data: this branch is taken for nearly every inexact sum.
		down := (math.Float64bits(e) ^ bits) >> 63
		bits = (bits - down) | 1
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// sgemm4x8Generic is the pure-Go microkernel (4×8 tile): see microkernel.
func sgemm4x8Generic(k int, a, b, c *float32, ldc int, load int, _ *float32) {
	const mr, nr = 4, 8
	as := unsafe.Slice(a, k*mr)
	bs := unsafe.Slice(b, k*nr)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var acc [mr][nr]float32
	if load != 0 {
		for i := range acc {
			copy(acc[i][:], cs[i*ldc:i*ldc+nr])
		}
	}
	for p := 0; p < k; p++ {
		ap := as[p*mr : p*mr+mr : p*mr+mr]
		bp := (*[nr]float32)(bs[p*nr : p*nr+nr])
		for i := range mr {
			av := ap[i]
			r := &acc[i]
			a64 := float64(av)
			for j := range nr {
				// fmaf32(av, bp[j], r[j]), inlined by hand (too big for
				// the compiler to inline).
				xy := a64 * float64(bp[j])
				zz := float64(r[j])
				s := xy + zz
				bb := s - xy
				e := (xy - (s - bb)) + (zz - bb)
				bits := math.Float64bits(s)
				if e != 0 && bits&0x7ff0000000000000 != 0x7ff0000000000000 {
					bits = (bits - (math.Float64bits(e)^bits)>>63) | 1
					s = math.Float64frombits(bits)
				}
				r[j] = float32(s)
			}
		}
	}
	for i := range acc {
		copy(cs[i*ldc:i*ldc+nr], acc[i][:])
	}
}

var genericRegistered = func() bool {
	registerPath(PathGeneric, pathImpl{
		sgemm:     &microkernel{name: "sgemm_4x8_generic", mr: 4, nr: 8, fn: sgemm4x8Generic},
		supported: true,
	})
	return true
}()

func init() {
	_ = genericRegistered
	_ = archRegistered
	initPath()
}

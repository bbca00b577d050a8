package kernels

import (
	"math"
	"math/bits"
	"unsafe"
)

// The binary family's pure-Go code: the generic path's microkernel, the
// Go output stages and sign packing (what the assembly paths must match
// bit for bit, and what they use for vector tails).

// bgemmGeneric is the pure-Go microkernel (4×8 tiles): see bkernel.
func bgemmGeneric(rows, k int, a **uint64, lda int, off *int, b *uint64, c *int32, ldc int) {
	const mr, nr = 4, 8
	offs := unsafe.Slice(off, k)
	bases := unsafe.Slice(a, rows/mr)
	bs := unsafe.Slice(b, (k-1)*binaryNR+nr)
	cs := unsafe.Slice(c, (rows-1)*ldc+nr)
	for t, base := range bases {
		i0 := t * mr
		var acc [mr][nr]int
		var rowp [mr]unsafe.Pointer
		for i := range rowp {
			rowp[i] = unsafe.Add(unsafe.Pointer(base), i*lda)
		}
		for p, o := range offs {
			bw := bs[p*binaryNR : p*binaryNR+nr]
			for i := 0; i < mr; i++ {
				x := *(*uint64)(unsafe.Add(rowp[i], o))
				r := &acc[i]
				for j, w := range bw {
					r[j] += bits.OnesCount64(x ^ w)
				}
			}
		}
		for i := 0; i < mr; i++ {
			row := cs[(i0+i)*ldc : (i0+i)*ldc+nr]
			for j := range row {
				row[j] = int32(acc[i][j])
			}
		}
	}
}

// bgemmGenericAny computes rows rows from one base (A(i,p) at base +
// i*lda + off[p]) by all 32 columns of a panel, for any k: the fallback
// for k beyond a path's bound.
func bgemmGenericAny(rows, k int, base *uint64, lda int, off *int, b *uint64, c *int32, ldc int) {
	offs := unsafe.Slice(off, k)
	bs := unsafe.Slice(b, k*binaryNR)
	for i := 0; i < rows; i++ {
		rp := unsafe.Add(unsafe.Pointer(base), i*lda)
		cr := unsafe.Slice((*int32)(unsafe.Add(unsafe.Pointer(c), i*ldc*4)), binaryNR)
		for j := range cr {
			s := 0
			for p, o := range offs {
				s += bits.OnesCount64(*(*uint64)(unsafe.Add(rp, o)) ^ bs[p*binaryNR+j])
			}
			cr[j] = int32(s)
		}
	}
}

// packSignsRow packs one pixel's channels. The float's sign bit is the
// packed bit except for -0 (packs as +1, since -0 >= 0) and NaN (+1):
// 64 channels at a time, branch-free.
func packSignsRow(dst []uint64, x []float32) {
	for w := range dst {
		lo := w * 64
		n := min(64, len(x)-lo)
		seg := x[lo : lo+n]
		var v uint64
		if n == 64 {
			seg = seg[:64]
			for i := 0; i < 64; i += 4 {
				v |= negBit(seg[i])<<i | negBit(seg[i+1])<<(i+1) | negBit(seg[i+2])<<(i+2) | negBit(seg[i+3])<<(i+3)
			}
		} else {
			for i, f := range seg {
				v |= negBit(f) << i
			}
		}
		dst[w] = v
	}
}

// negBit is 1 when f < 0: the sign bit of a value whose magnitude bits
// are nonzero and not NaN (bits below 0x7f800001).
func negBit(f float32) uint64 {
	u := math.Float32bits(f)
	mag := u & 0x7fffffff
	// (mag - 1) < 0x7f800000 exactly when 0 < mag <= +Inf.
	ok := uint64((mag-1)>>31^1) & uint64(((mag-1)-0x7f800000)>>31)
	return uint64(u>>31) & ok
}

// outF32One is the float output stage of one value.
func outF32One(d int32, m, b, lo, hi float32) float32 {
	y := float32(float32(d)*m) + b
	if !(y > lo) { // as MAXPS: y > lo ? y : lo
		y = lo
	}
	if !(y < hi) {
		y = hi
	}
	return y
}

// outF32Go is the float output stage in Go: for r < rows, j < n,
// dst[r][j] = outF32One(kc[r][j] - 2*pop[r*ldp+j], mult[j], bias[j], lo, hi).
func outF32Go(rows, n int, pop []int32, ldp int, kc []*int32, mult, bias []float32, lo, hi float32, dst []*float32) {
	mult, bias = mult[:n], bias[:n]
	for r := 0; r < rows; r++ {
		pr := pop[r*ldp : r*ldp+n]
		kr := unsafe.Slice(kc[r], n)
		dr := unsafe.Slice(dst[r], n)
		for j := range dr {
			dr[j] = outF32One(kr[j]-2*pr[j], mult[j], bias[j], lo, hi)
		}
	}
}

// outI8Go is the int8 output stage in Go: satInt8 of outF32One.
func outI8Go(rows, n int, pop []int32, ldp int, kc []*int32, mult, bias []float32, lo, hi float32, dst []*int8) {
	mult, bias = mult[:n], bias[:n]
	for r := 0; r < rows; r++ {
		pr := pop[r*ldp : r*ldp+n]
		kr := unsafe.Slice(kc[r], n)
		dr := unsafe.Slice(dst[r], n)
		for j := range dr {
			dr[j] = satInt8(outF32One(kr[j]-2*pr[j], mult[j], bias[j], lo, hi))
		}
	}
}

// outBitsGo is the bits output stage in Go, from channel j0 on: it writes
// the bits of channels [j0, n) of each row's words, keeping the bits below
// j0 (a multiple of 8) and zeroing those past n.
func outBitsGoFrom(j0, rows, n int, pop []int32, ldp int, kc []*int32, sgn, thr []int32, dst []*uint64) {
	sgn, thr = sgn[:n], thr[:n]
	wo := BitWords(n)
	for r := 0; r < rows; r++ {
		pr := pop[r*ldp : r*ldp+n]
		kr := unsafe.Slice(kc[r], n)
		dr := unsafe.Slice(dst[r], wo)
		for w := j0 >> 6; w < wo; w++ {
			var v uint64
			if lo := j0 - w*64; lo > 0 {
				v = dr[w] & (1<<uint(lo) - 1)
			}
			for j := max(w*64, j0); j < min(w*64+64, n); j++ {
				v |= boolBit(thr[j] > (kr[j]-2*pr[j])^sgn[j]) << (j & 63)
			}
			dr[w] = v
		}
	}
}

// outBitsGo is the bits output stage in Go (see boutBits).
func outBitsGo(rows, n int, pop []int32, ldp int, kc []*int32, sgn, thr []int32, dst []*uint64) {
	outBitsGoFrom(0, rows, n, pop, ldp, kc, sgn, thr, dst)
}

// satInt8 rounds half to even and saturates to int8.
func satInt8(v float32) int8 {
	r := math.RoundToEven(float64(v))
	if r < -128 {
		return -128
	}
	if r > 127 {
		return 127
	}
	return int8(r)
}

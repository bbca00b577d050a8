//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_quantize_amd64.go > quantize_amd64.s"

// Quantize kernels in quantize_amd64.s: n a multiple of 8 (avx2) or 16
// (avx512); lo and hi are the bounds minus the zero point.

//go:noescape
func quantize8_avx2(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func quantize16_avx2(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func quantize8_avx512(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func quantize16_avx512(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func quantize8r_avx512(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func quantize16r_avx512(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func dequantizeS8_avx2(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeU8_avx2(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeS16_avx2(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeU16_avx2(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeS8_avx512(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeU8_avx512(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeS16_avx512(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeU16_avx512(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

var quantizePaths = func() map[string]*quantizeKernels {
	x := cpu.X86
	avx2 := x.HasAVX && x.HasAVX2
	Quantize.support("avx2", avx2, "needs AVX2")
	Quantize.support("avx512", avx2 && x.HasAVX512F, "needs AVX512F")
	return map[string]*quantizeKernels{
		"avx2": {width: 8, q: [2]func(unsafe.Pointer, *float32, int, float32, float32, float32, int32){quantize8_avx2, quantize16_avx2},
			dq: [4]func(*float32, unsafe.Pointer, int, float32, float32){qInt8: dequantizeS8_avx2, qUint8: dequantizeU8_avx2, qInt16: dequantizeS16_avx2, qUint16: dequantizeU16_avx2}},
		"avx512": {width: 16, q: [2]func(unsafe.Pointer, *float32, int, float32, float32, float32, int32){quantize8_avx512, quantize16_avx512},
			qr: [2]func(unsafe.Pointer, *float32, int, float32, float32, float32, int32){quantize8r_avx512, quantize16r_avx512},
			dq: [4]func(*float32, unsafe.Pointer, int, float32, float32){qInt8: dequantizeS8_avx512, qUint8: dequantizeU8_avx512, qInt16: dequantizeS16_avx512, qUint16: dequantizeU16_avx512}},
	}
}()

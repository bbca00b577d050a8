//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "go run _generate/gen_quantize_arm64.go > quantize_arm64.s"

// Quantize kernels in quantize_arm64.s: n a multiple of 8; lo and hi are
// the bounds minus the zero point.

//go:noescape
func quantize8_neon(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func quantize16_neon(dst unsafe.Pointer, x *float32, n int, scale, lo, hi float32, zp int32)

//go:noescape
func dequantizeS8_neon(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeU8_neon(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeS16_neon(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

//go:noescape
func dequantizeU16_neon(dst *float32, q unsafe.Pointer, n int, scale, zp float32)

var quantizePaths = func() map[string]*quantizeKernels {
	Quantize.support("neon", cpu.ARM64.HasASIMD, "needs ASIMD")
	return map[string]*quantizeKernels{
		"neon": {width: 8, q: [2]func(unsafe.Pointer, *float32, int, float32, float32, float32, int32){quantize8_neon, quantize16_neon},
			dq: [4]func(*float32, unsafe.Pointer, int, float32, float32){qInt8: dequantizeS8_neon, qUint8: dequantizeU8_neon, qInt16: dequantizeS16_neon, qUint16: dequantizeU16_neon}},
	}
}()

//go:build !purego

package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The hand-encoded VEX VPDPBUSD (AVX-VNNI) against a Go dot product, on
// registers whose numbers set each VEX prefix bit both ways.
func TestVEXVPDPBUSD(t *testing.T) {
	if !cpu.X86.HasAVXVNNI || !cpu.X86.HasAVX2 {
		t.Skip("no AVX-VNNI")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 1000; it++ {
		var acc, a, w, want [8]int32
		for i := range acc {
			acc[i], a[i], w[i] = int32(r.Uint32()), int32(r.Uint32()), int32(r.Uint32())
			if it == 0 { // the extremes: 255 × -128 in every byte
				a[i], w[i] = -1, int32(-0x7f7f7f80)
			}
			var d int32
			for b := 0; b < 32; b += 8 {
				d += int32(uint8(a[i]>>b)) * int32(int8(w[i]>>b))
			}
			want[i] = acc[i] + 2*d
		}
		qvexTest_avxvnni(&acc, &a, &w)
		if acc != want {
			t.Fatalf("VEX VPDPBUSD: got %v, want %v", acc, want)
		}
	}
}

// Both depthwise row kernels against the Go one, on every channel count
// up to a few vectors (masked tails), odd and even tap counts, several
// pixels with per-tap strides (0 for padding taps).
func TestQDwRowAsm(t *testing.T) {
	x := cpu.X86
	if !x.HasAVX512F {
		t.Skip("no AVX-512")
	}
	type rowFn = func(*unsafe.Pointer, *int, int, int, *int32, int, *int32, *int32)
	kernels := map[string]rowFn{"avx512": qdwRow_avx512, "avx2": qdwRow_avx2}
	if x.HasAVX512VNNI && x.HasAVX512BW && x.HasAVX512VL {
		kernels["avx512vnni"] = qdwRow_avx512vnni
	}
	r := rand.New(rand.NewPCG(3, 5))
	for name, fn := range kernels {
		for c := 1; c <= 70; c++ {
			for _, taps := range []int{1, 2, 9, 25} {
				npix := 1 + r.IntN(9) // the VNNI kernel takes four pixels at a time
				ptrs := make([]unsafe.Pointer, taps)
				strides := make([]int, taps)
				for i := range ptrs {
					strides[i] = []int{0, c, 2*c + 3}[r.IntN(3)]
					buf := make([]uint8, (npix-1)*strides[i]+c)
					for j := range buf {
						buf[j] = uint8(r.Uint32())
					}
					ptrs[i] = unsafe.Pointer(&buf[0])
				}
				w := make([]int32, taps*c)
				for i := range w {
					w[i] = r.Int32N(511) - 255
				}
				init := make([]int32, c)
				for i := range init {
					init[i] = int32(r.Uint32())
				}
				want := make([]int32, npix*c)
				got := make([]int32, npix*c+1)
				got[npix*c] = 12345
				p2 := slices.Clone(ptrs)
				cv := c
				if name == "avx2" {
					cv = c &^ 7 // the last c%8 channels are Go's
				}
				qdwRowGo(ptrs, strides, npix, w, c, 0, c, init, want)
				if name == "avx2" {
					qdwRowGo(ptrs, strides, npix, w, c, cv, c, init, got)
				}
				fn(&p2[0], &strides[0], taps, npix, &w[0], c, &init[0], &got[0])
				if got[npix*c] != 12345 || !slices.Equal(got[:npix*c], want) {
					t.Fatalf("%s c=%d taps=%d npix=%d: got %v, want %v", name, c, taps, npix, got, want)
				}
				for i := range p2 { // the kernel leaves them at the last pixel
					if p2[i] != unsafe.Add(ptrs[i], (npix-1)*strides[i]) {
						t.Fatalf("%s: pointer %d left at %v", name, i, p2[i])
					}
				}
			}
		}
	}
}

// The AVX2 output stages and packing (chosen on CPUs without AVX-512), run
// here whatever the CPU has beyond AVX2.
func TestQStagesAVX2(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Skip("no AVX2")
	}
	rq, fr, step, pk, chunk := qrequantRowAsm, qfloatRowAsm, qrowAsmStep, qpackA4Asm, qpackA4Chunk
	defer func() { qrequantRowAsm, qfloatRowAsm, qrowAsmStep, qpackA4Asm, qpackA4Chunk = rq, fr, step, pk, chunk }()
	qrequantRowAsm, qfloatRowAsm, qrowAsmStep = qrequantRow_avx2, qfloatRow_avx2, 8
	qpackA4Asm, qpackA4Chunk = qpackA4_avx2, 8
	TestQRequantRowAsm(t)
	TestQFloatRowAsm(t)
	TestQPackASIMD(t)
	TestQGemmBlocking(t)
	dw, dstep := qdwRowAsm, qdwRowAsmStep
	defer func() { qdwRowAsm, qdwRowAsmStep = dw, dstep }()
	qdwRowAsm, qdwRowAsmStep = qdwRow_avx2, 8
	TestQDepthwiseConv(t)
}

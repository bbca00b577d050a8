package kernels

import (
	"math/rand/v2"
	"testing"
)

// MaxPool2x2Bytes on every int8 path against the definition, channel
// counts around the 8-byte words and 32-byte vectors, odd sizes (the
// last row and column left out), int8 and uint8 with extreme values,
// guard bytes after the output.
func TestMaxPool2x2Bytes(t *testing.T) {
	withFamilyPath(t, Int8, func(t *testing.T) {
		r := rand.New(rand.NewPCG(43, 44))
		for _, c := range []int{1, 3, 8, 31, 32, 64, 65, 96} {
			for trial := 0; trial < 20; trial++ {
				n, h, w := 1+r.IntN(2), 2+r.IntN(6), 2+r.IntN(7)
				oh, ow := h/2, w/2
				src := make([]byte, n*h*w*c)
				for i := range src {
					src[i] = []byte{0, 0x7F, 0x80, 0xFF, byte(r.Uint32())}[r.IntN(5)]
				}
				for _, signed := range []bool{false, true} {
					dst := make([]byte, n*oh*ow*c+16)
					for i := range dst {
						dst[i] = 0xA5
					}
					MaxPool2x2Bytes(dst, src, n, h, w, c, signed)
					for ni := 0; ni < n; ni++ {
						for oy := 0; oy < oh; oy++ {
							for ox := 0; ox < ow; ox++ {
								for ch := 0; ch < c; ch++ {
									at := func(y, x int) byte { return src[((ni*h+y)*w+x)*c+ch] }
									a, b, e, f := at(2*oy, 2*ox), at(2*oy, 2*ox+1), at(2*oy+1, 2*ox), at(2*oy+1, 2*ox+1)
									want := max(a, b, e, f)
									if signed {
										want = byte(max(int8(a), int8(b), int8(e), int8(f)))
									}
									if got := dst[((ni*oh+oy)*ow+ox)*c+ch]; got != want {
										t.Fatalf("c=%d %dx%d signed=%v: (%d,%d,%d,%d) = %#x, want %#x", c, h, w, signed, ni, oy, ox, ch, got, want)
									}
								}
							}
						}
					}
					for i := n * oh * ow * c; i < len(dst); i++ {
						if dst[i] != 0xA5 {
							t.Fatalf("c=%d: guard byte %d written", c, i)
						}
					}
				}
			}
		}
	})
}

// TestMaxU8x8 compares the word-wide byte maximum with the bytewise one
// on every pair of byte values (in each lane) and random words.
func TestMaxU8x8(t *testing.T) {
	r := rand.New(rand.NewPCG(58, 59))
	for i := 0; i < 1<<16+20000; i++ {
		a, b := r.Uint64(), r.Uint64()
		if i < 1<<16 {
			a, b = uint64(i>>8)*0x0101010101010101, uint64(i&255)<<(8*(i%8))|r.Uint64()&^(0xFF<<(8*(i%8)))
		}
		got := MaxU8x8(a, b)
		for k := 0; k < 64; k += 8 {
			if want := max(byte(a>>k), byte(b>>k)); byte(got>>k) != want {
				t.Fatalf("MaxU8x8(%#x, %#x) = %#x: byte %d is %d, want %d", a, b, got, k/8, byte(got>>k), want)
			}
		}
	}
}

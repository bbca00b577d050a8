package testdeps

import (
	"fmt"
	"image"
	_ "image/jpeg" // the sample photos' formats
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"
)

// PhotoVariants writes n PNG images made from the SamplePhotos into a
// new temporary folder and returns it: the photos themselves first, then
// seeded random crops (a quarter to all of each side) rescaled by 0.5 to
// 1.5, so the same n always gives the same files. It is for calibration
// sets larger than the 23 photos.
func PhotoVariants(t testing.TB, n int) string {
	t.Helper()
	src := SampleImages(t)
	photos := make([]image.Image, len(SamplePhotos))
	for i, name := range SamplePhotos {
		f, err := os.Open(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		photos[i], _, err = image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(n), 0x70686f746f)) // "photo"
	for i := range n {
		img := photos[i%len(photos)]
		if i >= len(photos) {
			b := img.Bounds()
			w := b.Dx()/4 + rng.IntN(b.Dx()-b.Dx()/4+1)
			h := b.Dy()/4 + rng.IntN(b.Dy()-b.Dy()/4+1)
			x0, y0 := b.Min.X+rng.IntN(b.Dx()-w+1), b.Min.Y+rng.IntN(b.Dy()-h+1)
			scale := 0.5 + rng.Float64()
			dst := image.NewRGBA(image.Rect(0, 0, max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale))))
			draw.BiLinear.Scale(dst, dst.Bounds(), img, image.Rect(x0, y0, x0+w, y0+h), draw.Src, nil)
			img = dst
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("photo%03d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		err = png.Encode(f, img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

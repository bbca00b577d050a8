package calib

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// The fixture models' input: float32 [N,1,28,28].
var mnistInput = engine.ValueInfo{Name: "input", Type: onnxio.Float, Shape: []int{-1, 1, 28, 28}}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := qtool.Fixtures.ReadFile("testdata/fashion-mnist/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gunzip(t testing.TB, b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeFixtureIDX writes the embedded Fashion-MNIST subset to a folder.
func writeFixtureIDX(t testing.TB) (images, labels string) {
	dir := t.TempDir()
	images = filepath.Join(dir, "t10k-1000-images-idx3-ubyte.gz")
	labels = filepath.Join(dir, "t10k-1000-labels-idx1-ubyte.gz")
	os.WriteFile(images, fixture(t, "t10k-1000-images-idx3-ubyte.gz"), 0o644)
	os.WriteFile(labels, fixture(t, "t10k-1000-labels-idx1-ubyte.gz"), 0o644)
	return images, labels
}

// The embedded subset reads as 1000 items of pixel/255 with the label
// counts testdata/README.md gives; gzipped or not.
func TestIDXFixture(t *testing.T) {
	images, _ := writeFixtureIDX(t)
	raw := gunzip(t, fixture(t, "t10k-1000-images-idx3-ubyte.gz"))
	plain := filepath.Join(t.TempDir(), "images-idx3-ubyte")
	os.WriteFile(plain, raw, 0o644)
	opts := Options{Inputs: []engine.ValueInfo{mnistInput}}
	src, err := Open(images, opts) // finds the labels file beside it
	if err != nil {
		t.Fatal(err)
	}
	unl, err := OpenIDX(plain, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 1000 || unl.Len() != 1000 {
		t.Fatalf("Len %d, %d", src.Len(), unl.Len())
	}
	counts := make([]int, 10)
	for i := range src.Len() {
		it, err := src.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		counts[it.Label]++
		if i%97 != 0 {
			continue
		}
		x := it.Inputs["input"]
		if !slices.Equal(x.Shape, []int{1, 28, 28}) {
			t.Fatalf("item %d shape %v", i, x.Shape)
		}
		for k, v := range x.F32 {
			if want := float32(float64(raw[16+i*784+k]) / 255); v != want {
				t.Fatalf("item %d pixel %d: %v, want %v", i, k, v, want)
			}
		}
		u, _ := unl.Item(i)
		if !reflect.DeepEqual(u.Inputs, it.Inputs) || u.Label != -1 {
			t.Fatalf("item %d differs between the gzipped and plain file", i)
		}
	}
	if want := []int{107, 105, 111, 93, 115, 87, 97, 95, 95, 95}; !slices.Equal(counts, want) {
		t.Errorf("label counts %v, want %v", counts, want)
	}
}

// Corrupt IDX files give errors naming the file, never a panic.
func TestIDXCorrupt(t *testing.T) {
	raw := gunzip(t, fixture(t, "t10k-1000-labels-idx1-ubyte.gz"))
	gz := fixture(t, "t10k-1000-images-idx3-ubyte.gz")
	opts := Options{Inputs: []engine.ValueInfo{mnistInput}}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"truncated":       {raw[:500], "truncated"},
		"truncated gzip":  {gz[:len(gz)/2], "truncated"},
		"bad magic":       {append([]byte{1, 2, 3, 4}, raw[4:]...), "not an IDX"},
		"huge dims":       {[]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "too large"},
		"trailing":        {append(slices.Clone(raw), 1), "past"},
		"empty":           {nil, "truncated"},
		"header only":     {raw[:8], "truncated"},
		"one-dim images":  {raw, "at least 2 dimensions"},
		"bad gzip header": {[]byte{0x1f, 0x8b, 0}, "gzip"},
	} {
		p := filepath.Join(t.TempDir(), "x-idx3-ubyte")
		os.WriteFile(p, c.b, 0o644)
		_, err := OpenIDX(p, "", opts)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want %q and the path", name, err, c.want)
		}
	}
	// Labels that do not match the images.
	images, _ := writeFixtureIDX(t)
	short := filepath.Join(t.TempDir(), "l")
	os.WriteFile(short, append([]byte{0, 0, 8, 1, 0, 0, 0, 2}, 1, 2), 0o644)
	if _, err := OpenIDX(images, short, opts); err == nil || !strings.Contains(err.Error(), "labels must be 1000 integers") {
		t.Errorf("mismatched labels: %v", err)
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(gunzip(f, fixture(f, "t10k-1000-labels-idx1-ubyte.gz")))
	f.Add(fixture(f, "t10k-1000-labels-idx1-ubyte.gz"))
	f.Add([]byte{0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := idxSizes[a.Type]
		for _, d := range a.Dims {
			n *= d
		}
		if n != len(a.Data) {
			t.Fatalf("dims %v of type %x with %d data bytes", a.Dims, a.Type, len(a.Data))
		}
		if len(a.Dims) >= 2 {
			if src, err := NewIDX("fuzz", a, nil, Options{Inputs: []engine.ValueInfo{{Name: "x", Type: onnxio.Float, Shape: []int{-1, 1, -1, -1}}}}); err == nil && src.Len() > 0 {
				src.Item(0)
			}
		}
	})
}

// writeNPZ writes arrays as np.savez would (a zip of .npy files);
// compressed as np.savez_compressed.
func writeNPZ(t testing.TB, path string, arrays map[string]*engine.Tensor, compressed bool) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range arrays {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		p := filepath.Join(t.TempDir(), k+".npy")
		if err := WriteNPY(p, arrays[k]); err != nil {
			t.Fatal(err)
		}
		method := zip.Store
		if compressed {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: k + ".npy", Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(mustRead(t, p))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, buf.Bytes(), 0o644)
}

func TestNPZ(t *testing.T) {
	x := make([]float32, 3*2*2)
	for i := range x {
		x[i] = float32(i) - 2.5
	}
	in := engine.ValueInfo{Name: "x", Type: onnxio.Float, Shape: []int{-1, 2, 2}}
	for _, compressed := range []bool{false, true} {
		p := filepath.Join(t.TempDir(), "d.npz")
		writeNPZ(t, p, map[string]*engine.Tensor{
			"x":      engine.NewFloat32([]int{3, 2, 2}, x),
			"labels": engine.NewInt64([]int{3}, []int64{4, 0, 9}),
		}, compressed)
		src, err := Open(p, Options{Inputs: []engine.ValueInfo{in}})
		if err != nil {
			t.Fatal(err)
		}
		if src.Len() != 3 {
			t.Fatalf("Len %d", src.Len())
		}
		it, err := src.Item(1)
		if err != nil || it.Label != 0 || !slices.Equal(it.Inputs["x"].F32, x[4:8]) || !slices.Equal(it.Inputs["x"].Shape, []int{2, 2}) {
			t.Errorf("compressed %v: item 1 = %+v, %v", compressed, it, err)
		}
	}
	// Two inputs by name; a lone array whatever its name; mismatches.
	two := []engine.ValueInfo{in, {Name: "y", Type: onnxio.Int64, Shape: []int{-1}}}
	p := filepath.Join(t.TempDir(), "two.npz")
	writeNPZ(t, p, map[string]*engine.Tensor{"x": engine.NewFloat32([]int{3, 2, 2}, x), "y": engine.NewInt64([]int{3}, []int64{1, 2, 3})}, false)
	src, err := OpenNPZ(p, Options{Inputs: two})
	if err != nil {
		t.Fatal(err)
	}
	if it, err := src.Item(2); err != nil || it.Inputs["y"].I64[0] != 3 || it.Label != -1 {
		t.Errorf("two inputs: %+v %v", it, err)
	}
	if _, err := OpenNPZ(p, Options{Inputs: []engine.ValueInfo{{Name: "z", Type: onnxio.Float, Shape: []int{-1, 2, 2}}}}); err == nil || !strings.Contains(err.Error(), "do not match the model inputs") {
		t.Errorf("unmatched names: %v", err)
	}
	lone := filepath.Join(t.TempDir(), "lone.npz")
	writeNPZ(t, lone, map[string]*engine.Tensor{"arr_0": engine.NewFloat32([]int{3, 2, 2}, x)}, false)
	if src, err := OpenNPZ(lone, Options{Inputs: []engine.ValueInfo{in}}); err != nil || src.Len() != 3 {
		t.Errorf("lone array: %v", err)
	}
	// Wrong shape and wrong type name the input and both sides.
	src, _ = OpenNPZ(lone, Options{Inputs: []engine.ValueInfo{{Name: "x", Type: onnxio.Float, Shape: []int{-1, 2, 3}}}})
	if _, err := src.Item(0); err == nil || !strings.Contains(err.Error(), `input "x" has shape [?,2,3] (one item: [2,3]), got [2,2]`) {
		t.Errorf("wrong shape: %v", err)
	}
	src, _ = OpenNPZ(lone, Options{Inputs: []engine.ValueInfo{{Name: "x", Type: onnxio.Int64, Shape: []int{-1, 2, 2}}}})
	if _, err := src.Item(0); err == nil || !strings.Contains(err.Error(), `input "x" wants int64 data, got float`) {
		t.Errorf("wrong type: %v", err)
	}
	// Not a zip, and a zip holding a broken .npy.
	bad := filepath.Join(t.TempDir(), "bad.npz")
	os.WriteFile(bad, []byte("PK\x03\x04 nonsense"), 0o644)
	if _, err := OpenNPZ(bad, Options{Inputs: []engine.ValueInfo{in}}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("not a zip: %v", err)
	}
}

// NumPy's own files (testdata/README.md) as calibration arrays: the
// first axis indexes items; float64 becomes float32.
func TestNPYFromNumPy(t *testing.T) {
	src, err := OpenNPY(filepath.Join("testdata", "f32_2x3.npy"), Options{Inputs: []engine.ValueInfo{{Name: "v", Type: onnxio.Float, Shape: []int{-1, 3}}}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := src.Item(1)
	if err != nil || src.Len() != 2 || !slices.Equal(it.Inputs["v"].F32, []float32{0.25, 0.5, 0.75}) {
		t.Errorf("f32_2x3: %d items, %+v, %v", src.Len(), it, err)
	}
	src, err = OpenNPY(filepath.Join("testdata", "f64_2.npy"), Options{Inputs: []engine.ValueInfo{{Name: "v", Type: onnxio.Float, Shape: []int{-1, 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	it, err = src.Item(0)
	if err != nil || src.Len() != 1 || !slices.Equal(it.Inputs["v"].F32, []float32{1.5, 2.5}) {
		t.Errorf("f64_2 as one item: %d items, %+v, %v", src.Len(), it, err)
	}
}

func FuzzReadNPZ(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "a.npz")
	writeNPZ(f, p, map[string]*engine.Tensor{"x": engine.NewFloat32([]int{2}, []float32{1, 2}), "labels": engine.NewInt64([]int{2}, []int64{0, 1})}, true)
	f.Add(mustRead(f, p))
	writeNPZ(f, p, map[string]*engine.Tensor{"x": engine.NewFloat32([]int{1, 1}, []float32{1})}, false)
	f.Add(mustRead(f, p))
	f.Fuzz(func(t *testing.T, b []byte) {
		arrays, err := ReadNPZ(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		src, err := NewArrays("fuzz", arrays, Options{Inputs: []engine.ValueInfo{{Name: "x", Type: onnxio.Float, Shape: []int{-1}}}})
		if err == nil {
			for i := range min(src.Len(), 4) {
				src.Item(i)
			}
		}
	})
}

func TestPBFolder(t *testing.T) {
	dir := t.TempDir()
	vi := engine.ValueInfo{Name: "x", Type: onnxio.Float, Shape: []int{-1, 2}}
	for i, v := range [][]float32{{1, 2}, {3, 4}, {5, 6}} {
		WritePB(filepath.Join(dir, string(rune('a'+i))+".pb"), "x", engine.NewFloat32([]int{1, 2}, v))
	}
	src, err := Open(dir, Options{Inputs: []engine.ValueInfo{vi}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := src.Item(2)
	if err != nil || src.Len() != 3 || !slices.Equal(it.Inputs["x"].F32, []float32{5, 6}) || !slices.Equal(it.Inputs["x"].Shape, []int{2}) {
		t.Errorf("pb folder: %+v %v", it, err)
	}
	// The ONNX test layout, two inputs.
	sets := t.TempDir()
	two := []engine.ValueInfo{vi, {Name: "y", Type: onnxio.Int64, Shape: []int{-1}}}
	for i := range 2 {
		d := filepath.Join(sets, "test_data_set_"+string(rune('0'+i)))
		os.Mkdir(d, 0o755)
		WritePB(filepath.Join(d, "input_0.pb"), "x", engine.NewFloat32([]int{1, 2}, []float32{float32(i), 1}))
		WritePB(filepath.Join(d, "input_1.pb"), "y", engine.NewInt64([]int{1}, []int64{int64(i)}))
	}
	src, err = Open(sets, Options{Inputs: two})
	if err != nil {
		t.Fatal(err)
	}
	it, err = src.Item(1)
	if err != nil || src.Len() != 2 || it.Inputs["x"].F32[0] != 1 || it.Inputs["y"].I64[0] != 1 {
		t.Errorf("test_data_set: %+v %v", it, err)
	}
	os.WriteFile(filepath.Join(dir, "b.pb"), []byte{0x0a, 0xff}, 0o644)
	s2, err := Open(dir, Options{Inputs: []engine.ValueInfo{vi}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Item(1); err == nil || !strings.Contains(err.Error(), "b.pb") {
		t.Errorf("corrupt .pb: %v", err)
	}
}

func writePNG(t testing.TB, path string, img image.Image) {
	os.MkdirAll(filepath.Dir(path), 0o755)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, buf.Bytes(), 0o644)
}

// Image preprocessing against pixels computed by hand.
func TestImagePreprocess(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	px := [4][3]uint8{{255, 0, 10}, {20, 30, 40}, {100, 150, 200}, {0, 0, 255}}
	for i, p := range px {
		img.SetNRGBA(i%2, i/2, color.NRGBA{p[0], p[1], p[2], 255})
	}
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "b", "1.png"), img)
	writePNG(t, filepath.Join(dir, "a", "2.png"), img)
	writePNG(t, filepath.Join(dir, "3.png"), img)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	rgb := engine.ValueInfo{Name: "in", Type: onnxio.Float, Shape: []int{-1, 3, 2, 2}}
	f, err := OpenImageFolder(dir, Options{Inputs: []engine.ValueInfo{rgb}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 3 || !slices.Equal(f.Classes, []string{"a", "b"}) {
		t.Fatalf("%d files, classes %v", f.Len(), f.Classes)
	}
	var labels []int
	for i := range 3 {
		it, err := f.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		labels = append(labels, it.Label)
	}
	if !slices.Equal(labels, []int{-1, 0, 1}) { // 3.png, a/2.png, b/1.png
		t.Errorf("labels %v", labels)
	}
	want := func(layout Layout, order [3]int, mean, std []float64) []float32 {
		var out []float32
		if layout == NHWC {
			for p := range 4 {
				for c := range 3 {
					out = append(out, float32((float64(px[p][order[c]])-mean[c])/std[c]))
				}
			}
			return out
		}
		for c := range 3 {
			for p := range 4 {
				out = append(out, float32((float64(px[p][order[c]])-mean[c])/std[c]))
			}
		}
		return out
	}
	def := []float64{0, 0, 0}
	s255 := []float64{255, 255, 255}
	for name, c := range map[string]struct {
		pre   Preprocess
		vi    engine.ValueInfo
		shape []int
		want  []float32
	}{
		"NCHW RGB /255": {Preprocess{}, rgb, []int{3, 2, 2}, want(NCHW, [3]int{0, 1, 2}, def, s255)},
		"NCHW BGR":      {Preprocess{Color: BGR}, rgb, []int{3, 2, 2}, want(NCHW, [3]int{2, 1, 0}, def, s255)},
		"NHWC auto":     {Preprocess{}, engine.ValueInfo{Name: "in", Type: onnxio.Float, Shape: []int{-1, 2, 2, 3}}, []int{2, 2, 3}, want(NHWC, [3]int{0, 1, 2}, def, s255)},
		"mean std": {Preprocess{Mean: []float64{10, 20, 30}, Std: []float64{2, 4, 8}}, rgb, []int{3, 2, 2},
			want(NCHW, [3]int{0, 1, 2}, []float64{10, 20, 30}, []float64{2, 4, 8})},
	} {
		tt, err := c.pre.Apply(img, c.vi)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !slices.Equal(tt.Shape, c.shape) || !slices.Equal(tt.F32, c.want) {
			t.Errorf("%s: got %v %v, want %v %v", name, tt.Shape, tt.F32, c.shape, c.want)
		}
	}
	// Gray: ITU-R 601 luma, computed as image/color does on 16-bit values.
	gray := engine.ValueInfo{Name: "in", Type: onnxio.Float, Shape: []int{-1, 1, 2, 2}}
	tt, err := Preprocess{}.Apply(img, gray)
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range tt.F32 {
		r, g, b := uint32(px[p][0])*257, uint32(px[p][1])*257, uint32(px[p][2])*257
		y := (19595*r + 38470*g + 7471*b + 1<<15) >> 16
		if want := float32(float64(y) / 257 / 255); v != want {
			t.Errorf("gray pixel %d: %v, want %v", p, v, want)
		}
	}
	// uint8 inputs get raw pixels.
	tt, err = Preprocess{}.Apply(img, engine.ValueInfo{Name: "in", Type: onnxio.Uint8, Shape: []int{1, 2, 2, 3}})
	if err != nil || !slices.Equal(tt.U8, []uint8{255, 0, 10, 20, 30, 40, 100, 150, 200, 0, 0, 255}) {
		t.Errorf("uint8 NHWC: %v %v", tt, err)
	}
	// Center crop of a 4x4 image: pixels (1..2, 1..2).
	big := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range big.Pix {
		big.Pix[i] = uint8(i * 10)
	}
	tt, err = Preprocess{CropW: 2, CropH: 2, Std: []float64{1}}.Apply(big, gray)
	if err != nil || !slices.Equal(tt.F32, []float32{50, 60, 90, 100}) {
		t.Errorf("crop: %v %v", tt, err)
	}
	if _, err := (Preprocess{CropW: 5, CropH: 5}).Apply(big, gray); err == nil {
		t.Error("crop larger than the image accepted")
	}
	// Resize: a uniform image stays uniform; and the model's size is used
	// when no size is given.
	uni := image.NewGray(image.Rect(0, 0, 7, 5))
	for i := range uni.Pix {
		uni.Pix[i] = 77
	}
	for _, pre := range []Preprocess{{ResizeW: 2, ResizeH: 2, Std: []float64{1}}, {Std: []float64{1}}, {ResizeW: 3, ResizeH: 4, CropW: 2, CropH: 2, Std: []float64{1}}} {
		tt, err = pre.Apply(uni, gray)
		if err != nil || !slices.Equal(tt.F32, []float32{77, 77, 77, 77}) {
			t.Errorf("resize %+v: %v %v", pre, tt, err)
		}
	}
	// A model size mismatch names both shapes.
	if it, err := (Preprocess{ResizeW: 3, ResizeH: 3}).Apply(uni, gray); err == nil {
		if _, err := bind(gray, it, "u.png"); err == nil || !strings.Contains(err.Error(), "[?,1,2,2] (one item: [1,2,2]), got [1,3,3]") {
			t.Errorf("size mismatch: %v", err)
		}
	}
}

func TestImageJPEGAndBad(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{200, 100, 50, 255})
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100})
	os.WriteFile(filepath.Join(dir, "a.JPG"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	vi := engine.ValueInfo{Name: "in", Type: onnxio.Float, Shape: []int{-1, 3, 8, 8}}
	src, err := Open(dir, Options{Inputs: []engine.ValueInfo{vi}})
	if err != nil || src.Len() != 2 {
		t.Fatalf("%v, %v", src, err)
	}
	it, err := src.Item(0)
	if err != nil {
		t.Fatal(err)
	}
	x := it.Inputs["in"].F32
	for c, want := range []float64{200, 100, 50} {
		for _, v := range x[c*64 : (c+1)*64] {
			if math.Abs(float64(v)*255-want) > 3 {
				t.Fatalf("JPEG channel %d: %v, want about %v", c, v*255, want)
			}
		}
	}
	if _, err := src.Item(1); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "b.png")) {
		t.Errorf("bad PNG: %v", err)
	}
}

func TestSample(t *testing.T) {
	src, err := NewArrays("r", map[string]*engine.Tensor{"x": engine.NewFloat32([]int{100, 1}, nil)}, Options{Inputs: []engine.ValueInfo{{Name: "x", Type: onnxio.Float, Shape: []int{-1, 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := Indices(Sample(src, 10, 1)), Indices(Sample(src, 10, 1)), Indices(Sample(src, 10, 2))
	if !slices.Equal(a, b) || slices.Equal(a, c) || len(a) != 10 || !slices.IsSorted(a) || len(slices.Compact(slices.Clone(a))) != 10 {
		t.Errorf("samples %v %v %v", a, b, c)
	}
	// The choice is fixed for good: a golden list.
	if want := []int{0, 4, 30, 33, 35, 42, 53, 68, 78, 93}; !slices.Equal(a, want) {
		t.Errorf("Sample(100, 10, seed 1) = %v, want %v", a, want)
	}
	if Sample(src, 0, 1) != src || Sample(src, 100, 1) != src {
		t.Error("a sample of everything should be the source")
	}
}

// A PNG whose header claims a huge picture is refused before decoding.
func TestImageBomb(t *testing.T) {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR data starts at 16: width, height (big-endian); CRC after 13 bytes.
	binary.BigEndian.PutUint32(b[16:], 1<<20)
	binary.BigEndian.PutUint32(b[20:], 1<<20)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bomb.png"), b, 0o644)
	src, err := OpenImageFolder(dir, Options{Inputs: []engine.ValueInfo{mnistInput}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Item(0); err == nil || !strings.Contains(err.Error(), "larger than") || !strings.Contains(err.Error(), "bomb.png") {
		t.Errorf("huge image: %v", err)
	}
}

// The full Fashion-MNIST test split (Debian's dataset-fashion-mnist),
// opened by path with its labels found beside it: 10 000 items, 1000 per
// class, the first 1000 being the embedded subset.
func TestIDXFullSplit(t *testing.T) {
	dir := testdeps.FashionMNIST(t)
	src, err := Open(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), Options{Inputs: []engine.ValueInfo{mnistInput}})
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 10000 {
		t.Fatalf("Len %d", src.Len())
	}
	sub := fixtureSource(t)
	counts := make([]int, 10)
	for i := range src.Len() {
		it, err := src.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		counts[it.Label]++
		if i < 1000 && i%50 == 0 {
			s, _ := sub.Item(i)
			if !reflect.DeepEqual(s, it) {
				t.Fatalf("item %d differs from the embedded subset", i)
			}
		}
	}
	if !slices.Equal(counts, slices.Repeat([]int{1000}, 10)) {
		t.Errorf("label counts %v", counts)
	}
}

// Open tells formats by their content when the name does not.
func TestOpenSniffs(t *testing.T) {
	dir := t.TempDir()
	vi := engine.ValueInfo{Name: "x", Type: onnxio.Float, Shape: []int{-1, 2}}
	WriteNPY(filepath.Join(dir, "a.npy"), engine.NewFloat32([]int{3, 2}, nil))
	writeNPZ(t, filepath.Join(dir, "a.npz"), map[string]*engine.Tensor{"x": engine.NewFloat32([]int{4, 2}, nil)}, true)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte{0, 0, 0x0D, 2, 0, 0, 0, 5, 0, 0, 0, 2})
	zw.Write(make([]byte, 40))
	zw.Close()
	os.WriteFile(filepath.Join(dir, "a.idxgz"), gz.Bytes(), 0o644)
	for name, n := range map[string]int{"a.npy": 3, "a.npz": 4, "a.idxgz": 5} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		p := filepath.Join(dir, "data"+string(rune('0'+n)))
		os.WriteFile(p, data, 0o644)
		src, err := Open(p, Options{Inputs: []engine.ValueInfo{vi}})
		if err != nil || src.Len() != n {
			t.Errorf("%s renamed: %v, %v", name, src, err)
		}
	}
	os.WriteFile(filepath.Join(dir, "junk"), []byte("hello"), 0o644)
	if _, err := Open(filepath.Join(dir, "junk"), Options{Inputs: []engine.ValueInfo{vi}}); err == nil || !strings.Contains(err.Error(), "unknown data format") {
		t.Errorf("junk: %v", err)
	}
}

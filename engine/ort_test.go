package engine

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func randInput(seed int64, shape []int) *Tensor {
	return randRange(seed, shape, 0, 1)
}

// textImage is a seeded synthetic document, N×3×H×W normalised as
// PaddleOCR does ((pixel/255 - mean)/std): a light background with lines
// of dark glyph-like blobs, so the text detector's output is not all
// near zero (on noise it is about 1e-5 everywhere, where ONNX Runtime's
// approximate sigmoid is off by 1e-7 absolute).
func textImage(seed int64, shape []int) *Tensor {
	r := rand.New(rand.NewSource(seed))
	n, h, w := shape[0], shape[2], shape[3]
	pix := make([]float32, n*h*w)
	for i := range pix {
		pix[i] = 230 + 25*r.Float32()
	}
	for b := 0; b < n; b++ {
		for y := 8; y+16 < h; y += 28 + r.Intn(10) {
			for x := 6 + r.Intn(10); x+10 < w; {
				cw, ch := 6+r.Intn(6), 12+r.Intn(5)
				for yy := y; yy < y+ch; yy++ {
					for xx := x; xx < x+cw; xx++ {
						if r.Intn(3) > 0 {
							pix[(b*h+yy)*w+xx] = 20 + 40*r.Float32()
						}
					}
				}
				x += cw + 3 + r.Intn(4)
				if r.Intn(12) == 0 {
					x += 20
				}
			}
		}
	}
	mean := []float32{0.485, 0.456, 0.406}
	std := []float32{0.229, 0.224, 0.225}
	t := NewFloat32(shape, nil)
	for b := 0; b < n; b++ {
		for c := 0; c < 3; c++ {
			for i := 0; i < h*w; i++ {
				t.F32[(b*3+c)*h*w+i] = (pix[b*h*w+i]/255 - mean[c]) / std[c]
			}
		}
	}
	return t
}

// randRange fills a tensor with seeded uniform values in [lo, hi).
func randRange(seed int64, shape []int, lo, hi float32) *Tensor {
	r := rand.New(rand.NewSource(seed))
	t := NewFloat32(shape, nil)
	for i := range t.F32 {
		t.F32[i] = lo + (hi-lo)*r.Float32()
	}
	return t
}

func fixture(name string) string {
	return filepath.Join(testdeps.Root(), "testdata", "models", name+".onnx")
}

func compileFile(t testing.TB, path string, opts Options) *Session {
	t.Helper()
	m, err := onnxio.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// relErr is max|got-want| / max|want|.
func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// TestORTCrossCheck runs the fixtures (batch 1 and 8) and the three
// PaddleOCR models (detection, direction classifier, recognition) on
// seeded random inputs through the engine and ONNX
// Runtime: outputs agree to 1e-4 of the output's largest magnitude.
//
// The text detector gets a seeded random synthetic document (textImage):
// on plain noise it finds no text and its sigmoid output is about 1e-5
// everywhere, where ONNX Runtime's approximate logistic function is off
// by up to 1.4e-7 absolute (the engine computes it in float64), so the
// relative criterion would measure ONNX Runtime's approximation. The
// noise input is still run, held to 1e-6 absolute.
func TestORTCrossCheck(t *testing.T) {
	type tc struct {
		name, path string
		shape      []int
		input      func(seed int64, shape []int) *Tensor
		absTol     float64 // 0: 1e-4 relative to the largest magnitude
	}
	uniform := func(lo, hi float32) func(int64, []int) *Tensor {
		return func(seed int64, shape []int) *Tensor { return randRange(seed, shape, lo, hi) }
	}
	var cases []tc
	for _, f := range []string{"cnn", "resnet", "mobilenet"} {
		for _, n := range []int{1, 8} {
			cases = append(cases, tc{fmt.Sprintf("%s/batch%d", f, n), fixture(f), []int{n, 1, 28, 28}, uniform(0, 1), 0})
		}
	}
	det := testdeps.OCRModel(t, "ch_PP-OCRv4_det_infer.onnx")
	cases = append(cases,
		tc{"ocr-det", det, []int{1, 3, 320, 320}, textImage, 0},
		// PaddleOCR normalises pixels to about [-2.1, 2.6].
		tc{"ocr-det-noise", det, []int{1, 3, 320, 320}, uniform(-2.1, 2.6), 1e-6},
		tc{"ocr-cls", testdeps.OCRModel(t, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), []int{1, 3, 48, 192}, uniform(-1, 1), 0},
		tc{"ocr-rec", testdeps.OCRModel(t, "ch_PP-OCRv4_rec_infer.onnx"), []int{1, 3, 48, 320}, uniform(-1, 1), 0})
	sessions := map[string]*Session{}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := sessions[c.path]
			if s == nil {
				s = compileFile(t, c.path, Options{})
				sessions[c.path] = s
			}
			x := c.input(int64(100+i), c.shape)
			in := s.InputNames()[0]
			res, err := s.Run(map[string]*Tensor{in: x})
			if err != nil {
				t.Fatal(err)
			}
			dims := make([]int64, len(c.shape))
			for j, d := range c.shape {
				dims[j] = int64(d)
			}
			outs, err := testdeps.RunORT(t, c.path, []testdeps.ORTTensor{{Name: in, Type: "float32", Dims: dims, Data: f32Bytes(x.F32)}})
			if err != nil {
				t.Fatal(err)
			}
			for j, name := range s.OutputNames() {
				got := res[name]
				want := bytesF32(outs[j].Data)
				if len(got.F32) != len(want) {
					t.Fatalf("output %s: %d values (%v), ORT %d (%v)", name, len(got.F32), got.Shape, len(want), outs[j].Dims)
				}
				e := relErr(got.F32, want)
				var mag, abs float64
				for k, v := range want {
					mag = math.Max(mag, math.Abs(float64(v)))
					abs = math.Max(abs, math.Abs(float64(got.F32[k])-float64(v)))
				}
				t.Logf("output %s %v: max error %.3g of max magnitude %.3g (%.3g absolute)", name, got.Shape, e, mag, abs)
				if c.absTol > 0 {
					if abs > c.absTol {
						t.Errorf("output %s: absolute error %.3g > %g", name, abs, c.absTol)
					}
				} else if e > 1e-4 {
					t.Errorf("output %s: error %.3g > 1e-4", name, e)
				}
			}
		})
	}
}

// readIDX reads a gzipped IDX file: its dimensions and bytes.
func readIDX(t testing.TB, path string) ([]int, []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 4 || b[0] != 0 || b[1] != 0 || b[2] != 8 {
		t.Fatalf("%s: not a uint8 IDX file", path)
	}
	nd := int(b[3])
	dims := make([]int, nd)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(b[4+4*i:]))
	}
	data := b[4+4*nd:]
	if len(data) != numel(dims) {
		t.Fatalf("%s: %d bytes for dims %v", path, len(data), dims)
	}
	return dims, data
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestFashionMNISTTop1 checks that the engine's top-1 class equals ONNX
// Runtime's on every one of the 1000 test images, for each fixture.
func TestFashionMNISTTop1(t *testing.T) {
	dir := filepath.Join(testdeps.Root(), "testdata", "fashion-mnist")
	checkTop1(t, filepath.Join(dir, "t10k-1000-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-1000-labels-idx1-ubyte.gz"))
}

// checkTop1 runs the three fixtures on a gzipped IDX image set with the
// engine and with ONNX Runtime: every top-1 class must agree.
func checkTop1(t *testing.T, images, labelFile string) {
	dims, pix := readIDX(t, images)
	_, labels := readIDX(t, labelFile)
	n := dims[0]
	x := NewFloat32([]int{n, 1, dims[1], dims[2]}, nil)
	for i, p := range pix {
		x.F32[i] = float32(p) / 255
	}
	for _, f := range []string{"cnn", "resnet", "mobilenet"} {
		t.Run(f, func(t *testing.T) {
			s := compileFile(t, fixture(f), Options{})
			res, err := s.Run(map[string]*Tensor{"input": x})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := testdeps.RunORT(t, fixture(f), []testdeps.ORTTensor{{Name: "input", Type: "float32",
				Dims: []int64{int64(n), 1, int64(dims[1]), int64(dims[2])}, Data: f32Bytes(x.F32)}})
			if err != nil {
				t.Fatal(err)
			}
			got, want := res["logits"].F32, bytesF32(outs[0].Data)
			diff, correct := 0, 0
			for i := 0; i < n; i++ {
				g, w := argmax(got[i*10:(i+1)*10]), argmax(want[i*10:(i+1)*10])
				if g != w {
					diff++
					t.Errorf("image %d: engine class %d, ORT %d", i, g, w)
				}
				if g == int(labels[i]) {
					correct++
				}
			}
			t.Logf("%s: %d/%d top-1 differ from ORT; accuracy %.2f%%; logits max error %.3g", f, diff, n, 100*float64(correct)/float64(n), relErr(got, want))
		})
	}
}

var _ = bytes.MinRead

// TestRoiAlignMaxORT: RoiAlign's max mode has no conformance case; it is
// checked against ONNX Runtime.
func TestRoiAlignMaxORT(t *testing.T) {
	b := newGraph()
	b.input("x", onnxio.Float)
	b.output("y", onnxio.Float)
	b.init(t, "rois", NewFloat32([]int{3, 4}, []float32{0, 0, 6, 5, 1.5, 2.2, 7.9, 8.8, 3, 1, 4, 2}))
	b.init(t, "bi", NewInt64([]int{3}, []int64{0, 1, 1}))
	b.node("RoiAlign", []string{"x", "rois", "bi"}, []string{"y"}, attrS("mode", "max"), attrI("output_height", 3),
		attrI("output_width", 2), attrI("sampling_ratio", 2), &pb.AttributeProto{Name: proto.String("spatial_scale"), F: proto.Float32(0.9), Type: pb.AttributeProto_FLOAT.Enum()})
	m := b.model(t, 16)
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "roialign.onnx")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	x := randRange(1, []int{2, 2, 9, 10}, -1, 1)
	got := run1(t, m, Options{}, map[string]*Tensor{"x": x})["y"]
	outs, err := testdeps.RunORT(t, path, []testdeps.ORTTensor{{Name: "x", Type: "float32", Dims: []int64{2, 2, 9, 10}, Data: f32Bytes(x.F32)}})
	if err != nil {
		t.Fatal(err)
	}
	want := bytesF32(outs[0].Data)
	if len(want) != len(got.F32) || relErr(got.F32, want) > 1e-5 {
		t.Errorf("engine %v, ORT %v", got.F32, want)
	}
}

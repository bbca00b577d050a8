package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

// writeImages writes n color PNGs of different sizes (w+i by h+2i) with
// seeded patterns into dir.
func writeImages(t *testing.T, dir string, n, w, h int) {
	t.Helper()
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, w+i, h+2*i))
		for y := range img.Rect.Dy() {
			for x := range img.Rect.Dx() {
				img.Set(x, y, color.NRGBA{uint8(x*7 + i*31), uint8(y*5 + x*i), uint8((x ^ y) * 3), 255})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "img"+string(rune('a'+i))+".png"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func quantizeJSON(t *testing.T, args ...string) quantizeReport {
	t.Helper()
	out, err := run(t, append([]string{"quantize", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var rep quantizeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	return rep
}

// The preprocessing flags reach the image reader: the CLI writes the same
// model as the library given the same calib.Preprocess, and a different
// mean gives a different model.
func TestQuantizePreprocessFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	imgs := filepath.Join(dir, "imgs")
	if err := os.Mkdir(imgs, 0o755); err != nil {
		t.Fatal(err)
	}
	writeImages(t, imgs, 6, 40, 30)
	cnn := fixture("cnn.onnx")
	flags := []string{"--resize", "36x32", "--crop", "28x28", "--mean", "20", "--std", "100", "--color", "bgr", "--layout", "nchw"}
	// The CNN takes one channel: BGR is refused by the shape check, gray
	// is accepted.
	if _, err := run(t, append([]string{"quantize", cnn, "--calib", imgs, "-o", "a.onnx"}, flags...)...); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("3 channels for a 1-channel model: %v", err)
	}
	flags[9] = "gray"
	rep := quantizeJSON(t, append([]string{cnn, "--calib", imgs, "--calib-size", "0", "-o", "a.onnx"}, flags...)...)
	if rep.CalibItems != 6 {
		t.Errorf("%d items calibrated, want 6", rep.CalibItems)
	}
	m, err := onnxio.Load(cnn)
	if err != nil {
		t.Fatal(err)
	}
	vi := []engine.ValueInfo{{Name: "input", Type: onnxio.Float, Shape: []int{-1, 1, 28, 28}}}
	src, err := calib.Open(imgs, calib.Options{Inputs: vi, Preprocess: calib.Preprocess{
		ResizeW: 36, ResizeH: 32, CropW: 28, CropH: 28, Mean: []float64{20}, Std: []float64{100}, Layout: calib.NCHW, Color: calib.Gray}})
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := quant.SchemeByName("int8")
	if err != nil {
		t.Fatal(err)
	}
	res, err := quant.Quantize(m, src, quant.Config{Scheme: scheme}, quant.Options{Calib: calib.Config{Quiet: true}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := res.Model.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("a.onnx"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the CLI's model differs from the library's with the same preprocessing (%v)", err)
	}
	flags[5] = "30"
	quantizeJSON(t, append([]string{cnn, "--calib", imgs, "--calib-size", "0", "-o", "b.onnx"}, flags...)...)
	if got, _ := os.ReadFile("b.onnx"); bytes.Equal(got, want) {
		t.Errorf("--mean 30 and --mean 20 gave the same model")
	}
	// Without --resize, images are resized to the model's fixed 28x28.
	if rep := quantizeJSON(t, cnn, "--calib", imgs, "-o", "c.onnx"); rep.CalibItems != 6 {
		t.Errorf("no --resize: %d items", rep.CalibItems)
	}
}

// --seed picks the --calib-size items: the same seed the same model, a
// different seed another.
func TestQuantizeSeed(t *testing.T) {
	t.Chdir(t.TempDir())
	model := func(seed string) []byte {
		rep := quantizeJSON(t, "--calib", "builtin", "--calib-size", "20", "--seed", seed, "-o", "s"+seed+".onnx")
		if rep.CalibItems != 20 || rep.Seed == 1 {
			t.Errorf("seed %s: %d items", seed, rep.CalibItems)
		}
		b, err := os.ReadFile("s" + seed + ".onnx")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := model("7"), model("8")
	if bytes.Equal(a, b) {
		t.Errorf("seeds 7 and 8 gave the same model")
	}
	if c := model("7"); !bytes.Equal(a, c) {
		t.Errorf("seed 7 twice gave different models")
	}
}

// An unreadable image is an error naming it; --skip-bad leaves it out of
// calibration and evaluation and counts it.
func TestQuantizeSkipBad(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeImages(t, dir, 5, 28, 28)
	bad := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\n truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	cnn := fixture("cnn.onnx")
	if _, err := run(t, "quantize", cnn, "--calib", dir, "-o", "m.onnx"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad image: error %v, want one naming %s", err, bad)
	}
	rep := quantizeJSON(t, cnn, "--calib", dir, "--eval", dir, "--skip-bad", "-o", "m.onnx")
	if rep.CalibItems != 5 || rep.Skipped != 2 || rep.EvalItems != 5 {
		t.Errorf("--skip-bad: %d calibrated, %d evaluated, %d skipped; want 5, 5, 2", rep.CalibItems, rep.EvalItems, rep.Skipped)
	}
	if err := os.WriteFile(filepath.Join(dir, "also-broken.png"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"imga.png", "imgb.png", "imgc.png", "imgd.png", "imge.png"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := run(t, "quantize", cnn, "--calib", dir, "--skip-bad", "-o", "m.onnx"); err == nil || !strings.Contains(err.Error(), "none of the 2 items") {
		t.Errorf("all bad: %v", err)
	}
}

// Bad preprocessing values give errors naming the flag.
func TestQuantizeFlagErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--resize", "320"}, "--resize"},
		{[]string{"--resize", "0x10"}, "--resize"},
		{[]string{"--resize", "99999x10"}, "--resize"},
		{[]string{"--crop", "ax2"}, "--crop"},
		{[]string{"--resize", "32x32", "--crop", "40x28"}, "--crop"},
		{[]string{"--mean", "1,2"}, "--mean"},
		{[]string{"--mean", "1,x,3"}, "--mean"},
		{[]string{"--std", "0"}, "--std"},
		{[]string{"--std", "1,-2,3"}, "--std"},
		{[]string{"--std", "NaN"}, "--std"},
		{[]string{"--layout", "nwhc"}, "--layout"},
		{[]string{"--color", "cmyk"}, "--color"},
		{[]string{"--calib-size", "-1"}, "--calib-size"},
		{[]string{"--seed", "-1"}, "--seed"},
	} {
		_, err := run(t, append([]string{"quantize"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %s", c.args, err, c.want)
		}
	}
}

// A qtool process whose standard error is not a terminal draws no
// progress bar, and --json output is the report alone.
func TestQuantizeNoProgressBar(t *testing.T) {
	dir := t.TempDir()
	cmd := testdeps.SelfCommand(t, "qtool", "quantize", "--json", "--calib", "builtin", "--calib-size", "50", "-o", filepath.Join(dir, "m.onnx"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if stderr.Len() != 0 || !json.Valid(stdout.Bytes()) {
		t.Errorf("stderr %q, stdout valid JSON: %v", stderr.String(), json.Valid(stdout.Bytes()))
	}
}

// inspect lists the engine's steps with the precision each runs in: all
// float for the float CNN; its int8 model runs its convolutions on the
// integer kernels. The summary counts the steps.
func TestInspectPrecisions(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, err := run(t, "quantize", "--calib", "builtin", "--calib-size", "20", "-o", "q.onnx"); err != nil {
		t.Fatal(err)
	}
	type report struct {
		Steps []struct {
			Node, Op, Precision string
		} `json:"steps"`
		ByPrecision map[string]int `json:"steps_by_precision"`
	}
	for _, c := range []struct {
		model     string
		quantized bool
	}{{fixture("cnn.onnx"), false}, {"q.onnx", true}} {
		out, err := run(t, "inspect", "--json", c.model)
		if err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		total, convs := 0, 0
		for _, n := range r.ByPrecision {
			total += n
		}
		for _, st := range r.Steps {
			if strings.HasPrefix(st.Op, "Conv") {
				convs++
				if (st.Precision != "fp32") != c.quantized {
					t.Errorf("%s: step %s %s runs in %s", c.model, st.Node, st.Op, st.Precision)
				}
			}
		}
		if len(r.Steps) == 0 || total != len(r.Steps) || convs != 4 || (r.ByPrecision["fp32"] == len(r.Steps)) == c.quantized {
			t.Errorf("%s: %d steps (%d Conv), by precision %v", c.model, len(r.Steps), convs, r.ByPrecision)
		}
		txt, err := run(t, "inspect", c.model)
		if err != nil || !strings.Contains(txt, "engine steps") {
			t.Errorf("%s: text output without the engine steps: %v", c.model, err)
		}
	}
}

// PaddleOCR's detector takes any height and width, but only multiples of
// 32 run: photos of their own sizes fail with a hint to give --resize,
// and run with it.
func TestQuantizeDynamicSizeHint(t *testing.T) {
	det := testdeps.OCRModel(t, "ch_PP-OCRv4_det_infer.onnx")
	dir := t.TempDir()
	t.Chdir(dir)
	writeImages(t, dir, 2, 50, 30)
	if _, err := run(t, "quantize", det, "--calib", dir, "-o", "d.onnx"); err == nil || !strings.Contains(err.Error(), "give --resize") {
		t.Errorf("odd sizes: %v", err)
	}
	if rep := quantizeJSON(t, det, "--calib", dir, "--resize", "64x32", "-o", "d.onnx"); rep.CalibItems != 2 {
		t.Errorf("--resize 64x32: %d items", rep.CalibItems)
	}
}

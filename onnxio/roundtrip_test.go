package onnxio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
)

// conformanceModels lists every model.onnx of the ONNX conformance data.
func conformanceModels(t *testing.T) []string {
	root := testdeps.Conformance(t)
	var paths []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "model.onnx" {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 1000 {
		t.Fatalf("found %d conformance models under %s, want over 1000", len(paths), root)
	}
	return paths
}

// fixtureModels lists qtool's own committed models.
func fixtureModels(t *testing.T) []string {
	paths, err := filepath.Glob(filepath.Join(testdeps.Root(), "testdata", "models", "*.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 3 {
		t.Fatalf("found %d fixture models in testdata/models, want the 3 trained ones", len(paths))
	}
	return paths
}

func checkRoundTrip(t *testing.T, path string) {
	t.Helper()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := filepath.Join(t.TempDir(), "out.onnx")
	if err := m.Save(out, SaveOptions{}); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, orig) {
		i := 0
		for i < len(got) && i < len(orig) && got[i] == orig[i] {
			i++
		}
		t.Errorf("%s: re-saved model differs from the original at byte %d (sizes %d and %d)", path, i, len(got), len(orig))
	}
}

func TestRoundTripConformance(t *testing.T) {
	for _, p := range conformanceModels(t) {
		checkRoundTrip(t, p)
	}
}

func TestRoundTripFixtures(t *testing.T) {
	for _, p := range fixtureModels(t) {
		checkRoundTrip(t, p)
	}
}

func TestRoundTripOCR(t *testing.T) {
	for _, name := range []string{"ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx"} {
		checkRoundTrip(t, testdeps.OCRModel(t, name))
	}
}

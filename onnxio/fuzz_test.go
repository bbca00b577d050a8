package onnxio

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// FuzzLoadBytes feeds arbitrary bytes to the loader and everything that
// reads a loaded model, shape inference included. Nothing may panic, and a
// model that loads must re-encode and load again. Seeds: the committed
// fixture models with their weights shrunk to one element (the fuzzer
// crawls on megabyte inputs; the graphs are what matters) and a small
// hand-built model. Run (make fuzz does):
//
//	go test ./onnxio -run '^$' -fuzz '^FuzzLoadBytes$' -fuzztime 60s -fuzzminimizetime 5x
func FuzzLoadBytes(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(testdeps.Root(), "testdata", "models", "*.onnx"))
	for _, p := range paths {
		m, err := Load(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, t := range m.Graph().GetInitializer() {
			t.Dims = []int64{1}
			t.RawData = t.RawData[:ByteSize(DataType(t.GetDataType()), 1)]
		}
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if m, err := newSmallModel(); err == nil {
		b, _ := m.Marshal()
		f.Add(b)
	}
	// A folder with a data file, so external references get resolved.
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 4096), 0o644)

	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := LoadBytes(b, dir)
		if err != nil {
			return
		}
		err = m.forEachTensor(func(tp *pb.TensorProto) error {
			if DataType(tp.GetDataType()) != String {
				ToFloat32(m, tp)
				m.TensorBytes(tp)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		TopoSort(m.Graph())
		InferShapes(m, nil)
		NewNamer(m.Graph()).Fresh("x")
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("a loaded model does not re-encode: %v", err)
		}
		if _, err := LoadBytes(out, dir); err != nil {
			t.Fatalf("a re-encoded model does not load: %v", err)
		}
	})
}

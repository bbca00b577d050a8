//go:build ort && cgo && unix

package ort

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
)

// The binding's outputs are ONNX Runtime's: the same library run through
// onnxruntime-node gives the same bytes for the fixture CNN, whether the
// binding reads the model from its file or from memory.
func TestMatchesNodeRunner(t *testing.T) {
	lib, err := Open(testdeps.ORTLibrary(t))
	if err != nil {
		t.Fatal(err)
	}
	if v := lib.Version(); !strings.HasPrefix(v, "1.") {
		t.Errorf("version %q", v)
	}
	model := filepath.Join(testdeps.Root(), "testdata", "models", "cnn.onnx")
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2*28*28)
	for i := range x {
		x[i] = rng.Float32()
	}
	ref := testdeps.ORTFloat32("input", []int{2, 1, 28, 28}, x)
	want, err := testdeps.RunORT(t, model, []testdeps.ORTTensor{ref})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, bytesIn := range [][]byte{nil, raw} {
		s, err := lib.NewSession(model, bytesIn, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetInputs([]Tensor{{Name: "input", Type: 1, Dims: ref.Dims, Data: ref.Data}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
		got, err := s.RunOutputs()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Name != "logits" || got[0].Type != 1 || !slices.Equal(got[0].Dims, want[0].Dims) ||
			!bytes.Equal(got[0].Data, want[0].Data) {
			t.Errorf("from bytes %v: got %s %d %v (%d bytes), want %v %v", bytesIn != nil, got[0].Name, got[0].Type, got[0].Dims, len(got[0].Data), want[0].Dims, want[0].Type)
		}
	}
}

// Integer inputs and outputs pass through: ONNX conformance cases with
// int64 indices (Gather) and uint8 operands giving int32 (MatMulInteger)
// reproduce their reference outputs.
func TestConformanceTypes(t *testing.T) {
	lib, err := Open(testdeps.ORTLibrary(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		inputs []string
	}{
		{"test_gather_0", []string{"data", "indices"}},
		{"test_matmulinteger", []string{"A", "B", "a_zero_point", "b_zero_point"}},
	} {
		dir := filepath.Join(testdeps.Conformance(t), "node", c.name)
		s, err := lib.NewSession(filepath.Join(dir, "model.onnx"), nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		var in []Tensor
		for i, name := range c.inputs {
			in = append(in, readPB(t, filepath.Join(dir, "test_data_set_0", "input_"+string(rune('0'+i))+".pb"), name))
		}
		if err := s.SetInputs(in); err != nil {
			t.Fatal(err)
		}
		got, err := s.RunOutputs()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := readPB(t, filepath.Join(dir, "test_data_set_0", "output_0.pb"), got[0].Name)
		if got[0].Type != want.Type || !slices.Equal(got[0].Dims, want.Dims) || !bytes.Equal(got[0].Data, want.Data) {
			t.Errorf("%s: got type %d dims %v, want %d %v (or different data)", c.name, got[0].Type, got[0].Dims, want.Type, want.Dims)
		}
	}
}

func readPB(t *testing.T, path, name string) Tensor {
	t.Helper()
	e, err := calib.ReadTensor(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := FromEngine(name, e)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Mistakes give errors that name the culprit.
func TestErrors(t *testing.T) {
	libPath := testdeps.ORTLibrary(t)
	if _, err := Open(filepath.Join(t.TempDir(), "nothing.so")); err == nil || !strings.Contains(err.Error(), "nothing.so") {
		t.Errorf("missing library: %v", err)
	}
	lib, err := Open(libPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open("/lib/other.so"); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("second library: %v", err)
	}
	if _, err := lib.NewSession("junk.onnx", []byte("not a model"), 1); err == nil || !strings.Contains(err.Error(), "junk.onnx") {
		t.Errorf("bad model: %v", err)
	}
	s, err := lib.NewSession(filepath.Join(testdeps.Root(), "testdata", "models", "cnn.onnx"), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Run(); err == nil {
		t.Error("Run before SetInputs: no error")
	}
	x, _ := FromEngine("x", engine.NewFloat32([]int{1, 1, 28, 28}, nil))
	if err := s.SetInputs([]Tensor{x}); err == nil || !strings.Contains(err.Error(), `"input"`) {
		t.Errorf("wrong input name: %v", err)
	}
	x.Name, x.Data = "input", x.Data[4:]
	if err := s.SetInputs([]Tensor{x}); err == nil || !strings.Contains(err.Error(), "bytes of data") {
		t.Errorf("short data: %v", err)
	}
	x, _ = FromEngine("input", engine.NewFloat32([]int{1, 3, 28, 28}, nil))
	if err := s.SetInputs([]Tensor{x}); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(); err == nil || !strings.Contains(err.Error(), "onnx runtime run") {
		t.Errorf("wrong shape: %v", err)
	}
}

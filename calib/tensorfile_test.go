package calib

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// Files NumPy wrote (testdata/README.md) read back to the values NumPy
// was given, and WriteNPY writes those same files byte for byte.
func TestNPYAgainstNumPy(t *testing.T) {
	cases := []struct {
		file string
		want *engine.Tensor
	}{
		{"f32_2x3.npy", &engine.Tensor{Type: onnxio.Float, Shape: []int{2, 3}, F32: []float32{-0.5, -0.25, 0, 0.25, 0.5, 0.75}}},
		{"i64_4.npy", &engine.Tensor{Type: onnxio.Int64, Shape: []int{4}, I64: []int64{-3, 0, 7, 1 << 40}}},
		{"u8_scalar.npy", &engine.Tensor{Type: onnxio.Uint8, Shape: []int{}, U8: []uint8{200}}},
		{"bool_2x2.npy", &engine.Tensor{Type: onnxio.Bool, Shape: []int{2, 2}, Bool: []bool{true, false, false, true}}},
	}
	for _, c := range cases {
		path := filepath.Join("testdata", c.file)
		got, err := ReadTensor(path)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: read %+v, want %+v", c.file, got, c.want)
		}
		out := filepath.Join(t.TempDir(), c.file)
		if err := WriteNPY(out, c.want); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(path)
		b, _ := os.ReadFile(out)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: WriteNPY gives\n%q\nNumPy wrote\n%q", c.file, b, a)
		}
	}
	for file, want := range map[string]string{
		"f64_2.npy":       "dtype \"<f8\" is not supported",
		"fortran_2x3.npy": "Fortran-order",
		"missing.npy":     "no such file",
		"x.csv":           "unknown tensor file type",
	} {
		if _, err := ReadTensor(filepath.Join("testdata", file)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", file, err, want)
		}
	}
}

// A header claiming far more data than the file holds is refused before
// anything is allocated for it.
func TestNPYLyingHeader(t *testing.T) {
	orig := mustRead(t, filepath.Join("testdata", "f32_2x3.npy"))
	for name, c := range map[string]struct {
		mod  func([]byte) []byte
		want string
	}{
		"huge shape":  {func(b []byte) []byte { return bytes.Replace(b, []byte("(2, 3), }   "), []byte("(99999999,)}"), 1) }, "does not fit"},
		"not a dict":  {func(b []byte) []byte { b[10] = '['; return b }, "not a dict"},
		"bad shape":   {func(b []byte) []byte { return bytes.Replace(b, []byte("(2, 3)"), []byte("(2, x)"), 1) }, "shape"},
		"huge header": {func(b []byte) []byte { b[6], b[8], b[9], b[10], b[11] = 2, 0xff, 0xff, 0xff, 0x7f; return b }, "does not fit"},
		"short":       {func(b []byte) []byte { return b[:7] }, "not a valid"},
		"no magic":    {func(b []byte) []byte { b[1] = 'X'; return b }, "magic"},
		"short data":  {func(b []byte) []byte { return b[:len(b)-4] }, "does not fit"},
	} {
		p := filepath.Join(t.TempDir(), "lie.npy")
		os.WriteFile(p, c.mod(append([]byte{}, orig...)), 0o644)
		if _, err := ReadTensor(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}

func mustRead(t testing.TB, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The conformance data's TensorProto files read as the engine's tensors,
// and WritePB writes tensors that read back the same.
func TestPBRoundTrip(t *testing.T) {
	in := filepath.Join(testdeps.Conformance(t), "node", "test_relu", "test_data_set_0", "input_0.pb")
	x, err := ReadTensor(in)
	if err != nil {
		t.Fatal(err)
	}
	if x.Type != onnxio.Float || !reflect.DeepEqual(x.Shape, []int{3, 4, 5}) || len(x.F32) != 60 {
		t.Fatalf("read %v", x)
	}
	for _, tt := range []*engine.Tensor{x, {Type: onnxio.Int64, Shape: []int{2}, I64: []int64{5, -1}}} {
		p := filepath.Join(t.TempDir(), "t.pb")
		if err := WritePB(p, "t", tt); err != nil {
			t.Fatal(err)
		}
		back, err := ReadTensor(p)
		if err != nil || !reflect.DeepEqual(back, tt) {
			t.Errorf("round trip: %v %v", back, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.pb")
	os.WriteFile(bad, []byte{0x0a, 0xff}, 0o644)
	if _, err := ReadTensor(bad); err == nil {
		t.Error("corrupt .pb read")
	}
}

// FuzzReadNPY: no .npy file, however mangled, makes the reader panic or
// allocate past the file's size.
func FuzzReadNPY(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.npy"))
	for _, p := range files {
		f.Add(mustRead(f, p))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "x.npy")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if tt, err := ReadTensor(p); err == nil && dataLen(tt) > len(b) {
			t.Fatalf("%d values from a %d-byte file", dataLen(tt), len(b))
		}
	})
}

// Every element type the engine handles survives WriteNPY and WritePB.
func TestWriteReadAllTypes(t *testing.T) {
	for _, tt := range []*engine.Tensor{
		{Type: onnxio.Float, Shape: []int{2}, F32: []float32{1.5, -2}},
		{Type: onnxio.Int64, Shape: []int{1, 2}, I64: []int64{-1, 1 << 50}},
		{Type: onnxio.Int32, Shape: []int{2}, I32: []int32{-7, 9}},
		{Type: onnxio.Uint8, Shape: []int{3}, U8: []uint8{0, 128, 255}},
		{Type: onnxio.Int8, Shape: []int{2, 1}, I8: []int8{-128, 127}},
		{Type: onnxio.Bool, Shape: []int{}, Bool: []bool{true}},
	} {
		for _, ext := range []string{".npy", ".pb"} {
			p := filepath.Join(t.TempDir(), "t"+ext)
			var err error
			if ext == ".npy" {
				err = WriteNPY(p, tt)
			} else {
				err = WritePB(p, "t", tt)
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := ReadTensor(p)
			if err != nil || !reflect.DeepEqual(back, tt) {
				t.Errorf("%s %s: got %+v, %v; want %+v", onnxio.DataTypeName(tt.Type), ext, back, err, tt)
			}
		}
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
)

// qtool run on an ONNX conformance case writes its reference output.
func TestRunConformanceCase(t *testing.T) {
	dir := filepath.Join(testdeps.Conformance(t), "node", "test_conv_with_strides_padding")
	out := t.TempDir()
	if _, err := run(t, "run", filepath.Join(dir, "model.onnx"),
		"--input", "x="+filepath.Join(dir, "test_data_set_0", "input_0.pb"),
		"--input", "W="+filepath.Join(dir, "test_data_set_0", "input_1.pb"),
		"--out", out, "--pb"); err != nil {
		t.Fatal(err)
	}
	want, err := calib.ReadTensor(filepath.Join(dir, "test_data_set_0", "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".npy", ".pb"} {
		got, err := calib.ReadTensor(filepath.Join(out, "y"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Shape, want.Shape) {
			t.Fatalf("%s: shape %v, want %v", ext, got.Shape, want.Shape)
		}
		for i := range want.F32 {
			if d := got.F32[i] - want.F32[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%s: y[%d] = %v, want %v", ext, i, got.F32[i], want.F32[i])
			}
		}
	}
}

func TestRunInputErrors(t *testing.T) {
	cnn := fixture("cnn.onnx")
	dir := t.TempDir()
	good := filepath.Join(dir, "x.npy")
	bad := filepath.Join(dir, "bad.npy")
	calib.WriteNPY(good, engine.NewFloat32([]int{2, 1, 28, 28}, nil))
	calib.WriteNPY(bad, engine.NewFloat32([]int{2, 3, 28, 28}, nil))
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", out}, "input input is missing: give --input input=PATH holding float32[-1 1 28 28]"},
		{[]string{"--input", "nope=" + good, "--out", out}, `no input of that name; its inputs are input`},
		{[]string{"--input", "input=" + bad, "--out", out}, "holds float32[2 3 28 28], the model wants float32[-1 1 28 28]"},
		{[]string{"--input", "input=" + good}, "--out DIR is required"},
		{[]string{"--input", "input", "--out", out}, "want NAME=PATH"},
	} {
		_, err := run(t, append([]string{"run", cnn}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run created the output folder")
	}
	outJSON, err := run(t, "run", cnn, "--input", "input="+good, "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Outputs []struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
			File  string `json:"file"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(outJSON), &r); err != nil || len(r.Outputs) != 1 || r.Outputs[0].Name != "logits" ||
		!reflect.DeepEqual(r.Outputs[0].Shape, []int{2, 10}) || r.Outputs[0].File != filepath.Join(out, "logits.npy") {
		t.Errorf("%v %s", err, outJSON)
	}
}

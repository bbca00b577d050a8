package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

func TestQuantizeErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cnn := fixture("cnn.onnx")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"quantize", cnn}, "--calib"},
		{[]string{"quantize", cnn, "--calib", "builtin", "-o", cnn}, "is the input model"},
		{[]string{"quantize", cnn, "--calib", filepath.Join(dir, "missing.npy")}, "missing.npy"},
		{[]string{"quantize", cnn, "--calib", empty}, "--calib"},
		{[]string{"quantize", "--scheme", "int3"}, "unknown scheme"},
		{[]string{"quantize", "--scheme", "int8", "--block", "32"}, "--block"},
		{[]string{"quantize", "--scheme", "w4a8", "--block", "48"}, "power of two"},
		{[]string{"quantize", "--format", "qlinear"}, "qdq or qop"},
		{[]string{"quantize", "--format", "qop", "--scheme", "w4a8"}, "8-bit"},
		{[]string{"quantize", "--method", "magic"}, "--method"},
		{[]string{"quantize", "--exclude", "nope"}, "no node named"},
		{[]string{"quantize", "--op-types", "Softmax"}, "Softmax"},
		{[]string{"quantize", "--scheme", "binary", "--layers", "/no/such/Conv", "--calib", "builtin", "--calib-size", "10"}, `no node named "/no/such/Conv"`},
		{[]string{"quantize", "--scheme", "binary", "--rest", "int4", "--calib", "builtin", "--calib-size", "10"}, "int8 or fp32"},
		{[]string{"quantize", "--scheme", "binary", "--thresholds", "mode", "--calib", "builtin", "--calib-size", "10"}, "median, mean or zero"},
		{[]string{"quantize", "--scheme", "binary", "--format", "qop"}, "--format does not apply to --scheme binary"},
		{[]string{"quantize", "--scheme", "int8", "--rest", "fp32"}, "--rest applies to --scheme binary"},
	} {
		_, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cnn), "cnn.int8.onnx")); err == nil {
		t.Errorf("a failed run left a model beside the input")
	}
	// Exit status of the real binary.
	cmd := testdeps.SelfCommand(t, "qtool", "quantize", cnn, "--calib", "builtin", "-o", cnn)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), "qtool: ") {
		t.Errorf("exit %v stderr %q", err, stderr.String())
	}
}

// Selection: excluded nodes, kept first/last layers and overrides stay
// float or take their own scheme.
func TestQuantizeSelection(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ov := filepath.Join(dir, "ov.json")
	if err := os.WriteFile(ov, []byte(`{"nodes": {"/features/features.3/Conv": "dfp16"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "quantize", "--json", "--calib", "builtin", "--calib-size", "50", "--first-last", "float",
		"--exclude", "/features/features.7/Conv", "--overrides", ov)
	if err != nil {
		t.Fatal(err)
	}
	var rep quantizeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, l := range rep.Layers {
		got = append(got, l.Precision)
	}
	if strings.Join(got, " ") != "fp32 dfp16 fp32 w8a8 w8a8 fp32" {
		t.Errorf("precisions %v", got)
	}
}

// Data of one's own: images in a .npy file with labels in another, and
// an overrides file with a mistake.
func TestQuantizeNPYAndLabels(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	src, err := builtinImages(calib.Options{Inputs: []engine.ValueInfo{{Name: "input", Type: onnxio.Float, Shape: []int{-1, 1, 28, 28}}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var data []float32
	labels := make([]int64, n)
	for i := range n {
		it, err := src.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, it.Inputs["input"].F32...)
		labels[i] = int64(it.Label)
	}
	if err := calib.WriteNPY("x.npy", engine.NewFloat32([]int{n, 1, 28, 28}, data)); err != nil {
		t.Fatal(err)
	}
	if err := calib.WriteNPY("y.npy", engine.NewInt64([]int{n}, labels)); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "quantize", fixture("mobilenet.onnx"), "-o", "m.onnx", "--calib", "x.npy", "--eval", "x.npy", "--labels", "y.npy", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep quantizeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.CalibItems != n || rep.EvalItems != n || rep.QuantTop1 == nil || *rep.FloatTop1 < 80 {
		t.Errorf("report %+v", rep)
	}
	// Without labels: agreement and output SQNR, no accuracy.
	out, err = run(t, "quantize", fixture("mobilenet.onnx"), "-o", "m.onnx", "--calib", "x.npy", "--eval", "x.npy", "--json")
	if err != nil {
		t.Fatalf("eval without labels: %v", err)
	}
	rep = quantizeReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.EvalReport == nil || rep.EvalItems != n || rep.FloatTop1 != nil || rep.Agreement < 80 || rep.OutputSQNR < 10 {
		t.Errorf("eval without labels: %s", out)
	}
	if err := os.WriteFile("bad.json", []byte(`{"nodes": {"/stem/stem.0/Conv": "int3"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "quantize", fixture("mobilenet.onnx"), "--calib", "x.npy", "--overrides", "bad.json"); err == nil || !strings.Contains(err.Error(), "int3") {
		t.Errorf("bad overrides: %v", err)
	}
	if err := os.WriteFile("bad.json", []byte(`{"layers": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "quantize", fixture("mobilenet.onnx"), "--calib", "x.npy", "--overrides", "bad.json"); err == nil || !strings.Contains(err.Error(), "layers") {
		t.Errorf("unknown overrides field: %v", err)
	}
}

// quantize --scheme binary on the built-in CNN (no trained binary
// layers: post-training binarization of the inner layers): the report's
// layers are fp32 first and last (--rest fp32) and binary between, with
// bit-operations equal to the float layers' MACs; the written model
// holds the binary operators, and inspect counts the same MACs as for
// the float model and the binary layers' bit-operations.
func TestQuantizeBinary(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	out, err := run(t, "quantize", "--scheme", "binary", "--rest", "fp32", "--calib", "builtin", "--calib-size", "50", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep quantizeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if rep.Output != "cnn.binary.onnx" || rep.Binary == nil || rep.Binary.Trained || rep.Binary.Thresholds != "mean" || len(rep.Layers) != 6 {
		t.Fatalf("report: %+v", rep)
	}
	floatInfo := inspect(t)
	floatMACs := map[string]int64{}
	for _, l := range floatInfo.Layers {
		floatMACs[l.Name] = l.MACs
	}
	var bitOps int64
	for i, l := range rep.Layers {
		want := "binary"
		if i == 0 || i == len(rep.Layers)-1 {
			want = "fp32"
		}
		if l.Precision != want || rep.Binary.LayerMACs[l.Name] != floatMACs[l.Name] || floatMACs[l.Name] == 0 {
			t.Errorf("layer %d %+v: want %s, MACs %d (float %d)", i, l, want, rep.Binary.LayerMACs[l.Name], floatMACs[l.Name])
		}
		if want == "binary" {
			if rep.Binary.LayerBitOps[l.Name] != floatMACs[l.Name] || l.WeightBytes*3 > l.FloatBytes {
				t.Errorf("binary layer %+v: %d bit-ops", l, rep.Binary.LayerBitOps[l.Name])
			}
			bitOps += floatMACs[l.Name]
		}
	}
	if rep.Binary.BitOps != bitOps {
		t.Errorf("bit-ops %d, layers sum to %d", rep.Binary.BitOps, bitOps)
	}
	info := inspect(t, "cnn.binary.onnx")
	if info.MACs != floatInfo.MACs || info.BitOps != bitOps || info.Ops["ai.qtool.BinaryConv"] != 3 || info.Ops["ai.qtool.BinaryGemm"] != 1 || info.Opsets["ai.qtool"] != 1 {
		t.Errorf("inspect: MACs %d (float %d), ops %v, opsets %v", info.MACs, floatInfo.MACs, info.Ops, info.Opsets)
	}
	txt, err := run(t, "inspect", "cnn.binary.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bit-ops", "binary layers", "BinaryConv"} {
		if !strings.Contains(txt, want) {
			t.Errorf("inspect text lacks %q:\n%s", want, txt)
		}
	}
	// The text report, int8 for the rest.
	txt, err = run(t, "quantize", "--scheme", "binary", "--calib", "builtin", "--calib-size", "50", "-o", "b8.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"binarized after training", "int8", "w8a8", "binary", "bit-ops", "/features/features.3/Conv"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text output lacks %q:\n%s", want, txt)
		}
	}
}

// The trained bnn fixture converts: its six binary blocks are reported
// binary (with no thresholds: they are the trained ones), the stem and
// head int8, and --layers is refused for it.
func TestQuantizeBinaryTrained(t *testing.T) {
	t.Chdir(t.TempDir())
	bnn := fixture("bnn.onnx")
	out, err := run(t, "quantize", bnn, "--scheme", "binary", "--calib", "builtin", "--calib-size", "20", "-o", "b.onnx", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep quantizeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	var prec []string
	for _, l := range rep.Layers {
		prec = append(prec, l.Precision)
	}
	if rep.Binary == nil || !rep.Binary.Trained || rep.Binary.Thresholds != "" || rep.Binary.Rest != "int8" ||
		strings.Join(prec, " ") != "w8a8 binary binary binary binary binary binary w8a8" {
		t.Errorf("report %+v, precisions %v", rep.Binary, prec)
	}
	if _, err := run(t, "quantize", bnn, "--scheme", "binary", "--calib", "builtin", "--calib-size", "20", "--layers", "/stem/stem.0/Conv"); err == nil || !strings.Contains(err.Error(), "trained binary layers") {
		t.Errorf("--layers on a trained network: %v", err)
	}
}

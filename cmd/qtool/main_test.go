package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtool/qtool/bench"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/kernels"
)

// run executes qtool with args in-process and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// inspectJSON is the documented contract of `qtool inspect --json`.
type inspectJSON struct {
	IRVersion int64            `json:"ir_version"`
	Opsets    map[string]int64 `json:"opsets"`
	Inputs    []struct {
		Name  string `json:"name"`
		DType string `json:"dtype"`
		Shape []any  `json:"shape"`
	} `json:"inputs"`
	Outputs []struct {
		Name  string `json:"name"`
		DType string `json:"dtype"`
		Shape []any  `json:"shape"`
	} `json:"outputs"`
	Ops    map[string]int `json:"ops"`
	Params int64          `json:"params"`
	MACs   int64          `json:"macs"`
	BitOps int64          `json:"bit_ops"`
	Layers []struct {
		Name   string `json:"name"`
		Op     string `json:"op"`
		MACs   int64  `json:"macs"`
		BitOps int64  `json:"bit_ops"`
	} `json:"layers"`
}

func inspect(t *testing.T, args ...string) inspectJSON {
	t.Helper()
	out, err := run(t, append([]string{"inspect", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("inspect %v: %v", args, err)
	}
	var info inspectJSON
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("inspect %v: bad JSON: %v\n%s", args, err, out)
	}
	return info
}

func fixture(name string) string {
	return filepath.Join(testdeps.Root(), "testdata", "models", name)
}

// The plain CNN counted by hand (testdata/train/train_fixtures.py): four
// 3x3 convs with padding 1 at 28x28 (1->16, 16->16) and 14x14 (16->32,
// 32->32), then Gemm 1568->128 and 128->10.
func TestInspectCNNHandCount(t *testing.T) {
	convs := []int64{
		28 * 28 * 16 * 1 * 9,
		28 * 28 * 16 * 16 * 9,
		14 * 14 * 32 * 16 * 9,
		14 * 14 * 32 * 32 * 9,
	}
	gemms := []int64{32 * 7 * 7 * 128, 128 * 10}
	var want int64
	for _, v := range append(convs, gemms...) {
		want += v
	}
	// Weights, BN scale/bias/mean/var, and the Gemm weights and biases.
	wantParams := int64(1*16*9+16*16*9+16*32*9+32*32*9) + 4*(16+16+32+32) + (1568*128 + 128) + (128*10 + 10)

	info := inspect(t, fixture("cnn.onnx"))
	if info.MACs != want {
		t.Errorf("MACs %d, hand count %d", info.MACs, want)
	}
	if info.Params != wantParams {
		t.Errorf("params %d, hand count %d", info.Params, wantParams)
	}
	var got []int64
	for _, l := range info.Layers {
		got = append(got, l.MACs)
	}
	if len(got) != 6 {
		t.Fatalf("layers %+v, want 4 Conv and 2 Gemm", info.Layers)
	}
	for i, w := range append(convs, gemms...) {
		if got[i] != w {
			t.Errorf("layer %d (%s %s): MACs %d, want %d", i, info.Layers[i].Name, info.Layers[i].Op, got[i], w)
		}
	}
	if info.Opsets["ai.onnx"] != 13 || info.Ops["Conv"] != 4 || info.Ops["Gemm"] != 2 || info.Ops["BatchNormalization"] != 4 {
		t.Errorf("opsets %v ops %v", info.Opsets, info.Ops)
	}
	if len(info.Inputs) != 1 || info.Inputs[0].Name != "input" || info.Inputs[0].DType != "float32" || len(info.Inputs[0].Shape) != 4 {
		t.Errorf("inputs %+v", info.Inputs)
	} else if _, symbolic := info.Inputs[0].Shape[0].(string); !symbolic {
		t.Errorf("batch dimension %v should be symbolic", info.Inputs[0].Shape[0])
	}
	if len(info.Outputs) != 1 || info.Outputs[0].Name != "logits" {
		t.Errorf("outputs %+v", info.Outputs)
	}

	// A batch of 8 multiplies every layer by 8.
	if b8 := inspect(t, "--shape", "input=8,1,28,28", fixture("cnn.onnx")); b8.MACs != 8*want {
		t.Errorf("batch 8: MACs %d, want %d", b8.MACs, 8*want)
	}
	// No model: the built-in CNN.
	if def := inspect(t); def.MACs != want {
		t.Errorf("built-in model: MACs %d, want %d", def.MACs, want)
	}
}

// The other fixtures' totals as counted from the PyTorch modules when they
// were trained (testdata/README.md).
func TestInspectFixtureTotals(t *testing.T) {
	for name, want := range map[string]int64{"resnet.onnx": 12_958_592, "mobilenet.onnx": 4_020_064} {
		if got := inspect(t, fixture(name)).MACs; got != want {
			t.Errorf("%s: MACs %d, want %d", name, got, want)
		}
	}
}

// Every fixture and both PaddleOCR models inspect cleanly, with a MAC count
// for every Conv, ConvTranspose, Gemm and MatMul.
func TestInspectModels(t *testing.T) {
	models := map[string][]string{
		fixture("resnet.onnx"):                                      nil,
		fixture("mobilenet.onnx"):                                   nil,
		testdeps.OCRModel(t, "ch_PP-OCRv4_det_infer.onnx"):          {"--shape", "x=1,3,320,320"},
		testdeps.OCRModel(t, "ch_ppocr_mobile_v2.0_cls_infer.onnx"): {"--shape", "x=1,3,48,192"},
	}
	for path, extra := range models {
		info := inspect(t, append(extra, path)...)
		n := info.Ops["Conv"] + info.Ops["ConvTranspose"] + info.Ops["Gemm"] + info.Ops["MatMul"]
		if len(info.Layers) != n || n == 0 {
			t.Errorf("%s: %d layers for %d Conv/ConvTranspose/Gemm/MatMul nodes", path, len(info.Layers), n)
		}
		var sum int64
		for _, l := range info.Layers {
			if l.MACs <= 0 {
				t.Errorf("%s: layer %s has %d MACs", path, l.Name, l.MACs)
			}
			sum += l.MACs
		}
		if sum != info.MACs {
			t.Errorf("%s: layers sum to %d, total says %d", path, sum, info.MACs)
		}
		if info.Params == 0 || info.IRVersion == 0 {
			t.Errorf("%s: params %d ir %d", path, info.Params, info.IRVersion)
		}
	}
}

func TestInspectTextAndErrors(t *testing.T) {
	out, err := run(t, "inspect", fixture("cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"IR version", "input", "logits", "4,830,720", "Conv", "layers"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.onnx")
	os.WriteFile(bad, []byte("this is not a model"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "missing.onnx"}, "no such file"},
		{[]string{"inspect", bad}, "not a valid ONNX protobuf"},
		{[]string{"inspect", "--shape", "input", fixture("cnn.onnx")}, "NAME=D0,D1"},
		{[]string{"inspect", "--shape", "nope=1,1,28,28", fixture("cnn.onnx")}, `no input of that name`},
		{[]string{"inspect", "--shape", "input=1,1,28", fixture("cnn.onnx")}, "input"},
		{[]string{"inspect", "a", "b"}, "accepts at most 1 arg"},
	} {
		if _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}

func TestCPUAndVersion(t *testing.T) {
	out, err := run(t, "cpu", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Arch     string   `json:"arch"`
		Features []string `json:"features"`
		Kernels  map[string]string
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Arch == "" || c.Features == nil || c.Kernels["fp32"] == "" {
		t.Errorf("cpu --json: %v\n%s", err, out)
	}
	// --kernels forces a path for the whole command (and this process).
	defer kernels.SetPath(kernels.ActivePath())
	out, err = run(t, "cpu", "--json", "--kernels", "generic")
	if err != nil || json.Unmarshal([]byte(out), &c) != nil || c.Kernels["fp32"] != "generic" {
		t.Errorf("cpu --kernels generic: %v\n%s", err, out)
	}
	if _, err := run(t, "cpu", "--kernels", "sse9"); err == nil || !strings.Contains(err.Error(), "--kernels") {
		t.Errorf("cpu --kernels sse9: %v", err)
	}
	out, err = run(t, "version", "--json")
	var v versionInfo
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Go == "" || v.Arch == "" {
		t.Errorf("version --json: %v\n%s", err, out)
	}
	if out, err := run(t, "completion", "bash"); err != nil || !strings.Contains(out, "qtool") {
		t.Errorf("completion bash: %v", err)
	}
}

func TestBenchKernelsCommand(t *testing.T) {
	out, err := run(t, "bench", "--kernels", "--paths", "generic", "--shapes", "16x16x16,8x3x5", "--time", "1ms", "--rounds", "1", "--families", "fp32", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Kernels []bench.KernelRow `json:"kernels"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Kernels) != 2 || r.Kernels[0].Path != "generic" || r.Kernels[0].GOPS <= 0 {
		t.Errorf("%v\n%s", err, out)
	}
	out, err = run(t, "bench", "--kernels", "--paths", "generic", "--shapes", "8x40x12", "--time", "1ms", "--rounds", "1", "--families", "fp32,int8", "--json")
	if err != nil {
		t.Fatal(err)
	}
	r.Kernels = nil
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Kernels) != 1+len(kernels.Int8.SupportedPaths()) || r.Kernels[1].Family != "int8" || r.Kernels[1].VsFP32 <= 0 {
		t.Errorf("int8 rows: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"bench", "--kernels", "--paths", "sse9"}, {"bench", "--kernels", "--shapes", "12x12"}} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

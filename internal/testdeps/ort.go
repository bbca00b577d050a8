package testdeps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ORTTensor is one tensor passed to or returned by ONNX Runtime: raw
// little-endian data in row-major order.
type ORTTensor struct {
	Name string  `json:"name"`
	Type string  `json:"type"` // onnxruntime-node's names: float32, int64, uint8...
	Dims []int64 `json:"dims"`
	Data []byte  `json:"-"`
	File string  `json:"file"`
}

// RunORT runs the model at path through ONNX Runtime on one thread and
// returns its outputs in the model's output order. It skips or fails (see
// package doc) when ONNX Runtime is not installed.
func RunORT(t testing.TB, model string, inputs []ORTTensor) ([]ORTTensor, error) {
	t.Helper()
	node, script := ORTRunner(t)
	dir := t.TempDir()
	for i := range inputs {
		inputs[i].File = filepath.Join(dir, fmt.Sprintf("in_%d.bin", i))
		if err := os.WriteFile(inputs[i].File, inputs[i].Data, 0o644); err != nil {
			return nil, err
		}
	}
	req, err := json.Marshal(map[string]any{"model": model, "dir": dir, "inputs": inputs})
	if err != nil {
		return nil, err
	}
	reqFile := filepath.Join(dir, "request.json")
	if err := os.WriteFile(reqFile, req, 0o644); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(node, script, reqFile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("onnx runtime on %s: %v: %s", model, err, stderr.String())
	}
	var outs []ORTTensor
	if err := json.Unmarshal(stdout.Bytes(), &outs); err != nil {
		return nil, fmt.Errorf("onnx runtime on %s: bad runner output: %v", model, err)
	}
	for i := range outs {
		if outs[i].Data, err = os.ReadFile(outs[i].File); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

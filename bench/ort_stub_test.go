//go:build !ort || !cgo || !unix

package bench

import (
	"errors"
	"testing"

	"github.com/qtool/qtool/internal/ort"
	"github.com/qtool/qtool/onnxio"
)

// Without the binding, --ort fails saying how to rebuild.
func TestBenchModelsORTNotBuilt(t *testing.T) {
	_, err := BenchModels([]*onnxio.Model{fixtureFile(t, "cnn.onnx")}, ModelOptions{Runs: 1, Warmup: 1, ORT: "libonnxruntime.so"})
	if !errors.Is(err, ort.ErrNotBuilt) {
		t.Errorf("error %v, want ErrNotBuilt", err)
	}
}

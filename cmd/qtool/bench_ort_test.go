//go:build ort && cgo && unix

package main

import (
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
)

// --ort adds ONNX Runtime after each model, in the table and the JSON.
func TestBenchORT(t *testing.T) {
	r := benchRun(t, "--ort", testdeps.ORTLibrary(t), fixture("cnn.onnx"), fixture("mobilenet.onnx"))
	if r.ORTVersion == "" || len(r.Results) != 4 {
		t.Fatalf("%+v", r)
	}
	for i, x := range r.Results {
		if want := [2]string{"qtool", "onnxruntime"}[i%2]; x.Runtime != want || x.MinMs <= 0 {
			t.Errorf("result %d: %+v, want runtime %s", i, x, want)
		}
	}
}

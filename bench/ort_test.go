//go:build ort && cgo && unix

package bench

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/ort"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// With a library, every model also runs through ONNX Runtime, right after
// its qtool run, and ONNX Runtime gets the very inputs the engine gets:
// its outputs match the engine's on them.
func TestBenchModelsORT(t *testing.T) {
	lib := testdeps.ORTLibrary(t)
	models := []*onnxio.Model{fixtureFile(t, "cnn.onnx"), fixtureFile(t, "resnet.onnx")}
	r, err := BenchModels(models, ModelOptions{Batch: 3, Threads: 1, Warmup: 1, Runs: 3, ORT: lib})
	if err != nil {
		t.Fatal(err)
	}
	if r.ORTVersion == "" || len(r.Results) != 4 {
		t.Fatalf("report %+v", r)
	}
	for i, m := range r.Results {
		want := [2]string{"qtool", "onnxruntime"}[i%2]
		if m.Model != models[i/2].Path || m.Runtime != want || !(m.MinMs > 0 && m.MinMs <= m.P50Ms) {
			t.Errorf("result %d: %+v, want %s on %s", i, m, want, models[i/2].Path)
		}
	}

	// The built-in model has no file: ONNX Runtime reads it serialized.
	models[0].Path = "(built in) cnn"
	for i, m := range models {
		s, err := engine.Compile(m, engine.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		inputs, _, err := RandomInputs(s, 2, nil, 5)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ort.Open(lib)
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := ortSessions(l, models[i:i+1], s, inputs, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sessions[0].RunOutputs()
		sessions[0].Close()
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.Run(inputs)
		if err != nil {
			t.Fatal(err)
		}
		w := want[got[0].Name].F32
		if len(got[0].Data) != 4*len(w) {
			t.Fatalf("%s: %d bytes from ONNX Runtime, %d floats from the engine", m.Path, len(got[0].Data), len(w))
		}
		for k := range w {
			if g := math.Float32frombits(binary.LittleEndian.Uint32(got[0].Data[4*k:])); math.Abs(float64(g-w[k])) > 1e-4*(1+math.Abs(float64(w[k]))) {
				t.Fatalf("%s: output %d: onnx runtime %v, engine %v", m.Path, k, g, w[k])
			}
		}
	}
}

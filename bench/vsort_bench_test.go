package bench

import (
	"slices"
	"testing"
	"time"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// BenchmarkVsORT times qtool's engine and ONNX Runtime 1.30 on the same
// model and inputs, one thread each, alternating twice so drift hits
// both alike, and reports the median latencies and their ratio
// (engine/ORT: below 1 means qtool is faster), and the ratio of the best
// runs (min_ratio), which other load on the machine moves less. Run it once per model:
//
//	go test ./bench -run '^$' -bench VsORT -benchtime 1x
func BenchmarkVsORT(b *testing.B) {
	models := testdeps.Root() + "/testdata/models/"
	cases := []struct {
		name, path string
		batch      int
		shapes     map[string]onnxio.Shape
	}{
		{"cnn/b1", models + "cnn.onnx", 1, nil},
		{"cnn/b64", models + "cnn.onnx", 64, nil},
		{"resnet/b1", models + "resnet.onnx", 1, nil},
		{"resnet/b64", models + "resnet.onnx", 64, nil},
		{"mobilenet/b1", models + "mobilenet.onnx", 1, nil},
		{"mobilenet/b64", models + "mobilenet.onnx", 64, nil},
		{"ppocr-det/320", testdeps.OCRModel(b, "ch_PP-OCRv4_det_infer.onnx"), 1,
			map[string]onnxio.Shape{"x": {{Value: 1}, {Value: 3}, {Value: 320}, {Value: 320}}}},
		{"ppocr-cls/48x192", testdeps.OCRModel(b, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), 1,
			map[string]onnxio.Shape{"x": {{Value: 1}, {Value: 3}, {Value: 48}, {Value: 192}}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m, err := onnxio.Load(c.path)
			if err != nil {
				b.Fatal(err)
			}
			s, err := engine.Compile(m, engine.Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			ins, _, err := RandomInputs(s, c.batch, c.shapes, 7)
			if err != nil {
				b.Fatal(err)
			}
			var ortIns []testdeps.ORTTensor
			for _, vi := range s.Inputs() {
				t := ins[vi.Name]
				ortIns = append(ortIns, testdeps.ORTFloat32(vi.Name, t.Shape, t.F32))
			}
			const warmup, runs = 5, 25
			var ours, theirs []float64
			for round := 0; round < 2; round++ {
				for i := 0; i < warmup+runs; i++ {
					t := time.Now()
					if _, err := s.Run(ins); err != nil {
						b.Fatal(err)
					}
					if i >= warmup {
						ours = append(ours, float64(time.Since(t).Nanoseconds())/1e6)
					}
				}
				r := testdeps.RunORTBatch(b, []testdeps.ORTJob{{Model: c.path, Inputs: ortIns, Warmup: warmup, Runs: runs}})[0]
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				theirs = append(theirs, r.Ms...)
			}
			med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
			o, t := med(ours), med(theirs)
			b.ReportMetric(o, "qtool_ms")
			b.ReportMetric(t, "ort_ms")
			b.ReportMetric(o/t, "ratio")
			// The best runs: less moved by other work on a shared machine.
			b.ReportMetric(slices.Min(ours)/slices.Min(theirs), "min_ratio")
		})
	}
}

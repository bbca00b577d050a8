package bench

import (
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

// BenchmarkVsORT times qtool's engine and ONNX Runtime 1.30 on the same
// model and inputs, one thread each, alternating twice so drift hits
// both alike, and reports the median latencies and their ratio
// (engine/ORT: below 1 means qtool is faster), and the ratio of the best
// runs (min_ratio), which other load on the machine moves less. The
// int8 cases quantize the model to int8 QDQ with qtool first (calibrated
// on seeded random inputs), run the saved file in both, and also report
// the engine's int8/fp32 ratio (int8_fp32: its float model timed in the
// same rounds). qtool_allocs/run counts the heap allocations of one of
// qtool's runs of the case's model. Run it once per model:
//
//	go test ./bench -run '^$' -bench VsORT -benchtime 1x
func BenchmarkVsORT(b *testing.B) {
	models := testdeps.Root() + "/testdata/models/"
	det := map[string]onnxio.Shape{"x": {{Value: 1}, {Value: 3}, {Value: 320}, {Value: 320}}}
	cls := map[string]onnxio.Shape{"x": {{Value: 1}, {Value: 3}, {Value: 48}, {Value: 192}}}
	cases := []struct {
		name, path string
		batch      int
		shapes     map[string]onnxio.Shape
		int8       bool // quantized to int8 QDQ first
	}{
		{"cnn/b1", models + "cnn.onnx", 1, nil, false},
		{"cnn/b64", models + "cnn.onnx", 64, nil, false},
		{"resnet/b1", models + "resnet.onnx", 1, nil, false},
		{"resnet/b64", models + "resnet.onnx", 64, nil, false},
		{"mobilenet/b1", models + "mobilenet.onnx", 1, nil, false},
		{"mobilenet/b64", models + "mobilenet.onnx", 64, nil, false},
		{"ppocr-det/320", testdeps.OCRModel(b, "ch_PP-OCRv4_det_infer.onnx"), 1, det, false},
		{"ppocr-cls/48x192", testdeps.OCRModel(b, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), 1, cls, false},
		{"cnn-int8/b64", models + "cnn.onnx", 64, nil, true},
		{"resnet-int8/b64", models + "resnet.onnx", 64, nil, true},
		{"mobilenet-int8/b64", models + "mobilenet.onnx", 64, nil, true},
		{"ppocr-det-int8/320", testdeps.OCRModel(b, "ch_PP-OCRv4_det_infer.onnx"), 1, det, true},
		{"ppocr-cls-int8/48x192", testdeps.OCRModel(b, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), 1, cls, true},
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
			path := c.path
			var fp32 *engine.Session // the float model of an int8 case
			if c.int8 {
				fp32 = s
				path = quantizeInt8(b, m, s, c.shapes)
				qm, err := onnxio.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				if s, err = engine.Compile(qm, engine.Options{Threads: 1}); err != nil {
					b.Fatal(err)
				}
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
			var ours, theirs, float []float64
			var allocs uint64 // heap allocations of qtool's runs
			time1 := func(s *engine.Session, ms *[]float64) {
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				defer func() {
					runtime.ReadMemStats(&m1)
					if s != fp32 {
						allocs += m1.Mallocs - m0.Mallocs
					}
				}()
				for i := 0; i < warmup+runs; i++ {
					t := time.Now()
					if _, err := s.Run(ins); err != nil {
						b.Fatal(err)
					}
					if i >= warmup {
						*ms = append(*ms, float64(time.Since(t).Nanoseconds())/1e6)
					}
				}
			}
			for round := 0; round < 2; round++ {
				time1(s, &ours)
				if fp32 != nil {
					time1(fp32, &float)
				}
				r := testdeps.RunORTBatch(b, []testdeps.ORTJob{{Model: path, Inputs: ortIns, Warmup: warmup, Runs: runs}})[0]
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				theirs = append(theirs, r.Ms...)
			}
			med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
			o, t := med(ours), med(theirs)
			b.ReportMetric(o, "qtool_ms")
			b.ReportMetric(float64(allocs)/float64(2*(warmup+runs)), "qtool_allocs/run")
			b.ReportMetric(t, "ort_ms")
			b.ReportMetric(o/t, "ratio")
			// The best runs: less moved by other work on a shared machine.
			b.ReportMetric(slices.Min(ours)/slices.Min(theirs), "min_ratio")
			if fp32 != nil {
				b.ReportMetric(med(float), "fp32_ms")
				b.ReportMetric(o/med(float), "int8_fp32")
			}
		})
	}
}

// quantizeInt8 quantizes m (compiled as s) to int8 QDQ with qtool,
// calibrated on 4 seeded random inputs of the shapes given (batch 4),
// and returns the saved file's path.
func quantizeInt8(b *testing.B, m *onnxio.Model, s *engine.Session, shapes map[string]onnxio.Shape) string {
	b.Helper()
	cs := map[string]onnxio.Shape{}
	for name, sh := range shapes {
		sh = slices.Clone(sh)
		sh[0] = onnxio.Dim{Value: 4}
		cs[name] = sh
	}
	ins, _, err := RandomInputs(s, 4, cs, 3)
	if err != nil {
		b.Fatal(err)
	}
	src, err := calib.NewArrays("random", ins, calib.Options{Inputs: s.Inputs()})
	if err != nil {
		b.Fatal(err)
	}
	sc, err := quant.SchemeByName("int8")
	if err != nil {
		b.Fatal(err)
	}
	res, err := quant.Quantize(m, src, quant.Config{Scheme: sc}, quant.Options{Calib: calib.Config{Quiet: true, BatchSize: 4}})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "int8.onnx")
	if err := res.Model.Save(path, onnxio.SaveOptions{}); err != nil {
		b.Fatal(err)
	}
	return path
}

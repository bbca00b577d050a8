package engine

import (
	"testing"
	"time"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

func benchModel(b *testing.B, path string, shape []int, threads int) {
	s := compileFile(b, path, Options{Threads: threads})
	in := map[string]*Tensor{s.InputNames()[0]: randInput(1, shape)}
	if _, err := s.Run(in); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCNNBatch1(b *testing.B) { benchModel(b, fixture("cnn"), []int{1, 1, 28, 28}, 1) }
func BenchmarkMobilenetBatch1(b *testing.B) {
	benchModel(b, fixture("mobilenet"), []int{1, 1, 28, 28}, 1)
}
func BenchmarkResnetBatch8(b *testing.B) { benchModel(b, fixture("resnet"), []int{8, 1, 28, 28}, 0) }
func BenchmarkMobilenetBatch8(b *testing.B) {
	benchModel(b, fixture("mobilenet"), []int{8, 1, 28, 28}, 0)
}
func BenchmarkOCRDet320(b *testing.B) {
	benchModel(b, testdeps.OCRModel(b, "ch_PP-OCRv4_det_infer.onnx"), []int{1, 3, 320, 320}, 0)
}
func BenchmarkOCRCls(b *testing.B) {
	benchModel(b, testdeps.OCRModel(b, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), []int{1, 3, 48, 192}, 0)
}
func BenchmarkCNNBatch64(b *testing.B) { benchModel(b, fixture("cnn"), []int{64, 1, 28, 28}, 1) }
func BenchmarkMobilenetBatch64(b *testing.B) {
	benchModel(b, fixture("mobilenet"), []int{64, 1, 28, 28}, 1)
}
func BenchmarkResnetBatch64(b *testing.B) { benchModel(b, fixture("resnet"), []int{64, 1, 28, 28}, 1) }
func BenchmarkResnetBatch1(b *testing.B)  { benchModel(b, fixture("resnet"), []int{1, 1, 28, 28}, 1) }
func BenchmarkMobilenetBatch1T1(b *testing.B) {
	benchModel(b, fixture("mobilenet"), []int{1, 1, 28, 28}, 1)
}
func BenchmarkOCRDet320T1(b *testing.B) {
	benchModel(b, testdeps.OCRModel(b, "ch_PP-OCRv4_det_infer.onnx"), []int{1, 3, 320, 320}, 1)
}

// BenchmarkCNNQDQ compares the cnn fixture in fp32 with its QDQ version
// (test-built, see qdqCNN) run on the integer kernels, and the same QDQ
// model as simulated quantization, at batch 64 on one thread: run them
// in one invocation (-bench CNNQDQ) so a busy machine affects all alike.
func BenchmarkCNNQDQ(b *testing.B) {
	x, _ := fashionImages(b)
	m := qdqCNN(b, firstImages(x, 200))
	in := map[string]*Tensor{"input": firstImages(x, 64)}
	run := func(b *testing.B, s *Session) {
		if _, err := s.Run(in); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.Run(in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/64/1e3, "us/image")
	}
	for _, c := range []struct {
		name string
		s    func() (*Session, error)
	}{
		{"fp32", func() (*Session, error) { return Compile(mustLoad(b, fixture("cnn")), Options{Threads: 1}) }},
		{"int8", func() (*Session, error) { return Compile(m, Options{Threads: 1}) }},
		{"qdq-simulated", func() (*Session, error) { return Compile(m, Options{Threads: 1, NoInteger: true}) }},
	} {
		s, err := c.s()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/batch64", func(b *testing.B) { run(b, s) })
	}
	// Alternating fp32 and int8 runs within one loop: on a shared
	// machine both see the same load; reports each one's ms per batch.
	for _, threads := range []int{1, 0} {
		alternating(b, m, in, threads)
	}
}

func alternating(b *testing.B, m *onnxio.Model, in map[string]*Tensor, threads int) {
	name := "alternating/batch64"
	if threads == 0 {
		name += "/allcores"
	}
	b.Run(name, func(b *testing.B) {
		sf, err := Compile(mustLoad(b, fixture("cnn")), Options{Threads: threads})
		if err != nil {
			b.Fatal(err)
		}
		si, err := Compile(m, Options{Threads: threads})
		if err != nil {
			b.Fatal(err)
		}
		var tf, ti time.Duration
		for i := 0; i < b.N; i++ {
			for j, s := range []*Session{sf, si} {
				t0 := time.Now()
				if _, err := s.Run(in); err != nil {
					b.Fatal(err)
				}
				if j == 0 {
					tf += time.Since(t0)
				} else {
					ti += time.Since(t0)
				}
			}
		}
		b.ReportMetric(float64(tf.Microseconds())/float64(b.N)/1e3, "fp32-ms")
		b.ReportMetric(float64(ti.Microseconds())/float64(b.N)/1e3, "int8-ms")
		b.ReportMetric(float64(tf)/float64(ti), "speedup")
	})
}

func mustLoad(t testing.TB, path string) *onnxio.Model {
	m, err := onnxio.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

package engine

import (
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
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

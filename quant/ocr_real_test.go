//go:build amd64 && !race

// The PaddleOCR models on real photos take tens of seconds natively, far
// more under the race detector or emulation; make full runs this file.

package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
)

// ocrCase is a PaddleOCR model with its own preprocessing (PaddleOCR's
// DetResizeForTest + NormalizeImage for the detector, ClsResizeImg for
// the classifier), and the output SQNR floors of its int8 model on the
// sample photos, measured then lowered by a margin.
//
// Measured (int8, min/max calibration on the 23 photos): the detector
// 2.09 dB with our engine and 2.09 dB with ONNX Runtime, the classifier
// 19.52 and 19.40 dB. The detector's figure is poor, and ONNX Runtime's
// matches it, so the loss is in the quantized model, not in either
// engine: its layer SQNRs fall from 28.7 dB at the first convolution to
// under 1 dB at the second depthwise one. The floors guard against it
// getting worse; raise them when it is fixed.
type ocrCase struct {
	model    string
	pre      calib.Preprocess
	floor    float64 // dB, our engine: quantized against float
	floorORT float64 // dB, ONNX Runtime: the same quantized file against float
}

var ocrCases = []ocrCase{
	{"ch_PP-OCRv4_det_infer.onnx", calib.Preprocess{ResizeW: 320, ResizeH: 320,
		Mean: []float64{123.675, 116.28, 103.53}, Std: []float64{58.395, 57.12, 57.375}}, 1.5, 1.5},
	{"ch_ppocr_mobile_v2.0_cls_infer.onnx", calib.Preprocess{ResizeW: 192, ResizeH: 48,
		Mean: []float64{127.5}, Std: []float64{127.5}}, 17, 17},
}

// ocrSource opens the sample photos for model m as c preprocesses them.
func ocrSource(t testing.TB, m *onnxio.Model, dir string, c ocrCase) calib.Source {
	t.Helper()
	s, err := engine.Compile(m, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := calib.Open(dir, calib.Options{Inputs: s.Inputs(), Preprocess: c.pre})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// Both PaddleOCR models quantized to int8 on the 23 sample photos, with
// PaddleOCR's preprocessing: the SQNR of the quantized model's output
// against the float model's on those photos, with our engine and with
// ONNX Runtime running the same files, stays above floors set from what
// was measured.
func TestQuantizeOCRModelsRealImages(t *testing.T) {
	photos := testdeps.SampleImages(t)
	dir := t.TempDir()
	type pair struct{ float, quant int } // job indices
	var jobs []testdeps.ORTJob
	var pairs []pair
	var ours []float64
	for _, c := range ocrCases {
		m, err := onnxio.Load(testdeps.OCRModel(t, c.model))
		if err != nil {
			t.Fatal(err)
		}
		src := ocrSource(t, m, photos, c)
		res, err := Quantize(m, src, Config{Scheme: mustScheme(t, "int8", 0)}, Options{Threads: 2, Calib: calib.Config{Quiet: true}})
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		fs, err := engine.Compile(res.Float, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		qs, err := Compile(res.Model, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cmp, err := Compare(fs, qs, src, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		ours = append(ours, cmp.SQNR)
		t.Logf("%s int8 on %d photos, our engine: output SQNR %.2f dB, top-1 agreement %.1f %%", c.model, cmp.Items, cmp.SQNR, cmp.Agreement)
		if cmp.SQNR < c.floor {
			t.Errorf("%s: output SQNR %.2f dB with our engine, below the floor of %.1f dB", c.model, cmp.SQNR, c.floor)
		}
		fp, qp := fmt.Sprintf("%s/%s.float.onnx", dir, c.model), fmt.Sprintf("%s/%s.int8.onnx", dir, c.model)
		if err := res.Float.Save(fp, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := res.Model.Save(qp, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		in := fs.InputNames()[0]
		for i := range src.Len() {
			it, err := src.Item(i)
			if err != nil {
				t.Fatal(err)
			}
			x := it.Inputs[in]
			ortIn := []testdeps.ORTTensor{testdeps.ORTFloat32(in, append([]int{1}, x.Shape...), x.F32)}
			pairs = append(pairs, pair{len(jobs), len(jobs) + 1})
			jobs = append(jobs, testdeps.ORTJob{Model: fp, Inputs: ortIn}, testdeps.ORTJob{Model: qp, Inputs: ortIn})
		}
	}
	results := testdeps.RunORTBatch(t, jobs)
	per := len(pairs) / len(ocrCases)
	for k, c := range ocrCases {
		var sig, noise float64
		for _, p := range pairs[k*per : (k+1)*per] {
			f, q := results[p.float], results[p.quant]
			if f.Err != nil || q.Err != nil {
				t.Fatalf("%s: ONNX Runtime: %v %v", c.model, f.Err, q.Err)
			}
			fd, qd := f.Outputs[0].Data, q.Outputs[0].Data
			if len(fd) != len(qd) {
				t.Fatalf("%s: ONNX Runtime's outputs differ in size", c.model)
			}
			for i := 0; i < len(fd); i += 4 {
				a := float64(math.Float32frombits(binary.LittleEndian.Uint32(fd[i:])))
				b := float64(math.Float32frombits(binary.LittleEndian.Uint32(qd[i:])))
				sig += a * a
				noise += (a - b) * (a - b)
			}
		}
		s := SQNR(sig, noise)
		t.Logf("%s int8 on %d photos, ONNX Runtime: output SQNR %.2f dB (our engine %.2f dB)", c.model, per, s, ours[k])
		if s < c.floorORT {
			t.Errorf("%s: output SQNR %.2f dB with ONNX Runtime, below the floor of %.1f dB", c.model, s, c.floorORT)
		}
		// Both engines run the same two files: their SQNRs must be close.
		if math.Abs(s-ours[k]) > 1 {
			t.Errorf("%s: output SQNR %.2f dB with ONNX Runtime, %.2f dB with our engine", c.model, s, ours[k])
		}
	}
}

// Quantizing the detector at 320x320 on 100 photos (PhotoVariants) with 2
// engine threads: calibration and rewriting, as `qtool quantize` does
// before measuring SQNR. Run with -bench OCRDetector -benchtime 1x.
func BenchmarkQuantizeOCRDetector100(b *testing.B) {
	m, err := onnxio.Load(testdeps.OCRModel(b, ocrCases[0].model))
	if err != nil {
		b.Fatal(err)
	}
	src := ocrSource(b, m, testdeps.PhotoVariants(b, 100), ocrCases[0])
	s := mustScheme(b, "int8", 0)
	// CPU time says more than wall time on a shared machine.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	for b.Loop() {
		res, err := Quantize(m, src, Config{Scheme: s}, Options{Threads: 2, Calib: calib.Config{Quiet: true}})
		if err != nil {
			b.Fatal(err)
		}
		if res.Calib.Items != 100 {
			b.Fatalf("calibrated on %d items", res.Calib.Items)
		}
	}
	b.ReportMetric((cpu()-c0).Seconds()/float64(b.N), "cpu-s/op")
}

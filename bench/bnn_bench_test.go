package bench

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/binarize"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
)

// BenchmarkBNN times the binary fixture (testdata/models/bnn.onnx)
// converted by binarize (its trained binary layers to BinaryConv; the
// first and last layers int8, or fp32) against the same ONNX file run as
// float by qtool's engine: one thread, batch 1 and 64, in blocks of runs
// that alternate between the models in one process, so that both see the
// same machine. It reports each one's median time per run and
// speedup = float / binary (issue target: at least 5).
//
//	go test ./bench -run '^$' -bench BNN -benchtime 1x
func BenchmarkBNN(b *testing.B) {
	m := fixtures.Model(b, "bnn")
	fs, err := engine.Compile(m, engine.Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, rest := range []string{"int8", "fp32"} {
		res, err := binarize.Binarize(m, calib.Sample(fixtures.FashionMNIST(b), 200, 1), binarize.Options{Rest: rest, Calib: calib.Config{Quiet: true}})
		if err != nil {
			b.Fatal(err)
		}
		bs, err := engine.Compile(res.Model, engine.Options{Threads: 1})
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("rest-%s/b%d", rest, batch), func(b *testing.B) {
				ins, _, err := RandomInputs(fs, batch, nil, 5)
				if err != nil {
					b.Fatal(err)
				}
				// Blocks of about 30 ms, 2 untimed runs first in each.
				per := max(1, 30000/(batch*1000))
				var fl, bi []float64
				block := func(s *engine.Session, ms *[]float64) {
					for i := 0; i < per+2; i++ {
						t := time.Now()
						if _, err := s.Run(ins); err != nil {
							b.Fatal(err)
						}
						if i >= 2 {
							*ms = append(*ms, float64(time.Since(t).Nanoseconds())/1e6)
						}
					}
				}
				for round := 0; round < 12; round++ {
					block(fs, &fl)
					block(bs, &bi)
				}
				med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
				f, q := med(fl), med(bi)
				b.ReportMetric(f, "float_ms")
				b.ReportMetric(q, "binary_ms")
				b.ReportMetric(f/q, "speedup")
			})
		}
	}
}

package bench

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	"github.com/qtool/qtool/quant"
)

// A sweep of the fixture CNN: one row per scheme, each variant written
// and measured, its accuracy that of a direct count on the written file,
// its bit-operations those of its precisions, and the fronts
// ParetoFront's.
func TestSweep(t *testing.T) {
	data := fixtures.FashionMNIST(t)
	items := 300
	if slow() {
		items = 60
	}
	eval := calib.Sample(data, items, 2)
	dir := t.TempDir()
	rep, err := Sweep(fixtures.Model(t, "cnn"), "cnn", SweepOptions{Schemes: []string{"fp32", "int8", "w4a8"},
		Calib: calib.Sample(data, 50, 1), Eval: eval, Runs: 3, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 3 || rep.EvalItems != items || rep.CalibItems != 50 {
		t.Fatalf("report %+v", rep)
	}
	for i, row := range rep.Rows {
		m, err := onnxio.Load(filepath.Join(dir, "cnn."+row.Scheme+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := engine.Compile(m, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := quant.Accuracy(s, eval)
		if err != nil {
			t.Fatal(err)
		}
		if row.Top1 == nil || math.Abs(*row.Top1-acc) > 1e-9 {
			t.Errorf("%s: top-1 %v, direct count %.2f", row.Scheme, row.Top1, acc)
		}
		if row.MACs != 4830720 || row.LatencyMs <= 0 || row.FileBytes <= 0 {
			t.Errorf("%s: %+v", row.Scheme, row)
		}
		// The float model's MACs at 32x32 bits; int8 at 8x8 everywhere;
		// w4a8 below int8 (its first and last layers are int8).
		switch row.Scheme {
		case "fp32":
			if row.BitOps != row.MACs*32*32 || row.Agreement != 100 {
				t.Errorf("fp32: %+v", row)
			}
		case "int8":
			if row.BitOps != row.MACs*8*8 {
				t.Errorf("int8: bit-ops %d, want %d", row.BitOps, row.MACs*64)
			}
		case "w4a8":
			if !(row.BitOps < rep.Rows[i-1].BitOps) {
				t.Errorf("w4a8 bit-ops %d not below int8's %d", row.BitOps, rep.Rows[i-1].BitOps)
			}
		}
	}
	pts := rep.Points()
	for _, c := range []struct {
		m  Measure
		on func(SweepRow) bool
	}{{CostBitOps, func(r SweepRow) bool { return r.ParetoBitOps }}, {CostLatency, func(r SweepRow) bool { return r.ParetoLatency }}} {
		front := ParetoFront(pts, c.m.Of)
		for i, row := range rep.Rows {
			if c.on(row) != slices.Contains(front, i) {
				t.Errorf("%s: on the %s front %v, ParetoFront %v", row.Scheme, c.m.Short, c.on(row), front)
			}
		}
	}
	paths, err := WriteSweepCharts(rep, dir, "cnn")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		for _, ext := range []string{".svg", ".png"} {
			if fi, err := os.Stat(p + ext); err != nil || fi.Size() == 0 {
				t.Errorf("%s%s: %v", p, ext, err)
			}
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	// A scheme listed twice, and an unknown one, are errors.
	for _, bad := range [][]string{{"int8", "int8"}, {"fp32", "int3"}} {
		if _, err := Sweep(fixtures.Model(t, "cnn"), "cnn", SweepOptions{Schemes: bad, Calib: calib.Sample(data, 10, 1), Eval: eval, Runs: 1, Dir: dir}); err == nil {
			t.Errorf("schemes %v: no error", bad)
		}
	}
}

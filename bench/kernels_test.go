package bench

import (
	"testing"
	"time"

	"github.com/qtool/qtool/kernels"
)

func TestBenchKernelsRows(t *testing.T) {
	before := kernels.ActivePath()
	rows, err := BenchKernels(KernelOptions{Shapes: [][3]int{{17, 33, 9}, {8, 8, 8}}, Rounds: 2, MinTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if kernels.ActivePath() != before {
		t.Errorf("active path changed to %v", kernels.ActivePath())
	}
	paths := kernels.SupportedPaths()
	var fp32, int8 []KernelRow
	for _, r := range rows {
		switch r.Family {
		case "fp32":
			fp32 = append(fp32, r)
		case "int8":
			int8 = append(int8, r)
		}
	}
	checkInt8Rows(t, int8, 2)
	rows = fp32
	if len(rows) != 2*len(paths) {
		t.Fatalf("%d rows for %d paths and 2 shapes", len(rows), len(paths))
	}
	top := map[string]float64{}
	for i, r := range rows {
		if r.Family != "fp32" || r.Path != paths[i/2].String() || r.GOPS <= 0 || r.Ms <= 0 || r.VsFP32 <= 0 || r.VsFP32 > 1 {
			t.Errorf("row %+v", r)
		}
		top[r.Shape] = max(top[r.Shape], r.VsFP32)
		// The ceiling exists exactly for the assembly paths; a GEMM cannot
		// run several times faster than the register-only FMA loop.
		if (r.CeilingGOPS > 0) != (r.Path != "generic") || (r.CeilingGOPS > 0 && (r.Efficiency <= 0 || r.Efficiency > 3)) {
			t.Errorf("ceiling %v efficiency %v on %s", r.CeilingGOPS, r.Efficiency, r.Path)
		}
	}
	for s, v := range top {
		if v != 1 {
			t.Errorf("%s: best fp32 row has vs_fp32 %v, want 1", s, v)
		}
	}
	if rows[0].Shape != "gemm 17x33x9" {
		t.Errorf("shape %q", rows[0].Shape)
	}
	if _, err := BenchKernels(KernelOptions{Paths: []kernels.Path{kernels.Path(99)}}); err == nil {
		t.Error("an unknown path was accepted")
	}
}

// checkInt8Rows: one row per supported Int8 path and shape, in path order,
// with speed, a ceiling exactly on the assembly paths and a sane
// efficiency.
func checkInt8Rows(t *testing.T, rows []KernelRow, shapes int) {
	t.Helper()
	paths := kernels.Int8.SupportedPaths()
	if len(rows) != shapes*len(paths) {
		t.Fatalf("%d int8 rows for %d paths and %d shapes", len(rows), len(paths), shapes)
	}
	for i, r := range rows {
		if r.Path != paths[i/shapes] || r.GOPS <= 0 || r.Ms <= 0 || r.VsFP32 <= 0 {
			t.Errorf("int8 row %+v", r)
		}
		if (r.CeilingGOPS > 0) != (r.Path != "generic") || (r.CeilingGOPS > 0 && (r.Efficiency <= 0 || r.Efficiency > 3)) {
			t.Errorf("int8 ceiling %v efficiency %v on %s", r.CeilingGOPS, r.Efficiency, r.Path)
		}
	}
}

func TestBenchKernelsInt8Only(t *testing.T) {
	before := kernels.Int8.Active()
	rows, err := BenchKernels(KernelOptions{Shapes: [][3]int{{5, 70, 13}}, Rounds: 1, MinTime: time.Millisecond, Families: []string{"int8"}})
	if err != nil {
		t.Fatal(err)
	}
	if kernels.Int8.Active() != before {
		t.Errorf("active int8 path changed to %s", kernels.Int8.Active())
	}
	for i := range rows {
		rows[i].VsFP32 = 1 // no fp32 rows in this run
	}
	checkInt8Rows(t, rows, 1)
}

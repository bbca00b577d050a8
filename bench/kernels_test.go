package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/qtool/qtool/kernels"
)

func TestBenchKernelsRows(t *testing.T) {
	before := kernels.ActivePath()
	rows, err := BenchKernels(KernelOptions{Shapes: [][3]int{{17, 33, 9}, {8, 8, 8}}, Rounds: 2, MinTime: time.Millisecond, Families: []string{"fp32", "int8"}})
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

func TestBenchKernelsBinaryRows(t *testing.T) {
	// Small convolutions: the report's own take seconds under qemu.
	defer func(s []struct{ c, hw int }) { binaryConvShapes = s }(binaryConvShapes)
	binaryConvShapes = []struct{ c, hw int }{{8, 6}, {65, 5}}
	fpBest := kernels.SupportedPaths()[len(kernels.SupportedPaths())-1]
	binActive := kernels.Binary.Active()
	for _, fams := range [][]string{{"fp32", "binary"}, {"binary"}} {
		rows, err := BenchKernels(KernelOptions{Paths: []kernels.Path{fpBest}, Shapes: [][3]int{{8, 8, 8}}, Rounds: 1, MinTime: time.Millisecond, Families: fams})
		if err != nil {
			t.Fatal(err)
		}
		if kernels.Binary.Active() != binActive {
			t.Errorf("binary path changed to %s", kernels.Binary.Active())
		}
		fp32Conv := map[string]bool{}
		binary := map[string]int{}
		for _, r := range rows {
			switch r.Family {
			case "fp32":
				if r.Shape != "gemm 8x8x8" {
					fp32Conv[r.Shape] = true
				}
			case "binary":
				binary[r.Path]++
				if r.GOPS <= 0 || r.Ms <= 0 {
					t.Errorf("row %+v", r)
				}
				if (r.CeilingGOPS > 0) != (r.Path != "generic") || (r.CeilingGOPS > 0 && (r.Efficiency <= 0 || r.Efficiency > 3)) {
					t.Errorf("ceiling %v efficiency %v on %s", r.CeilingGOPS, r.Efficiency, r.Path)
				}
				isConv := strings.HasPrefix(r.Shape, "conv3x3 ")
				if isConv != (r.VsFP32 > 0) {
					t.Errorf("%s %s: vs_fp32 %v", r.Path, r.Shape, r.VsFP32)
				}
			default:
				t.Errorf("family %s not asked for", r.Family)
			}
		}
		wantFP := len(fams) == 2
		if fp32Conv["conv3x3 8->8 6x6"] != wantFP || fp32Conv["conv3x3 65->65 5x5"] != wantFP || len(fp32Conv) != 2 && wantFP {
			t.Errorf("families %v: fp32 conv rows %v", fams, fp32Conv)
		}
		for _, p := range kernels.Binary.SupportedPaths() {
			if binary[p] != 3 {
				t.Errorf("families %v: %d binary rows on %s, want 3", fams, binary[p], p)
			}
		}
	}
}

func TestBinaryConvShapeNames(t *testing.T) {
	if got := binaryConvShape(binaryConvShapes[0].c, binaryConvShapes[0].hw); got != "conv3x3 64->64 56x56" {
		t.Errorf("first binary conv shape %q", got)
	}
	if got := binaryConvShape(binaryConvShapes[1].c, binaryConvShapes[1].hw); got != "conv3x3 128->128 28x28" {
		t.Errorf("second binary conv shape %q", got)
	}
}

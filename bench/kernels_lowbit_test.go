package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/qtool/qtool/kernels"
)

// TestBenchKernelsLowbit: rows for w4a8, w4a4 and int16 on every
// supported path and shape, ceilings exactly on the assembly paths, the
// active paths left as they were.
func TestBenchKernelsLowbit(t *testing.T) {
	before4, before16 := kernels.Int4.Active(), kernels.Int16.Active()
	shapes := [][3]int{{5, 70, 13}, {17, 33, 65}}
	rows, err := BenchKernels(KernelOptions{Shapes: shapes, Rounds: 1, MinTime: time.Millisecond,
		Families: []string{"fp32", "w4a8", "w4a4", "int16"}})
	if err != nil {
		t.Fatal(err)
	}
	if kernels.Int4.Active() != before4 || kernels.Int16.Active() != before16 {
		t.Errorf("active paths changed")
	}
	want := map[string]int{}
	for _, p := range kernels.Int4.SupportedPaths() {
		want["w4a4/"+p] = len(shapes)
		want["w4a8/"+p] = len(shapes)
		if p != "generic" {
			want["w4a8/"+p+"/b32"] = len(shapes)
			want["w4a8/"+p+"/b128"] = len(shapes)
		}
	}
	for _, p := range kernels.Int16.SupportedPaths() {
		want["int16/"+p] = len(shapes)
		want["int16/"+p+"/w511"] = len(shapes)
	}
	got := map[string]int{}
	for _, r := range rows {
		if r.Family == "fp32" {
			continue
		}
		got[r.Family+"/"+r.Path]++
		base, _, _ := strings.Cut(r.Path, "/")
		if r.GOPS <= 0 || r.Ms <= 0 || r.VsFP32 <= 0 || !strings.HasPrefix(r.Shape, "gemm ") {
			t.Errorf("row %+v", r)
		}
		// No upper bound on the efficiency: with 1 ms measurements on a
		// shared machine (or under -race) the ceiling can come out tiny.
		if (r.CeilingGOPS > 0) != (base != "generic") || (r.CeilingGOPS > 0 && r.Efficiency <= 0) {
			t.Errorf("ceiling %v efficiency %v on %s %s", r.CeilingGOPS, r.Efficiency, r.Family, r.Path)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d rows, want %d", k, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	for _, f := range []string{"fp32", "int8", "w4a8", "w4a4", "int16"} {
		if !KnownFamily(f) {
			t.Errorf("KnownFamily(%q) = false", f)
		}
	}
	if KnownFamily("int3") {
		t.Error("KnownFamily(int3)")
	}
}

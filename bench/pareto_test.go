package bench

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParetoFront(t *testing.T) {
	bit := func(p Point) float64 { return p.BitOps }
	for _, c := range []struct {
		name string
		pts  []Point
		want []int
	}{
		{"one", []Point{{Top1: 90, BitOps: 10}}, []int{0}},
		{"dominated", []Point{{Top1: 90, BitOps: 10}, {Top1: 80, BitOps: 20}}, []int{0}},
		{"trade-off", []Point{{Top1: 92, BitOps: 100}, {Top1: 91, BitOps: 30}, {Top1: 70, BitOps: 2}}, []int{2, 1, 0}},
		// Same cost: only the more accurate one; same accuracy at a higher
		// cost: not on the front.
		{"ties", []Point{{Top1: 80, BitOps: 5}, {Top1: 85, BitOps: 5}, {Top1: 85, BitOps: 9}}, []int{1}},
		{"unmeasured", []Point{{Top1: 99, BitOps: 0}, {Top1: 50, BitOps: math.NaN()}, {Top1: 60, BitOps: 3}}, []int{2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ParetoFront(c.pts, bit); !slices.Equal(got, c.want) {
				t.Errorf("ParetoFront = %v, want %v", got, c.want)
			}
			// Independently: a point is on the front exactly when no other
			// point is at least as good in both and better in one.
			for i, p := range c.pts {
				if !(p.BitOps > 0) {
					continue
				}
				dominated := false
				for j, q := range c.pts {
					if j != i && q.BitOps > 0 && q.BitOps <= p.BitOps && q.Top1 >= p.Top1 && (q.BitOps < p.BitOps || q.Top1 > p.Top1) {
						dominated = true
					}
				}
				if on := slices.Contains(c.want, i); on == dominated {
					t.Errorf("point %d: on the front %v, dominated %v", i, on, dominated)
				}
			}
		})
	}
}

func TestWriteChart(t *testing.T) {
	pts := []Point{
		{Label: "fp32", Top1: 93.3, BitOps: 4.8e6 * 1024, LatencyMs: 0.9},
		{Label: "int8", Top1: 93.2, BitOps: 4.8e6 * 64, LatencyMs: 0.5},
		{Label: "w4a4", Top1: 92.9, BitOps: 4.8e6 * 16, LatencyMs: 0.6},
	}
	dir := t.TempDir()
	for _, cost := range []Measure{CostBitOps, CostLatency} {
		path := filepath.Join(dir, "sub", "cnn-"+cost.Short)
		if err := WriteChart(path, "cnn", pts, cost); err != nil {
			t.Fatal(err)
		}
		svg, err := os.ReadFile(path + ".svg")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<svg", "fp32", "int8", "w4a4", "Pareto front", "top-1 accuracy"} {
			if !bytes.Contains(svg, []byte(want)) {
				t.Errorf("%s.svg lacks %q", path, want)
			}
		}
		f, err := os.Open(path + ".png")
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 250 {
			t.Errorf("%s.png is %v", path, b)
		}
	}
	// Nothing drawable, and a folder that cannot be made: errors, and no
	// file left behind.
	if err := WriteChart(filepath.Join(dir, "none"), "x", []Point{{Label: "a", Top1: 1}}, CostBitOps); err == nil || !strings.Contains(err.Error(), "bitops") {
		t.Errorf("no positive cost: err = %v", err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteChart(filepath.Join(blocker, "c"), "x", pts, CostLatency); err == nil {
		t.Error("chart under a file: no error")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "none*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

package bench

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/qtool/qtool/onnxio"
)

// Point is one variant of a model in an accuracy-versus-cost comparison:
// its accuracy (top-1, in percent) and its costs.
type Point struct {
	Label     string  `json:"label"`
	Top1      float64 `json:"top1"`
	BitOps    float64 `json:"bit_ops"`
	LatencyMs float64 `json:"latency_ms"`
}

// Measure picks one cost of a Point.
type Measure struct {
	Name  string // axis label
	Of    func(Point) float64
	Log   bool // a log axis (costs spanning orders of magnitude)
	Short string
}

// The costs a sweep charts.
var (
	CostBitOps  = Measure{Name: "bit-operations per item (MACs × weight bits × activation bits)", Of: func(p Point) float64 { return p.BitOps }, Log: true, Short: "bitops"}
	CostLatency = Measure{Name: "measured latency per item (ms)", Of: func(p Point) float64 { return p.LatencyMs }, Short: "latency"}
)

// ParetoFront returns the indices of the points no other point dominates
// (at most the cost and at least the accuracy, and better in one), in
// order of increasing cost. Points with a cost that is not a positive
// finite number are left out.
func ParetoFront(pts []Point, cost func(Point) float64) []int {
	var idx []int
	for i, p := range pts {
		if c := cost(p); c > 0 && !math.IsInf(c, 0) {
			idx = append(idx, i)
		}
	}
	// By cost, then best accuracy first: a point is on the front when it
	// beats the accuracy of every cheaper one.
	slices.SortStableFunc(idx, func(a, b int) int {
		ca, cb := cost(pts[a]), cost(pts[b])
		switch {
		case ca != cb:
			if ca < cb {
				return -1
			}
			return 1
		case pts[a].Top1 > pts[b].Top1:
			return -1
		case pts[a].Top1 < pts[b].Top1:
			return 1
		}
		return 0
	})
	var front []int
	best := math.Inf(-1)
	for _, i := range idx {
		if pts[i].Top1 > best {
			front = append(front, i)
			best = pts[i].Top1
		}
	}
	return front
}

// WriteChart draws accuracy against cost for pts, the Pareto front joined
// by a line, each point labelled, and saves it as path + ".svg" and
// path + ".png".
func WriteChart(path, title string, pts []Point, cost Measure) error {
	if len(pts) == 0 {
		return errors.New("bench: chart: no points")
	}
	p := plot.New()
	p.Title.Text = title + " (red: the Pareto front)"
	p.X.Label.Text = cost.Name
	p.Y.Label.Text = "top-1 accuracy (%)"
	if cost.Log {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	var xy plotter.XYs
	var labels []string
	for _, pt := range pts {
		c := cost.Of(pt)
		if !(c > 0) || math.IsInf(c, 0) {
			continue // not drawable (on a log axis, or unmeasured)
		}
		xy = append(xy, plotter.XY{X: c, Y: pt.Top1})
		labels = append(labels, pt.Label)
	}
	if len(xy) == 0 {
		return fmt.Errorf("bench: chart %s: no point has a positive %s", path, cost.Short)
	}
	sc, err := plotter.NewScatter(xy)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	sc.GlyphStyle.Radius = vg.Points(3.5)
	sc.GlyphStyle.Color = color.RGBA{R: 70, G: 110, B: 200, A: 255}
	var front plotter.XYs
	for _, i := range ParetoFront(pts, cost.Of) {
		front = append(front, plotter.XY{X: cost.Of(pts[i]), Y: pts[i].Top1})
	}
	red := color.RGBA{R: 210, G: 60, B: 40, A: 255}
	line, err := plotter.NewLine(front)
	if err != nil {
		return err
	}
	line.LineStyle.Color = red
	line.LineStyle.Width = vg.Points(1.5)
	line.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	// The front's points in red over the others (a front of one point
	// has no line to show it).
	fs, err := plotter.NewScatter(front)
	if err != nil {
		return err
	}
	fs.GlyphStyle = sc.GlyphStyle
	fs.GlyphStyle.Color = red
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign = draw.XLeft
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(2)}
	}
	p.Add(plotter.NewGrid(), line, sc, fs, lb)
	// Room for the labels at the ends of both axes.
	p.X.Max *= 1.6
	if !cost.Log {
		p.X.Min = 0
	}
	p.Y.Max += (p.Y.Max - p.Y.Min) * 0.08
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	for _, ext := range []string{"svg", "png"} {
		wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, ext)
		if err != nil {
			return fmt.Errorf("bench: chart: %w", err)
		}
		// Whole files or none (a rename), as for models.
		if err := onnxio.WriteAtomic(path+"."+ext, func(w io.Writer) error { _, err := wt.WriteTo(w); return err }); err != nil {
			return fmt.Errorf("bench: chart: %w", err)
		}
	}
	return nil
}

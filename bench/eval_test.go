package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/quant"
)

// reference counts top-1, top-5 and per-class top-1 hits of s on the
// first n items of src with labels valid, running the engine directly
// on batches of batch items and ranking each row by a full sort.
func reference(t *testing.T, s *engine.Session, src calib.Source, valid Labels, n, batch int) (top1, top5 int, class, classHit map[int]int, pred []int, orders [][]int) {
	t.Helper()
	class, classHit = map[int]int{}, map[int]int{}
	for start := 0; start < n; start += batch {
		end := min(n, start+batch)
		var data []float32
		for i := start; i < end; i++ {
			it, err := src.Item(i)
			if err != nil {
				t.Fatal(err)
			}
			data = append(data, it.Inputs["input"].F32...)
		}
		out, err := s.Run(map[string]*engine.Tensor{"input": engine.NewFloat32([]int{end - start, 1, 28, 28}, data)})
		if err != nil {
			t.Fatal(err)
		}
		logits := out["logits"]
		for i := start; i < end; i++ {
			row := logits.F32[(i-start)*10 : (i-start+1)*10]
			order := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
			sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
			pred, orders = append(pred, order[0]), append(orders, order)
			if len(valid[i]) == 0 {
				continue
			}
			in := func(c int) bool {
				for _, v := range valid[i] {
					if v == c {
						return true
					}
				}
				return false
			}
			if in(order[0]) {
				top1++
			}
			for _, c := range order[:5] {
				if in(c) {
					top5++
					break
				}
			}
			for _, v := range valid[i] {
				class[v]++
				if in(order[0]) {
					classHit[v]++
				}
			}
		}
	}
	return
}

// TestEvaluate: the float cnn and its int8 form on 300 labelled items,
// with the data's labels and with multi-label ground truth (two valid
// classes for some items, none for others), against a direct count;
// a model agrees with itself on every item, and float against int8
// agrees as quant.Compare measures.
func TestEvaluate(t *testing.T) {
	n := 300
	if slow() {
		n = 60
	}
	src := fixtures.FashionMNIST(t)
	fs, err := engine.Compile(fixtures.Model(t, "cnn"), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := quant.Compile(quantized(t, "int8"), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	own := make(Labels, src.Len())
	multi := make(Labels, src.Len())
	for i := range own {
		it, err := src.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		own[i] = []int{it.Label}
		switch i % 3 {
		case 0:
			multi[i] = []int{it.Label}
		case 1:
			multi[i] = []int{(it.Label + 1) % 10, it.Label}
		default:
			multi[i] = []int{}
		}
	}
	batch := calib.DefaultBatch(src)
	// The float model's fifth-ranked class as the one valid class of
	// each item: top-5 is 100%, top-1 0%.
	_, _, _, _, _, orders := reference(t, fs, src, own, src.Len(), batch)
	fifth := make(Labels, src.Len())
	for i, o := range orders {
		fifth[i] = []int{o[4]}
	}
	for _, tc := range []struct {
		name   string
		labels Labels
	}{{"own labels", nil}, {"multi-label", multi}, {"fifth", fifth}} {
		r, err := Evaluate([]*engine.Session{fs, qs, fs}, []string{"float", "int8", "float again"}, src, EvalOptions{Limit: n, Labels: tc.labels})
		if err != nil {
			t.Fatal(err)
		}
		valid := own
		if tc.labels != nil {
			valid = tc.labels
		}
		labelled := 0
		for _, v := range valid[:n] {
			if len(v) > 0 {
				labelled++
			}
		}
		if r.Items != n || r.Labelled != labelled || r.MultiLabel != (tc.name == "multi-label") {
			t.Errorf("%s: %d items, %d labelled, multi-label %v", tc.name, r.Items, r.Labelled, r.MultiLabel)
		}
		var preds [][]int
		for k, s := range []*engine.Session{fs, qs, fs} {
			top1, top5, class, hit, pred, _ := reference(t, s, src, valid, n, batch)
			preds = append(preds, pred)
			e := r.Models[k]
			pct := func(a, b int) float64 { return 100 * float64(a) / float64(b) }
			if *e.Top1 != pct(top1, labelled) || *e.Top5 != pct(top5, labelled) {
				t.Errorf("%s %s: top-1 %.2f top-5 %.2f, counted %.2f and %.2f", tc.name, e.Model, *e.Top1, *e.Top5, pct(top1, labelled), pct(top5, labelled))
			}
			if len(e.PerClass) != len(class) {
				t.Errorf("%s %s: %d classes, counted %d", tc.name, e.Model, len(e.PerClass), len(class))
			}
			for _, c := range e.PerClass {
				if c.Items != class[c.Class] || c.Top1 != pct(hit[c.Class], class[c.Class]) {
					t.Errorf("%s %s class %d: %d items at %.2f, counted %d at %.2f", tc.name, e.Model, c.Class, c.Items, c.Top1, class[c.Class], pct(hit[c.Class], class[c.Class]))
				}
			}
			agree := 0
			for i := range pred {
				if pred[i] == preds[0][i] {
					agree++
				}
			}
			if e.Agreement != pct(agree, n) {
				t.Errorf("%s %s: agreement %.2f, counted %.2f", tc.name, e.Model, e.Agreement, pct(agree, n))
			}
		}
		if tc.name == "fifth" && (*r.Models[0].Top5 != 100 || *r.Models[0].Top1 != 0) {
			t.Errorf("fifth-ranked labels: top-1 %.2f, top-5 %.2f", *r.Models[0].Top1, *r.Models[0].Top5)
		}
		if r.Models[2].Agreement != 100 || r.Models[0].Agreement != 100 {
			t.Errorf("%s: the float model agrees with itself on %.2f%%", tc.name, r.Models[2].Agreement)
		}
		if tc.labels == nil {
			c, err := quant.Compare(fs, qs, limitN{src, n}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.Agreement != r.Models[1].Agreement || c.FloatTop1 != *r.Models[0].Top1 || c.QuantTop1 != *r.Models[1].Top1 {
				t.Errorf("quant.Compare: agreement %.2f, top-1 %.2f and %.2f; Evaluate %.2f, %.2f and %.2f", c.Agreement, c.FloatTop1, c.QuantTop1,
					r.Models[1].Agreement, *r.Models[0].Top1, *r.Models[1].Top1)
			}
		}
	}
	// Unlabelled data: agreement only.
	r, err := Evaluate([]*engine.Session{fs, qs}, []string{"float", "int8"}, unlabelled{src}, EvalOptions{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.Labelled != 0 || r.Models[1].Top1 != nil || r.Models[1].PerClass != nil || r.Models[1].Agreement < 90 {
		t.Errorf("unlabelled: %+v", r)
	}
	if _, err := Evaluate([]*engine.Session{fs}, []string{"float"}, src, EvalOptions{Labels: own[:999]}); err == nil || !strings.Contains(err.Error(), "999") {
		t.Errorf("999 labels for 1000 items: %v", err)
	}
}

// unlabelled is a source with its labels removed.
type unlabelled struct{ calib.Source }

func (u unlabelled) Item(i int) (calib.Item, error) {
	it, err := u.Source.Item(i)
	it.Label = -1
	return it, err
}

// slow reports a slow engine: the race detector and emulation make it
// 10 to 100 times slower, so tests take fewer items there.
func slow() bool { return raceEnabled || runtime.GOARCH != "amd64" }

// limitN is the first n items of a source.
type limitN struct {
	calib.Source
	n int
}

func (l limitN) Len() int { return l.n }

// TestReadLabels: the JSON and CSV forms of one multi-label list read
// the same; IDX, .npy single labels; bad files fail naming the item or
// line.
func TestReadLabels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := Labels{{3}, {1, 7}, {}, {5}}
	for _, p := range []string{
		write("a.json", `[[3], [1, 7], [], 5]`),
		write("a.csv", "index,labels\n# comment\n0,3\n2\n1,1,7\n3, 5\n"),
	} {
		got, err := ReadLabels(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", p, got, want)
		}
	}
	for _, c := range []struct{ name, text, want string }{
		{"b.json", `{"a": 1}`, "JSON array"},
		{"c.json", `[[1], "x"]`, "item 1"},
		{"d.json", `[[1], [2, -4]]`, "item 1: class -4"},
		{"b.csv", "0,1\nx,2\n", "line 2"},
		{"c.csv", "0,1\n1,two\n", `line 2: "two"`},
		{"d.csv", "0,1\n2,3\n", "item 1 has no line"},
		{"e.csv", "0,1\n0,3\n", "line 2: item 0 is listed twice"},
		{"f.csv", "0,\"1\n", "line"},
		{"a.txt", "1\n", "unknown labels file type"},
	} {
		_, err := ReadLabels(write(c.name, c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v, want one naming the file and %q", c.name, err, c.want)
		}
	}

	// The fixture's IDX labels, and the same as .npy.
	b, err := qtool.Fixtures.ReadFile("testdata/fashion-mnist/t10k-1000-labels-idx1-ubyte.gz")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadLabels(write("t10k-labels-idx1-ubyte.gz", string(b)))
	if err != nil {
		t.Fatal(err)
	}
	src := fixtures.FashionMNIST(t)
	for _, i := range []int{0, 1, 999} {
		it, err := src.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1000 || len(l[i]) != 1 || l[i][0] != it.Label {
			t.Fatalf("IDX labels: item %d is %v, want %d", i, l[i], it.Label)
		}
	}
	npy := "\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"
	npy += strings.Repeat(" ", 10+117-len(npy)) + "\n" + "\x02\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x09\x00\x00\x00\x00\x00\x00\x00"
	l, err = ReadLabels(write("l.npy", npy))
	if err != nil || !reflect.DeepEqual(l, Labels{{2}, {0}, {9}}) {
		t.Errorf(".npy labels: %v, %v", l, err)
	}
}

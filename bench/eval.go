package bench

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// Labels are the valid classes of each item of a data set: a prediction
// is correct when it is any of them (as in the multi-label
// re-assessments of ImageNet). An item with no valid class is left out
// of the accuracies (it still counts in the agreement between models).
type Labels [][]int

// maxLabelsFile bounds the labels file ReadLabels reads into memory.
const maxLabelsFile = 1 << 30

// ReadLabels reads a labels file, by its name:
//
//   - .json: an array with one entry per item, each an array of valid
//     classes or a single class: [[3], [1, 7], [], 5].
//   - .csv: one line per item, "index,label[,label...]"; index counts
//     from 0, every item appears once in any order, an item with no
//     valid class is "index" alone. Lines starting with '#' and a first
//     line "index,..." are skipped.
//   - an IDX labels file (name with "idx" or ending "-ubyte", gzipped or
//     not), .npy or .pb (ONNX TensorProto): one integer class per item.
func ReadLabels(path string) (Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxLabelsFile {
		return nil, fmt.Errorf("%s: %d bytes is too large for a labels file", path, fi.Size())
	}
	name := strings.ToLower(filepath.Base(path))
	var l Labels
	switch {
	case strings.HasSuffix(name, ".json"):
		l, err = readJSONLabels(f)
	case strings.HasSuffix(name, ".csv"):
		l, err = readCSVLabels(f)
	case strings.HasSuffix(name, ".npy"), strings.HasSuffix(name, ".pb"):
		var t *engine.Tensor
		if t, err = calib.ReadTensor(path); err == nil {
			l, err = tensorLabels(t)
		}
	case strings.Contains(name, "idx") || strings.HasSuffix(name, "-ubyte") || strings.HasSuffix(name, "-ubyte.gz"):
		var x *calib.IDX
		if x, err = calib.ReadIDX(f); err == nil {
			l, err = idxLabels(x)
		}
	default:
		return nil, fmt.Errorf("%s: unknown labels file type; use .json, .csv, an IDX labels file, .npy or .pb", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

func readJSONLabels(r io.Reader) (Labels, error) {
	var raw []json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("want a JSON array with one entry per item such as [[3], [1, 7], [], 5]: %w", err)
	}
	l := make(Labels, len(raw))
	for i, e := range raw {
		var one int
		if err := json.Unmarshal(e, &one); err == nil {
			l[i] = []int{one}
		} else if err := json.Unmarshal(e, &l[i]); err != nil {
			return nil, fmt.Errorf("item %d: %s is not a class or an array of classes (non-negative integers)", i, e)
		}
		if l[i] == nil {
			l[i] = []int{}
		}
		for _, c := range l[i] {
			if c < 0 {
				return nil, fmt.Errorf("item %d: class %d is negative", i, c)
			}
		}
	}
	return l, nil
}

func readCSVLabels(r io.Reader) (Labels, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	byIndex := map[int][]int{}
	most := -1
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err // a csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		if first && strings.EqualFold(strings.TrimSpace(rec[0]), "index") {
			continue // a header
		}
		idx, err := strconv.Atoi(strings.TrimSpace(rec[0]))
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("line %d: %q is not an item index (want index,label[,label...])", line, rec[0])
		}
		if _, dup := byIndex[idx]; dup {
			return nil, fmt.Errorf("line %d: item %d is listed twice", line, idx)
		}
		classes := []int{}
		for _, f := range rec[1:] {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			c, err := strconv.Atoi(f)
			if err != nil || c < 0 {
				return nil, fmt.Errorf("line %d: %q is not a class (a non-negative integer)", line, f)
			}
			classes = append(classes, c)
		}
		byIndex[idx] = classes
		most = max(most, idx)
	}
	if len(byIndex) != most+1 {
		for i := 0; i <= most; i++ {
			if _, ok := byIndex[i]; !ok {
				return nil, fmt.Errorf("item %d has no line (items go from 0 to %d; give \"%d\" alone for an item with no valid class)", i, most, i)
			}
		}
	}
	l := make(Labels, most+1)
	for i, c := range byIndex {
		l[i] = c
	}
	return l, nil
}

// tensorLabels reads one integer class per item from a tensor of any
// shape whose elements are the items.
func tensorLabels(t *engine.Tensor) (Labels, error) {
	n := t.Len()
	l := make(Labels, n)
	for i := range n {
		var v float64
		switch {
		case t.I64 != nil:
			v = float64(t.I64[i])
		case t.I32 != nil:
			v = float64(t.I32[i])
		case t.U8 != nil:
			v = float64(t.U8[i])
		case t.I8 != nil:
			v = float64(t.I8[i])
		case t.F32 != nil:
			v = float64(t.F32[i])
		default:
			return nil, fmt.Errorf("labels of type %s; want integers", onnxio.DataTypeName(t.Type))
		}
		if v < 0 || v != math.Trunc(v) || v > math.MaxInt32 {
			return nil, fmt.Errorf("item %d: label %v is not a class (a non-negative integer)", i, v)
		}
		l[i] = []int{int(v)}
	}
	return l, nil
}

func idxLabels(x *calib.IDX) (Labels, error) {
	if len(x.Dims) != 1 || x.Type != 0x08 {
		return nil, fmt.Errorf("an IDX labels file holds one uint8 per item; this one has type 0x%02x and dimensions %v", x.Type, x.Dims)
	}
	l := make(Labels, len(x.Data))
	for i, b := range x.Data {
		l[i] = []int{int(b)}
	}
	return l, nil
}

// EvalOptions says how Evaluate runs.
type EvalOptions struct {
	// Batch is how many items go into one Run; calib.DefaultBatch when
	// zero (the batching quant.Compare uses).
	Batch int
	// Limit evaluates the first Limit items only (0: all).
	Limit int
	// Labels, when not nil, replace the items' own labels; it must have
	// one entry per item of the source (before Limit).
	Labels Labels
	// Threads is how many goroutines read and preprocess items
	// (GOMAXPROCS when zero); the engine's threads are the sessions'.
	Threads int
	// Progress, when not nil, is called after each batch with the
	// number of items it held.
	Progress func(items int)
}

// ModelEval is one model's results.
type ModelEval struct {
	Model string `json:"model"`
	// Top1 and Top5 are accuracies in percent over the labelled items
	// (nil when none is labelled): the best class (any of the best five)
	// is one of the item's valid classes.
	Top1 *float64 `json:"top1,omitempty"`
	Top5 *float64 `json:"top5,omitempty"`
	// Agreement is the percent of items whose top-1 class is the first
	// model's.
	Agreement float64 `json:"agreement"`
	// PerClass is the top-1 accuracy of the items of each class, by
	// class; an item with several valid classes counts in each.
	PerClass []ClassAccuracy `json:"per_class,omitempty"`
}

// ClassAccuracy is the top-1 accuracy on the items of one class.
type ClassAccuracy struct {
	Class int     `json:"class"`
	Items int     `json:"items"`
	Top1  float64 `json:"top1"`
}

// EvalReport is what Evaluate found.
type EvalReport struct {
	Items int `json:"items"`
	// Labelled counts the items with at least one valid class; MultiLabel
	// says whether some item has more than one.
	Labelled   int         `json:"labelled_items"`
	MultiLabel bool        `json:"multi_label"`
	Models     []ModelEval `json:"models"`
}

// Evaluate runs every item of src through each session and compares the
// arg max of each one's first output (float32, one row per item) with
// the item's labels and with the first session's arg max. names label
// the sessions in the report.
func Evaluate(sessions []*engine.Session, names []string, src calib.Source, opt EvalOptions) (*EvalReport, error) {
	if len(sessions) == 0 || len(names) != len(sessions) {
		return nil, errors.New("bench: Evaluate needs at least one session and a name for each")
	}
	n := src.Len()
	if opt.Labels != nil && len(opt.Labels) != n {
		return nil, fmt.Errorf("the labels list %d items and the data holds %d", len(opt.Labels), n)
	}
	if opt.Limit > 0 {
		n = min(n, opt.Limit)
	}
	if n == 0 {
		return nil, errors.New("the data set is empty")
	}
	batch := opt.Batch
	if batch <= 0 {
		batch = calib.DefaultBatch(src)
	}
	type counts struct {
		top1, top5, agree int
		classItems        map[int]int
		classTop1         map[int]int
	}
	cs := make([]counts, len(sessions))
	for i := range cs {
		cs[i].classItems, cs[i].classTop1 = map[int]int{}, map[int]int{}
	}
	r := &EvalReport{}
	for start := 0; start < n; start += batch {
		end := min(n, start+batch)
		in, own, err := calib.ReadBatch(src, start, end, opt.Threads)
		if err != nil {
			return nil, err
		}
		var labels Labels
		if opt.Labels != nil {
			labels = opt.Labels[start:end]
		} else {
			labels = make(Labels, len(own))
			for i, l := range own {
				labels[i] = []int{}
				if l >= 0 {
					labels[i] = []int{l}
				}
			}
		}
		var first []int
		for k, s := range sessions {
			out, err := s.Run(in)
			if err != nil {
				return nil, fmt.Errorf("%s on items %d to %d: %w", names[k], start, end-1, err)
			}
			o := out[s.OutputNames()[0]]
			if o.Type != onnxio.Float || len(o.Shape) == 0 || o.Shape[0] != end-start || o.Len() == 0 {
				return nil, fmt.Errorf("%s: the first output is %s%v; want float32 scores with one row per item", names[k], onnxio.DataTypeName(o.Type), o.Shape)
			}
			per := o.Len() / (end - start)
			c := &cs[k]
			for i := range end - start {
				best := topK(o.F32[i*per:(i+1)*per], 5)
				if k == 0 {
					first = append(first, best[0])
				}
				if best[0] == first[i] {
					c.agree++
				}
				valid := labels[i]
				if len(valid) == 0 {
					continue
				}
				hit1 := slices.Contains(valid, best[0])
				if hit1 {
					c.top1++
				}
				for _, p := range best {
					if slices.Contains(valid, p) {
						c.top5++
						break
					}
				}
				for _, l := range valid {
					c.classItems[l]++
					if hit1 {
						c.classTop1[l]++
					}
				}
			}
		}
		for _, valid := range labels {
			if len(valid) > 0 {
				r.Labelled++
			}
			r.MultiLabel = r.MultiLabel || len(valid) > 1
		}
		r.Items += end - start
		if opt.Progress != nil {
			opt.Progress(end - start)
		}
	}
	pct := func(k, of int) float64 { return 100 * float64(k) / float64(of) }
	for k, c := range cs {
		e := ModelEval{Model: names[k], Agreement: pct(c.agree, r.Items)}
		if r.Labelled > 0 {
			t1, t5 := pct(c.top1, r.Labelled), pct(c.top5, r.Labelled)
			e.Top1, e.Top5 = &t1, &t5
			for cl, items := range c.classItems {
				e.PerClass = append(e.PerClass, ClassAccuracy{Class: cl, Items: items, Top1: pct(c.classTop1[cl], items)})
			}
			sort.Slice(e.PerClass, func(a, b int) bool { return e.PerClass[a].Class < e.PerClass[b].Class })
		}
		r.Models = append(r.Models, e)
	}
	return r, nil
}

// topK returns the indices of the k largest scores, best first (the
// lower index first among equal ones, as quant.Argmax).
func topK(scores []float32, k int) []int {
	k = min(k, len(scores))
	best := make([]int, 0, k)
	for j, v := range scores {
		pos := len(best)
		for pos > 0 && v > scores[best[pos-1]] {
			pos--
		}
		if pos == k {
			continue
		}
		if len(best) < k {
			best = append(best, 0)
		}
		copy(best[pos+1:], best[pos:len(best)-1])
		best[pos] = j
	}
	return best
}

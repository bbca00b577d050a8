package calib

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// Item is one calibration or evaluation example: a tensor per model
// input, without the batch axis (a [1,28,28] image for an input of shape
// [N,1,28,28]), and its class label, -1 when the source has none.
type Item struct {
	Inputs map[string]*engine.Tensor
	Label  int
}

// Source is a data set with random access in a fixed order: Item(i)
// returns the same example on every call. Items are read when asked for,
// so a large source costs little until it is used. Item must be safe for
// concurrent use (Calibrate reads several items at once); the tensors it
// returns may share the source's memory and must not be modified.
type Source interface {
	Len() int
	Item(i int) (Item, error)
	// Name describes item i for messages (a file path, or "file[i]").
	Name(i int) string
}

// Options says what model inputs a source feeds and how images are made
// into tensors.
type Options struct {
	// Inputs are the model's inputs (engine.Session.Inputs). Sources of
	// one tensor per item (images, IDX, a single .npy array, .pb files)
	// feed Inputs[0] and need the model to have one input; .npz archives
	// and test_data_set folders may feed several, matched by name (or,
	// for test_data_set's input_K.pb, by position).
	Inputs []engine.ValueInfo
	// Preprocess applies to images (image folders and IDX image files).
	Preprocess Preprocess
}

// Open opens the data at path, choosing the reader from what it is (by
// name, and for a file of another name by its first bytes): a
// folder of images (class sub-folders give labels), a folder of ONNX
// TensorProto .pb files or of test_data_set_* folders, a .npy or .npz
// file, or an IDX images file (gzipped or not; a labels file beside it,
// named with "labels-idx1" for "images-idx3" or "labels.idx1" for
// "images.idx3", gives the labels).
func Open(path string, opts Options) (Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	if fi.IsDir() {
		pbs, _ := filepath.Glob(filepath.Join(path, "*.pb"))
		sets, _ := filepath.Glob(filepath.Join(path, "test_data_set_*"))
		if len(pbs) > 0 || len(sets) > 0 {
			return OpenPBFolder(path, opts)
		}
		return OpenImageFolder(path, opts)
	}
	switch name := strings.ToLower(filepath.Base(path)); {
	case strings.HasSuffix(name, ".npy"):
		return OpenNPY(path, opts)
	case strings.HasSuffix(name, ".npz"):
		return OpenNPZ(path, opts)
	case strings.Contains(name, "idx") || strings.HasSuffix(name, "-ubyte") || strings.HasSuffix(name, "-ubyte.gz"):
		labels := ""
		for _, sep := range []string{"-", "."} {
			base := filepath.Base(path)
			if l := strings.Replace(base, "images"+sep+"idx3", "labels"+sep+"idx1", 1); l != base {
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), l)); err == nil {
					labels = filepath.Join(filepath.Dir(path), l)
				}
			}
		}
		return OpenIDX(path, labels, opts)
	}
	switch sniff(path) {
	case "npy":
		return OpenNPY(path, opts)
	case "npz":
		return OpenNPZ(path, opts)
	case "idx":
		return OpenIDX(path, "", opts)
	}
	return nil, fmt.Errorf("calib: %s: unknown data format; use a folder of images or .pb files, a .npy, .npz or IDX file", path)
}

// sniff tells a file's format from its first bytes: "npy", "npz" (a zip
// archive), "idx" (gzipped or not), or "".
func sniff(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var head [6]byte
	n, _ := io.ReadFull(f, head[:])
	b := head[:n]
	switch {
	case bytes.HasPrefix(b, []byte("\x93NUMPY")):
		return "npy"
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return "npz"
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return ""
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return ""
		}
		if n, _ = io.ReadFull(zr, head[:4]); n < 4 {
			return ""
		}
		b = head[:4]
	}
	if len(b) >= 4 && b[0] == 0 && b[1] == 0 && idxSizes[b[2]] > 0 && b[3] > 0 {
		return "idx"
	}
	return ""
}

// single returns the one model input a single-tensor source feeds.
func (o Options) single(what string) (engine.ValueInfo, error) {
	if len(o.Inputs) != 1 {
		return engine.ValueInfo{}, fmt.Errorf("calib: %s feeds one model input, and the model has %d; use an .npz archive or test_data_set folders for several", what, len(o.Inputs))
	}
	return o.Inputs[0], nil
}

// exampleShape is the shape of one item for input vi: its shape less the
// batch axis, or nil when the model does not declare the rank.
func exampleShape(vi engine.ValueInfo) []int {
	if vi.Shape == nil || len(vi.Shape) == 0 {
		return nil
	}
	return vi.Shape[1:]
}

// bind checks that t fits model input vi as one item: the element type
// must be the input's, and the shape the input's less its batch axis (-1
// matching any size), or that with a leading axis of 1, which it drops.
// what names the data in the error, which gives both shapes.
func bind(vi engine.ValueInfo, t *engine.Tensor, what string) (*engine.Tensor, error) {
	if t.Type != vi.Type {
		return nil, fmt.Errorf("calib: %s: input %q wants %s data, got %s", what, vi.Name, onnxio.DataTypeName(vi.Type), onnxio.DataTypeName(t.Type))
	}
	want := exampleShape(vi)
	if want == nil {
		return t, nil
	}
	fits := func(s []int) bool {
		if len(s) != len(want) {
			return false
		}
		for i, d := range want {
			if d >= 0 && d != s[i] {
				return false
			}
		}
		return true
	}
	switch {
	case fits(t.Shape):
		return t, nil
	case len(t.Shape) > 0 && t.Shape[0] == 1 && fits(t.Shape[1:]):
		v := *t
		v.Shape = t.Shape[1:]
		return &v, nil
	}
	return nil, fmt.Errorf("calib: %s: input %q has shape %s (one item: %s), got %s",
		what, vi.Name, dimString(vi.Shape), dimString(want), dimString(t.Shape))
}

// dimString writes a shape with -1 as "?": [?,1,28,28].
func dimString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Sample returns a source of n items of src chosen at random (seeded,
// so the same n and seed always choose the same items, on every
// platform and Go version), in src's order. n <= 0 or n >= src.Len()
// returns src itself.
func Sample(src Source, n int, seed uint64) Source {
	total := src.Len()
	if n <= 0 || n >= total {
		return src
	}
	// Partial Fisher-Yates over a PCG stream with a fixed bounded-int
	// reduction (rand.Rand's may change between Go versions).
	pcg := rand.NewPCG(seed, 0x71746f6f6c) // "qtool"
	idx := make([]int, total)
	for i := range idx {
		idx[i] = i
	}
	for i := range n {
		hi, _ := bits.Mul64(pcg.Uint64(), uint64(total-i))
		j := i + int(hi)
		idx[i], idx[j] = idx[j], idx[i]
	}
	pick := slices.Clone(idx[:n])
	slices.Sort(pick)
	return &subset{src: src, idx: pick}
}

type subset struct {
	src Source
	idx []int
}

func (s *subset) Len() int                 { return len(s.idx) }
func (s *subset) Item(i int) (Item, error) { return s.src.Item(s.idx[i]) }
func (s *subset) Name(i int) string        { return s.src.Name(s.idx[i]) }

// Indices returns the positions in the original source of a Sample's
// items (nil for a source that is not a sample).
func Indices(s Source) []int {
	if s, ok := s.(*subset); ok {
		return slices.Clone(s.idx)
	}
	return nil
}

// Readable reads every item of src once (threads at a time, GOMAXPROCS
// when zero) and returns a source of those that could be read, in src's
// order, with the errors of the others (each naming its item). It is for
// data sets with a few bad files (--skip-bad): every later pass over the
// result (calibration, SQNR, accuracy) then sees the same good items. An
// error is returned when no item is readable.
func Readable(src Source, threads int) (Source, []error, error) {
	n := src.Len()
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	var good []int
	var bad []error
	const chunk = 64 // items decoded at once, so memory stays bounded
	items := make([]Item, chunk)
	errs := make([]error, chunk)
	for start := 0; start < n; start += chunk {
		k := min(chunk, n-start)
		load(src, start, items[:k], errs[:k], threads)
		for i := range k {
			if errs[i] != nil {
				bad = append(bad, errs[i])
			} else {
				good = append(good, start+i)
			}
			items[i] = Item{}
		}
	}
	if len(good) == 0 {
		if len(bad) == 0 {
			return nil, nil, errors.New("calib: the data set is empty")
		}
		return nil, bad, fmt.Errorf("calib: none of the %d items can be read (first: %w)", n, bad[0])
	}
	if len(bad) == 0 {
		return src, nil, nil
	}
	return &subset{src: src, idx: good}, bad, nil
}

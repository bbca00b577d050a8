package calib

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// maxNPZMember bounds one array of an .npz archive (4 GiB uncompressed).
const maxNPZMember = 1 << 32

// OpenNPY makes a source of the array in a .npy file: its first axis
// indexes the items, unless the array has the rank of one item of the
// model input, in which case it is a single item. float64 arrays are
// converted to float32.
func OpenNPY(path string, opts Options) (Source, error) {
	vi, err := opts.single("a .npy file")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	t, err := decodeNPY(b, true)
	if err != nil {
		return nil, fmt.Errorf("calib: %s: %w", path, err)
	}
	return newArrays(path, map[string]*engine.Tensor{vi.Name: t}, nil, []engine.ValueInfo{vi})
}

// ReadNPZ reads the arrays of a NumPy .npz archive (np.savez or
// np.savez_compressed), by name without the .npy extension.
func ReadNPZ(r io.ReaderAt, size int64) (map[string]*engine.Tensor, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not an .npz (zip) archive: %w", err)
	}
	out := map[string]*engine.Tensor{}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			continue
		}
		if f.UncompressedSize64 > maxNPZMember {
			return nil, fmt.Errorf("%s: %d bytes is too large", f.Name, f.UncompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, io.LimitReader(rc, int64(f.UncompressedSize64)+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		t, err := decodeNPY(buf.Bytes(), true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = t
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no .npy arrays in the archive")
	}
	return out, nil
}

// OpenNPZ makes a source of the arrays of an .npz archive, the first axis
// of each indexing the items. Arrays named after model inputs feed those
// inputs; a model of one input takes the archive's only array whatever
// its name. An integer array named "label" or "labels" (not a model
// input) gives the labels.
func OpenNPZ(path string, opts Options) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	arrays, err := ReadNPZ(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("calib: %s: %w", path, err)
	}
	return NewArrays(path, arrays, opts)
}

// NewArrays makes a source of named arrays as OpenNPZ does; name names
// it in messages.
func NewArrays(name string, arrays map[string]*engine.Tensor, opts Options) (Source, error) {
	var labels *engine.Tensor
	byInput := map[string]*engine.Tensor{}
	var keys []string
	for k := range arrays {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	isInput := func(k string) bool {
		return slices.ContainsFunc(opts.Inputs, func(vi engine.ValueInfo) bool { return vi.Name == k })
	}
	var data []string
	for _, k := range keys {
		if (k == "label" || k == "labels") && !isInput(k) {
			labels = arrays[k]
			continue
		}
		data = append(data, k)
	}
	for _, vi := range opts.Inputs {
		if t, ok := arrays[vi.Name]; ok {
			byInput[vi.Name] = t
		}
	}
	if len(byInput) < len(opts.Inputs) {
		if len(opts.Inputs) == 1 && len(data) == 1 {
			byInput[opts.Inputs[0].Name] = arrays[data[0]]
		} else {
			var names []string
			for _, vi := range opts.Inputs {
				names = append(names, vi.Name)
			}
			return nil, fmt.Errorf("calib: %s: arrays %v do not match the model inputs %v; name the arrays after the inputs", name, data, names)
		}
	}
	return newArrays(name, byInput, labels, opts.Inputs)
}

func newArrays(name string, arrays map[string]*engine.Tensor, labels *engine.Tensor, inputs []engine.ValueInfo) (Source, error) {
	s := &arraySource{name: name, arrays: arrays, labels: labels, inputs: inputs, n: -1}
	for _, vi := range inputs {
		t := arrays[vi.Name]
		n := 1
		if want := exampleShape(vi); want == nil || len(t.Shape) != len(want) {
			if len(t.Shape) == 0 {
				return nil, fmt.Errorf("calib: %s: input %q has shape %s, got a scalar", name, vi.Name, dimString(vi.Shape))
			}
			n = t.Shape[0]
		} else {
			s.single = true
		}
		if s.n >= 0 && n != s.n {
			return nil, fmt.Errorf("calib: %s: arrays hold different numbers of items (%d for %q, %d before)", name, n, vi.Name, s.n)
		}
		s.n = n
	}
	if labels != nil {
		switch labels.Type {
		case onnxio.Int64, onnxio.Int32, onnxio.Uint8, onnxio.Int8:
		default:
			return nil, fmt.Errorf("calib: %s: labels must be integers, got %v", name, labels)
		}
		if len(labels.Shape) != 1 || labels.Shape[0] != s.n {
			return nil, fmt.Errorf("calib: %s: labels of shape %s for %d items", name, dimString(labels.Shape), s.n)
		}
	}
	return s, nil
}

type arraySource struct {
	name   string
	arrays map[string]*engine.Tensor
	labels *engine.Tensor
	inputs []engine.ValueInfo
	n      int
	single bool // the arrays are one item each
}

func (s *arraySource) Len() int { return s.n }

func (s *arraySource) Name(i int) string {
	if s.single {
		return s.name
	}
	return fmt.Sprintf("%s[%d]", s.name, i)
}

func (s *arraySource) Item(i int) (Item, error) {
	if i < 0 || i >= s.n {
		return Item{}, fmt.Errorf("calib: %s: item %d out of range", s.name, i)
	}
	it := Item{Inputs: map[string]*engine.Tensor{}, Label: -1}
	for _, vi := range s.inputs {
		t := s.arrays[vi.Name]
		if !s.single {
			t = row(t, i)
		}
		t, err := bind(vi, t, s.Name(i))
		if err != nil {
			return Item{}, err
		}
		it.Inputs[vi.Name] = t
	}
	if s.labels != nil {
		it.Label = int(labelAt(s.labels, i))
	}
	return it, nil
}

// row returns item i of t along its first axis, sharing t's data.
func row(t *engine.Tensor, i int) *engine.Tensor {
	per := 1
	for _, d := range t.Shape[1:] {
		per *= d
	}
	r := &engine.Tensor{Type: t.Type, Shape: slices.Clone(t.Shape[1:])}
	lo, hi := i*per, (i+1)*per
	switch t.Type {
	case onnxio.Float:
		r.F32 = t.F32[lo:hi:hi]
	case onnxio.Int64:
		r.I64 = t.I64[lo:hi:hi]
	case onnxio.Int32:
		r.I32 = t.I32[lo:hi:hi]
	case onnxio.Uint8:
		r.U8 = t.U8[lo:hi:hi]
	case onnxio.Int8:
		r.I8 = t.I8[lo:hi:hi]
	case onnxio.Bool:
		r.Bool = t.Bool[lo:hi:hi]
	}
	return r
}

func labelAt(t *engine.Tensor, i int) int64 {
	switch t.Type {
	case onnxio.Int64:
		return t.I64[i]
	case onnxio.Int32:
		return int64(t.I32[i])
	case onnxio.Uint8:
		return int64(t.U8[i])
	case onnxio.Int8:
		return int64(t.I8[i])
	}
	return -1
}

// OpenPBFolder makes a source of ONNX TensorProto files: either the .pb
// files in dir, one item each for the model's single input, in name
// order; or dir's test_data_set_* folders (the ONNX test layout), one
// item each, whose input_K.pb feeds the model's input K.
func OpenPBFolder(dir string, opts Options) (Source, error) {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	s := &pbSource{inputs: opts.Inputs}
	if len(sets) > 0 {
		slices.Sort(sets)
		s.items = sets
		s.sets = true
		if len(opts.Inputs) == 0 {
			return nil, fmt.Errorf("calib: %s: no model inputs given", dir)
		}
		return s, nil
	}
	if _, err := opts.single("a folder of .pb files"); err != nil {
		return nil, err
	}
	s.items, _ = filepath.Glob(filepath.Join(dir, "*.pb"))
	slices.Sort(s.items)
	return s, nil
}

type pbSource struct {
	items  []string
	sets   bool
	inputs []engine.ValueInfo
}

func (s *pbSource) Len() int          { return len(s.items) }
func (s *pbSource) Name(i int) string { return s.items[i] }

func (s *pbSource) Item(i int) (Item, error) {
	it := Item{Inputs: map[string]*engine.Tensor{}, Label: -1}
	if !s.sets {
		t, err := readPB(s.items[i])
		if err != nil {
			return Item{}, fmt.Errorf("calib: %w", err)
		}
		vi := s.inputs[0]
		if t, err = bind(vi, t, s.items[i]); err != nil {
			return Item{}, err
		}
		it.Inputs[vi.Name] = t
		return it, nil
	}
	for k, vi := range s.inputs {
		path := filepath.Join(s.items[i], fmt.Sprintf("input_%d.pb", k))
		t, err := readPB(path)
		if err != nil {
			return Item{}, fmt.Errorf("calib: %w", err)
		}
		if t, err = bind(vi, t, path); err != nil {
			return Item{}, err
		}
		it.Inputs[vi.Name] = t
	}
	return it, nil
}

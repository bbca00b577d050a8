package onnxio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// SaveOptions says how Save writes a model.
type SaveOptions struct {
	// Overwrite allows replacing the file the model was loaded from.
	Overwrite bool
	// ExternalData moves every initializer of at least ExternalThreshold
	// bytes into one data file beside the model, named ExternalFile.
	ExternalData bool
	// ExternalThreshold defaults to 1024 bytes.
	ExternalThreshold int64
	// ExternalFile defaults to the model's file name plus ".data".
	ExternalFile string
}

// protoLimit is where Save moves tensors out of the protobuf even when not
// asked to: protobuf cannot encode a message of 2 GiB or more. A margin
// leaves room for the graph itself.
var protoLimit = 2<<30 - 64<<20 // a variable only so tests can lower it

// dataAlign aligns each tensor in an external data file, so a reader can
// map or load it with aligned vector loads.
const dataAlign = 64

// Save writes the model to path atomically: the model (and its external
// data file, if any) is written to a temporary file in the target folder
// and renamed into place, so a failed save never leaves a half-written
// file. The output is deterministic.
//
// Tensors that already have external data keep it: the same location,
// offset and length, with the data files copied to the target folder when
// it differs, so an untouched model re-saves byte-identical. With
// opt.ExternalData, large initializers (those already external included)
// are written afresh to one data file. A model whose protobuf would pass
// 2 GiB gets its largest initializers moved out even without the option.
//
// Save must not run while other goroutines read the model: it rewrites
// tensor fields while it encodes and restores them afterwards.
func (m *Model) Save(path string, opt SaveOptions) error {
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	if err := m.refuseInput(path, opt.Overwrite); err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if opt.ExternalThreshold <= 0 {
		opt.ExternalThreshold = 1024
	}
	if opt.ExternalFile == "" {
		opt.ExternalFile = filepath.Base(path) + ".data"
	}
	if opt.ExternalFile != filepath.Base(opt.ExternalFile) || opt.ExternalFile == "." || opt.ExternalFile == ".." {
		return fmt.Errorf("save %s: external data file %q must be a plain file name", path, opt.ExternalFile)
	}

	var move []*pb.TensorProto
	if opt.ExternalData {
		for _, t := range m.Graph().GetInitializer() {
			if n, err := m.tensorSize(t); err == nil && n >= opt.ExternalThreshold {
				move = append(move, t)
			}
		}
	} else if proto.Size(m.Proto) > protoLimit {
		move = m.largestInline(proto.Size(m.Proto) - protoLimit)
	}

	// Tensors that stay external but point at files in another folder:
	// those files are copied beside the output.
	var copies []string
	if dir != m.Dir {
		moving := map[*pb.TensorProto]bool{}
		for _, t := range move {
			moving[t] = true
		}
		seen := map[string]bool{}
		err := m.forEachTensor(func(t *pb.TensorProto) error {
			if !IsExternal(t) || moving[t] {
				return nil
			}
			e, err := ExternalInfo(t)
			if err != nil {
				return err
			}
			if !seen[e.Location] {
				seen[e.Location] = true
				copies = append(copies, e.Location)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save %s: %w", path, err)
		}
	}
	for _, loc := range copies {
		if filepath.Clean(filepath.FromSlash(loc)) == filepath.Clean(opt.ExternalFile) && len(move) > 0 {
			return fmt.Errorf("save %s: external data file %s would overwrite a data file the model still reads; choose another ExternalFile", path, opt.ExternalFile)
		}
	}

	if len(move) > 0 {
		restore, err := m.writeExternal(filepath.Join(dir, opt.ExternalFile), opt.ExternalFile, move)
		if err != nil {
			return fmt.Errorf("save %s: %w", path, err)
		}
		defer restore()
	}
	for _, loc := range copies {
		if err := m.copyData(loc, dir); err != nil {
			return fmt.Errorf("save %s: %w", path, err)
		}
	}
	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// refuseInput stops Save from replacing the model's own file unless asked.
func (m *Model) refuseInput(path string, overwrite bool) error {
	if m.Path == "" || overwrite {
		return nil
	}
	a, err := os.Stat(path)
	if err != nil {
		return nil // target does not exist yet
	}
	b, err := os.Stat(m.Path)
	if err == nil && os.SameFile(a, b) {
		return fmt.Errorf("save %s: refusing to overwrite the input model; write to another path or allow overwriting (--force)", path)
	}
	return nil
}

func (m *Model) tensorSize(t *pb.TensorProto) (int64, error) {
	n, err := NumElements(t.GetDims())
	if err != nil {
		return 0, err
	}
	return ByteSize(DataType(t.GetDataType()), n), nil
}

// largestInline picks inline initializers, largest first, until at least
// excess bytes would leave the protobuf.
func (m *Model) largestInline(excess int) []*pb.TensorProto {
	var cand []*pb.TensorProto
	for _, t := range m.Graph().GetInitializer() {
		if !IsExternal(t) && ElemBits(DataType(t.GetDataType())) > 0 {
			cand = append(cand, t)
		}
	}
	sort.SliceStable(cand, func(i, j int) bool {
		a, _ := m.tensorSize(cand[i])
		b, _ := m.tensorSize(cand[j])
		return a > b
	})
	var out []*pb.TensorProto
	left := int64(excess)
	for _, t := range cand {
		if left <= 0 {
			break
		}
		n, _ := m.tensorSize(t)
		out = append(out, t)
		left -= n
	}
	return out
}

// forEachTensor visits every tensor in the model: initializers, attribute
// tensors, sparse initializers, subgraphs and function bodies.
func (m *Model) forEachTensor(f func(*pb.TensorProto) error) error {
	var graph func(g *pb.GraphProto) error
	nodes := func(ns []*pb.NodeProto) error {
		for _, n := range ns {
			for _, a := range n.GetAttribute() {
				if a.GetT() != nil {
					if err := f(a.GetT()); err != nil {
						return err
					}
				}
				for _, t := range a.GetTensors() {
					if err := f(t); err != nil {
						return err
					}
				}
				for _, sg := range subgraphs(a) {
					if err := graph(sg); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	graph = func(g *pb.GraphProto) error {
		for _, t := range g.GetInitializer() {
			if err := f(t); err != nil {
				return err
			}
		}
		for _, st := range g.GetSparseInitializer() {
			for _, t := range []*pb.TensorProto{st.GetValues(), st.GetIndices()} {
				if t != nil {
					if err := f(t); err != nil {
						return err
					}
				}
			}
		}
		return nodes(g.GetNode())
	}
	for _, fn := range m.Proto.GetFunctions() {
		if err := nodes(fn.GetNode()); err != nil {
			return err
		}
	}
	return graph(m.Graph())
}

// writeExternal writes the tensors' bytes into one data file and points
// them at it. The returned function puts the tensors back as they were.
func (m *Model) writeExternal(path, location string, ts []*pb.TensorProto) (restore func(), err error) {
	type saved struct {
		t        *pb.TensorProto
		raw      []byte
		f32      []float32
		i32      []int32
		i64      []int64
		f64      []float64
		u64      []uint64
		ext      []*pb.StringStringEntryProto
		location *pb.TensorProto_DataLocation
	}
	var old []saved
	restore = func() {
		for _, s := range old {
			s.t.RawData, s.t.FloatData, s.t.Int32Data, s.t.Int64Data = s.raw, s.f32, s.i32, s.i64
			s.t.DoubleData, s.t.Uint64Data = s.f64, s.u64
			s.t.ExternalData, s.t.DataLocation = s.ext, s.location
		}
	}
	type entry struct {
		t           *pb.TensorProto
		data        []byte
		offset, len int64
	}
	entries := make([]entry, 0, len(ts))
	var off int64
	for _, t := range ts {
		b, err := m.TensorBytes(t)
		if err != nil {
			return nil, err
		}
		off = (off + dataAlign - 1) / dataAlign * dataAlign
		entries = append(entries, entry{t, b, off, int64(len(b))})
		off += int64(len(b))
	}
	err = WriteAtomic(path, func(w io.Writer) error {
		var pos int64
		var pad [dataAlign]byte
		for _, e := range entries {
			if _, err := w.Write(pad[:e.offset-pos]); err != nil {
				return err
			}
			if _, err := w.Write(e.data); err != nil {
				return err
			}
			pos = e.offset + e.len
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		t := e.t
		old = append(old, saved{t, t.RawData, t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data, t.ExternalData, t.DataLocation})
		t.RawData, t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data = nil, nil, nil, nil, nil, nil
		t.DataLocation = pb.TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*pb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(location)},
			{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(e.offset, 10))},
			{Key: proto.String("length"), Value: proto.String(strconv.FormatInt(e.len, 10))},
		}
	}
	return restore, nil
}

// copyData copies the external data file at loc (relative to the model's
// folder) to the same relative place under dir.
func (m *Model) copyData(loc, dir string) error {
	src, err := resolveExternal(m.Dir, "", loc)
	if err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.FromSlash(loc))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return WriteAtomic(dst, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
}

// WriteAtomic writes a file through a temporary file in the same folder
// and a rename, so readers see the old file or the whole new one.
func WriteAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

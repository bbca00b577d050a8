package onnxio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Model is a loaded ONNX model: the protobuf message plus what is needed to
// reach tensor data stored outside it.
//
// Tensors with external data stay on disk until read (TensorBytes and the
// Decode functions read them on demand), so loading a multi-gigabyte model
// costs only its graph.
type Model struct {
	Proto *pb.ModelProto

	// Path is the file the model came from, "" when loaded from bytes.
	Path string
	// Dir is the folder external data locations are relative to; "" means
	// the model may not reference external data.
	Dir string

	// saveMu serialises Save, which swaps tensor fields while it writes.
	saveMu sync.Mutex
}

// maxModelFile bounds the protobuf file Load reads into memory. Protobuf
// itself cannot exceed 2 GiB; anything larger is not an ONNX model.
const maxModelFile = 2<<30 - 1

// Load reads an ONNX model from path and checks it (see Check). External
// data locations are resolved against the model's folder.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("load model %s: is a folder, not an .onnx file", path)
	}
	if st.Size() > maxModelFile {
		return nil, fmt.Errorf("load model %s: %d bytes is over the 2 GiB protobuf limit; is this an external data file rather than the model?", path, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	m, err := parse(b, dir)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// LoadBytes parses an ONNX model held in memory. baseDir is the folder its
// external data locations are relative to; with baseDir "" a model that
// references external data is refused.
func LoadBytes(b []byte, baseDir string) (*Model, error) {
	if baseDir != "" {
		d, err := filepath.Abs(baseDir)
		if err != nil {
			return nil, fmt.Errorf("load model: %w", err)
		}
		baseDir = d
	}
	m, err := parse(b, baseDir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	return m, nil
}

func parse(b []byte, dir string) (*Model, error) {
	if len(b) == 0 {
		return nil, errors.New("empty input: not an ONNX model")
	}
	mp := new(pb.ModelProto)
	// DiscardUnknown stays false: fields from newer ONNX versions must
	// survive a load and save untouched.
	if err := (proto.UnmarshalOptions{}).Unmarshal(b, mp); err != nil {
		return nil, fmt.Errorf("not a valid ONNX protobuf (truncated or corrupt file?): %w", err)
	}
	m := &Model{Proto: mp, Dir: dir}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Marshal encodes the model deterministically: the same message always
// gives the same bytes, and a model loaded from a file written in field
// order (as every ONNX exporter writes) re-encodes to its original bytes.
func (m *Model) Marshal() ([]byte, error) {
	return marshal(m.Proto)
}

func marshal(mp *pb.ModelProto) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return b, nil
}

// Graph is the model's main graph (never nil after a successful Load).
func (m *Model) Graph() *pb.GraphProto { return m.Proto.GetGraph() }

// Opset is the version of the operator set domain the model imports, or 0.
// The domains "" and "ai.onnx" are the same.
func (m *Model) Opset(domain string) int64 {
	if domain == "ai.onnx" {
		domain = ""
	}
	for _, o := range m.Proto.GetOpsetImport() {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return o.GetVersion()
		}
	}
	return 0
}

// SetOpset sets the imported version of domain, adding the import if the
// model has none.
func (m *Model) SetOpset(domain string, version int64) {
	for _, o := range m.Proto.GetOpsetImport() {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain || (domain == "ai.onnx" && d == "") {
			o.Version = proto.Int64(version)
			return
		}
	}
	m.Proto.OpsetImport = append(m.Proto.OpsetImport, &pb.OperatorSetIdProto{Domain: proto.String(domain), Version: proto.Int64(version)})
}

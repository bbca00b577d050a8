package onnxio

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// External describes where a tensor's data lives outside the model file.
type External struct {
	Location string // as written in the model, relative to the model's folder
	Offset   int64
	Length   int64 // -1 when the model leaves it out
}

// IsExternal reports whether t keeps its data outside the model file.
func IsExternal(t *pb.TensorProto) bool {
	return t.GetDataLocation() == pb.TensorProto_EXTERNAL
}

// ExternalInfo parses t's external_data entries.
func ExternalInfo(t *pb.TensorProto) (External, error) {
	e := External{Length: -1}
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			e.Location = kv.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return e, fmt.Errorf("tensor %q: external data %s %q is not a non-negative integer", t.GetName(), kv.GetKey(), kv.GetValue())
			}
			if kv.GetKey() == "offset" {
				e.Offset = v
			} else {
				e.Length = v
			}
		}
	}
	if e.Location == "" {
		return e, fmt.Errorf("tensor %q: external data has no location", t.GetName())
	}
	return e, nil
}

// resolveExternal turns a location into a path inside dir, refusing
// anything that could read outside the model's folder: absolute paths,
// ".." components and symlinks that lead elsewhere.
func resolveExternal(dir, tensor, loc string) (string, error) {
	refuse := func(why string) error {
		return fmt.Errorf("tensor %q: external data location %q %s; external data must be a file inside the model's folder", tensor, loc, why)
	}
	if dir == "" {
		return "", fmt.Errorf("tensor %q: external data location %q but the model was loaded from bytes without a base folder; load it from its file instead", tensor, loc)
	}
	if strings.ContainsRune(loc, 0) {
		return "", refuse("contains a NUL byte")
	}
	if filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) || filepath.VolumeName(loc) != "" {
		return "", refuse("is absolute")
	}
	for _, part := range strings.FieldsFunc(loc, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", refuse("contains ..")
		}
	}
	p := filepath.Join(dir, filepath.FromSlash(loc))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("tensor %q: external data file %q: %w", tensor, loc, err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("tensor %q: model folder %q: %w", tensor, dir, err)
	}
	rel, err := filepath.Rel(realDir, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", refuse("resolves (through a symlink) to " + real + ", outside the model's folder")
	}
	return real, nil
}

// checkExternal validates t's external reference without reading the data:
// the path is safe, the file is a regular file, and the byte range the
// shape needs lies inside it.
func (m *Model) checkExternal(t *pb.TensorProto, want int64) (string, External, error) {
	e, err := ExternalInfo(t)
	if err != nil {
		return "", e, err
	}
	p, err := resolveExternal(m.Dir, t.GetName(), e.Location)
	if err != nil {
		return "", e, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", e, fmt.Errorf("tensor %q: external data: %w", t.GetName(), err)
	}
	if !st.Mode().IsRegular() {
		return "", e, fmt.Errorf("tensor %q: external data location %q is not a regular file", t.GetName(), e.Location)
	}
	if e.Length >= 0 && want >= 0 && e.Length != want {
		return "", e, fmt.Errorf("tensor %q: external data length %d but shape %v of %s needs %d bytes", t.GetName(), e.Length, t.GetDims(), DataTypeName(DataType(t.GetDataType())), want)
	}
	n := e.Length
	if n < 0 {
		n = want
	}
	if e.Offset > st.Size() || n > st.Size()-e.Offset {
		return "", e, fmt.Errorf("tensor %q: external data %q holds %d bytes, but the tensor needs bytes %d to %d; the data file is truncated or belongs to another model", t.GetName(), e.Location, st.Size(), e.Offset, e.Offset+n)
	}
	e.Length = n
	return p, e, nil
}

// readExternal reads t's bytes from its data file.
func (m *Model) readExternal(t *pb.TensorProto, want int64) ([]byte, error) {
	p, e, err := m.checkExternal(t, want)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	defer f.Close()
	b := make([]byte, e.Length)
	if _, err := f.ReadAt(b, e.Offset); err != nil && !(err == io.EOF && len(b) == 0) {
		return nil, fmt.Errorf("tensor %q: reading external data %q: %w", t.GetName(), e.Location, err)
	}
	return b, nil
}

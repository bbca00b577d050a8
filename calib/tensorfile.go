package calib

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// npyTypes maps NumPy dtype strings (little-endian or byte-sized) to the
// element types the engine takes.
var npyTypes = map[string]onnxio.DataType{
	"<f4": onnxio.Float, "<i8": onnxio.Int64, "<i4": onnxio.Int32, "|u1": onnxio.Uint8, "|i1": onnxio.Int8, "|b1": onnxio.Bool,
}

// ReadTensor reads one tensor from a NumPy .npy file or an ONNX
// TensorProto .pb file (the format of ONNX test_data_set folders), chosen
// by the file's extension.
func ReadTensor(path string) (*engine.Tensor, error) {
	switch {
	case strings.HasSuffix(path, ".npy"):
		return readNPY(path)
	case strings.HasSuffix(path, ".pb"):
		return readPB(path)
	}
	return nil, fmt.Errorf("%s: unknown tensor file type; use .npy or .pb (ONNX TensorProto)", path)
}

func readPB(path string) (*engine.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tp := new(pb.TensorProto)
	if err := proto.Unmarshal(b, tp); err != nil {
		return nil, fmt.Errorf("%s: not an ONNX TensorProto: %w", path, err)
	}
	if onnxio.IsExternal(tp) {
		return nil, fmt.Errorf("%s: tensor files with external data are not supported", path)
	}
	t, err := engine.TensorFromProto(nil, tp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func readNPY(path string) (*engine.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := decodeNPY(b, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// decodeNPY decodes a .npy file's bytes. With f64, float64 arrays are
// accepted and converted to float32 (NumPy's default dtype, common in
// calibration data).
func decodeNPY(b []byte, f64 bool) (*engine.Tensor, error) {
	h, data, err := parseNPY(b)
	if err != nil {
		return nil, fmt.Errorf("not a valid NumPy .npy file: %w", err)
	}
	dt, ok := npyTypes[h.descr]
	if f64 && h.descr == "<f8" {
		dt, ok = onnxio.Double, true
	}
	if !ok {
		return nil, fmt.Errorf("NumPy dtype %q is not supported; save as float32, int64, int32, uint8, int8 or bool", h.descr)
	}
	if h.fortran && len(h.shape) > 1 {
		return nil, fmt.Errorf("Fortran-order array; save it with numpy.ascontiguousarray first")
	}
	dims := make([]int64, len(h.shape))
	for i, v := range h.shape {
		dims[i] = int64(v)
	}
	n, err := onnxio.NumElements(dims)
	if err != nil || onnxio.ByteSize(dt, n) != int64(len(data)) {
		return nil, fmt.Errorf("header shape %v of %s does not fit the %d data bytes of the file", h.shape, h.descr, len(data))
	}
	t := &engine.Tensor{Type: dt, Shape: h.shape}
	switch dt {
	case onnxio.Double:
		t.Type = onnxio.Float
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])))
		}
	case onnxio.Float:
		t.F32 = make([]float32, n)
		_, err = binary.Decode(data, binary.LittleEndian, t.F32)
	case onnxio.Int64:
		t.I64 = make([]int64, n)
		_, err = binary.Decode(data, binary.LittleEndian, t.I64)
	case onnxio.Int32:
		t.I32 = make([]int32, n)
		_, err = binary.Decode(data, binary.LittleEndian, t.I32)
	case onnxio.Uint8:
		t.U8 = append([]uint8{}, data...)
	case onnxio.Int8:
		t.I8 = make([]int8, n)
		_, err = binary.Decode(data, binary.LittleEndian, t.I8)
	case onnxio.Bool:
		t.Bool = make([]bool, n)
		_, err = binary.Decode(data, binary.LittleEndian, t.Bool)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

type npyHeader struct {
	descr   string
	fortran bool
	shape   []int
}

// parseNPY splits a .npy file into its header and data. The header is a
// Python dict literal; this accepts what NumPy writes: the keys 'descr' (a
// string), 'fortran_order' (True or False) and 'shape' (a tuple of sizes),
// in any order. (npyio, the obvious library, panics on malformed headers
// and allocates whatever header length a file claims.)
func parseNPY(b []byte) (npyHeader, []byte, error) {
	var h npyHeader
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return h, nil, fmt.Errorf("no NumPy magic")
	}
	start, n := 10, int(binary.LittleEndian.Uint16(b[8:10]))
	switch b[6] {
	case 1:
	case 2, 3:
		if len(b) < 12 {
			return h, nil, fmt.Errorf("truncated")
		}
		start, n = 12, int(min(binary.LittleEndian.Uint32(b[8:12]), 1<<30))
	default:
		return h, nil, fmt.Errorf("format version %d", b[6])
	}
	if start+n > len(b) {
		return h, nil, fmt.Errorf("header length %d does not fit the file", n)
	}
	s := strings.TrimSpace(string(b[start : start+n]))
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return h, nil, fmt.Errorf("header is not a dict")
	}
	s = strings.TrimSuffix(strings.TrimSpace(s[1:len(s)-1]), ",")
	seen := map[string]bool{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), ",")) {
		key, rest, ok := pyString(s)
		if !ok || seen[key] {
			return h, nil, fmt.Errorf("bad or repeated key in header")
		}
		seen[key] = true
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return h, nil, fmt.Errorf("no ':' after %q", key)
		}
		rest = strings.TrimSpace(rest[1:])
		switch key {
		case "descr":
			h.descr, s, ok = pyString(rest)
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "True"):
				h.fortran, s, ok = true, rest[4:], true
			case strings.HasPrefix(rest, "False"):
				h.fortran, s, ok = false, rest[5:], true
			default:
				ok = false
			}
		case "shape":
			h.shape, s, ok = pyIntTuple(rest)
		default:
			ok = false
		}
		if !ok {
			return h, nil, fmt.Errorf("bad value for %q in header", key)
		}
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return h, nil, fmt.Errorf("header lacks descr, fortran_order or shape")
	}
	return h, b[start+n:], nil
}

// pyString reads a single- or double-quoted string without escapes.
func pyString(s string) (string, string, bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

// pyIntTuple reads a tuple of non-negative integers: (), (3,) or (2, 3).
func pyIntTuple(s string) ([]int, string, bool) {
	end := strings.IndexByte(s, ')')
	if !strings.HasPrefix(s, "(") || end < 0 {
		return nil, s, false
	}
	shape := []int{}
	for _, f := range strings.Split(s[1:end], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 0 || v > 1<<48 {
			return nil, s, false
		}
		shape = append(shape, int(v))
	}
	return shape, s[end+1:], true
}

func dataLen(t *engine.Tensor) int {
	return max(len(t.F32), len(t.I64), len(t.I32), len(t.U8), len(t.I8), len(t.Bool))
}

// WriteNPY writes t as a NumPy .npy file (format 1.0, C order),
// atomically.
func WriteNPY(path string, t *engine.Tensor) error {
	descr := ""
	for k, v := range npyTypes {
		if v == t.Type {
			descr = k
		}
	}
	if descr == "" {
		return fmt.Errorf("%s: cannot write %s tensors as .npy", path, onnxio.DataTypeName(t.Type))
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := "(" + strings.Join(dims, ", ") + ")"
	if len(dims) == 1 {
		shape = "(" + dims[0] + ",)" // a Python 1-tuple
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	// Magic (6) + version (2) + length (2) + header + newline, padded with
	// spaces to a multiple of 64 bytes, as NumPy writes it.
	total := (10 + len(header) + 1 + 63) / 64 * 64
	header += strings.Repeat(" ", total-10-len(header)-1) + "\n"
	return onnxio.WriteAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString("\x93NUMPY\x01\x00")
		binary.Write(bw, binary.LittleEndian, uint16(len(header)))
		bw.WriteString(header)
		var err error
		switch t.Type {
		case onnxio.Float:
			err = binary.Write(bw, binary.LittleEndian, t.F32)
		case onnxio.Int64:
			err = binary.Write(bw, binary.LittleEndian, t.I64)
		case onnxio.Int32:
			err = binary.Write(bw, binary.LittleEndian, t.I32)
		case onnxio.Uint8:
			_, err = bw.Write(t.U8)
		case onnxio.Int8:
			err = binary.Write(bw, binary.LittleEndian, t.I8)
		case onnxio.Bool:
			err = binary.Write(bw, binary.LittleEndian, t.Bool)
		}
		if err != nil {
			return err
		}
		return bw.Flush()
	})
}

// WritePB writes t as an ONNX TensorProto file named name, atomically.
func WritePB(path, name string, t *engine.Tensor) error {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	var tp *pb.TensorProto
	var err error
	switch t.Type {
	case onnxio.Float:
		tp, err = onnxio.NewTensor(name, t.Type, dims, t.F32)
	case onnxio.Int64:
		tp, err = onnxio.NewTensor(name, t.Type, dims, t.I64)
	case onnxio.Int32:
		tp, err = onnxio.NewTensor(name, t.Type, dims, t.I32)
	case onnxio.Uint8:
		tp, err = onnxio.NewTensor(name, t.Type, dims, t.U8)
	case onnxio.Int8:
		tp, err = onnxio.NewTensor(name, t.Type, dims, t.I8)
	case onnxio.Bool:
		tp, err = onnxio.NewTensor(name, t.Type, dims, t.Bool)
	default:
		err = fmt.Errorf("cannot write %s tensors", onnxio.DataTypeName(t.Type))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(tp)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return onnxio.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

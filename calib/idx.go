package calib

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"os"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// IDX is an array read from an IDX file, the format of MNIST and its
// relatives: a big-endian header (two zero bytes, an element type code,
// the number of dimensions, each dimension as a uint32) and the elements,
// big-endian, in row-major order.
type IDX struct {
	Type byte  // 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
	Dims []int // Dims[0] is the number of items
	Data []byte
}

var idxSizes = map[byte]int{0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}

// maxIDXBytes bounds the data of one IDX file (16 GiB).
const maxIDXBytes = 1 << 34

// ReadIDX reads an IDX array from r, gzipped or not (sniffed). Memory is
// allocated as data arrives, so a header claiming more data than there
// is costs nothing.
func ReadIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("bad gzip stream: %w", err)
		}
		br = bufio.NewReader(zr)
	}
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, fmt.Errorf("truncated IDX header: %w", err)
	}
	size, ok := idxSizes[head[2]]
	if head[0] != 0 || head[1] != 0 || !ok || head[3] == 0 {
		return nil, fmt.Errorf("not an IDX file (magic %x)", head)
	}
	a := &IDX{Type: head[2], Dims: make([]int, head[3])}
	n := int64(size)
	for i := range a.Dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("truncated IDX header: %w", err)
		}
		a.Dims[i] = int(d)
		if d != 0 && n > maxIDXBytes/int64(d) {
			return nil, fmt.Errorf("IDX dimensions %v are too large", a.Dims[:i+1])
		}
		n *= int64(d)
	}
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, br, n)
	if err != nil {
		return nil, fmt.Errorf("IDX data truncated: %d of %d bytes for dimensions %v: %w", got, n, a.Dims, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("reading IDX data: %w", err)
		}
		return nil, fmt.Errorf("IDX file has data past the %d bytes of dimensions %v", n, a.Dims)
	}
	a.Data = buf.Bytes()
	return a, nil
}

// readIDXFile reads an IDX file, naming it in errors.
func readIDXFile(fsys fs.FS, path string) (*IDX, error) {
	var f io.ReadCloser
	var err error
	if fsys == nil {
		f, err = os.Open(path)
	} else {
		f, err = fsys.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	defer f.Close()
	a, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("calib: %s: %w", path, err)
	}
	return a, nil
}

// value returns element i as a float64.
func (a *IDX) value(i int) float64 {
	switch a.Type {
	case 0x08:
		return float64(a.Data[i])
	case 0x09:
		return float64(int8(a.Data[i]))
	case 0x0B:
		return float64(int16(binary.BigEndian.Uint16(a.Data[2*i:])))
	case 0x0C:
		return float64(int32(binary.BigEndian.Uint32(a.Data[4*i:])))
	case 0x0D:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(a.Data[4*i:])))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(a.Data[8*i:]))
}

// OpenIDX opens an IDX images file and, if labels is not empty, the IDX
// labels file that goes with it (see NewIDX).
func OpenIDX(images, labels string, opts Options) (Source, error) {
	return openIDX(nil, images, labels, opts)
}

// OpenIDXFS is OpenIDX on files of fsys (qtool.Fixtures' test images,
// say).
func OpenIDXFS(fsys fs.FS, images, labels string, opts Options) (Source, error) {
	return openIDX(fsys, images, labels, opts)
}

func openIDX(fsys fs.FS, images, labels string, opts Options) (Source, error) {
	im, err := readIDXFile(fsys, images)
	if err != nil {
		return nil, err
	}
	var lb *IDX
	if labels != "" {
		if lb, err = readIDXFile(fsys, labels); err != nil {
			return nil, err
		}
	}
	return NewIDX(images, im, lb, opts)
}

// NewIDX makes a source of the IDX array images (named name in
// messages), with labels (nil for none). uint8 arrays of dimensions
// [N,H,W] or [N,H,W,C] with C 1 or 3 are images, preprocessed as
// opts.Preprocess says; other arrays give float32 tensors of their item
// shape as they are. labels must be one integer per item.
func NewIDX(name string, images, labels *IDX, opts Options) (Source, error) {
	vi, err := opts.single("IDX data")
	if err != nil {
		return nil, err
	}
	if len(images.Dims) < 2 {
		return nil, fmt.Errorf("calib: %s: IDX images need at least 2 dimensions, got %v", name, images.Dims)
	}
	s := &idxSource{name: name, a: images, vi: vi, pre: opts.Preprocess, per: 1}
	for _, d := range images.Dims[1:] {
		s.per *= d
	}
	d := images.Dims
	s.image = images.Type == 0x08 && (len(d) == 3 || len(d) == 4 && (d[3] == 1 || d[3] == 3))
	if labels != nil {
		if len(labels.Dims) != 1 || labels.Dims[0] != d[0] || labels.Type == 0x0D || labels.Type == 0x0E {
			return nil, fmt.Errorf("calib: %s: labels must be %d integers, got IDX dimensions %v of type 0x%02x", name, d[0], labels.Dims, labels.Type)
		}
		s.labels = labels
	}
	return s, nil
}

type idxSource struct {
	name   string
	a      *IDX
	labels *IDX
	vi     engine.ValueInfo
	pre    Preprocess
	per    int // elements per item
	image  bool
}

func (s *idxSource) Len() int          { return s.a.Dims[0] }
func (s *idxSource) Name(i int) string { return fmt.Sprintf("%s[%d]", s.name, i) }

func (s *idxSource) Item(i int) (Item, error) {
	if i < 0 || i >= s.Len() {
		return Item{}, fmt.Errorf("calib: %s: item %d out of range", s.name, i)
	}
	it := Item{Label: -1}
	if s.labels != nil {
		it.Label = int(s.labels.value(i))
	}
	d := s.a.Dims
	var t *engine.Tensor
	if s.image {
		h, w := d[1], d[2]
		px := s.a.Data[i*s.per : (i+1)*s.per]
		var img image.Image
		if len(d) == 3 || d[3] == 1 {
			img = &image.Gray{Pix: px, Stride: w, Rect: image.Rect(0, 0, w, h)}
		} else {
			rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
			for p := range h * w {
				copy(rgba.Pix[4*p:], px[3*p:3*p+3])
				rgba.Pix[4*p+3] = 255
			}
			img = rgba
		}
		var err error
		if t, err = s.pre.Apply(img, s.vi); err != nil {
			return Item{}, fmt.Errorf("calib: %s: %w", s.Name(i), err)
		}
	} else {
		t = &engine.Tensor{Type: onnxio.Float, Shape: append([]int{}, d[1:]...), F32: make([]float32, s.per)}
		for k := range t.F32 {
			t.F32[k] = float32(s.a.value(i*s.per + k))
		}
	}
	t, err := bind(s.vi, t, s.Name(i))
	if err != nil {
		return Item{}, err
	}
	it.Inputs = map[string]*engine.Tensor{s.vi.Name: t}
	return it, nil
}

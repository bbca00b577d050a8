package calib

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // decoders for image.Decode
	_ "image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/image/draw"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

// Layout is the axis order of an image tensor.
type Layout int

const (
	// LayoutAuto takes NHWC when the model input's last axis is 1 or 3
	// and its second is not, NCHW otherwise.
	LayoutAuto Layout = iota
	NCHW
	NHWC
)

// Color is the channel order of an image tensor.
type Color int

const (
	// ColorAuto takes Gray for a model input of one channel, RGB
	// otherwise.
	ColorAuto Color = iota
	RGB
	BGR
	Gray
)

// Preprocess turns an image into a model input tensor: decode, resize,
// center crop, then per channel (pixel - Mean[c]) / Std[c], with pixels
// in 0..255 (16-bit images keep their precision: pixel16/257).
//
// Resize scales to exactly ResizeW×ResizeH (bilinear, x/image/draw's
// BiLinear); CropW×CropH then cuts the center (the offset rounded down).
// With neither set, an image whose size differs from a fixed H×W of the
// model input is resized to it. Mean and Std hold one value per channel,
// or one for all; by default mean 0 and std 255, so the values are
// pixel/255 in [0, 1]. Gray is the luma of ITU-R 601 (image/color's
// Gray16Model). Alpha is dropped after compositing on black.
//
// A model input of element type uint8 gets the raw pixels (Mean and Std
// do not apply).
type Preprocess struct {
	ResizeW, ResizeH int
	CropW, CropH     int
	Mean, Std        []float64
	Layout           Layout
	Color            Color
}

// Apply makes img into one item for model input vi (of shape [N,C,H,W]
// or [N,H,W,C]): a tensor of shape [C,H,W] or [H,W,C].
func (p Preprocess) Apply(img image.Image, vi engine.ValueInfo) (*engine.Tensor, error) {
	if len(vi.Shape) != 4 {
		return nil, fmt.Errorf("input %q of shape %s is not an image input (N,C,H,W or N,H,W,C)", vi.Name, dimString(vi.Shape))
	}
	layout := p.Layout
	if layout == LayoutAuto {
		layout = NCHW
		if (vi.Shape[3] == 1 || vi.Shape[3] == 3) && vi.Shape[1] != 1 && vi.Shape[1] != 3 {
			layout = NHWC
		}
	}
	mc, mh, mw := vi.Shape[1], vi.Shape[2], vi.Shape[3]
	if layout == NHWC {
		mh, mw, mc = vi.Shape[1], vi.Shape[2], vi.Shape[3]
	}
	col := p.Color
	if col == ColorAuto {
		col = RGB
		if mc == 1 {
			col = Gray
		}
	}
	c := 3
	if col == Gray {
		c = 1
	}
	switch {
	case p.ResizeW > 0 && p.ResizeH > 0:
		img = resize(img, p.ResizeW, p.ResizeH)
	case p.ResizeW > 0 || p.ResizeH > 0:
		return nil, fmt.Errorf("resize needs both a width and a height, got %dx%d", p.ResizeW, p.ResizeH)
	case p.CropW <= 0 && mh > 0 && mw > 0 && (img.Bounds().Dx() != mw || img.Bounds().Dy() != mh):
		img = resize(img, mw, mh)
	}
	if p.CropW > 0 || p.CropH > 0 {
		b := img.Bounds()
		if p.CropW <= 0 || p.CropH <= 0 || p.CropW > b.Dx() || p.CropH > b.Dy() {
			return nil, fmt.Errorf("cannot center-crop %dx%d from a %dx%d image", p.CropW, p.CropH, b.Dx(), b.Dy())
		}
		x0, y0 := b.Min.X+(b.Dx()-p.CropW)/2, b.Min.Y+(b.Dy()-p.CropH)/2
		img = cropped{img, image.Rect(x0, y0, x0+p.CropW, y0+p.CropH)}
	}
	mean, std, err := p.norm(c)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	shape := []int{c, h, w}
	if layout == NHWC {
		shape = []int{h, w, c}
	}
	t := &engine.Tensor{Type: vi.Type, Shape: shape}
	switch vi.Type {
	case onnxio.Float:
		t.F32 = make([]float32, c*h*w)
	case onnxio.Uint8:
		t.U8 = make([]uint8, c*h*w)
	default:
		return nil, fmt.Errorf("input %q takes %s; images give float32 or uint8", vi.Name, onnxio.DataTypeName(vi.Type))
	}
	var px [3]float64
	for y := range h {
		for x := range w {
			cl := img.At(b.Min.X+x, b.Min.Y+y)
			if col == Gray {
				px[0] = float64(color.Gray16Model.Convert(cl).(color.Gray16).Y) / 257
			} else {
				r, g, bl, _ := cl.RGBA()
				px[0], px[1], px[2] = float64(r)/257, float64(g)/257, float64(bl)/257
				if col == BGR {
					px[0], px[2] = px[2], px[0]
				}
			}
			for k := range c {
				i := k*h*w + y*w + x
				if layout == NHWC {
					i = (y*w+x)*c + k
				}
				if t.U8 != nil {
					t.U8[i] = uint8(px[k] + 0.5)
				} else {
					t.F32[i] = float32((px[k] - mean[k]) / std[k])
				}
			}
		}
	}
	return t, nil
}

// norm returns Mean and Std for c channels.
func (p Preprocess) norm(c int) (mean, std []float64, err error) {
	expand := func(v []float64, def float64, what string) ([]float64, error) {
		switch len(v) {
		case 0:
			return slices.Repeat([]float64{def}, c), nil
		case 1:
			return slices.Repeat(v, c), nil
		case c:
			return v, nil
		}
		return nil, fmt.Errorf("%s has %d values for %d channels", what, len(v), c)
	}
	if mean, err = expand(p.Mean, 0, "mean"); err != nil {
		return nil, nil, err
	}
	if std, err = expand(p.Std, 255, "std"); err != nil {
		return nil, nil, err
	}
	for _, s := range std {
		if s == 0 {
			return nil, nil, fmt.Errorf("std of 0")
		}
	}
	return mean, std, nil
}

func resize(img image.Image, w, h int) image.Image {
	dst := image.NewNRGBA64(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	return dst
}

// cropped is a view of part of an image.
type cropped struct {
	image.Image
	r image.Rectangle
}

func (c cropped) Bounds() image.Rectangle { return c.r }

// OpenImageFolder makes a source of the PNG and JPEG files under dir, in
// path order. Files in first-level sub-folders are labelled by the
// folder, classes numbered in sorted order (as torchvision's ImageFolder
// does); files directly in dir have no label. Each image is decoded and
// preprocessed (opts.Preprocess) when its item is read.
func OpenImageFolder(dir string, opts Options) (*ImageFolder, error) {
	vi, err := opts.single("an image folder")
	if err != nil {
		return nil, err
	}
	s := &ImageFolder{vi: vi, pre: opts.Preprocess}
	var classOf []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".png", ".jpg", ".jpeg":
		default:
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		class := ""
		if i := strings.IndexRune(rel, filepath.Separator); i >= 0 {
			class = rel[:i]
		}
		s.files = append(s.files, path)
		classOf = append(classOf, class)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	for _, c := range classOf {
		if c != "" && !slices.Contains(s.Classes, c) {
			s.Classes = append(s.Classes, c)
		}
	}
	slices.Sort(s.Classes)
	for _, c := range classOf {
		s.labels = append(s.labels, slices.Index(s.Classes, c)) // -1 for ""
	}
	return s, nil
}

// MaxImagePixels bounds the size of an image file's picture (its header
// is read first), so a small file claiming a huge image is refused rather
// than decoded.
const MaxImagePixels = 1 << 26

// ImageFolder is a source of image files.
type ImageFolder struct {
	// Classes are the class names (sub-folders), label i being Classes[i].
	Classes []string
	files   []string
	labels  []int
	vi      engine.ValueInfo
	pre     Preprocess
}

func (s *ImageFolder) Len() int          { return len(s.files) }
func (s *ImageFolder) Name(i int) string { return s.files[i] }

func (s *ImageFolder) Item(i int) (Item, error) {
	path := s.files[i]
	f, err := os.Open(path)
	if err != nil {
		return Item{}, fmt.Errorf("calib: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return Item{}, fmt.Errorf("calib: %s: cannot decode the image: %w", path, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return Item{}, fmt.Errorf("calib: %s: %dx%d image is larger than %d pixels", path, cfg.Width, cfg.Height, MaxImagePixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Item{}, fmt.Errorf("calib: %w", err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return Item{}, fmt.Errorf("calib: %s: cannot decode the image: %w", path, err)
	}
	t, err := s.pre.Apply(img, s.vi)
	if err != nil {
		return Item{}, fmt.Errorf("calib: %s: %w", path, err)
	}
	if t, err = bind(s.vi, t, path); err != nil {
		return Item{}, err
	}
	return Item{Inputs: map[string]*engine.Tensor{s.vi.Name: t}, Label: s.labels[i]}, nil
}

package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool/calib"
)

// prepFlags are the image preprocessing flags of --calib and --eval data.
type prepFlags struct {
	resize, crop, mean, std, layout, color string
}

func (p *prepFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.resize, "resize", "", "resize images to WxH pixels (bilinear), e.g. 320x320 (default: to the model input's size when it is fixed)")
	f.StringVar(&p.crop, "crop", "", "then cut the WxH center, e.g. 224x224")
	f.StringVar(&p.mean, "mean", "", "per-channel mean subtracted, in pixel units 0..255: one value or one per channel, e.g. 123.675,116.28,103.53 (default 0)")
	f.StringVar(&p.std, "std", "", "per-channel divisor after the mean, in pixel units, e.g. 58.395,57.12,57.375 (default 255: values in [0,1])")
	f.StringVar(&p.layout, "layout", "", "image tensor layout: nchw or nhwc (default: from the model input's shape)")
	f.StringVar(&p.color, "color", "", "channel order: rgb, bgr or gray (default: gray for one channel, else rgb)")
}

// preprocess reads the flags into a calib.Preprocess.
func (p prepFlags) preprocess() (calib.Preprocess, error) {
	var pre calib.Preprocess
	var err error
	if pre.ResizeW, pre.ResizeH, err = parseSize("--resize", p.resize); err != nil {
		return pre, err
	}
	if pre.CropW, pre.CropH, err = parseSize("--crop", p.crop); err != nil {
		return pre, err
	}
	if p.resize != "" && p.crop != "" && (pre.CropW > pre.ResizeW || pre.CropH > pre.ResizeH) {
		return pre, fmt.Errorf("--crop %s is larger than --resize %s", p.crop, p.resize)
	}
	if pre.Mean, err = parseFloats("--mean", p.mean); err != nil {
		return pre, err
	}
	if pre.Std, err = parseFloats("--std", p.std); err != nil {
		return pre, err
	}
	for _, s := range pre.Std {
		if s <= 0 {
			return pre, fmt.Errorf("--std %s: every value must be above 0", p.std)
		}
	}
	switch strings.ToLower(p.layout) {
	case "":
	case "nchw":
		pre.Layout = calib.NCHW
	case "nhwc":
		pre.Layout = calib.NHWC
	default:
		return pre, fmt.Errorf("--layout %s: want nchw or nhwc", p.layout)
	}
	switch strings.ToLower(p.color) {
	case "":
	case "rgb":
		pre.Color = calib.RGB
	case "bgr":
		pre.Color = calib.BGR
	case "gray", "grey":
		pre.Color = calib.Gray
	default:
		return pre, fmt.Errorf("--color %s: want rgb, bgr or gray", p.color)
	}
	if n := len(pre.Mean); n > 1 && len(pre.Std) > 1 && n != len(pre.Std) {
		return pre, fmt.Errorf("--mean has %d values and --std %d; give one or one per channel to each", n, len(pre.Std))
	}
	return pre, nil
}

// maxSide bounds --resize and --crop: larger images would take more
// memory than a calibration run should.
const maxSide = 1 << 14

// parseSize reads WxH ("" is 0x0).
func parseSize(flag, v string) (w, h int, err error) {
	if v == "" {
		return 0, 0, nil
	}
	ws, hs, ok := strings.Cut(strings.ToLower(v), "x")
	w, errW := strconv.Atoi(strings.TrimSpace(ws))
	h, errH := strconv.Atoi(strings.TrimSpace(hs))
	if !ok || errW != nil || errH != nil || w <= 0 || h <= 0 || w > maxSide || h > maxSide {
		return 0, 0, fmt.Errorf("%s %q: want WIDTHxHEIGHT in pixels (1 to %d), such as 320x320", flag, v, maxSide)
	}
	return w, h, nil
}

// parseFloats reads a comma-separated list of finite numbers.
func parseFloats(flag, v string) ([]float64, error) {
	if v == "" {
		return nil, nil
	}
	var out []float64
	for _, s := range strings.Split(v, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s %q: %q is not a number; give one value or one per channel, comma-separated", flag, v, s)
		}
		out = append(out, f)
	}
	if len(out) != 1 && len(out) != 3 {
		return nil, fmt.Errorf("%s %q: give one value or three (one per channel), not %d", flag, v, len(out))
	}
	return out, nil
}

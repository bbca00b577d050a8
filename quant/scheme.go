package quant

import (
	"fmt"
	"strings"

	"github.com/qtool/qtool/onnxio"
)

// Scheme says how weights and activations are quantized.
type Scheme struct {
	// Name is the scheme's name on the command line (int8, w4a8, w4a4,
	// dfp16, dfp8), or "float" for layers left in float.
	Name string
	// Weight and Act are the element types of weights and activations.
	Weight, Act onnxio.DataType
	// PerChannel quantizes weights per output channel (symmetric, on the
	// restricted range [-qmax, qmax]); otherwise one scale per tensor.
	PerChannel bool
	// Block, when not 0, quantizes weights per block of Block elements
	// along the input-channel (K) axis, one scale per output channel and
	// block (ONNX opset 21 blocked quantization).
	Block int
	// PowerOfTwo makes every scale a power of two with zero point 0
	// (dynamic fixed point), weights and activations per tensor.
	PowerOfTwo bool
}

// Float leaves layers unquantized (for overrides and kept layers).
var Float = Scheme{Name: "float"}

// Schemes returns the scheme of a name: int8 (S8S8: int8 symmetric
// per-channel weights, int8 asymmetric per-tensor activations), w4a8
// (int4 per-channel weights, int8 activations), w4a4 (int4 weights and
// activations), dfp16 and dfp8 (dynamic fixed point: power-of-two scales,
// zero point 0, int16 or int8), float.
func SchemeByName(name string) (Scheme, error) {
	switch strings.ToLower(name) {
	case "int8", "s8s8":
		return Scheme{Name: "int8", Weight: onnxio.Int8, Act: onnxio.Int8, PerChannel: true}, nil
	case "u8s8":
		return Scheme{Name: "u8s8", Weight: onnxio.Int8, Act: onnxio.Uint8, PerChannel: true}, nil
	case "w4a8":
		return Scheme{Name: "w4a8", Weight: onnxio.Int4, Act: onnxio.Int8, PerChannel: true}, nil
	case "w4a4":
		return Scheme{Name: "w4a4", Weight: onnxio.Int4, Act: onnxio.Int4, PerChannel: true}, nil
	case "dfp16":
		return Scheme{Name: "dfp16", Weight: onnxio.Int16, Act: onnxio.Int16, PowerOfTwo: true}, nil
	case "dfp8":
		return Scheme{Name: "dfp8", Weight: onnxio.Int8, Act: onnxio.Int8, PowerOfTwo: true}, nil
	case "float", "fp32":
		return Float, nil
	}
	return Scheme{}, fmt.Errorf("quant: unknown scheme %q (want int8, u8s8, w4a8, w4a4, dfp16, dfp8 or float)", name)
}

// SchemeNames lists the schemes SchemeByName knows, for help texts.
var SchemeNames = []string{"int8", "u8s8", "w4a8", "w4a4", "dfp16", "dfp8", "float"}

// IsFloat reports whether s leaves layers in float.
func (s Scheme) IsFloat() bool { return s.Weight == 0 && s.Act == 0 }

// Precision is a short description such as "w8a8" or "w4a8/b32" or
// "dfp16" for tables.
func (s Scheme) Precision() string {
	if s.IsFloat() {
		return "fp32"
	}
	if s.PowerOfTwo {
		return fmt.Sprintf("dfp%d", onnxio.ElemBits(s.Act))
	}
	p := fmt.Sprintf("w%da%d", onnxio.ElemBits(s.Weight), onnxio.ElemBits(s.Act))
	if s.Act == onnxio.Uint8 {
		p += "u"
	}
	switch {
	case s.Block > 0:
		p += fmt.Sprintf("/b%d", s.Block)
	case !s.PerChannel:
		p += "/t"
	}
	return p
}

// Opset is the ONNX opset the scheme's QDQ nodes need: 21 for int4,
// int16 and blocked quantization, 13 for per-channel int8, 10 otherwise.
func (s Scheme) Opset() int64 {
	switch {
	case s.IsFloat():
		return 0
	case s.Block > 0, s.Weight == onnxio.Int4, s.Act == onnxio.Int4, s.Weight == onnxio.Int16, s.Act == onnxio.Int16,
		s.Weight == onnxio.Uint4, s.Act == onnxio.Uint4, s.Weight == onnxio.Uint16, s.Act == onnxio.Uint16:
		return 21
	case s.PerChannel:
		return 13
	}
	return 10
}

// Validate checks the combination.
func (s Scheme) Validate() error {
	if s.IsFloat() {
		return nil
	}
	switch s.Weight {
	case onnxio.Int8, onnxio.Int4, onnxio.Int16:
	default:
		return fmt.Errorf("quant: scheme %s: weights must be int8, int4 or int16, not %s", s.Name, onnxio.DataTypeName(s.Weight))
	}
	switch s.Act {
	case onnxio.Int8, onnxio.Uint8, onnxio.Int4, onnxio.Uint4, onnxio.Int16, onnxio.Uint16:
	default:
		return fmt.Errorf("quant: scheme %s: activations of %s are not supported", s.Name, onnxio.DataTypeName(s.Act))
	}
	if s.Block != 0 {
		if s.Block < 16 || s.Block&(s.Block-1) != 0 {
			return fmt.Errorf("quant: block size %d: want a power of two of at least 16 (32, 64, 128)", s.Block)
		}
		if s.PowerOfTwo {
			return fmt.Errorf("quant: dynamic fixed point scales are per tensor; blocks do not apply")
		}
	}
	if s.PowerOfTwo && s.PerChannel {
		return fmt.Errorf("quant: dynamic fixed point scales are per tensor; per-channel does not apply")
	}
	return nil
}

package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// tensorProto stores an engine tensor of any type the engine holds as an
// initializer (4-bit values packed).
func tensorProto(t testing.TB, name string, v *Tensor) *pb.TensorProto {
	t.Helper()
	dims := make([]int64, len(v.Shape))
	for i, d := range v.Shape {
		dims[i] = int64(d)
	}
	var tp *pb.TensorProto
	var err error
	switch v.Type {
	case onnxio.Float:
		tp, err = onnxio.NewTensor(name, v.Type, dims, v.F32)
	case onnxio.Int8, onnxio.Int4:
		tp, err = onnxio.NewTensor(name, v.Type, dims, v.I8)
	case onnxio.Uint8, onnxio.Uint4:
		tp, err = onnxio.NewTensor(name, v.Type, dims, v.U8)
	case onnxio.Int16:
		tp, err = onnxio.NewTensor(name, v.Type, dims, v.I16)
	case onnxio.Uint16:
		tp, err = onnxio.NewTensor(name, v.Type, dims, v.U16)
	case onnxio.Int32:
		tp, err = onnxio.NewTensor(name, v.Type, dims, v.I32)
	default:
		tp, err = onnxio.NewTensor(name, onnxio.Int64, dims, v.I64)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// ortTypeNames are onnxruntime-node's names of the integer outputs
// compared directly (it cannot return 4-bit tensors).
var ortTypeNames = map[onnxio.DataType]string{onnxio.Int8: "int8", onnxio.Uint8: "uint8", onnxio.Int16: "int16", onnxio.Uint16: "uint16"}

// qdqForm is one QuantizeLinear -> DequantizeLinear test model.
type qdqForm struct {
	dt     onnxio.DataType
	form   string // tensor, axis, block-last, block-mid, dtype (output_dtype, no zero point)
	xShape []int
}

func (f qdqForm) String() string {
	return fmt.Sprintf("%s/%s", onnxio.DataTypeName(f.dt), f.form)
}

// build returns the model (x -> QuantizeLinear -> [yq] -> DequantizeLinear
// -> y) and an input with NaN, ±Inf, exact ties and values beyond the
// type's range.
func (f qdqForm) build(t *testing.T, rng *rand.Rand) (*onnxio.Model, *Tensor) {
	lo, hi, _ := qLimits(f.dt)
	b := newGraph()
	b.input("x", onnxio.Float)
	if _, ok := ortTypeNames[f.dt]; ok {
		b.output("yq", f.dt)
	}
	b.output("y", onnxio.Float)
	var attrs []*pb.AttributeProto
	var sShape []int
	switch f.form {
	case "tensor", "dtype":
		sShape = []int{}
	case "axis":
		sShape = []int{f.xShape[1]}
		attrs = append(attrs, attrI("axis", 1))
	case "block-last":
		sShape = []int{f.xShape[0], f.xShape[1], (f.xShape[2] + 7) / 8}
		attrs = append(attrs, attrI("axis", -1), attrI("block_size", 8))
	case "block-mid":
		sShape = []int{f.xShape[0], (f.xShape[1] + 1) / 2, f.xShape[2]}
		attrs = append(attrs, attrI("axis", 1), attrI("block_size", 2))
	}
	scale := NewFloat32(sShape, nil)
	zp := newTensor(f.dt, sShape)
	for i := range scale.F32 {
		// Powers of two make x = (k + 0.5)·scale exact ties.
		scale.F32[i] = float32(math.Ldexp(1, rng.Intn(5)-3))
		if f.form != "dtype" {
			setAt(zp, i, float64(lo+rng.Int31n(hi-lo+1)))
		}
	}
	g := b.g
	g.Initializer = append(g.Initializer, tensorProto(t, "s", scale))
	qin := []string{"x", "s", "z"}
	if f.form == "dtype" {
		qin = qin[:2]
		b.node("QuantizeLinear", qin, []string{"yq"}, append(attrs, attrI("output_dtype", int64(f.dt)))...)
	} else {
		g.Initializer = append(g.Initializer, tensorProto(t, "z", zp))
		b.node("QuantizeLinear", qin, []string{"yq"}, attrs...)
	}
	b.node("DequantizeLinear", append([]string{"yq"}, qin[1:]...), []string{"y"}, attrs...)
	m := b.model(t, 21)
	m.Proto.IrVersion = proto.Int64(10)
	x := NewFloat32(f.xShape, nil)
	span := float64(hi-lo) * 1.3 * 2 // beyond the range at the largest scale
	for i := range x.F32 {
		switch rng.Intn(10) {
		case 0:
			specials := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1)}
			if strings.HasPrefix(f.form, "block") {
				// ONNX Runtime's blocked paths convert NaN and ±Inf to
				// int32 before saturating (undefined in C++: x86 gives
				// INT_MIN, which the zero point may wrap; seen for every
				// type along a middle axis and for int4 along the last):
				// they are left out there.
				specials = specials[:2]
			}
			x.F32[i] = float32(specials[rng.Intn(len(specials))])
		case 1, 2:
			x.F32[i] = float32((float64(rng.Intn(2*int(hi-lo)+1)-int(hi-lo)) + 0.5) * math.Ldexp(1, rng.Intn(5)-3))
		default:
			x.F32[i] = float32((rng.Float64() - 0.5) * span)
		}
	}
	return m, x
}

// TestQuantizeLinearORT runs QuantizeLinear and DequantizeLinear of every
// integer type of opset 21, per tensor, per axis and blocked (ragged last
// blocks), against ONNX Runtime: the quantized values and the dequantized
// floats must be identical.
func TestQuantizeLinearORT(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	var forms []qdqForm
	for _, dt := range []onnxio.DataType{onnxio.Int4, onnxio.Uint4, onnxio.Int8, onnxio.Uint8, onnxio.Int16, onnxio.Uint16} {
		for _, form := range []string{"tensor", "axis", "block-last", "block-mid", "dtype"} {
			forms = append(forms, qdqForm{dt: dt, form: form, xShape: []int{2, 3, 45}})
		}
	}
	dir := t.TempDir()
	var jobs []testdeps.ORTJob
	var got []map[string]*Tensor
	var xs []*Tensor
	for i, f := range forms {
		m, x := f.build(t, rng)
		xs = append(xs, x)
		got = append(got, run1(t, m, Options{}, map[string]*Tensor{"x": x}))
		path := filepath.Join(dir, fmt.Sprintf("q%d.onnx", i))
		if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, testdeps.ORTJob{Model: path, Inputs: []testdeps.ORTTensor{testdeps.ORTFloat32("x", x.Shape, x.F32)}})
	}
	for i, r := range testdeps.RunORTBatch(t, jobs) {
		f := forms[i]
		if r.Err != nil {
			t.Errorf("%v: ONNX Runtime: %v", f, r.Err)
			continue
		}
		y := r.Outputs[len(r.Outputs)-1]
		want := bytesF32(y.Data)
		for j, v := range got[i]["y"].F32 {
			if math.Float32bits(v) != math.Float32bits(want[j]) {
				t.Errorf("%v: y[%d] = %v, ONNX Runtime %v (x %v)", f, j, v, want[j], xs[i].F32[j])
				break
			}
		}
		if len(r.Outputs) < 2 {
			continue
		}
		yq := got[i]["yq"]
		for j := 0; j < yq.Len(); j++ {
			var w int64
			switch f.dt {
			case onnxio.Int8:
				w = int64(int8(r.Outputs[0].Data[j]))
			case onnxio.Uint8:
				w = int64(r.Outputs[0].Data[j])
			case onnxio.Int16:
				w = int64(int16(binary.LittleEndian.Uint16(r.Outputs[0].Data[2*j:])))
			case onnxio.Uint16:
				w = int64(binary.LittleEndian.Uint16(r.Outputs[0].Data[2*j:]))
			}
			if int64(yq.at(j)) != w {
				t.Errorf("%v: yq[%d] = %v, ONNX Runtime %d", f, j, yq.at(j), w)
				break
			}
		}
	}
}

// TestQuantizeLinearBadParams: malformed scales, zero points and
// attributes give errors naming the problem.
func TestQuantizeLinearBadParams(t *testing.T) {
	cases := []struct {
		name   string
		sShape []int
		zShape []int // nil: same as the scale
		zType  onnxio.DataType
		attrs  []*pb.AttributeProto
		want   string
	}{
		{"axis scale length", []int{4}, nil, onnxio.Int8, []*pb.AttributeProto{attrI("axis", 1)}, "want a scalar or [3]"},
		{"block count", []int{2, 3, 5}, nil, onnxio.Int8, []*pb.AttributeProto{attrI("axis", 2), attrI("block_size", 16)}, "ceil(45/16)"},
		{"block rank", []int{3}, nil, onnxio.Int8, []*pb.AttributeProto{attrI("axis", 1), attrI("block_size", 2)}, "block_size 2"},
		{"negative block", []int{}, nil, onnxio.Int8, []*pb.AttributeProto{attrI("block_size", -4)}, "block_size -4"},
		{"zero point shape", []int{3}, []int{}, onnxio.Int8, []*pb.AttributeProto{attrI("axis", 1)}, "zero point shape"},
		{"axis range", []int{3}, nil, onnxio.Int8, []*pb.AttributeProto{attrI("axis", 3)}, "axis 3 out of range"},
		{"dtype mismatch", []int{}, nil, onnxio.Int8, []*pb.AttributeProto{attrI("output_dtype", int64(onnxio.Uint8))}, "differs from the zero point's type"},
	}
	for _, c := range cases {
		b := newGraph()
		b.input("x", onnxio.Float)
		b.output("y", onnxio.Float)
		zs := c.zShape
		if zs == nil {
			zs = c.sShape
		}
		s := NewFloat32(c.sShape, nil)
		for i := range s.F32 {
			s.F32[i] = 0.5
		}
		b.g.Initializer = append(b.g.Initializer, tensorProto(t, "s", s), tensorProto(t, "z", newTensor(c.zType, zs)))
		b.node("QuantizeLinear", []string{"x", "s", "z"}, []string{"q"}, c.attrs...)
		b.node("DequantizeLinear", []string{"q", "s", "z"}, []string{"y"})
		m := &onnxio.Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(10), Graph: b.g,
			OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(21)}}}}
		s2, err := Compile(m, Options{})
		if err == nil {
			_, err = s2.Run(map[string]*Tensor{"x": NewFloat32([]int{2, 3, 45}, nil)})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

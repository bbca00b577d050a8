package onnxio

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/internal/testdeps"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// roundTrip encodes v as dt, decodes it back and checks it is unchanged,
// both through raw_data and through the typed field the schema assigns.
func roundTrip[T Elem](t *testing.T, dt DataType, dims []int64, v []T, typed func(*pb.TensorProto)) {
	t.Helper()
	tp, err := NewTensor("x", dt, dims, v)
	if err != nil {
		t.Fatalf("%s: %v", DataTypeName(dt), err)
	}
	got, err := Decode[T](nil, tp)
	if err != nil {
		t.Fatalf("%s: %v", DataTypeName(dt), err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Errorf("%s raw: got %v, want %v", DataTypeName(dt), got, v)
	}
	if typed == nil {
		return
	}
	tt := &pb.TensorProto{Name: proto.String("x"), DataType: proto.Int32(int32(dt)), Dims: dims}
	typed(tt)
	got, err = Decode[T](nil, tt)
	if err != nil {
		t.Fatalf("%s typed: %v", DataTypeName(dt), err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Errorf("%s typed: got %v, want %v", DataTypeName(dt), got, v)
	}
	rawBytes, _ := (*Model)(nil).TensorBytes(tp)
	typedBytes, err := (*Model)(nil).TensorBytes(tt)
	if err != nil || !reflect.DeepEqual(rawBytes, typedBytes) {
		t.Errorf("%s: TensorBytes of typed field %v differs from raw %v (%v)", DataTypeName(dt), typedBytes, rawBytes, err)
	}
}

func TestTypedRoundTrip(t *testing.T) {
	roundTrip(t, Float, []int64{2, 2}, []float32{1.5, -2, float32(math.Inf(1)), 0},
		func(tp *pb.TensorProto) { tp.FloatData = []float32{1.5, -2, float32(math.Inf(1)), 0} })
	roundTrip(t, Double, []int64{3}, []float64{1e300, -1, 0.1},
		func(tp *pb.TensorProto) { tp.DoubleData = []float64{1e300, -1, 0.1} })
	roundTrip(t, Float16, []int64{2}, []F16{0x3C00, 0xFBFF},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{0x3C00, 0xFBFF} })
	roundTrip(t, BFloat16, []int64{2}, []BF16{0x3F80, 0xC000},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{0x3F80, 0xC000} })
	roundTrip(t, Int8, []int64{3}, []int8{-128, 0, 127},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{-128, 0, 127} })
	roundTrip(t, Uint8, []int64{3}, []uint8{0, 1, 255},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{0, 1, 255} })
	roundTrip(t, Int16, []int64{2}, []int16{-32768, 32767},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{-32768, 32767} })
	roundTrip(t, Uint16, []int64{2}, []uint16{0, 65535},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{0, 65535} })
	roundTrip(t, Int32, []int64{2}, []int32{math.MinInt32, math.MaxInt32},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{math.MinInt32, math.MaxInt32} })
	roundTrip(t, Uint32, []int64{2}, []uint32{0, math.MaxUint32},
		func(tp *pb.TensorProto) { tp.Uint64Data = []uint64{0, math.MaxUint32} })
	roundTrip(t, Int64, []int64{2}, []int64{math.MinInt64, 7},
		func(tp *pb.TensorProto) { tp.Int64Data = []int64{math.MinInt64, 7} })
	roundTrip(t, Uint64, []int64{1}, []uint64{math.MaxUint64},
		func(tp *pb.TensorProto) { tp.Uint64Data = []uint64{math.MaxUint64} })
	roundTrip(t, Bool, []int64{3}, []bool{true, false, true},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{1, 0, 1} })
	// 4-bit: element 2i in the low nibble; an odd count leaves the last
	// high nibble zero. In int32_data each entry holds one packed byte.
	roundTrip(t, Int4, []int64{5}, []int8{-8, 7, -1, 0, 3},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{0x78, 0x0F, 0x03} })
	roundTrip(t, Uint4, []int64{3}, []uint8{15, 0, 9},
		func(tp *pb.TensorProto) { tp.Int32Data = []int32{0x0F, 0x09} })
	roundTrip(t, Float, []int64{0, 4}, []float32{}, nil)
	roundTrip(t, Int8, nil, []int8{-5}, nil) // a scalar
}

func TestInt4Packing(t *testing.T) {
	tp, err := NewTensor("w", Int4, []int64{3}, []int8{1, -2, 5})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xE1, 0x05}; !reflect.DeepEqual(tp.RawData, want) {
		t.Errorf("packed %x, want %x (element 2i in the low nibble)", tp.RawData, want)
	}
	if _, err := NewTensor("w", Int4, []int64{1}, []int8{8}); err == nil {
		t.Error("int4 value 8 accepted")
	}
	if _, err := NewTensor("w", Uint4, []int64{1}, []uint8{16}); err == nil {
		t.Error("uint4 value 16 accepted")
	}
}

func TestDecodeErrors(t *testing.T) {
	f := func(mod func(*pb.TensorProto)) *pb.TensorProto {
		tp := &pb.TensorProto{Name: proto.String("bad"), DataType: proto.Int32(int32(Float)), Dims: []int64{2}, FloatData: []float32{1, 2}}
		mod(tp)
		return tp
	}
	cases := map[string]*pb.TensorProto{
		"short raw":      f(func(tp *pb.TensorProto) { tp.FloatData = nil; tp.RawData = make([]byte, 7) }),
		"long typed":     f(func(tp *pb.TensorProto) { tp.FloatData = []float32{1, 2, 3} }),
		"no data":        f(func(tp *pb.TensorProto) { tp.FloatData = nil }),
		"negative dim":   f(func(tp *pb.TensorProto) { tp.Dims = []int64{-2} }),
		"overflow":       f(func(tp *pb.TensorProto) { tp.Dims = []int64{1 << 40, 1 << 40} }),
		"unknown type":   f(func(tp *pb.TensorProto) { tp.DataType = proto.Int32(99) }),
		"external alone": f(func(tp *pb.TensorProto) { tp.DataLocation = pb.TensorProto_EXTERNAL.Enum() }),
	}
	for name, tp := range cases {
		if _, err := Decode[float32](nil, tp); err == nil {
			t.Errorf("%s: no error", name)
		} else if name != "unknown type" && !contains(err.Error(), `"bad"`) {
			t.Errorf("%s: error %q does not name the tensor", name, err)
		}
	}
	if _, err := Decode[int8](nil, f(func(*pb.TensorProto) {})); err == nil {
		t.Error("decoding a float tensor as int8 gave no error")
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

// loadPB reads a TensorProto file of the conformance data.
func loadPB(t *testing.T, path string) *pb.TensorProto {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp := new(pb.TensorProto)
	if err := proto.Unmarshal(b, tp); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tp
}

// The conformance Cast cases are an independent reference for the half
// and bfloat16 conversions.
func TestHalfAgainstConformanceCasts(t *testing.T) {
	dir := filepath.Join(testdeps.Conformance(t), "node")
	in := func(c string) []float32 {
		v, err := ToFloat32(nil, loadPB(t, filepath.Join(dir, c, "test_data_set_0", "input_0.pb")))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	out := func(c string) *pb.TensorProto {
		return loadPB(t, filepath.Join(dir, c, "test_data_set_0", "output_0.pb"))
	}

	src := in("test_cast_FLOAT_to_FLOAT16")
	want, err := Decode[F16](nil, out("test_cast_FLOAT_to_FLOAT16"))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range src {
		if got := F16From(x); got != want[i] && !(math.IsNaN(float64(x)) && got.Float32() != got.Float32()) {
			t.Errorf("F16From(%v) = %#04x, want %#04x", x, got, want[i])
		}
	}

	halves, err := Decode[F16](nil, loadPB(t, filepath.Join(dir, "test_cast_FLOAT16_to_FLOAT", "test_data_set_0", "input_0.pb")))
	if err != nil {
		t.Fatal(err)
	}
	wantF, _ := Decode[float32](nil, out("test_cast_FLOAT16_to_FLOAT"))
	for i, h := range halves {
		if got := h.Float32(); got != wantF[i] && !(got != got && wantF[i] != wantF[i]) {
			t.Errorf("F16(%#04x).Float32() = %v, want %v", h, got, wantF[i])
		}
	}

	// ONNX 1.12 stored this input as uint16 bits; read it as such.
	bits, err := Decode[uint16](nil, loadPB(t, filepath.Join(dir, "test_cast_BFLOAT16_to_FLOAT", "test_data_set_0", "input_0.pb")))
	if err != nil {
		t.Fatal(err)
	}
	bsrc := make([]BF16, len(bits))
	for i, b := range bits {
		bsrc[i] = BF16(b)
	}
	wantB, _ := Decode[float32](nil, out("test_cast_BFLOAT16_to_FLOAT"))
	for i, b := range bsrc {
		if got := b.Float32(); got != wantB[i] && !(got != got && wantB[i] != wantB[i]) {
			t.Errorf("BF16(%#04x).Float32() = %v, want %v", b, got, wantB[i])
		}
	}
}

// Every half value survives widening and narrowing, and narrowing rounds
// to nearest even: checked exhaustively against float64 arithmetic.
func TestHalfExhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := F16(i)
		f := h.Float32()
		if f != f {
			if g := F16From(f); g.Float32() == g.Float32() {
				t.Fatalf("NaN %#04x narrowed to non-NaN %#04x", i, g)
			}
			continue
		}
		if g := F16From(f); g != h {
			t.Fatalf("%#04x -> %v -> %#04x", i, f, g)
		}
		// The midpoint to the next half up rounds to the even neighbour.
		next := F16(i + 1)
		if i&0x7FFF >= 0x7BFF || i&0x8000 != 0 {
			continue
		}
		mid := float32((float64(f) + float64(next.Float32())) / 2)
		want := h
		if h&1 == 1 {
			want = next
		}
		if got := F16From(mid); got != want {
			t.Fatalf("F16From(midpoint %v of %#04x and %#04x) = %#04x, want %#04x", mid, h, next, got, want)
		}
	}
	if F16From(70000) != 0x7C00 || F16From(-70000) != 0xFC00 {
		t.Error("overflow does not give infinity")
	}
	if BF16From(1.00390625) != 0x3F80 || BF16From(1.01171875) != 0x3F82 {
		t.Error("bfloat16 rounding is not to nearest even")
	}
}

func TestToFloat32AndInt64(t *testing.T) {
	tp, _ := NewTensor("q", Int4, []int64{4}, []int8{-8, -1, 0, 7})
	f, err := ToFloat32(nil, tp)
	if err != nil || !reflect.DeepEqual(f, []float32{-8, -1, 0, 7}) {
		t.Errorf("ToFloat32(int4) = %v, %v", f, err)
	}
	tp, _ = NewTensor("s", Int32, []int64{2}, []int32{-3, 4})
	i, err := ToInt64(nil, tp)
	if err != nil || !reflect.DeepEqual(i, []int64{-3, 4}) {
		t.Errorf("ToInt64(int32) = %v, %v", i, err)
	}
	tp, _ = NewTensor("h", Float16, []int64{1}, []F16{F16From(0.5)})
	if f, _ := ToFloat32(nil, tp); f[0] != 0.5 {
		t.Errorf("ToFloat32(float16 0.5) = %v", f)
	}
	if _, err := ToInt64(nil, tp); err == nil {
		t.Error("ToInt64 of a float16 tensor gave no error")
	}
}

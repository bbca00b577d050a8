package quant

import (
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

func TestAsymmetric(t *testing.T) {
	for _, c := range []struct {
		lo, hi     float64
		qmin, qmax int32
		want       Params
	}{
		{0, 2.55, 0, 255, Params{0.01, 0}},
		{-1, 1, -128, 127, Params{float32(2.0 / 255), -1}},   // float32: -128 + 127.49999 = -0.50001 -> -1, as ONNX Runtime
		{-1.5, 1, -128, 127, Params{float32(2.5 / 255), 25}}, // -128 + 153 = 25
		{1, 3, -128, 127, Params{float32(3.0 / 255), -128}},  // widened to include 0
		{-3, -1, -128, 127, Params{float32(3.0 / 255), 127}},
		{0, 0, -128, 127, Params{1, 0}},
		{0, 0, 0, 255, Params{1, 0}},
		{-0.5, 1, -8, 7, Params{0.1, -3}}, // -8 + 5 = -3
	} {
		if got := Asymmetric(c.lo, c.hi, c.qmin, c.qmax); got != c.want {
			t.Errorf("Asymmetric(%g, %g, %d, %d) = %+v, want %+v", c.lo, c.hi, c.qmin, c.qmax, got, c.want)
		}
	}
}

func TestSymmetricAndPowerOfTwo(t *testing.T) {
	if got := Symmetric(-1.27, 127); got != (Params{0.01, 0}) {
		t.Errorf("Symmetric(1.27) = %+v", got)
	}
	if got := Symmetric(0, 127); got != (Params{1, 0}) {
		t.Errorf("Symmetric(0) = %+v", got)
	}
	for _, c := range []struct {
		amax float64
		qmax int32
		f    int
	}{
		{1, 127, 6},        // 127/64 = 1.98 >= 1; 127/128 < 1
		{1.984375, 127, 6}, // exactly 127·2^-6
		{1.99, 127, 5},
		{1, 32767, 14},
		{0.001, 32767, 24}, // 32767·2^-25 < 0.001
		{300, 127, -2},     // 127·4 = 508
	} {
		p, f := PowerOfTwo(c.amax, c.qmax)
		if f != c.f || p.Zero != 0 || p.Scale != float32(math.Ldexp(1, -c.f)) {
			t.Errorf("PowerOfTwo(%g, %d) = %+v, %d; want f=%d", c.amax, c.qmax, p, f, c.f)
		}
	}
}

// Round half to even, saturation and the zero point, as QuantizeLinear.
func TestQuantizeValue(t *testing.T) {
	p := Params{Scale: 0.5}
	for _, c := range []struct {
		x    float32
		p    Params
		lo   int32
		hi   int32
		want int32
	}{
		{0.25, p, -128, 127, 0},  // 0.5 -> 0
		{0.75, p, -128, 127, 2},  // 1.5 -> 2
		{1.25, p, -128, 127, 2},  // 2.5 -> 2
		{-0.25, p, -128, 127, 0}, // -0.5 -> -0
		{-0.75, p, -128, 127, -2},
		{100, p, -128, 127, 127},
		{-100, p, -128, 127, -128},
		{-100, p, -127, 127, -127},
		{1.25, Params{0.5, 10}, 0, 255, 12},
		{-10, Params{0.5, 10}, 0, 255, 0},
		{3.25, Params{0.5, -3}, -8, 7, 3}, // 6.5 -> 6, then -3
		{float32(math.NaN()), Params{1, 3}, 0, 255, 3},
	} {
		if got := QuantizeValue(c.x, c.p, c.lo, c.hi); got != c.want {
			t.Errorf("QuantizeValue(%g, %+v) = %d, want %d", c.x, c.p, got, c.want)
		}
	}
	if got := DequantizeValue(12, Params{0.5, 10}); got != 1 {
		t.Errorf("DequantizeValue = %g", got)
	}
}

func TestLimits(t *testing.T) {
	for _, c := range []struct {
		dt             onnxio.DataType
		lo, hi, sl, sh int32
	}{
		{onnxio.Int8, -128, 127, -127, 127},
		{onnxio.Uint8, 0, 255, 0, 255},
		{onnxio.Int4, -8, 7, -7, 7},
		{onnxio.Int16, -32768, 32767, -32767, 32767},
	} {
		lo, hi := Limits(c.dt)
		sl, sh := SymmetricLimits(c.dt)
		if lo != c.lo || hi != c.hi || sl != c.sl || sh != c.sh {
			t.Errorf("%s: %d %d %d %d", onnxio.DataTypeName(c.dt), lo, hi, sl, sh)
		}
	}
}

func TestQuantizeWeight(t *testing.T) {
	// [2, 3]: per channel along axis 0, symmetric on [-127, 127].
	w := []float32{1.27, -0.635, 0.005, -2.54, 1.27, 0.01}
	s := mustScheme(t, "int8", 0)
	q, err := QuantizeWeight(w, []int64{2, 3}, 0, 1, s)
	if err != nil {
		t.Fatal(err)
	}
	// 0.005/0.01 = 0.5 -> 0 and 0.01/0.02 = 0.5 -> 0 (ties to even).
	want := []int32{127, -64, 0, -127, 64, 0}
	for i := range want {
		if q.Q[i] != want[i] {
			t.Fatalf("per channel: %v, want %v (scales %v)", q.Q, want, q.Scale)
		}
	}
	if q.Scale[0] != 0.01 || q.Scale[1] != 0.02 || q.Axis != 0 {
		t.Errorf("scales %v axis %d", q.Scale, q.Axis)
	}
	// Blocked int4 along axis 1 with blocks of 16 on [1, 32].
	w = make([]float32, 32)
	for i := range w {
		w[i] = float32(min(i%16, 14)-7) * float32(1+i/16) // a grid that 4 bits hold exactly
	}
	s = mustScheme(t, "w4a8", 16)
	q, err = QuantizeWeight(w, []int64{1, 32}, 0, 1, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Scale) != 2 || q.ScaleDims[1] != 2 || q.Block != 16 || q.Axis != 1 {
		t.Fatalf("blocked: %+v", q)
	}
	if q.Scale[0] != 1 || q.Scale[1] != 2 || q.Q[15] != 7 || q.Q[31] != 7 || q.Q[16] != -7 {
		t.Errorf("blocked: %+v", q)
	}
	// Dynamic fixed point: one power-of-two scale.
	q, err = QuantizeWeight([]float32{0.5, -1, 0.25}, []int64{3}, 0, 0, mustScheme(t, "dfp8", 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Scale) != 1 || q.Scale[0] != 1.0/64 || q.Q[1] != -64 {
		t.Errorf("dfp8: %+v", q)
	}
}

func TestQuantizeBias(t *testing.T) {
	q, sc, ok := QuantizeBias([]float32{0.3, -0.5, 1e9}, 0.1, []float32{0.5, 2, 1})
	if ok {
		t.Errorf("1e9/0.1 fits int32? %v %v", q, sc)
	}
	q, sc, ok = QuantizeBias([]float32{0.125, -0.5}, 0.25, []float32{0.5, 2})
	if !ok || q[0] != 1 || q[1] != -1 || sc[0] != 0.125 || sc[1] != 0.5 {
		t.Errorf("bias %v %v %v", q, sc, ok)
	}
	q, _, _ = QuantizeBias([]float32{0.0625}, 0.25, []float32{0.5}) // 0.5 -> 0
	if q[0] != 0 {
		t.Errorf("tie: %d", q[0])
	}
}

// 4-bit ranges are clipped where that lowers the squared error: one
// outlier among small weights.
func TestClipSearch(t *testing.T) {
	w := []float32{10, 1, -1, 0.5, 1.5, -1.2, 0.8, -0.3, 1, -1, 0.5, 1.5, -1.2, 0.8, -0.3, 0.1}
	q, err := QuantizeWeight(w, []int64{1, 16}, 0, 1, mustScheme(t, "w4a8", 16))
	if err != nil {
		t.Fatal(err)
	}
	if q.Scale[0] >= float32(10.0/7) || q.Scale[0] < float32(5.0/7) {
		t.Errorf("scale %g, want a clipped one", q.Scale[0])
	}
	q8, _ := QuantizeWeight(w, []int64{1, 16}, 0, 1, mustScheme(t, "int8", 0))
	if q8.Scale[0] != float32(10.0/127) {
		t.Errorf("int8 scale %g, want amax/127", q8.Scale[0])
	}
}

// Bias correction adds Σ (w - ŵ)·E[x] per output channel.
func TestBiasCorrection(t *testing.T) {
	w := []float32{0.3, 1, 0.5, -1}
	s := mustScheme(t, "w4a8", 0)
	gemm := &pb.NodeProto{OpType: proto.String("Gemm"), Attribute: []*pb.AttributeProto{{Name: proto.String("transB"), I: proto.Int64(1)}}}
	q, err := QuantizeWeight(w, []int64{2, 2}, 0, 1, s)
	if err != nil {
		t.Fatal(err)
	}
	// 0.3/(1/7) = 2.1 -> 2, ŵ = 2/7; 0.5/float32(1/7) = 3.4999998 -> 3, ŵ = 3/7.
	c := biasCorrection(gemm, w, q, []int64{2, 2}, 0, []float64{2, 5})
	want := []float64{(0.3 - float64(float32(2)*float32(1.0/7))) * 2, (0.5 - float64(float32(3)*float32(1.0/7))) * 2}
	for i := range want {
		if math.Abs(c[i]-want[i]) > 1e-6 {
			t.Errorf("correction %v, want %v", c, want)
		}
	}
	// A depthwise Conv reads one input channel per output channel.
	conv := &pb.NodeProto{OpType: proto.String("Conv"), Attribute: []*pb.AttributeProto{{Name: proto.String("group"), I: proto.Int64(2)}}}
	cw := []float32{0.3, 1, 0.5, -1} // [2, 1, 1, 2]
	q, _ = QuantizeWeight(cw, []int64{2, 1, 1, 2}, 0, 1, s)
	c = biasCorrection(conv, cw, q, []int64{2, 1, 1, 2}, 0, []float64{2, 5})
	if math.Abs(c[0]-want[0]) > 1e-6 || math.Abs(c[1]-(0.5-float64(float32(3)*float32(1.0/7)))*5) > 1e-6 {
		t.Errorf("depthwise correction %v", c)
	}
}

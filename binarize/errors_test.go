package binarize

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// A source of n random items for the builder's input.
type randomSource struct {
	b     *builder
	items []*engine.Tensor
}

func newRandomSource(b *builder, n int) *randomSource {
	s := &randomSource{b: b}
	per := 1
	for _, d := range b.shape[1:] {
		per *= int(d)
	}
	for range n {
		s.items = append(s.items, engine.NewFloat32(toInts(b.shape[1:]), b.randn(per, 1)))
	}
	return s
}

func (s *randomSource) Len() int          { return len(s.items) }
func (s *randomSource) Name(i int) string { return "item" }
func (s *randomSource) Item(i int) (calib.Item, error) {
	return calib.Item{Inputs: map[string]*engine.Tensor{"x": s.items[i]}, Label: -1}, nil
}

// Three float convolutions, the middle one's weight computed (Abs of a
// constant), then a Gemm-free head: binarizing it by name is an error
// naming it; by default it is skipped with the reason.
func TestBinarizeBadLayers(t *testing.T) {
	b := newBuilder(t, 5, 1, 4, 6, 6)
	conv := func(x string, w string) string { return b.node("Conv", []string{x, w}, ints("pads", 1, 1, 1, 1)) }
	y := conv("x", b.init([]int64{8, 4, 3, 3}, b.randn(288, 0.3)))
	y = b.node("Relu", []string{y})
	mid := conv(y, b.node("Abs", []string{b.init([]int64{8, 8, 3, 3}, b.randn(576, 0.3))}))
	y = conv(b.node("Relu", []string{mid}), b.init([]int64{8, 8, 3, 3}, b.randn(576, 0.3)))
	y = conv(b.node("Relu", []string{y}), b.init([]int64{4, 8, 3, 3}, b.randn(288, 0.3)))
	m := b.model(y)
	src := newRandomSource(b, 8)
	midName := b.g.Node[3].GetName()
	for _, c := range []struct {
		layers []string
		rest   string
		want   string
	}{
		{[]string{"/no/such/Conv"}, "fp32", `no node named "/no/such/Conv"`},
		{[]string{b.g.Node[1].GetName()}, "fp32", "is a Relu; qtool binarizes Conv and Gemm"},
		{[]string{midName}, "fp32", midName + `" cannot be binarized: its weight`},
		{nil, "int4", `rest "int4": want int8 or fp32`},
	} {
		_, err := Binarize(m, src, quietOpts(c.rest, ""))
		if c.layers != nil {
			o := quietOpts(c.rest, "")
			o.Layers = c.layers
			_, err = Binarize(m, src, o)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("layers %v rest %s: error %v, want one containing %q", c.layers, c.rest, err, c.want)
		}
	}
	res, err := Binarize(m, src, quietOpts("fp32", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Binary) != 1 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], midName) {
		t.Errorf("binary %v, skipped %v: want the third Conv binary and %s skipped", res.Binary, res.Skipped, midName)
	}
}

// A trained binary network takes no --layers: its binary layers are the
// trained ones.
func TestBinarizeTrainedWithLayers(t *testing.T) {
	b := newBuilder(t, 6, 1, 8, 5, 5)
	first := b.node("Conv", []string{"x", b.init([]int64{8, 8, 1, 1}, b.randn(64, 0.3))})
	y := b.conv(b.node("Sign", []string{first}), 8, 8, 1, true, true)
	m := b.model(b.node("Conv", []string{y, b.init([]int64{3, 8, 1, 1}, b.randn(24, 0.3))}))
	o := quietOpts("fp32", "")
	o.Layers = []string{first}
	if _, err := Binarize(m, newRandomSource(b, 4), o); err == nil || !strings.Contains(err.Error(), "holds trained binary layers") {
		t.Errorf("error %v", err)
	}
	res, err := Binarize(m, newRandomSource(b, 4), quietOpts("int8", ""))
	if err != nil {
		t.Fatal(err)
	}
	var prec []string
	for _, l := range res.Layers {
		prec = append(prec, l.Precision)
	}
	if !res.Trained || strings.Join(prec, " ") != "w8a8 binary w8a8" {
		t.Errorf("trained %v, precisions %v", res.Trained, prec)
	}
}

// A Bi-Real-style network (a float stem Conv-BN, MaxPool, blocks
// Sub(x, t) -> Sign -> Conv(±a) -> BN -> Add(x), a float Gemm head): with
// --rest fp32 the binary model's output equals the float model's up to
// float rounding; with int8 the stem and head are int8 QDQ and the
// blocks stay binary.
func TestBinarizeBiReal(t *testing.T) {
	b := newBuilder(t, 8, 4, 3, 8, 8)
	y := b.bn(b.node("Conv", []string{"x", b.init([]int64{64, 3, 3, 3}, b.randn(64*27, 0.3))}, ints("pads", 1, 1, 1, 1)), 64)
	y = b.node("MaxPool", []string{y}, ints("kernel_shape", 2, 2), ints("strides", 2, 2))
	for range 2 {
		s := b.node("Sign", []string{b.node("Sub", []string{y, b.perChannel(64, 4, b.randn(64, 0.3))})})
		y = b.node("Add", []string{b.bn(b.conv(s, 64, 64, 1, false, true), 64), y})
	}
	y = b.node("Flatten", []string{y})
	m := b.model(b.node("Gemm", []string{y, b.init([]int64{10, 1024}, b.randn(10240, 0.05))},
		&pb.AttributeProto{Name: proto.String("transB"), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(1)}))
	src := newRandomSource(b, 16)
	x := engine.NewFloat32([]int{4, 3, 8, 8}, b.randn(4*3*64, 1))
	want := run(t, m, x)
	for _, rest := range []string{"fp32", "int8"} {
		res, err := Binarize(m, src, quietOpts(rest, ""))
		if err != nil {
			t.Fatal(err)
		}
		var prec []string
		for _, l := range res.Layers {
			prec = append(prec, l.Precision)
		}
		edge := map[string]string{"fp32": "fp32", "int8": "w8a8"}[rest]
		if !res.Trained || strings.Join(prec, " ") != edge+" binary binary "+edge {
			t.Errorf("rest %s: trained %v, precisions %v", rest, res.Trained, prec)
		}
		got := run(t, res.Model, x)
		if rest == "fp32" {
			closeOutputs(t, "rest fp32", want, got)
			continue
		}
		agree := 0
		for i := range 4 {
			if argmax(want.F32[i*10:i*10+10]) == argmax(got.F32[i*10:i*10+10]) {
				agree++
			}
		}
		t.Logf("rest int8: %d of 4 top-1 agree", agree)
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

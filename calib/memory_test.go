package calib

import (
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// tinyModel is y = Relu(x), z = Sigmoid(y), x float32 [N, 1024], or
// [batch, 1024] for batch > 0.
func tinyModel(t testing.TB, batch int64) *engine.Session {
	first := &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
	if batch > 0 {
		first = &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: batch}}
	}
	vi := func(name string) *pb.ValueInfoProto {
		return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
			TensorType: &pb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxio.Float)), Shape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{
				first,
				{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: 1024}},
			}}}}}}
	}
	g := &pb.GraphProto{Name: proto.String("tiny"), Input: []*pb.ValueInfoProto{vi("x")}, Output: []*pb.ValueInfoProto{vi("z")},
		Node: []*pb.NodeProto{
			{OpType: proto.String("Relu"), Input: []string{"x"}, Output: []string{"y"}},
			{OpType: proto.String("Sigmoid"), Input: []string{"y"}, Output: []string{"z"}},
		}}
	m := &onnxio.Model{Proto: &pb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}}
	s, err := NewSession(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// genSource makes its items on the fly, holding no data.
type genSource struct{ n int }

func (g genSource) Len() int          { return g.n }
func (g genSource) Name(i int) string { return "gen" }
func (g genSource) Item(i int) (Item, error) {
	x := make([]float32, 1024)
	for k := range x {
		x[k] = float32((i*7+k*13)%1000)/100 - 3
	}
	return Item{Inputs: map[string]*engine.Tensor{"x": engine.NewFloat32([]int{1024}, x)}, Label: -1}, nil
}

// heapProbe wraps a method: its observers of "x" record the live heap
// after the 50th and the 1000th batch.
type heapProbe struct {
	Method
	at50, at1000 *uint64
}

func (p heapProbe) NewObserver() Observer {
	return &probeObserver{Observer: p.Method.NewObserver(), p: p}
}

type probeObserver struct {
	Observer
	p heapProbe
	n int
}

func (o *probeObserver) Observe(t *engine.Tensor) {
	o.Observer.Observe(t)
	o.n++
	if o.n == 50 || o.n == 1000 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if o.n == 50 {
			*o.p.at50 = ms.HeapAlloc
		} else {
			*o.p.at1000 = ms.HeapAlloc
		}
	}
}

// Calibrate keeps nothing per batch: between the 50th and the 1000th
// batch (15 MB of inputs, as much again of activations) the live heap
// grows by less than 2 MB, for every method.
func TestCalibrateBoundedMemory(t *testing.T) {
	s := tinyModel(t, 0)
	for _, m := range []Method{MinMax{}, Percentile{}, Entropy{}, MSE{}} {
		var a, b uint64
		res, err := Calibrate(s, genSource{4000}, []string{"x", "y", "z"}, heapProbe{m, &a, &b}, Config{BatchSize: 4, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Batches != 1000 || a == 0 || b == 0 {
			t.Fatalf("%v: %d batches, probes %d %d", m, res.Batches, a, b)
		}
		if b > a && b-a > 2<<20 {
			t.Errorf("%v: live heap grew by %d bytes from batch 50 to 1000", m, b-a)
		}
		if r := res.Tensors["y"].Range; r.Min > 0.01 || r.Max <= 0 {
			t.Errorf("%v: Relu range %v", m, r)
		}
	}
}

// A model with a fixed batch size gets full batches; the rest is
// dropped and counted.
func TestCalibrateFixedBatch(t *testing.T) {
	s := tinyModel(t, 4)
	res, err := Calibrate(s, genSource{10}, []string{"y"}, MinMax{}, Config{BatchSize: 3})
	if err != nil || res.Batches != 2 || res.Items != 8 || res.Dropped != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := Calibrate(s, genSource{3}, nil, MinMax{}, Config{}); err == nil || !strings.Contains(err.Error(), "batches of 4") {
		t.Errorf("too few items: %v", err)
	}
}

package onnxio

import (
	"container/heap"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Index maps each value of a graph to the node that produces it and the
// nodes that consume it, by position in g.Node. Build it again after
// changing the graph.
type Index struct {
	Producer  map[string]int   // value -> index of its producing node
	Consumers map[string][]int // value -> indices of nodes reading it, in graph order
}

// NewIndex indexes g's nodes. Values that are graph inputs or
// initializers have no producer entry.
func NewIndex(g *pb.GraphProto) *Index {
	ix := &Index{Producer: map[string]int{}, Consumers: map[string][]int{}}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				ix.Producer[o] = i
			}
		}
		for _, in := range n.GetInput() {
			if in != "" {
				c := ix.Consumers[in]
				if len(c) == 0 || c[len(c)-1] != i { // a node reading x twice counts once
					ix.Consumers[in] = append(c, i)
				}
			}
		}
		// Subgraphs may read values of this graph by name.
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				for name := range outerReads(sg) {
					c := ix.Consumers[name]
					if len(c) == 0 || c[len(c)-1] != i {
						ix.Consumers[name] = append(c, i)
					}
				}
			}
		}
	}
	return ix
}

// outerReads lists the names a subgraph reads that it does not define.
func outerReads(g *pb.GraphProto) map[string]bool {
	defined := map[string]bool{}
	for _, t := range g.GetInitializer() {
		defined[t.GetName()] = true
	}
	for _, vi := range g.GetInput() {
		defined[vi.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			defined[o] = true
		}
	}
	reads := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" && !defined[in] {
				reads[in] = true
			}
		}
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				for name := range outerReads(sg) {
					if !defined[name] {
						reads[name] = true
					}
				}
			}
		}
	}
	return reads
}

// TopoSort returns g's nodes in an order where every node comes after the
// producers of its inputs, keeping the file's order where it already
// satisfies that. A cycle is an error naming the nodes on it.
func TopoSort(g *pb.GraphProto) ([]*pb.NodeProto, error) {
	nodes := g.GetNode()
	ix := NewIndex(g)
	indeg := make([]int, len(nodes))
	for i, n := range nodes {
		seen := map[int]bool{}
		deps := append([]string{}, n.GetInput()...)
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				for name := range outerReads(sg) {
					deps = append(deps, name)
				}
			}
		}
		for _, in := range deps {
			if p, ok := ix.Producer[in]; ok && !seen[p] {
				seen[p] = true
				indeg[i]++
			}
		}
	}
	// Kahn's algorithm, always taking the ready node that comes first in
	// the file, so the order is deterministic and keeps the file's order
	// where it can.
	order := make([]*pb.NodeProto, 0, len(nodes))
	done := make([]bool, len(nodes))
	ready := &intHeap{}
	for i := range nodes {
		if indeg[i] == 0 {
			heap.Push(ready, i)
		}
	}
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		done[i] = true
		order = append(order, nodes[i])
		released := map[int]bool{}
		for _, o := range nodes[i].GetOutput() {
			if o == "" {
				continue
			}
			for _, c := range ix.Consumers[o] {
				if !released[c] {
					released[c] = true
					indeg[c]--
					if indeg[c] == 0 {
						heap.Push(ready, c)
					}
				}
			}
		}
	}
	if len(order) != len(nodes) {
		var stuck []string
		for i, n := range nodes {
			if !done[i] {
				stuck = append(stuck, NodeLabel(n, i))
				if len(stuck) == 8 {
					stuck = append(stuck, "...")
					break
				}
			}
		}
		return nil, fmt.Errorf("graph has a cycle through nodes %s", strings.Join(stuck, ", "))
	}
	return order, nil
}

// intHeap is a min-heap of node indices.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Namer hands out names that no value, node or initializer of a model uses.
type Namer struct {
	used map[string]bool
	next map[string]int
}

// NewNamer collects every name in g and its subgraphs.
func NewNamer(g *pb.GraphProto) *Namer {
	n := &Namer{used: map[string]bool{}, next: map[string]int{}}
	n.collect(g)
	return n
}

func (nm *Namer) collect(g *pb.GraphProto) {
	for _, t := range g.GetInitializer() {
		nm.used[t.GetName()] = true
	}
	for _, st := range g.GetSparseInitializer() {
		nm.used[st.GetValues().GetName()] = true
		nm.used[st.GetIndices().GetName()] = true
	}
	for _, vi := range g.GetInput() {
		nm.used[vi.GetName()] = true
	}
	for _, vi := range g.GetOutput() {
		nm.used[vi.GetName()] = true
	}
	for _, vi := range g.GetValueInfo() {
		nm.used[vi.GetName()] = true
	}
	for _, n := range g.GetNode() {
		nm.used[n.GetName()] = true
		for _, s := range n.GetInput() {
			nm.used[s] = true
		}
		for _, s := range n.GetOutput() {
			nm.used[s] = true
		}
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				nm.collect(sg)
			}
		}
	}
}

// Fresh returns an unused name starting with prefix and marks it used.
func (nm *Namer) Fresh(prefix string) string {
	if !nm.used[prefix] {
		nm.used[prefix] = true
		return prefix
	}
	for {
		nm.next[prefix]++
		s := prefix + "_" + strconv.Itoa(nm.next[prefix])
		if !nm.used[s] {
			nm.used[s] = true
			return s
		}
	}
}

// ConstantsToInitializers turns every Constant node of the main graph into
// an initializer of the same name, so weights held in Constant nodes (as
// older exporters write them) look like any other weight. Constants with
// a sparse value stay nodes. It returns how many nodes it replaced.
func (m *Model) ConstantsToInitializers() (int, error) {
	g := m.Graph()
	kept := g.Node[:0:0]
	var inits []*pb.TensorProto
	for i, n := range g.GetNode() {
		if n.GetOpType() != "Constant" || (n.GetDomain() != "" && n.GetDomain() != "ai.onnx") || len(n.GetOutput()) != 1 {
			kept = append(kept, n)
			continue
		}
		t, err := ConstantValue(n)
		if err != nil {
			return 0, fmt.Errorf("node %s: %w", NodeLabel(n, i), err)
		}
		if t == nil {
			kept = append(kept, n)
			continue
		}
		inits = append(inits, t)
	}
	g.Node = kept
	g.Initializer = append(g.Initializer, inits...)
	// Before IR 4 every initializer had to be listed as a graph input too.
	if m.Proto.GetIrVersion() < 4 {
		for _, t := range inits {
			g.Input = append(g.Input, &pb.ValueInfoProto{Name: t.Name, Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
				TensorType: &pb.TypeProto_Tensor{ElemType: t.DataType, Shape: shapeProto(t.GetDims())}}}})
		}
	}
	return len(inits), nil
}

// ConstantValue returns the value of a Constant node as a tensor named
// after the node's output, or nil for a sparse value. The node is left
// unchanged.
func ConstantValue(n *pb.NodeProto) (*pb.TensorProto, error) {
	if len(n.GetAttribute()) != 1 {
		return nil, fmt.Errorf("Constant needs exactly one value attribute, has %d", len(n.GetAttribute()))
	}
	if len(n.GetOutput()) != 1 {
		return nil, fmt.Errorf("Constant needs exactly one output, has %d", len(n.GetOutput()))
	}
	a := n.GetAttribute()[0]
	name := n.GetOutput()[0]
	var t *pb.TensorProto
	var err error
	switch a.GetName() {
	case "value":
		if a.GetT() == nil {
			return nil, fmt.Errorf("Constant attribute value holds no tensor")
		}
		t = proto.Clone(a.GetT()).(*pb.TensorProto)
		t.Name = proto.String(name)
	case "sparse_value":
		return nil, nil
	case "value_float":
		t, err = NewTensor(name, Float, nil, []float32{a.GetF()})
	case "value_floats":
		t, err = NewTensor(name, Float, []int64{int64(len(a.GetFloats()))}, a.GetFloats())
	case "value_int":
		t, err = NewTensor(name, Int64, nil, []int64{a.GetI()})
	case "value_ints":
		t, err = NewTensor(name, Int64, []int64{int64(len(a.GetInts()))}, a.GetInts())
	case "value_string":
		t = &pb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(String)), StringData: [][]byte{a.GetS()}}
	case "value_strings":
		t = &pb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(String)),
			Dims: []int64{int64(len(a.GetStrings()))}, StringData: a.GetStrings()}
	default:
		return nil, fmt.Errorf("Constant has unknown attribute %q", a.GetName())
	}
	return t, err
}

func shapeProto(dims []int64) *pb.TensorShapeProto {
	s := &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{}}
	for _, d := range dims {
		s.Dim = append(s.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return s
}

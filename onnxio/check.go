package onnxio

import (
	"errors"
	"fmt"

	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Check verifies what the rest of qtool relies on, so that later stages
// never meet a malformed model: the model has a graph; every tensor has a
// known type, a sane shape and as much data as its shape needs (external
// data: a safe path and a byte range inside its file); every node input is
// produced somewhere; no value has two producers; the graph has no cycle.
// Subgraphs of control-flow nodes and function bodies are checked too.
func (m *Model) Check() error {
	if m.Proto.GetGraph() == nil {
		return errors.New("model has no graph (is this an ONNX model?)")
	}
	for _, f := range m.Proto.GetFunctions() {
		for _, n := range f.GetNode() {
			if err := m.checkNodeTensors(n); err != nil {
				return fmt.Errorf("function %q: %w", f.GetName(), err)
			}
		}
	}
	return m.checkGraph(m.Proto.GetGraph(), nil)
}

func (m *Model) checkGraph(g *pb.GraphProto, outer map[string]bool) error {
	defined := make(map[string]bool, len(outer)+len(g.GetInitializer())+len(g.GetNode()))
	for k := range outer {
		defined[k] = true
	}
	for _, t := range g.GetInitializer() {
		if err := m.CheckTensor(t); err != nil {
			return fmt.Errorf("initializer: %w", err)
		}
		defined[t.GetName()] = true
	}
	for _, st := range g.GetSparseInitializer() {
		for _, t := range []*pb.TensorProto{st.GetValues(), st.GetIndices()} {
			if t != nil {
				if err := m.CheckTensor(t); err != nil {
					return fmt.Errorf("sparse initializer: %w", err)
				}
			}
		}
		defined[st.GetValues().GetName()] = true
	}
	for _, vi := range g.GetInput() {
		defined[vi.GetName()] = true
	}
	producer := make(map[string]string, len(g.GetNode()))
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if defined[o] && !outer[o] {
				if _, dup := producer[o]; !dup {
					return fmt.Errorf("node %s: output %q has the name of a graph input or initializer", NodeLabel(n, i), o)
				}
			}
			if p, dup := producer[o]; dup {
				return fmt.Errorf("value %q is produced by two nodes, %s and %s", o, p, NodeLabel(n, i))
			}
			producer[o] = NodeLabel(n, i)
			defined[o] = true
		}
	}
	for i, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" && !defined[in] {
				return fmt.Errorf("node %s: input %q is not a graph input, an initializer or any node's output", NodeLabel(n, i), in)
			}
		}
		if err := m.checkNodeTensors(n); err != nil {
			return fmt.Errorf("node %s: %w", NodeLabel(n, i), err)
		}
		for _, a := range n.GetAttribute() {
			for _, sg := range subgraphs(a) {
				if err := m.checkGraph(sg, defined); err != nil {
					return fmt.Errorf("node %s, subgraph %q: %w", NodeLabel(n, i), a.GetName(), err)
				}
			}
		}
	}
	for _, o := range g.GetOutput() {
		if !defined[o.GetName()] {
			return fmt.Errorf("graph output %q is not produced by any node, input or initializer", o.GetName())
		}
	}
	if _, err := TopoSort(g); err != nil {
		return err
	}
	return nil
}

func subgraphs(a *pb.AttributeProto) []*pb.GraphProto {
	var gs []*pb.GraphProto
	if a.GetG() != nil {
		gs = append(gs, a.GetG())
	}
	return append(gs, a.GetGraphs()...)
}

// checkNodeTensors checks tensors held in a node's attributes (Constant
// values, ConstantOfShape's value and the like).
func (m *Model) checkNodeTensors(n *pb.NodeProto) error {
	for _, a := range n.GetAttribute() {
		ts := a.GetTensors()
		if a.GetT() != nil {
			ts = append([]*pb.TensorProto{a.GetT()}, ts...)
		}
		for _, t := range ts {
			if err := m.CheckTensor(t); err != nil {
				return fmt.Errorf("attribute %q: %w", a.GetName(), err)
			}
		}
	}
	return nil
}

// CheckTensor verifies one tensor without reading external data: known
// type, shape whose size fits, and stored data matching the shape.
func (m *Model) CheckTensor(t *pb.TensorProto) error {
	dt := DataType(t.GetDataType())
	if !KnownDataType(dt) {
		return fmt.Errorf("tensor %q: unknown data type %d; this qtool knows ONNX types up to INT2=26", t.GetName(), t.GetDataType())
	}
	n, err := NumElements(t.GetDims())
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	want := ByteSize(dt, n)
	switch {
	case IsExternal(t):
		if dt == pb.TensorProto_STRING {
			return fmt.Errorf("tensor %q: string tensors cannot use external data", t.GetName())
		}
		if _, _, err := m.checkExternal(t, want); err != nil {
			return err
		}
	case t.RawData != nil:
		if dt == pb.TensorProto_STRING {
			return fmt.Errorf("tensor %q: string tensors cannot use raw_data", t.GetName())
		}
		if int64(len(t.RawData)) != want {
			return fmt.Errorf("tensor %q: raw_data holds %d bytes but shape %v of %s needs %d", t.GetName(), len(t.RawData), t.GetDims(), DataTypeName(dt), want)
		}
	default:
		field, have, need := typedField(t, dt, n, want)
		if have != need {
			return fmt.Errorf("tensor %q: %s holds %d values but shape %v of %s needs %d", t.GetName(), field, have, t.GetDims(), DataTypeName(dt), need)
		}
	}
	return nil
}

// NodeLabel names a node for messages: its name and op type, or its index
// when it has no name.
func NodeLabel(n *pb.NodeProto, index int) string {
	if n.GetName() != "" {
		return fmt.Sprintf("%q (%s)", n.GetName(), n.GetOpType())
	}
	return fmt.Sprintf("#%d (%s)", index, n.GetOpType())
}

package onnxio

import (
	pb "github.com/qtool/qtool/onnxio/onnxpb"
)

// Element types and ranks for the conversions that need them (Clip's and
// Pad's new inputs take the data's type; Softmax keeps a single node when
// the axis is known to be the last). Types come from declarations (graph
// inputs and outputs, value_info, initializers, Constant nodes) and are
// carried forward through the nodes by the rules below; ranks come from
// declarations only.

// inferTypes fills s.elem for the values of s's graph.
func (u *upgrader) inferTypes(s *scope) {
	nodes, err := TopoSort(s.g)
	if err != nil {
		nodes = s.g.GetNode()
	}
	for _, n := range nodes {
		if !isDefaultDomain(n) {
			continue
		}
		in := func(i int) DataType {
			if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
				return 0
			}
			return s.elemType(n.GetInput()[i])
		}
		for i, t := range outTypes(n, in) {
			if i < len(n.GetOutput()) && n.GetOutput()[i] != "" && t != 0 {
				if _, ok := s.elem[n.GetOutput()[i]]; !ok {
					s.elem[n.GetOutput()[i]] = t
				}
			}
		}
	}
}

// elemType is the element type of value name as seen from s, or 0.
func (s *scope) elemType(name string) DataType {
	for sc := s; sc != nil; sc = sc.parent {
		if tt, ok := sc.declared[name]; ok && tt.GetElemType() != 0 {
			return DataType(tt.GetElemType())
		}
		if t, ok := sc.consts[name]; ok {
			return DataType(t.GetDataType())
		}
		if t, ok := sc.elem[name]; ok {
			return t
		}
	}
	return 0
}

// rank is the declared rank of value name, if any.
func (s *scope) rank(name string) (int, bool) {
	for sc := s; sc != nil; sc = sc.parent {
		if tt, ok := sc.declared[name]; ok && tt.GetShape() != nil {
			return len(tt.GetShape().GetDim()), true
		}
		if t, ok := sc.consts[name]; ok {
			return len(t.GetDims()), true
		}
	}
	return 0, false
}

// constant is the value of name when an initializer or a Constant node
// defines it, seen from s.
func (s *scope) constant(name string) *pb.TensorProto {
	for sc := s; sc != nil; sc = sc.parent {
		if t, ok := sc.consts[name]; ok {
			return t
		}
		if _, ok := sc.declared[name]; ok {
			return nil // a graph input or value shadows outer constants
		}
	}
	return nil
}

func attrInt(n *pb.NodeProto, name string, def int64) int64 {
	if a := findAttr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

// outTypes gives the element types of n's outputs (0 where unknown) from
// those of its inputs.
func outTypes(n *pb.NodeProto, in func(int) DataType) []DataType {
	all := func(t DataType) []DataType {
		out := make([]DataType, len(n.GetOutput()))
		for i := range out {
			out[i] = t
		}
		return out
	}
	switch n.GetOpType() {
	case "Constant":
		if t := constantTensor(n); t != nil {
			return []DataType{DataType(t.GetDataType())}
		}
		return nil
	case "Cast":
		return []DataType{DataType(attrInt(n, "to", 0))}
	case "CastLike":
		return []DataType{in(1)}
	case "Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression":
		return all(Int64)
	case "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "Xor",
		"IsNaN", "IsInf", "RegexFullMatch", "OptionalHasElement":
		return all(Bool)
	case "StringNormalizer", "StringConcat", "StringSplit":
		return all(String)
	case "TfIdfVectorizer":
		return all(Float)
	case "ConstantOfShape":
		if a := findAttr(n, "value"); a != nil && a.GetT() != nil {
			return []DataType{DataType(a.GetT().GetDataType())}
		}
		return []DataType{Float}
	case "EyeLike", "RandomNormalLike", "RandomUniformLike", "Bernoulli":
		if a := findAttr(n, "dtype"); a != nil {
			return []DataType{DataType(a.GetI())}
		}
		return []DataType{in(0)}
	case "RandomNormal", "RandomUniform":
		return []DataType{DataType(attrInt(n, "dtype", int64(Float)))}
	case "Multinomial":
		return []DataType{DataType(attrInt(n, "dtype", int64(Int32)))}
	case "QuantizeLinear":
		if t := in(2); t != 0 {
			return []DataType{t}
		}
		return []DataType{DataType(attrInt(n, "output_dtype", int64(Uint8)))}
	case "DequantizeLinear":
		return []DataType{in(1)}
	case "DynamicQuantizeLinear":
		return []DataType{Uint8, Float, Uint8}
	case "MatMulInteger", "ConvInteger":
		return []DataType{Int32}
	case "QLinearConv":
		return []DataType{in(7)}
	case "QLinearMatMul":
		return []DataType{in(7)}
	case "TopK", "MaxPool":
		return []DataType{in(0), Int64}
	case "Unique":
		return []DataType{in(0), Int64, Int64, Int64}
	case "Dropout":
		return []DataType{in(0), Bool}
	case "Where":
		return []DataType{in(1)}
	case "OneHot":
		return []DataType{in(2)}
	case "If", "Loop", "Scan", "SequenceMap", "SequenceEmpty", "SequenceConstruct", "SequenceInsert",
		"SequenceErase", "SplitToSequence", "Optional", "OptionalGetElement", "SequenceAt",
		"SequenceLength", "ConcatFromSequence", "ImageDecoder", "MelWeightMatrix",
		"HannWindow", "HammingWindow", "BlackmanWindow":
		// Types of subgraphs, sequences or set by attributes: unknown.
		return nil
	}
	// Everything else produces the type of its first input.
	if t := in(0); t != 0 {
		return all(t)
	}
	return nil
}

// constantTensor is the value of a Constant node for reading only: the
// node's own tensor when it holds one (weights are not copied), else a
// small tensor built from the value_* attribute; nil if there is none.
func constantTensor(n *pb.NodeProto) *pb.TensorProto {
	if len(n.GetAttribute()) == 1 && n.GetAttribute()[0].GetName() == "value" {
		return n.GetAttribute()[0].GetT()
	}
	if len(n.GetOutput()) != 1 {
		return nil
	}
	t, err := ConstantValue(n)
	if err != nil {
		return nil
	}
	return t
}

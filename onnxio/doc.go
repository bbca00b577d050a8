// Package onnxio reads, checks, edits and writes ONNX models.
//
// It owns the ONNX protobuf types (package onnxpb, generated from the
// schema kept beside it), loading from files or bytes with external data
// read on demand and confined to the model's folder, deterministic and
// atomic saving, typed access to tensor data, and the graph helpers the
// rewriters need: producer and consumer maps, topological order, fresh
// names, Constant-to-initializer conversion, opset upgrade and shape
// inference with symbolic dimensions.
//
// Every malformed input gives an error that names the tensor or node at
// fault; nothing here panics on bad data or allocates more than the input
// justifies.
//
// onnxio sits below the engine: it must not import engine, kernels or any
// package above them.
package onnxio

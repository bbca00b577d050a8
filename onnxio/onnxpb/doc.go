// Package onnxpb holds the Go types generated from qtool's copy of the ONNX
// schema (onnx.proto). It is generated code plus this file: edit the schema
// and run go generate, never the .pb.go file.
//
// A plain go build needs no protoc: the generated file is committed.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto

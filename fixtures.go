// Package qtool holds the fixtures embedded in the qtool binary, so that
// its commands have a model and data to run on with no arguments.
//
// The libraries live in the sub-packages: onnxio (model I/O), engine,
// kernels, calib, quant, binarize and bench; cmd/qtool is the command.
package qtool

import "embed"

// Fixtures holds the trained Fashion-MNIST models (testdata/models/*.onnx)
// and the 1000-image test subset (testdata/fashion-mnist/*.gz). See
// testdata/README.md.
//
//go:embed testdata/models/*.onnx testdata/fashion-mnist/*.gz
var Fixtures embed.FS

// DefaultModel is the fixture commands use when given no model.
const DefaultModel = "testdata/models/cnn.onnx"

// FashionMNISTImages and FashionMNISTLabels are the 1000-image test
// subset in Fixtures (IDX, gzipped), for calib.OpenIDXFS.
const (
	FashionMNISTImages = "testdata/fashion-mnist/t10k-1000-images-idx3-ubyte.gz"
	FashionMNISTLabels = "testdata/fashion-mnist/t10k-1000-labels-idx1-ubyte.gz"
)

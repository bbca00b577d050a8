//go:build amd64 && !race

// The full split is too slow for the race detector and for emulated
// arm64; make test runs it in its own plain amd64 pass.

package engine

import (
	"path/filepath"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
)

// On the whole Fashion-MNIST test split (Debian's dataset-fashion-mnist)
// the engine's top-1 equals ONNX Runtime's on every image.
func TestFashionMNISTFullSplitTop1(t *testing.T) {
	dir := testdeps.FashionMNIST(t)
	checkTop1(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
}

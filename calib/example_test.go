package calib_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/qtool/qtool"
	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/onnxio"
)

// Calibrating the embedded cnn model on 100 of the embedded Fashion-MNIST
// images, chosen with a seed.
func ExampleCalibrate() {
	b, _ := qtool.Fixtures.ReadFile(qtool.DefaultModel)
	m, err := onnxio.LoadBytes(b, "")
	if err != nil {
		log.Fatal(err)
	}
	s, err := calib.NewSession(m, 0)
	if err != nil {
		log.Fatal(err)
	}
	images, _ := qtool.Fixtures.ReadFile("testdata/fashion-mnist/t10k-1000-images-idx3-ubyte.gz")
	labels, _ := qtool.Fixtures.ReadFile("testdata/fashion-mnist/t10k-1000-labels-idx1-ubyte.gz")
	im, err := calib.ReadIDX(bytes.NewReader(images))
	if err != nil {
		log.Fatal(err)
	}
	lb, err := calib.ReadIDX(bytes.NewReader(labels))
	if err != nil {
		log.Fatal(err)
	}
	src, err := calib.NewIDX("fashion-mnist", im, lb, calib.Options{Inputs: s.Inputs()})
	if err != nil {
		log.Fatal(err)
	}
	res, err := calib.Calibrate(s, calib.Sample(src, 100, 1), []string{"input", "logits"},
		calib.Percentile{Percentile: 99.99}, calib.Config{BatchSize: 32, Quiet: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d items in %d batches\n", res.Method, res.Items, res.Batches)
	in := res.Tensors["input"]
	fmt.Printf("input: [%.2f, %.2f], %d values, %d NaN\n", in.Range.Min, in.Range.Max, in.Values, in.NaN)
	// Output:
	// percentile 99.99: 100 items in 4 batches
	// input: [0.00, 1.00], 78400 values, 0 NaN
}

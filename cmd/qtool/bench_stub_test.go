//go:build !ort || !cgo || !unix

package main

import (
	"strings"
	"testing"
)

// A build without the binding says how to get --ort.
func TestBenchORTNotBuilt(t *testing.T) {
	_, err := run(t, "bench", "--runs", "1", "--warmup", "1", "--ort", "libonnxruntime.so")
	if err == nil || !strings.Contains(err.Error(), "rebuild with -tags ort") {
		t.Errorf("error %v", err)
	}
}

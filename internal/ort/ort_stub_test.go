//go:build !ort || !cgo || !unix

package ort

import (
	"errors"
	"testing"
)

// Without the binding, Open says how to get it.
func TestNotBuilt(t *testing.T) {
	if _, err := Open("libonnxruntime.so"); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Open: %v, want ErrNotBuilt", err)
	}
}

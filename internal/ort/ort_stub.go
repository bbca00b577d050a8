//go:build !ort || !cgo || !unix

package ort

// Library stands for a loaded ONNX Runtime; this build has none.
type Library struct{}

// Session stands for an ONNX Runtime session; this build has none.
type Session struct{}

// Open returns ErrNotBuilt: this build has no binding.
func Open(path string) (*Library, error) { return nil, ErrNotBuilt }

// Version is empty: this build has no binding.
func (l *Library) Version() string { return "" }

// NewSession returns ErrNotBuilt.
func (l *Library) NewSession(path string, model []byte, threads int) (*Session, error) {
	return nil, ErrNotBuilt
}

// SetInputs returns ErrNotBuilt.
func (s *Session) SetInputs(in []Tensor) error { return ErrNotBuilt }

// Run returns ErrNotBuilt.
func (s *Session) Run() error { return ErrNotBuilt }

// RunOutputs returns ErrNotBuilt.
func (s *Session) RunOutputs() ([]Tensor, error) { return nil, ErrNotBuilt }

// Close does nothing.
func (s *Session) Close() {}

package bench

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/internal/ort"
	"github.com/qtool/qtool/onnxio"
)

// ortSessions compiles each model with ONNX Runtime l (threads intra-op
// threads), bound to inputs, which first's session takes.
func ortSessions(l *ort.Library, models []*onnxio.Model, first *engine.Session, inputs map[string]*engine.Tensor, threads int) ([]*ort.Session, error) {
	var in []ort.Tensor
	for _, vi := range first.Inputs() {
		t, err := ort.FromEngine(vi.Name, inputs[vi.Name])
		if err != nil {
			return nil, err
		}
		in = append(in, t)
	}
	var sessions []*ort.Session
	fail := func(err error) ([]*ort.Session, error) {
		for _, s := range sessions {
			s.Close()
		}
		return nil, err
	}
	for _, m := range models {
		// From the file when there is one, so that external data resolves;
		// else (the built-in model) from the serialized model.
		var b []byte
		if fi, err := os.Stat(m.Path); err != nil || !fi.Mode().IsRegular() {
			if b, err = proto.Marshal(m.Proto); err != nil {
				return fail(fmt.Errorf("%s: %w", m.Path, err))
			}
		}
		s, err := l.NewSession(m.Path, b, threads)
		if err != nil {
			return fail(err)
		}
		sessions = append(sessions, s)
		if err := s.SetInputs(in); err != nil {
			return fail(fmt.Errorf("%s: %w", m.Path, err))
		}
	}
	return sessions, nil
}

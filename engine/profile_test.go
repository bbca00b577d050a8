package engine

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/qtool/qtool/onnxio"
)

// TestRunProfiled: on the float cnn and its int8 QDQ form, a profiled
// run lists every step of the plan once, in Precisions' order, with a
// positive time, times summing to no more than the run's wall time,
// the activation bytes each step read and wrote (checked against the
// values RunObserved sees), and outputs bit-identical to Run's.
func TestRunProfiled(t *testing.T) {
	x, _ := fashionImages(t)
	m, err := onnxio.Load(fixture("cnn"))
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]*Tensor{"input": firstImages(x, 3)}
	for name, m := range map[string]*onnxio.Model{"fp32": m, "int8": qdqCNN(t, firstImages(x, 50))} {
		s, err := Compile(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		// The values each step computes, in order, for the byte counts.
		var seen []int64
		if _, err := s.RunObserved(in, func(_ string, v *Tensor) { seen = append(seen, storageBytes(v)) }); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got, prof, err := s.RunProfiled(in)
		wall := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range want["logits"].F32 {
			if math.Float32bits(v) != math.Float32bits(got["logits"].F32[k]) {
				t.Fatalf("%s: profiled logit %d is %v, Run gives %v", name, k, got["logits"].F32[k], v)
			}
		}
		precs := s.Precisions()
		// The cnn has no shape computations: every compiled step runs.
		if len(prof) != len(precs) || len(seen) != len(precs) {
			t.Fatalf("%s: %d profiled steps, %d observed values, %d compiled steps", name, len(prof), len(seen), len(precs))
		}
		var sum time.Duration
		for i, st := range prof {
			if st.Step != i || st.Node != precs[i].Node || st.Op != precs[i].Op || st.Precision != precs[i].Precision {
				t.Errorf("%s: profiled step %d is %d %s %s %s, Precisions has %s %s %s", name, i, st.Step, st.Node, st.Op, st.Precision, precs[i].Node, precs[i].Op, precs[i].Precision)
			}
			if st.Time <= 0 {
				t.Errorf("%s: step %s took %v", name, st.Node, st.Time)
			}
			sum += st.Time
			if strings.HasPrefix(st.Op, "Flatten") {
				if st.InBytes != 0 || st.OutBytes != 0 {
					t.Errorf("%s: the Flatten view moved %d+%d bytes", name, st.InBytes, st.OutBytes)
				}
				continue
			}
			if st.OutBytes != seen[i] {
				t.Errorf("%s: step %s wrote %d bytes, its output has %d", name, st.Node, st.OutBytes, seen[i])
			}
			wantIn := int64(0)
			if i == 0 {
				wantIn = storageBytes(in["input"])
			} else {
				wantIn = seen[i-1] // a chain: each step reads the one before
			}
			if st.InBytes != wantIn {
				t.Errorf("%s: step %s read %d bytes, want %d", name, st.Node, st.InBytes, wantIn)
			}
		}
		if sum > wall {
			t.Errorf("%s: step times sum to %v, more than the run's %v", name, sum, wall)
		}
		if name == "int8" && prof[1].Precision != "int8" {
			t.Errorf("int8: second step runs in %s", prof[1].Precision)
		}
	}
}

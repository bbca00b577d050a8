package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
)

// TestEvalCommand: `qtool eval` on the built-in model and images gives
// the top-1 accuracy the training script measured with PyTorch on the
// same 1000 images (94.90 %, testdata/README.md); a model agrees with
// itself; --labels replaces the labels, and a labels file of the wrong
// length or a missing --data are errors.
func TestEvalCommand(t *testing.T) {
	out, err := run(t, "eval", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r evalReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if r.Items != 1000 || r.Labelled != 1000 || len(r.Models) != 1 || *r.Models[0].Top1 != 94.9 || len(r.Models[0].PerClass) != 10 {
		t.Fatalf("built-in eval: %+v", r.EvalReport)
	}
	if c := r.Models[0].PerClass[0]; c.Items != 107 { // testdata/README.md's label counts
		t.Errorf("class 0 has %d items, want 107", c.Items)
	}

	dir := t.TempDir()
	labels := filepath.Join(dir, "labels.csv")
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "%d,%d,%d\n", i, i%10, (i+1)%10)
	}
	if err := os.WriteFile(labels, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := run(t, "eval", fixture("cnn.onnx"), fixture("cnn.onnx"), "--data", "builtin", "--labels", labels, "--limit", "50")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"50 items, 50 labelled", "several valid classes", "100.00", "top-1 % per class"} {
		if !strings.Contains(text, want) {
			t.Errorf("eval text lacks %q:\n%s", want, text)
		}
	}
	short := filepath.Join(dir, "short.json")
	if err := os.WriteFile(short, []byte("[[1],[2],[3]]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "eval", "--labels", short); err == nil || !strings.Contains(err.Error(), "3 items") {
		t.Errorf("3 labels for 1000 items: %v", err)
	}
	if _, err := run(t, "eval", fixture("cnn.onnx")); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("a model without --data: %v", err)
	}
}

// The progress bar draws on a terminal only (a character device, as
// /dev/null is), never with --json: a qtool process whose standard
// error is a pipe writes nothing there.
func TestEvalProgress(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if progress(devNull, false, 10, "x") == nil || progress(devNull, true, 10, "x") != nil || progress(file, false, 10, "x") != nil {
		t.Error("a bar on a character device only, and not when quiet")
	}
	cmd := testdeps.SelfCommand(t, "qtool", "eval", "--limit", "100")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if stderr.Len() != 0 || !strings.Contains(stdout.String(), "100 items") {
		t.Errorf("stderr %q, stdout %q", stderr.String(), stdout.String())
	}
}

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/qtool/qtool/bench"
)

// TestInspectCost: `inspect --cost` on the built-in cnn, as JSON (the
// MAC total by hand in testdata/README.md, fp32 bit-operations at 32x32)
// and as text (a row per step and the total).
func TestInspectCost(t *testing.T) {
	out, err := run(t, "inspect", "--cost", "--runs", "3", "--batch", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r bench.CostReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if r.Runs != 3 || r.Inputs["input"][0] != 2 || r.Total.MACs != 2*4830720 || r.Total.BitOps != 32*32*r.Total.MACs {
		t.Errorf("runs %d, inputs %v, %d MACs, %d bit-ops", r.Runs, r.Inputs, r.Total.MACs, r.Total.BitOps)
	}
	text, err := run(t, "inspect", "--cost", "--runs", "2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/features/features.3/Conv", "Conv+fused", "32x32", "(rest of the run)", "total", "4.83 M", "4.95 G"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	if _, err := run(t, "inspect", "--cost", "--runs", "-1"); err == nil {
		t.Error("--runs -1 was accepted")
	}
}

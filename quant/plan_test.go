package quant

import (
	"slices"
	"testing"

	"github.com/qtool/qtool/internal/fixtures"
)

// The first and last weighted layers of 4-bit schemes default to int8;
// FirstLast overrides it, and 8-bit schemes keep their own.
func TestPlanFirstLast(t *testing.T) {
	cases := []struct {
		scheme, firstLast string
		want              []string
	}{
		{"w4a8", "", []string{"w8a8", "w4a8", "w4a8", "w4a8", "w4a8", "w8a8"}},
		{"w4a8", "w4a8", []string{"w4a8", "w4a8", "w4a8", "w4a8", "w4a8", "w4a8"}},
		{"w4a4", "float", []string{"fp32", "w4a4", "w4a4", "w4a4", "w4a4", "fp32"}},
		{"int8", "", []string{"w8a8", "w8a8", "w8a8", "w8a8", "w8a8", "w8a8"}},
		{"dfp16", "int8", []string{"w8a8", "dfp16", "dfp16", "dfp16", "dfp16", "w8a8"}},
	}
	for _, c := range cases {
		m := fixtures.Model(t, "cnn")
		if _, err := Prepare(m, 21); err != nil {
			t.Fatal(err)
		}
		p, err := MakePlan(m, Config{Scheme: mustScheme(t, c.scheme, 0), FirstLast: c.firstLast})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range m.Graph().GetNode() {
			if isWeightedOp(n.GetOpType()) {
				s, ok := p.Nodes[n]
				if !ok {
					s = Float
				}
				got = append(got, s.Precision())
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s, first/last %q: %v, want %v", c.scheme, c.firstLast, got, c.want)
		}
	}
	m := fixtures.Model(t, "cnn")
	if _, err := MakePlan(m, Config{Scheme: mustScheme(t, "w4a8", 0), FirstLast: "int3"}); err == nil {
		t.Error("first/last scheme int3 accepted")
	}
}

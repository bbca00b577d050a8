package kernels

import (
	"strings"
	"testing"
)

// testFamily builds an unregistered family, so tests don't add to
// Families.
func testFamily() *Family {
	return &Family{name: "t", paths: []familyPath{
		{name: "generic", supported: true},
		{name: "avx2", supported: true},
		{name: "fancy", why: "needs FANCY"},
	}}
}

func TestSpecFor(t *testing.T) {
	f := testFamily()
	for _, tc := range []struct {
		spec, want string
		ok         bool
	}{
		{"", "", false},
		{"avx2", "avx2", true},
		{"AVX2", "AVX2", true},
		{"avx512", "", false},
		{"avx512,generic", "generic", true},
		{"generic, t=avx2", "avx2", true},
		{"t=fancy,avx2", "fancy", true},
		{"u=avx2", "", false},
		{" T = generic ", "generic", true},
	} {
		got, ok := specFor(tc.spec, f.name, f.index)
		if got != tc.want || ok != tc.ok {
			t.Errorf("specFor(%q) = %q, %v; want %q, %v", tc.spec, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFamilySet(t *testing.T) {
	f := testFamily()
	if got := f.Active(); got != "avx2" {
		t.Errorf("Active = %s, want the best supported (avx2)", got)
	}
	if err := f.Set("generic"); err != nil || f.Active() != "generic" {
		t.Errorf("Set(generic): %v, active %s", err, f.Active())
	}
	if err := f.Set("fancy"); err == nil || !strings.Contains(err.Error(), "needs FANCY") || f.Active() != "generic" {
		t.Errorf("Set(fancy): %v, active %s", err, f.Active())
	}
	if err := f.Set("nope"); err == nil || !strings.Contains(err.Error(), "generic, avx2, fancy") {
		t.Errorf("Set(nope): %v", err)
	}
	if got := strings.Join(f.SupportedPaths(), ","); got != "generic,avx2" {
		t.Errorf("SupportedPaths = %s", got)
	}
}

// SetPaths validates the whole spec before changing anything.
func TestSetPaths(t *testing.T) {
	old := ActivePath()
	defer SetPath(old)
	if err := SetPaths("generic"); err != nil || ActivePath() != PathGeneric {
		t.Fatalf("SetPaths(generic): %v, fp32 %v", err, ActivePath())
	}
	for _, f := range Families() {
		if f.Active() != "generic" {
			t.Errorf("SetPaths(generic) left %s on %s", f.Name(), f.Active())
		}
	}
	for _, bad := range []string{"bogus", "nofamily=generic", "fp32=bogus", "generic,fp32=bogus"} {
		if err := SetPaths(bad); err == nil {
			t.Errorf("SetPaths(%q) succeeded", bad)
		}
	}
	if ActivePath() != PathGeneric {
		t.Errorf("a failed SetPaths changed fp32 to %v", ActivePath())
	}
	best := bestPath()
	if err := SetPaths("fp32=" + best.String()); err != nil || ActivePath() != best {
		t.Errorf("SetPaths(fp32=%v): %v, fp32 %v", best, err, ActivePath())
	}
	if m := ActivePaths(); m["fp32"] != best.String() {
		t.Errorf("ActivePaths = %v", m)
	}
}

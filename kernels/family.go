package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Family is a kernel family beside fp32 (int8, int16, binary...): its
// paths, named as in benchmark reports (e.g. generic, avx2, avxvnni,
// avx512vnni, neon, neondot), ordered slowest first, and the one in use.
// Paths are per family because instruction sets split differently for
// each: AVX-VNNI matters to int8 and not to fp32, VPOPCNTDQ only to
// binary. Every path of a family gives bit-identical results.
//
// The active path is the fastest supported one unless QTOOL_KERNELS (read
// on first use) or Set says otherwise. Like SetPath, Set must not race
// with running kernels.
type Family struct {
	name  string
	paths []familyPath

	once   sync.Once
	active atomic.Int32
	mu     sync.Mutex // guards note
	note   string
}

type familyPath struct {
	name      string
	supported bool
	why       string
}

// families lists every Family in declaration order (package variables
// initialize before any code runs, so it is complete by then).
var families []*Family

// newFamily declares a family and its paths, slowest first. Only "generic"
// starts out supported; architecture files call support for the others.
func newFamily(name string, pathNames ...string) *Family {
	f := &Family{name: name}
	for _, n := range pathNames {
		f.paths = append(f.paths, familyPath{name: n, supported: n == "generic", why: "not built for this architecture"})
	}
	families = append(families, f)
	return f
}

// support records whether this CPU can run path name; why says what it
// lacks. Only files built without the purego tag call it.
func (f *Family) support(name string, ok bool, why string) bool {
	i := f.index(name)
	if i < 0 {
		panic("kernels: family " + f.name + " has no path " + name)
	}
	f.paths[i].supported = ok
	f.paths[i].why = why
	return ok
}

func (f *Family) index(name string) int {
	for i, p := range f.paths {
		if strings.EqualFold(p.name, name) {
			return i
		}
	}
	return -1
}

// Name is the family's name as in reports: int8, int16, binary...
func (f *Family) Name() string { return f.name }

// Paths lists every path the family has on any CPU, slowest first.
func (f *Family) Paths() []string {
	var ns []string
	for _, p := range f.paths {
		ns = append(ns, p.name)
	}
	return ns
}

// SupportedPaths lists the paths this CPU and build can run, slowest
// first.
func (f *Family) SupportedPaths() []string {
	var ns []string
	for _, p := range f.paths {
		if p.supported {
			ns = append(ns, p.name)
		}
	}
	return ns
}

// Supported reports whether this CPU and build can run the named path,
// and if not, why.
func (f *Family) Supported(name string) (bool, string) {
	i := f.index(name)
	if i < 0 {
		return false, fmt.Sprintf("%s has no path %q (it has %s)", f.name, name, strings.Join(f.Paths(), ", "))
	}
	return f.paths[i].supported, f.paths[i].why
}

// Active is the name of the path in use.
func (f *Family) Active() string { return f.paths[f.activeIndex()].name }

// activeIndex is the position of the active path in f.paths, for the
// family's dispatch tables.
func (f *Family) activeIndex() int {
	f.once.Do(f.init)
	return int(f.active.Load())
}

// Set makes the named path active; an unsupported or unknown name is an
// error and changes nothing.
func (f *Family) Set(name string) error {
	f.once.Do(f.init)
	if ok, why := f.Supported(name); !ok {
		return fmt.Errorf("kernels: %s path %s unsupported: %s", f.name, name, why)
	}
	f.active.Store(int32(f.index(name)))
	f.mu.Lock()
	f.note = "set to " + f.paths[f.index(name)].name
	f.mu.Unlock()
	return nil
}

// Note says how the active path was chosen at first use.
func (f *Family) Note() string {
	f.once.Do(f.init)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.note
}

func (f *Family) init() {
	best := 0
	for i, p := range f.paths {
		if p.supported {
			best = i
		}
	}
	f.active.Store(int32(best))
	note := "best supported path"
	if want, ok := specFor(os.Getenv(EnvPath), f.name, f.index); ok {
		if sup, why := f.Supported(want); sup {
			f.active.Store(int32(f.index(want)))
			note = fmt.Sprintf("forced by %s", EnvPath)
		} else {
			note = fmt.Sprintf("%s asks for %s: %s; using best path %s", EnvPath, want, why, f.paths[best].name)
		}
	}
	f.mu.Lock()
	f.note = note
	f.mu.Unlock()
}

// specFor picks family's entry from a QTOOL_KERNELS / --kernels value: a
// comma-separated list of path names (applying to every family that has a
// path of that name) and family=path pairs (applying to that family only,
// and winning over bare names). ok is false when nothing applies.
func specFor(spec, family string, has func(string) int) (path string, ok bool) {
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if fam, p, pair := strings.Cut(item, "="); pair {
			if strings.EqualFold(strings.TrimSpace(fam), family) {
				return strings.TrimSpace(p), true
			}
		} else if item != "" && has(item) >= 0 && !ok {
			path, ok = item, true
		}
	}
	return path, ok
}

// Families lists the kernel families beside fp32.
func Families() []*Family { return families }

// FamilyByName finds a family beside fp32 by name.
func FamilyByName(name string) *Family {
	for _, f := range families {
		if strings.EqualFold(f.name, name) {
			return f
		}
	}
	return nil
}

// ActivePaths maps every family, fp32 included, to its active path.
func ActivePaths() map[string]string {
	m := map[string]string{"fp32": ActivePath().String()}
	for _, f := range families {
		m[f.name] = f.Active()
	}
	return m
}

// SetPaths applies a QTOOL_KERNELS-style spec now: "avx2" sets every
// family that has an avx2 path (fp32 included); "int8=generic,fp32=avx2"
// sets families one by one. It fails, changing nothing, when a name is
// unknown to every family or a path is unsupported here.
func SetPaths(spec string) error {
	type change struct {
		f    *Family // nil for fp32
		path string
	}
	var changes []change
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if fam, _, pair := strings.Cut(item, "="); pair {
			fam = strings.TrimSpace(fam)
			if !strings.EqualFold(fam, "fp32") && FamilyByName(fam) == nil {
				return fmt.Errorf("kernels: unknown family %q in %q (families: fp32%s)", fam, spec, familyList())
			}
			continue
		}
		known := fp32Has(item) >= 0
		for _, f := range families {
			known = known || f.index(item) >= 0
		}
		if !known {
			return fmt.Errorf("kernels: no family has a path %q", item)
		}
	}
	if p, ok := specFor(spec, "fp32", fp32Has); ok {
		pp, err := ParsePath(p)
		if err != nil {
			return err
		}
		if ok, why := Supported(pp); !ok {
			return fmt.Errorf("kernels: fp32 path %v unsupported: %s", pp, why)
		}
		changes = append(changes, change{nil, p})
	}
	for _, f := range families {
		if p, ok := specFor(spec, f.name, f.index); ok {
			if ok, why := f.Supported(p); !ok {
				return fmt.Errorf("kernels: %s path %s unsupported: %s", f.name, p, why)
			}
			changes = append(changes, change{f, p})
		}
	}
	for _, c := range changes {
		if c.f == nil {
			p, _ := ParsePath(c.path)
			if err := SetPath(p); err != nil {
				return err
			}
		} else if err := c.f.Set(c.path); err != nil {
			return err
		}
	}
	return nil
}

func familyList() string {
	var b strings.Builder
	for _, f := range families {
		b.WriteString(", " + f.name)
	}
	return b.String()
}

// fp32Has is Family.index for the fp32 paths.
func fp32Has(s string) int {
	if p, err := ParsePath(s); err == nil {
		return int(p)
	}
	return -1
}

// unknownPaths lists the bare names in a QTOOL_KERNELS value that no
// family (fp32 included) has, comma-separated; "" when there are none.
func unknownPaths(spec string) string {
	var unknown []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" || strings.Contains(item, "=") {
			continue
		}
		known := fp32Has(item) >= 0
		for _, f := range families {
			known = known || f.index(item) >= 0
		}
		if !known {
			unknown = append(unknown, item)
		}
	}
	return strings.Join(unknown, ",")
}

package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Path names one family of microkernels. Every path computes bit-identical
// results (see Sgemm); paths differ only in speed.
type Path int

const (
	// PathGeneric is pure Go and runs everywhere (the only path under the
	// purego build tag).
	PathGeneric Path = iota
	// PathAVX2 needs AVX2 and FMA (amd64).
	PathAVX2
	// PathAVX512 needs AVX-512 F (amd64).
	PathAVX512
	// PathNEON needs ASIMD (arm64).
	PathNEON
	numPaths
)

var pathNames = [numPaths]string{"generic", "avx2", "avx512", "neon"}

func (p Path) String() string {
	if p >= 0 && p < numPaths {
		return pathNames[p]
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// ParsePath maps a name as printed by Path.String back to its Path.
func ParsePath(s string) (Path, error) {
	for i, n := range pathNames {
		if strings.EqualFold(s, n) {
			return Path(i), nil
		}
	}
	return 0, fmt.Errorf("kernels: unknown path %q (want one of %s)", s, strings.Join(pathNames[:], ", "))
}

// pathImpl is what a path contributes: its SGEMM microkernel and whether
// this CPU (and build) can run it. Architecture files register theirs in
// init (sgemm_amd64.go; an sgemm_arm64.go would register PathNEON the same
// way).
type pathImpl struct {
	sgemm     *microkernel
	supported bool
	why       string // why not supported
}

var (
	paths [numPaths]pathImpl
	// activePath is atomic: small kernels (Saxpy) read it on every call,
	// from many goroutines, where even a read lock bounces a cache line.
	activePath atomic.Int32
	pathMu     sync.RWMutex // guards pathNote
	pathNote   string
)

func registerPath(p Path, impl pathImpl) { paths[p] = impl }

// Supported reports whether this CPU and build can run path p, and if not,
// why.
func Supported(p Path) (bool, string) {
	if p < 0 || p >= numPaths {
		return false, "unknown path"
	}
	if !paths[p].supported {
		why := paths[p].why
		if why == "" {
			why = "not built for " + DetectCPU().Arch
		}
		return false, why
	}
	return true, ""
}

// SupportedPaths lists the paths this CPU and build can run, slowest first.
func SupportedPaths() []Path {
	var ps []Path
	for p := Path(0); p < numPaths; p++ {
		if ok, _ := Supported(p); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// bestPath is the fastest supported path.
func bestPath() Path {
	ps := SupportedPaths()
	return ps[len(ps)-1]
}

// ActivePath returns the path the kernels use now.
func ActivePath() Path { return Path(activePath.Load()) }

// PathNote says how the active path was chosen at init: the best one, or
// the one QTOOL_KERNELS forced, or why QTOOL_KERNELS could not be honoured.
func PathNote() string {
	pathMu.RLock()
	defer pathMu.RUnlock()
	return pathNote
}

// SetPath makes p the active path, for tests and benchmarks. It fails,
// leaving the active path alone, when the CPU or build can't run p. Don't
// call it while kernels run on other goroutines: a call that has started
// keeps the path it started with, but packed operands record their path
// (see PackA).
func SetPath(p Path) error {
	if ok, why := Supported(p); !ok {
		return fmt.Errorf("kernels: path %v unsupported: %s", p, why)
	}
	activePath.Store(int32(p))
	return nil
}

// EnvPath is the environment variable read once at init to force paths:
// QTOOL_KERNELS=generic|avx2|avx512|neon sets the fp32 path (and every
// other family's path of the same name, see Family); a comma-separated
// list with family=path items (fp32=avx2,int8=avxvnni) sets families one
// by one. A path the CPU can't run falls back to the best supported one;
// PathNote (Family.Note) records why.
const EnvPath = "QTOOL_KERNELS"

func initPath() {
	best := bestPath()
	activePath.Store(int32(best))
	pathNote = "best supported path"
	env := os.Getenv(EnvPath)
	if env == "" {
		return
	}
	name, ok := specFor(env, "fp32", fp32Has)
	if !ok {
		if unknown := unknownPaths(env); unknown != "" {
			pathNote = fmt.Sprintf("%s=%s ignored: no family has a path %s; using best path %v", EnvPath, env, unknown, best)
		}
		return
	}
	p, _ := ParsePath(name)
	if ok, why := Supported(p); !ok {
		pathNote = fmt.Sprintf("%s=%s ignored: %s; using best path %v", EnvPath, env, why, best)
		return
	}
	activePath.Store(int32(p))
	pathNote = fmt.Sprintf("forced by %s=%s", EnvPath, env)
}

// PeakFLOP runs path p's register-only FMA loop for iters iterations and
// returns the floating-point operations it did (an FMA counts as two), or
// 0 for a path without such a loop (generic). Divided by the time taken it
// is the core's fp32 ceiling, which benchmarks compare GEMM speed against.
func PeakFLOP(p Path, iters int) float64 { return fmaPeak(p, iters) }

package kernels

import (
	"runtime"

	"github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

// CPU describes the processor as the kernels see it: the instruction set
// features dispatch decides on (from golang.org/x/sys/cpu, which honours
// GODEBUG=cpu.<feature>=off) and the cache sizes blocking is tuned for
// (from cpuid; zero where the CPU does not say).
type CPU struct {
	Arch        string   `json:"arch"`
	Brand       string   `json:"brand"`
	Vendor      string   `json:"vendor"`
	PhysCores   int      `json:"physical_cores"`
	LogicalCPUs int      `json:"logical_cpus"`
	L1D         int      `json:"l1d_bytes"`
	L2          int      `json:"l2_bytes"`
	L3          int      `json:"l3_bytes"`
	CacheLine   int      `json:"cache_line_bytes"`
	Features    []string `json:"features"`
}

// feature pairs a name with whether dispatch may use it.
type feature struct {
	name string
	on   bool
}

// features lists what matters to qtool's kernels on this architecture.
// AVX-512 sub-features count only with the AVX-512 foundation, since
// GODEBUG=cpu.avx512f=off leaves them reading true.
func features() []feature {
	x := cpu.X86
	avx512 := x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL
	switch runtime.GOARCH {
	case "amd64", "386":
		return []feature{
			{"sse4.1", x.HasSSE41},
			{"popcnt", x.HasPOPCNT},
			{"avx", x.HasAVX},
			{"avx2", x.HasAVX2},
			{"fma", x.HasFMA},
			{"avxvnni", x.HasAVX2 && x.HasAVXVNNI},
			{"avx512f", x.HasAVX512F},
			{"avx512bw", avx512},
			{"avx512vl", avx512},
			{"avx512vnni", avx512 && x.HasAVX512VNNI},
			{"avx512vpopcntdq", avx512 && x.HasAVX512VPOPCNTDQ},
			{"avx512bitalg", avx512 && x.HasAVX512BITALG},
		}
	case "arm64":
		a := cpu.ARM64
		return []feature{
			{"asimd", a.HasASIMD},
			{"asimddp", a.HasASIMDDP},
			{"i8mm", a.HasI8MM},
			{"sve", a.HasSVE},
		}
	}
	return nil
}

// DetectCPU reads the processor's identity, caches and features.
func DetectCPU() CPU {
	c := CPU{
		Arch:        runtime.GOARCH,
		Brand:       cpuid.CPU.BrandName,
		Vendor:      cpuid.CPU.VendorString,
		PhysCores:   cpuid.CPU.PhysicalCores,
		LogicalCPUs: runtime.NumCPU(),
		L1D:         max(cpuid.CPU.Cache.L1D, 0),
		L2:          max(cpuid.CPU.Cache.L2, 0),
		L3:          max(cpuid.CPU.Cache.L3, 0),
		CacheLine:   cpuid.CPU.CacheLine,
		Features:    []string{},
	}
	for _, f := range features() {
		if f.on {
			c.Features = append(c.Features, f.name)
		}
	}
	return c
}

// Has reports whether dispatch may use the named feature.
func (c CPU) Has(name string) bool {
	for _, f := range c.Features {
		if f == name {
			return true
		}
	}
	return false
}

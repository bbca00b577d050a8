//go:build linux

package kernels

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// On Linux the kernel's own view of the CPU flags is an independent
// reference for what DetectCPU reports.
func TestDetectCPUAgainstProcCPUInfo(t *testing.T) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "flags" {
			for _, fl := range strings.Fields(v) {
				flags[fl] = true
			}
			break
		}
	}
	c := DetectCPU()
	for name, flag := range map[string]string{
		"avx2": "avx2", "fma": "fma", "popcnt": "popcnt", "avx512f": "avx512f",
		"avx512vnni": "avx512_vnni", "avx512vpopcntdq": "avx512_vpopcntdq", "avxvnni": "avx_vnni",
	} {
		// GODEBUG=cpu.x=off may hide a feature the CPU has, never the reverse.
		if c.Has(name) != flags[flag] && (os.Getenv("GODEBUG") == "" || c.Has(name)) {
			t.Errorf("DetectCPU says %s=%v, /proc/cpuinfo flag %s=%v", name, c.Has(name), flag, flags[flag])
		}
	}
}

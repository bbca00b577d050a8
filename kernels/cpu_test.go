package kernels

import (
	"runtime"
	"testing"
)

func TestDetectCPUBasics(t *testing.T) {
	c := DetectCPU()
	if c.Arch != runtime.GOARCH || c.LogicalCPUs != runtime.NumCPU() {
		t.Errorf("arch %s cpus %d", c.Arch, c.LogicalCPUs)
	}
	if runtime.GOARCH == "arm64" && !c.Has("asimd") {
		t.Error("every arm64 CPU has ASIMD")
	}
}

//go:build amd64 && !race

// The PaddleOCR detector on 100 photos takes tens of seconds natively and
// far more under the race detector or emulation, so this file is left out
// there; make full runs it.

package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/qtool/qtool/internal/testdeps"
)

// PaddleOCR's detector preprocessing (its DetResizeForTest and
// NormalizeImage): ImageNet's mean and std in pixel units, at a size that
// is a multiple of 32.
var ocrDetFlags = []string{"--resize", "320x320", "--mean", "123.675,116.28,103.53", "--std", "58.395,57.12,57.375"}

// Calibrating the PP-OCRv4 detector on 100 real images of different
// sizes with 2 threads stays under 1 GiB of peak memory, as measured by
// the kernel for a qtool process (its maximum resident set size). The
// time is logged, not asserted.
func TestQuantizeOCRDetectorMemory(t *testing.T) {
	det := testdeps.OCRModel(t, "ch_PP-OCRv4_det_infer.onnx")
	photos := testdeps.PhotoVariants(t, 100)
	out := filepath.Join(t.TempDir(), "det.int8.onnx")
	args := append([]string{"quantize", det, "--calib", photos, "--calib-size", "100", "--threads", "2", "-o", out, "--json"}, ocrDetFlags...)
	cmd := testdeps.SelfCommand(t, "qtool", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	wall := time.Since(start)
	var rep quantizeReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, stdout.String())
	}
	if rep.CalibItems != 100 || rep.Skipped != 0 || len(rep.Layers) == 0 {
		t.Errorf("report: %d items, %d skipped, %d layers", rep.CalibItems, rep.Skipped, len(rep.Layers))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := ru.Maxrss << 10 // kilobytes on Linux
	t.Logf("qtool quantize on 100 images: %.1f s wall, %.1f s user, %.1f s system, peak RSS %d MiB",
		wall.Seconds(), time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds(), rss>>20)
	if rss >= 1<<30 {
		t.Errorf("peak RSS %d MiB, want under 1024 MiB", rss>>20)
	}
}

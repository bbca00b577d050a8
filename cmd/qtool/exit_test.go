package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary act as qtool itself when asked, so the
// exit status and stderr of the real main can be checked.
func TestMain(m *testing.M) {
	if os.Getenv("QTOOL_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// self runs this test binary as qtool. Under user-mode emulation (the
// arm64 tests run through qemu with no binfmt registration) the kernel
// cannot start the binary itself, so the emulator is asked to.
func self(t *testing.T, args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	if probe := exec.Command(exe, "-test.run=^$"); errors.Is(probe.Run(), syscall.ENOEXEC) {
		emu, err := exec.LookPath("qemu-" + map[string]string{"arm64": "aarch64"}[runtime.GOARCH] + "-static")
		if err != nil {
			t.Fatalf("cannot start %s: %v", exe, err)
		}
		cmd = exec.Command(emu, append([]string{exe}, args...)...)
	}
	cmd.Env = append(os.Environ(), "QTOOL_TEST_MAIN=1")
	return cmd
}

func TestExitStatusAndStderr(t *testing.T) {
	cmd := self(t, "inspect", "does-not-exist.onnx")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	if stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "qtool: ") || !strings.Contains(stderr.String(), "does-not-exist.onnx") {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}

	out, err := self(t, "inspect", "--json").Output()
	if err != nil || !bytes.HasPrefix(out, []byte("{")) {
		t.Errorf("inspect --json of the built-in model: %v %.80s", err, out)
	}
}

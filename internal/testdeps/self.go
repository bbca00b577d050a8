package testdeps

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
)

// ChildEnv marks a process started by SelfCommand; a package's TestMain
// checks it to act as the child instead of running its tests.
const ChildEnv = "QTOOL_TEST_CHILD"

// SelfCommand runs the current test binary again with args and
// ChildEnv=role in its environment. Under user-mode emulation (the arm64
// tests run through qemu with no binfmt registration) the kernel cannot
// start the binary itself, so the emulator is asked to.
func SelfCommand(t testing.TB, role string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	if probe := exec.Command(exe, "-test.run=^$"); errors.Is(probe.Run(), syscall.ENOEXEC) {
		emu, err := exec.LookPath("qemu-" + map[string]string{"arm64": "aarch64", "arm": "arm"}[runtime.GOARCH] + "-static")
		if err != nil {
			t.Fatalf("cannot start %s, and no user-mode emulator: %v", exe, err)
		}
		cmd = exec.Command(emu, append([]string{exe}, args...)...)
	}
	cmd.Env = append(os.Environ(), ChildEnv+"="+role)
	return cmd
}

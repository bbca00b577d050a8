package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/qtool/qtool/internal/testdeps"
)

// TestMain lets the test binary act as qtool itself when asked, so the
// exit status and stderr of the real main can be checked.
func TestMain(m *testing.M) {
	if os.Getenv(testdeps.ChildEnv) == "qtool" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestExitStatusAndStderr(t *testing.T) {
	cmd := testdeps.SelfCommand(t, "qtool", "inspect", "does-not-exist.onnx")
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

	out, err := testdeps.SelfCommand(t, "qtool", "inspect", "--json").Output()
	if err != nil || !bytes.HasPrefix(out, []byte("{")) {
		t.Errorf("inspect --json of the built-in model: %v %.80s", err, out)
	}
}

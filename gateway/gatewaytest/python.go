//go:build unix

package gatewaytest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Python is Debian's interpreter: the client tests use the Python
// packages Debian installs (python3-stomp) into its dist-packages, which
// another python3 on PATH (pyenv, a virtualenv) does not see.
const Python = "/usr/bin/python3"

// RequirePython returns Python's path once it has checked that it can
// import every module in modules; otherwise Missing.
func RequirePython(t testing.TB, test, hint string, modules ...string) string {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		Missing(t, test, Python+" is missing", hint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range modules {
		out, err := exec.CommandContext(ctx, Python, "-c", "import "+m).CombinedOutput()
		if err != nil {
			Missing(t, test, Python+" cannot import "+m+": "+strings.TrimSpace(string(out)), hint)
		}
	}
	return Python
}

// RunPython runs python with args in dir and env, unbuffered and without
// writing bytecode next to the sources, logging its output line by line;
// a non-zero exit or a timeout (which kills its whole process group)
// fails the test with the whole output.
func RunPython(t testing.TB, python, dir string, env []string, timeout time.Duration, prefix string, args ...string) {
	t.Helper()
	env = append([]string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"}, env...)
	runChild(t, python, dir, env, timeout, prefix, args...)
}

//go:build unix

package gatewaytest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireNode returns node's path once it has checked that the npm
// packages pkgs are installed in dir/node_modules; otherwise Missing.
func RequireNode(t testing.TB, test, hint, dir string, pkgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, test, "node (Node.js 20 or later) is not on PATH", hint)
	}
	for _, pkg := range pkgs {
		p := filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				Missing(t, test, p+" is missing", hint)
			}
			Missing(t, test, err.Error(), hint)
		}
	}
	return node
}

// RunNode runs node with args in dir and env, logging its output line by
// line; a non-zero exit or a timeout (which kills its whole process
// group) fails the test with the whole output.
func RunNode(t testing.TB, node, dir string, env []string, timeout time.Duration, prefix string, args ...string) {
	t.Helper()
	runChild(t, node, dir, env, timeout, prefix, args...)
}

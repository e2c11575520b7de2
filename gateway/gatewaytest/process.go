//go:build unix

package gatewaytest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Missing stops a test whose tools are not installed: it fails when CI or
// STOMP_GATEWAY_REQUIRE_CLIENT_TESTS is set (so a CI run can never pass
// without the test), and skips loudly otherwise. hint says how to install.
func Missing(t testing.TB, test, what, hint string) {
	t.Helper()
	if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_CLIENT_TESTS") != "" {
		t.Fatalf("%s cannot run: %s; %s", test, what, hint)
	}
	t.Skipf("SKIPPED %s: %s; %s (with CI or STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set this fails instead)", test, what, hint)
}

// runChild runs bin with args in dir and env, in its own process group
// (node --test and browsers start children; on timeout the whole group is
// killed, so nothing lingers), logging its output line by line. A non-zero
// exit or a timeout fails the test with the whole output.
func runChild(t testing.TB, bin, dir string, env []string, timeout time.Duration, prefix string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Stop waiting for the output pipes shortly after the process ends
	// even if a stray grandchild still holds them.
	cmd.WaitDelay = 5 * time.Second
	out := &lineLogger{t: t, prefix: prefix}
	cmd.Stdout = out
	cmd.Stderr = out
	start := time.Now()
	err := cmd.Run() // returns only after the output is copied: nothing logs after the test
	out.flush()
	name := filepath.Base(bin)
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v (killed): %v\n%s", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err, out.all())
	}
	if err != nil {
		t.Fatalf("%s %s failed: %v\n%s", name, strings.Join(args, " "), err, out.all())
	}
}

// lineLogger sends what a child process prints to t.Log line by line as
// it comes, and keeps all of it for the failure message.
type lineLogger struct {
	t      testing.TB
	prefix string

	mu      sync.Mutex
	partial []byte
	buf     bytes.Buffer
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.prefix + strings.TrimRight(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// flush logs an unterminated last line.
func (w *lineLogger) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.t.Log(w.prefix + string(w.partial))
		w.partial = nil
	}
}

func (w *lineLogger) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

//go:build unix

package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway"
)

// stompJSDir holds the Node project of the @stomp/stompjs client test; its
// node_modules come from `npm ci --prefix gateway/testdata/stompjs`, which
// `make test` runs.
const stompJSDir = "testdata/stompjs"

// TestStompJSClient runs testdata/stompjs/client.test.mjs, the
// @stomp/stompjs client (on the ws package) under node's test runner,
// against a gateway on the embedded broker.
//
// Without node or the installed packages it skips, loudly; with CI or
// STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set it fails instead, so a CI run can
// never pass without it.
func TestStompJSClient(t *testing.T) {
	t.Parallel()
	node := requireStompJS(t)

	ts := startServer(t, func(c *gateway.Config) {
		// The Node test asks for 250 ms heart-beats both ways.
		c.HeartbeatMin = 50 * time.Millisecond
	})

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "client.test.mjs")
	cmd.Dir = stompJSDir
	cmd.Env = append(os.Environ(), "GATEWAY_URL="+ts.WSURL, "NO_COLOR=1")
	// node --test runs the file in a child process: on timeout, kill the
	// whole process group, not just the runner.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Stop waiting for the output pipes shortly after the process ends
	// even if a stray grandchild still holds them.
	cmd.WaitDelay = 5 * time.Second
	out := &testLogWriter{t: t, prefix: "node: "}
	cmd.Stdout = out
	cmd.Stderr = out

	start := time.Now()
	err := cmd.Run() // returns only after the output is copied: nothing logs after the test
	out.flush()
	if ctx.Err() != nil {
		t.Fatalf("node --test did not finish within %v (killed): %v\n%s", time.Since(start).Round(time.Millisecond), err, out.all())
	}
	if err != nil {
		t.Fatalf("node --test %s failed: %v\n%s", filepath.Join(stompJSDir, "client.test.mjs"), err, out.all())
	}
}

// requireStompJS returns the path of node, or skips (fails under CI or
// STOMP_GATEWAY_REQUIRE_CLIENT_TESTS) when node or the client packages
// are missing.
func requireStompJS(t *testing.T) string {
	t.Helper()
	const hint = "run `make test`, which installs the client packages (npm ci --prefix gateway/testdata/stompjs) before go test"
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_CLIENT_TESTS") != "" {
			t.Fatalf("stompjs client test cannot run: %s; %s", what, hint)
		}
		t.Skipf("SKIPPED stompjs client test: %s; %s (with CI or STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set this fails instead)", what, hint)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node (Node.js 20 or later) is not on PATH")
	}
	for _, pkg := range []string{"@stomp/stompjs", "ws"} {
		p := filepath.Join(stompJSDir, "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				missing(p + " is missing")
			} else {
				missing(err.Error())
			}
		}
	}
	return node
}

// testLogWriter sends what a child process prints to t.Log line by line as
// it comes, and keeps all of it for the failure message.
type testLogWriter struct {
	t      *testing.T
	prefix string

	mu      sync.Mutex
	partial []byte
	buf     bytes.Buffer
}

func (w *testLogWriter) Write(p []byte) (int, error) {
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
func (w *testLogWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.t.Log(w.prefix + string(w.partial))
		w.partial = nil
	}
}

func (w *testLogWriter) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

//go:build unix

package chat_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/examples/chat"
	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// screenshotDir is where the browser test leaves its screenshots (ignored
// by git).
const screenshotDir = "test-output"

// TestChatRoomInARealBrowser serves the chat page and the gateway, with
// the in-process chat backend on the embedded broker, and runs
// testdata/browser.mjs: headless Chromium, driven by playwright-core,
// opens the page as alice and bob in room 5 and carol in room 6. alice's
// post reaches bob and not carol; HTML in a post shows as text; bob's page
// reconnects after its WebSocket is cut. It saves a screenshot of bob's
// page, and of all three side by side, in test-output/.
//
// Without Chromium, node or the npm packages it skips, loudly; with CI or
// STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set it fails instead.
func TestChatRoomInARealBrowser(t *testing.T) {
	t.Parallel()
	node, chromium := requireBrowser(t)

	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	broker := memory.New()
	t.Cleanup(func() { broker.Close() })
	cfg := gatewaytest.TestConfig()
	// The page asks for 10 s heart-beats both ways; agree to them.
	cfg.HeartbeatMin = time.Second
	gw, err := gateway.New(cfg, broker, auth.AllowAll{}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	backend, err := chat.StartBackend(t.Context(), broker, "stomp-gateway.app", "x-stomp-user", log.With().Str("component", "chat-backend").Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(backend.Close)
	mux := http.NewServeMux()
	mux.Handle(cfg.WSPath, gw)
	mux.Handle("/", chat.Handler("."))
	server := httptest.NewServer(mux)
	t.Cleanup(func() {
		// Cleanups run last-in first-out: the server and the gateway
		// stop before the backend and the broker.
		server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
	})

	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(screenshotDir, "chat-room*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	screenshot, err := filepath.Abs(filepath.Join(screenshotDir, "chat-room.png"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "browser.mjs"))
	cmd.Env = append(os.Environ(), "CHAT_URL="+server.URL+"/", "CHROMIUM="+chromium, "SCREENSHOT="+screenshot, "NO_COLOR=1")
	// Chromium runs as node's children: on timeout, kill the whole
	// process group so no browser lingers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out := &lineLogger{t: t, prefix: "browser: "}
	cmd.Stdout = out
	cmd.Stderr = out

	start := time.Now()
	err = cmd.Run()
	out.flush()
	if ctx.Err() != nil {
		t.Fatalf("testdata/browser.mjs did not finish within %v (killed): %v\n%s", time.Since(start).Round(time.Millisecond), err, out.all())
	}
	if err != nil {
		t.Fatalf("testdata/browser.mjs failed: %v\n%s", err, out.all())
	}
	t.Logf("screenshots in %s", filepath.Dir(screenshot))
}

// requireBrowser returns the paths of node and Chromium, or skips (fails
// under CI or STOMP_GATEWAY_REQUIRE_CLIENT_TESTS) when they or the npm
// packages are missing.
func requireBrowser(t *testing.T) (node, chromium string) {
	t.Helper()
	const hint = "run `make test`, which installs them (apt-get install chromium; npm ci --prefix examples/chat) before go test"
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_CLIENT_TESTS") != "" {
			t.Fatalf("chat browser test cannot run: %s; %s", what, hint)
		}
		t.Skipf("SKIPPED chat browser test: %s; %s (with CI or STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set this fails instead)", what, hint)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node (Node.js 20 or later) is not on PATH")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if chromium, err = exec.LookPath(name); err == nil {
			break
		}
	}
	if chromium == "" {
		missing("chromium is not on PATH")
	}
	for _, pkg := range []string{"playwright-core", "@stomp/stompjs"} {
		p := filepath.Join("node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				missing("examples/chat/" + filepath.ToSlash(p) + " is missing")
			} else {
				missing(err.Error())
			}
		}
	}
	return node, chromium
}

// lineLogger sends what a child process prints to t.Log line by line as
// it comes, and keeps all of it for the failure message.
type lineLogger struct {
	t      *testing.T
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

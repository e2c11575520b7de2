//go:build unix

package chat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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
// the in-process chat backend on the embedded broker and the chat room's
// ACL (acl), and runs
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
	// Under the README's chat rules: the page needs nothing more.
	authz, err := auth.NewAuthorizer("acl")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(cfg, broker, auth.AllowAll{}, authz, log)
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

	gatewaytest.RunNode(t, node, ".", []string{"CHAT_URL=" + server.URL + "/", "CHROMIUM=" + chromium, "SCREENSHOT=" + screenshot},
		2*time.Minute, "browser: ", filepath.Join("testdata", "browser.mjs"))
	t.Logf("screenshots in %s", filepath.Dir(screenshot))
}

// requireBrowser returns the paths of node and Chromium once they and the
// npm packages are installed (see gatewaytest.Missing for when it skips or
// fails).
func requireBrowser(t *testing.T) (node, chromium string) {
	t.Helper()
	const test, hint = "chat browser test", "run `make test`, which installs them (apt-get install chromium; npm ci --prefix examples/chat) before go test"
	node = gatewaytest.RequireNode(t, test, hint, ".", "playwright-core", "@stomp/stompjs")
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return node, p
		}
	}
	gatewaytest.Missing(t, test, "chromium is not on PATH", hint)
	return "", ""
}

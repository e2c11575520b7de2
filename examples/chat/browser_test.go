//go:build unix

package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/examples/chat"
	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// screenshotDir is where the browser test leaves its screenshots (ignored
// by git).
const screenshotDir = "test-output"

// chatBroker is a broker the browser test runs the chat room on, with the
// rooms' history kept (STOMP_GATEWAY_HISTORY_TOPICS=/topic/chat.room.*).
// The history lives in the broker, so it outlives a gateway restart.
type chatBroker struct {
	name string
	open func(t *testing.T, routing broker.RoutingConfig) broker.Broker
}

// chatBrokers are the brokers TestChatRoomInARealBrowser runs on.
var chatBrokers = []chatBroker{
	{name: "memory", open: func(t *testing.T, cfg broker.RoutingConfig) broker.Broker {
		b := memory.NewWithConfig(memory.Config{Routing: cfg})
		t.Cleanup(func() { b.Close() })
		return b
	}},
	{name: "rabbitmq", open: func(t *testing.T, cfg broker.RoutingConfig) broker.Broker {
		rb := relaytest.Require(t)
		stream := rb.Name("chat-history")
		rb.DeleteQueue(stream)
		return relaytest.NewRelay(t, func(c *relay.Config) {
			c.TopicExchange, c.AppPrefix, c.AppExchange, c.SlashStyle = cfg.TopicExchange, cfg.AppPrefix, cfg.AppExchange, cfg.Slash
			c.HistoryTopics, c.HistoryMaxAge, c.HistoryMaxBytes = cfg.History.Topics, cfg.History.MaxAge, cfg.History.MaxBytes
			c.HistoryStream = stream
		})
	}},
}

// chatRouting is the routing the demo runs with (`make run`): the relay's
// defaults, the rooms kept.
func chatRouting() broker.RoutingConfig {
	cfg := routing.DefaultConfig()
	cfg.History.Topics = []string{"/topic/chat.room.*"}
	return cfg
}

// TestChatRoomInARealBrowser serves the chat page and the gateway, with
// the in-process chat backend on each chat broker and the chat room's ACL
// (acl), and runs testdata/browser.mjs: headless Chromium, driven by
// playwright-core, opens the page as alice and bob in room 5 and carol in
// room 6. alice's post reaches bob and not carol; HTML in a post shows as
// text; bob's page reconnects after its WebSocket is cut; the gateway
// stops in the middle of the conversation, dave posts meanwhile (through
// the broker), a gateway starts again on the same address, and the pages
// show dave's posts once, in order, marked as missed, then "caught up". It
// saves a screenshot of bob's page, and of all three side by side, in
// test-output/.
//
// Without Chromium, node or the npm packages it skips, loudly; with CI or
// STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set it fails instead.
func TestChatRoomInARealBrowser(t *testing.T) {
	t.Parallel()
	node, chromium := requireBrowser(t)
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(screenshotDir, "chat-room*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	for _, cb := range chatBrokers {
		t.Run(cb.name, func(t *testing.T) {
			t.Parallel()
			runChatInBrowser(t, node, chromium, cb)
		})
	}
}

func runChatInBrowser(t *testing.T, node, chromium string, cb chatBroker) {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	b := cb.open(t, chatRouting())
	backend, err := chat.StartBackend(t.Context(), b, "stomp-gateway.app", "x-stomp-user", log.With().Str("component", "chat-backend").Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(backend.Close)
	gw := startChatGateway(t, b, log)
	// Cleanups run last-in first-out: the gateway stops before the
	// backend and the broker.
	t.Cleanup(gw.stop)
	control := httptest.NewServer(gw.control(t, b))
	t.Cleanup(control.Close)

	screenshot, err := filepath.Abs(filepath.Join(screenshotDir, "chat-room-"+cb.name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	gatewaytest.RunNode(t, node, ".", []string{"CHAT_URL=" + gw.url + "/", "CONTROL_URL=" + control.URL, "CHROMIUM=" + chromium, "SCREENSHOT=" + screenshot},
		2*time.Minute, "browser: ", filepath.Join("testdata", "browser.mjs"))
	t.Logf("screenshots in %s", filepath.Dir(screenshot))
}

// chatGateway is the gateway and the chat page on one address, which the
// test can stop and start again (a deploy, a crash) while the broker, and
// the history in it, stays.
type chatGateway struct {
	b   broker.Broker
	log zerolog.Logger
	url string // http://127.0.0.1:port

	mu   sync.Mutex
	addr string
	gw   *gateway.Server
	hs   *http.Server
}

func startChatGateway(t *testing.T, b broker.Broker, log zerolog.Logger) *chatGateway {
	t.Helper()
	g := &chatGateway{b: b, log: log, addr: "127.0.0.1:0"}
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
	g.url = "http://" + g.addr
	return g
}

// start serves a new gateway on the address, the first one's.
func (g *chatGateway) start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gw != nil {
		return errors.New("the gateway is running")
	}
	cfg := gatewaytest.TestConfig()
	// The page asks for 10 s heart-beats both ways; agree to them.
	cfg.HeartbeatMin = time.Second
	// Under the README's chat rules: the page needs nothing more.
	authz, err := auth.NewAuthorizer("acl")
	if err != nil {
		return err
	}
	gw, err := gateway.New(cfg, g.b, auth.AllowAll{}, authz, g.log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.WSPath, gw)
	mux.Handle("/", chat.Handler("."))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	g.addr, g.gw, g.hs = ln.Addr().String(), gw, hs
	return nil
}

// stop shuts the gateway down as SIGTERM does (ERROR "server shutting
// down" to every session, close 1001) and closes its listener.
func (g *chatGateway) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gw == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.gw.Shutdown(ctx); err != nil {
		g.log.Error().Err(err).Msg("gateway shutdown")
	}
	_ = g.hs.Close()
	g.gw, g.hs = nil, nil
}

// control is what browser.mjs drives the test's side with: POST
// /gateway/stop, /gateway/start, and /post?room=N&writer=W&text=T, a post
// published to the room through the broker (as the chat backend publishes
// it), answered once the broker confirmed it.
func (g *chatGateway) control(t *testing.T, b broker.Broker) http.Handler {
	poster, err := b.Connect(t.Context(), broker.ConnectInfo{SessionID: "browser-test-poster", User: "chat-backend"}, discard{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { poster.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gateway/stop", func(w http.ResponseWriter, r *http.Request) { g.stop() })
	mux.HandleFunc("POST /gateway/start", func(w http.ResponseWriter, r *http.Request) {
		if err := g.start(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		room, _ := strconv.Atoi(q.Get("room"))
		in, _ := json.Marshal(chat.Post{ChatRoomID: room, Type: "MESSAGE", Message: q.Get("text")})
		key, body, err := chat.Route(in, q.Get("writer"), time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		confirmed := make(chan error, 1)
		m := &broker.Message{Destination: "/topic/" + key, Body: body, Headers: []broker.Header{{Name: "content-type", Value: "application/json"}}}
		if err := poster.Publish(r.Context(), m, func(err error) { confirmed <- err }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := <-confirmed; err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// discard is a broker.Handler for a Conn that only publishes.
type discard struct{}

func (discard) Deliver(*broker.Delivery) {}
func (discard) Lost(string, error)       {}

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

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kelseyhightower/envconfig"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/relay"
)

func TestHelpPrintsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-h"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, spec := range specs() {
		typ := reflect.TypeOf(spec).Elem()
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := prefix + "_" + f.Tag.Get("envconfig")
			if !strings.Contains(out.String(), name) {
				t.Errorf("-h does not list %s", name)
			}
			if f.Tag.Get("desc") == "" {
				t.Errorf("%s has no description", name)
			}
			if _, ok := f.Tag.Lookup("default"); !ok {
				t.Errorf("%s has no default", name)
			}
		}
	}
}

// gateway.DefaultConfig is what tests and embedders use; it must say what
// the environment defaults say.
func TestDefaultConfigMatchesTheEnvironmentDefaults(t *testing.T) {
	var fromEnv gateway.Config
	if err := envconfig.Process("STOMP_GATEWAY_UNSET_PREFIX_FOR_TEST", &fromEnv); err != nil {
		t.Fatal(err)
	}
	fromEnv.AllowedOrigins = nil // envconfig turns "" into an empty, non-nil slice
	if want := gateway.DefaultConfig(); !reflect.DeepEqual(fromEnv, want) {
		t.Fatalf("envconfig defaults\n%+v\nDefaultConfig\n%+v", fromEnv, want)
	}
}

// The embedded broker applies the relay's routing settings, and the
// rules' defaults are the environment's.
func TestEmbeddedBrokerRoutesAsTheRelayIsConfigured(t *testing.T) {
	var cfg relay.Config
	if err := envconfig.Process("STOMP_GATEWAY_UNSET_PREFIX_FOR_TEST", &cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.RoutingConfig(), routing.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("environment defaults %+v, routing.DefaultConfig %+v", got, want)
	}
	cfg.URLs = nil
	cfg.TopicExchange, cfg.AppPrefix, cfg.AppExchange, cfg.SlashStyle = "events", "/app", "backend", true
	cfg.HistoryTopics, cfg.HistoryMaxAge, cfg.HistoryMaxBytes = []string{"/topic/chat/**"}, time.Minute, 1<<20
	b, err := openBroker(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, want := b.Routing(), cfg.RoutingConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("embedded broker routes with %+v, want %+v", got, want)
	}
}

// binDir holds the real command, built once for the tests that run it.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binError = os.MkdirTemp("", "stomp-gateway-test")
		if binError != nil {
			return
		}
		binPath = filepath.Join(binDir, "stomp-gateway")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestSIGTERMTellsSessionsAndExitsCleanly(t *testing.T) {
	bin := buildBinary(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "STOMP_GATEWAY_LISTEN="+addr, "STOMP_GATEWAY_LOG_FORMAT=json", "STOMP_GATEWAY_AMQP_URL=", "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_ADMIN_LISTEN=127.0.0.1:0", "STOMP_GATEWAY_DRAIN_DELAY=0s")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	var ws *websocket.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		ws, _, err = websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not listen: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte("CONNECT\naccept-version:1.2\nhost:/\n\n\x00"))
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(b), "CONNECTED\n") {
		t.Fatalf("got %q, %v", b, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, b, err := ws.ReadMessage()
	if err != nil || !strings.HasPrefix(string(b), "ERROR\n") || !strings.Contains(string(b), "message:server shutting down\n") {
		t.Fatalf("got %q, %v; want ERROR server shutting down", b, err)
	}
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("got %v, want close 1001", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "embedded in-memory broker") {
		t.Errorf("the log does not say the embedded broker is used:\n%s", logs.String())
	}
}

func TestUnknownLogLevelIsAnError(t *testing.T) {
	t.Setenv("STOMP_GATEWAY_LOG_LEVEL", "loud")
	err := run(nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "STOMP_GATEWAY_LOG_LEVEL") {
		t.Fatalf("got %v", err)
	}
}

func TestREADMEConfigTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(readme), "<!-- config:start -->\n")
	table, _, ok2 := strings.Cut(rest, "<!-- config:end -->")
	if !ok1 || !ok2 {
		t.Fatal("README has no config:start/config:end markers")
	}
	var want bytes.Buffer
	if err := configTable(&want); err != nil {
		t.Fatal(err)
	}
	if table != want.String() {
		t.Fatalf("README's configuration table is stale; regenerate it with `make docs`.\nwant:\n%s", want.String())
	}
}

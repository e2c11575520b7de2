package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// users is the authentication port as a table: login → passcode, and
// bearer tokens → identities. The backends themselves are tested in auth.
type users struct {
	mu     sync.Mutex
	pass   map[string]string
	tokens map[string]auth.Identity
	down   bool
	seen   []auth.Credentials
}

func (u *users) Authenticate(_ context.Context, c auth.Credentials) (auth.Identity, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen = append(u.seen, c)
	if u.down {
		return auth.Identity{}, fmt.Errorf("%w: auth service returned 503", auth.ErrUnavailable)
	}
	if id, ok := u.tokens[c.Token]; ok && c.Token != "" {
		return id, nil
	}
	if p, ok := u.pass[c.Login]; ok && p == c.Passcode {
		if c.VHost == "forbidden" {
			return auth.Identity{}, fmt.Errorf("%w: not this user's", auth.ErrVHostDenied)
		}
		return auth.Identity{User: c.Login}, nil
	}
	return auth.Identity{}, fmt.Errorf("%w: bad password", auth.ErrDenied)
}

type authServer struct {
	*testServer
	users *users
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAuthServer runs a gateway with the users table, an ACL file (none
// when acl is "") and its logs captured.
func startAuthServer(t *testing.T, acl string, tweak ...func(*gateway.Config)) *authServer {
	t.Helper()
	cfg := gatewaytest.TestConfig()
	cfg.AuthFailureDelay = 50 * time.Millisecond
	for _, f := range tweak {
		f(&cfg)
	}
	path := ""
	if acl != "" {
		path = filepath.Join(t.TempDir(), "acl")
		if err := os.WriteFile(path, []byte(acl), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	authz, err := auth.NewAuthorizer(path)
	if err != nil {
		t.Fatal(err)
	}
	u := &users{pass: map[string]string{"alice": "wonderland", "bob": "builder"}, tokens: map[string]auth.Identity{}}
	logs := &syncBuffer{}
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	ts := gatewaytest.StartAuth(t, b, cfg, u, authz, zerolog.New(logs).Level(zerolog.DebugLevel))
	return &authServer{testServer: ts, users: u, logs: logs}
}

func (s *authServer) login(t *testing.T, user, pass string) *client {
	t.Helper()
	c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	c.Connect("accept-version:1.2", "host:/", "login:"+user, "passcode:"+pass)
	return c
}

func TestFailedLoginsGetOneUniformErrorAfterADelay(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	for _, creds := range [][2]string{{"alice", "wrong"}, {"nobody", "x"}, {"", ""}} {
		c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
		start := time.Now()
		c.Send(stomp.CmdConnect, "accept-version:1.2", "host:/", "login:"+creds[0], "passcode:"+creds[1])
		f, code := c.ExpectError("Bad CONNECT")
		if el := time.Since(start); el < 50*time.Millisecond {
			t.Errorf("%v: answered after %v, before the 50 ms delay", creds, el)
		}
		if code != 1008 {
			t.Errorf("close code %d", code)
		}
		// RabbitMQ's words, the same whatever the reason (a wrong
		// password, an unknown user): only the login sent is echoed.
		if want := "Access refused for user '" + creds[0] + "'"; string(f.Body) != want {
			t.Errorf("%v: ERROR body %q, want %q", creds, f.Body, want)
		}
	}
	c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	header(t, c.Connect("accept-version:1.2", "login:alice", "passcode:wonderland"), "user-name", "alice")
}

func TestFailedConnectsAreRateLimitedPerClientAddress(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "", func(c *gateway.Config) {
		c.AuthFailuresPerMinute = 2
		c.TrustedProxies = []string{"127.0.0.1"}
	})
	from := func(addr string) *client {
		h := http.Header{}
		h.Set("X-Forwarded-For", addr)
		c, err := dialErr(t, s.WSURL, h, "v12.stomp")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for range 2 {
		c := from("203.0.113.7")
		c.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:guess")
		c.ExpectError("Bad CONNECT")
	}
	// Even the right password is not checked now from that address.
	c := from("203.0.113.7")
	c.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:wonderland")
	c.ExpectError("too many failed logins")
	// Another client behind the same trusted proxy is not affected.
	other := from("203.0.113.8")
	other.Connect("accept-version:1.2", "login:alice", "passcode:wonderland")
}

func TestXForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "", func(c *gateway.Config) { c.AuthFailuresPerMinute = 1 })
	for i, addr := range []string{"198.51.100.1", "198.51.100.2"} {
		h := http.Header{}
		h.Set("X-Forwarded-For", addr) // a client trying to look like many
		c, err := dialErr(t, s.WSURL, h, "v12.stomp")
		if err != nil {
			t.Fatal(err)
		}
		c.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:guess")
		want := "Bad CONNECT"
		if i == 1 {
			want = "too many failed logins"
		}
		c.ExpectError(want)
	}
}

func TestAuthServiceDownFailsClosedWithAClearError(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	s.users.down = true
	c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	c.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:wonderland")
	c.ExpectError("authentication unavailable")
}

func TestDestinationsAreAuthorizedByTheACL(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, `
*      readwrite /topic/chat.*
*      read      /queue/user.{user}
alice  write     /queue/user.*
`)
	bob := s.login(t, "bob", "builder")
	bob.Subscribe("inbox", "/queue/user.bob")
	bob.Subscribe("chat", "/topic/chat.room")

	alice := s.login(t, "alice", "wonderland")
	alice.Publish("/queue/user.bob", "hi bob")
	if m := bob.Expect(stomp.CmdMessage); string(m.Body) != "hi bob" {
		t.Fatalf("got %q", m.Body)
	}

	// bob may not read alice's queue, nor write to it.
	spy := s.login(t, "bob", "builder")
	spy.Send(stomp.CmdSubscribe, "id:x", "destination:/queue/user.alice")
	f, code := spy.ExpectError("access_refused")
	if !strings.Contains(string(f.Body), "/queue/user.alice") || code != 1008 {
		t.Errorf("ERROR %q, close %d", f.Body, code)
	}
	w := s.login(t, "bob", "builder")
	w.SendBody(stomp.CmdSend, "forged", "destination:/queue/user.bob", "receipt:r")
	f, _ = w.ExpectError("access_refused")
	header(t, f, "receipt-id", "r")

	// A refused SEND inside a transaction is refused at once.
	tx := s.login(t, "bob", "builder")
	tx.Send(stomp.CmdBegin, "transaction:t")
	tx.SendBody(stomp.CmdSend, "x", "destination:/queue/user.alice", "transaction:t")
	tx.ExpectError("access_refused")

	// Nothing was published: bob's inbox got only alice's message.
	alice.Publish("/topic/chat.room", "fence")
	if m := bob.Expect(stomp.CmdMessage); string(m.Body) != "fence" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestPublishedMessagesCarryTheAuthenticatedUserAndClientsCannotForgeIt(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	sub := s.login(t, "bob", "builder")
	sub.Subscribe("s", "/topic/who")
	alice := s.login(t, "alice", "wonderland")
	alice.Publish("/topic/who", "x", "x-stomp-user:admin")
	m := sub.Expect(stomp.CmdMessage)
	header(t, m, "x-stomp-user", "alice")
	n := 0
	for _, h := range m.Headers {
		if h.Key == "x-stomp-user" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d x-stomp-user headers", n)
	}
}

// The session of an expiring token is closed with ERROR "token expired"
// within a second of exp, and gets no MESSAGE after it, even when it only
// receives.
func TestSessionIsClosedWhenItsTokenExpires(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	exp := time.Now().Add(700 * time.Millisecond)
	s.users.mu.Lock()
	s.users.tokens["short-lived"] = auth.Identity{User: "carol", Expires: exp}
	s.users.mu.Unlock()

	rcv := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	rcv.Connect("accept-version:1.2", "host:/", "passcode:x", "Authorization:Bearer short-lived")
	rcv.Subscribe("s", "/topic/ticks")

	stop := make(chan struct{})
	done := make(chan struct{})
	pub := s.login(t, "alice", "wonderland")
	var sentMu sync.Mutex
	sent := map[string]time.Time{} // body: when its SEND went out
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			body := fmt.Sprint(i)
			sentMu.Lock()
			sent[body] = time.Now()
			sentMu.Unlock()
			if pub.WS.WriteMessage(1, gatewaytest.Frame("SEND", body, "destination:/topic/ticks")) != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()

	var lastMessage time.Time
	messages := 0
	for {
		f, err := rcv.ReadErr(3 * time.Second)
		if err != nil {
			t.Fatalf("no ERROR: %v", err)
		}
		now := time.Now()
		if f.Command == stomp.CmdMessage {
			messages++
			lastMessage = now
			// Written before exp, a frame can still be read well after
			// it on a busy machine; one whose SEND went out after exp
			// was written after exp. (That the gateway checks every
			// MESSAGE it writes is TestNoMessageIsWrittenAfterTheCredentialsExpire.)
			sentMu.Lock()
			at, ok := sent[string(f.Body)]
			sentMu.Unlock()
			if !ok || at.After(exp) {
				t.Fatalf("MESSAGE %q, sent %v after exp, was delivered", f.Body, at.Sub(exp))
			}
			continue
		}
		if f.Command != stomp.CmdError || f.Get("message") != "token expired" {
			t.Fatalf("got %s %v", f.Command, f.Headers)
		}
		late := now.Sub(exp)
		if late > time.Second || late < 0 {
			t.Fatalf("closed %v after exp", late)
		}
		t.Logf("token expired: %d messages until %v before exp; ERROR %v after exp", messages, exp.Sub(lastMessage), late)
		break
	}
	if messages == 0 {
		t.Fatal("the session received nothing before exp")
	}
	rcv.ExpectClose()
}

func TestAlreadyExpiredTokenIsRefused(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	s.users.mu.Lock()
	s.users.tokens["old"] = auth.Identity{User: "carol", Expires: time.Now().Add(-time.Second)}
	s.users.mu.Unlock()
	c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	c.Send(stomp.CmdConnect, "accept-version:1.2", "Authorization:Bearer old")
	c.ExpectError("Bad CONNECT")
}

func TestCredentialsFromTheUpgradeRequest(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "", func(c *gateway.Config) {
		c.AuthFromUpgrade = true
		c.AuthCookie = "session_token"
	})
	s.users.mu.Lock()
	s.users.tokens["tok-123"] = auth.Identity{User: "dave"}
	s.users.mu.Unlock()
	cases := map[string]func(h http.Header) string{
		"Authorization: Bearer": func(h http.Header) string { h.Set("Authorization", "Bearer tok-123"); return s.WSURL },
		"cookie":                func(h http.Header) string { h.Set("Cookie", "session_token=tok-123"); return s.WSURL },
		"access_token query":    func(http.Header) string { return s.WSURL + "?access_token=tok-123" },
		"Authorization: Basic": func(h http.Header) string {
			r, _ := http.NewRequest("GET", "http://x", nil)
			r.SetBasicAuth("alice", "wonderland")
			h.Set("Authorization", r.Header.Get("Authorization"))
			return s.WSURL
		},
	}
	for name, set := range cases {
		h := http.Header{}
		url := set(h)
		c, err := dialErr(t, url, h, "v12.stomp")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f := c.Connect("accept-version:1.2", "host:/")
		if u := f.Get("user-name"); u != "dave" && u != "alice" {
			t.Errorf("%s: user-name %q", name, u)
		}
	}
}

func TestCredentialsNeverReachTheLogs(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	s.users.mu.Lock()
	s.users.tokens["eyJ-secret-token"] = auth.Identity{User: "erin"}
	s.users.mu.Unlock()
	ok := s.login(t, "alice", "wonderland")
	ok.Send(stomp.CmdDisconnect)
	bad := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	bad.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:hunter2-secret")
	bad.ExpectError("Bad CONNECT")
	tok := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	tok.Connect("accept-version:1.2", "Authorization:Bearer eyJ-secret-token")
	tok.Send(stomp.CmdDisconnect, "receipt:r")
	tok.Expect(stomp.CmdReceipt)
	logs := s.logs.String()
	if !strings.Contains(logs, "authentication failed") {
		t.Fatalf("the failed login is not logged:\n%s", logs)
	}
	for _, secret := range []string{"wonderland", "hunter2-secret", "eyJ-secret-token"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestIdleSessionIsClosedWhenItsTokenExpires(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	exp := time.Now().Add(300 * time.Millisecond)
	s.users.mu.Lock()
	s.users.tokens["idle"] = auth.Identity{User: "carol", Expires: exp}
	s.users.mu.Unlock()
	c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	c.Connect("accept-version:1.2", "Authorization:Bearer idle")
	c.Subscribe("s", "/topic/quiet")
	c.ExpectError("token expired")
	if late := time.Since(exp); late > time.Second {
		t.Fatalf("closed %v after exp", late)
	}
}

func TestOneLogLinePerSessionEndWithItsNumbers(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	c := s.login(t, "alice", "wonderland")
	c.Subscribe("s", "/topic/log")
	c.Publish("/topic/log", "hello")
	c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	c.Expect(stomp.CmdReceipt)
	c.ExpectClose()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if !strings.Contains(line, `"session ended"`) || !strings.Contains(line, `"user":"alice"`) {
				continue
			}
			for _, field := range []string{`"transport":"ws"`, `"version":"1.2"`, `"duration":`, `"frames_in":4`, `"frames_out":5`, `"bytes_in":`, `"bytes_out":`, `"reason":"client disconnected"`} {
				if !strings.Contains(line, field) {
					t.Errorf("session end line lacks %s: %s", field, line)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session end line:\n%s", s.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package gateway_test

import (
	"context"
	"fmt"
	"net/http"
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

// countingAuth is a slow backend that counts its checks and how many ran
// at once: alice/wonderland is the only valid login.
type countingAuth struct {
	delay                       time.Duration // each check takes this long
	gate                        chan struct{} // when set, each check waits for it instead
	mu                          sync.Mutex
	checks, running, maxRunning int
}

func (a *countingAuth) Authenticate(ctx context.Context, c auth.Credentials) (auth.Identity, error) {
	a.mu.Lock()
	a.checks++
	a.running++
	a.maxRunning = max(a.maxRunning, a.running)
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.running--
		a.mu.Unlock()
	}()
	if a.gate != nil {
		<-a.gate
	} else {
		t := time.NewTimer(a.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return auth.Identity{}, fmt.Errorf("%w: %w", auth.ErrUnavailable, ctx.Err())
		}
	}
	if c.Login == "alice" && c.Passcode == "wonderland" {
		return auth.Identity{User: c.Login}, nil
	}
	return auth.Identity{}, fmt.Errorf("%w: bad password", auth.ErrDenied)
}

func (a *countingAuth) counts() (checks, maxRunning int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checks, a.maxRunning
}

// startCounted runs a gateway behind a trusted proxy (127.0.0.1), so each
// test client can come from the address it names in X-Forwarded-For.
func startCounted(t *testing.T, a auth.Authenticator, tweak func(*gateway.Config)) *testServer {
	t.Helper()
	cfg := gatewaytest.TestConfig()
	cfg.TrustedProxies = []string{"127.0.0.1"}
	cfg.AuthFailureDelay = 50 * time.Millisecond
	tweak(&cfg)
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	return gatewaytest.StartAuth(t, b, cfg, a, nil, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel))
}

func dialFrom(t *testing.T, ts *testServer, addr string) *client {
	t.Helper()
	h := http.Header{}
	h.Set("X-Forwarded-For", addr)
	c, err := dialErr(t, ts.WSURL, h, "v12.stomp")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// burst opens one WebSocket per login, then sends every CONNECT before
// reading any answer, so the gateway handles them all at once. It returns
// each client's answer: CONNECTED, or the ERROR's message.
func burst(t *testing.T, ts *testServer, logins ...[3]string) []string {
	t.Helper()
	clients := make([]*client, len(logins))
	for i, l := range logins {
		clients[i] = dialFrom(t, ts, l[0])
	}
	for i, l := range logins {
		clients[i].Send(stomp.CmdConnect, "accept-version:1.2", "host:/", "login:"+l[1], "passcode:"+l[2])
	}
	answers := make([]string, len(logins))
	for i, c := range clients {
		f, err := c.ReadErr(15 * time.Second)
		switch {
		case err != nil:
			t.Fatalf("login %d: %v", i, err)
		case f.Command == stomp.CmdError:
			answers[i] = f.Get(stomp.HdrMessage)
		default:
			answers[i] = f.Command
		}
	}
	return answers
}

func tally(answers []string) map[string]int {
	n := map[string]int{}
	for _, a := range answers {
		n[a]++
	}
	return n
}

// The limit used to be read before the check and counted after it, so
// 100 parallel guesses from one address were all checked (100 bcrypt
// runs, 100 tries at the password). A token is now taken before the check.
func TestParallelWrongConnectsFromOneAddressGetNoMoreChecksThanTheLimit(t *testing.T) {
	t.Parallel()
	const limit = 5
	a := &countingAuth{delay: 200 * time.Millisecond}
	ts := startCounted(t, a, func(c *gateway.Config) { c.AuthFailuresPerMinute = limit })
	guesses := make([][3]string, 100)
	for i := range guesses {
		guesses[i] = [3]string{"203.0.113.7", "alice", fmt.Sprint("guess-", i)}
	}
	got := tally(burst(t, ts, guesses...))
	checks, _ := a.counts()
	t.Logf("100 parallel wrong CONNECTs: %d checked, answers %v", checks, got)
	if checks > limit || checks == 0 {
		t.Errorf("the backend checked %d of the guesses, want at most AUTH_FAILURES_PER_MINUTE = %d", checks, limit)
	}
	if got["Bad CONNECT"] != checks || got["too many failed logins"] != 100-checks {
		t.Errorf("answers %v", got)
	}
	bystander := dialFrom(t, ts, "203.0.113.8")
	bystander.Connect("accept-version:1.2", "host:/", "login:alice", "passcode:wonderland")
	stillWorks(t, bystander, "/queue/login.bystander")
}

// Users behind one NAT address log in together: while that address's
// checks are in flight, a login waits for them instead of being refused,
// and a successful check gives its token back.
func TestValidLoginsInABurstFromOneAddressAllSucceed(t *testing.T) {
	t.Parallel()
	a := &countingAuth{delay: 50 * time.Millisecond}
	ts := startCounted(t, a, func(c *gateway.Config) { c.AuthFailuresPerMinute = 5 })
	var logins [][3]string
	for i := range 50 {
		logins = append(logins, [3]string{"192.0.2.1", "alice", "wonderland"})
		if i%20 == 0 {
			logins = append(logins, [3]string{"192.0.2.1", "alice", "typo"})
		}
	}
	got := tally(burst(t, ts, logins...))
	if got[stomp.CmdConnected] != 50 || got["Bad CONNECT"] != 3 || len(got) != 2 {
		t.Fatalf("50 valid and 3 wrong logins from one address: %v", got)
	}
}

// A burst of CONNECTs from many addresses is checked at most
// AUTH_MAX_CONCURRENT_CHECKS at a time; each still gets its answer.
func TestCredentialChecksNeverExceedTheNodeWideCap(t *testing.T) {
	t.Parallel()
	const limit = 3
	a := &countingAuth{delay: 30 * time.Millisecond}
	ts := startCounted(t, a, func(c *gateway.Config) { c.AuthMaxConcurrentChecks = limit })
	var logins [][3]string
	for i := range 40 {
		pass := "wonderland"
		if i%2 == 1 {
			pass = "wrong"
		}
		logins = append(logins, [3]string{fmt.Sprintf("198.51.100.%d", i+1), "alice", pass})
	}
	got := tally(burst(t, ts, logins...))
	checks, maxRunning := a.counts()
	t.Logf("40 CONNECTs from 40 addresses: %d checks, at most %d at once; answers %v", checks, maxRunning, got)
	if maxRunning > limit {
		t.Errorf("%d checks ran at once, more than AUTH_MAX_CONCURRENT_CHECKS = %d", maxRunning, limit)
	}
	if checks != 40 || got[stomp.CmdConnected] != 20 || got["Bad CONNECT"] != 20 {
		t.Errorf("%d checks, answers %v; want all 40 checked", checks, got)
	}
}

// A CONNECT that finds no free check slot within CONNECT_TIMEOUT is
// refused as "authentication unavailable", its credentials unchecked.
func TestConnectWaitingForACheckSlotFailsAsAuthenticationUnavailable(t *testing.T) {
	t.Parallel()
	a := &countingAuth{gate: make(chan struct{})}
	ts := startCounted(t, a, func(c *gateway.Config) {
		c.AuthMaxConcurrentChecks = 1
		c.ConnectTimeout = 300 * time.Millisecond
	})
	defer close(a.gate)
	holder := dialFrom(t, ts, "198.51.100.1")
	holder.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:wonderland")
	for checks, _ := a.counts(); checks == 0; checks, _ = a.counts() {
		time.Sleep(5 * time.Millisecond)
	}
	waiter := dialFrom(t, ts, "198.51.100.2")
	waiter.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:wonderland")
	waiter.ExpectError("authentication unavailable")
	if checks, _ := a.counts(); checks != 1 {
		t.Errorf("%d checks: the waiting CONNECT reached the backend", checks)
	}
}

// RabbitMQ takes 3 s to refuse a wrong password; with a 1 s
// AUTH_FAILURE_DELAY on top the client waited 4 s. The answer now comes
// after the longer of the two, never their sum.
func TestWrongPasswordIsAnsweredAfterTheSlowerOfBackendAndDelayNotTheirSum(t *testing.T) {
	t.Parallel()
	const d = time.Second
	ts := startCounted(t, &countingAuth{delay: d}, func(c *gateway.Config) { c.AuthFailureDelay = d })
	c := dialFrom(t, ts, "203.0.113.20")
	start := time.Now()
	c.Send(stomp.CmdConnect, "accept-version:1.2", "login:alice", "passcode:wrong")
	c.ExpectError("Bad CONNECT")
	took := time.Since(start)
	t.Logf("backend %v, AUTH_FAILURE_DELAY %v: answered after %v", d, d, took)
	if took < d || took > d*16/10 {
		t.Fatalf("answered after %v; want about %v, clearly less than %v", took, d, 2*d)
	}
}

package auth

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

// testRabbitMQURL is the broker the tests check against; RabbitMQ lets
// guest/guest in from loopback only.
const testRabbitMQURL = "amqp://127.0.0.1:5672/"

// needRabbitMQ skips the test when RabbitMQ or its management API (which
// the rabbitmq backend reads permissions from) is not running, or fails
// it when CI or STOMP_GATEWAY_REQUIRE_RABBITMQ is set.
func needRabbitMQ(t *testing.T) {
	t.Helper()
	for _, addr := range []string{"127.0.0.1:5672", "127.0.0.1:15672"} {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			continue
		}
		if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_RABBITMQ") != "" {
			t.Fatalf("RabbitMQ unreachable on %s (required by CI / STOMP_GATEWAY_REQUIRE_RABBITMQ): %v", addr, err)
		}
		t.Skipf("SKIPPED: RabbitMQ unreachable on %s (%v); `make rabbitmq` starts it and enables rabbitmq_management", addr, err)
	}
}

func newTestRabbitMQ(t *testing.T, url string, ttl time.Duration) *RabbitMQ {
	t.Helper()
	return newTestRabbitMQConfig(t, url, Config{RabbitMQCacheTTL: ttl, RabbitMQPermissionsTTL: time.Minute})
}

func newTestRabbitMQConfig(t *testing.T, url string, cfg Config) *RabbitMQ {
	t.Helper()
	r, err := NewRabbitMQ(url, cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("NewRabbitMQ: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRabbitMQChecksLoginAgainstTheBroker(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	tests := []struct {
		name    string
		creds   Credentials
		wantErr error
	}{
		{name: "guest/guest is accepted", creds: Credentials{Login: "guest", Passcode: "guest"}},
		{name: "guest/guest on vhost / is accepted", creds: Credentials{Login: "guest", Passcode: "guest", VHost: "/"}},
		{name: "wrong passcode is denied", creds: Credentials{Login: "guest", Passcode: "wrong"}, wantErr: ErrDenied},
		{name: "unknown user is denied", creds: Credentials{Login: "nobody-" + testPasscode, Passcode: testPasscode}, wantErr: ErrDenied},
		{name: "unknown vhost is denied", creds: Credentials{Login: "guest", Passcode: "guest", VHost: "no-such-vhost"}, wantErr: ErrDenied},
		{name: "empty login is denied", creds: Credentials{Passcode: "guest", Token: testToken}, wantErr: ErrDenied},
		{name: "NUL in the login is denied", creds: Credentials{Login: "guest\x00guest", Passcode: "guest"}, wantErr: ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRabbitMQ(t, testRabbitMQURL, time.Minute)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			id, err := r.Authenticate(ctx, tt.creds)
			checkNoSecrets(t, err)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if id.User != tt.creds.Login || id.Permissions != nil || !id.Expires.IsZero() || id.Resources == nil {
				t.Errorf("identity = %+v, want user %q with RabbitMQ's permissions, without token permissions or expiry", id, tt.creds.Login)
			}
		})
	}
}

func TestRabbitMQEmptyLoginDoesNotDial(t *testing.T) {
	t.Parallel()
	r := newTestRabbitMQ(t, "amqp://127.0.0.1:1/", time.Minute)
	if _, err := r.Authenticate(context.Background(), Credentials{Token: testToken}); !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	if n := r.dials.Load(); n != 0 {
		t.Errorf("%d dials for an empty login", n)
	}
}

func TestRabbitMQCachesSuccessForTTL(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	r := newTestRabbitMQ(t, testRabbitMQURL, 300*time.Millisecond)
	guest := Credentials{Login: "guest", Passcode: "guest"}
	for i := range 3 {
		if id, err := r.Authenticate(context.Background(), guest); err != nil || id.User != "guest" {
			t.Fatalf("call %d: %+v, %v", i, id, err)
		}
	}
	if n := r.dials.Load(); n != 1 {
		t.Fatalf("%d dials within the TTL, want 1", n)
	}
	waitFor(t, 5*time.Second, "the cached success to expire", func() bool {
		if _, err := r.Authenticate(context.Background(), guest); err != nil {
			t.Fatal(err)
		}
		return r.dials.Load() > 1
	})
}

func TestRabbitMQCachesRefusalBriefly(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	r := newTestRabbitMQ(t, testRabbitMQURL, time.Minute)
	wrong := Credentials{Login: "guest", Passcode: "wrong"}
	if _, err := r.Authenticate(context.Background(), wrong); !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	start := time.Now()
	if _, err := r.Authenticate(context.Background(), wrong); !errors.Is(err, ErrDenied) {
		t.Fatalf("cached: err = %v, want ErrDenied", err)
	}
	if n, took := r.dials.Load(), time.Since(start); n != 1 || took > 100*time.Millisecond {
		t.Errorf("second refusal took %v and %d dials, want it from the cache", took, n)
	}
	// The refusal must not shadow the right passcode.
	if _, err := r.Authenticate(context.Background(), Credentials{Login: "guest", Passcode: "guest"}); err != nil {
		t.Errorf("right passcode after a wrong one: %v", err)
	}
}

func TestRabbitMQIgnoresCredentialsInTheURL(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	r := newTestRabbitMQ(t, "amqp://guest:guest@127.0.0.1:5672/?auth_mechanism=AMQPLAIN", time.Minute)
	if strings.Contains(r.url, "guest") {
		t.Errorf("url %q keeps the credentials", r.url)
	}
	if _, err := r.Authenticate(context.Background(), Credentials{Login: "guest", Passcode: "wrong"}); !errors.Is(err, ErrDenied) {
		t.Errorf("err = %v, want ErrDenied: the URL's credentials were used", err)
	}
}

func TestRabbitMQUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	r := newTestRabbitMQ(t, "amqp://127.0.0.1:1/", time.Minute)
	for range 2 {
		_, err := r.Authenticate(context.Background(), Credentials{Login: "guest", Passcode: testPasscode})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		checkNoSecrets(t, err)
	}
	if n := r.dials.Load(); n != 2 {
		t.Errorf("%d dials, want 2: unavailable must not be cached", n)
	}
}

// silentBroker accepts AMQP connections and never answers, like a hung
// broker. It returns the URL.
func silentBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "amqp://" + ln.Addr().String() + "/"
}

func TestRabbitMQHungBrokerIsUnavailable(t *testing.T) {
	t.Parallel()
	r := newTestRabbitMQ(t, silentBroker(t), time.Minute)

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := r.Authenticate(ctx, Credentials{Login: "guest", Passcode: testPasscode})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		checkNoSecrets(t, err)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %v with a 200ms deadline", took)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := r.Authenticate(ctx, Credentials{Login: "guest", Passcode: testPasscode})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want ErrUnavailable and context.Canceled", err)
		}
	})
}

func TestNewRabbitMQRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "http://127.0.0.1:5672/", "amqp://127.0.0.1:port/", "amqp://user:" + testPasscode + "@127.0.0.1:x/", "amqp://user:" + testPasscode + "@[::1/"} {
		_, err := NewRabbitMQ(u, Config{}, zerolog.Nop())
		if err == nil {
			t.Errorf("NewRabbitMQ(%q) accepted it", u)
		}
		checkNoSecrets(t, err)
	}
}

func TestVhostRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason string
		want   bool
	}{
		{"NOT_ALLOWED - access to vhost 'x' refused for user 'guest'", true},
		{"NOT_ALLOWED - vhost x not found", true},
		{"NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (1) is reached", false},
		{"NOT_ALLOWED - Connection refused for user 'guest'. User connection limit (5) is reached", false},
		{"NOT_ALLOWED - vhost / is down", false},
	}
	for _, tt := range tests {
		if got := vhostRefused(tt.reason); got != tt.want {
			t.Errorf("vhostRefused(%q) = %v, want %v", tt.reason, got, tt.want)
		}
	}
}

// TestRabbitMQLeavesNoGoroutines runs sequentially: goleak sees only this
// test.
func TestRabbitMQLeavesNoGoroutines(t *testing.T) {
	needRabbitMQ(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	r := newTestRabbitMQ(t, testRabbitMQURL, time.Minute)
	defer r.Close() // before goleak looks: idle management connections
	id, err := r.Authenticate(context.Background(), Credentials{Login: "guest", Passcode: "guest"})
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Resources.CheckResource(context.Background(), ResourceAccess{Perm: ReadPerm, Kind: Queue, Name: "q"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(context.Background(), Credentials{Login: "guest", Passcode: "wrong"}); !errors.Is(err, ErrDenied) {
		t.Fatalf("wrong passcode: %v", err)
	}
	if _, err := r.Authenticate(context.Background(), Credentials{Login: "guest", Passcode: "guest", VHost: "no-such-vhost"}); !errors.Is(err, ErrDenied) {
		t.Fatalf("unknown vhost: %v", err)
	}
	t.Run("hung broker", func(t *testing.T) { // its cleanup closes the broker before goleak looks
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := newTestRabbitMQ(t, silentBroker(t), time.Minute).Authenticate(ctx, Credentials{Login: "guest", Passcode: "guest"}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("hung broker: %v", err)
		}
	})
}

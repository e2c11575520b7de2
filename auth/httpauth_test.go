package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

const (
	testPasscode = "s3cret-passcode"
	testToken    = "eyJ.secret-token.sig"
)

var testCreds = Credentials{Login: "alice", Passcode: testPasscode, Token: testToken, VHost: "/", Remote: "192.0.2.1:5000"}

// authService is a fake auth service: it answers with handler and counts
// the calls.
type authService struct {
	*httptest.Server
	calls atomic.Int64
}

func newAuthService(t *testing.T, handler http.HandlerFunc) *authService {
	t.Helper()
	s := &authService{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		handler(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// answer returns a handler that writes status and body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// hang is an auth service that never answers, until the client goes away.
func hang(_ http.ResponseWriter, r *http.Request) {
	// The server notices a closed connection only once the body is read.
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func newTestHTTP(t *testing.T, cfg Config) *HTTP {
	t.Helper()
	if cfg.HTTPTimeout == 0 {
		cfg.HTTPTimeout = 2 * time.Second
	}
	h, err := NewHTTP(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// checkNoSecrets fails when err's text holds a credential.
func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{testPasscode, testToken} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a credential", err)
		}
	}
}

func TestHTTPAnswers(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		creds   Credentials
		want    Identity
		wantErr error
	}{
		{
			name:    "allow with user and permissions",
			handler: answer(200, `{"allow": true, "user": "alice-svc", "permissions": {"read": ["/topic/a.*"], "write": ["/queue/{user}"]}}`),
			want:    Identity{User: "alice-svc", Permissions: &Permissions{Read: []string{"/topic/a.*"}, Write: []string{"/queue/{user}"}}},
		},
		{
			name:    "allow without user is the login",
			handler: answer(200, `{"allow": true}`),
			want:    Identity{User: "alice"},
		},
		{
			name:    "allow without permissions grants none, the ACL file applies",
			handler: answer(200, `{"allow": true, "user": "bob", "permissions": null}`),
			want:    Identity{User: "bob"},
		},
		{
			name:    "allow with empty permissions grants nothing",
			handler: answer(200, `{"allow": true, "user": "bob", "permissions": {}}`),
			want:    Identity{User: "bob", Permissions: &Permissions{}},
		},
		{
			name:    "allow with expires",
			handler: answer(200, fmt.Sprintf(`{"allow": true, "expires": %d}`, future)),
			want:    Identity{User: "alice", Expires: time.Unix(future, 0)},
		},
		{
			name:    "allow with unknown fields",
			handler: answer(200, `{"allow": true, "user": "bob", "roles": ["admin"]}`),
			want:    Identity{User: "bob"},
		},
		{
			name:    "allow without user for a token without login is denied",
			handler: answer(200, `{"allow": true}`),
			creds:   Credentials{Token: testToken},
			wantErr: ErrDenied,
		},
		{
			name:    "allow with an expires already past is denied",
			handler: answer(200, `{"allow": true, "expires": 1000}`),
			wantErr: ErrDenied,
		},
		{name: "deny", handler: answer(200, `{"allow": false, "user": "alice"}`), wantErr: ErrDenied},
		{name: "status 500", handler: answer(500, `{"allow": true}`), wantErr: ErrUnavailable},
		{name: "status 503", handler: answer(503, ``), wantErr: ErrUnavailable},
		{name: "status 403 is not an answer", handler: answer(403, `{"allow": false}`), wantErr: ErrUnavailable},
		{
			name: "redirect is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://192.0.2.1/steal", http.StatusTemporaryRedirect)
			},
			wantErr: ErrUnavailable,
		},
		{name: "invalid JSON", handler: answer(200, `{"allow": tru`), wantErr: ErrUnavailable},
		{name: "HTML error page", handler: answer(200, `<html>`+testPasscode+`</html>`), wantErr: ErrUnavailable},
		{name: "answer without allow", handler: answer(200, `{"user": "alice"}`), wantErr: ErrUnavailable},
		{name: "allow of the wrong type", handler: answer(200, `{"allow": "yes"}`), wantErr: ErrUnavailable},
		{name: "expires in milliseconds", handler: answer(200, fmt.Sprintf(`{"allow": true, "expires": %d}`, future*1000)), wantErr: ErrUnavailable},
		{
			name:    "answer over 64 KiB",
			handler: answer(200, `{"allow": true, "user": "`+strings.Repeat("x", 64<<10)+`"}`),
			wantErr: ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := newAuthService(t, tt.handler)
			h := newTestHTTP(t, Config{HTTPURL: svc.URL})
			creds := tt.creds
			if creds == (Credentials{}) {
				creds = testCreds
			}
			got, err := h.Authenticate(context.Background(), creds)
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
			if got.User != tt.want.User || !got.Expires.Equal(tt.want.Expires) || !reflect.DeepEqual(got.Permissions, tt.want.Permissions) {
				t.Errorf("identity = %+v (permissions %+v), want %+v (permissions %+v)", got, got.Permissions, tt.want, tt.want.Permissions)
			}
		})
	}
}

func TestHTTPPostsTheCredentialsAsJSON(t *testing.T) {
	t.Parallel()
	var (
		method, contentType string
		body                map[string]any
	)
	svc := newAuthService(t, func(w http.ResponseWriter, r *http.Request) {
		method, contentType = r.Method, r.Header.Get("Content-Type")
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("request body: %v", err)
		}
		answer(200, `{"allow": true}`)(w, r)
	})
	h := newTestHTTP(t, Config{HTTPURL: svc.URL})
	if _, err := h.Authenticate(context.Background(), testCreds); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || contentType != "application/json" {
		t.Errorf("request %s with Content-Type %q, want POST application/json", method, contentType)
	}
	want := map[string]any{"login": "alice", "passcode": testPasscode, "token": testToken, "vhost": "/", "remote": "192.0.2.1:5000"}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v, want %v", body, want)
	}
}

func TestHTTPTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t, hang)
	h := newTestHTTP(t, Config{HTTPURL: svc.URL, HTTPTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := h.Authenticate(context.Background(), testCreds)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	checkNoSecrets(t, err)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v with a 100ms timeout", took)
	}
}

func TestHTTPCancelledContextIsUnavailable(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t, hang)
	h := newTestHTTP(t, Config{HTTPURL: svc.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := h.Authenticate(ctx, testCreds)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable and context.DeadlineExceeded", err)
	}
}

func TestHTTPServiceDownIsUnavailable(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t, answer(200, `{"allow": true}`))
	svc.Close() // connection refused from now on
	h := newTestHTTP(t, Config{HTTPURL: svc.URL, HTTPCacheTTL: time.Hour, HTTPNegativeTTL: time.Hour})
	for range 2 {
		_, err := h.Authenticate(context.Background(), testCreds)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		checkNoSecrets(t, err)
	}
}

func TestHTTPCachesAllowUntilTTL(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t, answer(200, `{"allow": true, "user": "alice", "permissions": {"read": ["/topic/x"]}}`))
	h := newTestHTTP(t, Config{HTTPURL: svc.URL, HTTPCacheTTL: 200 * time.Millisecond, HTTPNegativeTTL: time.Hour})

	for i := range 3 {
		id, err := h.Authenticate(context.Background(), testCreds)
		if err != nil || id.User != "alice" || id.Permissions == nil || id.Permissions.Read[0] != "/topic/x" {
			t.Fatalf("call %d: %+v, %v", i, id, err)
		}
	}
	if n := svc.calls.Load(); n != 1 {
		t.Fatalf("auth service called %d times within the TTL, want 1", n)
	}

	other := testCreds
	other.Passcode = "another"
	if _, err := h.Authenticate(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if n := svc.calls.Load(); n != 2 {
		t.Fatalf("a different passcode was answered from the cache (%d calls)", n)
	}

	waitFor(t, 5*time.Second, "the allow answer to expire", func() bool {
		if _, err := h.Authenticate(context.Background(), testCreds); err != nil {
			t.Fatal(err)
		}
		return svc.calls.Load() > 2
	})
}

func TestHTTPCachesAllowNoLongerThanTheIdentityExpires(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t, func(w http.ResponseWriter, r *http.Request) {
		expires := float64(time.Now().Add(300*time.Millisecond).UnixNano()) / 1e9
		answer(200, fmt.Sprintf(`{"allow": true, "expires": %f}`, expires))(w, r)
	})
	h := newTestHTTP(t, Config{HTTPURL: svc.URL, HTTPCacheTTL: time.Hour})
	id, err := h.Authenticate(context.Background(), testCreds)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(id.Expires); d <= 0 || d > 300*time.Millisecond {
		t.Errorf("Expires in %v, want within 300ms", d)
	}
	waitFor(t, 5*time.Second, "the identity's expiry to end its caching", func() bool {
		before := time.Now()
		id, err := h.Authenticate(context.Background(), testCreds)
		if err != nil {
			t.Fatal(err)
		}
		if svc.calls.Load() == 1 && !before.Before(id.Expires) {
			t.Fatalf("cache served an identity that expired at %v", id.Expires)
		}
		return svc.calls.Load() > 1
	})
}

func TestHTTPCachesDenyForNegativeTTL(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t, answer(200, `{"allow": false}`))
	h := newTestHTTP(t, Config{HTTPURL: svc.URL, HTTPCacheTTL: time.Hour, HTTPNegativeTTL: 200 * time.Millisecond})
	for range 3 {
		if _, err := h.Authenticate(context.Background(), testCreds); !errors.Is(err, ErrDenied) {
			t.Fatalf("err = %v, want ErrDenied", err)
		}
	}
	if n := svc.calls.Load(); n != 1 {
		t.Fatalf("auth service called %d times within the negative TTL, want 1", n)
	}
	waitFor(t, 5*time.Second, "the deny answer to expire", func() bool {
		h.Authenticate(context.Background(), testCreds)
		return svc.calls.Load() > 1
	})
}

func TestHTTPNeverCachesUnavailable(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	svc := newAuthService(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			answer(503, ``)(w, r)
			return
		}
		answer(200, `{"allow": true}`)(w, r)
	})
	h := newTestHTTP(t, Config{HTTPURL: svc.URL, HTTPCacheTTL: time.Hour, HTTPNegativeTTL: time.Hour})
	if _, err := h.Authenticate(context.Background(), testCreds); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	fail.Store(false)
	if _, err := h.Authenticate(context.Background(), testCreds); err != nil {
		t.Fatalf("after the service recovered: %v", err)
	}
	if n := svc.calls.Load(); n != 2 {
		t.Errorf("auth service called %d times, want 2", n)
	}
}

func TestNewHTTPRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "auth.example.com/check", "ftp://auth.example.com/", "http://", "http://a b/"} {
		if _, err := NewHTTP(Config{HTTPURL: u}, zerolog.Nop()); err == nil {
			t.Errorf("NewHTTP(%q) accepted it", u)
		}
	}
}

// TestHTTPLeavesNoGoroutines runs sequentially: goleak sees only this test.
func TestHTTPLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			hang(w, r)
			return
		}
		answer(200, `{"allow": true}`)(w, r)
	}))
	defer svc.Close()
	for _, path := range []string{"/", "/slow"} {
		h, err := NewHTTP(Config{HTTPURL: svc.URL + path, HTTPTimeout: 100 * time.Millisecond}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		h.Authenticate(context.Background(), testCreds)
		h.Close()
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

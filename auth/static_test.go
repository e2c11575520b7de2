package auth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"
)

// staticHash is a bcrypt hash at the minimum cost, to keep tests fast.
func staticHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// staticHtpasswdB is a hash as `htpasswd -B` writes it: the $2y$ prefix.
func staticHtpasswdB(t *testing.T, password string) string {
	t.Helper()
	h := staticHash(t, password)
	if !strings.HasPrefix(h, "$2a$") {
		t.Fatalf("unexpected bcrypt prefix in %q", h[:4])
	}
	return "$2y$" + strings.TrimPrefix(h, "$2a$")
}

func staticWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func staticFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	staticWrite(t, path, text)
	return path
}

// staticLogBuffer collects log output written from several goroutines.
type staticLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *staticLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *staticLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func staticLogin(s *Static, login, passcode string) error {
	_, err := s.Authenticate(context.Background(), Credentials{Login: login, Passcode: passcode})
	return err
}

// staticEventually polls cond until it holds or a deadline passes.
func staticEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStaticChecksPasswordsFromTheHtpasswdFile(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	shaHash := "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
	aprHash := "$apr1$abcdefgh$0123456789abcdefghijkl"
	path := staticFile(t, strings.Join([]string{
		"# users of the demo",
		"",
		"alice:" + staticHash(t, "alice-secret"),
		"   ",
		"  # an indented comment",
		"bob:" + staticHtpasswdB(t, "bob-secret"),
		"carol:" + shaHash,
		"dave:" + aprHash,
		"erin:" + strings.Replace(staticHash(t, "erin-secret"), "$2a$", "$2b$", 1),
		"",
	}, "\r\n"))
	var logs staticLogBuffer
	s, err := NewStatic(path, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	cases := []struct {
		name, login, passcode string
		ok                    bool
	}{
		{"right password is accepted", "alice", "alice-secret", true},
		{"$2y$ hash as htpasswd -B writes it is accepted", "bob", "bob-secret", true},
		{"$2b$ hash is accepted", "erin", "erin-secret", true},
		{"wrong password is denied", "alice", "bob-secret", false},
		{"empty password is denied", "alice", "", false},
		{"unknown user is denied", "mallory", "alice-secret", false},
		{"empty login is denied", "", "alice-secret", false},
		{"user with a SHA hash is skipped", "carol", "password", false},
		{"user with an MD5 hash is skipped", "dave", "password", false},
		{"a comment is not a user", "# users of the demo", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.Authenticate(context.Background(), Credentials{Login: tc.login, Passcode: tc.passcode})
			if tc.ok {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				if id.User != tc.login || !id.Expires.IsZero() || id.Permissions != nil {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			if !errors.Is(err, ErrDenied) {
				t.Fatalf("want ErrDenied, got %v", err)
			}
			if tc.passcode != "" && strings.Contains(err.Error(), tc.passcode) {
				t.Fatalf("error %q shows the passcode", err)
			}
		})
	}

	out := logs.String()
	for _, want := range []string{`"user":"carol"`, `"line":7`, `"user":"dave"`, `"line":8`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{shaHash, aprHash, "$2"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows a hash (%s):\n%s", secret, out)
		}
	}
}

func TestStaticUnknownUsersCostAsMuchAsKnownOnes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h5, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost+1)
	if err != nil {
		t.Fatal(err)
	}
	path := staticFile(t, "a:"+staticHash(t, "pw")+"\nb:"+string(h5)+"\n")
	s, err := NewStatic(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := costOf(s.users.Load().dummy); got != bcrypt.MinCost+1 {
		t.Fatalf("dummy hash cost = %d, want the file's highest, %d", got, bcrypt.MinCost+1)
	}
}

func TestStaticReloadReadsTheEditedFile(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := staticFile(t, "alice:"+staticHash(t, "old")+"\n")
	s, err := NewStatic(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	staticWrite(t, path, "alice:"+staticHash(t, "new")+"\nbob:"+staticHash(t, "bob")+"\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := staticLogin(s, "alice", "new"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := staticLogin(s, "alice", "old"); !errors.Is(err, ErrDenied) {
		t.Errorf("old password: want ErrDenied, got %v", err)
	}
	if err := staticLogin(s, "bob", "bob"); err != nil {
		t.Errorf("added user: %v", err)
	}
}

func TestStaticReloadsByItselfWhenTheFileChanges(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := staticFile(t, "alice:"+staticHash(t, "alice")+"\n")
	s, err := newStatic(path, zerolog.Nop(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	staticWrite(t, path, "alice:"+staticHash(t, "alice")+"\nbob:"+staticHash(t, "bob")+"\n")
	staticEventually(t, "bob is added", func() bool { return staticLogin(s, "bob", "bob") == nil })

	staticWrite(t, path, "bob:"+staticHash(t, "bob")+"\n")
	staticEventually(t, "alice is removed", func() bool { return errors.Is(staticLogin(s, "alice", "alice"), ErrDenied) })
}

func TestStaticWatchesWithTheDefaultInterval(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := staticFile(t, "alice:"+staticHash(t, "alice")+"\n")
	s, err := NewStatic(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	staticWrite(t, path, "alice:"+staticHash(t, "alice")+"\nbob:"+staticHash(t, "bob")+"\n")
	staticEventually(t, "bob is added", func() bool { return staticLogin(s, "bob", "bob") == nil })
}

func TestStaticBrokenFileKeepsTheOldUsers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	good := "alice:" + staticHash(t, "alice") + "\n"
	path := staticFile(t, good)
	var logs staticLogBuffer
	s, err := newStatic(path, zerolog.New(&logs), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	broken := map[string]string{
		// alice keeps her password in each, so even a read of a
		// half-written file could not change what the test checks.
		"line without a colon":      good + "bob\n",
		"truncated bcrypt hash":     "alice:" + staticHash(t, "alice")[:30] + "\n",
		"empty user name":           good + ":" + staticHash(t, "x") + "\n",
		"bcrypt prefix, no hash":    good + "bob:$2y$10$\n",
		"half-written second entry": good + "bob:$2y$",
	}
	for name, text := range broken {
		t.Run(name, func(t *testing.T) {
			staticWrite(t, path, text)
			err := s.Reload()
			if err == nil {
				t.Fatal("Reload of a broken file succeeded")
			}
			if err := staticLogin(s, "alice", "alice"); err != nil {
				t.Fatalf("old user lost: %v", err)
			}
		})
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("Reload of a missing file succeeded")
	}
	if err := staticLogin(s, "alice", "alice"); err != nil {
		t.Fatalf("old user lost after the file was removed: %v", err)
	}

	// The watcher keeps the old users too, and recovers when the file is fixed.
	staticWrite(t, path, "alice:$2y$04$short\n")
	staticEventually(t, "the watcher logs the broken file", func() bool {
		return strings.Contains(logs.String(), "could not be loaded")
	})
	if err := staticLogin(s, "alice", "alice"); err != nil {
		t.Fatalf("old user lost after the watcher saw a broken file: %v", err)
	}
	staticWrite(t, path, good+"bob:"+staticHash(t, "bob")+"\n")
	staticEventually(t, "the fixed file is loaded", func() bool { return staticLogin(s, "bob", "bob") == nil })
}

func TestNewStaticFailsOnAMissingOrBrokenFile(t *testing.T) {
	t.Parallel()
	if _, err := NewStatic(filepath.Join(t.TempDir(), "nope"), zerolog.Nop()); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := NewStatic(staticFile(t, "alice\n"), zerolog.Nop()); err == nil {
		t.Error("broken file: no error")
	}
}

func TestStaticCloseStopsTheWatcher(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := staticFile(t, "alice:"+staticHash(t, "alice")+"\n")
	s, err := newStatic(path, zerolog.Nop(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	staticWrite(t, path, "alice:"+staticHash(t, "alice")+"\nbob:"+staticHash(t, "bob")+"\n")
	time.Sleep(20 * time.Millisecond) // 20 poll intervals, had the watcher survived
	if err := staticLogin(s, "bob", "bob"); !errors.Is(err, ErrDenied) {
		t.Fatalf("file reloaded after Close: %v", err)
	}
	if err := staticLogin(s, "alice", "alice"); err != nil {
		t.Fatalf("Authenticate after Close: %v", err)
	}
}

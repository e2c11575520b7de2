package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
)

// staticPollEvery is how often Static looks at its file for changes.
const staticPollEvery = time.Second

// Static authenticates login/passcode against an htpasswd file of bcrypt
// hashes, as `htpasswd -B` writes it. The file is re-read on Reload
// (SIGHUP) and when its modification time or size changes; a file that
// cannot be read or parsed leaves the previous users in place.
//
// Authenticate is safe for concurrent use: the users are an immutable map
// swapped atomically on reload. One goroutine polls the file; Close stops
// it.
type Static struct {
	path string
	log  zerolog.Logger

	users atomic.Pointer[staticUsers]

	loadMu sync.Mutex // serialises loads; guards seen
	seen   fileStamp  // the file as last loaded or attempted

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// staticUsers is one loaded version of the file.
type staticUsers struct {
	hashes map[string][]byte
	// dummy is compared against for unknown users, so that the time an
	// answer takes does not tell which users exist. Its cost is the
	// highest in the file.
	dummy []byte
}

// fileStamp is what the poller compares to notice a changed file.
type fileStamp struct {
	mtime time.Time
	size  int64
	ok    bool // the stat succeeded
}

// NewStatic loads the htpasswd file at path and starts watching it. The
// caller must Close the returned Static.
func NewStatic(path string, log zerolog.Logger) (*Static, error) {
	return newStatic(path, log, staticPollEvery)
}

func newStatic(path string, log zerolog.Logger, every time.Duration) (*Static, error) {
	s := &Static{
		path: path,
		log:  log.With().Str("backend", "static").Logger(),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	go s.watch(every)
	return s, nil
}

// Authenticate implements Authenticator. It always runs one bcrypt
// comparison for a non-empty login, known or not.
func (s *Static) Authenticate(_ context.Context, c Credentials) (Identity, error) {
	if c.Login == "" {
		return Identity{}, fmt.Errorf("static: no login: %w", ErrDenied)
	}
	u := s.users.Load()
	hash, known := u.hashes[c.Login]
	if !known {
		hash = u.dummy
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(c.Passcode))
	if !known || err != nil {
		return Identity{}, fmt.Errorf("static: bad login or passcode: %w", ErrDenied)
	}
	return Identity{User: c.Login}, nil
}

// Reload re-reads the file. On error the previous users stay in place.
func (s *Static) Reload() error {
	return s.load()
}

// Close stops watching the file and waits for the watcher to end. It is
// idempotent. Authenticate keeps working with the users last loaded.
func (s *Static) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// watch polls the file until Close, reloading it when its stamp changes.
// A change that fails to load is logged once, not at every tick.
func (s *Static) watch(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	// A change is loaded once the file has looked the same for a whole
	// poll, so a file caught half-written (truncated, then written) is not
	// taken for the new users.
	var pending fileStamp
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		cur := stampOf(s.path)
		s.loadMu.Lock()
		changed := cur != s.seen
		s.loadMu.Unlock()
		if !changed || cur != pending {
			pending = cur
			continue
		}
		if err := s.load(); err != nil {
			s.log.Warn().Err(err).Msg("users file changed but could not be loaded; keeping the previous users")
		}
	}
}

// load reads and parses the file and, if that works, swaps the users in.
// The stamp is taken before reading, so a write racing with the read is
// seen as a change at the next poll.
func (s *Static) load() error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	s.seen = stampOf(s.path)
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("static: read users file: %w", err)
	}
	hashes, maxCost, err := parseHtpasswd(data, s.log)
	if err != nil {
		return fmt.Errorf("static: %s: %w", s.path, err)
	}
	u := &staticUsers{hashes: hashes}
	if old := s.users.Load(); old != nil && costOf(old.dummy) == maxCost {
		u.dummy = old.dummy
	} else if u.dummy, err = dummyHash(maxCost); err != nil {
		return fmt.Errorf("static: %w", err)
	}
	s.users.Store(u)
	if len(hashes) == 0 {
		s.log.Warn().Str("file", s.path).Msg("users file has no bcrypt users; every login is refused")
	} else {
		s.log.Info().Str("file", s.path).Int("users", len(hashes)).Msg("users loaded")
	}
	return nil
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mtime: fi.ModTime(), size: fi.Size(), ok: true}
}

// parseHtpasswd parses "user:hash" lines, skipping blank lines and #
// comments. Users with a hash other than bcrypt ($2a$, $2b$, $2y$) are
// skipped with a warning; a line without a colon or with a damaged bcrypt
// hash makes the whole file an error (it is likely half-written). It
// returns the highest bcrypt cost seen, bcrypt.DefaultCost when none.
func parseHtpasswd(data []byte, log zerolog.Logger) (map[string][]byte, int, error) {
	hashes := make(map[string][]byte)
	maxCost := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, found := strings.Cut(line, ":")
		if !found || user == "" {
			return nil, 0, fmt.Errorf("line %d: want user:hash", n)
		}
		if !isBcrypt(hash) {
			log.Warn().Str("user", user).Int("line", n).Msg("users file: not a bcrypt hash (use htpasswd -B); user skipped")
			continue
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: user %q: damaged bcrypt hash", n, user)
		}
		if _, dup := hashes[user]; dup {
			log.Warn().Str("user", user).Int("line", n).Msg("users file: user listed twice; the last line wins")
		}
		hashes[user] = []byte(hash)
		maxCost = max(maxCost, cost)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if maxCost == 0 {
		maxCost = bcrypt.DefaultCost
	}
	return hashes, maxCost, nil
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

func costOf(hash []byte) int {
	c, err := bcrypt.Cost(hash)
	if err != nil {
		return -1
	}
	return c
}

// dummyHash is the bcrypt hash of a random password nobody knows.
func dummyHash(cost int) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return nil, fmt.Errorf("make dummy hash: %w", err)
	}
	return h, nil
}

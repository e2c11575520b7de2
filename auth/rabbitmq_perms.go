package auth

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// permSnapshot is one user's permissions in one vhost as fetched at one
// time, with every regular expression compiled once. It decides accesses
// as RabbitMQ's internal authorization backend does
// (rabbit_auth_backend_internal, 3.10):
//
//   - vhost access: a permission record exists for (user, vhost);
//   - a resource: the record's configure, write or read regexp matches
//     the queue or exchange name anywhere (unanchored, as re:run);
//   - a topic: allowed when the user has no topic permission on the
//     exchange; else its write or read regexp, with {username} and
//     {vhost} replaced by plain text, matches the routing key anywhere.
//
// An empty regexp matches only the empty name (RabbitMQ reads it as ^$).
// Go's RE2 is not PCRE. A regexp it cannot compile (lookarounds,
// backreferences) refuses every access it decides. Go's $ does not match
// before a final newline as PCRE's does: that can only refuse more. Bytes
// are matched as PCRE does (see pcreBytes).
//
// A snapshot is immutable, so checks need no lock.
type permSnapshot struct {
	fetched     time.Time
	vhostAccess bool
	// configure, write and read are nil when RE2 cannot compile them.
	configure, write, read *regexp.Regexp
	topics                 map[string]topicRegexps // by exchange
	// compiled holds every regexp above by expanded source (nil when it
	// did not compile), for the next snapshot to reuse: it then neither
	// compiles nor logs an unchanged regexp again.
	compiled map[string]*regexp.Regexp
}

// topicRegexps are one exchange's topic permission.
type topicRegexps struct {
	write, read *regexp.Regexp
}

// newPermSnapshot compiles raw, fetched for user in vhost at fetched.
// prev is the snapshot it replaces, or nil. Regexps RE2 cannot compile
// are logged when first seen.
func newPermSnapshot(raw rawPerms, user, vhost string, fetched time.Time, prev *permSnapshot, log zerolog.Logger) *permSnapshot {
	s := &permSnapshot{fetched: fetched, vhostAccess: raw.found, compiled: map[string]*regexp.Regexp{}}
	if !raw.found {
		return s
	}
	compile := func(what, src string) *regexp.Regexp {
		if src == "" {
			src = "^$"
		}
		if re, ok := s.compiled[src]; ok {
			return re
		}
		re, ok := prev.reuse(src)
		if !ok {
			var err error
			re, err = regexp.Compile(pcreBytes(src))
			if err != nil {
				log.Warn().Str("user", user).Str("vhost", vhost).Str("permission", what).Str("regexp", src).Err(err).
					Msg("RabbitMQ permission regexp is not RE2: every access it decides is refused")
			}
		}
		s.compiled[src] = re
		return re
	}
	s.configure = compile("configure", raw.configure)
	s.write = compile("write", raw.write)
	s.read = compile("read", raw.read)
	for _, t := range raw.topics {
		if s.topics == nil {
			s.topics = make(map[string]topicRegexps, len(raw.topics))
		}
		what := "topic on exchange '" + t.exchange + "'"
		s.topics[t.exchange] = topicRegexps{
			write: compile(what+" write", expandTopicVars(t.write, user, vhost)),
			read:  compile(what+" read", expandTopicVars(t.read, user, vhost)),
		}
	}
	return s
}

// reuse returns the regexp s compiled from src, if it did.
func (s *permSnapshot) reuse(src string) (*regexp.Regexp, bool) {
	if s == nil {
		return nil, false
	}
	re, ok := s.compiled[src]
	return re, ok
}

// allows decides a.
func (s *permSnapshot) allows(a ResourceAccess) bool {
	// RabbitMQ checks a topic only after the user passed a resource check
	// in the same vhost, which needs a permission record: without one,
	// nothing is allowed.
	if !s.vhostAccess {
		return false
	}
	if a.Topic {
		t, ok := s.topics[a.Name]
		if !ok {
			return true
		}
		switch a.Perm {
		case WritePerm:
			return matches(t.write, a.Key)
		case ReadPerm:
			return matches(t.read, a.Key)
		}
		return false // topic permissions have no configure
	}
	switch a.Perm {
	case Configure:
		return matches(s.configure, a.Name)
	case WritePerm:
		return matches(s.write, a.Name)
	case ReadPerm:
		return matches(s.read, a.Name)
	}
	return false
}

// matches reports whether re matches s anywhere; a nil re (not RE2)
// matches nothing.
func matches(re *regexp.Regexp, s string) bool {
	return re != nil && re.MatchString(pcreBytes(s))
}

// expandTopicVars replaces {username} and then {vhost} in a topic
// permission's regexp, as plain text (the values are not escaped), in the
// order RabbitMQ's map fold does.
func expandTopicVars(re, user, vhost string) string {
	re = strings.ReplaceAll(re, "{username}", user)
	return strings.ReplaceAll(re, "{vhost}", vhost)
}

// pcreBytes makes Go match as RabbitMQ's PCRE does. RabbitMQ matches
// names and regexps as bytes (no unicode option), Go as UTF-8 runes: "."
// would match a two-byte "é" once in Go but twice in PCRE, letting longer
// names through a length limit. So every non-ASCII byte, in the regexp
// and in the name alike, becomes a private-use rune of its own: one byte,
// one character, with no case folding or class that PCRE would not give
// it. ASCII text is returned as is.
func pcreBytes(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*(len(s)-i))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if c := s[i]; c < utf8.RuneSelf {
			b.WriteByte(c)
		} else {
			b.WriteRune(pcreByteBase + rune(c))
		}
	}
	return b.String()
}

// pcreByteBase puts the bytes 0x80-0xFF at U+E080-U+E0FF, in the Private
// Use Area.
const pcreByteBase = 0xE000

// permChecker is the ResourceChecker of one user's identity in one vhost.
// It holds no permissions: each check reads the cache's current snapshot,
// so an identity kept by the login cache still sees changes, and every
// session of the user shares one fetch.
type permChecker struct {
	perms *permCache
	user  string
	vhost string
}

// CheckResource implements ResourceChecker.
func (c permChecker) CheckResource(ctx context.Context, a ResourceAccess) error {
	s, err := c.perms.get(ctx, c.user, c.vhost)
	if err != nil {
		return err
	}
	if !s.allows(a) {
		return fmt.Errorf("%w: rabbitmq: %s in vhost '%s' refused for user '%s'", ErrDenied, a, c.vhost, c.user)
	}
	return nil
}

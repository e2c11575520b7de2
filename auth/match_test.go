package auth

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// recursiveMatch is the definition Match replaced: obviously right,
// exponential in the number of "*". calls counts its invocations.
func recursiveMatch(pattern, user, dest string, calls *int) bool {
	*calls++
	for {
		switch {
		case pattern == "":
			return dest == ""
		case strings.HasPrefix(pattern, "**"):
			rest := pattern[2:]
			for i := len(dest); i >= 0; i-- {
				if recursiveMatch(rest, user, dest[i:], calls) {
					return true
				}
			}
			return false
		case pattern[0] == '*':
			rest := pattern[1:]
			for i := 0; i <= len(dest); i++ {
				if recursiveMatch(rest, user, dest[i:], calls) {
					return true
				}
				if i < len(dest) && dest[i] == '/' {
					return false
				}
			}
			return false
		case strings.HasPrefix(pattern, "{user}"):
			if user == "" || !strings.HasPrefix(dest, user) {
				return false
			}
			pattern, dest = pattern[len("{user}"):], dest[len(user):]
		default:
			if dest == "" || pattern[0] != dest[0] {
				return false
			}
			pattern, dest = pattern[1:], dest[1:]
		}
	}
}

func referenceMatch(pattern, user, dest string) (ok bool, calls int) {
	ok = recursiveMatch(pattern, user, dest, &calls)
	return ok, calls
}

// A rule like "/topic/*.*.*.*.*.end" against a 4 KB destination of dots
// took the recursive matcher seconds per frame; now each byte of the
// destination costs at most one visit per pattern token.
func TestACLStarFloodMatchesInLinearTime(t *testing.T) {
	t.Parallel()
	for _, pattern := range []string{
		"/topic/*.*.*.*.*.end",
		"/topic/*a*a*a*a*a*b",
		"/**.**.**.**.**.end",
		"/**/*/**/*/end",
	} {
		dest := "/topic/" + strings.Repeat("a.", 2048)
		match, steps := match(pattern, "", dest)
		if match {
			t.Fatalf("%q matched the flood", pattern)
		}
		toks, _ := compile(pattern, "", nil)
		if limit := (len(toks) + 1) * len(dest); steps > limit {
			t.Errorf("%q: %d steps, want at most (tokens+1) x len(dest) = %d", pattern, steps, limit)
		}
	}

	// A smaller flood, small enough for the recursive definition, shows
	// the input is adversarial: the bound above is what changed.
	pattern, dest := "/topic/*.*.*.*.end", "/topic/"+strings.Repeat("a.", 30)
	_, calls := referenceMatch(pattern, "", dest)
	_, steps := match(pattern, "", dest)
	if calls < 100*steps {
		t.Fatalf("recursive matcher: %d calls, linear: %d steps; the flood is not adversarial", calls, steps)
	}
}

func TestMatchWildcardsAndUser(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                string
		pattern, user, dest string
		want                bool
	}{
		{"* may match nothing", "/topic/chat.*", "", "/topic/chat.", true},
		{"* stops at a slash", "/topic/*/x", "", "/topic/a/b/x", false},
		{"* takes one segment", "/topic/*/x", "", "/topic/a/x", true},
		{"** crosses slashes", "/exchange/**/x", "", "/exchange/a/b/x", true},
		{"** may match nothing", "/queue/**", "", "/queue/", true},
		{"*** is ** then *", "/q/***", "", "/q/a/b", true},
		{"two stars in one segment", "/topic/*.*", "", "/topic/a.b.c", true},
		{"two stars need their dot", "/topic/*.*", "", "/topic/abc", false},
		{"{user} twice", "/queue/{user}.{user}", "alice", "/queue/alice.alice", true},
		{"{user} twice, one differs", "/queue/{user}.{user}", "alice", "/queue/alice.bob", false},
		{"a slash in the name is literal", "/queue/{user}", "a/b", "/queue/a/b", true},
		{"** as a name is literal", "/queue/{user}", "**", "/queue/x", false},
		{"** as a name matches itself", "/queue/{user}", "**", "/queue/**", true},
		{"no user, no {user} match even after **", "/queue/**{user}", "", "/queue/x", false},
		{"an unclosed brace is literal", "/queue/{user", "alice", "/queue/{user", true},
		{"empty pattern matches only empty", "", "", "", true},
		{"empty pattern refuses the rest", "", "", "/", false},
		{"trailing literal after **", "/**.end", "", "/topic/a.end", true},
		{"trailing literal missing", "/**.end", "", "/topic/a.ends", false},
	}
	for _, tc := range cases {
		if got := Match(tc.pattern, tc.user, tc.dest); got != tc.want {
			t.Errorf("%s: Match(%q, %q, %q) = %v", tc.name, tc.pattern, tc.user, tc.dest, got)
		}
	}
}

// randomParts joins up to max parts drawn from alphabet.
func randomParts(r *rand.Rand, alphabet []string, max int) string {
	var b strings.Builder
	for range r.IntN(max + 1) {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func TestMatchAgreesWithTheRecursiveDefinition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	patternParts := []string{"a", "b", "/", ".", "*", "*", "**", "{user}", "{", "u"}
	destParts := []string{"a", "b", "/", ".", "*", "{", "u", "ab", "a/"}
	users := []string{"", "a", "ab", "a/", "*", "**", "{user}"}
	for range 50000 {
		pattern, dest := randomParts(r, patternParts, 8), randomParts(r, destParts, 8)
		user := users[r.IntN(len(users))]
		want, _ := referenceMatch(pattern, user, dest)
		if got := Match(pattern, user, dest); got != want {
			t.Fatalf("Match(%q, %q, %q) = %v, the recursive definition says %v", pattern, user, dest, got, want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][3]string{
		{"/topic/chat.*", "", "/topic/chat.room.5"},
		{"/queue/user.{user}", "alice", "/queue/user.alice"},
		{"/exchange/**", "", "/exchange/logs/a.b"},
		{"/**/*/x", "u", "/a/b/x"},
		{"{user}*{user}", "a*", "a*xa*"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, pattern, user, dest string) {
		if strings.Count(pattern, "*") > 6 || len(pattern) > 48 || len(user) > 8 || len(dest) > 48 {
			t.Skip("the recursive definition is exponential")
		}
		want, _ := referenceMatch(pattern, user, dest)
		if got := Match(pattern, user, dest); got != want {
			t.Fatalf("Match(%q, %q, %q) = %v, the recursive definition says %v", pattern, user, dest, got, want)
		}
	})
}

func TestMatchDoesNotAllocate(t *testing.T) {
	dest := "/topic/" + strings.Repeat("a.", 2048)
	if n := testing.AllocsPerRun(20, func() { Match("/topic/*.*.*.*.{user}.end", "alice", dest) }); n != 0 {
		t.Fatalf("%v allocations per match", n)
	}
}

// go test -run '^$' -bench BenchmarkMatch ./auth/
func BenchmarkMatch(b *testing.B) {
	flood := "/topic/" + strings.Repeat("a.", 2048)
	for _, bc := range []struct{ name, pattern, dest string }{
		{"literal", "/pub/chat", "/pub/chat"},
		{"miss", "/queue/user.{user}", "/topic/chat.room.5"},
		{"star", "/topic/chat.*", "/topic/chat.room.5"},
		{"user", "/queue/user.{user}", "/queue/user.alice"},
		{"anything", "/**", "/exchange/logs/app.error"},
		{"flood-4KB", "/topic/*.*.*.*.*.end", flood},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(bc.pattern, "alice", bc.dest)
			}
		})
	}
}

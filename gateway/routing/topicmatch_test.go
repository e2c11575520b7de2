package routing

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// recursiveTopicMatch is the definition TopicMatch replaced: obviously
// right, exponential in the number of "#". calls counts its invocations.
func recursiveTopicMatch(p, k []string, calls *int) bool {
	*calls++
	for len(p) > 0 {
		switch p[0] {
		case "#":
			if len(p) == 1 {
				return true
			}
			for i := 0; i <= len(k); i++ {
				if recursiveTopicMatch(p[1:], k[i:], calls) {
					return true
				}
			}
			return false
		case "*":
			if len(k) == 0 {
				return false
			}
		default:
			if len(k) == 0 || k[0] != p[0] {
				return false
			}
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}

func referenceTopicMatch(pattern, key string) (match bool, calls int) {
	match = recursiveTopicMatch(strings.Split(pattern, "."), strings.Split(key, "."), &calls)
	return match, calls
}

// floodPattern is the attack: "chat" then n "#" then a word the key lacks.
func floodPattern(n int) string {
	return "chat." + strings.Repeat("#.", n) + "z"
}

// floodKey is "chat" then n-1 other words, none of them "z".
func floodKey(n int) string {
	words := []string{"chat"}
	for i := 1; i < n; i++ {
		words = append(words, "w")
	}
	return strings.Join(words, ".")
}

// The SUBSCRIBE /topic/chat.#.#.#.#.#.#.#.#.#.#.z plus a 30-word publish
// that stalled the embedded broker for seconds now costs one pass over the
// pattern per key word.
func TestTopicWildcardFloodMatchesInLinearTime(t *testing.T) {
	t.Parallel()
	pattern, key := floodPattern(10), floodKey(30)
	match, steps := topicMatch(pattern, key)
	if match {
		t.Fatalf("%q matched %q", pattern, key)
	}
	if limit := 12 * 30; steps > limit {
		t.Fatalf("%d steps, want at most words(pattern) x words(key) = %d", steps, limit)
	}

	// A smaller flood, small enough for the recursive definition, shows
	// the input is adversarial: the bound above is what changed.
	pattern, key = floodPattern(6), floodKey(20)
	_, calls := referenceTopicMatch(pattern, key)
	_, steps = topicMatch(pattern, key)
	if calls < 100*steps {
		t.Fatalf("recursive matcher: %d calls, linear: %d steps; the flood is not adversarial", calls, steps)
	}

	for _, n := range []int{8, 16, 32, 64, 128} {
		pattern, key := floodPattern(n), floodKey(n)
		if _, steps := topicMatch(pattern, key); steps > (n+2)*n {
			t.Errorf("%d words: %d steps, want at most %d", n, steps, (n+2)*n)
		}
	}
}

func TestTopicMatchEdgeCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"", "", true},
		{"", "a", false},
		{"#", "", true},
		{"*", "", true}, // "" is one empty word
		{"a.#", "a", true},
		{"a.#.b", "a.b", true},
		{"a.#.b", "a.x.y.b", true},
		{"a.#.b", "a.x.y.c", false},
		{"#.#", "a", true},
		{"#.*", "", true},
		{"#.*.#", "a.b.c", true},
		{"*.*", "a", false},
		{"a..b", "a..b", true},
		{"a.*.b", "a..b", true},
		{"a*", "ab", false}, // wildcards are whole words only
		{"a#", "a", false},
		{"#", "#", true},
		{"a.b", "a.*", false},
	}
	for _, tc := range cases {
		if got := TopicMatch(tc.pattern, tc.key); got != tc.want {
			t.Errorf("TopicMatch(%q, %q) = %v, want %v", tc.pattern, tc.key, got, tc.want)
		}
	}
}

// randomWords joins up to max words drawn from alphabet.
func randomWords(r *rand.Rand, alphabet []string, max int) string {
	words := make([]string, 1+r.IntN(max))
	for i := range words {
		words[i] = alphabet[r.IntN(len(alphabet))]
	}
	return strings.Join(words, ".")
}

func TestTopicMatchAgreesWithTheRecursiveDefinition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	patternWords := []string{"a", "b", "", "*", "#", "#", "ab"}
	keyWords := []string{"a", "b", "", "ab", "*", "#"}
	for range 50000 {
		pattern, key := randomWords(r, patternWords, 7), randomWords(r, keyWords, 8)
		want, _ := referenceTopicMatch(pattern, key)
		if got := TopicMatch(pattern, key); got != want {
			t.Fatalf("TopicMatch(%q, %q) = %v, the recursive definition says %v", pattern, key, got, want)
		}
	}
}

func FuzzTopicMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"chat.#", "chat.room.5"}, {"*.room.#", "chat.room.5.typing"}, {"#.5", "chat.room.6"},
		{"a.#.#.b", "a.x.b"}, {"", ""}, {"#", ""}, {"a..*", "a.."},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, key string) {
		if strings.Count(pattern, "#") > 6 || len(pattern) > 64 || len(key) > 64 {
			t.Skip("the recursive definition is exponential")
		}
		want, _ := referenceTopicMatch(pattern, key)
		if got := TopicMatch(pattern, key); got != want {
			t.Fatalf("TopicMatch(%q, %q) = %v, the recursive definition says %v", pattern, key, got, want)
		}
	})
}

func TestTopicMatchDoesNotAllocate(t *testing.T) {
	pattern, key := floodPattern(60), floodKey(100)
	if n := testing.AllocsPerRun(100, func() { TopicMatch(pattern, key) }); n != 0 {
		t.Fatalf("%v allocations per match", n)
	}
}

// go test -run '^$' -bench TopicMatch ./gateway/routing/
func BenchmarkTopicMatch(b *testing.B) {
	for _, bc := range []struct{ name, pattern, key string }{
		{"exact", "chat.room.5", "chat.room.5"},
		{"star", "chat.*.5", "chat.room.5"},
		{"hash", "chat.#", "chat.room.5.typing"},
		{"miss", "news.#", "chat.room.5"},
		{"flood", floodPattern(10), floodKey(30)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				TopicMatch(bc.pattern, bc.key)
			}
		})
	}
}

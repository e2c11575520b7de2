package routing

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// matches returns the patterns x.Match reports for key, sorted, and fails
// the test if one is reported twice or with another pattern's value.
func matches(t testing.TB, x *TopicIndex[string], key string) []string {
	t.Helper()
	var got []string
	x.Match(key, func(p, v string) {
		if v != "v:"+p {
			t.Fatalf("Match(%q) reported %q with value %q", key, p, v)
		}
		got = append(got, p)
	})
	slices.Sort(got)
	if i := slices.Compact(slices.Clone(got)); len(i) != len(got) {
		t.Fatalf("Match(%q) reported a pattern twice: %q", key, got)
	}
	return got
}

// bruteForce is what Match must report: every pattern TopicMatch accepts.
func bruteForce(patterns []string, key string) []string {
	var want []string
	for _, p := range patterns {
		if TopicMatch(p, key) {
			want = append(want, p)
		}
	}
	slices.Sort(want)
	return want
}

func indexOf(patterns ...string) *TopicIndex[string] {
	x := new(TopicIndex[string])
	for _, p := range patterns {
		x.Set(p, "v:"+p)
	}
	return x
}

func TestTopicIndexMatchesAsAMQPTopicExchanges(t *testing.T) {
	t.Parallel()
	patterns := []string{
		"", "#", "#.#", "*", "*.#", "#.*", "a", "a.b", "a.#", "a.#.b", "a.*.b",
		"a..b", "a.*", "#.a.#", "*.*", "#.b", "chat.room.5",
	}
	x := indexOf(patterns...)
	long := strings.Repeat("a.", 127) + "b"
	any := []string{"#", "#.#", "*.#", "#.*"} // every key matches these
	cases := []struct {
		name, key string
		want      []string
	}{
		{"the empty key is one empty word", "", []string{"", "*"}},
		{"one word", "a", []string{"*", "a", "a.#", "#.a.#"}},
		{"a pattern equal to the key, and # taking no word", "a.b", []string{"a.b", "a.#", "a.#.b", "a.*", "#.a.#", "*.*", "#.b"}},
		{"empty words are words", "a..b", []string{"a.#", "a.#.b", "a.*.b", "a..b", "#.a.#", "#.b"}},
		{"#.a.# once however many a's it could take", "a.a.a", []string{"a.#", "#.a.#"}},
		{"a literal key reaches only its own literal pattern", "chat.room.5", nil},
		{"a 128-word key", long, []string{"a.#", "a.#.b", "#.a.#", "#.b"}},
		{"* in a key is a plain word", "a.*", []string{"a.#", "a.*", "#.a.#", "*.*"}},
		{"# in a key is a plain word", "#", []string{"*"}},
		{"a key no literal pattern has", "z", []string{"*"}},
		{"a key longer than the literal pattern", "chat.room.5.typing", nil},
	}
	for _, tc := range cases {
		want := append(slices.Clone(any), tc.want...)
		if tc.key == "chat.room.5" {
			want = append(want, "chat.room.5")
		}
		slices.Sort(want)
		if ref := bruteForce(patterns, tc.key); !slices.Equal(want, ref) {
			t.Fatalf("%s: the table says %q, TopicMatch %q", tc.name, want, ref)
		}
		if got := matches(t, x, tc.key); !slices.Equal(got, want) {
			t.Errorf("%s: Match(%q) = %q, want %q", tc.name, tc.key, got, want)
		}
	}
}

func TestTopicIndexSetGetDelete(t *testing.T) {
	t.Parallel()
	var x TopicIndex[int]
	if _, ok := x.Get("a"); ok || x.Len() != 0 || x.Delete("a") {
		t.Fatal("the zero index is not empty")
	}
	x.Set("a.b", 1)
	x.Set("a.b", 2)
	x.Set("a.#", 3)
	if v, ok := x.Get("a.b"); !ok || v != 2 || x.Len() != 2 {
		t.Fatalf("after replacing a.b: Get = %d, %v; Len = %d", v, ok, x.Len())
	}
	if _, ok := x.Get("a"); ok {
		t.Fatal("Get(a) found the inner node of a.b")
	}
	if x.Delete("a") || x.Delete("a.b.c") || x.Delete("a.*") {
		t.Fatal("Delete removed a pattern that was never set")
	}
	if !x.Delete("a.b") || x.Delete("a.b") || x.Len() != 1 {
		t.Fatalf("Delete(a.b) twice: Len = %d", x.Len())
	}
	if v, ok := x.Get("a.#"); !ok || v != 3 {
		t.Fatal("deleting a.b lost a.#")
	}
	var got []string
	x.Match("a.b", func(p string, _ int) { got = append(got, p) })
	if !slices.Equal(got, []string{"a.#"}) {
		t.Fatalf("Match(a.b) after Delete(a.b) = %q", got)
	}
}

// Matches share nothing but the index and the pool of scratch sets: run
// them together under -race.
func TestTopicIndexConcurrentMatchesAgree(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	x := indexOf()
	for range 300 {
		p := randomPattern(r)
		x.Set(p, "v:"+p)
	}
	keys := make([]string, 50)
	want := make([][]string, len(keys))
	for i := range keys {
		keys[i] = randomKey(r)
		want[i] = matches(t, x, keys[i])
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i, key := range keys {
				var got []string
				x.Match(key, func(p, _ string) { got = append(got, p) })
				if slices.Sort(got); !slices.Equal(got, want[i]) {
					t.Errorf("concurrent Match(%q) = %q, alone %q", key, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

// randomPattern draws words that make empty words, wildcards and
// overlapping prefixes common.
func randomPattern(r *rand.Rand) string {
	return randomWords(r, []string{"a", "b", "", "*", "#", "#", "ab"}, 6)
}

func randomKey(r *rand.Rand) string {
	return randomWords(r, []string{"a", "b", "", "ab", "*", "#"}, 9)
}

func TestTopicIndexAgreesWithTopicMatchOnRandomPatterns(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		x := indexOf()
		live := map[string]bool{}
		for range r.IntN(200) {
			p := randomPattern(r)
			x.Set(p, "v:"+p)
			live[p] = true
		}
		check := func(stage string) {
			patterns := make([]string, 0, len(live))
			for p := range live {
				patterns = append(patterns, p)
			}
			if x.Len() != len(patterns) {
				t.Fatalf("round %d %s: Len = %d, want %d", round, stage, x.Len(), len(patterns))
			}
			for range 30 {
				key := randomKey(r)
				if got, want := matches(t, x, key), bruteForce(patterns, key); !slices.Equal(got, want) {
					t.Fatalf("round %d %s: Match(%q) = %q, want %q", round, stage, key, got, want)
				}
			}
		}
		check("after Set")
		for p := range live {
			if r.IntN(2) == 0 {
				if !x.Delete(p) {
					t.Fatalf("Delete(%q) = false", p)
				}
				delete(live, p)
			}
		}
		for range 20 { // patterns that are not there, often prefixes of ones that are
			if p := randomPattern(r); !live[p] && x.Delete(p) {
				t.Fatalf("Delete(%q) = true for a pattern that is not there", p)
			}
		}
		check("after Delete")
	}
}

func FuzzTopicIndex(f *testing.F) {
	f.Add("chat.#\n*.room.*\n#.5\n-chat.#", "chat.room.5")
	f.Add("#.a.#\n#.#\na.#.b\n-#.#", "a.a.a")
	f.Add("\n#\n*\na..b", "")
	f.Fuzz(func(t *testing.T, ops, key string) {
		if len(ops) > 1024 || len(key) > 256 {
			t.Skip()
		}
		x := indexOf()
		live := map[string]bool{}
		for _, op := range strings.Split(ops, "\n") {
			if p, ok := strings.CutPrefix(op, "-"); ok {
				if got := x.Delete(p); got != live[p] {
					t.Fatalf("Delete(%q) = %v, want %v", p, got, live[p])
				}
				delete(live, p)
				continue
			}
			x.Set(op, "v:"+op)
			live[op] = true
		}
		var patterns []string
		for p := range live {
			patterns = append(patterns, p)
			if v, ok := x.Get(p); !ok || v != "v:"+p {
				t.Fatalf("Get(%q) = %q, %v", p, v, ok)
			}
		}
		if x.Len() != len(patterns) {
			t.Fatalf("Len = %d, want %d", x.Len(), len(patterns))
		}
		if got, want := matches(t, x, key), bruteForce(patterns, key); !slices.Equal(got, want) {
			t.Fatalf("Match(%q) = %q, want %q", key, got, want)
		}
	})
}

func TestTopicIndexDeletePrunesEveryNode(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	x := indexOf()
	var patterns []string
	for i := range 10000 {
		p := fmt.Sprintf("user.%d", i)
		if i%10 == 0 {
			p = randomPattern(r) + fmt.Sprintf(".%d.", i) + randomPattern(r)
		}
		x.Set(p, "v:"+p)
		patterns = append(patterns, p)
	}
	if x.Len() != len(patterns) {
		t.Fatalf("Len = %d after setting %d patterns", x.Len(), len(patterns))
	}
	r.Shuffle(len(patterns), func(i, j int) { patterns[i], patterns[j] = patterns[j], patterns[i] })
	for i, p := range patterns {
		if !x.Delete(p) {
			t.Fatalf("Delete(%q) = false", p)
		}
		if i == len(patterns)-100 {
			user := x.root.kids.words["user"].kids
			if user.peak >= 4*len(user.words) && user.peak >= shrinkFrom {
				t.Errorf("the map of user.N holds %d of a peak of %d words: it was not copied smaller", len(user.words), user.peak)
			}
		}
	}
	if x.Len() != 0 || x.root.kids != nil {
		t.Fatalf("after deleting every pattern: Len = %d, root children %+v", x.Len(), x.root.kids)
	}
}

// topicNodes counts the nodes of the trie below and including n.
func topicNodes[V any](n *topicNode[V]) int {
	count := 1
	if k := n.kids; k != nil {
		for _, c := range k.words {
			count += topicNodes(c)
		}
		for _, c := range []*topicNode[V]{k.star, k.hash} {
			if c != nil {
				count += topicNodes(c)
			}
		}
	}
	return count
}

// naiveWalk counts the states a Match that did not remember them would
// expand: one per path through the trie (a float64: it overflows int).
func naiveWalk[V any](n *topicNode[V], inHash bool, key string, pos int, memo map[topicKey[V]]float64) float64 {
	k := topicKey[V]{n, pos}
	if c, ok := memo[k]; ok {
		return c
	}
	c := 1.0
	kids := n.kids
	if pos == len(key)+1 {
		if kids != nil && kids.hash != nil {
			c += naiveWalk(kids.hash, true, key, pos, memo)
		}
		memo[k] = c
		return c
	}
	word, next := nextWord(key, pos)
	if inHash {
		c += naiveWalk(n, true, key, next, memo)
	}
	if kids != nil {
		if kids.hash != nil {
			c += naiveWalk(kids.hash, true, key, pos, memo)
		}
		if kids.star != nil {
			c += naiveWalk(kids.star, false, key, next, memo)
		}
		if w := kids.words[word]; w != nil {
			c += naiveWalk(w, false, key, next, memo)
		}
	}
	memo[k] = c
	return c
}

// An index full of "#" and "*" (chat.#.#.#...#.z, every short mix of
// #, * and w) against a 128-word key: a walk that followed every path
// would never finish, Match stays within nodes x (words+1) steps.
func TestTopicIndexWildcardFloodAttackStaysWithinTheStepBound(t *testing.T) {
	t.Parallel()
	var patterns []string
	for n := 1; n <= 128; n *= 2 {
		patterns = append(patterns, "#."+strings.Repeat("#.", n)+"z", floodPattern(n))
	}
	var mix func(prefix string, depth int)
	mix = func(prefix string, depth int) {
		if depth == 0 {
			return
		}
		for _, w := range []string{"#", "*", "w"} {
			patterns = append(patterns, prefix+w, prefix+w+".z")
			mix(prefix+w+".", depth-1)
		}
	}
	mix("", 7)
	x := indexOf(patterns...)
	key := strings.TrimPrefix(strings.Repeat(".w", 128), ".")

	nodes, words := topicNodes(&x.root), 128
	steps := x.match(key, func(string, string) {})
	naive := naiveWalk(&x.root, false, key, 0, map[topicKey[string]]float64{})
	t.Logf("%d patterns, %d trie nodes, %d steps; forgetting states: %g steps", x.Len(), nodes, steps, naive)
	if bound := nodes * (words + 1); steps > bound {
		t.Fatalf("%d steps, want at most nodes x (words+1) = %d", steps, bound)
	}
	if naive < 1e15 {
		t.Fatalf("a walk that forgets states would take %g steps: the index is not adversarial", naive)
	}
	if got, want := matches(t, x, key), bruteForce(patterns, key); !slices.Equal(got, want) {
		t.Fatalf("Match found %d patterns, TopicMatch %d", len(got), len(want))
	}
}

// A literal key takes one step per trie node on its paths, however many
// patterns share the words: the map lookup finds the one that goes on.
func TestTopicIndexLiteralKeyTakesOneStepPerNodeOnItsPath(t *testing.T) {
	t.Parallel()
	x := indexOf("user.1", "user.2", "user.3", "user.*.typing", "news.#")
	if steps := x.match("user.2", func(string, string) {}); steps != 4 {
		t.Fatalf("Match(user.2) took %d steps, want 4 (root, user, user.2, user.*)", steps)
	}
}

func TestTopicIndexMatchDoesNotAllocate(t *testing.T) {
	x := benchIndex()
	keys := []string{"user.12345", "user.99999.typing", "nobody.here"}
	if !raceEnabled { // below a "#", Match borrows its scratch from a sync.Pool
		keys = append(keys, "room.17.chat.message", "alerts.eu.west.region17")
	}
	for _, key := range keys {
		if n := testing.AllocsPerRun(100, func() { x.Match(key, func(string, int) {}) }); n != 0 {
			t.Errorf("Match(%q): %v allocations", key, n)
		}
	}
}

// benchIndex is a node's bindings: 100,000 users' own keys and 1,000
// wildcard patterns of rooms, feeds and alerts.
func benchIndex() *TopicIndex[int] {
	x := new(TopicIndex[int])
	for i := range 100000 {
		x.Set(fmt.Sprintf("user.%d", i), i)
	}
	for i := range 250 {
		x.Set(fmt.Sprintf("user.%d.*", i), i)
		x.Set(fmt.Sprintf("room.%d.#", i), i)
		x.Set(fmt.Sprintf("*.%d.status", i), i)
		x.Set(fmt.Sprintf("alerts.#.region%d", i), i)
	}
	return x
}

// go test -run '^$' -bench TopicIndex ./gateway/routing/
func BenchmarkTopicIndexMatch(b *testing.B) {
	x := benchIndex()
	cases := []struct{ name, key string }{
		{"literal", "user.12345"},                     // user.12345
		{"literal-miss", "user.123456"},               // nothing
		{"star", "user.17.typing"},                    // user.17.*
		{"hash", "room.17.chat.message"},              // room.17.#
		{"hash-deep", "alerts.eu.west.zone.region17"}, // alerts.#.region17
		{"two-wildcards", "user.17.status"},           // user.17.* and *.17.status
	}
	run := func(b *testing.B, name, key string) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				x.Match(key, func(string, int) { n++ })
			}
			if n == 0 && !strings.HasPrefix(name, "literal-miss") {
				b.Fatalf("%q matched nothing", key)
			}
		})
	}
	for _, bc := range cases {
		run(b, bc.name, bc.key)
	}
	// A pattern that starts with "#" is tried at every word of every key.
	x.Set("#.audit", 0)
	for _, bc := range cases[:2] {
		run(b, bc.name+"-with-#.audit", bc.key)
	}
}

// BenchmarkTopicIndexMemory reports the heap an index of 100,000 literal
// patterns holds, per pattern, beside the pattern strings themselves.
func BenchmarkTopicIndexMemory(b *testing.B) {
	patterns := make([]string, 100000)
	for i := range patterns {
		patterns[i] = fmt.Sprintf("user.%d", i)
	}
	b.ReportAllocs()
	var held float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		x := new(TopicIndex[int])
		for i, p := range patterns {
			x.Set(p, i)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(patterns))
		runtime.KeepAlive(x)
	}
	b.ReportMetric(held, "B/pattern")
}

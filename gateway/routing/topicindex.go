package routing

import (
	"slices"
	"strings"
	"sync"
)

// TopicIndex maps AMQP topic binding patterns (as TopicMatch reads them) to
// one value each, and finds every pattern that matches a routing key. It is
// for a node that binds one broker queue with many patterns and hands each
// delivery to the local subscribers of every matching pattern.
//
// Patterns are kept in a trie of words in which a node has a "*" and a "#"
// child beside its literal ones, so a literal pattern is found with one map
// lookup per key word, never by a scan of the patterns.
//
// Match expands each (trie node, key position) state at most once, so no
// set of patterns makes it exponential: it takes at most
// nodes x (words(key)+1) steps, each one map lookup and at most four
// pushes, and only the nodes the key can reach count. A node with no "#"
// above it is reached only at the key position equal to its depth, so
// without "#" a Match takes one step per node on the key's paths: a literal
// key among literal patterns takes words(key)+1. Only states below a "#"
// are remembered, in a set that Match borrows from a pool.
//
// The zero value is an empty index. Set and Delete must not run
// concurrently with anything; any number of Match and Get calls may run
// together. Callers guard an index with a sync.RWMutex: Lock to Set and
// Delete, RLock to Match and Get. A TopicIndex must not be copied after
// first use.
//
// Like a map's keys, the index keeps the pattern strings it is given.
type TopicIndex[V any] struct {
	root    topicNode[V]
	len     int
	scratch sync.Pool // of *topicScratch[V], for Matches that go below a "#"
}

// topicNode is one word of one or more patterns. Most nodes are leaves, the
// last word of a literal pattern, so their children sit behind one pointer.
type topicNode[V any] struct {
	kids    *topicKids[V]
	pattern string // the pattern that ends here, if set
	value   V
	set     bool
}

type topicKids[V any] struct {
	words      map[string]*topicNode[V]
	star, hash *topicNode[V]
	// peak is the most words the map has held since it was made: Go maps
	// never shrink, so Delete copies the map once it falls to a quarter.
	peak int
}

// shrinkFrom is the map size below which Delete never copies a map.
const shrinkFrom = 64

// Len is the number of patterns in the index.
func (x *TopicIndex[V]) Len() int { return x.len }

// Set maps pattern to v, replacing any value it had.
func (x *TopicIndex[V]) Set(pattern string, v V) {
	n := &x.root
	for i := 0; i <= len(pattern); {
		var w string
		w, i = nextWord(pattern, i)
		n = n.addChild(w)
	}
	if !n.set {
		n.set = true
		x.len++
	}
	n.pattern, n.value = pattern, v
}

// Get returns the value set for pattern itself, not for the patterns that
// match it, and whether there is one.
func (x *TopicIndex[V]) Get(pattern string) (V, bool) {
	n := x.find(pattern, nil)
	if n == nil || !n.set {
		var zero V
		return zero, false
	}
	return n.value, true
}

// Delete removes pattern and reports whether it was there. It removes the
// nodes that no other pattern needs, so memory returns as patterns go.
func (x *TopicIndex[V]) Delete(pattern string) bool {
	var buf [16]topicEdge[V]
	path := buf[:0]
	n := x.find(pattern, &path)
	if n == nil || !n.set {
		return false
	}
	var zero V
	n.set, n.pattern, n.value = false, "", zero
	x.len--
	for i := len(path) - 1; i >= 0 && !n.set && n.kids == nil; i-- {
		n = path[i].parent
		n.removeChild(path[i].word)
	}
	return true
}

// topicEdge is one step of a pattern's path through the trie.
type topicEdge[V any] struct {
	parent *topicNode[V]
	word   string
}

// find returns the node of pattern, or nil, appending the path to it to
// *path when path is not nil.
func (x *TopicIndex[V]) find(pattern string, path *[]topicEdge[V]) *topicNode[V] {
	n := &x.root
	for i := 0; i <= len(pattern); {
		var w string
		w, i = nextWord(pattern, i)
		c := n.child(w)
		if c == nil {
			return nil
		}
		if path != nil {
			*path = append(*path, topicEdge[V]{n, w})
		}
		n = c
	}
	return n
}

func (n *topicNode[V]) child(w string) *topicNode[V] {
	k := n.kids
	switch {
	case k == nil:
		return nil
	case w == "*":
		return k.star
	case w == "#":
		return k.hash
	}
	return k.words[w]
}

func (n *topicNode[V]) addChild(w string) *topicNode[V] {
	if c := n.child(w); c != nil {
		return c
	}
	if n.kids == nil {
		n.kids = new(topicKids[V])
	}
	k, c := n.kids, new(topicNode[V])
	switch w {
	case "*":
		k.star = c
	case "#":
		k.hash = c
	default:
		if k.words == nil {
			k.words = make(map[string]*topicNode[V])
		}
		k.words[w] = c
		k.peak = max(k.peak, len(k.words))
	}
	return c
}

func (n *topicNode[V]) removeChild(w string) {
	k := n.kids
	switch w {
	case "*":
		k.star = nil
	case "#":
		k.hash = nil
	default:
		delete(k.words, w)
		switch {
		case len(k.words) == 0:
			k.words, k.peak = nil, 0
		case k.peak >= shrinkFrom && len(k.words) < k.peak/4:
			words := make(map[string]*topicNode[V], len(k.words))
			for w, c := range k.words {
				words[w] = c
			}
			k.words, k.peak = words, len(words)
		}
	}
	if k.words == nil && k.star == nil && k.hash == nil {
		n.kids = nil
	}
}

// nextWord returns the word of s that starts at byte i and where the next
// one starts: len(s)+1 after the last word. "" is one empty word.
func nextWord(s string, i int) (word string, next int) {
	if j := strings.IndexByte(s[i:], '.'); j >= 0 {
		return s[i : i+j], i + j + 1
	}
	return s[i:], len(s) + 1
}

// Match calls visit with every pattern in the index that matches key, and
// its value, once per pattern, in no particular order. visit must not
// change the index.
func (x *TopicIndex[V]) Match(key string, visit func(pattern string, v V)) {
	x.match(key, visit)
}

// topicState is a Match standing at node n with the key read up to byte
// pos: where its next word starts, or len(key)+1 once all are read.
type topicState[V any] struct {
	n   *topicNode[V]
	pos int
	// inHash: n is a "#" child, which may take more words. belowHash: a "#"
	// is on the path to n, so other paths may reach the same state.
	inHash, belowHash bool
}

// topicKey identifies a state for the set of states already reached.
type topicKey[V any] struct {
	n   *topicNode[V]
	pos int
}

// topicWalk is the work list of one Match: a small stack inline, where
// literal keys stay, and a pooled scratch once the walk needs more.
type topicWalk[V any] struct {
	x       *TopicIndex[V]
	inline  [16]topicState[V]
	n       int
	scratch *topicScratch[V]
}

type topicScratch[V any] struct {
	stack []topicState[V]
	few   []topicKey[V] // the states reached, while there are few
	seen  map[topicKey[V]]struct{}
}

// maxPooled bounds the stack and set a pooled scratch keeps, so one
// adversarial Match does not make every later one pay for clearing them.
const maxPooled = 1024

// match is Match, returning the number of states it expanded so that
// tests can check the bound without timing anything.
func (x *TopicIndex[V]) match(key string, visit func(string, V)) (steps int) {
	end := len(key) + 1
	w := topicWalk[V]{x: x}
	w.push(topicState[V]{n: &x.root})
	for {
		st, ok := w.pop()
		if !ok {
			break
		}
		steps++
		k := st.n.kids
		if st.pos == end {
			if st.n.set {
				visit(st.n.pattern, st.n.value)
			}
			if k != nil && k.hash != nil {
				w.push(topicState[V]{k.hash, end, true, true})
			}
			continue
		}
		word, next := nextWord(key, st.pos)
		if st.inHash {
			w.push(topicState[V]{st.n, next, true, true})
		}
		if k == nil {
			continue
		}
		if k.hash != nil {
			w.push(topicState[V]{k.hash, st.pos, true, true})
		}
		if k.star != nil {
			w.push(topicState[V]{k.star, next, false, st.belowHash})
		}
		if c := k.words[word]; c != nil {
			w.push(topicState[V]{c, next, false, st.belowHash})
		}
	}
	w.release()
	return steps
}

// push adds st to the work list unless it is below a "#" and was reached
// before.
func (w *topicWalk[V]) push(st topicState[V]) {
	if st.belowHash && !w.spill().first(topicKey[V]{st.n, st.pos}) {
		return
	}
	if w.n < len(w.inline) {
		w.inline[w.n] = st
		w.n++
		return
	}
	s := w.spill()
	s.stack = append(s.stack, st)
}

// first records k and reports whether it is new. The first few states go
// in a slice, faster to scan than a map is to hash; once it is full the
// set moves to the map.
func (s *topicScratch[V]) first(k topicKey[V]) bool {
	if len(s.few) < cap(s.few) {
		if slices.Contains(s.few, k) {
			return false
		}
		s.few = append(s.few, k)
		return true
	}
	if s.seen == nil {
		s.seen = make(map[topicKey[V]]struct{})
	}
	if len(s.seen) == 0 {
		for _, k := range s.few {
			s.seen[k] = struct{}{}
		}
	}
	if _, ok := s.seen[k]; ok {
		return false
	}
	s.seen[k] = struct{}{}
	return true
}

// pop takes a state from the work list. The order does not matter: every
// state is expanded once whichever path reached it first.
func (w *topicWalk[V]) pop() (topicState[V], bool) {
	if s := w.scratch; s != nil && len(s.stack) > 0 {
		st := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		return st, true
	}
	if w.n == 0 {
		return topicState[V]{}, false
	}
	w.n--
	return w.inline[w.n], true
}

func (w *topicWalk[V]) spill() *topicScratch[V] {
	if w.scratch == nil {
		w.scratch, _ = w.x.scratch.Get().(*topicScratch[V])
		if w.scratch == nil {
			w.scratch = &topicScratch[V]{few: make([]topicKey[V], 0, 16)}
		}
	}
	return w.scratch
}

// release returns the scratch, emptied, to the pool.
func (w *topicWalk[V]) release() {
	s := w.scratch
	if s == nil {
		return
	}
	s.few = s.few[:0]
	if len(s.seen) > maxPooled {
		s.seen = nil
	}
	clear(s.seen)
	if cap(s.stack) > maxPooled {
		s.stack = nil
	}
	s.stack = s.stack[:0]
	w.x.scratch.Put(s)
}

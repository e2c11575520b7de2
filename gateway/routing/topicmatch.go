package routing

import "strings"

// TopicMatch reports whether routing key matches an AMQP topic binding
// pattern: words are separated by ".", "*" matches one word and "#" zero or
// more.
//
// It runs in O(words(pattern) x words(key)) time, without recursion or
// backtracking, so a pattern full of "#" cannot stall a broker that matches
// every binding of a topic exchange against every published key.
func TopicMatch(pattern, key string) bool {
	ok, _ := topicMatch(pattern, key)
	return ok
}

// topicMatch simulates the pattern as an NFA over words. State i means
// "the first i pattern words have matched the key words read so far"; state
// words(pattern) accepts. For each key word the set of live states is
// advanced in one pass over the pattern. steps counts the pattern words
// examined, so that tests can check the bound without timing anything.
func topicMatch(pattern, key string) (match bool, steps int) {
	n := strings.Count(pattern, ".") + 1
	var buf [2 * 130]bool // two state sets for patterns of up to 129 words: no allocation
	sets := buf[:]
	if 2*(n+1) > len(buf) {
		sets = make([]bool, 2*(n+1))
	}
	cur, next := sets[:n+1], sets[n+1:2*(n+1)]

	cur[0] = true
	rest := pattern
	for i := 0; i < n && cur[i]; i++ { // leading "#"s may match no word
		w, r, _ := strings.Cut(rest, ".")
		rest = r
		if w != "#" {
			break
		}
		cur[i+1] = true
	}

	for k, more := key, true; more; {
		var word string
		word, k, more = strings.Cut(k, ".")
		live := false
		rest := pattern
		for i := range n {
			var w string
			w, rest, _ = strings.Cut(rest, ".")
			steps++
			if cur[i] {
				switch {
				case w == "#":
					next[i] = true // "#" takes this word and may take more
				case w == "*" || w == word:
					next[i+1] = true
				}
			}
			if next[i] && w == "#" {
				next[i+1] = true // "#" may stop here: the next word is free to match
			}
			live = live || next[i]
		}
		live = live || next[n]
		if !live {
			return false, steps
		}
		clear(cur)
		cur, next = next, cur
	}
	return cur[n], steps
}

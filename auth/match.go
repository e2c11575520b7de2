package auth

import "strings"

// Match reports whether dest matches pattern for user: "*" matches any
// run of characters except "/", "**" matches anything, "{user}" matches
// the user's name literally (a name with "*" in it is no wildcard), and
// everything else matches itself. A pattern with "{user}" never matches
// for an empty user.
//
// It runs in O(len(pattern) x len(dest)) time, without recursion or
// backtracking, so a pattern with several "*" cannot stall a frame's
// authorization on a long destination.
func Match(pattern, user, dest string) bool {
	ok, _ := match(pattern, user, dest)
	return ok
}

// Pattern tokens: a literal byte is its value, the wildcards are above it.
const (
	tokStar = 256 + iota // "*": any run without "/"
	tokAny               // "**": any run
)

// compile turns pattern into tokens, with {user} spelled out as literal
// bytes, appending to toks. ok is false when the pattern needs a user and
// there is none.
func compile(pattern, user string, toks []uint16) (_ []uint16, ok bool) {
	for i := 0; i < len(pattern); {
		switch {
		case strings.HasPrefix(pattern[i:], "**"):
			toks = append(toks, tokAny)
			i += 2
		case pattern[i] == '*':
			toks = append(toks, tokStar)
			i++
		case strings.HasPrefix(pattern[i:], "{user}"):
			if user == "" {
				return toks, false
			}
			for j := 0; j < len(user); j++ {
				toks = append(toks, uint16(user[j]))
			}
			i += len("{user}")
		default:
			toks = append(toks, uint16(pattern[i]))
			i++
		}
	}
	return toks, true
}

// match simulates the compiled pattern as an NFA over the bytes of dest.
// State i means "the first i tokens have matched the bytes read so far";
// state len(toks) accepts. A wildcard token keeps its state alive on a byte
// it may take and lets the next state start without one. Only the span of
// live states is visited, so literal stretches cost one step a byte. steps
// counts the states visited, so that tests can check the bound without
// timing anything.
func match(pattern, user, dest string) (ok bool, steps int) {
	// The literal head, up to the first wildcard or brace, is compared
	// directly: most rules fail there, and literal rules end there.
	head := pattern
	if i := strings.IndexAny(pattern, "*{"); i >= 0 {
		head = pattern[:i]
	}
	if !strings.HasPrefix(dest, head) {
		return false, 0
	}
	pattern, dest = pattern[len(head):], dest[len(head):]
	if pattern == "" {
		return dest == "", 0
	}

	var tokBuf [64]uint16 // ordinary patterns compile without allocating
	toks, ok := compile(pattern, user, tokBuf[:0])
	if !ok {
		return false, 0
	}
	n := len(toks)
	var setBuf [2 * 65]bool
	sets := setBuf[:]
	if 2*(n+1) > len(setBuf) {
		sets = make([]bool, 2*(n+1))
	}
	cur, next := sets[:n+1], sets[n+1:2*(n+1)]

	cur[0] = true
	lo, hi := 0, 0 // live states lie in cur[lo:hi+1]
	for hi < n && toks[hi] >= tokStar {
		hi++
		cur[hi] = true
	}

	for k := 0; k < len(dest); k++ {
		c := dest[k]
		nlo, nhi := -1, -1
		for i := lo; i <= n && (i <= hi || next[i]); i++ {
			steps++
			if i < n {
				t := toks[i]
				if cur[i] {
					switch {
					case t == tokAny || (t == tokStar && c != '/'):
						next[i] = true
					case t == uint16(c):
						next[i+1] = true
					}
				}
				if next[i] && t >= tokStar {
					next[i+1] = true // the wildcard may stop here
				}
			}
			if next[i] {
				if nlo < 0 {
					nlo = i
				}
				nhi = i
			}
		}
		clear(cur[lo : hi+1])
		if nlo < 0 {
			return false, steps
		}
		cur, next = next, cur
		lo, hi = nlo, nhi
	}
	return cur[n], steps
}

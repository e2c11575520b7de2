package auth

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Op is what a client wants to do with a destination.
type Op int

// Operations.
const (
	Read  Op = iota // SUBSCRIBE
	Write           // SEND
)

func (o Op) String() string {
	if o == Write {
		return "write"
	}
	return "read"
}

// rule is one line of the ACL file.
type rule struct {
	user    string // "*" for everyone
	read    bool
	write   bool
	pattern string
}

// Authorizer decides whether an identity may read or write a destination,
// from the ACL file and the permissions the identity carries. With neither
// configured, everything is allowed; otherwise what no rule allows is
// refused.
type Authorizer struct {
	path  string
	rules atomic.Pointer[[]rule]
}

// NewAuthorizer loads the ACL file at path ("" for none).
func NewAuthorizer(path string) (*Authorizer, error) {
	a := &Authorizer{path: path}
	return a, a.Reload()
}

// Reload re-reads the ACL file. A broken file keeps the previous rules.
func (a *Authorizer) Reload() error {
	if a == nil || a.path == "" {
		return nil
	}
	rules, err := parseACL(a.path)
	if err != nil {
		return err
	}
	a.rules.Store(&rules)
	return nil
}

// parseACL reads lines of "<user|*> <read|write|readwrite> <pattern>";
// blank lines and # comments are skipped.
func parseACL(path string) ([]rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ACL file: %w", err)
	}
	defer f.Close()
	var rules []rule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("ACL file %s line %d: want <user> <read|write|readwrite> <pattern>", path, n)
		}
		r := rule{user: fields[0], pattern: fields[2]}
		switch fields[1] {
		case "read":
			r.read = true
		case "write":
			r.write = true
		case "readwrite":
			r.read, r.write = true, true
		default:
			return nil, fmt.Errorf("ACL file %s line %d: %q is not read, write or readwrite", path, n, fields[1])
		}
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

// Allow reports whether id may do op on destination dest.
func (a *Authorizer) Allow(id Identity, op Op, dest string) bool {
	var rules *[]rule
	if a != nil {
		rules = a.rules.Load()
	}
	if rules == nil && id.Permissions == nil {
		return true
	}
	if p := id.Permissions; p != nil {
		patterns := p.Read
		if op == Write {
			patterns = p.Write
		}
		for _, pat := range patterns {
			if Match(pat, id.User, dest) {
				return true
			}
		}
	}
	if rules != nil {
		for _, r := range *rules {
			if (r.user == "*" || r.user == id.User) && (op == Read && r.read || op == Write && r.write) && Match(r.pattern, id.User, dest) {
				return true
			}
		}
	}
	return false
}

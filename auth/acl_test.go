package auth_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/auth"
)

func TestMatchPatterns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, user, dest string
		want                bool
	}{
		{"/topic/chat.*", "", "/topic/chat.room.5", true},
		{"/topic/chat.*", "", "/topic/chat/room", false},
		{"/topic/*", "", "/topic/a.b", true},
		{"/queue/user.{user}", "alice", "/queue/user.alice", true},
		{"/queue/user.{user}", "alice", "/queue/user.bob", false},
		{"/queue/user.{user}", "a*", "/queue/user.abc", false}, // the name is literal
		{"/queue/user.{user}", "", "/queue/user.", false},
		{"/**", "", "/exchange/x/y/z", true},
		{"/exchange/**", "", "/exchange/logs/a.b", true},
		{"/pub/chat", "", "/pub/chat", true},
		{"/pub/chat", "", "/pub/chat2", false},
		{"/topic/*.5", "", "/topic/room.5", true},
		{"/topic/*.5", "", "/topic/room.6", false},
	}
	for _, tc := range cases {
		if got := auth.Match(tc.pattern, tc.user, tc.dest); got != tc.want {
			t.Errorf("Match(%q, %q, %q) = %v", tc.pattern, tc.user, tc.dest, got)
		}
	}
}

func writeACL(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthorizerRulesFromTheACLFile(t *testing.T) {
	t.Parallel()
	a, err := auth.NewAuthorizer(writeACL(t, `
# everyone chats
*      readwrite  /topic/chat.*
*      write      /pub/chat
*      read       /queue/user.{user}
admin  readwrite  /**
`))
	if err != nil {
		t.Fatal(err)
	}
	alice, admin := auth.Identity{User: "alice"}, auth.Identity{User: "admin"}
	cases := []struct {
		id   auth.Identity
		op   auth.Op
		dest string
		want bool
	}{
		{alice, auth.Read, "/topic/chat.room.5", true},
		{alice, auth.Write, "/pub/chat", true},
		{alice, auth.Read, "/pub/chat", false},
		{alice, auth.Read, "/queue/user.alice", true},
		{alice, auth.Read, "/queue/user.bob", false},
		{alice, auth.Write, "/queue/user.alice", false},
		{alice, auth.Write, "/exchange/amq.direct/x", false},
		{admin, auth.Write, "/exchange/amq.direct/x", true},
	}
	for _, tc := range cases {
		if got := a.Allow(tc.id, tc.op, tc.dest); got != tc.want {
			t.Errorf("%s %s %s: %v, want %v", tc.id.User, tc.op, tc.dest, got, tc.want)
		}
	}
}

func TestTokenPermissionsAddToTheACL(t *testing.T) {
	t.Parallel()
	none, _ := auth.NewAuthorizer("")
	id := auth.Identity{User: "bob", Permissions: &auth.Permissions{Read: []string{"/topic/news.*"}, Write: []string{"/queue/{user}.out"}}}
	if !none.Allow(id, auth.Read, "/topic/news.eu") || !none.Allow(id, auth.Write, "/queue/bob.out") {
		t.Error("token permissions not honoured")
	}
	if none.Allow(id, auth.Write, "/topic/news.eu") || none.Allow(id, auth.Read, "/queue/alice.out") {
		t.Error("token permissions too wide")
	}
	if !none.Allow(auth.Identity{User: "carol"}, auth.Write, "/anything") {
		t.Error("without an ACL file or permissions everything is allowed")
	}
}

func TestBrokenACLFileIsAnErrorAndKeepsTheOldRules(t *testing.T) {
	t.Parallel()
	p := writeACL(t, "* read /topic/a\n")
	a, err := auth.NewAuthorizer(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("* sometimes /topic/a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if a.Reload() == nil {
		t.Fatal("a bad line was accepted")
	}
	if !a.Allow(auth.Identity{User: "x"}, auth.Read, "/topic/a") {
		t.Fatal("old rules lost")
	}
	if _, err := auth.NewAuthorizer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing ACL file was accepted")
	}
}

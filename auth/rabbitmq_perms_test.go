package auth

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func queue(p Perm, name string) ResourceAccess {
	return ResourceAccess{Perm: p, Kind: Queue, Name: name}
}

func exchange(p Perm, name string) ResourceAccess {
	return ResourceAccess{Perm: p, Kind: Exchange, Name: name}
}

func topic(p Perm, x, key string) ResourceAccess {
	return ResourceAccess{Perm: p, Kind: Exchange, Name: x, Topic: true, Key: key}
}

// These cases follow rabbit_auth_backend_internal (3.10): what it allows
// is allowed, what it refuses is refused. The byte cases were checked
// against Erlang's re:run.
func TestPermSnapshotDecidesAsRabbitMQ(t *testing.T) {
	t.Parallel()
	full := rawPerms{found: true, configure: ".*", write: ".*", read: ".*"}
	withTopics := func(topics ...rawTopicPerm) rawPerms {
		p := full
		p.topics = topics
		return p
	}
	tests := []struct {
		name   string
		raw    rawPerms
		user   string
		vhost  string
		access ResourceAccess
		want   bool
	}{
		{"no permission record refuses every resource", rawPerms{}, "u", "/", queue(ReadPerm, "q"), false},
		{"no permission record refuses topics too", rawPerms{}, "u", "/", topic(WritePerm, "amq.topic", "k"), false},
		{"a regexp matches anywhere in the name", rawPerms{found: true, read: "sub"}, "u", "/", queue(ReadPerm, "stomp-subscription-1"), true},
		{"an anchored regexp must match the whole name", rawPerms{found: true, read: "^sub"}, "u", "/", queue(ReadPerm, "stomp-subscription-1"), false},
		{"configure uses the configure regexp", rawPerms{found: true, configure: "^q$", write: ".*", read: ".*"}, "u", "/", queue(Configure, "r"), false},
		{"write uses the write regexp", rawPerms{found: true, configure: ".*", write: "^x$", read: ".*"}, "u", "/", exchange(WritePerm, "x"), true},
		{"read uses the read regexp", rawPerms{found: true, configure: ".*", write: ".*", read: "^x$"}, "u", "/", exchange(ReadPerm, "y"), false},
		{"an empty regexp refuses a name", rawPerms{found: true}, "u", "/", exchange(WritePerm, DefaultExchange), false},
		{"an empty regexp is ^$: it allows the empty name", rawPerms{found: true}, "u", "/", queue(Configure, ""), true},
		{"no topic permission on the exchange allows any key", withTopics(rawTopicPerm{"other", "^$", "^$"}), "u", "/", topic(WritePerm, "amq.topic", "anything"), true},
		{"topic write uses the write regexp", withTopics(rawTopicPerm{"amq.topic", `^chat\.`, ""}), "u", "/", topic(WritePerm, "amq.topic", "chat.room"), true},
		{"topic write refuses other keys", withTopics(rawTopicPerm{"amq.topic", `^chat\.`, ""}), "u", "/", topic(WritePerm, "amq.topic", "news.room"), false},
		{"topic read uses the read regexp, empty is ^$", withTopics(rawTopicPerm{"amq.topic", `.*`, ""}), "u", "/", topic(ReadPerm, "amq.topic", "chat.room"), false},
		{"topic configure is never allowed", withTopics(rawTopicPerm{"amq.topic", `.*`, `.*`}), "u", "/", topic(Configure, "amq.topic", "k"), false},
		{"{username} and {vhost} are expanded", withTopics(rawTopicPerm{"amq.topic", "", `^{vhost}\.{username}\.`}), "alice", "prod", topic(ReadPerm, "amq.topic", "prod.alice.inbox"), true},
		{"{username} is another user's key", withTopics(rawTopicPerm{"amq.topic", "", `^{username}\.`}), "alice", "/", topic(ReadPerm, "amq.topic", "bob.inbox"), false},
		{"the name is expanded unescaped, as RabbitMQ does", withTopics(rawTopicPerm{"amq.topic", "", `^{username}$`}), "a.c", "/", topic(ReadPerm, "amq.topic", "abc"), true},
		{"{username} is expanded before {vhost}", withTopics(rawTopicPerm{"amq.topic", "", `^{username}$`}), "x{vhost}", "v", topic(ReadPerm, "amq.topic", "xv"), true},
		{"a regexp RE2 cannot compile refuses", rawPerms{found: true, write: `^(?!x).*`}, "u", "/", exchange(WritePerm, "amq.topic"), false},
		{"a topic regexp RE2 cannot compile refuses", withTopics(rawTopicPerm{"amq.topic", `^(?=c)`, ""}), "u", "/", topic(WritePerm, "amq.topic", "chat"), false},
		{"other regexps still work beside one RE2 cannot compile", rawPerms{found: true, write: `^(?!x).*`, read: ".*"}, "u", "/", queue(ReadPerm, "q"), true},
		{"bytes, not runes: one dot is not one two-byte character", rawPerms{found: true, read: "^.$"}, "u", "/", queue(ReadPerm, "é"), false},
		{"bytes, not runes: two dots are one two-byte character", rawPerms{found: true, read: "^..$"}, "u", "/", queue(ReadPerm, "é"), true},
		{"bytes, not runes: a non-ASCII literal matches itself", rawPerms{found: true, read: "^(é)+$"}, "u", "/", queue(ReadPerm, "éé"), true},
		{"bytes, not runes: + repeats the last byte only", rawPerms{found: true, read: "^é+$"}, "u", "/", queue(ReadPerm, "éé"), false},
		{"bytes, not runes: a class of a non-ASCII character holds its bytes", rawPerms{found: true, read: "^[é]{2}$"}, "u", "/", queue(ReadPerm, "é"), true},
		{"no case folding beyond ASCII, as PCRE's default tables", rawPerms{found: true, read: "(?i)^é$"}, "u", "/", queue(ReadPerm, "É"), false},
		{"ASCII case folding works", rawPerms{found: true, read: "(?i)^abc$"}, "u", "/", queue(ReadPerm, "ABC"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newPermSnapshot(tt.raw, tt.user, tt.vhost, time.Now(), nil, zerolog.Nop())
			if got := s.allows(tt.access); got != tt.want {
				t.Errorf("%s for %q in %q with %+v: allowed %v, want %v", tt.access, tt.user, tt.vhost, tt.raw, got, tt.want)
			}
		})
	}
}

func TestPermSnapshotLogsARegexpRE2CannotCompileOnce(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	raw := rawPerms{found: true, configure: `^(?!x)`, write: `^(?!x)`, read: ".*", topics: []rawTopicPerm{{"amq.topic", `(?<=a)b`, ""}}}
	var s *permSnapshot
	for range 3 { // three refreshes of unchanged permissions
		s = newPermSnapshot(raw, "u", "/", time.Now(), s, log)
	}
	if n := strings.Count(logs.String(), "not RE2"); n != 2 {
		t.Errorf("%d log lines, want one per distinct regexp (2):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"regexp":"^(?!x)"`) || !strings.Contains(logs.String(), `"user":"u"`) {
		t.Errorf("the log does not name the regexp and user:\n%s", logs.String())
	}
	raw.configure = `^(?!y)`
	newPermSnapshot(raw, "u", "/", time.Now(), s, log)
	if n := strings.Count(logs.String(), "not RE2"); n != 3 {
		t.Errorf("%d log lines after a change, want 3", n)
	}
}

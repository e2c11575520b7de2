package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// The README's rule set for per-user inboxes, and chat rooms that only
// the backend posts to.
const inboxACL = `
*      read       /topic/chat.*
*      write      /pub/chat
*      read       /queue/user.{user}
*      write      /topic/notes.{user}
alice  readwrite  /topic/alice.*
`

// refused expects ERROR access refused whose body names what was refused.
func refused(t *testing.T, c *client, names string) {
	t.Helper()
	f, code := c.ExpectError("access_refused")
	if !strings.Contains(string(f.Body), names) || code != 1008 {
		t.Fatalf("ERROR body %q (close %d), want it to name %q", f.Body, code, names)
	}
}

// bobsInbox fills bob's inbox with n messages, as a backend would.
func bobsInbox(t *testing.T, s *authServer, n int) {
	t.Helper()
	// The inbox exists (bob subscribed once) and holds messages.
	bob := s.login(t, "bob", "builder")
	bob.Subscribe("inbox", "/queue/user.bob")
	bob.Send(stomp.CmdDisconnect, "receipt:bye")
	bob.Expect(stomp.CmdReceipt)
	admin := s.login(t, "admin", "")
	for i := range n {
		admin.Publish("/queue/user.bob", fmt.Sprint("for bob ", i))
	}
}

// checkBobsInbox makes sure bob still gets all n messages: the attack
// neither consumed nor deleted his queue.
func checkBobsInbox(t *testing.T, s *authServer, n int) {
	t.Helper()
	bob := s.login(t, "bob", "builder")
	bob.Subscribe("inbox", "/queue/user.bob")
	for i := range n {
		if m := bob.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint("for bob ", i) {
			t.Fatalf("bob's message %d: %q", i, m.Body)
		}
	}
}

func startInboxServer(t *testing.T, tweak ...func(*gateway.Config)) *authServer {
	t.Helper()
	s := startAuthServer(t, inboxACL+"admin readwrite /**\n", tweak...)
	s.users.pass["admin"] = ""
	return s
}

func TestXQueueNameCannotConsumeBindOrDeleteAnotherUsersQueue(t *testing.T) {
	t.Parallel()
	s := startInboxServer(t)
	bobsInbox(t, s, 3)
	// The reviewer's attack: a topic alice may read, bob's queue by name.
	for _, extra := range [][]string{
		{"durable:true", "auto-delete:false"},
		{},
		{"exclusive:false"},
	} {
		alice := s.login(t, "alice", "wonderland")
		alice.Send(stomp.CmdSubscribe, append([]string{"id:x", "destination:/topic/chat.x", "x-queue-name:user.bob"}, extra...)...)
		refused(t, alice, "/queue/user.bob")
	}
	// Her own inbox by name works.
	alice := s.login(t, "alice", "wonderland")
	alice.Subscribe("mine", "/topic/chat.x", "x-queue-name:user.alice")
	checkBobsInbox(t, s, 3)
}

func TestEveryQueueSpellingIsAuthorizedAsTheQueue(t *testing.T) {
	t.Parallel()
	s := startInboxServer(t)
	bobsInbox(t, s, 2)
	for _, dest := range []string{"/amq/queue/user.bob", "user.bob", "/reply-queue/user.bob", "/queue/user%2Ebob", "/queue/user.bob"} {
		alice := s.login(t, "alice", "wonderland")
		alice.Send(stomp.CmdSubscribe, "id:x", "destination:"+dest)
		if dest == "/queue/user%2Ebob" {
			// %2E is no escape: a different queue, refused all the same.
			refused(t, alice, "/queue/user%252Ebob")
			continue
		}
		refused(t, alice, "/queue/user.bob")
	}
	for _, dest := range []string{"/amq/queue/user.bob", "user.bob", "/reply-queue/user.bob"} {
		alice := s.login(t, "alice", "wonderland")
		alice.SendBody(stomp.CmdSend, "spam", "destination:"+dest)
		refused(t, alice, "write destination '/queue/user.bob'")
	}
	checkBobsInbox(t, s, 2)
}

func TestTopicExchangeSpellingCannotPostStraightToAChatRoom(t *testing.T) {
	t.Parallel()
	s := startInboxServer(t)
	room := s.login(t, "bob", "builder")
	room.Subscribe("room", "/topic/chat.room.5")
	for _, dest := range []string{"/topic/chat.room.5", "/exchange/amq.topic/chat.room.5"} {
		alice := s.login(t, "alice", "wonderland")
		alice.SendBody(stomp.CmdSend, `{"writer":"admin"}`, "destination:"+dest)
		refused(t, alice, "write destination '/topic/chat.room.5'")
	}
	// The application exchange by its exchange name is the same /pub
	// destination the rules allow.
	alice := s.login(t, "alice", "wonderland")
	alice.Publish("/exchange/stomp-gateway.app/chat", "via the exchange")
	alice.Publish("/pub/chat", "via the prefix")
	// Her own topic, spelled as the topic exchange, is hers.
	alice.Subscribe("own", "/exchange/amq.topic/alice.news")
	alice.Publish("/topic/alice.news", "mine")
	if m := alice.Expect(stomp.CmdMessage); string(m.Body) != "mine" {
		t.Fatalf("got %q", m.Body)
	}
	room.ExpectNothing(100e6)
}

func TestReplyToOnlyWhereTheSenderMayRead(t *testing.T) {
	t.Parallel()
	s := startInboxServer(t)
	bobsInbox(t, s, 1)
	for _, rt := range []string{"/queue/user.bob", "user.bob", "/amq/queue/user.bob", "/reply-queue/user.bob", "/exchange/amq.topic/bob.private", "/topic/bob.private"} {
		alice := s.login(t, "alice", "wonderland")
		alice.SendBody(stomp.CmdSend, "please answer", "destination:/pub/chat", "reply-to:"+rt)
		refused(t, alice, "may not read destination")
	}
	alice := s.login(t, "alice", "wonderland")
	alice.Publish("/pub/chat", "to my inbox", "reply-to:/queue/user.alice")
	alice.Publish("/pub/chat", "to my temp queue", "reply-to:/temp-queue/answers")
	alice.Publish("/pub/chat", "to my topic", "reply-to:/topic/alice.replies")
	checkBobsInbox(t, s, 1)
}

func TestDeadLetterExchangeCannotPublishWhereTheUserMayNotWrite(t *testing.T) {
	t.Parallel()
	s := startInboxServer(t)
	for _, hs := range [][]string{
		{"x-dead-letter-exchange:amq.topic", "x-dead-letter-routing-key:chat.room.5"},
		{"x-dead-letter-exchange:", "x-dead-letter-routing-key:user.bob"},
		{"x-dead-letter-exchange:amq.topic"}, // dead messages keep the binding's key
	} {
		alice := s.login(t, "alice", "wonderland")
		alice.Send(stomp.CmdSubscribe, append([]string{"id:x", "destination:/topic/chat.room.5", "ack:client"}, hs...)...)
		refused(t, alice, "may not write destination")
	}
	alice := s.login(t, "alice", "wonderland")
	alice.SendBody(stomp.CmdSend, "x", "destination:/queue/user.alice", "x-dead-letter-exchange:amq.topic", "x-dead-letter-routing-key:chat.room.5")
	refused(t, alice, "write destination '/queue/user.alice'")
	// Into her own notes topic she may.
	ok := s.login(t, "alice", "wonderland")
	ok.Subscribe("x", "/topic/chat.room.5", "ack:client", "x-dead-letter-exchange:amq.topic", "x-dead-letter-routing-key:notes.alice")
}

func TestDurableSubscriptionsWithTheSameIDAreNotSharedAcrossUsers(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	durable := []string{"durable:true", "auto-delete:false"}
	alice := s.login(t, "alice", "wonderland")
	alice.Subscribe("sub-0", "/topic/news", durable...) // stompjs's default id
	bob := s.login(t, "bob", "builder")
	bob.Subscribe("sub-0", "/topic/news", durable...)
	pub := s.login(t, "alice", "wonderland")
	for i := range 4 {
		pub.Publish("/topic/news", fmt.Sprint(i))
	}
	for _, c := range []*client{alice, bob} {
		for i := range 4 {
			if m := c.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint(i) {
				t.Fatalf("message %d: %q (split between users?)", i, m.Body)
			}
		}
	}
	// Each user's queue outlives the session and is theirs alone.
	bob.Send(stomp.CmdDisconnect, "receipt:bye")
	bob.Expect(stomp.CmdReceipt)
	pub.Publish("/topic/news", "while away")
	alice.Expect(stomp.CmdMessage)
	back := s.login(t, "bob", "builder")
	back.Subscribe("sub-0", "/topic/news", durable...)
	if m := back.Expect(stomp.CmdMessage); string(m.Body) != "while away" {
		t.Fatalf("bob's durable queue: %q", m.Body)
	}
}

func TestRabbitMQDurableNamesAreSharedOnlyWhenARuleAllowsTheQueue(t *testing.T) {
	t.Parallel()
	rabbitNames := func(c *gateway.Config) { c.DurableQueueNames = gateway.DurableNamesRabbitMQ }
	durable := []string{"id:sub-0", "destination:/topic/chat.news", "durable:true", "auto-delete:false"}
	s := startAuthServer(t, "* read /topic/chat.*\n", rabbitNames)
	alice := s.login(t, "alice", "wonderland")
	alice.Send(stomp.CmdSubscribe, durable...)
	refused(t, alice, "/queue/stomp-subscription-")

	shared := startAuthServer(t, "* read /topic/chat.*\n* read /queue/stomp-subscription-*\n", rabbitNames)
	a := shared.login(t, "alice", "wonderland")
	a.Send(stomp.CmdSubscribe, append(durable, "receipt:r")...)
	a.Expect(stomp.CmdReceipt)
}

func TestForgedIdentityHeaderSpellingsNeverReachSubscribers(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	sub := s.login(t, "bob", "builder")
	sub.Subscribe("s", "/topic/who")
	alice := s.login(t, "alice", "wonderland")
	forged := []string{" x-stomp-user", "x-stomp-user ", "x-stomp-user\t", "\tx-stomp-user", "X-Stomp-User", "X-STOMP-USER ", "\ufeffx-stomp-user", " x-stomp-user\u00a0"}
	for _, name := range forged {
		alice.Publish("/topic/who", "x", name+":admin")
	}
	for range forged {
		m := sub.Expect(stomp.CmdMessage)
		n := 0
		for _, h := range m.Headers {
			if strings.EqualFold(strings.TrimFunc(h.Key, func(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' }), "x-stomp-user") {
				n++
				if h.Key != "x-stomp-user" || h.Value != "alice" {
					t.Errorf("forged header %q:%q reached the subscriber", h.Key, h.Value)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d identity headers in %v", n, m.Headers)
		}
	}
}

func TestUnsubscribeDurableDeletesOnlyTheSubscriptionsOwnQueue(t *testing.T) {
	t.Parallel()
	s := startInboxServer(t)
	bobsInbox(t, s, 2)
	alice := s.login(t, "alice", "wonderland")
	alice.Subscribe("d", "/topic/chat.x", "durable:true", "auto-delete:false")
	// The frame names bob's queue; the subscription's own is deleted.
	alice.Send(stomp.CmdUnsubscribe, "id:d", "durable:true", "x-queue-name:user.bob", "receipt:gone")
	alice.Expect(stomp.CmdReceipt)
	checkBobsInbox(t, s, 2)
}

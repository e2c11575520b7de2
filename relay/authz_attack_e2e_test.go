package relay_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// aclNode is a gateway on RabbitMQ whose users are their logins, with
// the ACL rules given.
func aclNode(t *testing.T, rules string) *gatewaytest.Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	authz, err := auth.NewAuthorizer(path)
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.StartAuth(t, newRelay(t), gatewaytest.TestConfig(), auth.AllowAll{}, authz, testLogger(t))
}

func loginAs(t *testing.T, srv *gatewaytest.Server, user string) *gatewaytest.Client {
	t.Helper()
	c := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
	c.Connect("accept-version:1.2", "host:/", "login:"+user)
	return c
}

// The reviewer's attack, on RabbitMQ: alice, refused bob's inbox, names
// it in x-queue-name of a topic she may read, to consume it, bind it to a
// topic she can write and delete it with UNSUBSCRIBE durable:true.
func TestXQueueNameAttackOnBobsInboxIsRefusedOnRabbitMQ(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	inbox, topic := rb.Name("user.bob"), rb.Name("chat")
	rb.DeleteQueue(inbox)
	t.Cleanup(func() { rb.DeleteQueue(inbox) })
	srv := aclNode(t, fmt.Sprintf("* readwrite /topic/%s.*\n bob read /queue/%s\nadmin readwrite /**\n", topic, inbox))
	admin := loginAs(t, srv, "admin")
	admin.Subscribe("mk", "/queue/"+inbox)
	admin.Send(stomp.CmdUnsubscribe, "id:mk")
	for i := range 3 {
		admin.Publish("/queue/"+inbox, fmt.Sprint("for bob ", i), "persistent:true")
	}

	alice := loginAs(t, srv, "alice")
	alice.Send(stomp.CmdSubscribe, "id:x", "destination:/topic/"+topic+".x", "durable:true", "auto-delete:false", "x-queue-name:"+inbox)
	f, _ := alice.ExpectError("access_refused")
	if !contains(string(f.Body), "/queue/"+inbox) {
		t.Fatalf("ERROR %q", f.Body)
	}
	again := loginAs(t, srv, "alice")
	again.Send(stomp.CmdUnsubscribe, "id:x", "durable:true", "x-queue-name:"+inbox)
	again.ExpectError("No subscription found")

	if !rb.QueueExists(inbox) {
		t.Fatal("bob's inbox was deleted")
	}
	bob := loginAs(t, srv, "bob")
	bob.Subscribe("inbox", "/queue/"+inbox)
	for i := range 3 {
		if m := bob.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint("for bob ", i) {
			t.Fatalf("bob's message %d: %q", i, m.Body)
		}
	}
}

func TestDurableSubscriptionsOfTwoUsersWithOneIDAreTwoQueuesOnRabbitMQ(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	key := rb.Name("news")
	srv := aclNode(t, "* readwrite /**\n")
	durable := []string{"durable:true", "auto-delete:false"}
	var subs []*gatewaytest.Client
	for _, u := range []string{"alice", "bob"} {
		c := loginAs(t, srv, u)
		c.Subscribe("sub-0", "/topic/"+key, durable...)
		subs = append(subs, c)
	}
	pub := loginAs(t, srv, "carol")
	for i := range 6 {
		pub.Publish("/topic/"+key, fmt.Sprint(i))
	}
	for _, c := range subs {
		for i := range 6 {
			if m := c.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint(i) {
				t.Fatalf("message %d: %q", i, m.Body)
			}
		}
		c.Send(stomp.CmdUnsubscribe, "id:sub-0", "durable:true", "receipt:gone")
		c.Expect(stomp.CmdReceipt)
	}
}

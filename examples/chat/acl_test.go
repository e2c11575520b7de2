package chat_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/examples/chat"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// TestSampleACLKeepsClientsFromPostingStraightToARoom runs the chat room
// under the ACL the README shows (the file acl): a client posts only
// through the backend, which stamps the writer; no spelling of a room
// lets it post there itself with a writer of its choosing.
func TestSampleACLKeepsClientsFromPostingStraightToARoom(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile("acl")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), string(rules)) {
		t.Fatal("README.md does not show examples/chat/acl as it is")
	}
	authz, err := auth.NewAuthorizer("acl")
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	be, err := chat.StartBackend(t.Context(), b, "stomp-gateway.app", "x-stomp-user", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(be.Close)
	srv := gatewaytest.StartAuth(t, b, gatewaytest.TestConfig(), auth.AllowAll{}, authz, log)
	login := func(user string) *gatewaytest.Client {
		c := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
		c.Connect("accept-version:1.2", "host:/", "login:"+user)
		return c
	}

	bob := login("bob")
	bob.Subscribe("room", "/topic/chat.room.5")
	forged := `{"chatRoomId":5,"type":"MESSAGE","writer":"admin","message":"I am admin"}`
	for _, dest := range []string{"/topic/chat.room.5", "/exchange/amq.topic/chat.room.5", "chat.room.5"} {
		mallory := login("mallory")
		mallory.SendBody(stomp.CmdSend, forged, "destination:"+dest)
		mallory.ExpectError("access_refused")
	}
	// Through the backend, the writer is who the gateway says.
	mallory := login("mallory")
	mallory.Publish("/pub/chat", forged)
	m := bob.Expect(stomp.CmdMessage)
	var p chat.Post
	if err := json.Unmarshal(m.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Writer != "mallory" || p.Message != "I am admin" {
		t.Fatalf("post %+v", p)
	}
}

package relay_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// One run through every layer: a JWT authenticates the client, the ACL
// and the token's permissions decide its destinations, RabbitMQ receives
// its messages stamped with the user, and the session ends when the token
// expires. RabbitMQ's own users work through the rabbitmq backend.
func TestAuthenticatedSessionsThroughTheRabbitMQRelay(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	r := newRelay(t)
	acl := filepath.Join(t.TempDir(), "acl")
	q := rb.Name("inbox")
	if err := os.WriteFile(acl, []byte("* write /queue/"+q+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "test-secret-for-hs256-at-least-32-bytes!"
	svc, err := auth.Build(auth.Config{
		Backends: []string{"jwt", "rabbitmq"}, JWTSecret: secret, JWTUserClaim: "sub", JWTPermissionsClaim: "stomp",
		JWTClockSkew: time.Second, RabbitMQCacheTTL: time.Second, ACLFile: acl,
	}, []string{amqpURL()}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := gatewaytest.StartAuth(t, r, gatewaytest.TestConfig(), svc, svc.Authorizer, testLogger(t))

	exp := time.Now().Add(2 * time.Second)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "exp": exp.Unix(),
		"stomp": map[string]any{"read": []string{"/topic/" + rb.Name("news") + ".*"}},
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	deliveries := rb.Queue(q, "", "")

	alice := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
	header(t, alice.Connect("accept-version:1.2", "host:/", "login:ignored", "passcode:"+token), "user-name", "alice")
	alice.Publish("/amq/queue/"+q, "hello", "x-stomp-user:mallory")
	m := receive(t, deliveries)
	if got := m.Headers["x-stomp-user"]; got != "alice" {
		t.Fatalf("AMQP x-stomp-user %v", got)
	}
	alice.Subscribe("news", "/topic/"+rb.Name("news")+".eu") // allowed by the token
	alice.Send(stomp.CmdSubscribe, "id:x", "destination:/queue/"+rb.Name("secret"))
	alice.ExpectError("access_refused")

	// RabbitMQ's own guest user, checked with an AMQP handshake.
	guest := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
	header(t, guest.Connect("accept-version:1.2", "host:/", "login:guest", "passcode:guest"), "user-name", "guest")
	bad := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
	bad.Send(stomp.CmdConnect, "accept-version:1.2", "host:/", "login:guest", "passcode:wrong")
	bad.ExpectError("Bad CONNECT")

	// The token expires: the receiving session is closed.
	short, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "bob", "exp": time.Now().Add(1500 * time.Millisecond).Unix()}).SignedString([]byte(secret))
	bob := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
	bob.Connect("accept-version:1.2", "host:/", "Authorization:Bearer "+short)
	bob.ExpectError("token expired")
}

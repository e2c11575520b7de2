package chat_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/examples/chat"
)

func TestRouteStampsTheTrustedWriterAndPicksTheRoom(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1700000000123)
	key, out, err := chat.Route([]byte(`{"chatRoomId":5,"type":"MESSAGE","writer":"mallory","message":"hi"}`), "alice", now)
	if err != nil {
		t.Fatal(err)
	}
	var p chat.Post
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	if key != "chat.room.5" || p.Writer != "alice" || p.Message != "hi" || p.SentAt != now.UnixMilli() {
		t.Fatalf("key %q post %+v", key, p)
	}
}

func TestRouteDropsInvalidPosts(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":      `hello`,
		"no room":       `{"type":"MESSAGE","message":"x"}`,
		"negative room": `{"chatRoomId":-1,"type":"MESSAGE","message":"x"}`,
		"unknown type":  `{"chatRoomId":1,"type":"SHOUT","message":"x"}`,
		"empty message": `{"chatRoomId":1,"type":"MESSAGE","message":"  "}`,
		"too long":      `{"chatRoomId":1,"type":"MESSAGE","message":"` + strings.Repeat("x", chat.MaxMessage+1) + `"}`,
	} {
		if _, _, err := chat.Route([]byte(body), "alice", time.Now()); !errors.Is(err, chat.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := chat.Route([]byte(`{"chatRoomId":1,"type":"ENTER"}`), "", time.Now()); !errors.Is(err, chat.ErrInvalid) {
		t.Error("a post without identity was accepted")
	}
}

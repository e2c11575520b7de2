// Package chat is the seed's chat room: a page served by the gateway
// (web/), and the backend service that turns posts into room messages.
//
// Clients SUBSCRIBE to /topic/chat.room.N and post by SENDing a JSON body
// to the application destination /pub/chat. The backend consumes the
// application exchange, takes the writer from the gateway's trusted
// identity header (never from the body), and publishes the post to the
// room's topic. cmd/chat-backend runs it over plain AMQP next to RabbitMQ;
// Backend runs it in-process over the gateway's broker port, for
// `make run` on the embedded broker.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Post is a chat message as the seed's clients send it.
type Post struct {
	ChatRoomID int    `json:"chatRoomId"`
	Type       string `json:"type"` // ENTER, MESSAGE or LEAVE
	Writer     string `json:"writer"`
	Message    string `json:"message"`
	// SentAt is set by the backend, in Unix milliseconds.
	SentAt int64 `json:"sentAt,omitempty"`
}

// MaxMessage bounds a post's text, in characters.
const MaxMessage = 2000

// ErrInvalid marks a post the backend drops.
var ErrInvalid = errors.New("invalid chat post")

// RoomKey is the routing key of room n's topic: /topic/chat.room.N.
func RoomKey(n int) string { return fmt.Sprintf("chat.room.%d", n) }

// Route validates a post, stamps it with the sender's identity (the
// gateway's identity header, which clients cannot forge) and returns the
// routing key and body to publish to the room's topic.
func Route(body []byte, user string, now time.Time) (key string, out []byte, err error) {
	var p Post
	if err := json.Unmarshal(body, &p); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch {
	case user == "":
		return "", nil, fmt.Errorf("%w: no identity header", ErrInvalid)
	case p.ChatRoomID < 1 || p.ChatRoomID > 1_000_000:
		return "", nil, fmt.Errorf("%w: chatRoomId %d", ErrInvalid, p.ChatRoomID)
	case p.Type != "ENTER" && p.Type != "MESSAGE" && p.Type != "LEAVE":
		return "", nil, fmt.Errorf("%w: type %q", ErrInvalid, p.Type)
	case p.Type == "MESSAGE" && strings.TrimSpace(p.Message) == "":
		return "", nil, fmt.Errorf("%w: empty message", ErrInvalid)
	case utf8.RuneCountInString(p.Message) > MaxMessage:
		return "", nil, fmt.Errorf("%w: message longer than %d characters", ErrInvalid, MaxMessage)
	}
	p.Writer = user
	p.SentAt = now.UnixMilli()
	out, err = json.Marshal(p)
	return RoomKey(p.ChatRoomID), out, err
}

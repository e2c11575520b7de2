// Package auth decides who a client is (authentication) and what it may do
// (authorization). The gateway calls an Authenticator on CONNECT; backends
// (static users, JWT, HTTP callback, RabbitMQ) implement it.
package auth

import (
	"context"
	"errors"
	"time"
)

// Credentials are what a client presented: CONNECT headers and, for
// clients that authenticate at the HTTP layer, the upgrade request.
type Credentials struct {
	Login    string
	Passcode string
	// Token is a bearer token from an Authorization header.
	Token  string
	VHost  string
	Remote string // the client's address
}

// Identity is an authenticated client.
type Identity struct {
	User string
	// Expires is when the credentials stop being valid; zero means never.
	Expires time.Time
}

// Authenticator checks credentials.
type Authenticator interface {
	// Authenticate returns the identity for c, or an error wrapping
	// ErrDenied when the credentials are not accepted.
	Authenticate(ctx context.Context, c Credentials) (Identity, error)
}

// ErrDenied is returned for credentials that are not accepted. The client
// sees one uniform error whatever the reason.
var ErrDenied = errors.New("access refused")

// AllowAll accepts every client. The user is the login, or "anonymous"
// when none was given. It is the default until a backend is configured.
type AllowAll struct{}

// Authenticate implements Authenticator.
func (AllowAll) Authenticate(_ context.Context, c Credentials) (Identity, error) {
	if c.Login == "" {
		return Identity{User: "anonymous"}, nil
	}
	return Identity{User: c.Login}, nil
}

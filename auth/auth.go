// Package auth decides who a client is (authentication) and what it may
// do (authorization).
//
// The gateway calls an Authenticator on CONNECT with the credentials the
// client presented. Backends (static users file, JWT, HTTP callback,
// RabbitMQ, none) each implement it; Chain tries several in order. The
// Authorizer checks SEND (write) and SUBSCRIBE (read) destinations against
// the ACL file and the permissions an identity carries.
//
// Nothing here logs or returns credentials: errors name the reason, never
// the passcode or token.
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
	// Token is a bearer token: from an "Authorization: Bearer" CONNECT
	// header, or from the WebSocket upgrade (Authorization header, cookie,
	// access_token query parameter).
	Token  string
	VHost  string
	Remote string // the client's address
}

// Identity is an authenticated client.
type Identity struct {
	User string
	// Expires is when the credentials stop being valid (a token's exp);
	// the gateway closes the session then. Zero means never.
	Expires time.Time
	// Permissions are what the credentials themselves grant (a token
	// claim, the HTTP callback's answer); nil when they grant nothing, and
	// only the ACL file applies.
	Permissions *Permissions
	// Resources, when set, decides AMQP resource accesses as the broker's
	// own permissions do (the rabbitmq backend); they then apply on top
	// of the destination rules.
	Resources ResourceChecker
}

// Permissions are destination patterns a user may read (SUBSCRIBE) and
// write (SEND) to. In a pattern, "*" matches any run of characters except
// "/", "**" matches anything, and "{user}" is the user's name.
type Permissions struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
}

// Authenticator checks credentials.
type Authenticator interface {
	// Authenticate returns the identity for c. It returns an error wrapping
	// ErrDenied when the credentials are not accepted (or are not of a kind
	// this backend checks), and one wrapping ErrUnavailable when it cannot
	// decide (its service is down): the gateway then refuses the client.
	Authenticate(ctx context.Context, c Credentials) (Identity, error)
}

// Reloader is a backend with files that SIGHUP reloads.
type Reloader interface {
	Reload() error
}

var (
	// ErrDenied: the credentials are not accepted. The client sees one
	// uniform error whatever the reason.
	ErrDenied = errors.New("access refused")
	// ErrUnavailable: the backend cannot decide now; fail closed.
	ErrUnavailable = errors.New("authentication unavailable")
	// ErrVHostDenied: the credentials are good but the virtual host is not
	// the user's. It is an ErrDenied too; the client is told which, as
	// RabbitMQ's STOMP plugin tells it.
	ErrVHostDenied error = vhostDenied{}
)

type vhostDenied struct{}

func (vhostDenied) Error() string        { return "virtual host access denied" }
func (vhostDenied) Is(target error) bool { return target == ErrDenied }

// AllowAll accepts every client, as the `none` backend. The user is the
// login, or "anonymous" when none was given.
type AllowAll struct{}

// Authenticate implements Authenticator.
func (AllowAll) Authenticate(_ context.Context, c Credentials) (Identity, error) {
	if c.Login == "" {
		return Identity{User: "anonymous"}, nil
	}
	return Identity{User: c.Login}, nil
}

// Chain tries authenticators in order: the first that accepts wins. When
// none accepts, the result is ErrUnavailable if one could not decide (fail
// closed, and say so), else a denial: ErrVHostDenied when a backend
// accepted the credentials but not the virtual host, ErrDenied otherwise.
type Chain []Authenticator

// Authenticate implements Authenticator.
func (ch Chain) Authenticate(ctx context.Context, c Credentials) (Identity, error) {
	var unavailable, vhost error
	for _, a := range ch {
		id, err := a.Authenticate(ctx, c)
		if err == nil {
			return id, nil
		}
		if errors.Is(err, ErrVHostDenied) && vhost == nil {
			vhost = err
		}
		if !errors.Is(err, ErrDenied) && unavailable == nil {
			unavailable = err
		}
	}
	if unavailable != nil {
		if !errors.Is(unavailable, ErrUnavailable) {
			unavailable = errors.Join(ErrUnavailable, unavailable)
		}
		return Identity{}, unavailable
	}
	if vhost != nil {
		return Identity{}, vhost
	}
	return Identity{}, ErrDenied
}

// Reload reloads every backend that has files.
func (ch Chain) Reload() error {
	var errs []error
	for _, a := range ch {
		if r, ok := a.(Reloader); ok {
			errs = append(errs, r.Reload())
		}
	}
	return errors.Join(errs...)
}

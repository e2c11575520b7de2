package auth

import (
	"context"
	"errors"
	"fmt"
)

// A frame can touch several broker resources: SUBSCRIBE /topic/K with
// x-queue-name:Q reads the topic, declares, binds and consumes queue Q,
// and may name a dead-letter exchange that messages are later published
// to. The gateway describes all of them in a Request, in two vocabularies:
//
//   - Dests, for the ACL file and token permissions: each resource as the
//     canonical STOMP destination it is (a queue is always /queue/<name>,
//     whatever form named it), with Read (receive from) or Write (send to);
//   - AMQP, for RabbitMQ's own permissions: what RabbitMQ's STOMP plugin
//     would need on the same resources (configure, write, read on queues
//     and exchanges, and topic permissions).
//
// A request is allowed only when every part of it is.

// Perm is a RabbitMQ permission.
type Perm int

// RabbitMQ's permissions on a resource.
const (
	Configure Perm = iota // declare, delete
	WritePerm             // publish to an exchange; bind to a queue
	ReadPerm              // consume a queue; bind from an exchange
)

func (p Perm) String() string {
	switch p {
	case Configure:
		return "configure"
	case WritePerm:
		return "write"
	}
	return "read"
}

// ResourceKind is what an AMQP access is on.
type ResourceKind int

// Resource kinds, as RabbitMQ names them in its errors.
const (
	Queue ResourceKind = iota + 1
	Exchange
)

func (k ResourceKind) String() string {
	if k == Exchange {
		return "exchange"
	}
	return "queue"
}

// DefaultExchange is the name RabbitMQ checks permissions on for the
// default exchange ("").
const DefaultExchange = "amq.default"

// DestAccess is a Read or Write of one canonical destination.
type DestAccess struct {
	Op   Op
	Dest string
}

// ResourceAccess is one permission check RabbitMQ would make.
type ResourceAccess struct {
	Perm Perm
	Kind ResourceKind
	Name string // queue or exchange name (DefaultExchange for "")
	// Topic asks for a topic-permission check on exchange Name with
	// routing key Key (Read for a binding key, Write for a publish), as
	// RabbitMQ makes on topic exchanges.
	Topic bool
	Key   string
}

func (a ResourceAccess) String() string {
	if a.Topic {
		return fmt.Sprintf("%s access to topic '%s' in exchange '%s'", a.Perm, a.Key, a.Name)
	}
	return fmt.Sprintf("%s access to %s '%s'", a.Perm, a.Kind, a.Name)
}

// Request is everything one frame does to the broker.
type Request struct {
	Dests []DestAccess
	AMQP  []ResourceAccess
}

// Read adds a read of destination dest.
func (r *Request) Read(dest string) { r.Dests = append(r.Dests, DestAccess{Read, dest}) }

// Write adds a write of destination dest.
func (r *Request) Write(dest string) { r.Dests = append(r.Dests, DestAccess{Write, dest}) }

// Need adds AMQP permission checks: perm on each named resource of kind.
func (r *Request) Need(perm Perm, kind ResourceKind, names ...string) {
	for _, n := range names {
		if kind == Exchange && n == "" {
			n = DefaultExchange
		}
		r.AMQP = append(r.AMQP, ResourceAccess{Perm: perm, Kind: kind, Name: n})
	}
}

// NeedTopic adds a topic-permission check on exchange x with key.
func (r *Request) NeedTopic(perm Perm, x, key string) {
	r.AMQP = append(r.AMQP, ResourceAccess{Perm: perm, Kind: Exchange, Name: x, Topic: true, Key: key})
}

// ResourceChecker decides AMQP resource accesses for one identity, the
// way RabbitMQ's permissions do. The rabbitmq backend gives identities
// one; it returns nil when allowed, an error wrapping ErrDenied when not,
// and one wrapping ErrUnavailable when it cannot tell (which refuses).
type ResourceChecker interface {
	CheckResource(ctx context.Context, a ResourceAccess) error
}

// ErrRefused is a request the identity may not make. Its Error names the
// resource and is safe to show the client.
type ErrRefused struct {
	User string
	// Dest is set for a refused destination, Access for a refused AMQP
	// resource.
	Dest   *DestAccess
	Access *ResourceAccess
	VHost  string
}

func (e *ErrRefused) Error() string {
	if e.Dest != nil {
		return fmt.Sprintf("User '%s' may not %s destination '%s'.", e.User, e.Dest.Op, e.Dest.Dest)
	}
	vhost := e.VHost
	if vhost == "" {
		vhost = "/"
	}
	// RabbitMQ's wording (rabbit_access_control), so searches find it.
	a := e.Access
	if a.Topic {
		return fmt.Sprintf("%s access to topic '%s' in exchange '%s' in vhost '%s' refused for user '%s'", a.Perm, a.Key, a.Name, vhost, e.User)
	}
	return fmt.Sprintf("%s access to %s '%s' in vhost '%s' refused for user '%s'", a.Perm, a.Kind, a.Name, vhost, e.User)
}

// Unwrap makes an ErrRefused an ErrDenied.
func (e *ErrRefused) Unwrap() error { return ErrDenied }

// Authorize reports whether id may make req in vhost: nil when every
// destination and every AMQP resource in it is allowed; an *ErrRefused
// for the first that is not; an error wrapping ErrUnavailable when the
// identity's permissions could not be consulted (refused too).
//
// Destinations follow Allow. AMQP resources are checked only for
// identities that carry a ResourceChecker (RabbitMQ's users), and then
// always, whatever the ACL file says.
func (a *Authorizer) Authorize(ctx context.Context, id Identity, vhost string, req Request) error {
	for i := range req.Dests {
		d := &req.Dests[i]
		if !a.Allow(id, d.Op, d.Dest) {
			return &ErrRefused{User: id.User, Dest: d, VHost: vhost}
		}
	}
	if id.Resources == nil {
		return nil
	}
	for i := range req.AMQP {
		r := &req.AMQP[i]
		if err := id.Resources.CheckResource(ctx, *r); err != nil {
			if errors.Is(err, ErrDenied) {
				return &ErrRefused{User: id.User, Access: r, VHost: vhost}
			}
			return err
		}
	}
	return nil
}

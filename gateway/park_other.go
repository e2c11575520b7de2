//go:build !linux

package gateway

import "errors"

// Elsewhere sessions are never parked: sockReader reports no socket.
var idlePoller poller

type poller struct{}

func (poller) watch(int, *session) error { return errors.New("parking is not supported here") }
func (poller) forget(int, *session)      {}

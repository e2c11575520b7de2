//go:build !linux

package relay

import (
	"net"
	"syscall"
)

// Elsewhere RabbitMQ's socket is read and written through net.Conn.
const canRawIO = false

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func readRaw(syscall.RawConn, []byte) (int, error) { panic("unreachable") }

func writeRaw(syscall.RawConn, []byte) error { panic("unreachable") }

package memory

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
)

// durableQueueName names the queue of a durable topic/exchange
// subscription the way RabbitMQ 3.x–4.2 does
// (rabbit_stomp_util:subscription_queue_name): "stomp-subscription-" and the
// unpadded base64url MD5 of term_to_binary({Key, SubId}) with both as Erlang
// strings. The same id and key give the same queue in every session, and
// the names match the queues a RabbitMQ deployment would have. MD5 only
// bounds the length; it protects nothing.
func durableQueueName(key, id string) string {
	term := []byte{131, 104, 2} // version, SMALL_TUPLE_EXT, arity 2
	term = appendErlangString(term, key)
	term = appendErlangString(term, id)
	sum := md5.Sum(term)
	return "stomp-subscription-" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// appendErlangString appends s as term_to_binary encodes a list of bytes:
// NIL_EXT when empty, STRING_EXT up to 65535 bytes, else LIST_EXT of
// SMALL_INTEGER_EXT.
func appendErlangString(b []byte, s string) []byte {
	switch {
	case s == "":
		return append(b, 106)
	case len(s) <= 0xffff:
		b = append(b, 107)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		return append(b, s...)
	}
	b = append(b, 108)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	for i := 0; i < len(s); i++ {
		b = append(b, 97, s[i])
	}
	return append(b, 106)
}

// randomName is prefix and 16 random bytes in unpadded base64url, the shape
// of RabbitMQ's server-named queues (amq.gen-*).
func randomName(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

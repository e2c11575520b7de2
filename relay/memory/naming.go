package memory

import (
	"crypto/rand"
	"encoding/base64"
)

// randomName is prefix and 16 random bytes in unpadded base64url, the shape
// of RabbitMQ's server-named queues (amq.gen-*).
func randomName(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

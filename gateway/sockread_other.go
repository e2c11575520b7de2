//go:build !linux

package gateway

// Elsewhere the reader blocks in Read with a pooled buffer.
const canAwaitReadable = false

func readable(uintptr) bool { return true }

package routing

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Message property headers whose values must be well formed: the same
// rules for every broker, checked before anything is published, so a
// mistake is the client's ERROR (and a transaction is refused whole)
// rather than a failed publish.

// MaxExpiration is the largest message TTL RabbitMQ accepts, in
// milliseconds (MAX_EXPIRY_TIMER, the limit of erlang:send_after).
const MaxExpiration = math.MaxUint32

// ParsePriority reads a priority header: an integer from 0 to 255.
func ParsePriority(v string) (uint8, error) {
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("%w: priority must be an integer from 0 to 255", broker.ErrInvalidHeader)
	}
	return uint8(n), nil
}

// CheckExpiration checks an expiration header the way RabbitMQ will: a
// decimal number of milliseconds up to MaxExpiration.
func CheckExpiration(v string) error {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > MaxExpiration {
		return fmt.Errorf("%w: expiration must be a number of milliseconds from 0 to %d", broker.ErrInvalidHeader, uint64(MaxExpiration))
	}
	return nil
}

// ParseTimestamp reads a timestamp header: seconds since 1970.
func ParseTimestamp(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%w: timestamp must be a non-negative integer of seconds since 1970", broker.ErrInvalidHeader)
	}
	return time.Unix(n, 0), nil
}

// CheckHeaders checks the first occurrence of each property header of a
// message; nil when all are well formed.
func CheckHeaders(hs []broker.Header) error {
	var seen [3]bool
	for _, h := range hs {
		var err error
		switch h.Name {
		case "priority":
			if !seen[0] {
				seen[0] = true
				_, err = ParsePriority(h.Value)
			}
		case "expiration":
			if !seen[1] {
				seen[1] = true
				err = CheckExpiration(h.Value)
			}
		case "timestamp":
			if !seen[2] {
				seen[2] = true
				_, err = ParseTimestamp(h.Value)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

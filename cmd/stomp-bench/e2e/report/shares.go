package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// saturationParts are the parts of the gateway's CPU at saturation the
// report names under its profile: most of what the gateway spends per
// message is not its own code.
var saturationParts = []struct{ fn, what string }{
	{"github.com/rabbitmq/amqp091-go.(*Connection).reader", "amqp091-go reading RabbitMQ's frames (deliveries, confirms)"},
	{"github.com/rabbitmq/amqp091-go.(*Channel).PublishWithDeferredConfirm", "amqp091-go encoding and sending each publish"},
	{"runtime.mallocgc", "allocating, anywhere (inside the two above too)"},
	{"runtime.gcBgMarkWorker", "the collector's mark workers"},
}

// cumLine is a line of `go tool pprof -top`: flat, flat%, sum%, cum,
// cum%, function.
var cumLine = regexp.MustCompile(`^\s*\S+\s+[0-9.]+%\s+[0-9.]+%\s+\S+\s+([0-9.]+)%\s+(.+?)(?: \(inline\))?\s*$`)

// cumShares returns the cum% of each function a pprof listing names.
func cumShares(listing string) map[string]float64 {
	out := map[string]float64{}
	for _, l := range strings.Split(listing, "\n") {
		m := cumLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if v, err := strconv.ParseFloat(m[1], 64); err == nil && v > out[m[2]] {
			out[m[2]] = v
		}
	}
	return out
}

// writeSaturationShares says where the saturation profile's CPU went and
// what amqp091-go's share is of the gateway's CPU per message.
func writeSaturationShares(w io.Writer, listing string, s set) {
	shares := cumShares(listing)
	var parts []string
	lib := 0.0
	for i, p := range saturationParts {
		v, ok := shares[p.fn]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%.0f%% %s", v, p.what))
		if i < 2 {
			lib += v
		}
	}
	if len(parts) == 0 {
		return
	}
	fmt.Fprintf(w, "Of the gateway's CPU in this profile: %s.", strings.Join(parts, "; "))
	if sat := s.cell("queue11", "gateway", cpuOf(server, perDelivery)); sat.ok() && lib > 0 {
		fmt.Fprintf(w, " At the %s per message measured at saturation, amqp091-go's two parts come to about %s.", us(sat.mean), us(sat.mean*lib/100))
	}
	fmt.Fprint(w, "\n\n")
}

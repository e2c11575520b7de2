package main

import (
	"fmt"
	"io"
)

// Issue 13's goals in microseconds and connects per second were set on
// this kind of machine when direct AMQP relayed 49.7k-52.0k msgs/s at
// /queue 1 / 1 (the issue's table, 2026-11-29). The same kind of machine
// later ran that baseline at 77.6k and, 80 minutes after, at 39.9k msgs/s
// (docs/BENCHMARKS.md of 2026-12-08), and every absolute number moved
// with it. Setting the
// baseline of a run beside the issue's says how fast the machine was, and
// what the absolute goals come to at that speed.
const issueAMQPRate = (49_700 + 52_000) / 2.0

// writeSpeed reads the absolute goals at this run's speed. The main
// table keeps them as written; this is for reading it.
func writeSpeed(w io.Writer, s set) {
	amqp := s.cell("queue11", "amqp", delivered)
	if !amqp.ok() {
		return
	}
	speed := amqp.mean / issueAMQPRate
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## How fast this machine was\n\n")
	p("Issue 13's goals in microseconds and connects per second were set on this kind of machine when\n")
	p("direct AMQP relayed %s msgs/s at /queue 1 / 1 (the mean of the issue's 49.7k - 52.0k). In this run it\n", num(issueAMQPRate))
	p("relayed %s/s: the machine ran at %.2fx that speed. The table above holds the goals as written; at\n", num(amqp.mean), speed)
	p("this run's speed they come to:\n\n")
	p("| goal | as written | at %.2fx | stomp-gateway | met at this speed |\n|---|---|---|---|---|\n", speed)
	cpu2000 := s.cell("cpu2000", "gateway", cpuOf(server, perMessage))
	if cpu2000.ok() {
		p("| gateway CPU per relayed message at 2,000 msg/s | <= 40 us | <= %s | %s | %s |\n", us(40/speed), us(cpu2000.mean), atMost(cpu2000.mean, 40/speed, us))
	}
	sat := s.cell("queue11", "gateway", cpuOf(server, perDelivery))
	if sat.ok() {
		p("| gateway CPU per message at saturation | <= 15 us | <= %s | %s | %s |\n", us(15/speed), us(sat.mean), atMost(sat.mean, 15/speed, us))
	}
	conns := s.cell("connects", "gateway", connectsPerSecond)
	if conns.ok() {
		p("| connects/s | >= 5,000 | >= %s | %s | %s |\n", num(5000*speed), num(conns.mean), atLeast(conns.mean, 5000*speed, num))
	}
	p("\nLatency goals are not scaled: how late a message is under load does not move in proportion.\n\n")
}

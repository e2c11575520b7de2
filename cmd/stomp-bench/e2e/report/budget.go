package main

import (
	"fmt"
	"io"
)

// throughputShapes are the /queue rows whose goal is a share of direct
// AMQP's rate, with the names of their runs.
var throughputShapes = []struct{ measure, title string }{
	{"queue11", "/queue 1 / 1"},
	{"queue44", "/queue 4 / 4"},
}

// cpuShare is the CPU of one process over the runs of a shape: per
// message (mean) and in cores (mean).
func (s set) cpuShare(measure, target string, which func(*run) *cpu) (perMsg, cores float64, ok bool) {
	pm := s.cell(measure, target, cpuOf(which, perMessage))
	cs := s.cell(measure, target, cpuOf(which, func(c *cpu) float64 { return c.Cores }))
	return pm.mean, cs.mean, pm.ok() && cs.ok()
}

func client(r *run) *cpu { return r.Result.ClientCPU }

// writeBudget explains the /queue throughput rows from the CPU the runs
// used: on a machine the three processes fill, a rate is the cores over
// what one message costs all of them, so the gateway's share of direct
// AMQP's rate is the ratio of those costs.
func writeBudget(w io.Writer, s set, cpus int) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	var rows, notes []string
	for _, sh := range throughputShapes {
		gw, gwCores, okG := s.cpuShare(sh.measure, "gateway", server)
		gb, gbCores, okGB := s.cpuShare(sh.measure, "gateway", broker)
		gc, gcCores, okGC := s.cpuShare(sh.measure, "gateway", client)
		ab, abCores, okAB := s.cpuShare(sh.measure, "amqp", broker)
		ac, acCores, okAC := s.cpuShare(sh.measure, "amqp", client)
		rate, okR := ratio(s.cell(sh.measure, "gateway", delivered), s.cell(sh.measure, "amqp", delivered))
		if !okG || !okGB || !okGC || !okAB || !okAC || !okR {
			continue
		}
		gAll, aAll := gw+gb+gc, ab+ac
		rows = append(rows,
			fmt.Sprintf("| %s | stomp-gateway | %.1f us | %.1f us | %.1f us | %.1f us | %.2f | %s/s |\n", sh.title, gw, gb, gc, gAll, gwCores+gbCores+gcCores, num(s.cell(sh.measure, "gateway", delivered).mean)),
			fmt.Sprintf("| %s | direct AMQP | - | %.1f us | %.1f us | %.1f us | %.2f | %s/s |\n", sh.title, ab, ac, aAll, abCores+acCores, num(s.cell(sh.measure, "amqp", delivered).mean)))
		notes = append(notes, fmt.Sprintf("- %s: direct AMQP's cost over the gateway path's, %.1f / %.1f us, is %.2fx; the rates measured %.2fx.\n"+
			"  Behind the gateway the broker takes %+.1f us per message more than for direct AMQP. At 0.6x, with the\n"+
			"  broker and the load tool as they were, the gateway would have %.1f us per message; it took %.1f us.\n",
			sh.title, aAll, gAll, aAll/gAll, rate, gb-ab, aAll/0.6-gb-gc, gw))
	}
	if len(rows) == 0 {
		return
	}
	p("## Where the /queue throughput goes\n\n")
	p("The throughput runs use the whole machine: the rate is what %d cores buy when every message costs\n", cpus)
	p("the server, the broker and the load tool their CPU per message (means of the rounds).\n\n")
	p("| shape | path | server | broker | load tool | all, per message | cores used | rate |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		p("%s", r)
	}
	p("\n")
	for _, n := range notes {
		p("%s", n)
	}
	p("\nWhat differs at the broker: the direct AMQP baseline consumes with no-ack consumers and publishes\n")
	p("bare messages; behind the gateway RabbitMQ also tracks and acks every delivery (a delivery to an\n")
	p("`ack:auto` subscription on a queue is settled once the gateway wrote it, in multiple acks, so a\n")
	p("gateway that dies loses nothing) and carries each message's sender header. Which of the two\n")
	p("costs what is not measured here.\n\n")
}

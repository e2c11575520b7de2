package main

import (
	"fmt"
	"io"
	"strings"
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

// asksTarget names the direct AMQP runs that ask of RabbitMQ what the
// gateway does: acks, mandatory publishes and a sender header.
const asksTarget = "amqpasks"

// asksFlags are the amqp-throughput flags of the first asksTarget run
// that set what the broker is asked, as a command line.
func (s set) asksFlags() string {
	for _, r := range s.runs {
		if r.Target != asksTarget {
			continue
		}
		var out []string
		for _, f := range []string{"ack", "ack-every", "prefetch", "mandatory", "header"} {
			if v, ok := r.Flags[f]; ok {
				out = append(out, "-"+f+"="+v)
			}
		}
		return strings.Join(out, " ")
	}
	return ""
}

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
		note := fmt.Sprintf("- %s: direct AMQP's cost over the gateway path's, %.1f / %.1f us, is %.2fx; the rates measured %.2fx.\n"+
			"  Behind the gateway the broker takes %+.1f us per message more than for direct AMQP. At 0.6x, with the\n"+
			"  broker and the load tool as they were, the gateway would have %.1f us per message; it took %.1f us.\n",
			sh.title, aAll, gAll, aAll/gAll, rate, gb-ab, aAll/0.6-gb-gc, gw)
		// Direct AMQP asking of RabbitMQ what the gateway asks: how much
		// of the broker's extra is the gateway's guarantees, not its code.
		if sb, sbCores, ok := s.cpuShare(sh.measure, asksTarget, broker); ok {
			sc, scCores, okC := s.cpuShare(sh.measure, asksTarget, client)
			sRate, okSR := ratio(s.cell(sh.measure, "gateway", delivered), s.cell(sh.measure, asksTarget, delivered))
			if okC && okSR {
				rows = append(rows, fmt.Sprintf("| %s | direct AMQP, asking what the gateway asks | - | %.1f us | %.1f us | %.1f us | %.2f | %s/s |\n",
					sh.title, sb, sc, sb+sc, sbCores+scCores, num(s.cell(sh.measure, asksTarget, delivered).mean)))
				note += fmt.Sprintf("  A direct AMQP client asking what the gateway asks costs the broker %+.1f us per message over\n"+
					"  the bare baseline (the gateway's path: %+.1f us); the gateway relays %.2fx that client's rate.\n", sb-ab, gb-ab, sRate)
			}
		}
		notes = append(notes, note)
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
	p("gateway that dies loses nothing), returns what no queue took (mandatory) and carries each\n")
	p("message's sender header.")
	if f := s.asksFlags(); f != "" {
		p(" \"Asking what the gateway asks\" is `amqp-throughput` with all three\n(`%s`).", f)
	} else {
		p(" Which of these costs what was not measured in this run.")
	}
	p("\n\n")
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// results writes stomp-bench JSON results into a folder, by run name.
func results(t *testing.T, runs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range runs {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func tableOf(t *testing.T, dir string) map[string]row {
	t.Helper()
	runs, err := loadRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]row{}
	for _, r := range (set{runs: runs}).table() {
		out[r.measure] = r
	}
	return out
}

const (
	q11   = "/queue 1 pub / 1 sub, msgs/s"
	cpu2k = "gateway CPU per relayed message at 2,000 msg/s (/queue 1 / 1)"
	idl   = "idle session (CONNECT + 1 SUBSCRIBE), RSS per session"
	con   = "connects/s (CONNECT to CONNECTED, DISCONNECT, 32 at once)"
	f10   = "fan-out 1,000 subs x 100 msg/s: deliveries/s, p99"
)

func TestTableGivesRangesRatiosAndMisses(t *testing.T) {
	t.Parallel()
	tp := func(sent, delivered float64, ok bool) string {
		return `{"mode":"throughput","ok":` + map[bool]string{true: "true", false: "false"}[ok] + `,"failed_checks":[],"result":{"protocol":"stomp","publishers":1,"subscribers":1,` +
			`"sent_per_second":` + ftoa(sent) + `,"delivered_per_second":` + ftoa(delivered) + `}}`
	}
	dir := results(t, map[string]string{
		"queue11.webstomp.r1": tp(30000, 5000, false),
		"queue11.amqp.r1":     tp(50000, 50000, true),
		"queue11.amqp.r2":     tp(52000, 52000, true),
		"queue11.gateway.r1":  tp(20000, 20000, true),
		"queue11.gateway.r2":  tp(21000, 21000, true),
		"cpu2000.gateway": `{"mode":"latency","ok":true,"result":{"latency":{"count":10,"p50_ms":1,"p99_ms":3},"deliveries_per_second":2000,` +
			`"server_cpu":{"cores":0.36,"us_per_message":180},"broker_cpu":{"cores":0.19,"us_per_message":95}}}`,
		"idle.gateway":     `{"mode":"idle","ok":true,"result":{"sessions":9000,"established":9000,"connects_per_second":1200,"server_rss":{"per_session_kb":27}}}`,
		"idle.webstomp":    `{"mode":"idle","ok":true,"result":{"sessions":9000,"established":9000,"connects_per_second":300,"server_rss":{"per_session_kb":180}}}`,
		"connects.gateway": `{"mode":"connects","ok":true,"result":{"connects":60000,"connects_per_second":6000}}`,
	})
	tb := tableOf(t, dir)

	q := tb[q11]
	if q.amqp != "50.0k - 52.0k" || q.gateway != "20.0k - 21.0k" {
		t.Errorf("ranges: amqp %q, gateway %q", q.amqp, q.gateway)
	}
	if !strings.Contains(q.webstomp, "5.00k *") || !strings.Contains(q.webstomp, "backlog grows") {
		t.Errorf("Web-STOMP cell %q: want the failed run marked and the backlog named", q.webstomp)
	}
	// 20.5k / 51k = 0.40x, short of 0.6x by a third.
	if !strings.Contains(q.ratio, "gateway 0.40x AMQP") || q.met != "**no**: 0.40x, 33% short" {
		t.Errorf("ratio %q, met %q", q.ratio, q.met)
	}
	if c := tb[cpu2k]; c.gateway != "180 us (36% of a core); broker 95 us (19%)" || c.met != "**no**: 180 us, 4.5x the goal" {
		t.Errorf("CPU at 2,000 msg/s: %q, met %q", c.gateway, c.met)
	}
	if i := tb[idl]; i.gateway != "27.0 KB (9000 sessions)" || !strings.Contains(i.ratio, "0.15x Web-STOMP") || i.met != "**no**: 27.0 KB, 3.4x the goal" {
		t.Errorf("idle: %+v", i)
	}
	if c := tb[con]; c.met != "yes" || c.webstomp != "n/a" {
		t.Errorf("connects: %+v", c)
	}
	if f := tb[f10]; f.gateway != "-" || f.met != na {
		t.Errorf("fan-out without runs: %+v", f)
	}
}

func TestFanoutNeedsEveryDeliveryAndTheLatency(t *testing.T) {
	t.Parallel()
	fan := func(deliveries, p99 float64, missing int) string {
		return `{"mode":"fanout","ok":true,"result":{"subscribers":1000,"target_rate":100,"deliveries_per_second":` + ftoa(deliveries) +
			`,"missing":` + ftoa(float64(missing)) + `,"latency":{"count":1000,"p99_ms":` + ftoa(p99) + `}}}`
	}
	for _, c := range []struct {
		name, run, want string
	}{
		{"met", fan(100000, 20, 0), "yes"},
		{"late", fan(100000, 97, 0), "**no**: 97.0 ms, 1.9x the goal"},
		{"short and late", fan(50000, 400, 5000), "**no**: 50.0k/s, 49% short; p99 400 ms, 8.0x the goal"},
	} {
		tb := tableOf(t, results(t, map[string]string{"fanout100.gateway": c.run}))
		if got := tb[f10].met; got != c.want {
			t.Errorf("%s: met %q, want %q", c.name, got, c.want)
		}
	}
}

func TestReportDescribesTheMachineAndEveryRun(t *testing.T) {
	t.Parallel()
	dir := results(t, map[string]string{
		"connects.gateway":         `{"mode":"connects","ok":false,"failed_checks":["3 connects failed"],"result":{"connects":100,"connects_per_second":1000,"failed":3}}`,
		"profile-run-connects":     `{"mode":"connects","ok":true,"result":{"connects":100,"connects_per_second":900}}`,
		"interrupted.gateway.r1":   ``,
		"queue11.gateway.r1":       `{"mode":"throughput","ok":true,"result":{"publishers":1,"subscribers":1,"sent_per_second":100,"delivered_per_second":100}}`,
		"queue11.amqp.r1":          `{"mode":"amqp-throughput","ok":true,"result":{"protocol":"amqp","receipts":true,"publishers":1,"subscribers":1,"sent_per_second":200,"confirmed_per_second":200,"delivered_per_second":200}}`,
		"queue11r.webstomp.r1":     `{"mode":"throughput","ok":true,"result":{"publishers":1,"subscribers":1,"sent_per_second":90,"delivered_per_second":90}}`,
		"topic110.gateway.r1":      `{"mode":"throughput","ok":true,"result":{"publishers":1,"subscribers":10,"sent_per_second":100,"delivered_per_second":1000}}`,
		"fanout200.gateway":        `{"mode":"fanout","ok":true,"result":{"subscribers":1000,"target_rate":200,"deliveries_per_second":200000,"latency":{"count":5,"p99_ms":20}}}`,
		"idle.gateway":             `{"mode":"idle","ok":true,"result":{"sessions":10,"established":10,"server_rss":{"per_session_kb":7.5}}}`,
		"cpu2000.webstomp":         `{"mode":"latency","ok":true,"result":{"latency":{"count":10,"p50_ms":1,"p99_ms":3},"server_cpu":{"cores":0.2,"us_per_message":100}}}`,
		"unknown-name-without-dot": `{"mode":"idle","ok":true,"result":{}}`,
	})
	if err := os.WriteFile(filepath.Join(dir, "profile-cpu2000.txt"), []byte("File: stomp-gateway\nBuild ID: x\nType: cpu\n      flat  flat%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, err := loadRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m := meta{mode: "quick", rabbitmq: "3.10.8", erlang: "25", loadStart: "3.5 2 1", rounds: 1, idleN: 10,
		machine: machine{cpus: 2, goVer: "go1.x"}, commit: "abc1234", profiles: profiles(dir)}
	write(&out, m, set{runs: runs}, dir)
	doc := out.String()
	reportHas(t, doc,
		"| CPU | 2 cores, n/a |",
		"| RabbitMQ | 3.10.8 on Erlang/OTP 25",
		"commit abc1234",
		"quick smoke run",
		"load average was 3.5 at the start and 0.0 at the end, on 2 cores",
		"| idle session (CONNECT + 1 SUBSCRIBE), RSS per session | n/a | - | 7.5 KB (10 sessions) | - | <= 8 KB | yes |",
		"| /queue 1 / 1 with receipts (RECEIPT per SEND), msgs/s | 90.0 | 200 | n/a |",
		"| connects.gateway | connects | 1.00k connects/s; CONNECT to CONNECTED p50 0.0 ms, p99 0.0 ms; 3 failed | failed: 3 connects failed |",
		"### CPU at 2,000 msg/s (/queue 1 / 1)\n\n```\nType: cpu\n",
	)
	if strings.Contains(doc, "Build ID") {
		t.Error("the report shows the profile's build ID, which changes with every build")
	}
	if i, j := strings.Index(doc, "| profile-run-connects"), strings.Index(doc, "| topic110.gateway.r1"); i < j {
		t.Error("runs under the profiler are not listed last")
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// reportOf writes the report of the results in dir, for a 2-core machine.
func reportOf(t *testing.T, dir string) string {
	t.Helper()
	runs, err := loadRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	write(&out, meta{machine: machine{cpus: 2}}, set{runs: runs}, dir)
	return out.String()
}

// reportHas checks that doc holds each of wants.
func reportHas(t *testing.T, doc string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q:\n%s", want, doc)
		}
	}
}

func TestFloorReadsTheGatewayAgainstTheMachine(t *testing.T) {
	t.Parallel()
	dir := results(t, map[string]string{
		"floor.machine":     `{"mode":"floor","ok":true,"result":{"wake_rate":2000,"wake_cpu_us":30,"sockets":1000,"write_rate":100,"writes_per_second":100000,"size":300,"write_cpu_us":10,"writer_percent":100,"read_cpu_us":8,"reader_percent":80}}`,
		"cpu2000.gateway":   `{"mode":"latency","ok":true,"result":{"latency":{"count":10,"p50_ms":1,"p99_ms":3},"server_cpu":{"cores":0.4,"us_per_message":180}}}`,
		"fanout100.gateway": `{"mode":"fanout","ok":true,"result":{"subscribers":1000,"target_rate":100,"deliveries_per_second":100000,"latency":{"count":5,"p99_ms":20},"server_cpu":{"cores":0.9,"us_per_delivery":9}}}`,
	})
	doc := reportOf(t, dir)
	reportHas(t, doc,
		"## What this machine charges",
		"| 30.0 us per wake | 180 us per relayed message at 2,000 msg/s: 2.0x the wakes' floor of 90 us |",
		"writer 10.0 us per write (100% of a core); reader 8.0 us | 9.0 us per delivery (fan-out, 1,000 subs x 100 msg/s): 0.90x one write |",
		"| floor.machine | floor | wake from idle 30.0 us at 2000/s;",
	)
}

// The /queue rows are read from the CPU the runs used: the cost of a
// message to all processes predicts the rate ratio, and the report says
// what the gateway would have had to take for the goal.
func TestBudgetExplainsTheQueueRowsFromTheirCPU(t *testing.T) {
	t.Parallel()
	tp := func(proto string, delivered float64, server string) string {
		return `{"mode":"throughput","ok":true,"result":{"protocol":"` + proto + `","publishers":1,"subscribers":1,` +
			`"sent_per_second":` + ftoa(delivered) + `,"delivered_per_second":` + ftoa(delivered) + `,` + server +
			`"broker_cpu":{"cores":0.9,"us_per_message":20},"client_cpu":{"cores":0.2,"us_per_message":4}}}`
	}
	dir := results(t, map[string]string{
		"queue11.amqp.r1":    tp("amqp", 60000, ""),
		"queue11.gateway.r1": tp("stomp", 30000, `"server_cpu":{"cores":0.8,"us_per_message":16},`),
	})
	doc := reportOf(t, dir)
	reportHas(t, doc,
		"## Where the /queue throughput goes",
		"| /queue 1 / 1 | stomp-gateway | 16.0 us | 20.0 us | 4.0 us | 40.0 us | 1.90 | 30.0k/s |",
		"| /queue 1 / 1 | direct AMQP | - | 20.0 us | 4.0 us | 24.0 us | 1.10 | 60.0k/s |",
		"direct AMQP's cost over the gateway path's, 24.0 / 40.0 us, is 0.60x; the rates measured 0.50x.",
		"broker takes +0.0 us per message more",
		"the gateway would have 16.0 us per message; it took 16.0 us.",
	)
	if strings.Contains(doc, "/queue 4 / 4 |") {
		t.Error("a shape without runs got rows")
	}
	if strings.Contains(doc, "| direct AMQP, asking what the gateway asks |") || !strings.Contains(doc, "Which of these costs what was not measured in this run.") {
		t.Error("without its runs the report still compares with direct AMQP asking what the gateway asks")
	}
}

// With direct AMQP asking what the gateway asks of RabbitMQ, the report
// says how much of the broker's extra those asks are, with the flags the
// run used.
func TestBudgetSplitsTheBrokersExtraByWhatTheGatewayAsks(t *testing.T) {
	t.Parallel()
	tp := func(proto string, delivered, broker float64, extra string) string {
		return `{"mode":"throughput","ok":true,` + extra + `"result":{"protocol":"` + proto + `","publishers":1,"subscribers":1,` +
			`"sent_per_second":` + ftoa(delivered) + `,"delivered_per_second":` + ftoa(delivered) + `,` +
			`"server_cpu":{"cores":0.8,"us_per_message":16},` +
			`"broker_cpu":{"cores":0.9,"us_per_message":` + ftoa(broker) + `},"client_cpu":{"cores":0.2,"us_per_message":4}}}`
	}
	dir := results(t, map[string]string{
		"queue11.amqp.r1":     tp("amqp", 60000, 14, ""),
		"queue11.amqpasks.r1": tp("amqp", 50000, 18, `"flags":{"ack":"multiple","ack-every":"200","prefetch":"1000","mandatory":"true","header":"x-stomp-user:guest","url":"amqp://x"},`),
		"queue11.gateway.r1":  tp("stomp", 30000, 22, ""),
	})
	doc := reportOf(t, dir)
	reportHas(t, doc,
		"| /queue 1 / 1 | direct AMQP, asking what the gateway asks | - | 18.0 us | 4.0 us | 22.0 us | 1.10 | 50.0k/s |",
		"broker takes +8.0 us per message more than for direct AMQP",
		"A direct AMQP client asking what the gateway asks costs the broker +4.0 us per message over",
		"the bare baseline (the gateway's path: +8.0 us); the gateway relays 0.60x that client's rate.",
		"(`-ack=multiple -ack-every=200 -prefetch=1000 -mandatory=true -header=x-stomp-user:guest`).",
	)
}

// The absolute goals are read at the run's speed, from its direct AMQP
// baseline against the issue's.
func TestSpeedReadsTheAbsoluteGoalsAtTheRunsSpeed(t *testing.T) {
	t.Parallel()
	half := ftoa(issueAMQPRate / 2)
	dir := results(t, map[string]string{
		"queue11.amqp.r1":    `{"mode":"amqp-throughput","ok":true,"result":{"protocol":"amqp","publishers":1,"subscribers":1,"sent_per_second":` + half + `,"delivered_per_second":` + half + `}}`,
		"queue11.gateway.r1": `{"mode":"throughput","ok":true,"result":{"protocol":"stomp","publishers":1,"subscribers":1,"sent_per_second":9000,"delivered_per_second":9000,"server_cpu":{"cores":0.5,"us_per_message":25,"us_per_delivery":25}}}`,
		"cpu2000.gateway":    `{"mode":"latency","ok":true,"result":{"target_rate":2000,"server_cpu":{"cores":0.2,"us_per_message":100,"us_per_delivery":100},"latency":{"count":1,"p50_ms":1,"p99_ms":2}}}`,
		"connects.gateway":   `{"mode":"connects","ok":true,"result":{"connects_per_second":3000,"connects":30000}}`,
	})
	doc := reportOf(t, dir)
	reportHas(t, doc,
		"## How fast this machine was",
		"relayed 25.4k/s: the machine ran at 0.50x that speed.",
		"| gateway CPU per relayed message at 2,000 msg/s | <= 40 us | <= 80 us | 100 us | **no**: 100 us, 1.2x the goal |",
		"| gateway CPU per message at saturation | <= 15 us | <= 30 us | 25 us | yes |",
		"| connects/s | >= 5,000 | >= 2.50k | 3.00k | yes |",
	)
}

// Under the saturation profile the report says how much of the gateway's
// CPU amqp091-go took, and what that is of its CPU per message.
func TestSaturationProfileNamesAMQP091sShare(t *testing.T) {
	t.Parallel()
	listing := `Type: cpu
      flat  flat%   sum%        cum   cum%
     0.48s 10.62% 10.62%      0.48s 10.62%  internal/runtime/syscall/linux.Syscall6
     0.11s  2.43%  3.54%      1.01s 22.35%  runtime.mallocgc

      flat  flat%   sum%        cum   cum%
         0     0%     0%      1.16s 30.00%  github.com/rabbitmq/amqp091-go.(*Connection).reader
     0.01s  0.22%  4.20%      0.72s 20.00%  github.com/rabbitmq/amqp091-go.(*Channel).PublishWithDeferredConfirm (inline)
`
	runs, err := loadRuns(results(t, map[string]string{
		"queue11.gateway.r1": `{"mode":"throughput","ok":true,"result":{"protocol":"stomp","delivered_per_second":9000,"server_cpu":{"cores":0.6,"us_per_message":20,"us_per_delivery":20}}}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	writeSaturationShares(&out, listing, set{runs: runs})
	reportHas(t, out.String(),
		"30% amqp091-go reading RabbitMQ's frames (deliveries, confirms); 20% amqp091-go encoding and sending each publish; 22% allocating",
		"At the 20 us per message measured at saturation, amqp091-go's two parts come to about 10 us.",
	)
	if strings.Contains(out.String(), "mark workers") {
		t.Error("a part the listing does not name was reported")
	}
	out.Reset()
	writeSaturationShares(&out, "Type: cpu\n", set{runs: runs})
	if out.Len() != 0 {
		t.Errorf("a listing without the parts wrote %q", out.String())
	}
}

// A fan-out row that misses says how much of the machine the gateway and
// the load tool used between them; one that is met does not.
func TestAFanoutMissSaysWhatTheMachineHadLeft(t *testing.T) {
	t.Parallel()
	fan := func(p99 float64) string {
		return `{"mode":"fanout","ok":true,"result":{"subscribers":1000,"deliveries_per_second":300000,"latency":{"count":10,"p50_ms":5,"p99_ms":` + ftoa(p99) + `},` +
			`"server_cpu":{"cores":1.01,"us_per_delivery":3.4},"client_cpu":{"cores":0.86,"us_per_delivery":2.9}}}`
	}
	rows := tableOf(t, results(t, map[string]string{"fanout300.gateway": fan(239), "fanout200.gateway": fan(40)}))
	if got := rows["fan-out 1,000 subs x 300 msg/s: deliveries/s, p99"].met; got != "**no**: 239 ms, 2.4x the goal (the gateway and stomp-bench used 1.87 cores between them)" {
		t.Errorf("missed row: met %q", got)
	}
	if got := rows["fan-out 1,000 subs x 200 msg/s: deliveries/s, p99"].met; got != "yes" {
		t.Errorf("met row: met %q", got)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// run is one stomp-bench JSON result, named <measure>.<target>[.r<round>]
// by cmd/stomp-bench/e2e/e2e.sh: queue11.gateway.r2 is round 2 of /queue 1 pub / 1 sub
// against the gateway.
type run struct {
	Name, Measure, Target string
	Round                 int
	Mode                  string            `json:"mode"`
	Flags                 map[string]string `json:"flags"`
	OK                    bool              `json:"ok"`
	FailedChecks          []string          `json:"failed_checks"`
	Result                result            `json:"result"`
}

// result holds the fields of every mode's result that the report reads;
// a mode fills only its own.
type result struct {
	// throughput and amqp-throughput
	Protocol           string  `json:"protocol"`
	Dest               string  `json:"dest"`
	Publishers         int     `json:"publishers"`
	Subscribers        int     `json:"subscribers"`
	Receipts           bool    `json:"receipts"`
	SentPerSecond      float64 `json:"sent_per_second"`
	ConfirmedPerSecond float64 `json:"confirmed_per_second"`
	DeliveredPerSecond float64 `json:"delivered_per_second"`
	Undelivered        int64   `json:"undelivered"`
	// latency and fanout
	TargetRate       float64 `json:"target_rate"`
	DeliveriesPerSec float64 `json:"deliveries_per_second"`
	Latency          latency `json:"latency"`
	Missing          int64   `json:"missing"`
	// both
	ServerCPU *cpu `json:"server_cpu"`
	BrokerCPU *cpu `json:"broker_cpu"`
	ClientCPU *cpu `json:"client_cpu"`
	// idle
	Sessions    int     `json:"sessions"`
	Established int64   `json:"established"`
	ConnectRate float64 `json:"-"` // idle's connects_per_second, moved here by loadRuns
	Alive       int64   `json:"alive_after_hold"`
	HoldSeconds float64 `json:"hold_seconds"`
	ServerRSS   *rss    `json:"server_rss"`
	// connects
	ConnectsPerSecond float64 `json:"connects_per_second"`
	Connects          int64   `json:"connects"`
	Failed            int64   `json:"failed"`
	ConnectFrame      latency `json:"connect_to_connected"`
	// floor
	WakeRate      float64 `json:"wake_rate"`
	WakeCPUUS     float64 `json:"wake_cpu_us"`
	Sockets       int     `json:"sockets"`
	WriteRate     float64 `json:"write_rate"`
	WritesPerSec  float64 `json:"writes_per_second"`
	Size          int     `json:"size"`
	WriteCPUUS    float64 `json:"write_cpu_us"`
	WriterPercent float64 `json:"writer_percent"`
	ReadCPUUS     float64 `json:"read_cpu_us"`
	ReaderPercent float64 `json:"reader_percent"`
}

type latency struct {
	Count  uint64  `json:"count"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p99_9_ms"`
	MaxMS  float64 `json:"max_ms"`
}

type cpu struct {
	PID           int     `json:"pid"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	Cores         float64 `json:"cores"`
	USPerMessage  float64 `json:"us_per_message"`
	USPerDelivery float64 `json:"us_per_delivery"`
}

type rss struct {
	BeforeKB     int64   `json:"before_kb"`
	IdleKB       int64   `json:"idle_kb"`
	PerSessionKB float64 `json:"per_session_kb"`
}

var roundSuffix = regexp.MustCompile(`^r([0-9]+)$`)

// loadRuns reads every <name>.json in dir that stomp-bench wrote.
func loadRuns(dir string) ([]*run, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var runs []*run
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		r := &run{Name: strings.TrimSuffix(filepath.Base(p), ".json")}
		if len(b) == 0 {
			continue // a run interrupted before its result
		}
		if err := json.Unmarshal(b, r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		// idle and connects both report connects_per_second.
		if r.Mode == "idle" {
			r.Result.ConnectRate, r.Result.ConnectsPerSecond = r.Result.ConnectsPerSecond, 0
		}
		parts := strings.Split(r.Name, ".")
		if m := roundSuffix.FindStringSubmatch(parts[len(parts)-1]); m != nil && len(parts) > 1 {
			r.Round, _ = strconv.Atoi(m[1])
			parts = parts[:len(parts)-1]
		}
		r.Measure = parts[0]
		if len(parts) > 1 {
			r.Target = strings.Join(parts[1:], ".")
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Name < runs[j].Name })
	return runs, nil
}

// set is the runs of a result directory, by measure and target.
type set struct{ runs []*run }

// of returns the runs of measure against target, every round.
func (s set) of(measure, target string) []*run {
	var out []*run
	for _, r := range s.runs {
		if r.Measure == measure && r.Target == target {
			out = append(out, r)
		}
	}
	return out
}

// values maps the runs of measure against target through f, leaving out
// runs f has no value for (ok false).
func (s set) values(measure, target string, f func(*run) (float64, bool)) []float64 {
	var out []float64
	for _, r := range s.of(measure, target) {
		if v, ok := f(r); ok {
			out = append(out, v)
		}
	}
	return out
}

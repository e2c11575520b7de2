package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"
)

// outcome is what a mode measured: its numbers for the JSON result, the
// rows of the human table, and the checks it failed (none: the run passed).
type outcome interface {
	rows() []row
	failedChecks() []string
}

type row struct{ label, value string }

// report is the JSON document -json prints.
type report struct {
	Mode         string            `json:"mode"`
	URL          string            `json:"url"`
	Flags        map[string]string `json:"flags"`
	OK           bool              `json:"ok"`
	FailedChecks []string          `json:"failed_checks"`
	Result       outcome           `json:"result"`
}

func newReport(mode string, fs *flag.FlagSet, o outcome) report {
	flags := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "passcode":
		case "url":
			flags[f.Name] = redactURL(f.Value.String())
		default:
			flags[f.Name] = f.Value.String()
		}
	})
	failed := o.failedChecks()
	return report{
		Mode:         mode,
		URL:          flags["url"],
		Flags:        flags,
		OK:           len(failed) == 0,
		FailedChecks: append([]string{}, failed...),
		Result:       o,
	}
}

func (r report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "stomp-bench %s  %s\n", r.Mode, r.URL)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, rw := range r.Result.rows() {
		fmt.Fprintf(tw, "  %s\t%s\n", rw.label, rw.value)
	}
	_ = tw.Flush()
	if r.OK {
		fmt.Fprintln(w, "result: OK")
		return
	}
	fmt.Fprintln(w, "result: FAILED")
	for _, c := range r.FailedChecks {
		fmt.Fprintln(w, "  - "+c)
	}
}

// redactURL hides the password of a URL that has one (amqp://user:pass@...).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// Helpers that format table values.

func count(n int64) string { return fmt.Sprintf("%d", n) }

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func perSecond(v float64, unit string) string { return fmt.Sprintf("%.1f %s/s", v, unit) }

func seconds(d time.Duration) float64 { return d.Seconds() }

func kb(v int64) string { return fmt.Sprintf("%.1f MB (%d KB)", float64(v)/1024, v) }

func latencyRows(label string, s latencySummary) []row {
	if s.Count == 0 {
		return []row{{label, "no samples"}}
	}
	return []row{
		{label + " p50", fmt.Sprintf("%.3f ms", s.P50MS)},
		{label + " p90", fmt.Sprintf("%.3f ms", s.P90MS)},
		{label + " p99", fmt.Sprintf("%.3f ms", s.P99MS)},
		{label + " p99.9", fmt.Sprintf("%.3f ms", s.P999MS)},
		{label + " max", fmt.Sprintf("%.3f ms", s.MaxMS)},
		{label + " mean", fmt.Sprintf("%.3f ms (%d samples)", s.MeanMS, s.Count)},
	}
}

func reasonRows(label string, rs []reasonCount) []row {
	var out []row
	for _, r := range rs {
		out = append(out, row{"  " + label + ": " + r.Reason, count(int64(r.Count))})
	}
	return out
}

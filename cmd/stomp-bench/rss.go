package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// rssSource reads the resident memory of the server under test: from
// /proc/<pid>/status when it runs on this machine (-pid), or from the
// process_resident_memory_bytes gauge of its Prometheus endpoint
// (-server-rss-url, e.g. the gateway's admin /metrics).
type rssSource struct {
	pid int
	url string
}

func (s rssSource) enabled() bool { return s.pid > 0 || s.url != "" }

// readKB returns the server's RSS in KB.
func (s rssSource) readKB(ctx context.Context) (int64, error) {
	if s.pid > 0 {
		return vmRSS(fmt.Sprintf("/proc/%d/status", s.pid))
	}
	return scrapeRSS(ctx, s.url)
}

// selfRSS returns this process's RSS in KB, 0 where /proc is missing.
func selfRSS() int64 {
	kb, _ := vmRSS("/proc/self/status")
	return kb
}

// vmRSS reads the VmRSS line of a /proc status file.
func vmRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		num, _ := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		return strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no VmRSS line", path)
}

// scrapeRSS reads process_resident_memory_bytes from a Prometheus text
// endpoint.
func scrapeRSS(ctx context.Context, url string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Close = true // one request now and then: keep no idle connection
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseRSSMetric(resp.Body)
}

func parseRSSMetric(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "process_resident_memory_bytes")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("process_resident_memory_bytes: %w", err)
		}
		return int64(v) / 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no process_resident_memory_bytes metric")
}

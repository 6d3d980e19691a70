// Command load is an open-loop HTTP load generator: it sends GET requests
// at a fixed rate for a fixed time, whatever the server's latency (wrk
// sends the next request only when one comes back, and so measures a
// slower server at a lower rate), over a set of URLs, and reports latency
// percentiles and errors.
//
// Latency is measured from the moment the schedule says a request is due,
// not from when it actually left, so a stalled client or server shows up in
// the percentiles (no coordinated omission).
//
//	go run ./bench/load -rate 200 -duration 30s -H "Authorization: Bearer T" -urls urls.txt
//	go run ./bench/load -rate 200 -duration 30s http://127.0.0.1:8080/healthz
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type result struct {
	latency time.Duration
	status  int
	err     error
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	rate := fs.Float64("rate", 200, "requests per second")
	duration := fs.Duration("duration", 30*time.Second, "how long to send requests")
	warmup := fs.Duration("warmup", 2*time.Second, "send at the same rate for this long first, without measuring")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of one request")
	urlsFile := fs.String("urls", "", "file with one URL per line (picked at random), besides the URLs given as arguments")
	name := fs.String("name", "", "label of the report")
	seed := fs.Uint64("seed", 1, "seed of the random choice of URLs")
	var hdrs headers
	fs.Var(&hdrs, "H", "request header \"Name: value\" (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	urls := fs.Args()
	if *urlsFile != "" {
		b, err := os.ReadFile(*urlsFile)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				urls = append(urls, l)
			}
		}
	}
	if len(urls) == 0 || *rate <= 0 || *duration <= 0 {
		fs.Usage()
		return errors.New("need at least one URL, a positive rate and a positive duration")
	}
	header := http.Header{}
	for _, h := range hdrs {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("header %q: want \"Name: value\"", h)
		}
		header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
			DisableCompression: true},
	}
	rnd := rand.New(rand.NewPCG(*seed, 0))
	interval := time.Duration(float64(time.Second) / *rate)
	total := int((*warmup + *duration) / interval)
	skip := int(*warmup / interval)

	var (
		mu      sync.Mutex
		results = make([]result, 0, total-skip)
		wg      sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				i = total
				continue
			}
		}
		u := urls[rnd.IntN(len(urls))]
		measured := i >= skip
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := fetch(ctx, client, u, header)
			r.latency = time.Since(due)
			if measured {
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}
	sendEnd := time.Now()
	wg.Wait()
	measuredFor := sendEnd.Sub(start.Add(time.Duration(skip) * interval))
	report(stdout, *name, results, *rate, measuredFor)
	return nil
}

func fetch(ctx context.Context, c *http.Client, u string, h http.Header) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return result{err: err}
	}
	req.Header = h.Clone()
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, bufio.NewReader(resp.Body))
	return result{status: resp.StatusCode, err: err}
}

func report(w io.Writer, name string, rs []result, rate float64, d time.Duration) {
	lat := make([]time.Duration, 0, len(rs))
	errs := map[string]int{}
	for _, r := range rs {
		switch {
		case r.err != nil:
			errs[shortErr(r.err)]++
		case r.status < 200 || r.status > 299:
			errs[fmt.Sprintf("HTTP %d", r.status)]++
		default:
			lat = append(lat, r.latency)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		i := int(p/100*float64(len(lat))+0.5) - 1
		return lat[min(max(i, 0), len(lat)-1)]
	}
	if name != "" {
		fmt.Fprintf(w, "%s\n", name)
	}
	fmt.Fprintf(w, "  target %.0f req/s for %s: %d requests, %d ok, %d errors, achieved %.1f req/s\n",
		rate, d.Round(time.Millisecond), len(rs), len(lat), len(rs)-len(lat), float64(len(rs))/d.Seconds())
	fmt.Fprintf(w, "  latency p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		ms(pct(50)), ms(pct(90)), ms(pct(99)), ms(pct(99.9)), ms(pct(100)))
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  error %s: %d\n", k, errs[k])
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

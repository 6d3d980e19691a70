// Command documents measures consent documents through the API against
// minio-go talking to the same MinIO directly, in one run (bench/documents.sh
// starts everything): upload and download throughput for 1 MB and 100 MB
// files, their ratio, and the server's peak resident memory during a 100 MB
// upload.
//
//	go run ./bench/documents -base http://127.0.0.1:PORT -pid PID -endpoint HOST:PORT -access-key K -secret-key S -bucket B
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	base := flag.String("base", "", "the API, http://host:port")
	pid := flag.Int("pid", 0, "the server's process id, for its peak memory")
	endpoint := flag.String("endpoint", "", "MinIO host:port")
	accessKey := flag.String("access-key", "", "MinIO access key")
	secretKey := flag.String("secret-key", "", "MinIO secret key")
	bucket := flag.String("bucket", "attivi", "the server's bucket")
	email := flag.String("email", "assistente.sociale@attivi.example", "demo account")
	password := flag.String("password", "attivi-demo-2026", "its password")
	flag.Parse()
	ctx := context.Background()

	api := &client{base: *base}
	api.token = api.json("POST", "/api/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, *email, *password))["token"].(string)
	person := api.json("POST", "/api/v1/persons", `{"fiscal_code":"BNCGLI85M41D612C","given_name":"Giulia","family_name":"Bianchi",
		"birth_date":"1985-08-01","sex":"F","residence_istat":"048001","target_group":"disabile_l68"}`)["id"].(string)
	consent := api.json("POST", "/api/v1/persons/"+person+"/consents", `{"basis":"consent","purpose":"presa_in_carico",
		"grantees":["coeso"],"categories":["social"],"valid_from":"2026-01-01"}`)["id"].(string)
	mc, err := minio.New(*endpoint, &minio.Options{Creds: credentials.NewStaticV4(*accessKey, *secretKey, "")})
	if err != nil {
		log.Fatal(err)
	}

	fmt.Printf("%-8s %-28s %10s %10s %8s\n", "size", "path", "MB/s", "p50", "vs direct")
	for _, size := range []int{1 << 20, 100 << 20} {
		runs := 40
		if size > 10<<20 {
			runs = 8
		}
		data := make([]byte, size)
		_, _ = rand.Read(data)
		copy(data, "%PDF-1.7\n")
		label := fmt.Sprintf("%d MB", size>>20)

		apiUp := measure(runs, size, func() {
			if st, b := api.do("PUT", "/api/v1/consents/"+consent+"/document", bytes.NewReader(data), int64(size)); st != 200 && st != 201 {
				log.Fatalf("upload: %d %s", st, b)
			}
		})
		apiDown := measure(runs, size, func() {
			st, n := api.download("/api/v1/consents/" + consent + "/document")
			if st != 200 || n != int64(size) {
				log.Fatalf("download: %d, %d bytes", st, n)
			}
		})
		key := "bench/" + strconv.Itoa(size)
		// A reader without ReaderAt, as the server streams: minio-go then
		// sends the parts one after the other, as it does for the server.
		directUp := measure(runs, size, func() {
			_, err := mc.PutObject(ctx, *bucket, key, struct{ io.Reader }{bytes.NewReader(data)}, int64(size),
				minio.PutObjectOptions{ContentType: "application/pdf", PartSize: 16 << 20})
			if err != nil {
				log.Fatal(err)
			}
		})
		// minio-go's own default for an in-memory file: parts in parallel.
		directUpParallel := measure(runs, size, func() {
			if _, err := mc.PutObject(ctx, *bucket, key, bytes.NewReader(data), int64(size), minio.PutObjectOptions{ContentType: "application/pdf"}); err != nil {
				log.Fatal(err)
			}
		})
		directDown := measure(runs, size, func() {
			o, err := mc.GetObject(ctx, *bucket, key, minio.GetObjectOptions{})
			if err != nil {
				log.Fatal(err)
			}
			n, err := io.Copy(io.Discard, o)
			o.Close()
			if err != nil || n != int64(size) {
				log.Fatalf("direct download: %d bytes, %v", n, err)
			}
		})
		row := func(path string, r, direct result) {
			ratio := ""
			if direct.mbps > 0 {
				ratio = fmt.Sprintf("%.2f", r.mbps/direct.mbps)
			}
			fmt.Printf("%-8s %-28s %10.1f %10s %8s\n", label, path, r.mbps, r.p50.Round(100*time.Microsecond), ratio)
		}
		row("upload, API", apiUp, directUp)
		row("upload, minio-go streamed", directUp, result{})
		row("upload, minio-go parallel", directUpParallel, result{})
		// The raw stream, as the server reads it (Core.GetObject).
		core := minio.Core{Client: mc}
		directDownRaw := measure(runs, size, func() {
			body, _, _, err := core.GetObject(ctx, *bucket, key, minio.GetObjectOptions{})
			if err != nil {
				log.Fatal(err)
			}
			n, err := io.Copy(io.Discard, body)
			body.Close()
			if err != nil || n != int64(size) {
				log.Fatalf("direct download: %d bytes, %v", n, err)
			}
		})
		row("download, API", apiDown, directDown)
		row("download, minio-go Object", directDown, result{})
		row("download, minio-go Core", directDownRaw, result{})
		fmt.Printf("%-8s %-28s %10s %10s %8.2f\n", label, "download, API vs Core", "", "", apiDown.mbps/directDownRaw.mbps)
		for v := range mc.ListObjectsIter(ctx, *bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
			_ = mc.RemoveObject(ctx, *bucket, v.Key, minio.RemoveObjectOptions{VersionID: v.VersionID, GovernanceBypass: true})
		}

		if size == 100<<20 && *pid > 0 {
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", *pid), []byte("5"), 0); err != nil {
				fmt.Printf("(cannot reset the server's peak memory: %v)\n", err)
			}
			before := vm(*pid, "VmRSS")
			if st, b := api.do("PUT", "/api/v1/consents/"+consent+"/document", bytes.NewReader(data), int64(size)); st != 200 {
				log.Fatalf("upload: %d %s", st, b)
			}
			fmt.Printf("server memory: resident %d MiB before a 100 MB upload, peak %d MiB during it (VmHWM)\n",
				before>>20, vm(*pid, "VmHWM")>>20)
		}
	}
}

type result struct {
	mbps float64
	p50  time.Duration
}

func measure(runs, size int, f func()) result {
	f() // warm up
	times := make([]time.Duration, runs)
	var total time.Duration
	for i := range times {
		start := time.Now()
		f()
		times[i] = time.Since(start)
		total += times[i]
	}
	slices.Sort(times)
	return result{mbps: float64(size) * float64(runs) / total.Seconds() / 1e6, p50: times[runs/2]}
}

type client struct {
	base, token string
	http        http.Client
}

func (c *client) request(method, path string, body io.Reader, size int64) *http.Response {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		log.Fatal(err)
	}
	if body != nil {
		req.ContentLength = size
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	return resp
}

func (c *client) do(method, path string, body io.Reader, size int64) (int, []byte) {
	resp := c.request(method, path, body, size)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) download(path string) (int, int64) {
	resp := c.request("GET", path, nil, 0)
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n
}

func (c *client) json(method, path, body string) map[string]any {
	st, b := c.do(method, path, strings.NewReader(body), int64(len(body)))
	if st/100 != 2 {
		log.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		log.Fatal(err)
	}
	return m
}

func vm(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

package status

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample() Node {
	return Node{
		Name:  "n1",
		ID:    "n1-id",
		Addrs: []string{"fe80::1", "fd00::1"},
		MAC:   "02:00:00:00:00:01",
		Load:  Load{CPUs: 4, Load1: 0.5, MemTotal: 4 << 30, MemFree: 3 << 30, Uptime: 3725, Features: []string{"sse2", "avx2"}},
		Members: []Member{
			{Name: "n1", Addr: "fe80::1", State: "alive", Load: Load{CPUs: 4}},
			{Name: `<script>alert("x")</script>`, Addr: "fe80::2", State: `dead" onclick="x`, Load: Load{CPUs: 2}},
		},
		Counters: Counters{"dropped_undecryptable": 3, "handshake_failures": 1},
		ENOSYS:   map[string]uint32{"io_uring_setup": 2},
	}
}

func server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(Handler(sample))
	t.Cleanup(srv.Close)
	return srv
}

func TestJSONAndFetch(t *testing.T) {
	srv := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := Fetch(ctx, srv.Client(), srv.URL+"/status.json")
	if err != nil {
		t.Fatal(err)
	}
	if want := sample(); !reflect.DeepEqual(got, want) {
		t.Errorf("fetched %+v\nwant %+v", got, want)
	}
	resp, err := http.Get(srv.URL + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
}

func TestHTMLPage(t *testing.T) {
	srv := server(t)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"<h1>n1</h1>", "fe80::1, fd00::1", "02:00:00:00:00:01", "3.0 GiB / 4.0 GiB", "1h2m5s", "sse2 avx2",
		`<td class="alive">alive</td>`, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
		"dropped_undecryptable", "io_uring_setup",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", `onclick="x"`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
}

func TestMethodsAndPaths(t *testing.T) {
	srv := server(t)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/nothing", 404},
		{"GET", "/status.json/", 404},
		{"POST", "/status.json", 405},
		{"PUT", "/", 405},
		{"DELETE", "/", 405},
		{"POST", "/nothing", 404},
		{"HEAD", "/status.json", 200},
		{"HEAD", "/", 200},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
		if c.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", c.method, c.path, resp.Header.Get("Allow"))
		}
		if c.method == "HEAD" && len(body) != 0 {
			t.Errorf("HEAD %s: %d bytes of body", c.path, len(body))
		}
	}
}

func TestFetchErrors(t *testing.T) {
	srv := server(t)
	ctx := context.Background()
	if _, err := Fetch(ctx, nil, srv.URL+"/nothing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"name": 5`)
	}))
	defer garbage.Close()
	if _, err := Fetch(ctx, nil, garbage.URL); err == nil {
		t.Errorf("garbage document accepted")
	}
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"name": "`)
		chunk := strings.Repeat("x", 1<<16)
		for i := 0; i <= MaxDocument>>16; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}`)
	}))
	defer huge.Close()
	if _, err := Fetch(ctx, nil, huge.URL); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized document: %v", err)
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := Fetch(tctx, nil, slow.URL); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow server: %v, want DeadlineExceeded", err)
	}
	if _, err := Fetch(ctx, nil, "http://[::1"); err == nil {
		t.Errorf("bad URL accepted")
	}
}

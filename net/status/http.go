package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"
)

// MaxDocument is the largest status document Fetch reads, in bytes.
const MaxDocument = 8 << 20

// Handler serves a node's report: GET /status.json is the Node document
// as JSON, GET / the same as a plain HTML page (every value escaped).
// Other paths get 404, other methods than GET and HEAD 405. report is
// called once per request.
func Handler(report func() Node) http.Handler {
	return &handler{report: report}
}

type handler struct {
	report func() Node
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "/status.json" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	n := h.report()
	var body bytes.Buffer
	var ctype string
	if r.URL.Path == "/status.json" {
		ctype = "application/json"
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		if err := enc.Encode(n); err != nil {
			http.Error(w, "encoding the status: "+err.Error(), http.StatusInternalServerError)
			return
		}
	} else {
		ctype = "text/html; charset=utf-8"
		if err := page.Execute(&body, n); err != nil {
			http.Error(w, "rendering the status: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(body.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body.Bytes())
	}
}

// Fetch reads the status document at url (http://[addr]:8740/status.json)
// with c (http.DefaultClient when nil); ctx bounds the request.
func Fetch(ctx context.Context, c *http.Client, url string) (Node, error) {
	var n Node
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return n, fmt.Errorf("status: fetch %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return n, fmt.Errorf("status: fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return n, fmt.Errorf("status: fetch %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocument+1))
	if err != nil {
		return n, fmt.Errorf("status: fetch %s: %w", url, err)
	}
	if len(body) > MaxDocument {
		return n, fmt.Errorf("status: fetch %s: document larger than %d bytes", url, MaxDocument)
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return Node{}, fmt.Errorf("status: fetch %s: %w", url, err)
	}
	return n, nil
}

// bytesIEC writes a byte count with a binary unit.
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// seconds writes a duration in seconds the way uptime is read.
func seconds(s float64) string {
	if s < 0 || s != s || s > 1e12 {
		return fmt.Sprintf("%g s", s)
	}
	return (time.Duration(s) * time.Second).String()
}

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"bytes":   bytesIEC,
	"seconds": seconds,
	"join":    strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dunix: {{.Name}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: left; }
td.n { text-align: right; }
.alive { color: #070; } .suspect { color: #a60; } .dead, .left { color: #a00; }
</style>
</head>
<body>
<h1>{{.Name}}</h1>
<table>
<tr><th>node ID</th><td>{{.ID}}</td></tr>
<tr><th>addresses</th><td>{{join .Addrs ", "}}</td></tr>
<tr><th>MAC</th><td>{{.MAC}}</td></tr>
<tr><th>CPUs</th><td>{{.Load.CPUs}}</td></tr>
<tr><th>load (1 min)</th><td>{{printf "%.2f" .Load.Load1}}</td></tr>
<tr><th>memory free / total</th><td>{{bytes .Load.MemFree}} / {{bytes .Load.MemTotal}}</td></tr>
<tr><th>uptime</th><td>{{seconds .Load.Uptime}}</td></tr>
<tr><th>CPU features</th><td>{{join .Load.Features " "}}</td></tr>
</table>

<h2>Members</h2>
<table>
<tr><th>name</th><th>address</th><th>state</th><th>CPUs</th><th>load</th><th>memory free</th><th>uptime</th></tr>
{{- range .Members}}
<tr><td>{{.Name}}</td><td>{{.Addr}}</td><td class="{{.State}}">{{.State}}</td><td class="n">{{.Load.CPUs}}</td><td class="n">{{printf "%.2f" .Load.Load1}}</td><td class="n">{{bytes .Load.MemFree}}</td><td class="n">{{seconds .Load.Uptime}}</td></tr>
{{- else}}
<tr><td colspan="7">none</td></tr>
{{- end}}
</table>

<h2>Counters</h2>
<table>
{{- range $k, $v := .Counters}}
<tr><th>{{$k}}</th><td class="n">{{$v}}</td></tr>
{{- else}}
<tr><td>none</td></tr>
{{- end}}
</table>

<h2>Unimplemented system calls (ENOSYS)</h2>
<table>
{{- range $k, $v := .ENOSYS}}
<tr><th>{{$k}}</th><td class="n">{{$v}}</td></tr>
{{- else}}
<tr><td>none</td></tr>
{{- end}}
</table>
<p><a href="/status.json">status.json</a></p>
</body>
</html>
`))

// Package status defines what a node reports about itself and the fabric
// as it sees it: the JSON document each node serves over HTTP on the
// fabric (GET /status.json, and the same as an HTML page at /), read by
// `dunix status`.
package status

// Port is the TCP port of the status server on every node.
const Port = 8740

// Node is one node's report.
type Node struct {
	Name     string            `json:"name"`     // node name (unique in the fabric)
	ID       string            `json:"id"`       // node ID used by the transport
	Addrs    []string          `json:"addrs"`    // IPv6 addresses, link-local first ("fe80::…%1" without zone)
	MAC      string            `json:"mac"`      // the fabric NIC's hardware address
	Load     Load              `json:"load"`     // this node's own figures
	Members  []Member          `json:"members"`  // every member this node knows, itself included
	Counters Counters          `json:"counters"` // drops and errors since boot
	ENOSYS   map[string]uint32 `json:"enosys"`   // unimplemented system calls made, by name
}

// Load holds the figures placement uses.
type Load struct {
	CPUs     int      `json:"cpus"`      // CPUs online
	Load1    float64  `json:"load1"`     // run-queue length, 1-minute average
	MemTotal uint64   `json:"mem_total"` // bytes
	MemFree  uint64   `json:"mem_free"`  // bytes
	Uptime   float64  `json:"uptime"`    // seconds since boot
	Features []string `json:"features"`  // CPU features (cpuinfo flag names)
}

// Member is one node as seen through the membership protocol.
type Member struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`  // the member's fabric address (link-local IPv6)
	State string `json:"state"` // "alive", "suspect", "dead" or "left"
	Load  Load   `json:"load"`  // as last gossiped by the member
}

// Counters count what a node dropped or refused, by cause.
type Counters map[string]uint64

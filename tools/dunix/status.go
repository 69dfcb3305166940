package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"dunix/net/status"
	"dunix/qemu"
	"dunix/tools/lan"
	"dunix/tools/observe"
)

func init() {
	register(&command{
		name:    "status",
		summary: "show a cluster's fabric as its nodes see it",
		help: `
Status joins the cluster's virtual LAN as an observer (a network card of
its own with a random MAC; not a member), finds the nodes by an ICMPv6 echo
to the all-nodes group ff02::1, fetches every node's status document
(http://[ADDR]:8740/status.json on its link-local address) and prints per
node its name, address, load and the members it sees with their states.
--json prints the documents instead, as a JSON array. --profile NODE
samples NODE for --seconds (default 10) and prints where its CPUs were
when interrupts came (kernel functions, "user", "idle"), most frequent
first.

Status exits 1 when no node answers.`,
		flags: func(fs *flag.FlagSet) runFunc {
			var cf clusterFlags
			cf.register(fs)
			asJSON := fs.Bool("json", false, "print the nodes' status documents as a JSON array")
			timeout := fs.Duration("timeout", 30*time.Second, "give up after `D`")
			profile := fs.String("profile", "", "sample `NODE` and print its profile")
			seconds := fs.Int("seconds", 10, "profile for `N` seconds (1-60)")
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) > 0 {
					return failed(e, usageError{fmt.Errorf("status: unexpected argument %q", args[0])})
				}
				st, _, err := cf.open()
				if err != nil {
					return failed(e, err)
				}
				o, closeObs, err := joinFabric(st)
				if err != nil {
					return failed(e, err)
				}
				defer closeObs()
				ctx, cancel := context.WithTimeout(ctx, *timeout)
				defer cancel()
				reports, err := o.Observe(ctx)
				if err != nil {
					return failed(e, fmt.Errorf("observing cluster %q: %v", st.Name, err))
				}
				var nodes []status.Node
				for _, r := range reports {
					if r.Node != nil {
						nodes = append(nodes, *r.Node)
					} else {
						fmt.Fprintf(e.stderr, "dunix: %s answered the echo but not with its status: %v\n", r.Addr, r.Err)
					}
				}
				if len(nodes) == 0 {
					fmt.Fprintf(e.stderr, "dunix: no node of cluster %q answered on its LAN %s (%d answered the ICMPv6 echo to ff02::1); 'dunix cluster status' shows whether they run\n",
						st.Name, st.LAN, len(reports))
					return 1
				}
				if *profile != "" {
					for _, r := range reports {
						if r.Node != nil && r.Node.Name == *profile {
							b, err := o.Get(context.Background(), r.Addr, fmt.Sprintf("/debug/profile?seconds=%d", *seconds), time.Duration(*seconds+30)*time.Second)
							if err != nil {
								return failed(e, err)
							}
							e.stdout.Write(b)
							return 0
						}
					}
					return failed(e, fmt.Errorf("no node named %q answered", *profile))
				}
				if *asJSON {
					b, _ := json.MarshalIndent(nodes, "", "  ")
					fmt.Fprintf(e.stdout, "%s\n", b)
					return 0
				}
				printFabric(e.stdout, nodes)
				return 0
			}
		},
	})
}

// joinFabric joins the cluster's LAN with a random MAC and starts an
// observer on it; closeObs leaves.
func joinFabric(st *clusterState) (o *observe.Observer, closeObs func(), err error) {
	l, err := qemu.ParseLAN(st.LAN)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster %q: %v", st.Name, err)
	}
	mac, err := lan.RandomMAC()
	if err != nil {
		return nil, nil, err
	}
	dev, err := lan.Join(l, mac)
	if err != nil {
		return nil, nil, err
	}
	o, err = observe.New(dev, observe.Options{})
	if err != nil {
		dev.Close()
		return nil, nil, err
	}
	return o, func() { o.Close(); dev.Close() }, nil
}

// printFabric prints the nodes' reports for people.
func printFabric(w io.Writer, nodes []status.Node) {
	for i, n := range nodes {
		if i > 0 {
			fmt.Fprintln(w)
		}
		addr := "-"
		if len(n.Addrs) > 0 {
			addr = n.Addrs[0]
		}
		up := time.Duration(n.Load.Uptime * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(w, "%s  %s  %d CPUs, %d MiB free of %d MiB, load %.2f, up %s\n",
			n.Name, addr, n.Load.CPUs, n.Load.MemFree>>20, n.Load.MemTotal>>20, n.Load.Load1, up)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, m := range n.Members {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%d CPUs, %d MiB free\n", m.Name, m.State, m.Addr, m.Load.CPUs, m.Load.MemFree>>20)
		}
		tw.Flush()
	}
}

// membership summarises what the observer saw: per node of the cluster
// the alive members it reports, or that it did not answer.
func membership(st *clusterState, reports []observe.Report) (summary string, complete, anyAnswer bool) {
	seen := map[string][]string{}
	for _, r := range reports {
		if r.Node != nil {
			seen[r.Node.Name] = observe.Alive(r.Node)
		}
	}
	var names []string
	for _, n := range st.Nodes {
		names = append(names, n.Name)
	}
	complete = len(names) > 0
	var parts []string
	for _, name := range names {
		alive, ok := seen[name]
		switch {
		case !ok:
			parts = append(parts, name+" does not answer")
			complete = false
		default:
			anyAnswer = true
			parts = append(parts, fmt.Sprintf("%s sees %s", name, strings.Join(alive, " ")))
			for _, want := range names {
				if !slices.Contains(alive, want) {
					complete = false
				}
			}
		}
	}
	return strings.Join(parts, "; "), complete, anyAnswer
}

// waitFabricMembers waits until every node of the cluster reports every
// node as an alive member, printing progress; see waitMembers.
func waitFabricMembers(ctx context.Context, e *env, st *clusterState, deadline time.Time) error {
	start := time.Now()
	o, closeObs, err := joinFabric(st)
	if err != nil {
		return err
	}
	defer closeObs()
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	fmt.Fprintf(e.stderr, "dunix: waiting until every node sees %s (until %s)\n", plural(len(st.Nodes), "alive member"), deadline.Format(time.TimeOnly))
	last, answered := "", false
	for {
		reports, err := o.Observe(ctx)
		if err == nil {
			summary, complete, some := membership(st, reports)
			answered = answered || some
			if summary != last {
				fmt.Fprintf(e.stderr, "dunix: after %s: %s\n", time.Since(start).Round(time.Second), summary)
				last = summary
			}
			if complete {
				return nil
			}
		}
		if ctx.Err() != nil {
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				return cause
			}
			if !answered {
				return fmt.Errorf("no node answered on the fabric (ICMPv6 echo to ff02::1 and the status server on port %d) within %s; the nodes' consoles (nK.log in the cluster directory) may say why",
					status.Port, time.Since(start).Round(time.Second))
			}
			return fmt.Errorf("the membership did not form within %s: %s", time.Since(start).Round(time.Second), last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

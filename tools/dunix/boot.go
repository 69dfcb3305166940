package main

import (
	"context"
	"flag"
)

func init() {
	register(&command{
		name:    "boot",
		args:    "[-- KERNEL-CMDLINE...]",
		summary: "boot one node with its console on this terminal",
		help: `
Boot boots one dunix node in QEMU with its console (COM1) on this terminal
and exits with the kernel's exit status. When standard input is a terminal
it is put in raw mode, so keys go to the kernel as typed; Ctrl-A x quits,
Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h prints help. Words after the flags
(after -- if they start with a dash) form the kernel command line.

Boot says on standard error which accelerator it uses and why. It exits
with 125 when the machine stopped without a status (triple fault, crash,
timeout, Ctrl-A x).`,
		flags: func(fs *flag.FlagSet) runFunc {
			var nf nodeFlags
			nf.register(fs, 0)
			return func(ctx context.Context, e *env, args []string) int {
				cfg, err := nf.config(e, args)
				if err != nil {
					return failed(e, err)
				}
				r := &nodeRun{flags: &nf, cfg: cfg, interactive: true}
				_, code, _ := r.boot(ctx, e)
				return code
			}
		},
	})
}

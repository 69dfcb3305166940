#!/bin/sh
# run-host.sh [-u] - run script.sh twice with bash-static on the host (with
# busybox's applets first in PATH if busybox is installed, as in the VM),
# check both runs print the same (stdout and exit status) and match
# script.expected.  With -u, rewrite script.expected from the run instead.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bash=${BASH_STATIC:-/usr/bin/bash-static}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/bin"
if bb=$(command -v busybox); then "$bb" --install -s "$work/bin" || exit 1; fi
for i in 1 2; do
	start=$(date +%s.%N)
	PATH="$work/bin:$PATH" "$bash" "$here/script.sh" > "$work/out$i" 2>"$work/err$i"
	echo "exit=$?" >> "$work/out$i"
	echo "run $i: $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo ?)s" >&2
done
cmp -s "$work/out1" "$work/out2" || { echo "runs differ:"; diff "$work/out1" "$work/out2"; exit 1; }
tail -n 1 "$work/out1" | grep -qx 'exit=0' || { echo "script.sh failed: $(tail -n 1 "$work/out1")"; exit 1; }
sed '$d' "$work/out1" > "$work/out"
if [ "${1-}" = -u ]; then
	cp "$work/out" "$here/script.expected"
	echo "script.expected updated"
	exit 0
fi
diff "$here/script.expected" "$work/out" || { echo "differs from script.expected"; exit 1; }
echo "script.sh: deterministic, matches script.expected"

#!/bin/sh
# run-host.sh [-u] - run tour.sh twice on the host with busybox's applets
# first in PATH (the same busybox binary the VM gets), check both runs
# print the same (stdout and exit status) and match tour.expected.
# With -u, rewrite tour.expected from the run instead.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bb=${BUSYBOX:-$(command -v busybox)} || { echo "run-host.sh: no busybox" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/bin"
"$bb" --install -s "$work/bin" || exit 1
for i in 1 2; do
	start=$(date +%s.%N)
	PATH="$work/bin:$PATH" "$bb" sh "$here/tour.sh" > "$work/out$i" 2>"$work/err$i"
	echo "exit=$?" >> "$work/out$i"
	echo "run $i: $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo ?)s" >&2
done
cmp -s "$work/out1" "$work/out2" || { echo "runs differ:"; diff "$work/out1" "$work/out2"; exit 1; }
tail -n 1 "$work/out1" | grep -qx 'exit=0' || { echo "tour.sh failed: $(tail -n 1 "$work/out1")"; exit 1; }
sed '$d' "$work/out1" > "$work/out"
if [ "${1-}" = -u ]; then
	cp "$work/out" "$here/tour.expected"
	echo "tour.expected updated"
	exit 0
fi
diff "$here/tour.expected" "$work/out" || { echo "differs from tour.expected"; exit 1; }
echo "tour.sh: deterministic, matches tour.expected"

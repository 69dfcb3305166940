#!/bin/sh
# run-host.sh [-u] - build goprog (static, CGO_ENABLED=0), run it twice on
# the host with busybox's applets first in PATH if busybox is installed (as
# in the VM), check both runs print the same and pass, and that the output
# matches expected.  With -u, rewrite expected from the run instead.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
(cd "$here/../.." && CGO_ENABLED=0 go build -o "$work/goprog" ./tests/goprog) || exit 1
mkdir "$work/bin"
if bb=$(command -v busybox); then "$bb" --install -s "$work/bin" || exit 1; fi
for i in 1 2; do
	start=$(date +%s.%N)
	PATH="$work/bin:$PATH" "$work/goprog" > "$work/out$i"
	echo "exit=$?" >> "$work/out$i"
	echo "run $i: $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo ?)s" >&2
done
cmp -s "$work/out1" "$work/out2" || { echo "runs differ:"; diff "$work/out1" "$work/out2"; exit 1; }
tail -n 1 "$work/out1" | grep -qx 'exit=0' || { cat "$work/out1"; exit 1; }
sed '$d' "$work/out1" > "$work/out"
if [ "${1-}" = -u ]; then
	cp "$work/out" "$here/expected"
	echo "expected updated"
	exit 0
fi
diff "$here/expected" "$work/out" || { echo "differs from expected"; exit 1; }
echo "goprog: deterministic, passes, matches expected"

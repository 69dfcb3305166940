#!/bin/sh
# run-host.sh - build all tests/posix programs into a temp dir and run each
# one on the host, reporting which failed.  Exit status 0 iff all passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/posix-bin.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

"$here/build.sh" "$out" || { echo "run-host.sh: build failed" >&2; exit 1; }

failed=""
for f in "$here"/*.c; do
	name=$(basename "$f" .c)
	"$out/$name"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "run-host.sh: $name exited with status $rc" >&2
		failed="$failed $name"
	fi
done

if [ -n "$failed" ]; then
	echo "FAILED:$failed"
	exit 1
fi
echo "ALL PASSED"

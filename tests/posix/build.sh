#!/bin/sh
# build.sh OUTDIR - compile every tests/posix/*.c into a static binary in OUTDIR.
# Uses musl-gcc (Debian package: musl-tools).  Set CC to override (e.g.
# CC="gcc" for a static glibc build).
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
src=$(cd "$(dirname "$0")" && pwd)

cc=${CC:-musl-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "build.sh: error: '$cc' not found." >&2
	if [ "$cc" = musl-gcc ]; then
		echo "build.sh: install it with: apt-get install musl-tools" >&2
	fi
	exit 1
fi

mkdir -p "$out"
status=0
for f in "$src"/*.c; do
	name=$(basename "$f" .c)
	if ! "$cc" -static -O2 -Wall -Werror -pthread -o "$out/$name" "$f"; then
		echo "build.sh: error: failed to compile $f" >&2
		status=1
	fi
done
exit $status

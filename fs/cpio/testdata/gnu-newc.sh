#!/bin/sh
# Regenerates gnu-newc.cpio with GNU cpio (run as root: it makes device
# nodes and sets owners). TestGoldenGNU writes the same entries with Writer
# and expects the same bytes. Usage: sh gnu-newc.sh > gnu-newc.cpio
set -eu
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t"
umask 022
mkdir dir dev
printf 'hello\n' > dir/hello.txt
chmod 0644 dir/hello.txt
chown 1000:100 dir/hello.txt
ln -s dir/hello.txt link
mknod dev/console c 5 1
chmod 0600 dev/console
mknod dev/sda b 8 0
chmod 0660 dev/sda
chown 0:6 dev/sda
mkfifo fifo
chmod 0644 fifo
printf 'abc' > a
chmod 0640 a
ln a b
: > e
chmod 0600 e
printf '#!' > setuid
chmod 04755 setuid
touch -d @1700000000 dir/hello.txt
touch -d @1234567890 setuid
touch -h -d @0 link dev/console dev/sda fifo a e dir dev
printf '%s\n' dir dir/hello.txt link dev dev/console dev/sda fifo a b e setuid |
	cpio -o -H newc --reproducible --quiet

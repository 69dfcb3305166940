#!/bin/sh
# tour.sh - a scripted tour of busybox ash and its applets, for comparing a
# run inside the dunix VM with a run on the host using the same busybox
# binary.  Only stdout and the exit status are compared, so everything
# printed here must be the same on any machine: no times, PIDs, host names,
# user names, absolute temporary paths, or sizes of host files.  All work
# happens in a fresh directory made with mktemp -d, removed at the end.
#
# Host run:  d=$(mktemp -d); busybox --install -s "$d"
#            PATH=$d:$PATH busybox sh tests/busybox/tour.sh

export TZ=UTC LC_ALL=C
umask 022

tmp=$(mktemp -d) || { echo "mktemp failed"; exit 1; }
cd "$tmp" || exit 1
cleanup() {
	cd /
	rm -rf "$tmp"
}
trap cleanup EXIT

st() { echo "status=$?"; }

echo "== pipes"
printf 'one\ntwo\nthree\n' | wc -l
echo hello world | tr a-z A-Z | rev
printf 'b\na\nc\n' | sort | head -n 2 | tail -n 1
echo abc | cat | cat | cat
false | true
st
true | false
st
! false
st
x=$(echo inner | sed 's/in/out/')
echo "cmdsubst=$x"
echo "nested=$(echo "a$(echo "b$(echo c)")")"
echo tee-test | tee tee.out >/dev/null
cat tee.out

echo "== redirects"
echo first > r.txt
echo second >> r.txt
cat < r.txt
wc -l < r.txt
ls no-such-file > out.txt 2>&1
st
grep -c 'no-such-file' out.txt
ls no-such-file 2>/dev/null
st
{ echo to-stderr >&2; } 2>&1 | cat
exec 3> fd3.txt
echo via-fd3 >&3
exec 3>&-
cat fd3.txt
exec 4< r.txt
read -r l1 <&4
read -r l2 <&4
exec 4<&-
echo "read: $l1 $l2"
: > empty.txt
wc -c < empty.txt
echo noclobber-ok > nc.txt
set -C
(echo again > nc.txt) 2>/dev/null
st
set +C
cat nc.txt

echo "== heredocs"
name=world
cat <<EOF
hello $name
sum $((2 + 3))
cmd $(echo sub)
EOF
cat <<'EOF'
literal $name $(echo no)
EOF
cat <<-EOF
	tab-stripped $name
	EOF
tr a-z A-Z <<EOF
shout
EOF
while read -r a b; do
	echo "pair [$a] [$b]"
done <<EOF
1 one
2 two words
EOF

echo "== subshells"
v=outer
(v=inner; echo "in subshell: $v")
echo "after subshell: $v"
(exit 7)
st
( cd / ; true )
[ -f r.txt ] && echo "cwd kept"
out=$( (echo a; echo b) | wc -l)
echo "lines=$out"
{ echo grouped1; echo grouped2; } | sort -r
(
	set -e
	echo before
	false
	echo not-reached
)
echo "set -e subshell status=$?"

echo "== functions"
fact() {
	if [ "$1" -le 1 ]; then
		echo 1
	else
		echo $(( $1 * $(fact $(( $1 - 1 ))) ))
	fi
}
echo "fact 10 = $(fact 10)"
counter=0
bump() { counter=$((counter + $1)); return $(( $1 % 4 )); }
bump 5
echo "bump status=$? counter=$counter"
scoped() {
	local counter=100
	echo "local counter=$counter"
}
scoped
echo "global counter=$counter"
args() { echo "argc=$# first=$1 all=$*"; shift 2; echo "after shift: $*"; }
args a b c d
set -- x "y z" w
for p in "$@"; do echo "arg [$p]"; done
echo "count=$#"
opts() {
	OPTIND=1
	while getopts "ab:c" o "$@"; do
		echo "opt $o ${OPTARG:-}"
		OPTARG=
	done
	shift $((OPTIND - 1))
	echo "rest: $*"
}
opts -a -b val -c file1 file2

echo "== case"
for w in apple banana cherry 42 x.txt ""; do
	case $w in
	a*) echo "$w: starts with a" ;;
	*an*) echo "$w: contains an" ;;
	[0-9]*) echo "$w: number" ;;
	*.txt) echo "$w: text file" ;;
	"") echo "empty" ;;
	*) echo "$w: other" ;;
	esac
done

echo "== loops"
for i in 1 2 3; do printf '%s ' "$i"; done
echo
i=0
while [ $i -lt 5 ]; do
	i=$((i + 1))
	[ $i -eq 2 ] && continue
	[ $i -eq 4 ] && break
	echo "while i=$i"
done
n=3
until [ $n -eq 0 ]; do echo "until n=$n"; n=$((n - 1)); done
for f in $(seq 1 3); do
	for g in a b; do
		echo -n "$f$g "
	done
done
echo
printf 'x 1\ny 2\nz 3\n' | while read -r k v; do echo "$k=$v"; done

echo "== arithmetic"
echo $((7 + 3 * 2)) $(( (7 + 3) * 2 )) $((17 / 5)) $((17 % 5)) $((-17 / 5))
echo $((1 << 10)) $((0xff)) $((010)) $((5 > 3)) $((5 == 4)) $((3 & 5)) $((3 | 5)) $((3 ^ 5))
a=5
a=$((a + 1)); echo "a=$a"
: $((a += 10)); echo "a=$a"
echo $((a > 10 ? 1 : 0))
echo $((2147483647 + 1)) $((9223372036854775807))
b=3; c=4
echo "hyp2=$((b * b + c * c))"

echo "== traps"
trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after USR1"
trap - USR1
trap 'echo "got HUP"' HUP
kill -HUP $$
echo "after HUP"
trap - HUP
sh -c 'trap "echo child exit trap" EXIT; echo child body'
sh -c 'trap "echo child got TERM; exit 9" TERM; kill -TERM $$; echo not-reached'
echo "child status=$?"
rm -f ready
(
	trap 'echo "bg subshell got TERM"; exit 5' TERM
	: > ready
	while :; do sleep 0.05; done
) &
p=$!
while [ ! -e ready ]; do sleep 0.01; done
kill -TERM $p
wait $p
echo "bg subshell status=$?"
(trap 'echo "subshell exit trap"' EXIT; echo "subshell body")
sh -c 'kill -KILL $$'
echo "self SIGKILL status=$?"
kill -l 15
kill -0 $$
st

echo "== jobs"
sleep 0.1 &
sleep 0.2 &
wait
echo "wait all status=$?"
(exit 3) &
p=$!
wait $p
echo "wait pid status=$?"
(sleep 0.1; exit 4) &
p=$!
wait $p
echo "wait delayed pid status=$?"
sleep 10 &
p=$!
kill $p
wait $p
echo "killed sleep status=$?"
sleep 10 &
kill %1
wait %1
echo "kill %1 status=$?"
for n in 1 2 3; do
	(sleep 0.0$n; echo "job $n") &
done > jobs.out
wait
sort jobs.out
timeout 0.2 sleep 5
echo "timeout status=$?"

echo "== ps"
sleep 5 &
p=$!
# ash runs applets by exec'ing /proc/self/exe, which names itself "sleep"
# (prctl PR_SET_NAME) only once started: wait for that, a bounded time.
n=0
until ps -o pid,comm | awk -v p=$p '$1 == p && $2 == "sleep" { f = 1 } END { exit !f }'; do
	n=$((n + 1))
	[ $n -ge 100 ] && break
	sleep 0.01
done
ps -o pid,args | awk -v p=$p '$1 == p { $1 = ""; print "ps sees:" $0 }'
ps -o pid,comm | awk -v p=$p '$1 == p { print "comm:", $2 }'
ps -o ppid,args | awk -v me=$$ '$1 == me && $2 == "sleep"' | wc -l
ps | grep '[s]leep 5$' | wc -l | awk '{ print ($1 >= 1) ? "grep finds sleep" : "grep misses sleep" }'
kill $p
wait $p 2>/dev/null
echo "after kill status=$?"
ps -o pid,args | awk -v p=$p '$1 == p' | wc -l

echo "== files"
mkdir -p d1/d2/d3
echo data > d1/d2/d3/f.txt
ls d1/d2/d3 | cat
cp d1/d2/d3/f.txt copy.txt
cat copy.txt
cp -r d1 d1copy
find d1copy | sort
touch -d '2001-02-03 04:05:06' stamped
chmod 640 stamped
cp -p stamped stamped.p
cp stamped stamped.np
stat -c '%n %a %Y' stamped stamped.p
[ "$(stat -c %Y stamped.np)" != "$(stat -c %Y stamped)" ] && echo "plain cp got new mtime"
date -r stamped '+%Y-%m-%d %H:%M:%S'
mv copy.txt moved.txt
ls | grep -E '^(copy|moved)' | cat
[ -e copy.txt ] || echo "copy.txt gone"
rm -r d1copy
[ -d d1copy ] || echo "d1copy removed"
rmdir d1/d2/d3 2>/dev/null
st
rm d1/d2/d3/f.txt
rmdir d1/d2/d3
st
ln -s moved.txt link.txt
readlink link.txt
cat link.txt
ln moved.txt hard.txt
stat -c '%h' moved.txt
ln -sf /nonexistent dangling
readlink dangling
[ -e dangling ] || echo "dangling does not exist"
[ -L dangling ] && echo "but is a link"
stat -c '%F' moved.txt link.txt d1 empty.txt
stat -L -c '%F' link.txt
stat -c '%s' moved.txt link.txt
ls -d d1 moved.txt link.txt | cat
ls -a d1 | cat
ls -ld d1 | cut -c1-10
ls -l moved.txt | cut -c1-10
mkdir -p tree/a/b tree/c
touch tree/a/one.txt tree/a/b/two.txt tree/c/three.log tree/top.txt
ln -s a/one.txt tree/lnk
ls -R tree | cat
ls -F tree | cat
realpath tree/lnk >/dev/null && echo "realpath ok"
basename "$(realpath tree/lnk)"

echo "== find"
find tree -name '*.txt' | sort
find tree -type d | sort
find tree -type f -name 't*' | sort
find tree -type l
find tree -name '*.log' -exec cat {} \;
find tree -path '*b*' | sort
find tree -mindepth 2 -type f | sort
find tree -maxdepth 1 | sort
find tree -newer tree -o -name nomatch | wc -l >/dev/null && echo "find -newer ran"
find tree -empty -type f | sort

echo "== grep"
cat > g.txt <<EOF
apple pie
banana split
cherry tart
apple crumble
Date 2024
EOF
grep apple g.txt
grep -c apple g.txt
grep -v apple g.txt
grep -E 'an{1,2}a|tart' g.txt
grep -i date g.txt
grep -n pie g.txt
grep -o 'a[a-z]*e' g.txt
grep -w split g.txt
grep -l apple g.txt r.txt
grep -q nothing g.txt
st
grep -r crumble tree g.txt nums.txt 2>/dev/null | sort
grep -e cherry -e banana g.txt
grep -F 'e p' g.txt
echo "x" | grep -x x
egrep -c '^(a|b)' g.txt
fgrep -c '.' g.txt

echo "== sed"
sed 's/a/A/g' g.txt
sed -n '2p' g.txt
sed -n '/apple/p' g.txt
sed '2,3d' g.txt
sed -e 's/^/> /' -e '$a\end' g.txt
sed 's/\([a-z]*\) \([a-z]*\)/\2 \1/' g.txt
sed -n '$=' g.txt
cp g.txt gi.txt
sed -i 's/apple/APPLE/' gi.txt
cat gi.txt
sed -i.bak '1d' gi.txt
wc -l gi.txt gi.txt.bak
echo 'a.b.c' | sed 's/\./-/2'
printf 'l1\nl2\nl3\n' | sed -n '1!G;h;$p'
echo hello | sed 'y/hel/HEL/'

echo "== awk"
cat > nums.txt <<EOF
alice 30 5.5
bob 25 7.25
carol 35 1
dave 25 3
EOF
awk '{ print $1 }' nums.txt
awk '{ s += $2 } END { print "sum", s, "avg", s / NR }' nums.txt
awk '$2 == 25 { print NR ": " $1 }' nums.txt
awk '{ printf "%-6s|%4d|%6.2f\n", $1, $2, $3 }' nums.txt
awk -F: '{ print $2 }' <<EOF
a:b:c
d:e:f
EOF
awk 'BEGIN { OFS = "," } { $1 = $1; print }' nums.txt
awk '{ n[$2]++ } END { for (k in n) print k, n[k] }' nums.txt | sort
awk 'BEGIN { x = "hello world"; print length(x), substr(x, 1, 5), toupper(x), index(x, "wor") }'
awk 'BEGIN { s = "a-b-c"; n = split(s, arr, "-"); print n, arr[3]; gsub(/-/, "+", s); print s }'
awk 'BEGIN { printf "%d %o %x %e %c\n", 42, 8, 255, 12345.678, 65 }'
awk 'BEGIN { for (i = 1; i <= 5; i++) p = p i; print p; print int(7.9), 7 % 3, 2 * 10 }'
echo "5 apples" | awk '{ print $1 * 2, NF, $NF }'
awk 'NR % 2 == 0' nums.txt
awk -v pre=X '{ print pre $1 }' nums.txt | head -n 1

echo "== sort uniq"
printf '10\n9\n100\n9\n1\n' > n.txt
sort n.txt | tr '\n' ' '; echo
sort -n n.txt | tr '\n' ' '; echo
sort -rn n.txt | tr '\n' ' '; echo
sort -un n.txt | tr '\n' ' '; echo
sort -k2,2n -k1,1 nums.txt
sort -t: -k2 <<EOF
x:3
y:1
z:2
EOF
sort -r g.txt
printf 'a\na\nb\nc\nc\nc\na\n' | uniq -c
printf 'a\na\nb\nc\nc\nc\na\n' | uniq -d
printf 'a\na\nb\nc\nc\nc\na\n' | uniq -u
printf 'a\na\nb\nc\nc\nc\na\n' | sort | uniq -c | sort -rn
sort -c n.txt 2>/dev/null
st
sort -n n.txt | sort -nc
st

echo "== text"
wc g.txt
wc -l < g.txt
wc -w < g.txt
wc -c < g.txt
seq 1 20 > s.txt
head -n 3 s.txt | tr '\n' ' '; echo
tail -n 3 s.txt | tr '\n' ' '; echo
tail -n +18 s.txt | tr '\n' ' '; echo
head -c 5 s.txt | od -c | head -n 1
tail -c 6 s.txt | tr '\n' ' '; echo
echo "Hello, World" | tr 'A-Za-z' 'N-ZA-Mn-za-m'
echo "aaabbbccc" | tr -s 'a-c'
echo "hello 123 world" | tr -d '0-9'
echo "a b c" | tr ' ' '\n'
echo "a:b:c:d" | cut -d: -f2,4
echo "abcdefgh" | cut -c2-4
cut -d' ' -f1 nums.txt
printf 'a\nb\nc\n' | xargs echo
printf 'a\nb\nc\n' | xargs -n 1 echo item
printf 'x y\n' | xargs -I{} echo "[{}]"
find tree -name '*.txt' | sort | xargs basename -a 2>/dev/null || find tree -name '*.txt' | sort | xargs -n 1 basename
echo "1 2 3" | xargs -n 2
printf 'a\nb\n' > p1; printf '1\n2\n' > p2
paste p1 p2
paste -d, p1 p2
nl -ba p1
printf 'c\nb\na\n' | tac
echo "abc" | rev
printf 'hello\n' | base64
echo aGVsbG8K | base64 -d
fold -w 5 <<EOF
abcdefghijklmnop
EOF
printf 'a\tb\n' | expand -t 4 | od -c | head -n 1

echo "== archive"
mkdir -p arc/sub
echo alpha > arc/a.txt
echo beta > arc/sub/b.txt
ln -s a.txt arc/alink
tar cf arc.tar arc
tar tf arc.tar | sort
mkdir ex
tar xf arc.tar -C ex
find ex | sort
cat ex/arc/a.txt ex/arc/sub/b.txt
readlink ex/arc/alink
diff -r arc ex/arc && echo "tree identical"
tar czf arc.tgz arc
tar tzf arc.tgz | sort
mkdir ex2
(cd ex2 && tar xzf ../arc.tgz)
cmp arc/sub/b.txt ex2/arc/sub/b.txt && echo "tgz round trip ok"
tar cf - arc | tar tf - | sort | wc -l
seq 1 1000 > big.txt
cp big.txt big.orig
gzip big.txt
[ -f big.txt.gz ] && [ ! -f big.txt ] && echo "gzip replaced file"
gunzip big.txt.gz
cmp big.txt big.orig && echo "gzip round trip ok"
gzip -c big.txt | gunzip -c | cmp - big.orig && echo "gzip -c pipe ok"
gzip -9 -c big.txt | zcat | tail -n 1
gzip -c big.txt > big.gz
gzip -t big.gz && echo "gzip -t ok"
echo "not gzip" | gunzip -c >/dev/null 2>&1
st
bzip2 -c big.txt | bunzip2 -c | cmp - big.orig && echo "bzip2 round trip ok"

echo "== checksums"
printf 'hello\n' > h.txt
sha256sum h.txt
md5sum h.txt
sha1sum h.txt
printf '' | sha256sum
sha256sum h.txt > sums
sha256sum -c sums
echo corrupted > h.txt
sha256sum -c sums 2>/dev/null
st
seq 1 1000 | md5sum
crc32 big.orig

echo "== dd od"
dd if=/dev/zero of=z.bin bs=512 count=4 2>dd.err
st
head -n 2 dd.err
wc -c < z.bin
od -An -tx1 z.bin | sort -u
dd if=big.orig of=part bs=1 skip=2 count=5 2>/dev/null
od -c part
printf 'ABC\001\377' | od -An -tx1
printf 'ABCDEFGHIJKLMNOPQRS' | hexdump -C
printf 'abc' | od -An -c
printf 'hi' | xxd
echo 'conv test' | dd conv=ucase 2>/dev/null
head -c 100 /dev/zero | wc -c
head -c 16 /dev/urandom | wc -c
dd if=/dev/zero bs=1k count=3 2>/dev/null | wc -c
truncate -s 1000 tr.bin
wc -c < tr.bin
stat -c '%s' tr.bin

echo "== compare"
printf 'a\nb\nc\n' > c1
printf 'a\nB\nc\n' > c2
cmp c1 c1
st
cmp c1 c2
st
cmp -s c1 c2
st
diff c1 c2
st
diff -U 0 c1 c2
diff c1 c1
st
diff <<EOF c1 -
a
b
c
EOF
st

echo "== date"
date -u -d @0 +%Y-%m-%d
date -u -d @1000000000 '+%Y-%m-%d %H:%M:%S %a %b %j'
date -u -d '2020-02-29 12:34:56' +%s
date -u -d @86399 +%T
date -d @0 -u -R
date -u -d '@1234567890' -I
[ "$(date +%Y)" -ge 2020 ] && echo "current year sane"

echo "== sleep kill"
sleep 0.1
st
sleep 0
st
sleep 10 &
p=$!
kill -0 $p && echo "sleep alive"
kill -9 $p
wait $p
echo "SIGKILL status=$?"
kill -0 $p 2>/dev/null
st
kill -s TERM $p 2>/dev/null
st
sh -c 'kill -USR1 $$; echo not-here'
echo "USR1 death status=$?"

echo "== env"
MYVAR=hello env | grep '^MYVAR='
env -i A=1 B=two env | sort
env -i PATH="$PATH" sh -c 'echo "in clean env: ${HOME-unset}"'
env -u HOME sh -c 'echo "HOME is ${HOME-unset}"'
export EXPORTED=yes
sh -c 'echo "child sees $EXPORTED"'
NOTEXP=no
sh -c 'echo "child sees [${NOTEXP-}]"'
unset EXPORTED
sh -c 'echo "after unset [${EXPORTED-}]"'
id -u
id -g
umask
umask 077
touch masked
stat -c %a masked
mkdir maskdir
stat -c %a maskdir
umask 022
touch unmasked
stat -c %a unmasked
command -v ls >/dev/null && echo "ls found"
which ls >/dev/null
st
which definitely-not-a-command-xyz
st
basename "$(which sh)"

echo "== test"
[ 3 -lt 5 ]; st
[ 3 -gt 5 ]; st
[ abc = abc ]; st
[ abc != abc ]; st
[ -z "" ]; st
[ -n "" ]; st
test -d tree; st
test -f tree; st
test -e nope; st
[ -r moved.txt -a -w moved.txt ]; st
[ -s empty.txt ]; st
[ -s moved.txt ]; st
[ -x masked ]; st
chmod +x masked
[ -x masked ]; st
[ ! -L moved.txt ]; st
[ "$(echo a)" = a ] && [ 1 -eq 1 ] || echo "not printed"
[ 1 -eq 2 ] || echo "or branch"
[ moved.txt -ef hard.txt ]; st
[ moved.txt -nt nonexistent ]; st

echo "== expr seq printf"
expr 3 + 4
expr 10 / 3
expr 10 % 3
expr 6 \* 7
expr 5 \> 3
expr length abcdef
expr abcdef : 'ab\(.*\)e'
expr substr hello 2 3
expr index hello l
expr 0 + 0
st
expr 1 = 2
st
seq 3
seq 2 2 10 | tr '\n' ' '; echo
seq 5 -1 1 | tr '\n' ' '; echo
seq -s, 5
seq -w 8 11
printf '%s|%5s|%-5s|\n' a b c
printf '%d %03d %+d %x %X %o\n' 42 7 5 255 255 8
printf '%.3f %e %g\n' 3.14159 1234.5 0.0001
printf '%c%c\n' abc def
printf '%b\n' 'tab\there' 'nl\\n'
printf 'repeat %s\n' a b c
printf '%%\n'
printf '\101\102\n'
printf '%5.1f|\n' 2.25
echo -e 'a\tb' | od -c | head -n 1
echo -n "no newline"; echo

echo "== paths"
basename /a/b/c.txt
basename /a/b/c.txt .txt
basename /
dirname /a/b/c.txt
dirname c.txt
dirname /a
x=/usr/local/lib/file.tar.gz
echo "${x##*/} ${x%/*} ${x%%.*} ${x#*.}"
y=hello
echo "${#y} ${y:-def} ${unset_var:-def} ${unset_var:=assigned} $unset_var"
echo "${y%l*} ${y%%l*}"
echo "${y:1:3}" 2>/dev/null

echo "== misc"
yes | head -n 3
yes abc | head -n 2
true; st
false; st
sh -c 'exit 42'; st
sh -c 'exit 256'; st
(true && false) || echo "or after false"
true && echo "and after true"
echo $(( $(printf '%s\n' 1 2 3 | wc -l) + 1 ))
printf 'x\0y\0' | xargs -0 echo
printf 'dup\n' | tee t1 t2 >/dev/null; cat t1 t2
mkfifo ff
(echo "through fifo" > ff) &
cat ff
wait
stat -c %F ff
set -f
echo *
set +f
echo m*.txt | tr ' ' '\n' | sort
echo zz*nomatch
eval 'ev=evaluated'; echo "$ev"
alias hi='echo aliased'
eval hi
read -r ra rb <<EOF
first second third
EOF
echo "ra=$ra rb=$rb"
IFS=: read -r f1 f2 f3 <<EOF
a:b:c
EOF
echo "$f2"
factor 360
nproc >/dev/null && echo "nproc ran"
uname -s
uname -m
cal 2 2024
cat -n p1
printf 'l1\r\n' | dos2unix | od -c | head -n 1
shuf -e x 2>/dev/null
printf '3\n1\n2\n' | sort | tac | head -n 1
echo "sum=$(seq 1 100 | awk '{ s += $1 } END { print s }')"

echo "== done"

#!/bin/bash
# script.sh - a tour of bash features, for comparing a run of Debian's
# bash-static inside the dunix VM with a run of the same binary on the
# host.  Only stdout and the exit status are compared, so nothing printed
# may depend on the machine: no times, PIDs, host or user names, absolute
# temporary paths.  The external commands used (cat, sort, tr, paste, sleep,
# mkdir, touch, rm, mkfifo, mktemp, cmp) print the same with busybox or GNU
# coreutils; everything else is a builtin.
#
# Host run:  /usr/bin/bash-static tests/bash/script.sh

export LC_ALL=C TZ=UTC
umask 022

tmp=$(mktemp -d) || { echo "mktemp failed"; exit 1; }
cd "$tmp" || exit 1
main=$BASHPID
# The guard matters: a child forked for a background command runs this trap
# too if a signal (kill %1 below) reaches it before it has exec'd.
trap '[[ $BASHPID == "$main" ]] && { cd /; rm -rf "$tmp"; }' EXIT

section() { echo "== $*"; }

section functions
fib() {
	local n=$1
	if ((n < 2)); then
		echo "$n"
		return
	fi
	local a b
	a=$(fib $((n - 1)))
	b=$(fib $((n - 2)))
	echo $((a + b))
}
echo "fib 12 = $(fib 12)"
fact() {
	local -i n=$1
	((n <= 1)) && { REPLY=1; return; }
	fact $((n - 1))
	REPLY=$((n * REPLY))
}
fact 20
echo "fact 20 = $REPLY"
depth() {
	local level=$1
	if ((level < 3)); then
		depth $((level + 1))
	else
		echo "FUNCNAME stack: ${FUNCNAME[*]:0:4}"
	fi
}
depth 0
x=global
shadow() {
	local x=local
	inner
}
inner() { echo "inner sees x=$x (dynamic scope)"; }
shadow
echo "outside x=$x"
setter() { declare -g made_global=yes; local hidden=no; }
setter
echo "made_global=$made_global hidden=${hidden-unset}"
ret() { return "$1"; }
ret 7
echo "return status=$?"
nameref() {
	local -n ref=$1
	ref="set via nameref"
}
nameref target
echo "target=$target"
counter() {
	local -a parts=("$@")
	echo "${#parts[@]} args, last=${parts[-1]}"
}
counter a "b c" d

section indexed arrays
arr=(zero one two three)
echo "len=${#arr[@]} first=${arr[0]} last=${arr[-1]}"
arr+=(four five)
echo "all: ${arr[*]}"
echo "slice: ${arr[@]:2:3}"
echo "indices: ${!arr[*]}"
unset 'arr[1]'
echo "after unset: ${!arr[*]} -> ${arr[*]}"
arr[10]=ten
echo "sparse: ${!arr[*]}"
declare -p arr
for i in "${!arr[@]}"; do printf '%s=%s ' "$i" "${arr[i]}"; done
echo
nums=(5 3 9 1 7)
sum=0
for n in "${nums[@]}"; do ((sum += n)); done
echo "sum=$sum"
IFS=$'\n' sorted=($(printf '%s\n' "${nums[@]}" | sort -n))
unset IFS
echo "sorted: ${sorted[*]}"
words=("with space" "tab	here" plain)
printf '[%s]\n' "${words[@]}"
echo "upper: ${words[@]^^}"
echo "replace: ${words[@]/a/A}"
copy=("${words[@]}")
copy[0]=changed
echo "orig=${words[0]} copy=${copy[0]}"
empty=()
echo "empty len=${#empty[@]}"

section associative arrays
declare -A color=([apple]=red [banana]=yellow [grape]=purple)
color[lime]=green
echo "count=${#color[@]}"
for k in $(printf '%s\n' "${!color[@]}" | sort); do
	echo "$k -> ${color[$k]}"
done
[[ -v color[apple] ]] && echo "apple is set"
[[ -v color[cherry] ]] || echo "cherry is not set"
unset 'color[banana]'
echo "after unset: $(printf '%s\n' "${!color[@]}" | sort | tr '\n' ' ')"
declare -A count=()
for w in a b a c b a; do ((count[$w]++)); done
for k in $(printf '%s\n' "${!count[@]}" | sort); do echo "count[$k]=${count[$k]}"; done
declare -A one=([only]=1)
declare -p one

section strings
s="hello world, hello bash"
echo "${#s}"
echo "${s:6:5}"
echo "${s: -4}"
echo "${s:1:2}"
echo "${s/hello/bye}"
echo "${s//hello/bye}"
echo "${s//[aeiou]/}"
echo "${s/#hello/START}"
echo "${s/%bash/END}"
echo "${s^}"
echo "${s^^}"
U=MiXeD
echo "${U,,} ${U,}"
f=archive.tar.gz
echo "${f%.*} ${f%%.*} ${f#*.} ${f##*.}"
echo "${undef:-default} ${undef-dash} ${undef:+alt} ${s:+alt}"
: "${assign:=assigned}"
echo "$assign"
(: "${must:?is required}") 2>/dev/null || echo "must: error status=$?"
q="it's \"quoted\""
echo "${q@Q}"
printf -v padded '%-8s|%5d|%05.1f' name 42 3.14159
echo "$padded"
printf -v hex '%x' 48879
echo "hex=$hex"
pre_a=1 pre_b=2 pre_c=3
echo "vars: ${!pre_*}"
ptr=pre_b
echo "indirect: ${!ptr}"
if [[ "version 5.2.15" =~ ([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
	echo "match=${BASH_REMATCH[0]} major=${BASH_REMATCH[1]} patch=${BASH_REMATCH[3]}"
fi
[[ abc == a?c ]] && echo "glob match"
[[ abc < abd ]] && echo "string less"
str="a,b,,c"
IFS=, read -r -a parts <<< "$str"
echo "parts=${#parts[@]}: $(printf '<%s>' "${parts[@]}")"
printf '%s\n' "${s}" | tr ' ' '\n' | sort | tr '\n' ' '
echo
printf '%q\n' $'ansi\tquoted\x41'
printf '%q\n' 'a b$c'
printf '%(%Y-%m-%d %H:%M:%S)T\n' 0
printf '%(%A)T\n' 86400

section arithmetic
echo $((2 ** 10)) $((7 / 2)) $((-7 / 2)) $((-7 % 3)) $((1 << 62))
echo $((0x1f + 010 + 2#1011 + 36#z))
((a = 5, b = a * 2, c = b++ + ++a))
echo "a=$a b=$b c=$c"
let "d = 3 * (4 + 5)" "e = d % 7"
echo "d=$d e=$e"
declare -i n=10
n+=5
n="n * 2"
echo "n=$n"
(( 0 )); echo "(( 0 )) status=$?"
(( 5 )); echo "(( 5 )) status=$?"
echo $((9223372036854775807 + 1))
echo $(( 3 > 2 ? 100 : 200 ))
i=0; while ((i++ < 3)); do printf '%d ' "$i"; done; echo
for ((j = 10; j > 0; j -= 3)); do printf '%d ' "$j"; done; echo
RANDOM=42
r1=$RANDOM r2=$RANDOM
RANDOM=42
r3=$RANDOM
[[ $r1 == "$r3" && $r1 != "$r2" ]] && echo "RANDOM reseed repeats"
(( 1 / 0 )) 2>/dev/null
echo "div by zero status=$?"

section brace expansion
echo {a,b,c}{1,2}
echo {1..5} {5..1} {a..e} {01..10..3} {z..a..5}
echo pre{fix,view,tty}post
echo {x,y{1..2},z}
mkdir -p br/{src,doc}/{v1,v2}
printf '%s\n' br/*/* | sort | tr '\n' ' '
echo

section globbing
touch g1.txt g2.txt g10.txt .hidden.txt data.csv notes.md
mkdir -p deep/er/est
touch deep/a.txt deep/er/b.txt deep/er/est/c.txt
echo *.txt
echo g?.txt
echo g[0-9]*.txt
echo *.{csv,md}
echo nomatch*.zip
shopt -s nullglob
m=(nomatch*.zip)
echo "nullglob count=${#m[@]}"
shopt -u nullglob
shopt -s dotglob
echo *.txt
shopt -u dotglob
shopt -s extglob
echo !(*.txt|deep|br)
echo g+([0-9]).txt
echo @(data|notes).*
shopt -u extglob
shopt -s globstar
echo **/*.txt
shopt -u globstar
files=(*)
echo "files=${#files[@]}"
case notes.md in
*.md) echo "case glob md" ;;&
notes*) echo "case fallthrough notes" ;;
*) echo "not reached" ;;
esac

section here-strings and read
read -r first rest <<< "alpha beta gamma"
echo "first=$first rest=$rest"
read -r -a arr2 <<< "x y z"
echo "read -a: ${#arr2[@]} ${arr2[2]}"
tr a-z A-Z <<< "here string"
cat <<EOF | while IFS=: read -r k v; do echo "k=$k v=$v"; done
one:1
two:2
EOF
IFS= read -r -d '' multi <<'EOF' || true
line one
  line two
EOF
printf '%s' "$multi" | cat
read -r -n 3 three <<< "abcdef"
echo "read -n: $three"
{ read -r l1; read -r l2; } <<'EOF'
L1
L2
EOF
echo "$l1/$l2"
exec {fd}<<< "via dynamic fd"
read -r -u "$fd" dyn
exec {fd}<&-
echo "$dyn"

section mapfile
printf 'line %d\n' 1 2 3 4 5 > lines.txt
mapfile -t lines < lines.txt
echo "count=${#lines[@]} third=${lines[2]}"
mapfile -t -s 1 -n 2 some < lines.txt
declare -p some
readarray -t fromcmd < <(printf '%s\n' c b a | sort)
echo "fromcmd=${fromcmd[*]}"
cb() { echo "callback $1: $2"; }
mapfile -t -C cb -c 2 cbarr < lines.txt

section command substitution
echo "nested: $(echo "a $(echo "b $(echo "c $(echo d)")")")"
echo "backticks: `echo old style`"
out=$(printf 'trailing\n\n\n')
echo "[$out]"
n=$(
	for i in 1 2 3; do echo $i; done | sort -r | tr -d '\n'
)
echo "multiline: $n"
echo "status inside: $(false; echo $?)"
v=$(exit 4)
echo "cmdsubst status=$?"

section process substitution
cat <(echo from-procsub)
paste <(printf '1\n2\n3\n') <(printf 'a\nb\nc\n')
if cmp -s <(printf 'same\n') <(printf 'same\n'); then echo "procsub compare: same"; fi
cmp -s <(printf 'x\n') <(printf 'y\n')
echo "procsub compare differ status=$?"
diff <(printf 'a\nb\n') <(printf 'a\nc\n') >/dev/null
echo "diff status=$?"
total=0
while read -r num; do
	((total += num))
done < <(printf '%s\n' 10 20 30)
echo "total=$total (loop ran in main shell)"
echo data > sink.txt
echo "to procsub" > >(tr a-z A-Z > upper.txt)
wait $!
cat upper.txt

section pipes
true | false | true
echo "PIPESTATUS=${PIPESTATUS[*]}"
(exit 3) | (exit 0) | (exit 5)
echo "PIPESTATUS=${PIPESTATUS[*]}"
false | true
echo "no pipefail status=$?"
(
	set -o pipefail
	false | true
	echo "pipefail status=$?"
	(exit 2) | (exit 3) | true
	echo "pipefail rightmost failure=$?"
)
printf '3\n1\n2\n' | sort | while read -r x; do printf '<%s>' "$x"; done
echo
lastvar=unset
echo piped | read -r lastvar
echo "without lastpipe: $lastvar"
(
	shopt -s lastpipe
	set +m
	echo piped | read -r lastvar
	echo "with lastpipe: $lastvar"
)
echo abc |& cat
{ echo to-stderr >&2; } 2>&1 | tr a-z A-Z

section set -e
(
	set -e
	echo "before failure"
	false
	echo "not reached"
)
echo "set -e subshell status=$?"
(
	set -e
	false || echo "|| does not trigger set -e"
	if false; then :; fi
	! true
	echo "still running"
	f() { false; echo "in f after false (set -e ignored in && context)"; }
	f && echo "f returned"
	(exit 6)
	echo "not reached"
)
echo "set -e status=$?"
(
	set -eu
	echo "${unbound_var}"
	echo "not reached"
) 2>/dev/null
echo "set -u status=$?"

section traps
trap 'echo "USR1 handler ran"' USR1
kill -USR1 $$
echo "after USR1"
trap - USR1
(
	trap 'echo "ERR trap: status=$? cmd=$BASH_COMMAND"' ERR
	false
	(exit 9)
	true
	echo "after errs"
)
(
	set -o errtrace
	trap 'echo "ERR in function, status $?"' ERR
	fn() { return 4; }
	fn
	trap - ERR
)
(
	trap 'echo "subshell EXIT trap, status=$?"' EXIT
	echo "subshell body"
	exit 3
)
echo "subshell status=$?"
"$BASH" -c 'trap "echo child TERM trap; exit 11" TERM; kill -TERM $$; echo not-reached'
echo "child status=$?"
(
	trap 'echo "RETURN trap"' RETURN
	rf() { echo "in rf"; }
	rf
)
trap -p USR2
trap 'echo usr2' USR2
trap -p USR2
trap - USR2
(
	trap '' INT
	kill -INT $BASHPID
	echo "ignored INT, still alive"
)
"$BASH" -c 'kill -USR1 $$'
echo "death by USR1 status=$?"

section jobs and wait
(sleep 0.1; exit 2) &
p1=$!
(sleep 0.2; exit 3) &
p2=$!
(exit 4) &
p3=$!
wait $p1; s1=$?
wait $p2; s2=$?
wait $p3; s3=$?
echo "statuses: $s1 $s2 $s3"
sleep 0.05 &
sleep 0.05 &
wait
echo "wait all status=$?"
# wait -n returns any finished job not yet reported, and bash keeps some
# finished jobs (the sleeps above) until reported: `jobs` reports them.
# Jobs that end while an external command runs in the foreground may be
# reported then and are lost to wait -n, so each job is held on a fifo
# until released by a builtin, and no external command runs in between.
mkfifo gate1 gate2
jobs >/dev/null
(read -r _ < gate1; exit 20) &
j1=$!
(read -r _ < gate2; exit 21) &
j2=$!
echo go > gate2
wait -n -p who
st=$?
[[ $who == "$j2" ]] && w=second || w=other
echo "wait -n first: status=$st job=$w"
echo go > gate1
wait -n -p who
st=$?
[[ $who == "$j1" ]] && w=first || w=other
echo "wait -n next: status=$st job=$w"
wait -n
echo "wait -n with no jobs status=$?"
sleep 10 &
p=$!
jobs
# Until the child has exec'd sleep it still runs bash, whose handler for
# terminating signals (installed for the EXIT trap) only notes a SIGTERM:
# wait for the exec, or a slow machine makes this a race.
for ((i = 0; i < 2000; i++)); do
	c=
	{ read -r c <"/proc/$p/comm"; } 2>/dev/null
	[[ $c == sleep ]] && break
done
kill %1
wait "$p" # not %1: the job may already be reported and forgotten
echo "kill %1 status=$?"
sleep 10 &
p=$!
kill -KILL "$p"
wait "$p"
echo "SIGKILL status=$?"
wait "$p" 2>/dev/null
echo "wait again status=$?"
for n in 3 1 2; do
	(sleep "0.0$n"; echo "job $n") &
done > jobs.out
wait
sort jobs.out | tr '\n' ' '
echo
[[ $$ == "$BASHPID" ]] && echo "BASHPID equals \$\$ in main shell"
( [[ $$ != "$BASHPID" ]] && echo "BASHPID differs in subshell" )
(( $$ > 0 && PPID >= 0 )) && echo "pid sane"

section coprocess
coproc UP { tr a-z A-Z; }
up_pid=$UP_PID # bash unsets UP_PID once the coprocess has ended
echo "hello coproc" >&"${UP[1]}"
exec {UP[1]}>&-
read -r line <&"${UP[0]}"
echo "$line"
wait "$up_pid"
echo "coproc status=$?"
coproc CALC { while read -r a b; do echo $((a * b)); done; }
calc_pid=$CALC_PID
for pair in "3 4" "6 7"; do
	echo "$pair" >&"${CALC[1]}"
	read -r res <&"${CALC[0]}"
	echo "product=$res"
done
exec {CALC[1]}>&-
wait "$calc_pid"
echo "calc status=$?"

section declare
declare -i int=42
declare -r ro=constant
declare -a ia=(1 "two words" 3)
declare -x exported=yes
declare -l lower=MIXED
declare -u upper=mixed
declare -p int ro ia exported lower upper
(ro=changed) 2>/dev/null || echo "readonly assignment failed"
"$BASH" -c 'echo "child sees exported=$exported"'
f_decl() { :; }
declare -F f_decl
type -t f_decl cd ls if
unset -f f_decl
declare -F f_decl || echo "f_decl gone"
declare -A map=([k]=v)
[[ $(declare -p map) == 'declare -A map=([k]="v" )' ]] && echo "declare -p assoc format ok"

section files and fds
echo one > f.txt
echo two >> f.txt
exec 3< f.txt
read -r -u 3 a
read -r -u 3 b
exec 3<&-
echo "$a,$b"
exec 4> out4.txt
echo "fd4 line" >&4
exec 4>&-
cat out4.txt
cat < f.txt > copy.txt
[[ -s copy.txt ]] && echo "copy non-empty"
[[ f.txt -ef f.txt ]] && echo "-ef ok"
echo "$(<f.txt)"
set -o noclobber
(echo x > f.txt) 2>/dev/null || echo "noclobber refused"
echo forced >| f.txt
set +o noclobber
cat f.txt
cat > lib.sh <<'EOF'
sourced_var=from-lib
echo "sourced with args: $*"
return 5
echo "not reached"
EOF
source ./lib.sh x y
echo "source status=$? sourced_var=$sourced_var"
(sourced_var=; . ./lib.sh p q >/dev/null; echo "dot in subshell: $sourced_var")

section misc
shopt -q extglob || echo "extglob off"
set -- "a b" c
echo "\$#=$# \$1=$1"
printf '%s|' "$@"; echo
printf '%s|' "$*"; echo
IFS=-
echo "joined: $*"
unset IFS
getopts_test() {
	local OPTIND opt
	while getopts ":ab:" opt; do
		case $opt in
		a) echo "flag a" ;;
		b) echo "b=$OPTARG" ;;
		\?) echo "unknown -$OPTARG" ;;
		esac
	done
	shift $((OPTIND - 1))
	echo "rest=$*"
}
getopts_test -a -x -b val file
eval 'evald=$((6 * 7))'
echo "eval: $evald"
alias hi='echo alias expanded'
shopt -s expand_aliases
eval 'hi'
command -v printf
command -V cd | head -n 1
hash -r
echo "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}" | tr -c '0-9.\n' x >/dev/null && echo "version readable"
until false; do echo "until once"; break; done
x=5
while :; do ((x--)); ((x < 2)) && break; done
echo "x=$x"
echo "exit code of last cmd in if: $(if false; then :; fi; echo $?)"
exec 2>&1
echo "stderr now goes to stdout" >&2

section done
exit 0

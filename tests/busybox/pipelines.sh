# pipelines.sh [N] - N rounds (default 300) of short busybox pipelines whose
# processes fork, exec, read, write and exit in quick succession; prints
# "done bad=K" (K rounds whose output was wrong). On a node with one CPU
# under TCG, where address spaces switch inside the CPU's own page-table
# root (kernel/uswitch.go), a translation left behind by one process and
# read by the next shows up here as wrong output or a crash.
n=${1:-300}
bad=0
i=0
while [ $i -lt "$n" ]; do
  r=$(printf 'l1\r\n' | dos2unix | od -c | head -n 1)
  [ "$r" = "0000000   l   1  \n" ] || { bad=$((bad+1)); echo "bad $i: [$r]"; }
  s=$(ls -ld / | cut -c1-10)
  [ "$s" = "drwxr-xr-x" ] || { bad=$((bad+1)); echo "bad ls $i: [$s]"; }
  i=$((i+1))
done
echo "done bad=$bad"

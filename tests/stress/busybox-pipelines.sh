bad=0
i=0
while [ $i -lt 300 ]; do
  r=$(printf 'l1\r\n' | dos2unix | od -c | head -n 1)
  [ "$r" = "0000000   l   1  \n" ] || { bad=$((bad+1)); echo "bad $i: [$r]"; }
  s=$(ls -ld / | cut -c1-10)
  [ "$s" = "drwxr-xr-x" ] || { bad=$((bad+1)); echo "bad ls $i: [$s]"; }
  i=$((i+1))
done
echo "done bad=$bad"

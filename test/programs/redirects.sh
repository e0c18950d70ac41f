#!/bin/bash
# Redirections a job script makes itself, all at once: a pipeline into a
# file then an append, >> log, exec > file around a saved stdout, 2>&1 into
# a file, < input. Usage: redirects.sh DIR N (DIR holds input and log).
cd "$1" || exit 1
N=$2
slow() { for i in $(seq 1 "$N"); do echo "$i"; sleep 0.02; done; }
(slow | awk '{print NR": "$0}' > pipe_result; echo done >> pipe_result) &
(for i in $(seq 1 "$N"); do echo "line $i"; sleep 0.02; done >> log) &
(exec 3>&1 > exec_file; for i in $(seq 1 "$N"); do echo "x $i"; sleep 0.02; done; exec 1>&3 3>&-; echo "back on stdout") &
(for i in $(seq 1 "$N"); do echo "o $i"; echo "e $i" >&2; sleep 0.02; done > both 2>&1) &
(while read -r l; do echo "got $l"; sleep 0.02; done < input > read_out) &
echo started
wait
echo "all done"

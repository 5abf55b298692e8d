#!/usr/bin/env bash
# Take down what up.sh started: cancel every job, wait for them to go, stop the daemons by their pid files,
# kill whatever job processes survive (slurmstepd and the processes of jobs of this cluster), remove the
# namespaces and the bridge. Exits 0 even if nothing was up. Prints the time taken.
set -u
t0=$(date +%s.%N)
if [ -s /run/slurm/slurmctld.pid ] && kill -0 "$(cat /run/slurm/slurmctld.pid)" 2>/dev/null \
    && timeout 5 squeue -h >/dev/null 2>&1; then
  squeue -h -o %A | xargs -r scancel 2>/dev/null
  for i in $(seq 100); do [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
fi
pids=""
for f in /run/slurm/slurmd*.pid /run/slurm/slurmctld.pid /run/munge/munged.pid; do
  [ -s "$f" ] && pids="$pids $(cat "$f")"
done
[ -n "$pids" ] && kill $pids 2>/dev/null
for i in $(seq 100); do
  alive=0; for p in $pids; do [ -d /proc/$p ] && alive=1; done
  [ $alive = 0 ] && break; sleep 0.1
done
[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
# Leftovers: slurmstepd processes (they outlive slurmd) and every process that runs in a job of this
# cluster (its environment says SLURM_CLUSTER_NAME=procpool-ci), e.g. on a node that was cut off.
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    [ "$p/exe" -ef /usr/sbin/slurmstepd ] 2>/dev/null && echo "${p#/proc/}"
  done
  grep -lsxz 'SLURM_CLUSTER_NAME=procpool-ci' /proc/[0-9]*/environ | sed 's|^/proc/\([0-9]*\)/environ$|\1|'
}
left=$(leftovers)
if [ -n "$left" ]; then
  echo "down.sh: killing leftover job processes:" $left
  kill -KILL $left 2>/dev/null
  for i in $(seq 50); do [ -z "$(leftovers)" ] && break; sleep 0.1; done
fi
for i in 1 2; do ip netns del ppn$i 2>/dev/null; done
ip link del ppbr0 2>/dev/null
rm -f /run/slurm/*.pid
echo "slurm test cluster down in $(echo "$(date +%s.%N) - $t0" | bc) s"
true

#!/usr/bin/env bash
# node.sh down|up n1|n2: cut a node of partition "net" off the network (its veth down: slurmctld and the
# pool no longer reach it, its processes keep running) or reconnect it. `up` waits (up to 90 s) until
# slurmctld sees the node answer again, so that it kills the jobs it had ended meanwhile (NODE_FAIL).
set -euo pipefail
usage() { echo "usage: $0 down|up n1|n2" >&2; exit 2; }
[ $# = 2 ] || usage
case "$2" in n1|n2) i=${2#n} ;; *) usage ;; esac
case "$1" in
  down) ip link set "veth-ppn$i" down ;;
  up)
    ip link set "veth-ppn$i" up
    for k in $(seq 450); do
      state=$(timeout 5 sinfo -N -h -n "$2" -o '%T' 2>/dev/null | head -1)
      case "$state" in idle|mixed|allocated|completing) exit 0 ;; esac
      sleep 0.2
    done
    echo "node.sh: $2 not back after 90 s (state '$state')" >&2; exit 1 ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# Bring up the ONE Slurm test cluster every Slurm test uses (see slurm.conf.in): munged and slurmctld in the
# root namespace, slurmd for node `hostname -s` on loopback (partition "local", default), slurmd for n1/n2
# in network namespaces ppn1/ppn2 on bridge ppbr0 (partition "net"). Run as root; needs slurmctld slurmd
# slurm-client munge iproute2 bc. Idempotent: if the cluster is already up and healthy, says so and exits 0;
# if it is half up (or runs another configuration), takes it down first. Waits until sinfo shows all three
# nodes idle and prints the time taken. Undo with down.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) - $t0" | bc; }
[ "$(id -u)" = 0 ] || { echo "up.sh: must run as root" >&2; exit 1; }
for tool in slurmctld slurmd sinfo munged ip nsenter unshare bc; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "up.sh: '$tool' not installed" >&2; exit 1; }
done
ctld=$(hostname -s)
conf=$(sed "s/@CTLD@/$ctld/g" "$here/slurm.conf.in")
nodes="$ctld n1 n2"

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# Node states (sinfo -N), one "name state" a line. A trailing * means "not responding".
node_states() { timeout 5 sinfo -N -h -o '%N %T' 2>/dev/null | sort -u; }
all_nodes_in() { # all_nodes_in REGEX: every node's state matches REGEX
  local states; states=$(node_states) || return 1
  for n in $nodes; do echo "$states" | grep -Eqx "$n ($1)" || return 1; done
}
settings() { grep -v -e '^#' -e '^$' || true; } # a configuration without its comments
healthy() {
  [ "$(settings < /etc/slurm/slurm.conf 2>/dev/null)" = "$(echo "$conf" | settings)" ] || return 1
  pid_alive /run/munge/munged.pid && pid_alive /run/slurm/slurmctld.pid || return 1
  for n in $nodes; do pid_alive "/run/slurm/slurmd-$n.pid" || return 1; done
  all_nodes_in 'idle|mixed|allocated|completing'
}

if healthy; then
  echo "slurm test cluster already up and healthy ($(elapsed) s):"
  sinfo
  exit 0
fi
if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || pgrep -x munged >/dev/null \
    || ip link show ppbr0 >/dev/null 2>&1 || ip netns list | grep -q '^ppn'; then
  echo "slurm test cluster partly up or configured differently: taking it down first"
  "$here/down.sh"
fi

# Network: bridge 10.77.0.1 in the root namespace, one namespace per node with a veth into the bridge.
ip link add ppbr0 type bridge
ip addr add 10.77.0.1/24 dev ppbr0
ip link set ppbr0 up
for i in 1 2; do
  ip netns add ppn$i
  ip link add veth-ppn$i type veth peer name eth0 netns ppn$i
  ip link set veth-ppn$i master ppbr0 up
  ip -n ppn$i addr add 10.77.0.1$i/24 dev eth0
  ip -n ppn$i link set eth0 up
  ip -n ppn$i link set lo up
done

mkdir -p /etc/slurm
echo "$conf" > /etc/slurm/slurm.conf
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
fi
install -d -o slurm -g slurm /var/spool/slurmctld /run/slurm /var/log/slurm
for n in $nodes; do install -d "/var/spool/slurmd/$n"; done
runuser -u munge -- /usr/sbin/munged
for i in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null
/usr/sbin/slurmctld -c   # clean state: no jobs or nodes from an earlier run
/usr/sbin/slurmd -N "$ctld"
for i in 1 2; do
  # nsenter, not `ip netns exec`: the latter remounts /sys, and slurmd then finds no /sys/fs/cgroup.
  # unshare --uts: the node has its own hostname, as a real node has.
  nsenter --net=/run/netns/ppn$i unshare --uts bash -c "hostname n$i; exec /usr/sbin/slurmd -N n$i"
done
for i in $(seq 150); do all_nodes_in idle && break; sleep 0.2; done
if ! all_nodes_in idle; then
  echo "up.sh: not all of '$nodes' idle after 30 s; sinfo -N:" >&2
  sinfo -N >&2 || true
  tail -n 20 /var/log/slurm/slurmctld.log >&2 || true
  exit 1
fi
sinfo
echo "slurm test cluster up in $(elapsed) s"

#!/usr/bin/env bash
# A single-node SLURM cluster on this machine (slurmctld + slurmd on localhost, CPU only), for twoway's
# SLURM test: Debian's slurm-wlm and munge, installed with apt-get when absent (as root; CI runs as root).
#
#   tools/slurm_local.sh start DIR   # writes DIR/slurm.conf, starts munged, slurmctld, slurmd; waits for the node
#   tools/slurm_local.sh stop DIR    # stops them
#
# Clients find the cluster through SLURM_CONF=DIR/slurm.conf (the script prints it). SLURM_PORT (default
# 6917) and SLURM_PORT + 1 are its ports. Nothing under /etc is changed but munge's key, which its package
# creates.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"

stop() {
  for p in slurmd slurmctld munged; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  # The default munge socket link, when it points at this cluster's munged.
  case "$(readlink /run/munge/munge.socket.2 2>/dev/null)" in "$dir"/*) rm -f /run/munge/munge.socket.2 ;; esac
  sleep 1
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "$0: unknown command $cmd" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "slurm-wlm and munge are missing: install them (apt-get install slurm-wlm munge) as root" >&2; exit 1; }
  echo "installing slurm-wlm and munge (apt-get)" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
[ -f /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; chmod 400 /etc/munge/munge.key; }

host=$(hostname -s)
port=${SLURM_PORT:-6917}
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
cat > "$conf" <<CONF
ClusterName=twoway
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=10
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

stop
munged --force --socket="$dir/munge/munge.socket" --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
  --seed-file="$dir/munge/seed" 2>/dev/null || munged --force --socket="$dir/munge/munge.socket" --pid-file="$dir/munged.pid"
export SLURM_CONF="$conf"
# munge clients (and SLURM's auth plugin) look for the default socket; point it at ours.
mkdir -p /run/munge
ln -sf "$dir/munge/munge.socket" /run/munge/munge.socket.2
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 1 60); do
  if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    echo "SLURM_CONF=$conf"
    exit 0
  fi
  sleep 1
done
echo "the SLURM node did not come up; logs in $dir" >&2
sinfo >&2 || true
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1

#!/usr/bin/env bash
# A single-node Slurm on this machine, from Debian's packages, for acdc's Slurm tests and for
# trying `acdc run --executor slurm` without a cluster:
#
#   tools/slurm-local.sh start    # installs slurm-wlm + munge if missing, starts munged,
#                                 # slurmctld and slurmd; prints `export SLURM_CONF=…`
#   tools/slurm-local.sh status   # sinfo
#   tools/slurm-local.sh stop     # stops the three daemons
#
# Everything lives under $ACDC_SLURM_DIR (default /tmp/acdc-slurm): slurm.conf, state, spool,
# logs and pid files. The node is this host with all its CPUs, one partition `debug`;
# proctrack/linuxproc and task/none (no cgroups, so it runs in containers); jobs may be
# requeued. Clients find it through SLURM_CONF, which `start` prints and writes to
# $ACDC_SLURM_DIR/env. Idempotent: `start` on a running one only checks it.
set -euo pipefail

DIR=${ACDC_SLURM_DIR:-/tmp/acdc-slurm}
CONF=$DIR/slurm.conf
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

die() { echo "slurm-local: $*" >&2; exit 1; }

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  echo "slurm-local: installing slurm-wlm and munge from Debian's packages" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

running() { # pid file
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

start_munge() {
  if pgrep -x munged >/dev/null; then return; fi
  $sudo mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    $sudo dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  $sudo chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge 2>/dev/null || true
  $sudo chmod 700 /etc/munge
  $sudo chmod 400 /etc/munge/munge.key
  if id munge >/dev/null 2>&1; then
    $sudo -u munge munged 2>/dev/null || $sudo runuser -u munge -- munged
  else
    $sudo munged --force
  fi
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && return; sleep 0.1; done
  die "munged did not come up"
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
  mkdir -p "$DIR"/{state,spool,log,run}
  cat >"$CONF" <<EOF
# Written by tools/slurm-local.sh: one node, this host.
ClusterName=acdc-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=${ACDC_SLURMCTLD_PORT:-6817}
SlurmdPort=${ACDC_SLURMD_PORT:-6818}
ReturnToService=2
MaxArraySize=1001
JobRequeue=1
KillWait=5
MinJobAge=300
InactiveLimit=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  echo "export SLURM_CONF=$CONF" >"$DIR/env"
}

case "${1:-}" in
  start)
    install
    start_munge
    export SLURM_CONF=$CONF
    if running "$DIR/run/slurmctld.pid" && running "$DIR/run/slurmd.pid"; then
      echo "slurm-local: already running ($CONF)" >&2
    else
      write_conf
      running "$DIR/run/slurmctld.pid" || $sudo slurmctld -f "$CONF"
      running "$DIR/run/slurmd.pid" || $sudo slurmd -f "$CONF"
    fi
    for _ in $(seq 100); do
      state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
      case "$state" in idle|mix|alloc) echo "export SLURM_CONF=$CONF"; exit 0 ;; esac
      sleep 0.2
    done
    echo "slurm-local: the node did not become idle (state: ${state:-none}); logs in $DIR/log" >&2
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    exit 1
    ;;
  status)
    SLURM_CONF=$CONF sinfo
    ;;
  stop)
    for d in slurmd slurmctld; do
      if running "$DIR/run/$d.pid"; then $sudo kill "$(cat "$DIR/run/$d.pid")"; fi
    done
    ;;
  *)
    die "usage: $0 start|status|stop"
    ;;
esac

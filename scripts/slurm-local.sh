#!/usr/bin/env bash
# A single-node Slurm on this Debian machine, to run scripts/sweep-slurm.sh for real
# (docs/research/cluster.md, where each step is explained).
#
#   scripts/slurm-local.sh start    install slurm-wlm if needed, start munged, write
#                                   /etc/slurm/slurm.conf for this host, start slurmctld + slurmd
#   scripts/slurm-local.sh stop     stop them again (by their pid files)
#
# Needs root. Without systemd as pid 1 (containers, this VM) the daemons are started
# directly; with it, through systemctl.
set -euo pipefail

systemd=false
[[ -d /run/systemd/system ]] && systemd=true

start() {
    if ! command -v slurmctld >/dev/null; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm
    fi
    # munge: the package made /etc/munge/munge.key; the daemon needs its socket folder.
    mkdir -p /run/munge && chown munge:munge /run/munge
    if $systemd; then
        systemctl start munge
    elif ! { [[ -f /run/munge/munged.pid ]] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; }; then
        su -s /bin/sh munge -c /usr/sbin/munged
    fi
    munge -n | unmunge >/dev/null

    local host cpus memory
    host="$(hostname -s)"
    cpus="$(nproc)"
    # 90% of the memory, in MiB, so slurmd's own check of RealMemory passes.
    memory=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
    mkdir -p /var/lib/slurm/slurmd /var/lib/slurm/slurmctld /var/log/slurm
    chown -R slurm:slurm /var/lib/slurm /var/log/slurm
    cat >/etc/slurm/slurm.conf <<EOF
# Written by scripts/slurm-local.sh: one node that is controller and compute node at once.
ClusterName=cairn-local
SlurmctldHost=$host
SlurmUser=slurm
AuthType=auth/munge
# No cgroup hierarchy is delegated without systemd: track processes by parent pid, bind
# no tasks, gather no accounting, no MPI.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    if $systemd; then
        systemctl start slurmctld slurmd
    else
        slurmctld
        slurmd
    fi
    for _ in $(seq 1 30); do
        if sinfo -h -o %T 2>/dev/null | grep -q idle; then
            sinfo
            return 0
        fi
        sleep 1
    done
    echo "error: the node did not become idle; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
    sinfo >&2 || true
    return 1
}

stop() {
    if $systemd; then
        systemctl stop slurmd slurmctld munge
        return 0
    fi
    for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            kill "$(cat "$pidfile")"
        fi
    done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 64
    ;;
esac

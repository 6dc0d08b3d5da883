#!/usr/bin/env bash
# Network benchmark, loopback, one run: a cairn coordinator, five holders and an owner
# node back up then restore a 256 MiB random file 3-of-5 (the restore from the phrase on a
# new data directory, the owner's node stopped); cairn's own local-target speed on the
# same file (five folders, 3-of-5); and Tahoe-LAFS 1.20 (from PyPI into a virtualenv) on
# its own local grid (an introducer and five storage nodes, needed=3, happy=5, total=5):
# `tahoe put` then `tahoe get`. Prints MB/s, the ratios, and a holder's idle RSS and its
# peak RSS while receiving (VmRSS/VmHWM from /proc). Every restored file is compared.
#
#   bash Benchmarks/network.sh          CAIRN=path/to/cairn skips the build;
#                                       SIZE_MIB=256, KEEP_BENCH=1 keeps the temp folder,
#                                       TAHOE_VENV=DIR (default ~/.cache/cairn-bench-tahoe),
#                                       SKIP_TAHOE=1 measures cairn alone
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CAIRN:-}" ]; then
    bash scripts/install-deps.sh libsodium-dev liblmdb-dev libisal-dev libzstd-dev pkg-config time
    swift build -c release >/dev/null
    CAIRN="$(swift build -c release --show-bin-path)/cairn"
fi
SIZE_MIB="${SIZE_MIB:-256}"
B="$(mktemp -d /tmp/cairn-netbench.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "${KEEP_BENCH:-}" ]; then echo "benchmark files and logs kept in $B"; else rm -rf "$B"; fi
}
trap cleanup EXIT
# daemon NAME CMD...: starts CMD in the background, logs in $B/NAME.{out,log}, PID in NAME.pid.
daemon() {
    local name="$1"; shift
    "$@" > "$B/$name.out" 2> "$B/$name.log" < /dev/null &
    PIDS+=($!)
    echo $! > "$B/$name.pid"
}
wait_for() { # seconds, description, command...
    local limit="$1" what="$2"; shift 2
    for _ in $(seq 1 $((limit * 4))); do "$@" && return 0; sleep 0.25; done
    echo "gave up waiting for $what after ${limit}s (run with KEEP_BENCH=1 to keep the logs)" >&2
    exit 1
}
declare -A SECS
# Every timed step's input is read first: this VM pages out file pages unused for about a
# minute, and a durable store commit drops what it wrote from the cache, so otherwise a step
# would read from disk or memory depending on what ran before it (backup.sh does the same).
warm() { find "$@" -type f -exec cat {} + > /dev/null 2>&1 || true; }
timed() { # NAME CMD...: wall seconds of CMD after a sync, its output in $B/out.NAME
    local name="$1"; shift
    sync
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > "$B/out.$name" 2>&1 || { cat "$B/out.$name"; exit 1; }
    t1=$(date +%s.%N)
    SECS[$name]=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
}
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { python3 -c "print(f'{$1 / 1024:.0f}')"; }

FILE="$B/data/random.bin"
mkdir -p "$B/data"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$FILE"
SIZE=$(stat -c %s "$FILE")

echo "== cairn on the network: a coordinator, five holders and an owner on 127.0.0.1"
# Heartbeats, challenges and repairs every 2 s (as in `make run`) instead of hours, so the
# nodes learn each other and place the packs at once.
INTERVALS=(--test-intervals 2)
daemon coordinator "$CAIRN" coordinator run --listen 127.0.0.1:0 --data-dir "$B/coordinator" "${INTERVALS[@]}"
wait_for 30 "the coordinator" grep -q "listening on" "$B/coordinator.out"
AT=$(grep -o '127\.0\.0\.1:[0-9]*' "$B/coordinator.out" | head -1)
OFFER=$(( SIZE_MIB * 4 ))M
for i in 1 2 3 4 5; do
    "$CAIRN" init --data-dir "$B/holder$i" --phrase-out "$B/holder$i.phrase" > /dev/null
    daemon "holder$i" "$CAIRN" node run --data-dir "$B/holder$i" --coordinator "$AT" --offer "$OFFER" --listen 127.0.0.1:0 "${INTERVALS[@]}"
done
"$CAIRN" init --data-dir "$B/owner" --phrase-out "$B/owner.phrase" > /dev/null
daemon owner "$CAIRN" node run --data-dir "$B/owner" --coordinator "$AT" --offer "$OFFER" --listen 127.0.0.1:0 "${INTERVALS[@]}"
joined() { [ "$("$CAIRN" coordinator members --data-dir "$B/coordinator" --json 2>/dev/null | grep -o '"joined" *: *true' | wc -l)" -ge 6 ]; }
wait_for 60 "six members" joined
sleep 5   # let joins, contracts and first heartbeats settle before measuring idle memory
HOLDER_PIDS=()
for i in 1 2 3 4 5; do HOLDER_PIDS+=("$(cat "$B/holder$i.pid")"); done
IDLE_MAX=0
for p in "${HOLDER_PIDS[@]}"; do r=$(kib "$p" VmRSS); [ "$r" -gt "$IDLE_MAX" ] && IDLE_MAX=$r; done

# While the backup runs, sample every holder's VmRSS (VmHWM afterwards gives the peak too).
( while :; do for p in "${HOLDER_PIDS[@]}"; do kib "$p" VmRSS; done; sleep 0.2; done ) > "$B/rss-samples" 2>/dev/null &
SAMPLER=$!
PIDS+=($SAMPLER)
warm "$FILE"
timed net-backup "$CAIRN" backup "$FILE" --data-dir "$B/owner" --k 3 --n 5 --wait 600
kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true
PEAK_MAX=0; HELD_MAX=0
for p in "${HOLDER_PIDS[@]}"; do
    h=$(kib "$p" VmHWM); [ "$h" -gt "$PEAK_MAX" ] && PEAK_MAX=$h
done
sleep 3
for p in "${HOLDER_PIDS[@]}"; do r=$(kib "$p" VmRSS); [ "$r" -gt "$HELD_MAX" ] && HELD_MAX=$r; done
OWNER_PID=$(cat "$B/owner.pid")
OWNER_HWM=$(kib "$OWNER_PID" VmHWM)
HELD_BYTES=$(du -sb "$B/holder1/node" | cut -f1)
{ kill "$OWNER_PID"; wait "$OWNER_PID"; } 2>/dev/null || true
warm "$B"/holder*/node/held
timed net-restore "$CAIRN" restore latest --to "$B/net-out" --coordinator "$AT" --data-dir "$B/new-machine" --phrase-file "$B/owner.phrase"
cmp "$FILE" "$B/net-out$FILE" && echo "network restore: identical"

echo "== cairn to five local folders, same file"
"$CAIRN" init --data-dir "$B/local" --phrase-out "$B/local.phrase" > /dev/null
T="$B/targets"
warm "$FILE"
timed local-backup "$CAIRN" backup "$FILE" --data-dir "$B/local" --to "$T/1,$T/2,$T/3,$T/4,$T/5" --k 3
warm "$T"
timed local-restore "$CAIRN" restore latest --data-dir "$B/local" --to "$B/local-out"
cmp "$FILE" "$B/local-out$FILE" && echo "local restore: identical"

echo "== Tahoe-LAFS 1.20: an introducer, five storage nodes and a client on 127.0.0.1"
VENV="${TAHOE_VENV:-$HOME/.cache/cairn-bench-tahoe}"
TAHOE_OK=1
if [ -n "${SKIP_TAHOE:-}" ]; then
    TAHOE_OK=0; echo "SKIP_TAHOE is set: cairn's figures only"
elif ! "$VENV/bin/tahoe" --version 2>/dev/null | grep -q '^tahoe-lafs/1\.20'; then
    { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q 'tahoe-lafs==1.20.*'; } > "$B/pip.log" 2>&1 \
        || { TAHOE_OK=0; echo "Tahoe-LAFS 1.20 did not install (pip log: $B/pip.log); cairn's figures only"; tail -3 "$B/pip.log"; }
fi
if [ "$TAHOE_OK" = 1 ]; then
    TAHOE="$VENV/bin/tahoe"
    read -r -a PORTS <<< "$(python3 - <<'PY'
import socket
ss = [socket.socket() for _ in range(7)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
PY
)"
    G="$B/tahoe"; mkdir -p "$G"
    "$TAHOE" create-introducer --port "tcp:${PORTS[0]}:interface=127.0.0.1" --location "tcp:127.0.0.1:${PORTS[0]}" "$G/introducer" > /dev/null
    daemon tahoe-introducer "$TAHOE" run --allow-stdin-close "$G/introducer"
    wait_for 60 "the Tahoe introducer" test -s "$G/introducer/private/introducer.furl"
    FURL=$(cat "$G/introducer/private/introducer.furl")
    SHARES=(--shares-needed 3 --shares-happy 5 --shares-total 5)
    for i in 1 2 3 4 5; do
        p=${PORTS[$i]}
        "$TAHOE" create-node --nickname "storage$i" --introducer "$FURL" --port "tcp:$p:interface=127.0.0.1" \
            --location "tcp:127.0.0.1:$p" --webport none "${SHARES[@]}" "$G/storage$i" > /dev/null
        daemon "tahoe-storage$i" "$TAHOE" run --allow-stdin-close "$G/storage$i"
    done
    WEB=${PORTS[6]}
    "$TAHOE" create-node --nickname client --introducer "$FURL" --no-storage --listen none \
        --webport "tcp:$WEB:interface=127.0.0.1" "${SHARES[@]}" "$G/client" > /dev/null
    daemon tahoe-client "$TAHOE" run --allow-stdin-close "$G/client"
    connected() {
        curl -s "http://127.0.0.1:$WEB/?t=json" 2>/dev/null | python3 -c '
import json, sys
try: servers = json.load(sys.stdin).get("servers", [])
except ValueError: sys.exit(1)   # the web server is not up yet
sys.exit(0 if sum(1 for s in servers if str(s.get("connection_status", "")).lower().startswith("connected")) >= 5 else 1)'
    }
    wait_for 120 "the Tahoe client to see five storage servers" connected
    warm "$FILE"
    timed tahoe-put "$TAHOE" -d "$G/client" put "$FILE"
    CAP=$(grep -o 'URI:[^[:space:]]*' "$B/out.tahoe-put" | tail -1)
    warm "$G"/storage*/storage
    timed tahoe-get "$TAHOE" -d "$G/client" get "$CAP" "$B/tahoe-out.bin"
    cmp "$FILE" "$B/tahoe-out.bin" && echo "tahoe get: identical"
fi

mbps() { python3 -c "print(f'{$SIZE / max($1, 0.001) / 1e6:.1f}')"; }
ratio() { python3 -c "print(f'{$2 / max($1, 0.001):.2f}')"; }   # throughput of the first over the second
echo
echo "file: $SIZE_MIB MiB random, 3-of-5, loopback, $(nproc) cores, $(date -u +%F)"
printf '%-9s %12s %12s %12s %14s %16s\n' step "cairn net" "cairn local" "Tahoe" "net / Tahoe" "net / local"
for step in backup restore; do
    n=${SECS[net-$step]}; l=${SECS[local-$step]}
    [ "$step" = backup ] && t=${SECS[tahoe-put]:-} || t=${SECS[tahoe-get]:-}
    if [ -n "$t" ]; then tm="$(mbps "$t") MB/s"; tr="$(ratio "$n" "$t")"; else tm=—; tr=—; fi
    printf '%-9s %7s MB/s %7s MB/s %12s %14s %16s\n' "$step" "$(mbps "$n")" "$(mbps "$l")" "$tm" "$tr" "$(ratio "$n" "$l")"
done
echo "(seconds: net ${SECS[net-backup]} / ${SECS[net-restore]}, local ${SECS[local-backup]} / ${SECS[local-restore]}${SECS[tahoe-put]:+, Tahoe ${SECS[tahoe-put]} / ${SECS[tahoe-get]}})"
SAMPLED=$(sort -n "$B/rss-samples" | tail -1)
echo "holder RSS: idle $(mib "$IDLE_MAX") MiB, highest sampled while receiving $(mib "${SAMPLED:-0}") MiB," \
     "peak (VmHWM) $(mib "$PEAK_MAX") MiB, after the backup $(mib "$HELD_MAX") MiB (max of five holders;" \
     "each holds $((HELD_BYTES / 1024 / 1024)) MiB on disk)"
echo "owner node peak RSS (VmHWM): $(mib "$OWNER_HWM") MiB"

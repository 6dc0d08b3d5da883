#!/usr/bin/env bash
# The demonstration behind `make run`: a coordinator and eight nodes on 127.0.0.1 (one
# owner, seven holders: five get a shard of each pack, two are spares for repairs). The
# owner backs up a sample folder to the network 3-of-5; two holders are killed and the
# owner's machine is lost; the folder is restored from the 24-word phrase alone into a
# fresh data directory and compared; the owner's node comes back and repairs the killed
# holders' shards onto the spares.
set -euo pipefail
CAIRN="$1"
WORK="${CAIRN_DEMO_DIR:-$(mktemp -d /tmp/cairn-net-demo.XXXXXX)}"
mkdir -p "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo; echo "demo files and logs left in $WORK"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$(date +%s)
# Starts a daemon with its logs in $WORK/NAME.log; its PID goes to PIDS and NAME.pid.
daemon() {
    local name="$1"; shift
    "$CAIRN" "$@" > "$WORK/$name.out" 2> "$WORK/$name.log" &
    PIDS+=($!)
    echo $! > "$WORK/$name.pid"
}
wait_for() { # seconds, description, command...
    local limit="$1" what="$2"; shift 2
    for _ in $(seq 1 $((limit * 4))); do "$@" && return 0; sleep 0.25; done
    echo "gave up waiting for $what after ${limit}s (logs in $WORK)" >&2
    exit 1
}
INTERVALS=(--test-intervals 2)   # challenges and repairs every 2 s instead of hours

say "1. a coordinator and eight nodes on 127.0.0.1"
daemon coordinator coordinator run --listen 127.0.0.1:0 --data-dir "$WORK/coordinator" "${INTERVALS[@]}"
wait_for 30 "the coordinator" grep -q "listening on" "$WORK/coordinator.out"
AT=$(grep -o '127\.0\.0\.1:[0-9]*' "$WORK/coordinator.out" | head -1)
echo "coordinator listening on $AT"
for i in 1 2 3 4 5 6 7; do
    "$CAIRN" init --data-dir "$WORK/holder$i" --phrase-out "$WORK/holder$i.phrase" > /dev/null
    # Holders 1 and 2 open no port: everyone reaches them through the coordinator's relay.
    listen=(--listen 127.0.0.1:0); [ "$i" -le 2 ] && listen=()
    daemon "holder$i" node run --data-dir "$WORK/holder$i" --coordinator "$AT" --offer 256M "${listen[@]}" "${INTERVALS[@]}"
done
"$CAIRN" init --data-dir "$WORK/owner" --phrase-out "$WORK/owner.phrase"
daemon owner node run --data-dir "$WORK/owner" --coordinator "$AT" --offer 256M --listen 127.0.0.1:0 "${INTERVALS[@]}"
joined() { [ "$("$CAIRN" coordinator members --data-dir "$WORK/coordinator" --json 2>/dev/null | grep -o '"joined" *: *true' | wc -l)" -ge 8 ]; }
wait_for 60 "eight members" joined
"$CAIRN" coordinator members --data-dir "$WORK/coordinator"

say "2. a sample folder to protect"
SAMPLE="$WORK/sample"
mkdir -p "$SAMPLE/docs" "$SAMPLE/photos" "$SAMPLE/bin"
head -c $((12 * 1024 * 1024)) /dev/urandom > "$SAMPLE/photos/holiday.raw"
for i in $(seq 1 100); do echo "note $i: $(date -u) $RANDOM" > "$SAMPLE/docs/note-$i.txt"; done
seq 1 100000 > "$SAMPLE/docs/numbers.txt"
printf '#!/bin/sh\necho hello\n' > "$SAMPLE/bin/hello.sh" && chmod 755 "$SAMPLE/bin/hello.sh"
ln -s ../docs/numbers.txt "$SAMPLE/bin/numbers-link"
touch -d '2020-01-02 03:04:05' "$SAMPLE/docs/note-2.txt"
du -sh "$SAMPLE"

say "3. cairn backup to the network: the owner's node places every pack 3-of-5 on five holders"
"$CAIRN" backup "$SAMPLE" --data-dir "$WORK/owner" --k 3 --n 5 --wait 90
"$CAIRN" status --data-dir "$WORK/owner"

say "4. disaster: two holders killed, and the owner's machine lost"
holders_of_volume=()
for i in 1 2 3 4 5 6 7; do
    if [ -n "$(ls "$WORK/holder$i/node/held/runs" 2>/dev/null)" ]; then holders_of_volume+=("$i"); fi
done
echo "holders with a shard: ${holders_of_volume[*]}"
for i in "${holders_of_volume[@]:0:2}"; do
    pid=$(cat "$WORK/holder$i.pid")
    { kill -9 "$pid"; wait "$pid"; } 2>/dev/null || true
    echo "killed holder$i (kill -9)"
done
pid=$(cat "$WORK/owner.pid")
{ kill "$pid"; wait "$pid"; } 2>/dev/null || true
echo "stopped the owner's node; its data directory is out of reach from here on"

say "5. restore anywhere: a new data directory, the phrase, the coordinator's address"
OUT="$WORK/restored"
"$CAIRN" restore latest --to "$OUT" --coordinator "$AT" --data-dir "$WORK/new-machine" --phrase-file "$WORK/owner.phrase"

say "6. compare with the original"
RESTORED="$OUT${SAMPLE}"
diff -r --no-dereference "$SAMPLE" "$RESTORED"
( cd "$SAMPLE" && find . -printf '%p %y %m %T@ %l\n' | sort ) > "$WORK/meta-orig.txt"
( cd "$RESTORED" && find . -printf '%p %y %m %T@ %l\n' | sort ) > "$WORK/meta-restored.txt"
diff "$WORK/meta-orig.txt" "$WORK/meta-restored.txt"
echo "identical: contents, permissions, modification times, folders and symlinks"

say "7. the owner's node comes back and repairs the killed holders' shards onto the spares"
daemon owner-again node run --data-dir "$WORK/owner" --coordinator "$AT" --offer 256M --listen 127.0.0.1:0 "${INTERVALS[@]}"
# The node still believes its holders are there until they miss challenges; then it
# fetches k slots from the others, rebuilds the two lost ones and uploads them to spares.
repaired() { grep -q "repairCompleted" "$WORK/owner-again.log"; }
wait_for 150 "the repair" repaired
grep -h "repairStarted\|repairCompleted" "$WORK/owner-again.log" | sed 's/^.*notice cairn.node: /  /' | head -6
healthy() { "$CAIRN" status --data-dir "$WORK/owner" --json 2>/dev/null | grep -q '"healthy" *: *5'; }
wait_for 60 "five healthy shards" healthy
"$CAIRN" status --data-dir "$WORK/owner"
now_holding=()
for i in 1 2 3 4 5 6 7; do
    if [ -n "$(ls "$WORK/holder$i/node/held/runs" 2>/dev/null)" ]; then now_holding+=("$i"); fi
done
echo "holders with a shard now (killed ones keep their old files): ${now_holding[*]}"

echo
echo "demonstration finished in $(( $(date +%s) - started )) s"

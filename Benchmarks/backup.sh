#!/usr/bin/env bash
# Backup benchmark: cairn (3-of-5 over five local targets) against restic 0.14 on the
# reference dataset, in the same run: 8 x 64 MiB random files plus byte-identical
# renamed copies (1 GiB, half duplicate). Then a second backup after 1% of one file
# changes, then a restore. Prints MB/s, the cairn/restic ratio and peak RSS; then the same
# two tools on 20,000 small files (backup and restore, files per second); then the
# per-stage throughput of cairn's pipeline next to the reference tools' raw speeds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libsodium-dev liblmdb-dev libisal-dev libzstd-dev pkg-config restic time zstd
if [ -z "${CAIRN:-}" ]; then   # CAIRN=path/to/cairn measures that binary instead of a fresh build
    swift build -c release >/dev/null
    CAIRN="$(swift build -c release --show-bin-path)/cairn"
fi
B="${BENCH_DIR:-/tmp/cairn-bench}"
rm -rf "$B" && mkdir -p "$B/data"
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$B/restic-cache"

echo "generating the dataset in $B/data ..."
for i in $(seq 1 8); do
    head -c $((64 * 1024 * 1024)) /dev/urandom > "$B/data/file$i.bin"
    cp "$B/data/file$i.bin" "$B/data/copy-of-file$i.dat"
done
SIZE=$(du -sb "$B/data" | cut -f1)
sync

# warm PATH...: reads every file below PATH into the page cache. This VM pages out file
# pages unused for about a minute (DAMON, `pageout` of cold unmapped pages), so without it
# a step's input is on disk or in memory depending on how long ago the step before it
# read it, which favoured whichever tool ran second. Every timed step starts from its
# input in memory.
warm() { find "$@" -type f -exec cat {} + > /dev/null 2>&1 || true; }

# run NAME CMD...: times a command, records seconds and peak RSS (MiB).
declare -A SECS RSS
run() {
    local name="$1"; shift
    # Start every timed step with no dirty pages left by the one before, so neither tool
    # pays for the other's writeback.
    sync
    /usr/bin/time -f "%e %M" -o "$B/time.$name" "$@" > "$B/out.$name" 2>&1 || { cat "$B/out.$name"; exit 1; }
    read -r s kb < "$B/time.$name"
    SECS[$name]=$s
    RSS[$name]=$((kb / 1024))
}

# Every step runs ROUNDS times, alternating the tools, each time from scratch; the best
# time counts (this VM makes the first touch of fresh memory expensive, which would
# otherwise go to whichever tool runs first).
ROUNDS="${ROUNDS:-2}"
best() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }
declare -A ALL
keep() {  # keep NAME: fold this round's figures into the best so far
    ALL[$1]="${ALL[$1]:-} ${SECS[$1]}"
    BEST[$1]=$(best ${ALL[$1]})
    [ "${RSS[$1]}" -gt "${PEAK[$1]:-0}" ] && PEAK[$1]=${RSS[$1]}
    return 0
}
declare -A BEST PEAK
T="$B/targets"
TARGETS="$T/1,$T/2,$T/3,$T/4,$T/5"
python3 - "$B/data/file3.bin" "$B/file3.orig" <<'PY'
import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])
PY
for round in $(seq 1 "$ROUNDS"); do
    rm -rf "$T" "$B/cairn-data" "$B/phrase.txt" "$B/restic" "$B/restic-cache"
    cp "$B/file3.orig" "$B/data/file3.bin"
    "$CAIRN" init --data-dir "$B/cairn-data" --phrase-out "$B/phrase.txt" > /dev/null
    restic init --repo "$B/restic" > /dev/null
    # The tools take turns going first (odd rounds cairn, even rounds restic): the first
    # touch of memory freed just before costs less than that of memory the host took back.
    cairn_first() { warm "$B/data"; run cairn-first "$CAIRN" backup --data-dir "$B/cairn-data" "$B/data" --to "$TARGETS" --k 3; keep cairn-first; }
    restic_first() { warm "$B/data"; run restic-first restic backup --repo "$B/restic" "$B/data"; keep restic-first; }
    if [ $((round % 2)) = 1 ]; then cairn_first; restic_first; else restic_first; cairn_first; fi

    # 1% of one file changes (in place, same size).
    python3 - "$B/data/file3.bin" <<'PY'
import os, sys
p = sys.argv[1]; size = os.path.getsize(p); n = size // 100
with open(p, "r+b") as f:
    f.seek(size // 2); f.write(os.urandom(n))
PY
    cairn_second() { warm "$B/data"; run cairn-second "$CAIRN" backup --data-dir "$B/cairn-data" "$B/data"; keep cairn-second; }
    restic_second() { warm "$B/data"; run restic-second restic backup --repo "$B/restic" "$B/data"; keep restic-second; }
    if [ $((round % 2)) = 1 ]; then cairn_second; restic_second; else restic_second; cairn_second; fi

    cairn_restore() {
        rm -rf "$B/cairn-out"; warm "$T" "$B/cairn-data"
        run cairn-restore "$CAIRN" restore latest --data-dir "$B/cairn-data" --to "$B/cairn-out"; keep cairn-restore
    }
    restic_restore() {
        rm -rf "$B/restic-out"; warm "$B/restic" "$RESTIC_CACHE_DIR"
        run restic-restore restic restore latest --repo "$B/restic" --target "$B/restic-out"; keep restic-restore
    }
    for again in 1 2; do
        if [ $((round % 2)) = 1 ]; then cairn_restore; restic_restore; else restic_restore; cairn_restore; fi
    done
done
diff -r "$B/data" "$B/cairn-out$B/data" > /dev/null && echo "cairn restore: identical to the dataset"

mbps() { python3 -c "print(f'{$SIZE / max($1, 0.001) / 1e6:8.1f}')"; }
ratio() { python3 -c "print(f'{$2 / max($1, 0.001):5.2f}')"; }
echo
echo "dataset: $((SIZE / 1024 / 1024)) MiB, $(nproc) cores"
printf '%-16s %10s %10s %12s %12s %8s\n' step "cairn MB/s" "restic MB/s" "cairn RSS" "restic RSS" ratio
for step in first second restore; do
    c=${BEST[cairn-$step]}; r=${BEST[restic-$step]}
    printf '%-16s %10s %10s %10s MiB %9s MiB %8s\n' "$step backup" "$(mbps "$c")" "$(mbps "$r")" \
        "${PEAK[cairn-$step]}" "${PEAK[restic-$step]}" "$(ratio "$c" "$r")"
done | sed 's/restore backup/restore/'
echo "(best of $ROUNDS rounds, restores twice a round; ratio = cairn throughput / restic throughput;"
echo " MB/s over the whole dataset size; RSS = the highest peak seen)"

# Many small files: 20,000 files of 100 B to 16 KiB in 100 folders (about 160 MB), where
# the cost per file (open, stat, read, tree entry) matters more than throughput.
S="$B/small"
python3 - "$S/data" <<'PY'
import os, random, sys
random.seed(1)
root = sys.argv[1]
for d in range(100):
    os.makedirs(f"{root}/d{d}", exist_ok=True)
    for f in range(200):
        with open(f"{root}/d{d}/f{f}.txt", "wb") as fh:
            fh.write(os.urandom(random.randint(100, 16000)))
PY
SMALL_SIZE=$(du -sb "$S/data" | cut -f1)
sync
for round in $(seq 1 "$ROUNDS"); do
    rm -rf "$S/targets" "$S/cairn-data" "$S/restic" "$S/restic-cache" "$S/cairn-out" "$S/restic-out"
    "$CAIRN" init --data-dir "$S/cairn-data" --phrase-out "$S/phrase.txt" > /dev/null && rm "$S/phrase.txt"
    restic init --repo "$S/restic" > /dev/null
    small_cairn_first() {
        warm "$S/data"
        run small-cairn-first "$CAIRN" backup --data-dir "$S/cairn-data" "$S/data" \
            --to "$S/targets/1,$S/targets/2,$S/targets/3,$S/targets/4,$S/targets/5" --k 3; keep small-cairn-first
    }
    small_restic_first() { warm "$S/data"; run small-restic-first restic backup --repo "$S/restic" "$S/data"; keep small-restic-first; }
    small_cairn_restore() {
        warm "$S/targets" "$S/cairn-data"
        run small-cairn-restore "$CAIRN" restore latest --data-dir "$S/cairn-data" --to "$S/cairn-out"; keep small-cairn-restore
    }
    small_restic_restore() {
        warm "$S/restic" "$RESTIC_CACHE_DIR"
        run small-restic-restore restic restore latest --repo "$S/restic" --target "$S/restic-out"; keep small-restic-restore
    }
    if [ $((round % 2)) = 1 ]; then small_cairn_first; small_restic_first; else small_restic_first; small_cairn_first; fi
    if [ $((round % 2)) = 1 ]; then small_cairn_restore; small_restic_restore; else small_restic_restore; small_cairn_restore; fi
done
diff -r "$S/data" "$S/cairn-out$S/data" > /dev/null && echo "cairn restore of the small files: identical"
echo
echo "small files: 20,000 files, $((SMALL_SIZE / 1024 / 1024)) MiB"
printf '%-16s %10s %10s %12s %12s %8s\n' step "cairn f/s" "restic f/s" "cairn RSS" "restic RSS" ratio
fps() { python3 -c "print(f'{20000 / max($1, 0.001):8.0f}')"; }
for step in first restore; do
    c=${BEST[small-cairn-$step]}; r=${BEST[small-restic-$step]}
    printf '%-16s %10s %10s %10s MiB %9s MiB %8s\n' "$step backup" "$(fps "$c")" "$(fps "$r")" \
        "${PEAK[small-cairn-$step]}" "${PEAK[small-restic-$step]}" "$(ratio "$c" "$r")"
done | sed 's/restore backup/restore/'
echo "(files per second, best of $ROUNDS rounds)"

echo
echo "cairn pipeline stages (one core, 256 MiB of random data):"
"$CAIRN" debug stages --size 256M
echo
echo "reference tools on the same machine (one core):"
head -c $((256 * 1024 * 1024)) /dev/urandom > "$B/stage.bin"
s=$( { /usr/bin/time -f %e b2sum "$B/stage.bin" > /dev/null; } 2>&1 ); echo "  b2sum (BLAKE2b-512)       $(python3 -c "print(f'{256*1048576/max($s,0.001)/1e6:.0f}')") MB/s"
zstd -b1 -i2 "$B/stage.bin" 2>&1 | tr '\r' '\n' | grep -E 'MB/s.*MB/s' | tail -1 | sed 's/^ *[^:]*: */  zstd -b1 (compress, decompress): /'
openssl speed -seconds 2 -bytes 16384 -evp chacha20-poly1305 2>/dev/null | tail -1 | \
    awk '{ v = $NF; sub(/k$/, "", v); printf "  openssl chacha20-poly1305 (16 KiB blocks) %.0f MB/s\n", v * 1000 / 1e6 }'
echo "  (ISA-L ships no command-line tool in Debian; its figure is cairn's own erasure line)"
[ -n "${KEEP_BENCH:-}" ] || rm -rf "$B"

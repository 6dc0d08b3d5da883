#!/usr/bin/env bash
# The demonstration behind `make run`: a 3-of-5 backup of a sample folder to five local
# targets, two targets destroyed, the data directory deleted, the keys recovered from
# the phrase alone, a restore, and a byte-for-byte comparison with the original.
set -euo pipefail
CAIRN="$1"
WORK="${CAIRN_DEMO_DIR:-$(mktemp -d /tmp/cairn-demo.XXXXXX)}"
mkdir -p "$WORK"
trap 'echo; echo "demo files left in $WORK"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. a sample folder to protect"
SAMPLE="$WORK/sample"
rm -rf "$SAMPLE" && mkdir -p "$SAMPLE/docs/empty" "$SAMPLE/photos" "$SAMPLE/bin"
head -c $((24 * 1024 * 1024)) /dev/urandom > "$SAMPLE/photos/holiday.raw"
cp "$SAMPLE/photos/holiday.raw" "$SAMPLE/photos/holiday-copy.raw"
for i in $(seq 1 200); do echo "note $i: $(date -u) $RANDOM" > "$SAMPLE/docs/note-$i.txt"; done
seq 1 200000 > "$SAMPLE/docs/numbers.txt"
: > "$SAMPLE/docs/empty-file"
printf '#!/bin/sh\necho hello\n' > "$SAMPLE/bin/hello.sh" && chmod 755 "$SAMPLE/bin/hello.sh"
chmod 600 "$SAMPLE/docs/note-1.txt"
ln -s ../docs/numbers.txt "$SAMPLE/bin/numbers-link"
touch -d '2020-01-02 03:04:05' "$SAMPLE/docs/note-2.txt"
du -sh "$SAMPLE"

say "2. cairn init (the phrase goes to a 0600 file instead of the screen)"
DATA="$WORK/data"
rm -rf "$DATA" "$WORK/phrase.txt"
"$CAIRN" init --data-dir "$DATA" --phrase-out "$WORK/phrase.txt"

say "3. cairn backup: 3-of-5 over five local targets"
T="$WORK/targets"
rm -rf "$T"
TARGETS="$T/disk1,$T/disk2,$T/disk3,$T/disk4,$T/disk5"
"$CAIRN" backup --data-dir "$DATA" "$SAMPLE" --to "$TARGETS" --k 3
echo "a second backup after one change:"
echo "changed $(date -u)" >> "$SAMPLE/docs/note-3.txt"
"$CAIRN" backup --data-dir "$DATA" "$SAMPLE"
"$CAIRN" snapshots --data-dir "$DATA"

say "4. disaster: two targets destroyed and the data directory deleted"
rm -rf "$T/disk2" "$T/disk5" "$DATA"
ls "$T"

say "5. cairn init --recover: the phrase alone rebuilds the same identity"
"$CAIRN" init --recover --data-dir "$DATA" --phrase-file "$WORK/phrase.txt"

say "6. cairn restore latest from the three surviving targets"
OUT="$WORK/restored"
rm -rf "$OUT"
"$CAIRN" restore latest --data-dir "$DATA" --from "$TARGETS" --to "$OUT"

say "7. compare with the original"
RESTORED="$OUT${SAMPLE}"
diff -r --no-dereference "$SAMPLE" "$RESTORED"
( cd "$SAMPLE" && find . -printf '%p %y %m %T@ %l\n' | sort ) > "$WORK/meta-orig.txt"
( cd "$RESTORED" && find . -printf '%p %y %m %T@ %l\n' | sort ) > "$WORK/meta-restored.txt"
# Every entry: path, type, mode, mtime (ns), link target.
cp "$WORK/meta-orig.txt" "$WORK/a"; cp "$WORK/meta-restored.txt" "$WORK/b"
diff "$WORK/a" "$WORK/b"
echo "identical: contents, permissions, modification times, folders and symlinks"

say "8. cairn check: verify every shard, rebuild the two lost targets"
"$CAIRN" check --data-dir "$DATA" --from "$TARGETS"
"$CAIRN" check --data-dir "$DATA" --from "$TARGETS" --no-repair
echo
echo "demo complete"

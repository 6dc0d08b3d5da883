#!/usr/bin/env bash
# `make research`: runs issue 12's research sweeps and regenerates what
# docs/research/shard-count.md shows from them.
#   scripts/research.sh CAIRN PYTHON OUTDIR SEED JOBS SWEEP.json...
# Each sweep runs with --seed SEED --jobs JOBS --out OUTDIR/NAME --timeseries (NAME: the
# file's name without .json; its run lines and summary table go to OUTDIR/NAME.log), timed
# by wall clock into OUTDIR/timings.csv. Then scripts/research_tables.py rewrites the
# doc's generated blocks from each NAME/summary.csv (and the timings), scripts/report.py
# draws OUTDIR/report.html and each chart as OUTDIR/img/NAME-CHART.svg, and the charts the
# doc shows are copied to docs/research/img/. The same seed gives the same tables and charts.
# RESEARCH_SKIP_RUNS=1 redoes only the tables and charts from the outputs already in OUTDIR.
set -euo pipefail
cairn=$1 python=$2 out=$3 seed=$4 jobs=$5
shift 5
[ $# -gt 0 ] || { echo "error: no sweep files given" >&2; exit 2; }
mkdir -p "$out"
dirs=()
if [ "${RESEARCH_SKIP_RUNS:-0}" = 1 ]; then
    for sweep in "$@"; do dirs+=("$out/$(basename "$sweep" .json)"); done
else
    timings="$out/timings.csv"
    # Older timings (without the load column) are started afresh.
    head -n 1 "$timings" 2>/dev/null | grep -q load_1min || echo "sweep,runs,wall_seconds,jobs,exit_status,load_1min" > "$timings"
    for sweep in "$@"; do
        name=$(basename "$sweep" .json)
        rm -rf "${out:?}/$name"
        echo "== $sweep -> $out/$name"
        start=$(date +%s)
        # Exit status 1: the sweep ran, and some run broke an invariant or an expectation
        # (summary.csv counts them per cell; the tables show them). Anything else stops.
        status=0
        "$cairn" simulate "$sweep" --seed "$seed" --jobs "$jobs" --out "$out/$name" --timeseries --no-progress \
            > "$out/$name.log" 2>&1 || status=$?
        [ "$status" -le 1 ] && [ -f "$out/$name/summary.csv" ] || { tail -n 20 "$out/$name.log" >&2; exit "$status"; }
        wall=$(( $(date +%s) - start ))
        runs=$(( $(wc -l < "$out/$name/sweep.csv") - 1 ))
        grep -v "^$name," "$timings" > "$timings.new" || true
        # The machine's 1-minute load average as the sweep ends: the wall time means little
        # on a shared machine without it (2 jobs alone on 2 cores: about 2).
        load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "")
        echo "$name,$runs,$wall,$jobs,$status,$load" >> "$timings.new"
        mv "$timings.new" "$timings"
        grep "wall seconds" "$out/$name.log" || true
        [ "$status" = 0 ] || echo "   (exit status 1: invariant violations, see $out/$name.log)"
        echo "   ($wall s for $runs runs)"
        dirs+=("$out/$name")
    done
    # Every sweep given, including ones timed by an earlier run into the same directory.
    dirs=()
    for sweep in "$@"; do dirs+=("$out/$(basename "$sweep" .json)"); done
fi
mkdir -p "$out/img"
"$python" scripts/report.py "${dirs[@]}" --out "$out/report.html" --svg-dir "$out/img"
python3 scripts/report_offline.py "$out/report.html"
python3 scripts/research_tables.py "$out" docs/research/shard-count.md --copy-charts docs/research/img
echo "report: $out/report.html; doc: docs/research/shard-count.md"

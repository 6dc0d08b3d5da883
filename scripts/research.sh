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
    echo "sweep,runs,wall_seconds,jobs" > "$out/timings.csv"
    for sweep in "$@"; do
        name=$(basename "$sweep" .json)
        rm -rf "${out:?}/$name"
        echo "== $sweep -> $out/$name"
        start=$(date +%s)
        "$cairn" simulate "$sweep" --seed "$seed" --jobs "$jobs" --out "$out/$name" --timeseries --no-progress > "$out/$name.log"
        wall=$(( $(date +%s) - start ))
        runs=$(( $(wc -l < "$out/$name/sweep.csv") - 1 ))
        echo "$name,$runs,$wall,$jobs" >> "$out/timings.csv"
        tail -n 1 "$out/$name.log"
        echo "   ($wall s for $runs runs)"
        dirs+=("$out/$name")
    done
fi
mkdir -p "$out/img"
"$python" scripts/report.py "${dirs[@]}" --out "$out/report.html" --svg-dir "$out/img"
python3 scripts/report_offline.py "$out/report.html"
python3 scripts/research_tables.py "$out" docs/research/shard-count.md --copy-charts docs/research/img
echo "report: $out/report.html; doc: docs/research/shard-count.md"

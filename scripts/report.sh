#!/usr/bin/env bash
# `make report`: runs the report's sweeps and draws build/report/report.html from them.
#   scripts/report.sh CAIRN PYTHON OUTDIR SEED SWEEP.json...
# Each sweep runs with --seed SEED --out OUTDIR/NAME --timeseries (NAME: the file's name
# without .json), so the same seed gives the same outputs and the same page. Then the page
# is checked for external references, and, where Chromium is installed, loaded with every
# request refused and recorded (none may be made) and screenshot to OUTDIR/report.png.
set -euo pipefail
cairn=$1 python=$2 out=$3 seed=$4
shift 4
[ $# -gt 0 ] || { echo "error: no sweep files given" >&2; exit 2; }
mkdir -p "$out"
dirs=()
for sweep in "$@"; do
    name=$(basename "$sweep" .json)
    rm -rf "${out:?}/$name"
    echo "== $sweep -> $out/$name"
    start=$SECONDS
    "$cairn" simulate "$sweep" --seed "$seed" --out "$out/$name" --timeseries --no-progress > "$out/$name.log"
    tail -n 1 "$out/$name.log"
    echo "   ($((SECONDS - start)) s; the run lines and summary table are in $out/$name.log)"
    dirs+=("$out/$name")
done
"$python" scripts/report.py "${dirs[@]}" --out "$out/report.html"
if command -v chromium > /dev/null; then
    python3 scripts/report_offline.py "$out/report.html" --chromium
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,9000 \
        --proxy-server=http://127.0.0.1:9 --screenshot="$out/report.png" "file://$(realpath "$out/report.html")" 2> /dev/null
    echo "screenshot: $out/report.png"
else
    python3 scripts/report_offline.py "$out/report.html"
    echo "(chromium not installed: the page-load check and the screenshot were skipped; apt-get install chromium)"
fi
echo "report: $out/report.html"

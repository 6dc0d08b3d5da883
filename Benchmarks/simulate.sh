#!/usr/bin/env bash
# Simulator benchmark: release build, runs a scenario (default Scenarios/churn.json) with a
# fixed seed, and prints events/s, messages/s, time compression (simulated seconds per
# wall second), node-days per second of wall and of CPU time, events per node-day and peak
# RSS (from /usr/bin/time -v). On a shared machine compare the CPU figures: other work
# inflates wall time far more than CPU time.
#   Benchmarks/simulate.sh [SCENARIO] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:-Scenarios/churn.json}"
seed="${2:-1}"
swift build -c release --product cairn >/dev/null
bin="$(swift build -c release --show-bin-path)/cairn"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$bin" simulate "$scenario" --seed "$seed" --out "$out" --no-progress >"$out/stdout" 2>"$out/time" || status=$?
else
    "$bin" simulate "$scenario" --seed "$seed" --out "$out" --no-progress >"$out/stdout" 2>"$out/time" || status=$?
fi
cat "$out/stdout"
python3 - "$out/metrics.json" "$out/time" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
user = re.search(r"User time \(seconds\): ([0-9.]+)", t)
system = re.search(r"System time \(seconds\): ([0-9.]+)", t)
cpu = float(user.group(1)) + float(system.group(1)) if user and system else None
wall = m["wall_seconds"]
node_days = m["nodes"] * m["sim_days"]
print()
print(f"scenario            {m['scenario']} ({m['nodes']} nodes, {m['sim_days']} days), seed {m['seed']}")
print(f"wall seconds        {wall:.1f}")
print(f"events/s            {m['events'] / wall:,.0f}")
print(f"messages/s          {m['messages'] / wall:,.0f}")
print(f"sim-s per wall-s    {m['sim_days'] * 86400 / wall:,.0f}")
print(f"node-days/s         {node_days / wall:,.0f}")
print(f"events per node-day {m['events'] / node_days:,.1f}")
if cpu:
    print(f"CPU seconds         {cpu:.1f} (process, set-up and report included)")
    print(f"node-days/CPU-s     {node_days / cpu:,.0f}")
print(f"peak RSS            {int(rss.group(1)) / 1024:,.0f} MiB" if rss else "peak RSS            (no /usr/bin/time)")
PY
exit "${status:-0}"

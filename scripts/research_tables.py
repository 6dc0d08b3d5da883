#!/usr/bin/env python3
"""Rewrites the generated blocks of docs/research/shard-count.md from `make research`'s outputs.

    scripts/research_tables.py OUTDIR DOC.md [--copy-charts IMGDIR]

OUTDIR is scripts/research.sh's output directory: one sweep output per NAME
(OUTDIR/NAME/summary.csv, sweep.csv, sweep.json from `cairn simulate SWEEP.json --out`),
timings.csv (sweep, runs, wall_seconds, jobs) and, after scripts/report.py --svg-dir, the
charts in OUTDIR/img/. In DOC.md every block

    <!-- BEGIN generated: NAME -->
    ...
    <!-- END generated -->

is replaced by the table of sweep NAME (a row per cell: what was swept, then the metrics),
or, for NAME `research-timings`, by the wall time of each sweep. Text outside the blocks is
never touched, and a block whose sweep is missing is an error (exit status 2), so the doc
never mixes tables of different runs silently. With --copy-charts, every `img/FILE.svg`
the doc links to is copied from OUTDIR/img/FILE.svg into IMGDIR (a chart the doc links to
that the report did not draw is an error). Standard library only.
"""

import argparse
import csv
import json
import os
import re
import shutil
import sys

BLOCK = re.compile(r"(<!-- BEGIN generated: ([A-Za-z0-9_.-]+) -->\n)(.*?)(<!-- END generated -->)", re.S)
KINDS = ["dropper", "liar", "early_freer", "refuser"]


class TableError(Exception):
    """An input the tables cannot be made from, with the file."""


def read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        raise TableError(f"{path}: cannot read it ({e}); run `make research` first") from None


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def fmt(x, digits=3):
    """A number with `digits` significant digits, thousands separated; '—' for none."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    if abs(x) < 0.01:
        return "<0.01"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def mib(x):
    return "—" if x is None else f"{x / 2**20:,.1f}"


def swept_label(column, value):
    short = column.replace("protocol.", "").replace("churn.", "").replace("_", " ")
    return short, value


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def sweep_table(out, name):
    d = os.path.join(out, name)
    summary = read_csv(os.path.join(d, "summary.csv"))
    runs = read_csv(os.path.join(d, "sweep.csv"))
    try:
        with open(os.path.join(d, "sweep.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise TableError(f"{d}/sweep.json: cannot read it ({e})") from None
    if not summary:
        raise TableError(f"{d}/summary.csv: no cells")
    # The code's k and n have their own columns (summary.csv's), whether swept or not.
    fixed = {"cell", "k", "n", "runs", "packs", "packs_lost", "protocol.k", "protocol.n"}
    metrics_start = list(summary[0].keys()).index("k")
    swept = [c for c in list(summary[0].keys())[1:metrics_start]]
    kinds = [k for k in KINDS if any(int(r.get(f"{k}_total") or 0) > 0 for r in summary)]
    head = [swept_label(c, "")[0] for c in swept if c not in fixed]
    head += ["k", "n", "n/k", "packs lost / packs", "lost per million [95% CI]", "restore success",
             "pack availability", "stored / backed up", "repair MiB/node/day (sd)"]
    for k in kinds:
        head.append(f"{k} detected, mean / max h")
    violations = any(int(r.get("invariant_violations") or 0) > 0 for r in summary)
    if violations:
        head.append("invariant violations")
    rows = []
    by_cell = {}
    for r in runs:
        by_cell.setdefault(r["cell"], []).append(r)
    for s in summary:
        row = [s[c] for c in swept if c not in fixed]
        lost = f"{s['packs_lost']} / {int(s['packs']):,}"
        ci = f"{fmt(num(s['lost_per_million']))} [{fmt(num(s['lost_per_million_lo95']))}, {fmt(num(s['lost_per_million_hi95']))}]"
        restore = num(s["restore_success"])
        row += [s["k"], s["n"], fmt(num(s["storage_overhead_nk"])), lost, ci,
                "—" if restore is None else f"{restore:.3f}",
                "—" if num(s["pack_availability"]) is None else f"{num(s['pack_availability']):.4f}",
                fmt(num(s["storage_overhead"])),
                f"{mib(num(s['repair_bytes_per_node_day']))} ({mib(num(s['repair_bytes_per_node_day_sd']))})"]
        for k in kinds:
            total = int(s[f"{k}_total"] or 0)
            det = int(s[f"{k}_detected"] or 0)
            row.append(f"{det}/{total}, {fmt(num(s[f'{k}_detection_mean_hours']))} / {fmt(num(s[f'{k}_detection_max_hours']))}")
        if violations:
            row.append(s["invariant_violations"])
        rows.append(row)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    dep = mean([num(r.get("departures")) for r in runs])
    disk = mean([num(r.get("disk_failures")) for r in runs])
    below = mean([num(r.get("packs_below_n")) for r in runs])
    seeds = sorted({r["seed"] for r in runs}, key=lambda x: int(x))
    lines.append("")
    lines.append(f"{len(summary)} cells × {len(runs) // max(1, len(summary))} seeds ({', '.join(seeds)}; base seed "
                 f"{manifest.get('base_seed')}), {len(runs)} runs. Per run, on average: {fmt(dep)} departures, "
                 f"{fmt(disk)} disk failures, {fmt(below)} packs below n at the end. "
                 f"From `build/research/{name}/summary.csv` and `sweep.csv`.")
    return "\n".join(lines) + "\n"


def timings_table(out):
    rows = read_csv(os.path.join(out, "timings.csv"))
    if not rows:
        raise TableError(f"{out}/timings.csv: no sweeps timed")
    load = any(r.get("load_1min") for r in rows)
    lines = ["| sweep | runs | wall time | wall time per run | jobs | exit status |" + (" load average (1 min) after |" if load else ""),
             "| --- | --- | --- | --- | --- | --- |" + (" --- |" if load else "")]
    total = 0
    runs = 0
    for r in sorted(rows, key=lambda r: r["sweep"]):
        w = int(r["wall_seconds"])
        n = int(r["runs"])
        total += w
        runs += n
        status = r.get("exit_status", "0")
        status = "0" if status == "0" else f"{status} (invariant violations)"
        lines.append(f"| `{r['sweep']}` | {n} | {w // 60} min {w % 60:02d} s | {w / max(1, n):.1f} s | {r['jobs']} | {status} |"
                     + (f" {r.get('load_1min') or '—'} |" if load else ""))
    lines.append(f"| all | {runs} | {total // 60} min {total % 60:02d} s | {total / max(1, runs):.1f} s | | |" + (" |" if load else ""))
    return "\n".join(lines) + "\n"


def rewrite(out, doc):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    names = [m.group(2) for m in BLOCK.finditer(text)]
    if not names:
        raise TableError(f"{doc}: no <!-- BEGIN generated: NAME --> blocks")
    tables = {n: (timings_table(out) if n == "research-timings" else sweep_table(out, n)) for n in names}
    new = BLOCK.sub(lambda m: m.group(1) + tables[m.group(2)] + m.group(4), text)
    if new != text:
        with open(doc, "w", encoding="utf-8") as f:
            f.write(new)
    print(f"{doc}: {len(names)} generated blocks ({'rewritten' if new != text else 'unchanged'})")


def copy_charts(out, doc, img_dir):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    wanted = sorted(set(re.findall(r"img/([A-Za-z0-9_.-]+\.svg)", text)))
    os.makedirs(img_dir, exist_ok=True)
    for name in wanted:
        src = os.path.join(out, "img", name)
        if not os.path.exists(src):
            raise TableError(f"{doc} shows img/{name}, but the report drew no {src}")
        shutil.copyfile(src, os.path.join(img_dir, name))
    print(f"{img_dir}: {len(wanted)} charts copied")


def main(argv=None):
    p = argparse.ArgumentParser(description="Rewrite the generated tables of docs/research/shard-count.md.")
    p.add_argument("out", help="make research's output directory (build/research)")
    p.add_argument("doc", help="the document (docs/research/shard-count.md)")
    p.add_argument("--copy-charts", metavar="IMGDIR", help="copy the charts the doc links to (img/*.svg) into IMGDIR")
    a = p.parse_args(argv)
    try:
        rewrite(a.out, a.doc)
        if a.copy_charts:
            copy_charts(a.out, a.doc, a.copy_charts)
    except TableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

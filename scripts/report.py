#!/usr/bin/env python3
"""Charts of `cairn simulate` sweeps, as one self-contained report.html.

    scripts/report.py DIR... [--out report.html] [--cell N]

Each DIR is the output of `cairn simulate SWEEP.json --out DIR` (sweep.json, sweep.csv,
summary.csv; with `--timeseries` also runs/CELL-SEED/timeseries.csv), or of a single run
`cairn simulate SCENARIO.json --out DIR` (metrics.json, timeseries.csv). Every DIR gets
its own section: the charts its columns allow, a note for each chart it cannot draw (and
why: that parameter was not swept, no adversaries, no timeseries), never a made-up one,
and the summary table per cell.

The page opens from disk with no network: charts are SVG embedded as data: URIs, the CSS
is inline, there is no script. The output depends only on the inputs (fixed SVG ids, no
dates), so the same sweep gives the same page. docs/research/report.md describes each
chart and its inputs; scripts/report_offline.py checks the page makes no request.
"""

import argparse
import base64
import csv
import html
import io
import json
import math
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402

# Fixed SVG ids and no creation date, so the page is the same bytes for the same inputs;
# text as paths, so the page needs no font.
matplotlib.rcParams.update({
    "svg.hashsalt": "cairn-report",
    "svg.fonttype": "path",
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
})

# Two-sided 95% Student t quantiles for 1..30 degrees of freedom (then the normal's).
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
       2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
       2.052, 2.048, 2.045, 2.042]
MAX_SERIES = 12


class ReportError(Exception):
    """Input the report cannot use, with the file and what to do."""


# ---------------------------------------------------------------- reading the outputs

def read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        raise ReportError(f"{path}: cannot read it ({e.strerror})") from None


def number(text):
    """A CSV field as a float; None for the empty field (a null)."""
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def value(text):
    """A swept column's value (compact JSON) as a Python value."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def label(v):
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    if isinstance(v, (int, float, str)):
        return str(v)
    if isinstance(v, dict) and "dist" in v:
        rest = ", ".join(f"{k}={label(x)}" for k, x in v.items() if k != "dist")
        return f"{v['dist']}({rest})"
    return json.dumps(v, separators=(",", ":"))


def t95(runs):
    df = runs - 1
    return T95[df - 1] if 1 <= df <= len(T95) else 1.96


def mean_ci(xs):
    """Mean and the half-width of its 95% t interval over runs (None with one run)."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return m, t95(len(xs)) * sd / math.sqrt(len(xs))


class Sweep:
    """One sweep output directory."""

    def __init__(self, path):
        self.path = path
        manifest_path = os.path.join(path, "sweep.json")
        try:
            with open(manifest_path, encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            raise ReportError(f"{manifest_path}: not a sweep manifest ({e})") from None
        if not str(manifest.get("format", "")).startswith("cairn-sweep"):
            raise ReportError(f"{manifest_path}: $.format is not a cairn sweep's (written by another program?)")
        self.manifest = manifest
        self.file = manifest.get("sweep", {})
        self.base = {k: v for k, v in self.file.items() if k != "sweep"}
        self.name = self.base.get("name", os.path.basename(os.path.normpath(path)))
        self.summary = read_csv(os.path.join(path, "summary.csv"))
        self.runs = read_csv(os.path.join(path, "sweep.csv"))
        if not self.summary:
            raise ReportError(f"{path}/summary.csv: no cells (did the sweep run? a slice needs `cairn simulate merge` first)")
        header = list(self.summary[0].keys())
        if "cell" not in header or "k" not in header:
            raise ReportError(f"{path}/summary.csv: the header has no cell and k columns (not a cairn summary)")
        # summary.csv is cell, the swept columns, then k, n, ...
        self.swept = header[1:header.index("k")]
        # Adversary kinds as summary.csv names them (KIND_detection_mean_hours), so a kind
        # added to the simulator is drawn without a change here.
        self.kinds = [c[:-len("_detection_mean_hours")] for c in header if c.endswith("_detection_mean_hours")]
        for row in self.summary:
            row["_values"] = {c: value(row[c]) for c in self.swept}
        self.runs_by_cell = {}
        for row in self.runs:
            self.runs_by_cell.setdefault(row["cell"], []).append(row)

    def varies(self, column):
        """The column takes at least two values over the cells."""
        return len({row.get(column) for row in self.summary}) >= 2

    def run_values(self, cell, column):
        return [number(r.get(column)) for r in self.runs_by_cell.get(cell, [])]

    def seeds(self):
        return self.file.get("sweep", {}).get("seeds", 1)

    def describe(self):
        """What the scenario was, for titles: nodes, days, churn, adversaries, seeds."""
        b = self.base
        swept = set(self.swept)
        parts = []
        parts.append("nodes swept" if "nodes" in swept else f"{b.get('nodes', '?')} nodes")
        days, conv = b.get("duration_days", 1), b.get("convergence_days", 0)
        parts.append(f"{label(days)} d" + (f" + {label(conv)} d convergence" if conv else ""))
        churn = b.get("churn", {})
        if "online_hours" in churn or "offline_hours" in churn:
            parts.append(f"sessions {label(churn.get('online_hours', '-'))} h on / {label(churn.get('offline_hours', '-'))} h off")
        if churn.get("departures_per_day"):
            parts.append(f"{label(churn['departures_per_day'])} departures/node/day")
        adv = b.get("adversaries", {})
        if adv:
            parts.append(", ".join(f"{label(v * 100)}% {k}" for k, v in sorted(adv.items())))
        parts.append(f"{self.seeds()} seed{'s' if self.seeds() != 1 else ''}/cell")
        return "; ".join(parts)


# ---------------------------------------------------------------- drawing

def svg_of(fig):
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def titles(ax, title, subtitle):
    """The chart's title, and under it what the scenario was (wrapped, never over the title)."""
    lines = textwrap.wrap(subtitle, 120)
    ax.set_title(title, fontsize=12, loc="left", pad=8 + 11 * len(lines))
    ax.annotate("\n".join(lines), (0, 1), xycoords="axes fraction", xytext=(0, 5), textcoords="offset points",
                fontsize=8, color="#444", va="bottom")


def legend(ax):
    """Beside the plot, so it never hides a point."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def figure(title, subtitle):
    fig, ax = plt.subplots(figsize=(8, 4.4))
    titles(ax, title, subtitle)
    return fig, ax


def series(sweep, exclude):
    """Cells grouped by the swept columns other than `exclude` (the x axis and what it
    implies): [(legend label, rows)], in cell order."""
    others = [c for c in sweep.swept if c not in exclude and sweep.varies(c)]
    groups = {}
    for row in sweep.summary:
        key = tuple(label(row["_values"][c]) for c in others)
        groups.setdefault(key, []).append(row)
    out = []
    for key, rows in groups.items():
        name = ", ".join(f"{c}={v}" for c, v in zip(others, key)) or "all cells"
        out.append((name, rows))
    return out


def bytes_unit(values):
    top = max([abs(v) for v in values if v is not None] or [0])
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if top >= scale:
            return unit, scale
    return "B", 1


def dodge(xs, span):
    """Small sideways offsets for points that share an x, so none hides another."""
    seen = {}
    for x in xs:
        seen[x] = seen.get(x, 0) + 1
    index, out = {}, []
    for x in xs:
        m, i = seen[x], index.get(x, 0)
        index[x] = i + 1
        out.append(x + (i - (m - 1) / 2) * span)
    return out


def chart_durability(sweep, scenario):
    if not sweep.varies("k") and not sweep.varies("n"):
        return None, "Durability vs storage overhead: left out — one (k, n) only in this sweep (sweep `code` for it)."
    groups = [(name, [r for r in rows if number(r["packs"])]) for name, rows in series(sweep, {"k", "n", "protocol.k", "protocol.n"})]
    groups = [(name, rows) for name, rows in groups if rows]
    if not groups:
        return None, "Durability vs storage overhead: left out — no packs were placed in any cell."
    rows = [r for _, rs in groups for r in rs]
    fig, ax = figure("Durability vs storage overhead per (k, n)", scenario)
    overheads = sorted({number(r["storage_overhead_nk"]) for r in rows})
    # One overhead for every code: the codes side by side, labelled, rather than a zero-width axis.
    categorical = len(overheads) < 2
    codes = sorted({(int(r["k"]), int(r["n"])) for r in rows})
    def position(r):
        return codes.index((int(r["k"]), int(r["n"]))) if categorical else number(r["storage_overhead_nk"])
    span = 0.1 if categorical else 0.025 * (overheads[-1] - overheads[0])
    positives = [number(r[c]) for r in rows for c in ("lost_per_million", "lost_per_million_lo95", "lost_per_million_hi95")
                 if (number(r[c]) or 0) > 0]
    floor = min(positives) / 10 if positives else 0.1
    points = [(i, name, r) for i, (name, rs) in enumerate(groups[:MAX_SERIES]) for r in rs]
    xs = dodge([position(r) for _, _, r in points], span)
    labelled, zero_labelled = set(), False
    for (i, name, r), x in zip(points, xs):
        color = f"C{i % 10}"
        lost, lo, hi = number(r["lost_per_million"]), number(r["lost_per_million_lo95"]), number(r["lost_per_million_hi95"])
        if lost and lost > 0:
            ax.errorbar([x], [lost], yerr=[[lost - max(lo or floor, floor)], [hi - lost]], fmt="o", color=color, capsize=3,
                        label=None if name in labelled else name)
            labelled.add(name)
        else:
            ax.vlines([x], floor, hi, colors=color, linestyles="dotted")
            ax.plot([x], [hi], marker="v", color=color, linestyle="none",
                    label=None if name in labelled else name)
            labelled.add(name)
            zero_labelled = True
        if not categorical:
            # A point moved left of its neighbours gets its label on the left, clear of theirs.
            left = x < position(r) - 1e-12
            ax.annotate(f"{r['k']},{r['n']}", (x, lost if lost and lost > 0 else hi), textcoords="offset points",
                        xytext=(-4 if left else 4, 3), ha="right" if left else "left", fontsize=7, color="#333")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    if categorical:
        ax.set_xticks(range(len(codes)), [f"k={k}, n={n}" for k, n in codes])
        ax.set_xlim(-0.5, len(codes) - 0.5)
        ax.set_xlabel(f"code (k, n) — every one at storage overhead n / k = {label(overheads[0])}×")
    else:
        ax.set_xlabel("storage overhead n / k (stored bytes per backed-up byte, ×)")
    ax.set_ylabel("packs lost per million (log scale)")
    if len(groups) > 1:
        legend(ax)
    caption = ("Points: packs lost per million, pooled over the cell's runs" + ("" if categorical else ", labelled k,n")
               + ". Bars: 95% Wilson interval over the pack count — a floor on the uncertainty, as packs of one run "
               "share holders (summary.csv's lost_per_million_run_sd shows the spread between runs).")
    if zero_labelled:
        caption += " A triangle on a dotted bar: no pack lost in that cell; the triangle is the interval's upper bound."
    caption += " Points at the same position are spread sideways a little."
    if len(groups) > MAX_SERIES:
        caption += f" Only the first {MAX_SERIES} of {len(groups)} series are drawn."
    return (svg_of(fig), caption), None


def chart_xy(sweep, scenario, x, xlabel, metric, ylabel, title, exclude, scale=None, what="", annotate=None,
             limits=(None, None)):
    """A metric (mean over runs, bars: 95% t interval over runs) against a swept column, one
    series per combination of the other swept columns; `annotate` labels each point (the k
    of a point on an n axis, when cells of one series share an x). Bars are cut at the
    metric's `limits` (0 for traffic, 0 and 1 for a fraction), which it cannot pass."""
    lo_limit, hi_limit = limits
    groups = series(sweep, exclude)[:MAX_SERIES]
    found = []
    for i, (name, rows) in enumerate(groups):
        pts = []
        for r in rows:
            m, half = mean_ci(sweep.run_values(r["cell"], metric))
            xv = number(r[x]) if x in ("k", "n") else r["_values"].get(x)
            if m is None or not isinstance(xv, (int, float)):
                continue
            pts.append((xv, m / (scale or 1), (half or 0) / (scale or 1), annotate(r) if annotate else None))
        if pts:
            found.append((i, name, sorted(pts)))
    if not found:
        return None
    fig, ax = figure(title, scenario)
    xs_all = sorted({p[0] for _, _, pts in found for p in pts})
    span = 0.012 * ((xs_all[-1] - xs_all[0]) or 1)
    all_x = dodge([p[0] for _, _, pts in found for p in pts], span)
    at = 0
    for i, name, pts in found:
        xs = all_x[at:at + len(pts)]
        at += len(pts)
        one_per_x = len({p[0] for p in pts}) == len(pts)
        below = [p[2] if lo_limit is None else min(p[2], p[1] - lo_limit) for p in pts]
        above = [p[2] if hi_limit is None else min(p[2], hi_limit - p[1]) for p in pts]
        ax.errorbar(xs, [p[1] for p in pts], yerr=[below, above], fmt="o-" if one_per_x else "o", capsize=3,
                    color=f"C{i % 10}", label=name)
        for xv, p in zip(xs, pts):
            if p[3] and not one_per_x:
                ax.annotate(p[3], (xv, p[1]), textcoords="offset points", xytext=(4, 3), fontsize=7, color="#333")
    if lo_limit == 0:
        ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(found) > 1:
        legend(ax)
    runs = sweep.seeds()
    cut = " and ".join(str(v) for v in limits if v is not None)
    cut = f", cut at {cut}" if cut else ""
    caption = (f"Points: {what or metric} per cell, mean over its {runs} run{'s' if runs != 1 else ''}; bars: 95% t interval "
               "over runs" + (" (none with one run per cell)" if runs < 2 else cut) + ".")
    if annotate and any(len({p[0] for p in pts}) < len(pts) for _, _, pts in found):
        caption += " Where cells of one series share an x, points are labelled with their k."
    if len(series(sweep, exclude)) > MAX_SERIES:
        caption += f" Only the first {MAX_SERIES} of {len(series(sweep, exclude))} series are drawn."
    return svg_of(fig), caption


def chart_repair_vs_n(sweep, scenario):
    if not sweep.varies("n"):
        return None, "Repair bandwidth vs n: left out — n is not swept."
    unit, scale = bytes_unit([number(r["repair_bytes_per_node_day"]) for r in sweep.runs])
    got = chart_xy(sweep, scenario, "n", "n (shards per volume)", "repair_bytes_per_node_day",
                   f"repair traffic ({unit} per node per day)", "Repair bandwidth vs n",
                   {"n", "protocol.n", "k", "protocol.k"}, scale, "repair traffic (shard bytes fetched and stored by repairs)",
                   annotate=(lambda r: f"k={r['k']}") if sweep.varies("k") else None, limits=(0, None))
    return (got, None) if got else (None, "Repair bandwidth vs n: left out — no run measured repair traffic.")


def chart_repair_vs_trigger(sweep, scenario):
    col = "protocol.repair_trigger"
    if col not in sweep.swept or not sweep.varies(col):
        return None, "Repair bandwidth vs repair trigger: left out — protocol.repair_trigger is not swept."
    unit, scale = bytes_unit([number(r["repair_bytes_per_node_day"]) for r in sweep.runs])
    got = chart_xy(sweep, scenario, col, "repair trigger (repair when fewer shards than this are healthy)",
                   "repair_bytes_per_node_day", f"repair traffic ({unit} per node per day)",
                   "Repair bandwidth vs repair trigger", {col}, scale,
                   "repair traffic (shard bytes fetched and stored by repairs)", limits=(0, None))
    return (got, None) if got else (None, "Repair bandwidth vs repair trigger: left out — no run measured repair traffic.")


def chart_detection(sweep, scenario):
    col = "protocol.challenge_interval_hours"
    if col not in sweep.swept or not sweep.varies(col):
        return None, "Detection time vs challenge interval: left out — protocol.challenge_interval_hours is not swept."
    kinds = [k for k in sweep.kinds if any((number(r.get(f"{k}_detected")) or 0) > 0 for r in sweep.summary)]
    if not kinds:
        present = [k for k in sweep.kinds if any((number(r.get(f"{k}_total")) or 0) > 0 for r in sweep.summary)]
        why = "adversaries were present but none was detected" if present else "no adversaries in this sweep"
        return None, f"Detection time vs challenge interval: left out — {why}."
    fig, ax = figure("Detection time vs challenge interval, per adversary kind", scenario)
    groups = series(sweep, {col})
    markers = "osD^"
    top = 0
    for ki, kind in enumerate(kinds):
        for gi, (name, rows) in enumerate(groups[:MAX_SERIES]):
            pts = []
            for r in rows:
                m, half = mean_ci(sweep.run_values(r["cell"], f"{kind}_detection_mean_hours"))
                xv = r["_values"][col]
                if m is None or not isinstance(xv, (int, float)):
                    continue
                pts.append((xv, m, half or 0, number(r.get(f"{kind}_detection_max_hours"))))
            if not pts:
                continue
            pts.sort()
            color = f"C{(ki * max(1, min(len(groups), MAX_SERIES)) + gi) % 10}"
            tag = kind + (f" ({name})" if len(groups) > 1 else "")
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], fmt=markers[ki] + "-",
                        capsize=3, color=color, label=f"{tag}: mean")
            mx = [(p[0], p[3]) for p in pts if p[3] is not None]
            ax.plot([p[0] for p in mx], [p[1] for p in mx], marker="x", linestyle="none", color=color, alpha=0.7,
                    label=f"{tag}: max")
            top = max([top] + [p[1] + p[2] for p in pts] + [p[1] for p in mx])
    xs = sorted({r["_values"][col] for r in sweep.summary if isinstance(r["_values"][col], (int, float))})
    ax.plot(xs, xs, linestyle="--", color="#888", linewidth=1, label="one challenge interval")
    ax.set_xlabel("challenge interval (hours)")
    ax.set_ylabel("hours from first misbehaviour to detection")
    # A little below 0, so a kind detected at once (a liar's first answer) is seen, not hidden by the axis.
    ceiling = max(top, max(xs)) * 1.1
    ax.set_ylim(bottom=-0.03 * ceiling, top=ceiling)
    legend(ax)
    runs = sweep.seeds()
    caption = (f"Per adversary kind that was detected: mean detection time over the cell's {runs} run"
               f"{'s' if runs != 1 else ''} (each run's mean over its detected adversaries), bars a 95% t interval "
               "over runs, crosses the longest detection in the cell; dashed: y = x for scale.")
    absent = [k for k in sweep.kinds if k not in kinds]
    if absent:
        caption += " Not drawn (none present or none detected): " + ", ".join(absent) + "."
    return (svg_of(fig), caption), None


def chart_availability(sweep, scenario):
    col = "protocol.uptime_threshold"
    if col not in sweep.swept or not sweep.varies(col):
        return None, "Pack availability vs uptime threshold: left out — protocol.uptime_threshold is not swept."
    got = chart_xy(sweep, scenario, col, "uptime threshold (a holder below it is unhealthy, fraction of the window)",
                   "pack_availability", "pack availability (fraction of packs)", "Pack availability vs uptime threshold",
                   {col}, None, "pack availability (the fraction of packs with ≥ k shards on online, honest holders, "
                   "averaged over samples)", limits=(0, 1))
    return (got, None) if got else (None, "Pack availability vs uptime threshold: left out — no run measured pack_availability.")


def read_timeseries(path):
    rows = read_csv(path)
    return [{k: number(v) for k, v in r.items()} for r in rows]


def timeseries_figure(title, scenario, runs, fault_days):
    """Healthy shards (top) and nodes online (bottom) against simulated days, one line per run."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.4), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    titles(top, title, scenario)
    for i, (name, rows) in enumerate(runs):
        days = [r["hours"] / 24 for r in rows]
        top.plot(days, [r["healthy_shards"] for r in rows], color=f"C{i % 10}", label=name)
        bottom.plot(days, [r["nodes_online"] for r in rows], color=f"C{i % 10}")
    for ax in (top, bottom):
        if fault_days:
            ax.axvline(fault_days, color="#c44", linestyle=":", linewidth=1)
    if fault_days:
        top.annotate("faults off: convergence", (fault_days, 0.03), xycoords=("data", "axes fraction"),
                     xytext=(4, 0), textcoords="offset points", fontsize=7, color="#c44",
                     bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    # Counts: whole-number ticks only.
    for ax in (top, bottom):
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6 if ax is top else 4, integer=True))
    top.set_ylabel("healthy shards (all packs)")
    bottom.set_ylabel("nodes online")
    bottom.set_xlabel("simulated time (days)")
    legend(top)
    return svg_of(fig)


def chart_timeseries(sweep, scenario, chosen):
    runs_dir = os.path.join(sweep.path, "runs")
    if not os.path.isdir(runs_dir):
        return None, ("Healthy shards over time: left out — no per-run timeseries in this sweep's output "
                      "(run it with `cairn simulate SWEEP.json --out DIR --timeseries`).")
    cells = [r["cell"] for r in sweep.summary]
    cell = str(chosen) if chosen is not None else cells[0]
    if cell not in cells:
        raise ReportError(f"--cell {chosen}: {sweep.path} has cells {cells[0]}...{cells[-1]}")
    runs = []
    for row in sorted(sweep.runs_by_cell.get(cell, []), key=lambda r: int(r["replicate"])):
        path = os.path.join(runs_dir, f"{cell}-{row['seed']}", "timeseries.csv")
        if os.path.exists(path):
            runs.append((f"seed {row['seed']}", read_timeseries(path)))
    if not runs:
        return None, f"Healthy shards over time: left out — no timeseries for cell {cell} under {runs_dir}."
    summary = next(r for r in sweep.summary if r["cell"] == cell)
    values = ", ".join(f"{c}={label(summary['_values'][c])}" for c in sweep.swept) or "the only cell"
    fault_days = number(str(sweep.base.get("duration_days", ""))) if sweep.base.get("convergence_days") else None
    svg = timeseries_figure(f"Healthy shards over time, cell {cell} ({values})", scenario, runs, fault_days)
    caption = (f"One line per run of cell {cell} (--cell chooses another). Top: shards on healthy holders summed over "
               "all placed volumes (it falls as holders leave or turn unhealthy, and climbs back as repairs finish). "
               "Bottom: nodes online. Dotted red: "
               "the fault phase ends and the network must converge.")
    return (svg, caption), None


class Run:
    """A single run's output directory (metrics.json, timeseries.csv)."""

    def __init__(self, path):
        self.path = path
        try:
            with open(os.path.join(path, "metrics.json"), encoding="utf-8") as f:
                self.metrics = json.load(f)
        except (OSError, ValueError) as e:
            raise ReportError(f"{path}/metrics.json: cannot read it ({e})") from None
        self.timeseries = read_timeseries(os.path.join(path, "timeseries.csv"))
        self.name = self.metrics.get("scenario", os.path.basename(os.path.normpath(path)))

    def section(self):
        m = self.metrics
        scenario = f"{m.get('nodes', '?')} nodes, {label(m.get('sim_days', '?'))} simulated days, seed {m.get('seed', '?')}"
        if not self.timeseries:
            return [], ["Healthy shards over time: left out — timeseries.csv has no samples."], scenario
        svg = timeseries_figure(f"Healthy shards over time: {self.name}", scenario,
                                [(f"seed {m.get('seed', '?')}", self.timeseries)], None)
        caption = ("Top: shards on healthy holders summed over all placed volumes. Bottom: nodes online. "
                   "One run (`cairn simulate SCENARIO.json --out DIR`).")
        return [(svg, caption)], [], scenario


# ---------------------------------------------------------------- the page

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.85em; color: #444; max-width: 60em; }
.note { font-size: 0.9em; color: #7a4b00; background: #fff7e6; border-left: 3px solid #e0a030; padding: 0.3em 0.7em; }
.scenario { color: #444; } code { font-size: 0.95em; }
.table { overflow-x: auto; } table { border-collapse: collapse; font-size: 0.75em; }
th, td { border: 1px solid #ccc; padding: 2px 5px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; position: sticky; top: 0; }
"""


def cell_text(text):
    v = number(text)
    if v is None:
        return text or "–"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def summary_table(sweep):
    columns = [c for c in sweep.summary[0] if not c.startswith("_")]
    hidden = [k for k in sweep.kinds if all((number(r.get(f"{k}_total")) or 0) == 0 for r in sweep.summary)]
    columns = [c for c in columns if not any(c.startswith(k + "_") for k in hidden)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(f"<td title=\"{html.escape(r[c])}\">{html.escape(cell_text(r[c]))}</td>" for c in columns)
                     + "</tr>" for r in sweep.summary)
    note = ""
    if hidden:
        note = f"<p class=\"note\">Columns of adversary kinds absent from every cell left out: {', '.join(hidden)}.</p>"
    return f"<div class=\"table\"><table><tr>{head}</tr>\n{body}</table></div>{note}"


# Each chart's name in the page's text (the SVG draws its title as paths, which no one can
# search or read aloud): the image's alt text and the caption's first words.
TITLES = {
    "chart_durability": "Durability vs storage overhead per (k, n)",
    "chart_repair_vs_n": "Repair bandwidth vs n",
    "chart_repair_vs_trigger": "Repair bandwidth vs repair trigger",
    "chart_detection": "Detection time vs challenge interval, per adversary kind",
    "chart_availability": "Pack availability vs uptime threshold",
    "chart_timeseries": "Healthy shards over time",
}


def figure_html(svg_b64, caption, title):
    return (f"<figure><img alt=\"{html.escape(title)}\" src=\"data:image/svg+xml;base64,{svg_b64}\">"
            f"<figcaption><b>{html.escape(title)}.</b> {html.escape(caption)}</figcaption></figure>")


def write_svg(svg_dir, stem, svg_b64):
    """`--svg-dir`: the chart also as a file of its own (the same SVG the page embeds), for
    a document that shows it (docs/research/shard-count.md, through `make research`)."""
    if svg_dir:
        with open(os.path.join(svg_dir, f"{stem}.svg"), "wb") as f:
            f.write(base64.b64decode(svg_b64))


def sweep_section(sweep, chosen, svg_dir=None):
    scenario = f"{sweep.name}: {sweep.describe()}"
    parts = [f"<h2>Sweep {html.escape(sweep.name)}</h2>",
             f"<p class=\"scenario\">{html.escape(sweep.describe())}. Swept: "
             + (", ".join(f"<code>{html.escape(c)}</code>" for c in sweep.swept) or "nothing")
             + f". {len(sweep.summary)} cells, {len(sweep.runs)} runs, base seed {html.escape(str(sweep.manifest.get('base_seed')))}, "
             f"from <code>{html.escape(sweep.path)}</code>.</p>"]
    notes = []
    charts = [chart_durability, chart_repair_vs_n, chart_repair_vs_trigger, chart_detection, chart_availability,
              lambda sw, sc: chart_timeseries(sw, sc, chosen)]
    for name, make in zip(TITLES, charts):
        got, note = make(sweep, scenario)
        if got:
            parts.append(figure_html(got[0], got[1], TITLES[name]))
            write_svg(svg_dir, f"{sweep.name}-{name.removeprefix('chart_')}", got[0])
        if note:
            notes.append(note)
    for n in notes:
        parts.append(f"<p class=\"note\">{html.escape(n)}</p>")
    parts.append("<h3>Summary per cell (summary.csv)</h3>")
    parts.append(summary_table(sweep))
    return "\n".join(parts)


def run_section(run):
    figures, notes, scenario = run.section()
    parts = [f"<h2>Run {html.escape(str(run.name))}</h2>", f"<p class=\"scenario\">{html.escape(scenario)}, from "
             f"<code>{html.escape(run.path)}</code>.</p>"]
    for svg, caption in figures:
        parts.append(figure_html(svg, caption, "Healthy shards over time"))
    for n in notes:
        parts.append(f"<p class=\"note\">{html.escape(n)}</p>")
    return "\n".join(parts)


def build(dirs, chosen=None, svg_dir=None):
    sections = []
    for d in dirs:
        if os.path.exists(os.path.join(d, "sweep.json")):
            sections.append(sweep_section(Sweep(d), chosen, svg_dir))
        elif os.path.exists(os.path.join(d, "timeseries.csv")):
            sections.append(run_section(Run(d)))
        else:
            raise ReportError(f"{d}: neither a sweep's output (sweep.json, sweep.csv, summary.csv) nor a run's "
                              "(metrics.json, timeseries.csv): give directories written by `cairn simulate ... --out DIR`")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Cairn simulation report</title>"
            f"<style>{CSS}</style></head><body>\n<h1>Cairn simulation report</h1>\n"
            "<p>Charts drawn by <code>scripts/report.py</code> from the outputs of <code>cairn simulate</code> "
            "(docs/research/report.md says what each shows). Self-contained: no request leaves this page.</p>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def main(argv=None):
    p = argparse.ArgumentParser(description="Charts of cairn simulate sweeps as one self-contained report.html.")
    p.add_argument("dirs", nargs="+", help="sweep output directories (cairn simulate SWEEP.json --out DIR), or a single run's")
    p.add_argument("--out", default="report.html", help="the page to write (default report.html)")
    p.add_argument("--cell", type=int, help="the cell whose healthy shards over time are drawn (default: the first)")
    p.add_argument("--svg-dir", help="also write each sweep's charts as DIR/SWEEP-CHART.svg (CHART: durability, "
                   "repair_vs_n, repair_vs_trigger, detection, availability, timeseries)")
    a = p.parse_args(argv)
    if a.svg_dir:
        os.makedirs(a.svg_dir, exist_ok=True)
    try:
        page = build(a.dirs, a.cell, a.svg_dir)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(page)
    print(f"wrote {a.out} ({len(page) // 1024} KiB, {page.count('<figure>')} charts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Runs `cairn simulate` on random valid scenarios and lists every run that fails.

    scripts/random-scenarios.py CAIRN [FIRST_SEED] [COUNT] [TIMEOUT_S] [--long]

Scenario i is drawn from seed i (the same file on every machine) and run with --seed i;
each is written to a temporary folder and kept when its run fails (exit status other than
0, or a timeout), so a failure can be replayed by hand. Small networks (up to 400 nodes,
up to 5 days) with every kind of churn, adversary and protocol parameter, and (each in
some scenarios) skewed clocks, repair models, partial droppers, volume sizes and warm-up.
--long: the same scenarios cut to at most 150 nodes and stretched over 8 to 40 days
(outages and partitions anywhere in them, at most 40 sampled restores), so contracts end,
renew and lapse within a run.
"""
import json, os, random, subprocess, sys, tempfile


def dist(r, lo, hi):
    c = r.choice(["fixed", "uniform", "exponential", "weibull", "lognormal", "choice"])
    if c == "fixed":
        return {"dist": "fixed", "value": r.uniform(lo, hi)}
    if c == "uniform":
        a = r.uniform(lo, hi)
        return {"dist": "uniform", "min": a, "max": r.uniform(a, hi)}
    if c == "exponential":
        return {"dist": "exponential", "mean": r.uniform(lo, hi)}
    if c == "weibull":
        return {"dist": "weibull", "shape": r.uniform(0.3, 3), "scale": r.uniform(lo, hi)}
    if c == "lognormal":
        return {"dist": "lognormal", "median": r.uniform(lo, hi), "sigma": r.uniform(0, 1.5)}
    return {"dist": "choice", "values": [r.uniform(lo, hi) for _ in range(r.randint(1, 4))]}


def faults(r, hours_max):
    return [{"at_day": r.uniform(0, 3), "fraction": r.uniform(0, 0.6), "duration_hours": r.uniform(0, hours_max)}
            for _ in range(r.randint(0, 2))]


def scenario(seed):
    r = random.Random(seed)
    k = r.randint(1, 8)
    n = r.randint(k + 1, min(64, k + r.randint(1, 10)))
    return {
        "name": f"random-{seed}", "nodes": r.randint(n + 1, 400),
        "duration_days": r.uniform(0.5, 5), "convergence_days": r.choice([0, r.uniform(0.5, 3)]),
        "sample_interval_hours": r.uniform(1, 24), "check_interval_hours": r.uniform(1, 24),
        "offered_gib": dist(r, 5, 500), "backup_gib": dist(r, 0.5, 50), "upload_mbps": dist(r, 1, 300),
        "latency_ms": dist(r, 0, 300), "pack_mib": r.choice([64, 256, 1024, 4096]),
        "restore_samples": r.randint(0, 300), "restore_patience_hours": r.uniform(1, 48),
        "churn": {
            "online_hours": dist(r, 0.5, 100), "offline_hours": dist(r, 0.1, 24),
            "departures_per_day": r.choice([0, r.uniform(0, 0.05)]),
            "disk_failures_per_day": r.choice([0, r.uniform(0, 0.05)]),
            "loss": r.choice([0, r.uniform(0, 0.2)]),
            "correlated": faults(r, 100), "partitions": faults(r, 50),
        },
        "adversaries": {kind: r.uniform(0, 0.1) for kind in ["droppers", "liars", "early_freers", "refusers"]},
        "protocol": {
            "k": k, "n": n, "repair_trigger": r.randint(k + 1, n), "segments_per_shard": r.choice([1, 2, 3, 8, 17, 64]),
            "challenge_interval_hours": r.uniform(0.5, 48), "heartbeat_minutes": r.uniform(10, 120),
            "uptime_window_hours": r.uniform(4, 48), "uptime_threshold": r.uniform(0.3, 1),
            "grace_days": r.uniform(0, 10), "repair_interval_hours": r.uniform(0.5, 24),
            "reciprocity_ratio": r.uniform(0.5, 3), "contract_term_days": r.uniform(1, 30),
            "blind_repair_after_hours": r.uniform(1, 96), "warn_strikes": r.randint(1, 3),
            "exclude_strikes": r.randint(3, 6),
        },
        "signatures": r.choice(["digest", "ed25519"]),
    } | extras(seed, k)


def extras(seed, k):
    """Keys drawn from a stream of their own (so the keys above stay what they were for
    every seed): skewed and drifting clocks, repair models, partial droppers, volume sizes
    and a warm-up; each present in about half the scenarios."""
    r = random.Random(seed * 7919 + 17)
    out = {}
    if r.random() < 0.5:
        out["volume_gib"] = r.choice([0.25, 1, 4, 64])
    if r.random() < 0.3:
        out["warmup_days"] = r.uniform(0, 0.4)
    if r.random() < 0.4:
        out["clocks"] = {"offset_s": dist(r, 0, 120), "drift_ppm": dist(r, 0, 200)}
    if r.random() < 0.3:
        out["repair"] = r.choice(["off", {"rate_per_day": r.uniform(0.5, 20)}, {"delay_hours": r.uniform(0, 24)}])
    return out


def with_drop_fraction(s, seed):
    """Partial droppers in about a third of the scenarios: a multiple of 1/segments (and
    enough segments that none is over the 4 GiB a challenge can name)."""
    r = random.Random(seed * 104729 + 3)
    shard = -(-s["pack_mib"] * 1024 * 1024 // s["protocol"]["k"])
    s["protocol"]["segments_per_shard"] = max(s["protocol"]["segments_per_shard"], -(-shard // (2**32 - 1)))
    if r.random() < 0.35:
        segments = s["protocol"]["segments_per_shard"]
        s["adversaries"]["drop_fraction"] = r.randint(1, segments) / segments
    if "clocks" in s and r.random() < 0.7:
        s["protocol"]["max_clock_skew_s"] = r.uniform(30, 600)
    # The uptime window holds at most 256 heartbeat slots: a long window with short
    # heartbeats (up to 288 slots as drawn) is refused by the simulator, so the heartbeat is
    # lengthened just enough. Seeds that drew a valid pair keep it.
    p = s["protocol"]
    p["heartbeat_minutes"] = max(p["heartbeat_minutes"], p["uptime_window_hours"] * 60 / 255.5)
    return s


def stretched(s, seed):
    """--long: at most 150 nodes over 8 to 40 days (a draw stream of its own)."""
    r = random.Random(seed + 555)
    s["nodes"] = min(s["nodes"], r.randint(s["protocol"]["n"] + 2, 150))
    s["duration_days"] = r.uniform(8, 40)
    s["restore_samples"] = min(s["restore_samples"], 40)
    for f in s["churn"]["correlated"] + s["churn"]["partitions"]:
        f["at_day"] = r.uniform(0, s["duration_days"])
    return s


def main():
    long = "--long" in sys.argv
    sys.argv = [a for a in sys.argv if a != "--long"]
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cairn = sys.argv[1]
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120
    folder = tempfile.mkdtemp(prefix="cairn-random-")
    failed = 0
    for seed in range(first, first + count):
        path = os.path.join(folder, f"random-{seed}.json")
        with open(path, "w") as f:
            drawn = with_drop_fraction(scenario(seed), seed)
            json.dump(stretched(drawn, seed) if long else drawn, f, indent=1)
        try:
            run = subprocess.run([cairn, "simulate", path, "--seed", str(seed), "--no-progress"],
                                 capture_output=True, text=True, timeout=timeout)
            status, out = run.returncode, run.stdout + run.stderr
        except subprocess.TimeoutExpired:
            status, out = "timeout", ""
        if status == 0:
            os.remove(path)
            print(f"seed {seed}: ok")
            continue
        failed += 1
        lines = [l for l in out.splitlines() if "INVARIANT" in l or "EXPECTATION" in l or "error" in l][:3]
        print(f"seed {seed}: FAILED ({status}) {path}")
        for l in lines:
            print("   " + l[:300])
    print(f"{failed} of {count} failed; failing scenarios kept in {folder}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Markdown tables from bench/run.sh's results.tsv and limits.tsv (called by run.sh).

Usage: report.py RESULTS.tsv LIMITS.tsv

One table per corpus and scenario: one row per tool with medians over the runs
(ranges in brackets when there was more than one run), and efs2s3's ratio to the
tool (efs2s3 with an S3 repository divided by the tool: below 1 means efs2s3 is
faster, smaller or makes fewer requests)."""
import statistics
import sys
from collections import defaultdict

COLS = ("corpus scen tool run rc wall user sys rss_kb objects bytes req put get head "
        "list other fs_ops fs_stat fs_open fs_inflight").split()
SCENARIOS = {"first": "first backup", "nochange": "no-change backup",
             "changed": "backup after 1 % of files changed", "restore": "restore"}


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def med(rows, key):
    vals = [num(r[key]) for r in rows if num(r[key]) is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def fmt(rows, key, scale=1.0, digits=1):
    m, lo, hi = med(rows, key)
    if m is None:
        return "-"
    s = f"{m / scale:.{digits}f}"
    if len(rows) > 1 and lo != hi:
        s += f" [{lo / scale:.{digits}f}-{hi / scale:.{digits}f}]"
    return s


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def main():
    results = [dict(zip(COLS, line.rstrip("\n").split("\t")))
               for line in open(sys.argv[1]) if line.strip()]
    for r in results:
        r["cpu"] = str(float(r["user"]) + float(r["sys"]))
    limits = [line.rstrip("\n").split("\t") for line in open(sys.argv[2]) if line.strip()]
    print("Machine limits measured in this run:\n")
    print("| limit | rate | unit |\n|---|---|---|")
    for name, rate, unit in limits:
        print(f"| {name} | {rate} | {unit} |")
    print()
    groups = defaultdict(list)
    for r in results:
        groups[(r["corpus"], r["scen"], r["tool"])].append(r)
    for corpus in dict.fromkeys(r["corpus"] for r in results):
        for scen, title in SCENARIOS.items():
            tools = [t for (c, s, t) in groups if c == corpus and s == scen]
            if not tools:
                continue
            base = groups.get((corpus, scen, "efs2s3"), [])
            runs = max(len(groups[(corpus, scen, t)]) for t in tools)
            print(f"#### Corpus {corpus}: {title} ({runs} run{'s' if runs > 1 else ''})\n")
            fs = any(r["fs_ops"] not in ("-", "") for t in tools for r in groups[(corpus, scen, t)])
            head = ("| tool | exit | wall s | CPU s | peak RSS MiB | S3 objects | stored MiB "
                    "| requests (PUT) |")
            if fs:
                head += " FS ops (stat, open; max in flight) |"
            head += " efs2s3 ÷ tool: wall, CPU, RSS, PUTs |"
            print(head)
            print("|" + "---|" * (head.count("|") - 1))
            for t in tools:
                rows = groups[(corpus, scen, t)]
                exits = ",".join(sorted({r["rc"] for r in rows}))
                line = (f"| {t} | {exits} | {fmt(rows, 'wall')} | {fmt(rows, 'cpu')} "
                        f"| {fmt(rows, 'rss_kb', 1024, 0)} | {fmt(rows, 'objects', 1, 0)} "
                        f"| {fmt(rows, 'bytes', 1 << 20)} | {fmt(rows, 'req', 1, 0)} "
                        f"({fmt(rows, 'put', 1, 0)}) |")
                if fs:
                    line += (f" {fmt(rows, 'fs_ops', 1, 0)} ({fmt(rows, 'fs_stat', 1, 0)}, "
                             f"{fmt(rows, 'fs_open', 1, 0)}; {fmt(rows, 'fs_inflight', 1, 0)}) |")
                if base and t != "efs2s3":
                    rs = [ratio(med(base, k)[0], med(rows, k)[0])
                          for k in ("wall", "cpu", "rss_kb", "put")]
                    line += f" {', '.join(rs)} |"
                else:
                    line += " |"
                print(line)
            print()
    targets(results, limits, sys.argv[1])


def corpus_bytes(results_path, corpus):
    """Size of BENCH_DIR/src/corpora/CORPUS (the input of a backup), or None."""
    import os
    src = os.environ.get("BENCH_SRCROOT") or os.path.join(
        os.path.dirname(os.path.abspath(results_path)), "src")
    root = os.path.join(src, "corpora", corpus)
    if not os.path.isdir(root):
        return None
    total = 0
    for d, _, files in os.walk(root):
        for f in files:
            total += os.lstat(os.path.join(d, f)).st_size
    return total


def targets(results, limits, results_path):
    """Issue 5's targets against this run: met, or missed by how much."""
    groups = defaultdict(list)
    for r in results:
        groups[(r["corpus"], r["scen"], r["tool"])].append(r)
    latency = any("latencyfs" in name for name, _, _ in limits)
    rows = []

    def wall_ratio(corpus, scen, target, what):
        a, b = groups.get((corpus, scen, "efs2s3")), groups.get((corpus, scen, "restic"))
        if not a or not b:
            return
        x, y = med(a, "wall")[0], med(b, "wall")[0]
        r = x / y
        status = "met" if r <= target else f"missed by {r / target:.2f}x"
        rows.append((what, f"{target}x restic", f"{x:.1f} s vs {y:.1f} s = {r:.3f}x", status))

    if latency:
        wall_ratio("B", "first", 0.2, "B through the stand-in: first backup")
        wall_ratio("B", "nochange", 0.1, "B through the stand-in: no-change backup")
    else:
        wall_ratio("A", "first", 0.5, "A on local disk: first backup")
        wall_ratio("A", "restore", 0.5, "A on local disk: restore")
    first = groups.get(("C", "first", "efs2s3"))
    size = corpus_bytes(results_path, "C") if first else None
    if first and size:
        rate = size / med(first, "wall")[0] / 1e6
        lims = {}
        stored = med(first, "bytes")[0]
        for name, value, unit in limits:
            if "corpus C" in name:
                v = value.split(",")[-1].strip()  # "N files/s, M" -> M
                lims[name] = float(v)
            elif name.startswith("S3 PUT 16 MiB") and stored:
                # The server's rate of stored bytes, in bytes of input.
                lims[f"{name} (x {size / stored:.2f} input/stored)"] = float(value) * size / stored
        if lims:
            slowest = min(lims, key=lims.get)
            share = rate / lims[slowest]
            status = "met" if share >= 0.8 else f"missed by {0.8 / share:.2f}x"
            rows.append(("C: first backup rate vs the slowest limit", "80 %",
                         f"{rate:.0f} MB/s of {lims[slowest]:.0f} MB/s ({slowest}) = {100 * share:.0f} %",
                         status))
    worse_rss, worse_put, n_rss, n_put = [], [], 0, 0
    for (c, scen, t), a in sorted(groups.items()):
        if t != "efs2s3":
            continue
        b = groups.get((c, scen, "restic"))
        if not b:
            continue
        n_rss += 1
        x, y = med(a, "rss_kb")[0], med(b, "rss_kb")[0]
        if x > y:
            worse_rss.append(f"{c} {scen} {x / 1024:.0f} vs {y / 1024:.0f} MiB")
        if scen != "restore":
            n_put += 1
            x, y = med(a, "put")[0], med(b, "put")[0]
            if x > y:
                worse_put.append(f"{c} {scen} {x:.0f} vs {y:.0f}")
    if n_rss:
        rows.append(("peak RSS at most restic's", "every scenario",
                     f"{n_rss - len(worse_rss)} of {n_rss} scenarios" +
                     (f"; above: {'; '.join(worse_rss)}" if worse_rss else ""),
                     "met" if not worse_rss else f"missed on {len(worse_rss)}"))
    if n_put:
        rows.append(("S3 PUT requests at most restic's", "every backup",
                     f"{n_put - len(worse_put)} of {n_put} backups" +
                     (f"; above: {'; '.join(worse_put)}" if worse_put else ""),
                     "met" if not worse_put else f"missed on {len(worse_put)}"))
    if not rows:
        return
    print("#### Targets of issue 5 in this run (medians)\n")
    print("| target | goal | measured | status |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


if __name__ == "__main__":
    main()

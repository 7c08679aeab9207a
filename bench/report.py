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


if __name__ == "__main__":
    main()

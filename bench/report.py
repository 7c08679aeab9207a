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
    targets20(results, limits, sys.argv[1])


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


def machine_load(results_path, corpus, scen, tool):
    """Medians over the runs of (share of the machine's CPU busy, radosgw CPU s,
    latencyfs CPU s) while TOOL ran SCEN on CORPUS (machine.tsv of run.sh), or None."""
    import os
    import statistics
    path = os.path.join(os.path.dirname(os.path.abspath(results_path)), "machine.tsv")
    if not os.path.exists(path):
        return None
    rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
    rows = [r for r in rows if r[:3] == [corpus, scen, tool]]
    if not rows:
        return None
    return tuple(statistics.median(float(r[i]) for r in rows) for i in (4, 5, 6))


def corpus_c_share(groups, limits, results_path, tool):
    """("R MB/s of L MB/s (limit) = P %", share) of tool's first backup of C against
    the slowest of C's read limit and the server's PUT rate, or None."""
    first = groups.get(("C", "first", tool))
    size = corpus_bytes(results_path, "C") if first else None
    if not first or not size:
        return None
    rate = size / med(first, "wall")[0] / 1e6
    lims = {}
    stored = med(first, "bytes")[0]
    for name, value, unit in limits:
        if "corpus C" in name:
            v = value.split(",")[-1].strip()  # "N files/s, M" -> M
            lims[name] = float(v)
        elif name.startswith("S3 PUT 16 MiB") and stored and tool != "efs2s3-local":
            # The server's rate of stored bytes, in bytes of input.
            lims[f"{name} (x {size / stored:.2f} input/stored)"] = float(value) * size / stored
    if not lims:
        return None
    slowest = min(lims, key=lims.get)
    share = rate / lims[slowest]
    return (f"{rate:.0f} MB/s of {lims[slowest]:.0f} MB/s ({slowest}) = {100 * share:.0f} %",
            share)


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
    c_share = corpus_c_share(groups, limits, results_path, "efs2s3")
    if c_share:
        text, share = c_share
        status = "met" if share >= 0.8 else f"missed by {0.8 / share:.2f}x"
        rows.append(("C: first backup rate vs the slowest limit", "80 %", text, status))
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


def targets20(results, limits, results_path):
    """Issue 20's targets against this run, every one of them: met, missed (by how
    much), or not measured (which corpus or setting the run lacked)."""
    groups = defaultdict(list)
    for r in results:
        groups[(r["corpus"], r["scen"], r["tool"])].append(r)
    latency = any("latencyfs" in name for name, _, _ in limits)
    corpora = list(dict.fromkeys(r["corpus"] for r in results))
    rows = []

    def status(ok, miss):
        return "met" if ok else f"missed by {miss:.2f}x"

    # Peak RSS: every efs2s3 tool, corpus and scenario against restic with the same
    # kind of repository (restic-local for efs2s3-local when the run has it).
    for tool, peers in (("efs2s3", ("restic",)), ("efs2s3-local", ("restic-local", "restic"))):
        for c in corpora:
            for scen, title in SCENARIOS.items():
                peer = next((p for p in peers if (c, scen, p) in groups), None)
                a, b = groups.get((c, scen, tool)), groups.get((c, scen, peer))
                if not a or not b:
                    continue
                x, y = med(a, "rss_kb")[0], med(b, "rss_kb")[0]
                rows.append((f"peak RSS, {tool}, corpus {c}, {title}", f"<= 1.0x {peer}",
                             f"{x / 1024:.0f} vs {y / 1024:.0f} MiB = {x / y:.2f}x",
                             status(x <= y, x / y)))
    if not any(r[0].startswith("peak RSS") for r in rows):
        rows.append(("peak RSS on every corpus and scenario", "<= 1.0x restic",
                     "not measured (needs efs2s3 or efs2s3-local and restic)", "-"))

    # Corpus A: the first backup's rate against efs2s3's own CPU limit on A.
    tool = next((t for t in ("efs2s3-local", "efs2s3") if ("A", "first", t) in groups), None)
    lim = next((float(v) for n, v, _ in limits
                if n.startswith("efs2s3 chunk+hash+compress+encrypt, corpus A")), None)
    size = corpus_bytes(results_path, "A") if tool else None
    if tool and lim and size:
        rate = size / med(groups[("A", "first", tool)], "wall")[0] / 1e6
        rows.append((f"A first backup ({tool}) vs its cpulimit rate", ">= 60 %",
                     f"{rate:.0f} of {lim:.0f} MB/s = {100 * rate / lim:.0f} %",
                     status(rate >= 0.6 * lim, 0.6 * lim / rate)))
    else:
        rows.append(("A first backup vs its cpulimit rate", ">= 60 %",
                     "not measured (corpus A not in this run)", "-"))

    # Restore time against restic's with the same kind of repository, per corpus
    # (A is the one the issue names).
    n_restore = 0
    for c in corpora:
        for tool, peer in (("efs2s3", "restic"), ("efs2s3-local", "restic-local")):
            a, b = groups.get((c, "restore", tool)), groups.get((c, "restore", peer))
            if not a or not b:
                continue
            x, y = med(a, "wall")[0], med(b, "wall")[0]
            n_restore += 1
            rows.append((f"restore, corpus {c} ({tool})", f"<= 0.5x {peer}",
                         f"{x:.1f} s vs {y:.1f} s = {x / y:.2f}x",
                         status(x <= 0.5 * y, x / y / 0.5)))
    if not n_restore:
        rows.append(("restore time", "<= 0.5x restic",
                     "not measured (needs efs2s3 and restic, or efs2s3-local and restic-local)",
                     "-"))

    # Corpus C: the first backup against the slowest limit.
    tool = next((t for t in ("efs2s3", "efs2s3-local") if ("C", "first", t) in groups), None)
    share = corpus_c_share(groups, limits, results_path, tool) if tool else None
    if share:
        text = share[0]
        load = machine_load(results_path, "C", "first", tool)
        if load:
            # Every limit above was measured alone, on every core; in the backup the
            # tool, the server and the stand-in share the cores.
            cpu = med(groups[("C", "first", tool)], "cpu")[0]
            text += (f"; the cores were {100 * load[0]:.0f} % busy meanwhile ({tool} "
                     f"{cpu:.1f} s, radosgw {load[1]:.1f} s, latencyfs {load[2]:.1f} s of CPU)")
        rows.append((f"C first backup ({tool}) vs the slowest limit", ">= 80 %", text,
                     status(share[1] >= 0.8, 0.8 / share[1])))
    else:
        rows.append(("C first backup vs the slowest limit", ">= 80 %",
                     "not measured (corpus C not in this run)", "-"))

    # Corpus B through the 1 ms stand-in.
    for scen, goal in (("first", 0.2), ("nochange", 0.1)):
        what = f"B through the stand-in, {SCENARIOS[scen]}"
        a, b = groups.get(("B", scen, "efs2s3")), groups.get(("B", scen, "restic"))
        if latency and a and b:
            x, y = med(a, "wall")[0], med(b, "wall")[0]
            rows.append((what, f"<= {goal}x restic", f"{x:.1f} s vs {y:.1f} s = {x / y:.3f}x",
                         status(x <= goal * y, x / y / goal)))
        else:
            rows.append((what, f"<= {goal}x restic",
                         "not measured (needs LATENCY=1, corpus B, efs2s3 and restic)", "-"))

    print("#### Targets of issue 20 in this run (medians)\n")
    print("| target | goal | measured | status |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


if __name__ == "__main__":
    main()

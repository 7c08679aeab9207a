#!/usr/bin/env python3
"""Independent check of the forget policy golden files.

Recomputes every <name>.txt in this directory from snapshots.txt and the policy in
its header, straight from the specification in docs/FORGET.md, and reports any
difference. It shares no code with the C++ implementation and deliberately works the
other way round: for each rule it first forms all buckets, then picks the N newest
buckets, rather than streaming over the snapshots.

    python3 check_golden.py            # exit status 0 if all golden files agree

Spec recap: snapshots are grouped; within a group, a bucket (the snapshot itself for
"last", else its UTC hour / day / ISO week / month / year) keeps its newest snapshot;
a count N keeps the N newest buckets (negative: all); keep-within keeps snapshots
strictly less than the duration older than the group's newest; keep-tag "a,b" keeps
snapshots having all of a and b; rules combine as a union; ties in time go to the
smaller id; no rule at all keeps everything.
"""
import datetime as dt
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = ["last", "hourly", "daily", "weekly", "monthly", "yearly"]


def load_snapshots():
    snaps = []
    with open(os.path.join(HERE, "snapshots.txt")) as f:
        for line in f:
            sid, time, host, paths, tags = line.split()
            t = dt.datetime.strptime(time, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.timezone.utc)
            snaps.append(dict(id=sid, time=t, host=host, paths=paths.split(","),
                              tags=[] if tags == "-" else tags.split(",")))
    return snaps


def bucket(rule, s):
    t = s["time"]
    if rule == "last":
        return s["id"]
    if rule == "hourly":
        return (t.year, t.month, t.day, t.hour)
    if rule == "daily":
        return t.date()
    if rule == "weekly":
        iso = t.isocalendar()
        return (iso[0], iso[1])
    if rule == "monthly":
        return (t.year, t.month)
    return t.year


def parse_within(text):
    units = {"d": 86400, "h": 3600, "s": 1}
    terms = re.findall(r"(\d+)([dhs])", text)
    assert "".join(n + u for n, u in terms) == text, text
    return dt.timedelta(seconds=sum(int(n) * units[u] for n, u in terms))


def parse_header(lines):
    header = {}
    for line in lines:
        if line.startswith("# ") and ": " in line:
            key, value = line[2:].split(": ", 1)
            header[key] = value
    counts, within, tags = {}, None, []
    flags = header["policy"].split()
    if flags != ["(none)"]:
        for flag, value in zip(flags[::2], flags[1::2]):
            name = flag[len("--keep-"):]
            if name in RULES:
                counts[name] = int(value)
            elif name == "within":
                within = parse_within(value)
            elif name == "tag":
                tags.append(value)
            else:
                raise ValueError(flag)
    group_by = [g for g in header["group-by"].split(",") if g]
    assert header["time zone"] == "UTC"
    return counts, within, tags, group_by


def group_key(s, group_by):
    key = []
    if "host" in group_by:
        key.append(("host", s["host"]))
    if "paths" in group_by:
        key.append(("paths", tuple(sorted(set(s["paths"])))))
    if "tags" in group_by:
        key.append(("tags", tuple(sorted(set(s["tags"])))))
    return tuple(key)


def decide(group, counts, within, tags):
    """Returns {id: [reasons]} for the kept snapshots of one group."""
    group = sorted(group, key=lambda s: (-s["time"].timestamp(), s["id"]))
    reasons = {s["id"]: [] for s in group}
    empty = not any(counts.values()) and within is None and not tags
    if empty:
        return {sid: ["empty policy"] for sid in reasons}
    for rule in RULES:
        n = counts.get(rule, 0)
        if n == 0:
            continue
        newest_of_bucket = {}
        for s in group:  # newest first: the first one seen is the newest
            newest_of_bucket.setdefault(bucket(rule, s), s)
        chosen = list(newest_of_bucket.values())  # insertion order = newest first
        if n > 0:
            chosen = chosen[:n]
        for s in chosen:
            reasons[s["id"]].append(rule + " snapshot")
    if within is not None:
        newest = group[0]["time"]
        for s in group:
            if s["time"] > newest - within:
                reasons[s["id"]].append("within " + fmt_duration(within))
    for entry in tags:
        need = [t for t in entry.split(",") if t]
        for s in group:
            if all(t in s["tags"] for t in need):
                reasons[s["id"]].append("tag " + ",".join(need))
    return {sid: r for sid, r in reasons.items() if r}


def fmt_duration(d):
    secs = int(d.total_seconds())
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    out = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    return out + (f"{rest}s" if rest or not out else "")


def render(header_lines, snaps, counts, within, tags, group_by):
    groups = {}
    for s in snaps:
        groups.setdefault(group_key(s, group_by), []).append(s)
    body, kept_total, removed_total = [], 0, 0
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda s: (-s["time"].timestamp(), s["id"]))
        kept = decide(group, counts, within, tags)
        title = "group" + "".join(
            " %s=%s" % (name, value if name == "host" else ",".join(value))
            for name, value in key)
        body.append("")
        body.append(title if group_by else "group (all)")
        for s in group:
            line = "%s %s %s %s %s %s" % (
                "keep  " if s["id"] in kept else "remove",
                s["time"].strftime("%Y-%m-%dT%H:%M:%SZ"), s["id"], s["host"],
                ",".join(s["paths"]), ",".join(s["tags"]) or "-")
            if s["id"] in kept:
                line += " | " + ", ".join(kept[s["id"]])
                kept_total += 1
            else:
                removed_total += 1
            body.append(line)
    empty = not any(counts.values()) and within is None and not tags
    head = [l for l in header_lines if not l.startswith(("# kept", "# policy empty"))]
    head.append("# policy empty: " + ("yes" if empty else "no"))
    head.append("# kept %d, removed %d" % (kept_total, removed_total))
    return "\n".join(head + body) + "\n"


def main():
    snaps = load_snapshots()
    names = sorted(n for n in os.listdir(HERE)
                   if n.endswith(".txt") and n != "snapshots.txt")
    failures = 0
    for name in names:
        with open(os.path.join(HERE, name)) as f:
            text = f.read()
        lines = text.split("\n")
        header_lines = []
        for line in lines:
            if not line.startswith("#"):
                break
            header_lines.append(line)
        counts, within, tags, group_by = parse_header(header_lines)
        expected = render(header_lines, snaps, counts, within, tags, group_by)
        if expected == text:
            print("ok      %s" % name)
        else:
            failures += 1
            print("DIFFERS %s" % name)
            for a, b in zip(expected.split("\n"), lines):
                if a != b:
                    print("  checker: %s\n  golden:  %s" % (a, b))
                    break
    print("%d golden files, %d differ" % (len(names), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

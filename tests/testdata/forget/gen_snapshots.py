#!/usr/bin/env python3
"""Writes snapshots.txt, the fixed snapshot list of the forget policy golden tests.

Run once; the output is committed and the tests never regenerate it. The list spans
2019-2024 with gaps, bursts of several snapshots a day around two new years (ISO week
2020-W53 and 2025-W01), two snapshots with the same time, and three hosts/path sets.

Line format: <id> <time, UTC, RFC 3339> <host> <paths, comma-separated> <tags or ->
"""
import datetime as dt
import os
import random

UTC = dt.timezone.utc
rng = random.Random(20240101)
entries = []  # (time, host, paths, tags)


def add(t, host, paths, tags):
    entries.append((t, host, paths, tags))


def day_range(start, end):
    d = start
    while d <= end:
        yield d
        d += dt.timedelta(days=1)


def in_gap(d):
    return (dt.date(2020, 4, 10) <= d <= dt.date(2020, 7, 20) or
            dt.date(2022, 2, 1) <= d <= dt.date(2022, 2, 20))


def in_burst(d):
    return (dt.date(2020, 12, 26) <= d <= dt.date(2021, 1, 5) or
            dt.date(2023, 12, 20) <= d <= dt.date(2024, 1, 5) or
            dt.date(2024, 12, 27) <= d <= dt.date(2024, 12, 31))


# alpha:/data, the main series: every 2-6 days, bursts of several a day, gaps.
d = dt.date(2019, 1, 2)
end = dt.date(2024, 12, 31)
while d <= end:
    if in_burst(d):
        hour = rng.randint(0, 4)
        while hour < 24:
            t = dt.datetime(d.year, d.month, d.day, hour, rng.randint(0, 59),
                            rng.randint(0, 59), tzinfo=UTC)
            add(t, "alpha", ["/data"], ["prod"] if d.year >= 2022 else [])
            hour += rng.randint(3, 7)
        d += dt.timedelta(days=1)
        continue
    if not in_gap(d):
        t = dt.datetime(d.year, d.month, d.day, 2, rng.randint(0, 59),
                        rng.randint(0, 59), tzinfo=UTC)
        tags = []
        if d.year >= 2022:
            tags.append("prod")
        if rng.random() < 0.06:
            tags.append("manual")
        add(t, "alpha", ["/data"], tags)
        if rng.random() < 0.15:  # a second run the same afternoon
            add(t + dt.timedelta(hours=12, minutes=rng.randint(0, 30)), "alpha",
                ["/data"], list(tags))
    d += dt.timedelta(days=rng.randint(2, 6))

# Two snapshots with the same start time (ties are ordered by id).
add(dt.datetime(2024, 6, 15, 12, 0, 0, tzinfo=UTC), "alpha", ["/data"],
    ["prod", "manual"])
add(dt.datetime(2024, 6, 15, 12, 0, 0, tzinfo=UTC), "alpha", ["/data"], ["prod"])

# alpha:/etc, monthly on the first at 03:00, 2021-2024.
for year in range(2021, 2025):
    for month in range(1, 13):
        add(dt.datetime(year, month, 1, 3, 0, 0, tzinfo=UTC), "alpha", ["/etc"],
            ["prod"] if year >= 2022 else [])

# beta:/home,/srv, Sunday evenings 2022-2024; paths recorded in either order.
for day in day_range(dt.date(2022, 1, 2), dt.date(2024, 12, 29)):
    if day.weekday() != 6 or rng.random() < 0.1:
        continue
    t = dt.datetime(day.year, day.month, day.day, 22, rng.randint(0, 59), 0,
                    tzinfo=UTC)
    paths = ["/home", "/srv"] if rng.random() < 0.5 else ["/srv", "/home"]
    tags = ["db"] if rng.random() < 0.3 else []
    if rng.random() < 0.05:
        tags.append("manual")
    add(t, "beta", paths, tags)

# Ids in a shuffled order, so that no test can rely on ids following time.
rng.shuffle(entries)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "snapshots.txt"), "w") as f:
    for i, (t, host, paths, tags) in enumerate(entries):
        f.write("s%04d %s %s %s %s\n" % (i + 1, t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                         host, ",".join(paths),
                                         ",".join(tags) if tags else "-"))

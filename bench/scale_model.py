#!/usr/bin/env python3
"""The planning model of docs/SCALE.md: workers for a window, and the cost of a run.

  bench/scale_model.py            the tables of docs/SCALE.md (Markdown)
  bench/scale_model.py --json     the same figures as JSON

Every input is a named constant below, with where it comes from; change them (for
example to the measured per-worker rates of docs/BENCHMARKS.md, "Sharded backup
(issue 17)") and run it again.
"""
import json
import math
import sys

GB = 1e9
MiB = 2**20
GiB = 2**30

# ---- One worker: a Fargate task of WORKER_VCPU vCPUs (docs/BENCHMARKS.md).
WORKER_VCPU = 4
WORKER_GB = 8
# New data: corpus C's first backup through the 1 ms stand-in, 3 GiB in 13.7 s with
# 14.0 s of efs2s3 CPU ("Corpus C again", first backup): 235 MB/s per core used;
# planned at 200 MB/s per vCPU.
NEW_BYTES_PER_VCPU = 200e6
# New small files: corpus B's first backup, 100,000 files in 26.9 s on 2 cores shared
# with the stand-in and the S3 server (3,717 files/s), 232 us of efs2s3 CPU per file;
# planned at 2,000 files/s per vCPU.
NEW_FILES_PER_VCPU = 2000
# ...and at most what the walk keeps in flight allows: 39 operations in flight at
# 1 ms and 4.1 operations per new file (413,028 for 100,000) = 9,500 files/s.
NEW_FILES_LATENCY_CAP = 9500
# Unchanged files: corpus B's no-change backup, 100,000 files in 8.4 s (11,900/s,
# 1.04 operations per file, 41 in flight); planned at 10,000 files/s per worker (the
# latency, not the CPU, bounds it).
UNCHANGED_FILES_PER_WORKER = 10000
OPS_PER_NEW_FILE = 4.1
OPS_PER_UNCHANGED_FILE = 1.04
# The run's share that is not per-file or per-byte work (start, index load, merge),
# and a margin for stragglers: workers = ceil(MARGIN * work / window).
MARGIN = 1.25

# ---- EFS (AWS documentation, "Amazon EFS performance" and "Amazon EFS quotas",
# read 2026-12; Regional file system, General Purpose mode, Elastic throughput).
EFS_PER_CLIENT = 1500 * MiB          # per client (one worker), Elastic
EFS_PER_CLIENT_BURSTING = 500 * MiB  # Bursting or Provisioned
EFS_READ_PER_FS = 20 * GiB           # 3-20 GiB/s by Region: the largest Regions
EFS_READ_PER_FS_SMALL_REGION = 3 * GiB
EFS_READ_IOPS = 250000               # frequently accessed data (default quota)
EFS_READ_IOPS_IA = 90000             # data in Infrequent Access
EFS_READ_IOPS_BURSTING = 55000       # Bursting or Provisioned
# Elastic throughput is metered per GB read; each metadata request counts as 4 KiB.
EFS_ELASTIC_READ_PER_GB = 0.03       # us-east-1
EFS_METERED_OP_BYTES = 4096

# ---- S3 (us-east-1): packs of 16 MiB under data/XX/ (256 prefixes, docs/FORMAT.md).
PACK_BYTES = 16 * MiB
S3_PUT_PER_1000 = 0.005
S3_PUTS_PER_PREFIX = 3500
S3_PREFIXES = 256

# ---- Fargate (us-east-1, Linux/x86, per hour; Linux/ARM is 20 % less).
FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445

SIZES = [("1 TB", 1e12, 1e6), ("10 TB", 10e12, 10e6), ("100 TB", 100e12, 100e6),
         ("400 TB", 400e12, 500e6)]
WINDOWS_H = [4, 24]
CHANGED = 0.01  # an incremental run: 1 % of files and bytes new


def worker_rates():
    new_bytes = min(WORKER_VCPU * NEW_BYTES_PER_VCPU, EFS_PER_CLIENT)
    new_files = min(WORKER_VCPU * NEW_FILES_PER_VCPU, NEW_FILES_LATENCY_CAP)
    return new_bytes, new_files, UNCHANGED_FILES_PER_WORKER


def run(kind, size_bytes, files):
    """Worker-seconds of work, bytes read and operations for one run."""
    new_bytes, new_files, unchanged = worker_rates()
    if kind == "first":
        b, f_new, f_same = size_bytes, files, 0
    else:
        b, f_new, f_same = CHANGED * size_bytes, CHANGED * files, (1 - CHANGED) * files
    work = b / new_bytes + f_new / new_files + f_same / unchanged
    ops = f_new * OPS_PER_NEW_FILE + f_same * OPS_PER_UNCHANGED_FILE
    return work, b, ops


def plan(kind, size_bytes, files, window_h):
    work, b, ops = run(kind, size_bytes, files)
    window = window_h * 3600
    workers = max(1, math.ceil(MARGIN * work / window))
    # What no number of workers can beat: the file system's throughput and IOPS.
    floor_s = max(b / EFS_READ_PER_FS, ops / EFS_READ_IOPS)
    floor_small = max(b / EFS_READ_PER_FS_SMALL_REGION, ops / EFS_READ_IOPS_IA)
    worker_hours = work / 3600
    compute = worker_hours * (WORKER_VCPU * FARGATE_VCPU_HOUR + WORKER_GB * FARGATE_GB_HOUR)
    efs = (b + ops * EFS_METERED_OP_BYTES) / GB * EFS_ELASTIC_READ_PER_GB
    puts = b / PACK_BYTES * 1.05  # packs, and about 5 % more: trees, indexes
    s3 = puts / 1000 * S3_PUT_PER_1000
    return {"kind": kind, "workers": workers, "work_h": work / 3600,
            "wall_h": MARGIN * work / workers / 3600, "floor_h": floor_s / 3600,
            "floor_small_h": floor_small / 3600, "feasible": floor_s <= window,
            "iops": ops / min(window, MARGIN * work / workers),
            "put_rate": puts / min(window, MARGIN * work / workers),
            "compute": compute, "efs": efs, "s3": s3}


def table():
    rows = []
    for name, size, files in SIZES:
        for kind in ("first", "incremental"):
            for w in WINDOWS_H:
                p = plan(kind, size, files, w)
                p.update(size=name, files=files, window_h=w)
                rows.append(p)
    return rows


def markdown(rows):
    out = ["| file system | run | window | workers | worker-hours | EFS floor (20 / 3 GiB/s) "
           "| EFS ops/s | PUT/s | Fargate $ | EFS Elastic reads $ | S3 PUTs $ | total $ |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in rows:
        files = "%g M files" % (p["files"] / 1e6)
        workers = str(p["workers"]) if p["feasible"] else "%d (no: floor)" % p["workers"]
        out.append("| %s, %s | %s | %d h | %s | %.1f | %.1f / %.1f h | %.0f | %.0f | %.2f | %.2f "
                   "| %.2f | %.2f |" % (
                       p["size"], files, p["kind"], p["window_h"], workers, p["work_h"],
                       p["floor_h"], p["floor_small_h"], p["iops"], p["put_rate"],
                       p["compute"], p["efs"], p["s3"], p["compute"] + p["efs"] + p["s3"]))
    return "\n".join(out)


if __name__ == "__main__":
    rows = table()
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=1))
    else:
        nb, nf, nu = worker_rates()
        print("Per worker (%d vCPU, %d GB): %.0f MB/s of new data, %.0f new files/s, "
              "%.0f unchanged files/s; S3 capacity %d PUT/s over %d prefixes.\n" %
              (WORKER_VCPU, WORKER_GB, nb / 1e6, nf, nu,
               S3_PUTS_PER_PREFIX * S3_PREFIXES, S3_PREFIXES))
        print(markdown(rows))

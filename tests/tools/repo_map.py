#!/usr/bin/env python3
"""A map of a small test repository, and what a given damage leaves restorable.

Usage:
  repo_map.py dump EFS2S3 REPO SRC OUT   (password from EFS2S3_PASSWORD)
  repo_map.py locate MAP (--file REL | --tree REL)
  repo_map.py expect MAP [--blob ID] [--pack P] [--cut P SIZE] [--index NAME]
                         [--snapshot ID] [--lost]
  repo_map.py count SRC DIR...

dump walks the repository with the binary (`cat index`, `snapshots`, `cat tree`) and
writes OUT (JSON): every index entry with the index files that name it, and every
tree of every snapshot. SRC is the backed-up directory (an absolute path).

locate prints "BLOB PACK OFFSET LENGTH" of the data blob of the file REL (relative to SRC,
a file of one blob) or of the tree blob of the directory REL ("." is SRC itself),
as the newest snapshot has them.

expect prints how many files below SRC an ideal restore of every readable snapshot
gives back intact after the damage described by the options (each may be repeated):
a blob lost (--blob), every blob of a pack (--pack), the blobs of a pack that end
past SIZE bytes (--cut), the blobs only the index file NAME locates (--index), a
snapshot unreadable (--snapshot). With --lost it prints the paths (relative to SRC)
that are not restorable instead, one per line.

count prints how many files below SRC are found byte for byte at the same relative
path below at least one of the DIRs.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def efs_json(binary: str, repo: str, *args: str):
    out = subprocess.run([binary, "-r", repo, "--json", *args], check=True,
                         stdout=subprocess.PIPE).stdout
    return json.loads(out)


def dump(binary: str, repo: str, src: str, out: str) -> None:
    blobs: dict[str, dict] = {}
    for name in efs_json(binary, repo, "cat", "index"):
        for b in efs_json(binary, repo, "cat", "index", name)["blobs"]:
            entry = blobs.setdefault(b["id"], {k: b[k] for k in (
                "pack", "type", "offset", "length")} | {"index": []})
            entry["index"].append(name)
    snapshots = [{"id": s["id"], "time": s["time"], "tree": s["tree"]}
                 for s in efs_json(binary, repo, "snapshots")]
    trees: dict[str, list] = {}
    todo = [s["tree"] for s in snapshots]
    while todo:
        tid = todo.pop()
        if tid in trees:
            continue
        nodes = efs_json(binary, repo, "cat", "tree", tid)
        nodes = nodes["nodes"] if isinstance(nodes, dict) else nodes
        trees[tid] = [{k: n[k] for k in ("name", "type", "content", "subtree")
                       if k in n} for n in nodes]
        todo.extend(n["subtree"] for n in nodes if "subtree" in n)
    with open(out, "w") as f:
        json.dump({"src": src, "snapshots": snapshots, "blobs": blobs,
                   "trees": trees}, f)


def child(m: dict, tree: str, name: str) -> dict | None:
    return next((n for n in m["trees"][tree] if n["name"] == name), None)


def src_tree(m: dict, snapshot: dict, lost: set[str]) -> str | None:
    """The tree ID of SRC in the snapshot, None when a tree on the way is lost."""
    tid = snapshot["tree"]
    for part in m["src"].strip("/").split("/"):
        if tid in lost:
            return None
        tid = child(m, tid, part)["subtree"]
    return None if tid in lost else tid


def files(m: dict, tid: str, lost: set[str], prefix: str = ""):
    """(relative path, intact) of every file below the tree; a lost subtree's files
    are not listed (they are counted lost against the newest snapshot's list)."""
    for n in m["trees"][tid]:
        rel = prefix + n["name"]
        if n["type"] == "dir":
            if n["subtree"] not in lost:
                yield from files(m, n["subtree"], lost, rel + "/")
        elif n["type"] == "file":
            yield rel, not any(c in lost for c in n.get("content", []))


def all_files(m: dict) -> list[str]:
    newest = max(m["snapshots"], key=lambda s: s["time"])
    return sorted(rel for rel, _ in files(m, src_tree(m, newest, set()), set()))


def newest_tree(m: dict, rel: str) -> str:
    newest = max(m["snapshots"], key=lambda s: s["time"])
    tid = src_tree(m, newest, set())
    for part in [p for p in rel.split("/") if p not in ("", ".")]:
        tid = child(m, tid, part)["subtree"]
    return tid


def locate(m: dict, file: str | None, tree: str | None) -> None:
    if file is not None:
        parent, _, name = file.rpartition("/")
        node = child(m, newest_tree(m, parent), name)
        (blob,) = node["content"]
    else:
        blob = newest_tree(m, tree)
    b = m["blobs"][blob]
    print(blob, b["pack"], b["offset"], b["length"])


def expect(m: dict, a: argparse.Namespace) -> None:
    lost = set(a.blob)
    for bid, b in m["blobs"].items():
        if b["pack"] in a.pack or set(b["index"]) <= set(a.index):
            lost.add(bid)
        for pack, size in a.cut:
            if b["pack"] == pack and b["offset"] + b["length"] > int(size):
                lost.add(bid)
    intact: set[str] = set()
    for s in m["snapshots"]:
        if s["id"] in a.snapshot:
            continue
        tid = src_tree(m, s, lost)
        if tid is not None:
            intact.update(rel for rel, ok in files(m, tid, lost) if ok)
    if a.lost:
        for rel in all_files(m):
            if rel not in intact:
                print(rel)
    else:
        print(len(intact))


def count(src: str, dirs: list[str]) -> None:
    n = 0
    for root, _, names in os.walk(src):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), src)
            with open(os.path.join(src, rel), "rb") as f:
                want = f.read()
            for d in dirs:
                try:
                    with open(os.path.join(d, rel), "rb") as f:
                        if f.read() == want:
                            n += 1
                            break
                except OSError:
                    pass
    print(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    for arg in ("binary", "repo", "src", "out"):
        d.add_argument(arg)
    lo = sub.add_parser("locate")
    lo.add_argument("map")
    g = lo.add_mutually_exclusive_group(required=True)
    g.add_argument("--file")
    g.add_argument("--tree")
    e = sub.add_parser("expect")
    e.add_argument("map")
    for opt in ("blob", "pack", "index", "snapshot"):
        e.add_argument("--" + opt, action="append", default=[])
    e.add_argument("--cut", nargs=2, action="append", default=[])
    e.add_argument("--lost", action="store_true")
    c = sub.add_parser("count")
    c.add_argument("src")
    c.add_argument("dirs", nargs="*")
    a = ap.parse_args()
    if a.cmd == "dump":
        dump(a.binary, a.repo, a.src, a.out)
        return 0
    if a.cmd == "count":
        count(a.src, a.dirs)
        return 0
    with open(a.map) as f:
        m = json.load(f)
    if a.cmd == "locate":
        locate(m, a.file, a.tree)
    else:
        expect(m, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())

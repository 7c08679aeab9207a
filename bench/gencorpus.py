#!/usr/bin/env python3
"""Deterministic benchmark corpora (called by bench/corpus.sh).

  gencorpus.py small DIR --files N [--per-dir 50] [--seed S]
      N files of 1-16 KiB, --per-dir files per directory, directories two levels deep
      (40 top-level directories); half the files are text-like (compressible), half
      random.
  gencorpus.py large DIR --mib M [--seed S]
      random.bin (M MiB, incompressible), compressible.bin (M MiB of log-like text) and
      duplicate.bin (a copy of random.bin).
  gencorpus.py tree DIR --files N [--seed S]
      a directory-heavy tree shaped like a system tree (/usr on Debian: about 30,000
      files in 3,000 directories, 1 GB): N files in about N/10 directories of a
      random depth (most with a few files, three with N/30 each, like bin/, lib/ and
      share/doc/), file sizes log-normal around 4 KiB (mean about 32 KiB, at most
      32 MiB), 40 % text, 40 % half-compressible "binaries", 20 % random; N/12
      symbolic links (to files, to directories, a few dangling) and a few empty
      directories.
  gencorpus.py change DIR --percent P [--seed S]
      rewrites P % of the regular files (every (100/P)-th in sorted path order; a
      few bytes are overwritten in the middle, the size stays) and sets their mtime
      one day later.

The same arguments give byte-identical trees with identical mtimes.
"""

import argparse
import os
import random
import shutil

MTIME = 1_700_000_000  # 2023-11-14, a fixed time for every file and directory
WORDS = ("error warning info debug request response user file read write open close "
         "backup restore snapshot index pack blob tree chunk bucket object stat lookup "
         "the of and to in is for on with as by at from").split()


def text_bytes(rng, n):
    out = bytearray()
    while len(out) < n:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        out += f"{rng.randint(0, 1 << 32):08x} {line}\n".encode()
    return bytes(out[:n])


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (MTIME, MTIME))


def small(args):
    rng = random.Random(args.seed)
    dirs = (args.files + args.per_dir - 1) // args.per_dir
    top = min(40, dirs)
    made = 0
    total = 0
    for d in range(dirs):
        sub = os.path.join(args.dir, f"d{d % top:02d}", f"s{d // top:04d}")
        os.makedirs(sub, exist_ok=True)
        for i in range(min(args.per_dir, args.files - made)):
            size = rng.randint(1024, 16384)
            data = text_bytes(rng, size) if rng.random() < 0.5 else rng.randbytes(size)
            write_file(os.path.join(sub, f"f{i:03d}.dat"), data)
            made += 1
            total += size
    for root, subdirs, _ in os.walk(args.dir, topdown=False):
        os.utime(root, (MTIME, MTIME))
    print(f"small: {made} files, {dirs} directories, {total} bytes")


def text_fast(rng, n):
    """Text-like bytes without a Python loop per line (for large amounts)."""
    words = rng.choices(TOKENS, k=n // 5 + 16)
    return "".join(words).encode()[:n]


TOKENS = [w + " " for w in WORDS] + ["\n"] * 4


def binary_like(rng, n):
    """Half-compressible bytes: random runs between runs of zeros and repeats."""
    out = bytearray()
    while len(out) < n:
        k = rng.randint(64, 4096)
        out += rng.randbytes(k) if rng.random() < 0.5 else bytes([rng.randrange(4)]) * k
    return bytes(out[:n])


def tree(args):
    rng = random.Random(args.seed)
    ndirs = max(1, args.files // 10)
    dirs = [""]
    depth = {"": 0}
    for i in range(1, ndirs):
        # A random recursive tree: a new directory under any earlier one (shallow
        # ones are likelier because they are older), at most 8 levels.
        parent = rng.choice(dirs)
        while depth[parent] >= 8:
            parent = rng.choice(dirs)
        d = os.path.join(parent, f"d{i:05d}")
        dirs.append(d)
        depth[d] = depth[parent] + 1
    for d in dirs:
        os.makedirs(os.path.join(args.dir, d), exist_ok=True)
    big = rng.sample(dirs, min(3, len(dirs)))
    files = []
    per_big = args.files // 30
    for d in big:
        files += [d] * per_big
    while len(files) < args.files:
        d = rng.choice(dirs)
        files += [d] * min(rng.randint(1, 12), args.files - len(files))
    total = 0
    paths = []
    for i, d in enumerate(files):
        size = min(int(rng.lognormvariate(8.3, 2.0)), 32 << 20)
        kind = rng.random()
        if kind < 0.4:
            data, ext = text_fast(rng, size), "txt"
        elif kind < 0.8:
            data, ext = binary_like(rng, size), "so"
        else:
            data, ext = rng.randbytes(size), "gz"
        p = os.path.join(d, f"f{i:06d}.{ext}")
        write_file(os.path.join(args.dir, p), data)
        paths.append(p)
        total += size
    links = 0
    for i in range(args.files // 12):
        d = rng.choice(dirs)
        r = rng.random()
        if r < 0.8:
            target = rng.choice(paths)
        elif r < 0.95:
            target = rng.choice(dirs) or "."
        else:
            target = f"missing-{i}"
        rel = os.path.relpath(os.path.join(args.dir, target), os.path.join(args.dir, d))
        link = os.path.join(args.dir, d, f"l{i:05d}")
        os.symlink(rel, link)
        os.utime(link, (MTIME, MTIME), follow_symlinks=False)
        links += 1
    for i in range(max(1, ndirs // 50)):
        os.makedirs(os.path.join(args.dir, rng.choice(dirs), f"empty{i:03d}"))
    for root, subdirs, _ in os.walk(args.dir, topdown=False):
        os.utime(root, (MTIME, MTIME))
    print(f"tree: {len(paths)} files, {links} symlinks, {ndirs} directories, {total} bytes")


def large(args):
    rng = random.Random(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    block = 1 << 20
    with open(os.path.join(args.dir, "random.bin"), "wb") as f:
        for _ in range(args.mib):
            f.write(rng.randbytes(block))
    with open(os.path.join(args.dir, "compressible.bin"), "wb") as f:
        for _ in range(args.mib):
            f.write(text_bytes(rng, block))
    shutil.copyfile(os.path.join(args.dir, "random.bin"), os.path.join(args.dir, "duplicate.bin"))
    for name in ("random.bin", "compressible.bin", "duplicate.bin", ""):
        os.utime(os.path.join(args.dir, name), (MTIME, MTIME))
    print(f"large: 3 files of {args.mib} MiB")


def change(args):
    files = []
    for root, subdirs, names in os.walk(args.dir):
        subdirs.sort()
        for n in sorted(names):
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 0:
                files.append(p)
    step = max(1, round(100 / args.percent))
    rng = random.Random(args.seed)
    changed = 0
    for p in files[::step]:
        st = os.stat(p)
        with open(p, "r+b") as f:
            f.seek(st.st_size // 2)
            f.write(rng.randbytes(min(64, st.st_size - st.st_size // 2)))
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 86_400 * 10**9))
        changed += 1
    print(f"change: {changed} of {len(files)} files")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("small", "large", "tree", "change"))
    ap.add_argument("dir")
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--per-dir", type=int, default=50)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--percent", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    {"small": small, "large": large, "tree": tree, "change": change}[args.kind](args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Compare two file trees attribute by attribute.

Usage: comparetree.py A B [--no-atime] [--no-owner] [--no-sparse]

Walks both trees with lstat (never following symlinks; names as raw bytes) and compares,
for every path, including the two roots themselves:
  - the set of names in each directory;
  - the type and the full st_mode (permission bits, setuid, setgid, sticky);
  - uid and gid (unless --no-owner);
  - size (not for directories, whose size depends on the history of the file system);
  - content of regular files (SHA-256 per MiB; holes are not read);
  - mtime_ns, and atime_ns unless --no-atime, for every node type including directories
    and symlinks;
  - symlink targets (raw bytes) and rdev of character and block devices;
  - extended attributes in every namespace this process can list (user.*, and as root
    trusted.* and security.*; POSIX ACLs appear as system.posix_acl_*);
  - hard-link structure: the paths that share an inode in A share one in B, and no others;
  - sparse files: where A is sparse (allocated < size), B's allocation must not exceed
    A's by more than max(1 MiB, half of A's allocation) (unless --no-sparse).

Prints every difference, one per line as "PATH: WHAT: A=... B=...", where PATH is
relative to the roots and escaped so that it fits on one line. Exit status: 0 and
"identical: N entries" when there is no difference, 1 when there is one, 2 on usage error.

Content is read with O_NOATIME where the kernel allows it, and after lstat, so comparing
does not disturb the atimes it compares. Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import stat
import sys
from dataclasses import dataclass, field

MIB = 1 << 20


@dataclass
class Entry:
    st: os.stat_result
    target: bytes | None = None          # symlink target
    digest: str | None = None            # SHA-256 of a regular file's content
    xattrs: dict[bytes, bytes] = field(default_factory=dict)
    xattr_error: str | None = None
    read_error: str | None = None
    children: list[bytes] | None = None  # names, for directories


def Escape(path: bytes) -> str:
    """One-line, unambiguous rendering of a raw path."""
    out = []
    for ch in path.decode("utf-8", errors="surrogateescape"):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:          # an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append({"\n": "\\n", "\t": "\\t"}.get(ch, f"\\x{code:02x}"))
        else:
            out.append(ch)
    return "".join(out)


def Show(value: object) -> str:
    if isinstance(value, bytes):
        return '"' + Escape(value).replace('"', '\\"') + '"'
    return str(value)


def DataRanges(fd: int, size: int) -> list[tuple[int, int]]:
    """The byte ranges that may hold data (everything else is a hole)."""
    ranges = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # no data after pos
                    break
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            ranges.append((start, end))
            pos = end
    except OSError:  # no SEEK_DATA on this file system: treat all as data
        return [(0, size)]
    return ranges


def HashFile(path: bytes) -> str:
    """SHA-256 over per-MiB digests of the content, where a block of zeros has a fixed
    digest. Independent of where the holes are, and skips reading holes, so that a
    sparse 1 GiB file costs little."""
    flags = os.O_RDONLY | getattr(os, "O_NOATIME", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        # O_NOATIME needs ownership or CAP_FOWNER.
        fd = os.open(path, flags & ~getattr(os, "O_NOATIME", 0))
    outer = hashlib.sha256()
    try:
        size = os.fstat(fd).st_size
        ranges = DataRanges(fd, size)
        r = 0
        for start in range(0, size, MIB):
            end = min(size, start + MIB)
            while r < len(ranges) and ranges[r][1] <= start:
                r += 1
            has_data = r < len(ranges) and ranges[r][0] < end
            block = os.pread(fd, end - start, start) if has_data else b""
            if has_data and len(block) != end - start:
                raise OSError(errno.EIO, f"short read at {start}")
            if not has_data or block.count(0) == len(block):
                outer.update(b"Z%d;" % (end - start))
            else:
                outer.update(b"D" + hashlib.sha256(block).digest())
    finally:
        os.close(fd)
    return outer.hexdigest()


def ReadXattrs(path: bytes, entry: Entry) -> None:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno != errno.ENOTSUP:
            entry.xattr_error = e.strerror
        return
    for name in sorted(names):
        raw = os.fsencode(name)
        try:
            entry.xattrs[raw] = os.getxattr(path, raw, follow_symlinks=False)
        except OSError as e:
            entry.xattrs[raw] = f"<unreadable: {e.strerror}>".encode()


def Scan(root: bytes) -> dict[bytes, Entry]:
    """Relative path (b"." for the root) -> Entry. Iterative: the tree may be deep."""
    entries: dict[bytes, Entry] = {}
    stack = [b"."]
    while stack:
        rel = stack.pop()
        path = root if rel == b"." else os.path.join(root, rel)
        st = os.lstat(path)
        entry = Entry(st)
        entries[rel] = entry
        ReadXattrs(path, entry)
        mode = st.st_mode
        try:
            if stat.S_ISLNK(mode):
                entry.target = os.readlink(path)
            elif stat.S_ISREG(mode):
                entry.digest = HashFile(path)
            elif stat.S_ISDIR(mode):
                entry.children = sorted(os.listdir(path))
                for name in reversed(entry.children):
                    stack.append(name if rel == b"." else os.path.join(rel, name))
        except OSError as e:
            entry.read_error = e.strerror
    return entries


def LinkGroups(entries: dict[bytes, Entry]) -> dict[bytes, tuple[bytes, ...]]:
    """Path -> all paths (sorted) that share its inode, for non-directories."""
    by_inode: dict[tuple[int, int], list[bytes]] = {}
    for rel, e in entries.items():
        if not stat.S_ISDIR(e.st.st_mode):
            by_inode.setdefault((e.st.st_dev, e.st.st_ino), []).append(rel)
    groups = {}
    for paths in by_inode.values():
        group = tuple(sorted(paths))
        for rel in paths:
            groups[rel] = group
    return groups


def TypeName(mode: int) -> str:
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "char device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return f"unknown {stat.S_IFMT(mode):o}"


def Compare(a_root: bytes, b_root: bytes, args: argparse.Namespace) -> tuple[list[str], int]:
    a, b = Scan(a_root), Scan(b_root)
    diffs: list[str] = []
    if args.sync:
        # What `efs2s3 sync --links --keep-empty-dirs` carries: files, symlinks and empty
        # directories with content, mode, owner and times. Other node types are left
        # out, and so are directories that hold nothing sync carries.
        def Carried(e: Entry) -> bool:
            m = e.st.st_mode
            return stat.S_ISREG(m) or stat.S_ISLNK(m) or stat.S_ISDIR(m)
        a = {rel: e for rel, e in a.items() if Carried(e)}
        for tree in (a, b):
            for e in tree.values():
                e.xattrs = {}

    def Diff(rel: bytes, what: str, va: object, vb: object) -> None:
        diffs.append(f"{Escape(rel)}: {what}: A={Show(va)} B={Show(vb)}")

    for rel in sorted(a.keys() - b.keys()):
        if args.sync and stat.S_ISDIR(a[rel].st.st_mode):
            continue
        diffs.append(f"{Escape(rel)}: only in A ({TypeName(a[rel].st.st_mode)})")
    for rel in sorted(b.keys() - a.keys()):
        diffs.append(f"{Escape(rel)}: only in B ({TypeName(b[rel].st.st_mode)})")

    a_groups, b_groups = LinkGroups(a), LinkGroups(b)
    for rel in sorted(a.keys() & b.keys()):
        ea, eb = a[rel], b[rel]
        sa, sb = ea.st, eb.st
        for label, e in (("A", ea), ("B", eb)):
            if e.read_error:
                diffs.append(f"{Escape(rel)}: cannot read {label}: {e.read_error}")
            if e.xattr_error:
                diffs.append(f"{Escape(rel)}: cannot list xattrs of {label}: {e.xattr_error}")
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            Diff(rel, "type", TypeName(sa.st_mode), TypeName(sb.st_mode))
            continue
        if args.sync and stat.S_ISDIR(sa.st_mode) and ea.children:
            continue  # only empty directories carry their metadata
        if sa.st_mode != sb.st_mode:
            Diff(rel, "mode", f"{sa.st_mode:o}", f"{sb.st_mode:o}")
        if not args.no_owner:
            if sa.st_uid != sb.st_uid:
                Diff(rel, "uid", sa.st_uid, sb.st_uid)
            if sa.st_gid != sb.st_gid:
                Diff(rel, "gid", sa.st_gid, sb.st_gid)
        if not stat.S_ISDIR(sa.st_mode) and sa.st_size != sb.st_size:
            Diff(rel, "size", sa.st_size, sb.st_size)
        if ea.digest != eb.digest and not (ea.read_error or eb.read_error):
            Diff(rel, "content", ea.digest, eb.digest)
        if sa.st_mtime_ns != sb.st_mtime_ns:
            Diff(rel, "mtime_ns", sa.st_mtime_ns, sb.st_mtime_ns)
        if not args.no_atime and sa.st_atime_ns != sb.st_atime_ns:
            Diff(rel, "atime_ns", sa.st_atime_ns, sb.st_atime_ns)
        if ea.target != eb.target:
            Diff(rel, "symlink target", ea.target, eb.target)
        if (stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode)) and sa.st_rdev != sb.st_rdev:
            Diff(rel, "rdev", f"{os.major(sa.st_rdev)}:{os.minor(sa.st_rdev)}",
                 f"{os.major(sb.st_rdev)}:{os.minor(sb.st_rdev)}")
        for name in sorted(ea.xattrs.keys() | eb.xattrs.keys()):
            va, vb = ea.xattrs.get(name), eb.xattrs.get(name)
            if va != vb:
                Diff(rel, f"xattr {Escape(name)}",
                     "<absent>" if va is None else va, "<absent>" if vb is None else vb)
        if rel in a_groups and rel in b_groups and not args.sync:
            # Compare the group as names in both trees; paths missing from B are
            # reported above already.
            ga = tuple(p for p in a_groups[rel] if p in b)
            gb = tuple(p for p in b_groups[rel] if p in a)
            if ga != gb:
                Diff(rel, "hard links", "{" + ", ".join(Escape(p) for p in ga) + "}",
                     "{" + ", ".join(Escape(p) for p in gb) + "}")
        if not args.no_sparse and not args.sync and stat.S_ISREG(sa.st_mode):
            alloc_a, alloc_b = sa.st_blocks * 512, sb.st_blocks * 512
            if alloc_a < sa.st_size and alloc_b > alloc_a + max(MIB, alloc_a // 2):
                Diff(rel, "allocated bytes (sparse)", alloc_a, alloc_b)
    return diffs, len(a.keys() | b.keys())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--no-atime", action="store_true", help="do not compare atimes")
    ap.add_argument("--no-owner", action="store_true", help="do not compare uid and gid")
    ap.add_argument("--no-sparse", action="store_true", help="do not compare allocation")
    ap.add_argument("--sync", action="store_true",
                    help="compare only what efs2s3 sync carries: files, symlinks and empty "
                         "directories (no xattrs, hard links, sparseness, other node types)")
    args = ap.parse_args(argv)
    for root in (args.a, args.b):
        if not os.path.isdir(root) or os.path.islink(root):
            print(f"comparetree: {root}: not a directory", file=sys.stderr)
            return 2
    diffs, count = Compare(os.fsencode(args.a), os.fsencode(args.b), args)
    for line in diffs:
        print(line)
    if diffs:
        print(f"different: {len(diffs)} differences in {count} entries", file=sys.stderr)
        return 1
    print(f"identical: {count} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Generate a deterministic file tree that exercises every kind of metadata.

Usage: gentree.py DIR [--seed N] [--small]

DIR must not exist or be empty. The same seed gives the same tree: names, contents,
modes, owners, times and xattrs (inode numbers and ctimes naturally differ), so two
trees generated with one seed compare identical with comparetree.py.

The tree holds:
  - regular files of many sizes: 0 B, 1 B, a few KiB, ~1 MiB random, 500 tiny files in
    one directory, a compressible text file, small sparse files (holes in the middle, at
    the end, a file that is one hole); unless --small also a 50 MiB file of repeated
    content and a sparse 1 GiB file with a little data at a few offsets;
  - directories: empty, sticky, setgid, 0700, read-only (made read-only last), a chain
    200 levels deep;
  - symlinks: relative, absolute, dangling, escaping the tree, non-UTF-8 target;
  - hard-link groups of 2 and 3 links across directories (and a group of empty files);
  - a FIFO, a UNIX socket, and (as root) character and block devices;
  - names as raw bytes: non-UTF-8, newline, tab, spaces, leading dash, glob characters,
    255-byte names (ASCII and multi-byte UTF-8), unicode;
  - mode bits including setuid/setgid/sticky and 0000;
  - (as root) a variety of uid/gid, including ones above 2^31, also on symlinks;
  - mtimes and atimes with nanoseconds, on every node including symlinks and directories;
  - xattrs: user.* with binary values, POSIX ACLs (access and default) when setfacl is
    available, and (as root) security.* including a file capability, and trusted.*.

Times: every atime lies after every mtime and in the future (year 2103 and later). Under
the default relatime mount option the kernel then never updates atime on reads, so
reading the tree (a backup, or comparetree.py) does not change it.

Paths stay below PATH_MAX (4096 bytes) so that ordinary path-based tools can read them.

Prints one summary line. Python 3.11 standard library only (setfacl is optional).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import stat
import subprocess
import sys

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# Every atime is later than this, every mtime earlier (see the module docstring).
ATIME_BASE_S = 4_200_000_000  # 2103-02-04
MTIME_MIN_S = -2_000_000_000  # 1906-08-16
MTIME_MAX_S = 4_100_000_000  # 2099-12-04


class Generator:
    """Builds the tree. Every random choice comes from one seeded RNG, so the order of
    calls below is part of the output: append new features at the end of Run()."""

    def __init__(self, root: bytes, seed: int, small: bool):
        self.root = root
        self.rng = random.Random(seed)
        self.small = small
        self.is_root = os.geteuid() == 0
        self.have_setfacl = shutil.which("setfacl") is not None
        # Relative paths in creation order, with the times to give them at the end.
        self.entries: list[bytes] = []
        self.readonly_dirs: list[tuple[bytes, int]] = []
        self.counts = {"file": 0, "dir": 0, "symlink": 0, "hardlink": 0, "fifo": 0,
                       "socket": 0, "device": 0}
        self.bytes_apparent = 0
        self.notes: list[str] = []

    # ---- helpers -------------------------------------------------------------------

    def p(self, rel: bytes) -> bytes:
        return os.path.join(self.root, rel)

    def record(self, rel: bytes, kind: str) -> None:
        self.entries.append(rel)
        self.counts[kind] += 1

    def mkdir(self, rel: bytes, mode: int = 0o755) -> bytes:
        os.mkdir(self.p(rel))
        os.chmod(self.p(rel), mode)
        self.record(rel, "dir")
        return rel

    def file(self, rel: bytes, data: bytes = b"", mode: int = 0o644) -> bytes:
        with open(self.p(rel), "wb") as f:
            f.write(data)
        os.chmod(self.p(rel), mode)
        self.record(rel, "file")
        self.bytes_apparent += len(data)
        return rel

    def sparse(self, rel: bytes, size: int, islands: list[tuple[int, int]]) -> bytes:
        """A file of `size` bytes that holds random data only at (offset, length)."""
        fd = os.open(self.p(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.ftruncate(fd, size)
            for offset, length in islands:
                os.pwrite(fd, self.rng.randbytes(length), offset)
        finally:
            os.close(fd)
        os.chmod(self.p(rel), 0o644)
        self.record(rel, "file")
        self.bytes_apparent += size
        return rel

    def symlink(self, rel: bytes, target: bytes) -> bytes:
        os.symlink(target, self.p(rel))
        self.record(rel, "symlink")
        return rel

    def hardlink(self, existing: bytes, rel: bytes) -> bytes:
        os.link(self.p(existing), self.p(rel), follow_symlinks=False)
        self.record(rel, "hardlink")
        return rel

    def xattr(self, rel: bytes, name: bytes, value: bytes) -> bool:
        try:
            os.setxattr(self.p(rel), name, value, follow_symlinks=False)
            return True
        except OSError as e:
            self.notes.append(f"no {name.decode()}: {e.strerror}")
            return False

    def chown(self, rel: bytes, uid: int, gid: int) -> None:
        if self.is_root:
            os.chown(self.p(rel), uid, gid, follow_symlinks=False)

    def setfacl(self, args: list[bytes], rel: bytes) -> bool:
        if not self.have_setfacl:
            return False
        r = subprocess.run([b"setfacl", *args, b"--", self.p(rel)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            self.notes.append("setfacl failed: " + r.stderr.decode(errors="replace").strip())
            return False
        return True

    # ---- the tree ------------------------------------------------------------------

    def Run(self) -> None:
        self.MakeFiles()
        self.MakeNames()
        self.MakeDirectories()
        self.MakeSymlinks()
        self.MakeHardLinks()
        self.MakeSpecialFiles()
        self.MakeDeepChain()
        self.MakeXattrs()
        self.MakeOwnersAndModes()
        self.SetTimes()
        self.SetReadonlyDirsLast()

    def MakeFiles(self) -> None:
        rng = self.rng
        self.mkdir(b"files")
        self.file(b"files/empty")
        self.file(b"files/one-byte", b"x")
        self.file(b"files/three-kib", rng.randbytes(3 * KIB + 7))
        self.file(b"files/random-1mib", rng.randbytes(MIB + 17))
        self.file(b"files/zeros-2mib", bytes(2 * MIB))  # allocated zeros, not a hole
        self.file(b"files/all-bytes", bytes(range(256)) * 16)
        words = [b"lorem", b"ipsum", b"dolor", b"sit", b"amet", b"efs2s3", b"backup"]
        text = b" ".join(rng.choice(words) for _ in range(40_000)) + b"\n"
        self.file(b"files/compressible.txt", text)
        self.file(b"files/no-final-newline", b"line one\nline two")

        self.mkdir(b"many")
        for i in range(500):
            self.file(b"many/f%04d" % i, rng.randbytes(rng.randrange(0, 200)))

        self.mkdir(b"sparse")
        self.sparse(b"sparse/holes-16mib", 16 * MIB,
                    [(0, 4 * KIB), (5 * MIB + 123, 10 * KIB), (12 * MIB, 64 * KIB)])
        self.sparse(b"sparse/data-at-end", 8 * MIB, [(8 * MIB - 100, 100)])
        self.sparse(b"sparse/only-hole-4mib", 4 * MIB, [])
        self.sparse(b"sparse/hole-at-start", 3 * MIB, [(2 * MIB + 5, 3000)])

        if not self.small:
            self.mkdir(b"big")
            block = rng.randbytes(MIB)
            with open(self.p(b"big/repeated-50mib"), "wb") as f:
                for _ in range(50):
                    f.write(block)
            os.chmod(self.p(b"big/repeated-50mib"), 0o644)
            self.record(b"big/repeated-50mib", "file")
            self.bytes_apparent += 50 * MIB
            self.sparse(b"big/sparse-1gib", GIB,
                        [(0, 4 * KIB), (300 * MIB + 123, 5000), (700 * MIB, 64 * KIB),
                         (GIB - 200 * MIB, 1)])

    def MakeNames(self) -> None:
        rng = self.rng
        self.mkdir(b"names")
        names = [
            b"latin1-\xe9t\xe9",            # not UTF-8
            b"\xff\xfe\xfd",               # not UTF-8 at all
            b"new\nline",
            b"tab\there",
            b"  spaces  around  ",
            b"-leading-dash",
            b"--help",
            b"star*question?[brackets]",
            b"back\\slash",
            b"colon:in:name",
            b"quote\"and'apostrophe",
            b"...",
            b".hidden",
            b"\x01\x1b[31mcontrol",
            "unicode-名前-ñ-🎉".encode(),
            "e\u0301-decomposed".encode(),    # NFD: must not be normalised
            "\u00e9-composed".encode(),      # NFC twin of the previous name
            b"a" * 255,
            "é".encode() * 127 + b"x",       # 255 bytes of multi-byte UTF-8
        ]
        for name in names:
            self.file(b"names/" + name, name + b"\n" + rng.randbytes(rng.randrange(0, 64)))
        self.mkdir(b"names/dir-\xff\nodd name")
        self.file(b"names/dir-\xff\nodd name/inside-\xfe", b"inside\n")
        self.mkdir(b"names/" + b"D" * 255)
        self.file(b"names/" + b"D" * 255 + b"/" + b"f" * 255, b"long/long\n")

    def MakeDirectories(self) -> None:
        self.mkdir(b"dirs")
        self.mkdir(b"dirs/empty")
        self.mkdir(b"dirs/sticky", 0o1777)
        self.file(b"dirs/sticky/inside", b"sticky\n")
        self.mkdir(b"dirs/setgid", 0o2775)
        self.file(b"dirs/setgid/inside", b"setgid\n")
        self.mkdir(b"dirs/private", 0o700)
        self.file(b"dirs/private/secret", b"secret\n", 0o600)
        self.mkdir(b"dirs/readonly")
        self.file(b"dirs/readonly/inside", b"readonly\n", 0o444)
        self.mkdir(b"dirs/readonly/sub")
        self.readonly_dirs += [(b"dirs/readonly/sub", 0o555), (b"dirs/readonly", 0o555)]
        # Entries their owner cannot read only when root: a non-root backup of them
        # would rightly report them as unreadable.
        if self.is_root:
            self.mkdir(b"dirs/no-access")
            self.file(b"dirs/no-access/hidden", b"behind 0000\n")
            self.readonly_dirs.append((b"dirs/no-access", 0o000))

        self.mkdir(b"modes")
        for mode in (0o000, 0o400, 0o644, 0o755, 0o777, 0o4755, 0o2755, 0o6755, 0o1644,
                     0o7777, 0o4000, 0o2010, 0o123):
            if self.is_root or mode & 0o400:
                self.file(b"modes/m%04o" % mode, b"mode %o\n" % mode, mode)

    def MakeSymlinks(self) -> None:
        self.mkdir(b"links")
        self.symlink(b"links/relative", b"../files/three-kib")
        self.symlink(b"links/relative-dir", b"../dirs")
        self.symlink(b"links/absolute", b"/etc/hostname")
        self.symlink(b"links/dangling", b"does/not/exist")
        self.symlink(b"links/escaping", b"../../../outside-the-tree")
        self.symlink(b"links/non-utf8-target", b"\xff\xfe-target-\xe9")
        self.symlink(b"links/newline-target", b"line\nbreak")
        self.symlink(b"links/self-loop", b"self-loop")
        self.symlink(b"links/to-fifo", b"../special/fifo")
        self.symlink(b"links/long-target", b"x/" * 1000 + b"end")
        self.symlink(b"links/dot", b".")

    def MakeHardLinks(self) -> None:
        rng = self.rng
        self.mkdir(b"hard")
        self.mkdir(b"hard/a")
        self.mkdir(b"hard/b")
        self.mkdir(b"hard/b/c")
        self.file(b"hard/a/pair", rng.randbytes(5000), 0o640)
        self.hardlink(b"hard/a/pair", b"hard/b/pair-twin")
        self.file(b"hard/a/triple", rng.randbytes(70 * KIB), 0o600)
        self.hardlink(b"hard/a/triple", b"hard/b/c/triple-2")
        self.hardlink(b"hard/a/triple", b"hard/triple-3 with space")
        self.file(b"hard/empty-1")
        self.hardlink(b"hard/empty-1", b"hard/b/empty-2")
        # Same content, separate inodes: must not be merged into a hard-link group.
        self.file(b"hard/a/not-a-link", b"same content\n")
        self.file(b"hard/b/not-a-link", b"same content\n")

    def MakeSpecialFiles(self) -> None:
        self.mkdir(b"special")
        os.mkfifo(self.p(b"special/fifo"), 0o640)
        os.chmod(self.p(b"special/fifo"), 0o640)
        self.record(b"special/fifo", "fifo")
        # bind() takes at most 107 bytes of path: bind a short relative name.
        cwd = os.open(".", os.O_RDONLY)
        try:
            os.chdir(self.p(b"special"))
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.bind(b"socket")
            os.chmod(b"socket", 0o755)
        finally:
            os.fchdir(cwd)
            os.close(cwd)
        self.record(b"special/socket", "socket")
        if self.is_root:
            os.mknod(self.p(b"special/char-null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
            os.chmod(self.p(b"special/char-null"), 0o666)
            self.record(b"special/char-null", "device")
            os.mknod(self.p(b"special/block-loop"), stat.S_IFBLK | 0o660, os.makedev(7, 200))
            os.chmod(self.p(b"special/block-loop"), 0o660)
            self.record(b"special/block-loop", "device")
            # Major above 255 and minor above 65535 need the large dev_t encoding.
            os.mknod(self.p(b"special/char-large"), stat.S_IFCHR | 0o600,
                     os.makedev(300, 70000))
            os.chmod(self.p(b"special/char-large"), 0o600)
            self.record(b"special/char-large", "device")
        else:
            self.notes.append("no devices (not root)")

    def MakeDeepChain(self) -> None:
        rel = b"deep"
        self.mkdir(rel)
        for level in range(200):
            rel += b"/level-%03d" % level
            self.mkdir(rel)
        self.file(rel + b"/bottom", b"200 levels down\n")
        self.symlink(rel + b"/up-to-files", b"../" * 201 + b"files")

    def MakeXattrs(self) -> None:
        rng = self.rng
        self.mkdir(b"xattrs")
        f = self.file(b"xattrs/file", b"has xattrs\n")
        self.xattr(f, b"user.text", b"plain text")
        self.xattr(f, b"user.binary", bytes(range(256)))
        self.xattr(f, b"user.empty", b"")
        self.xattr(f, b"user.nul\xc3\xa9", b"\x00\x00\x00")
        self.xattr(f, b"user.big", rng.randbytes(3000))
        d = self.mkdir(b"xattrs/dir")
        self.xattr(d, b"user.on-dir", b"\xff\x00dir")
        self.xattr(b"hard/a/triple", b"user.on-hardlink", b"shared by three names")
        if self.is_root:
            self.xattr(b"modes/m0000", b"user.on-0000", b"still readable by root")
        self.xattr(b"names/new\nline", b"user.odd-name", b"\n")

        acl = self.file(b"xattrs/acl-file", b"acl\n", 0o640)
        if self.setfacl([b"-m", b"u:1234:rw,g:5678:r,m::rw"], acl):
            acl_dir = self.mkdir(b"xattrs/acl-dir", 0o750)
            self.setfacl([b"-m", b"u:1234:rx", b"-d", b"-m", b"u:1234:rwx,g::r-x"], acl_dir)
            # Created after the default ACL: inherits an access ACL from it.
            self.file(acl_dir + b"/inherited", b"inherits\n")
        else:
            self.notes.append("no ACLs")

        if self.is_root:
            self.xattr(f, b"trusted.efs2s3", b"trusted\x00value")
            self.xattr(f, b"security.efs2s3", b"security value")
            # user.* is not allowed on symlinks; trusted.* is (root only).
            self.xattr(b"links/relative", b"trusted.on-symlink", b"link xattr")

    def MakeOwnersAndModes(self) -> None:
        if not self.is_root:
            self.notes.append("no owners (not root)")
            return
        owners = [
            (b"files/three-kib", 1234, 5678),
            (b"files/one-byte", 0, 5678),
            (b"dirs/private", 1234, 1234),
            (b"dirs/private/secret", 1234, 1234),
            (b"links/absolute", 4321, 4321),        # symlink: lchown
            (b"special/fifo", 65534, 65534),
            (b"hard/a/triple", 2_000_000_000, 3_000_000_000),
            (b"many/f0001", 4_294_967_294, 4_294_967_294),
            (b"xattrs/dir", 1234, 5678),
            (b"deep", 99, 99),
            (b"names/\xff\xfe\xfd", 1000, 1000),
        ]
        for rel, uid, gid in owners:
            mode = os.lstat(self.p(rel)).st_mode
            self.chown(rel, uid, gid)
            if not stat.S_ISLNK(mode):
                os.chmod(self.p(rel), stat.S_IMODE(mode))  # chown cleared setuid/setgid
        # Set-uid files owned by someone else, set after chown which would clear them.
        for rel, uid, gid, mode in [(b"modes/suid-1234", 1234, 5678, 0o4750),
                                    (b"modes/sgid-5678", 0, 5678, 0o2711)]:
            self.file(rel, b"#!/bin/sh\n", mode)
            self.chown(rel, uid, gid)
            os.chmod(self.p(rel), mode)
        # A file capability; chown clears it, so it is set after.
        cap = self.file(b"modes/cap-net-raw", b"capability\n", 0o755)
        # vfs_cap_data revision 2: magic, then permitted/inheritable low and high words.
        value = (0x02000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + \
            bytes(4) + bytes(8)
        self.xattr(cap, b"security.capability", value)

    def SetTimes(self) -> None:
        for rel in self.entries:
            mtime = self.rng.randrange(MTIME_MIN_S, MTIME_MAX_S) * 10**9 + \
                self.rng.randrange(10**9)
            atime = (ATIME_BASE_S + self.rng.randrange(10**8)) * 10**9 + \
                self.rng.randrange(10**9)
            os.utime(self.p(rel), ns=(atime, mtime), follow_symlinks=False)
        os.utime(self.root, ns=(ATIME_BASE_S * 10**9 + 1, 1_600_000_000_123_456_789))

    def SetReadonlyDirsLast(self) -> None:
        for rel, mode in self.readonly_dirs:
            os.chmod(self.p(rel), mode)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="directory to create (must not exist, or be empty)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--small", action="store_true",
                    help="skip the 50 MiB and the sparse 1 GiB file")
    args = ap.parse_args(argv)

    root = os.fsencode(args.dir)
    if os.path.lexists(root):
        if not os.path.isdir(root) or os.listdir(root):
            print(f"gentree: {args.dir}: exists and is not an empty directory", file=sys.stderr)
            return 2
    else:
        os.mkdir(root)
    os.chmod(root, 0o755)
    old_umask = os.umask(0o022)
    try:
        gen = Generator(root, args.seed, args.small)
        gen.Run()
    finally:
        os.umask(old_umask)
    c = gen.counts
    total = sum(c.values()) + 1  # + the root directory
    notes = ("; " + "; ".join(sorted(set(gen.notes)))) if gen.notes else ""
    print(f"gentree: {args.dir}: {total} entries ({c['file']} files, {c['dir'] + 1} dirs, "
          f"{c['symlink']} symlinks, {c['hardlink']} extra hard links, {c['fifo']} fifos, "
          f"{c['socket']} sockets, {c['device']} devices), "
          f"{gen.bytes_apparent} bytes apparent, seed {args.seed}"
          f"{', small' if args.small else ''}{notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Tests of gentree.py and comparetree.py: the comparator must be able to fail.

Run: python3 tests/tools/test_tools.py [-v]

Each test generates two trees with the same seed (A and B, which must compare
identical), makes one known change to B that keeps everything else equal, and asserts
that the comparator reports exactly that change. Tests that need root are skipped
otherwise.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GENTREE = os.path.join(HERE, "gentree.py")
COMPARETREE = os.path.join(HERE, "comparetree.py")
IS_ROOT = os.geteuid() == 0
HAVE_SETFACL = shutil.which("setfacl") is not None


def RemoveTree(path: str) -> None:
    """rmtree that also works when the tree has 0000 and read-only directories."""
    if not os.path.lexists(path):
        return
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if not os.path.islink(full):
                os.chmod(full, 0o755)
    shutil.rmtree(path)


def Generate(path: str, *extra: str) -> str:
    r = subprocess.run([sys.executable, GENTREE, path, "--small", *extra],
                       capture_output=True, text=True, check=True)
    return r.stdout


class Result:
    def __init__(self, r: subprocess.CompletedProcess):
        self.code = r.returncode
        self.out = r.stdout.decode("utf-8", errors="surrogateescape")
        self.lines = self.out.splitlines()
        self.err = r.stderr.decode(errors="replace")


def Compare(a: str, b: str, *flags: str) -> Result:
    return Result(subprocess.run([sys.executable, COMPARETREE, a, b, *flags],
                                 capture_output=True))


class Mutator:
    """Changes to one tree that keep every attribute but the intended one."""

    def __init__(self, root: str):
        self.root = os.fsencode(root)

    def p(self, rel: bytes) -> bytes:
        return os.path.join(self.root, rel)

    def KeepTimes(self, rel: bytes):
        """Context manager: restores rel's atime and mtime (and its parent's) on exit."""
        paths = [self.p(rel), os.path.dirname(self.p(rel))]

        class Keep:
            def __enter__(self):
                self.saved = [(p, os.lstat(p)) for p in paths]

            def __exit__(self, *exc):
                for p, st in self.saved:
                    if os.path.lexists(p):
                        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

        return Keep()

    def ShiftTime(self, rel: bytes, d_atime: int = 0, d_mtime: int = 0) -> None:
        st = os.lstat(self.p(rel))
        os.utime(self.p(rel), ns=(st.st_atime_ns + d_atime, st.st_mtime_ns + d_mtime),
                 follow_symlinks=False)


class ToolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="efs2s3-tools-")
        cls.a = os.path.join(cls.tmp, "a")
        cls.summary = Generate(cls.a)

    @classmethod
    def tearDownClass(cls):
        RemoveTree(cls.tmp)

    def setUp(self):
        self.b = os.path.join(self.tmp, "b")
        RemoveTree(self.b)
        Generate(self.b)
        self.m = Mutator(self.b)

    def assertReports(self, expected: list[str], *flags: str) -> Result:
        """The comparator exits 1 and prints exactly `expected` (line prefixes)."""
        r = Compare(self.a, self.b, *flags)
        self.assertEqual(r.code, 1, r.out + r.err)
        self.assertEqual(len(r.lines), len(expected), r.out)
        for line, prefix in zip(sorted(r.lines), sorted(expected)):
            self.assertTrue(line.startswith(prefix), f"{line!r} does not start with {prefix!r}")
        return r

    def assertIdentical(self, *flags: str) -> None:
        r = Compare(self.a, self.b, *flags)
        self.assertEqual(r.code, 0, r.out + r.err)
        self.assertRegex(r.out, r"^identical: \d+ entries\n$")

    # ---- the generator -------------------------------------------------------------

    def test_SameSeedGivesIdenticalTrees(self):
        self.assertIdentical()

    def test_SummaryIsOneLine(self):
        self.assertEqual(self.summary.count("\n"), 1)
        self.assertRegex(self.summary, r"^gentree: .*: \d+ entries \(")

    def test_TreeHasEveryNodeType(self):
        kinds = set()
        for dirpath, dirnames, filenames in os.walk(os.fsencode(self.b)):
            for name in dirnames + filenames:
                kinds.add(stat.S_IFMT(os.lstat(os.path.join(dirpath, name)).st_mode))
        wanted = {stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFIFO, stat.S_IFSOCK}
        if IS_ROOT:
            wanted |= {stat.S_IFCHR, stat.S_IFBLK}
        self.assertEqual(kinds & wanted, wanted)

    def test_TreeIsTwoHundredLevelsDeep(self):
        depth = max(dirpath.count(b"/level-") for dirpath, _, _ in os.walk(os.fsencode(self.b)))
        self.assertEqual(depth, 200)

    def test_RefusesNonEmptyDirectory(self):
        r = subprocess.run([sys.executable, GENTREE, self.b, "--small"], capture_output=True)
        self.assertEqual(r.returncode, 2)

    def test_OtherSeedDiffers(self):
        c = os.path.join(self.tmp, "c")
        RemoveTree(c)
        Generate(c, "--seed", "2")
        r = Compare(self.a, c)
        RemoveTree(c)
        self.assertEqual(r.code, 1)
        self.assertTrue(any(": content:" in line for line in r.lines))

    # ---- one change, one report ----------------------------------------------------

    def test_DetectsMtimeOneNanosecond(self):
        self.m.ShiftTime(b"files/three-kib", d_mtime=1)
        self.assertReports(["files/three-kib: mtime_ns:"])

    def test_DetectsSymlinkMtime(self):
        self.m.ShiftTime(b"links/dangling", d_mtime=-1)
        self.assertReports(["links/dangling: mtime_ns:"])

    def test_DetectsDirectoryMtimeDeepDown(self):
        rel = b"/".join([b"deep"] + [b"level-%03d" % i for i in range(200)])
        self.m.ShiftTime(rel, d_mtime=1)
        self.assertReports([rel.decode() + ": mtime_ns:"])

    def test_DetectsAtimeUnlessNoAtime(self):
        self.m.ShiftTime(b"files/empty", d_atime=1)
        self.assertReports(["files/empty: atime_ns:"])
        self.assertIdentical("--no-atime")

    def test_ComparingDoesNotChangeAtimes(self):
        self.assertIdentical()
        self.assertIdentical()

    def test_DetectsOneModeBit(self):
        os.chmod(self.m.p(b"files/one-byte"), 0o645)
        self.assertReports(["files/one-byte: mode: A=100644 B=100645"])

    def test_DetectsLostSetuidBit(self):
        os.chmod(self.m.p(b"modes/m4755"), 0o755)
        self.assertReports(["modes/m4755: mode: A=104755 B=100755"])

    def test_DetectsStickyBitOnDirectory(self):
        os.chmod(self.m.p(b"dirs/sticky"), 0o777)
        self.assertReports(["dirs/sticky: mode: A=41777 B=40777"])

    def test_DetectsChangedXattrValue(self):
        value = bytearray(os.getxattr(self.m.p(b"xattrs/file"), b"user.binary"))
        value[200] ^= 1
        os.setxattr(self.m.p(b"xattrs/file"), b"user.binary", bytes(value))
        self.assertReports(["xattrs/file: xattr user.binary:"])

    def test_DetectsMissingAndExtraXattr(self):
        os.removexattr(self.m.p(b"xattrs/file"), b"user.empty")
        os.setxattr(self.m.p(b"xattrs/dir"), b"user.extra", b"x")
        self.assertReports(['xattrs/file: xattr user.empty: A="" B=<absent>',
                            'xattrs/dir: xattr user.extra: A=<absent> B="x"'])

    @unittest.skipUnless(HAVE_SETFACL, "setfacl not installed")
    def test_DetectsChangedAcl(self):
        subprocess.run(["setfacl", "-m", "u:1234:r", self.m.p(b"xattrs/acl-file")], check=True)
        # The ACL mask is the group part of the mode.
        self.assertReports(["xattrs/acl-file: xattr system.posix_acl_access:",
                            "xattrs/acl-file: mode: A=100660 B=100640"])

    def test_DetectsOneFlippedByte(self):
        rel = b"files/random-1mib"
        with self.m.KeepTimes(rel):
            with open(self.m.p(rel), "r+b") as f:
                f.seek(123_456)
                byte = f.read(1)
                f.seek(123_456)
                f.write(bytes([byte[0] ^ 0x01]))
        self.assertReports(["files/random-1mib: content:"])

    def test_DetectsFlippedByteInSparseFile(self):
        rel = b"sparse/holes-16mib"
        with self.m.KeepTimes(rel):
            with open(self.m.p(rel), "r+b") as f:
                f.seek(5 * 2**20 + 200)
                byte = f.read(1)
                f.seek(5 * 2**20 + 200)
                f.write(bytes([byte[0] ^ 0x80]))
        self.assertReports(["sparse/holes-16mib: content:"])

    def test_DetectsByteWrittenIntoHole(self):
        rel = b"sparse/only-hole-4mib"
        with self.m.KeepTimes(rel):
            with open(self.m.p(rel), "r+b") as f:
                f.seek(3 * 2**20)
                f.write(b"\x01")
        self.assertReports(["sparse/only-hole-4mib: content:"])

    def test_DetectsSizeChange(self):
        rel = b"files/empty"
        with self.m.KeepTimes(rel):
            os.truncate(self.m.p(rel), 1)
        self.assertReports(["files/empty: size: A=0 B=1", "files/empty: content:"])

    def test_DetectsFilledHolesUnlessNoSparse(self):
        rel = b"sparse/holes-16mib"
        with self.m.KeepTimes(rel):
            with open(self.m.p(rel), "r+b") as f:
                data = f.read()
                f.seek(0)
                f.write(data)  # same bytes, holes now allocated
                f.flush()
                os.fsync(f.fileno())
        self.assertReports(["sparse/holes-16mib: allocated bytes (sparse):"])
        self.assertIdentical("--no-sparse")

    def test_DetectsMissingAndExtraNames(self):
        with self.m.KeepTimes(b"names/\xff\xfe\xfd"):
            os.rename(self.m.p(b"names/\xff\xfe\xfd"), self.m.p(b"names/\xff\xfe\xfc"))
        self.assertReports([r"names/\xff\xfe\xfd: only in A (file)",
                            r"names/\xff\xfe\xfc: only in B (file)"])

    def test_PrintsNamesWithNewlineOnOneLine(self):
        self.m.ShiftTime(b"names/new\nline", d_mtime=1)
        self.assertReports([r"names/new\nline: mtime_ns:"])

    def test_DetectsChangedSymlinkTarget(self):
        rel = b"links/non-utf8-target"
        with self.m.KeepTimes(rel):
            os.unlink(self.m.p(rel))
            os.symlink(b"\xff\xfe-target-\xe8", self.m.p(rel))
        self.assertReports([r'links/non-utf8-target: symlink target: A="\xff\xfe-target-\xe9" '
                            r'B="\xff\xfe-target-\xe8"'])

    def test_DetectsBrokenHardLink(self):
        # hard/b/pair-twin becomes a separate file with the same content and metadata.
        rel = b"hard/b/pair-twin"
        path = self.m.p(rel)
        with self.m.KeepTimes(rel):
            st = os.lstat(path)
            with open(path, "rb") as f:
                data = f.read()
            os.unlink(path)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, stat.S_IMODE(st.st_mode))
            if IS_ROOT:
                os.chown(path, st.st_uid, st.st_gid)
        self.assertReports(["hard/a/pair: hard links: A={hard/a/pair, hard/b/pair-twin} "
                            "B={hard/a/pair}",
                            "hard/b/pair-twin: hard links: A={hard/a/pair, hard/b/pair-twin} "
                            "B={hard/b/pair-twin}"])

    def test_DetectsExtraHardLink(self):
        # Two equal files with equal metadata become one inode.
        rel = b"hard/b/not-a-link"
        with self.m.KeepTimes(rel):
            os.unlink(self.m.p(rel))
            os.link(self.m.p(b"hard/a/not-a-link"), self.m.p(rel))
        # One inode has one set of times: the ones of hard/b/not-a-link, restored last.
        self.assertReports(["hard/a/not-a-link: hard links:", "hard/b/not-a-link: hard links:",
                            "hard/a/not-a-link: mtime_ns:", "hard/a/not-a-link: atime_ns:"])

    def test_DetectsTypeChange(self):
        rel = b"special/fifo"
        with self.m.KeepTimes(rel):
            st = os.lstat(self.m.p(rel))
            os.unlink(self.m.p(rel))
            open(self.m.p(rel), "wb").close()
            if IS_ROOT:
                os.chown(self.m.p(rel), st.st_uid, st.st_gid)
        self.assertReports(["special/fifo: type: A=fifo B=file"])

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_DetectsOwnerUnlessNoOwner(self):
        os.chown(self.m.p(b"links/absolute"), 4321, 4322, follow_symlinks=False)
        os.chown(self.m.p(b"files/empty"), 1, 0)
        self.assertReports(["links/absolute: gid: A=4321 B=4322", "files/empty: uid: A=0 B=1"])
        self.assertIdentical("--no-owner")

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_DetectsDeviceNumber(self):
        rel = b"special/char-large"
        with self.m.KeepTimes(rel):
            os.unlink(self.m.p(rel))
            os.mknod(self.m.p(rel), stat.S_IFCHR | 0o600, os.makedev(300, 70001))
        self.assertReports(["special/char-large: rdev: A=300:70000 B=300:70001"])

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_DetectsSecurityXattr(self):
        os.removexattr(self.m.p(b"modes/cap-net-raw"), b"security.capability")
        self.assertReports(["modes/cap-net-raw: xattr security.capability:"])

    def test_DetectsRootDirectoryAttributes(self):
        os.chmod(self.b, 0o750)
        self.assertReports([".: mode: A=40755 B=40750"])

    def test_RefusesMissingDirectory(self):
        r = Compare(self.a, os.path.join(self.tmp, "does-not-exist"))
        self.assertEqual(r.code, 2)


if __name__ == "__main__":
    unittest.main()

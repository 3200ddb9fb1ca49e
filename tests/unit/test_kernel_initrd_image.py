"""rescue.kernel.initrd_image on initramfs images composed here.

The archives are our own: newc cpio as the kernel's Documentation/
driver-api/early-userspace/buffer-format.rst describes it, compressed with
Python's gzip/xz/lzma/bz2 (and the host's zstd and lz4, when installed, with
the flags dracut 059 uses: `zstd -15`, `lz4 -l`), and dracut's layout of an
uncompressed early-microcode archive followed by the compressed main one.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import random
import shutil
import stat
import subprocess

import pytest

from rescue.kernel import initrd_image as ii

REG, DIR, LNK = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK


def newc(members) -> bytes:
    """members: (name, mode, body) -> a newc archive ending in TRAILER!!!, padded as cpio pads it."""
    out = bytearray()
    for ino, (name, mode, body) in enumerate([*members, ("TRAILER!!!", 0, b"")], 1):
        raw = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4) + body
        out += b"\0" * (-len(out) % 4)
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


R = "6.1.0-57-amd64"
MAIN = [
    ("init", REG | 0o755, b"#!/bin/sh\nexec /sbin/switch_root\n"),
    ("bin", LNK | 0o777, b"usr/bin"),
    ("usr/bin", DIR | 0o755, b""),
    ("usr/bin/lvm", REG | 0o755, b"\x7fELF"),
    ("etc/lvm/lvm.conf", REG | 0o644, b'devices {\n filter = [ "r|.*|" ]\n}\n'),
    (f"usr/lib/modules/{R}/kernel/fs/xfs/xfs.ko.xz", REG | 0o644, b"xz"),
    (f"usr/lib/modules/{R}/kernel/drivers/md/dm-mod.ko", REG | 0o644, b"ko"),
]
EARLY = newc([("early_cpio", REG | 0o644, b"1\n"), ("kernel/x86/microcode/GenuineIntel.bin", REG | 0o644, b"\0" * 64)])


@pytest.mark.parametrize("compress, fmt", [
    (gzip.compress, "gzip"), (lzma.compress, "xz"), (lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE), "lzma"),
    (bz2.compress, "bzip2"),
])
def test_every_member_of_a_compressed_image(compress, fmt):
    u = ii.unpack(compress(newc(MAIN)), ("etc/lvm/lvm.conf",))
    assert u.problem is None and u.formats == [fmt]
    assert u.resolve("init").executable
    assert ii.modules(u) == {"xfs", "dm_mod"} and ii.module_releases(u) == {R}
    assert ii.has_program(u, ("lvm",))                 # bin -> usr/bin
    assert not ii.has_program(u, ("mdadm",))


def test_early_microcode_then_the_main_archive():
    u = ii.unpack(EARLY + gzip.compress(newc(MAIN)), ("etc/lvm/lvm.conf",))
    assert u.formats == ["cpio", "gzip"] and u.problem is None
    assert "kernel/x86/microcode/GenuineIntel.bin" in u.members
    assert b'filter = [ "r|.*|" ]' in u.files["etc/lvm/lvm.conf"]


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress])
@pytest.mark.parametrize("cut", [7, 4096])
def test_a_truncated_image_is_damaged(compress, cut):
    noise = random.Random(15).randbytes(50_000)         # does not compress away
    data = EARLY + compress(newc([*MAIN, ("usr/lib/firmware/blob", REG | 0o644, noise)]))
    u = ii.unpack(data[:-cut])
    assert u.problem and "truncated" in u.problem


def test_junk_and_garbage():
    assert "invalid magic" in ii.unpack(b"\x01\x02junk" * 10).problem
    assert ii.unpack(b"").problem == "is empty"
    assert "cut off" in ii.unpack(newc(MAIN)[:300]).problem


def test_init_missing_dangling_or_not_executable():
    without = [m for m in MAIN if m[0] != "init"]
    assert ii.unpack(gzip.compress(newc(without))).resolve("init") is None
    dangling = ii.unpack(gzip.compress(newc([*without, ("init", LNK | 0o777, b"usr/lib/systemd/systemd")])))
    assert dangling.members["init"].is_link and dangling.resolve("init") is None
    plain = ii.unpack(gzip.compress(newc([*without, ("init", REG | 0o644, b"#!/bin/sh\n")])))
    assert not plain.resolve("init").executable
    good = ii.unpack(gzip.compress(newc([*without, ("init", LNK | 0o777, b"usr/bin/lvm")])))
    assert good.resolve("init").executable


def test_module_names_compare_as_modprobe_does():
    assert ii.module_name("lib/modules/R/kernel/drivers/md/dm-mod.ko.zst") == "dm_mod"
    assert ii.module_name("lib/modules/R/modules.dep") is None


def _host(tool):
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"no {tool} on this host")


def _tool(argv, data):
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


@_host("zstd")
def test_zstd_through_the_host_program():
    from rescue.diagnose.bootpath import host_decompress
    data = EARLY + _tool(["zstd", "-15", "-q", "-c"], newc(MAIN))
    u = ii.unpack(data + bytes(100), (), host_decompress)
    assert u.formats == ["cpio", "zstd"] and u.problem is None and "init" in u.members
    assert "truncated" in ii.unpack(data[:-9], (), host_decompress).problem
    assert "no zstd program" in ii.unpack(data, (), None).unchecked


@_host("lz4")
def test_lz4_legacy_through_the_host_program():
    from rescue.diagnose.bootpath import host_decompress
    data = _tool(["lz4", "-l", "-9", "-q", "-c"], newc(MAIN) + bytes(300_000))
    u = ii.unpack(data + bytes(64), (), host_decompress)          # NUL padding after it, as the kernel allows
    assert u.formats == ["lz4"] and u.problem is None and ii.modules(u) == {"xfs", "dm_mod"}
    assert ii.unpack(data[:len(data) // 2], (), host_decompress).problem

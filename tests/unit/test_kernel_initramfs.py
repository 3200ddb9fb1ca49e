"""Tests for rescue.kernel.initramfs: listing initramfs members without extracting."""
from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import subprocess

import pytest

import rescue.kernel.initramfs as initrd
from rescue.kernel.initramfs import list_initrd_paths, lists_modules_for, module_releases

REL6 = "2.6.32-754.el6.x86_64"
REL7 = "3.10.0-1160.el7.x86_64"


def newc(members: list[tuple[str, bytes]], magic: bytes = b"070701", trailer: bool = True) -> bytes:
    """A newc cpio archive written by hand (see the module docstring)."""
    out = bytearray()
    entries = list(members) + ([("TRAILER!!!", b"")] if trailer else [])
    for ino, (name, body) in enumerate(entries, 1):
        raw = name.encode() + b"\0"
        mode = 0o100644 if body or not name.endswith("/") else 0o40755
        fields = [ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(raw), 0]
        out += magic + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4)
        out += body
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


DRACUT7 = [
    ("usr", b""), ("usr/lib", b""), (f"usr/lib/modules/{REL7}", b""),
    (f"usr/lib/modules/{REL7}/kernel/drivers/block/virtio_blk.ko.xz", b"\xfd7zXZ" + b"x" * 37),
    (f"usr/lib/modules/{REL7}/modules.dep", b"kernel/drivers/block/virtio_blk.ko.xz:\n"),
    ("lib", b""), ("init", b"#!/bin/sh\n"),
]
DRACUT6 = [
    (".", b""), ("lib", b""), (f"lib/modules/{REL6}", b""),
    (f"lib/modules/{REL6}/kernel/fs/ext4/ext4.ko", b"\x7fELF" + b"\0" * 61),
    ("sbin/init", b"\x7fELF"),
]
MKINITRD5 = [   # EL5 nash initrd: modules flat in /lib, no lib/modules tree
    ("./init", b"#!/bin/nash\ninsmod /lib/ext3.ko\n"), ("./lib", b""),
    ("./lib/jbd.ko", b"\x7fELF"), ("./lib/ext3.ko", b"\x7fELF"), ("./bin/nash", b"\x7fELF"),
]
EARLY = [("early_cpio", b"1\n"), ("kernel", b""), ("kernel/x86", b""),
         ("kernel/x86/microcode", b""),
         ("kernel/x86/microcode/GenuineIntel.bin", b"\x01" * 1000)]

COMPRESSORS = {
    "gzip": lambda d: gzip.compress(d, 6),
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "bzip2": lambda d: bz2.compress(d, 9),
    "none": lambda d: d,
}


@pytest.mark.parametrize("compress", sorted(COMPRESSORS))
@pytest.mark.parametrize("members, expected", [
    (DRACUT7, ["usr", "usr/lib", f"usr/lib/modules/{REL7}",
               f"usr/lib/modules/{REL7}/kernel/drivers/block/virtio_blk.ko.xz",
               f"usr/lib/modules/{REL7}/modules.dep", "lib", "init"]),
    (DRACUT6, ["lib", f"lib/modules/{REL6}", f"lib/modules/{REL6}/kernel/fs/ext4/ext4.ko",
               "sbin/init"]),
    (MKINITRD5, ["init", "lib", "lib/jbd.ko", "lib/ext3.ko", "bin/nash"]),
])
def test_single_archive_every_compression(compress, members, expected):
    assert list_initrd_paths(COMPRESSORS[compress](newc(members))) == expected


@pytest.mark.parametrize("compress", ["gzip", "xz", "lzma", "bzip2"])
def test_early_cpio_then_compressed_main_archive(compress):
    image = newc(EARLY) + COMPRESSORS[compress](newc(DRACUT7))
    names = list_initrd_paths(image)
    assert names[:5] == [n for n, _ in EARLY]
    assert names[5:] == [n for n, _ in DRACUT7]
    assert lists_modules_for(image, REL7) is True
    assert lists_modules_for(image, REL6) is False


def test_nul_padding_between_archives_and_crc_format():
    image = newc(EARLY) + b"\0" * 512 + gzip.compress(newc(DRACUT6, magic=b"070702") + b"\0" * 64)
    assert f"lib/modules/{REL6}/kernel/fs/ext4/ext4.ko" in list_initrd_paths(image)


def test_several_archives_inside_one_compressed_stream():
    inner = newc([("a", b"1")]) + b"\0" * 8 + newc([("b", b"22"), ("c", b"")])
    assert list_initrd_paths(gzip.compress(inner)) == ["a", "b", "c"]


def test_several_gzip_members_back_to_back():
    image = gzip.compress(newc([("a", b"1")])) + gzip.compress(newc([("b", b"2")]))
    assert list_initrd_paths(image) == ["a", "b"]


def test_archive_split_across_two_gzip_members():
    # The kernel keeps one cpio state across compressed parts; so do we.
    whole = newc([("first", b"x" * 3000), ("second", b"y")])
    image = gzip.compress(whole[:1500]) + gzip.compress(whole[1500:])
    assert list_initrd_paths(image) == ["first", "second"]


def test_large_bodies_cross_decompression_chunks():
    big = bytes(range(256)) * (3 * 4096 + 7)         # ~3 MiB, crosses 1 MiB steps
    image = lzma.compress(newc([("big", big), ("after", b"z")]), format=lzma.FORMAT_ALONE)
    assert list_initrd_paths(image) == ["big", "after"]


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio is not installed")
def test_archive_written_by_gnu_cpio(tmp_path):
    root = tmp_path / "root"
    (root / "lib/modules" / REL7 / "kernel").mkdir(parents=True)
    (root / "lib/modules" / REL7 / "kernel/xfs.ko").write_bytes(b"\x7fELF" * 10)
    (root / "init").write_text("#!/bin/sh\n")
    (root / "etc").mkdir()
    (root / "etc/fstab").write_text("")
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    listing = "".join(f"./{n}\n" for n in ["."] + names).encode()
    archive = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=root,
                             input=listing, capture_output=True, check=True).stdout
    image = gzip.compress(archive)
    assert sorted(list_initrd_paths(image)) == names
    assert lists_modules_for(image, REL7) is True
    assert module_releases(image) == {REL7}


# --- lists_modules_for / module_releases --------------------------------------------

@pytest.mark.parametrize("members, release, expected", [
    (DRACUT7, REL7, True),                             # usr/lib/modules (EL7 usrmove)
    (DRACUT6, REL6, True),
    (DRACUT6, REL7, False),                            # built for another kernel
    (DRACUT6, "2.6.32-754.el6", False),                # a prefix of the release is not it
    ([(f"lib/modules/{REL6}", b"")], REL6, False),     # only the empty directory
    (MKINITRD5, "2.6.18-274.el5", None),               # flat /lib/*.ko: can't tell
    ([("init", b"")], REL6, None),                     # no modules at all: can't tell
])
def test_lists_modules_for(members, release, expected):
    assert lists_modules_for(gzip.compress(newc(members)), release) is expected


def test_module_releases():
    image = gzip.compress(newc(DRACUT6 + [("lib/modules/2.6.32-71.el6.x86_64/x.ko", b"")]))
    assert module_releases(image) == {REL6, "2.6.32-71.el6.x86_64"}
    assert module_releases(gzip.compress(newc(MKINITRD5))) == set()
    assert module_releases(b"garbage") is None


# --- what cannot be read ---------------------------------------------------------------

@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\0" * 4096, id="zeros"),
    pytest.param(b"\x28\xb5\x2f\xfd" + b"\0" * 100, id="zstd"),
    pytest.param(b"\x02\x21\x4c\x18" + b"\0" * 100, id="lz4-legacy"),
    pytest.param(b"\x04\x22\x4d\x18" + b"\0" * 100, id="lz4-frame"),
    pytest.param(b"\x89LZO\0" + b"\0" * 100, id="lzop"),
    pytest.param(gzip.compress(b"\0" * 1024 + b"\x53\xef" + b"\0" * 2048), id="gzip-ext2"),
    pytest.param(b"hsqs" + b"\0" * 100, id="squashfs"),
    pytest.param(bytes(range(256)) * 16, id="byte-ramp"),
    pytest.param(b"070707" + b"0" * 70, id="odc-cpio"),
    pytest.param(b"070701" + b"Z" * 104, id="newc-bad-hex"),
    pytest.param(b"\x1f\x8b\x08\x00" + b"\xff" * 100, id="corrupt-gzip"),
    pytest.param(b"\xfd7zXZ\x00" + b"\x00" * 100, id="corrupt-xz"),
])
def test_unreadable_images_give_none(data):
    assert list_initrd_paths(data) is None
    assert lists_modules_for(data, REL7) is None


def test_zstd_after_early_cpio_keeps_early_names_but_cannot_tell_modules():
    image = newc(EARLY) + b"\x28\xb5\x2f\xfd" + b"\0" * 100
    assert list_initrd_paths(image) == [n for n, _ in EARLY]
    assert lists_modules_for(image, REL7) is None


@pytest.mark.parametrize("cut", [20, 200, 400, -200, -30])
def test_truncated_gzip_gives_what_was_read(cut):
    whole = gzip.compress(newc(DRACUT6 + [("pad", bytes(range(256)) * 50)]))
    names = list_initrd_paths(whole[:cut])
    if names is not None:
        assert names == ["lib", f"lib/modules/{REL6}",
                         f"lib/modules/{REL6}/kernel/fs/ext4/ext4.ko", "sbin/init", "pad"][:len(names)]
    # A damaged image can confirm modules, never deny them.
    assert lists_modules_for(whole[:cut], REL7) is None


def test_truncated_raw_archive():
    raw = newc(DRACUT6)
    assert list_initrd_paths(raw[:400]) == ["lib", f"lib/modules/{REL6}"]
    assert lists_modules_for(raw[:400], REL7) is None


def test_hostile_sizes_do_not_run_away():
    # A member claiming a 4 GiB body followed by nothing.
    fields = [1, 0o100644, 0, 0, 1, 0, 0xFFFFFFFF, 0, 0, 0, 0, 2, 0]
    evil = b"070701" + b"".join(b"%08X" % f for f in fields) + b"x\0"
    assert list_initrd_paths(evil) == ["x"]
    # A name size past PATH_MAX is corruption, not a 4 GiB read.
    fields[11] = 0xFFFFFFFF
    evil = b"070701" + b"".join(b"%08X" % f for f in fields) + b"x\0"
    assert list_initrd_paths(evil) is None


def test_decompression_is_capped(monkeypatch):
    monkeypatch.setattr(initrd, "MAX_DECOMPRESSED", 64 * 1024)
    bomb = gzip.compress(newc([("first", b""), ("zeros", b"\0" * (4 << 20)), ("last", b"")]))
    assert list_initrd_paths(bomb) == ["first", "zeros"]   # "last" is past the cap
    assert lists_modules_for(bomb, REL7) is None


def test_limit_caps_the_listing():
    members = [(f"f{i}", b"") for i in range(100)]
    image = gzip.compress(newc(members))
    assert list_initrd_paths(image, limit=10) == [f"f{i}" for i in range(10)]
    assert len(list_initrd_paths(image)) == 100


def test_archive_without_trailer_is_still_listed():
    assert list_initrd_paths(gzip.compress(newc([("a", b"1")], trailer=False))) == ["a"]


@pytest.mark.parametrize("data", [bytearray(newc(DRACUT6)), memoryview(newc(DRACUT6))])
def test_accepts_bytes_like(data):
    assert lists_modules_for(data, REL6) is True

"""Tests for rescue.rpmpayload: real RPMs from rpmbuild, re-packed as tar and
checked against `rpm -qlvp` and `rpm2cpio | cpio -i`; hostile payloads made
by splicing a hand-written newc cpio archive into a real RPM after its headers.
"""
from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import lzma
import os
import random
import stat
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_rpm_header import needs_rpmbuild, shared_rpms  # noqa: E402

from rescue.errors import Exit, RescueError  # noqa: E402
from rescue.rpm.header import read_rpm_header  # noqa: E402
from rescue.rpm.payload import link_stays_inside, payload_tar, safe_member_path  # noqa: E402

U = "2.6.18-398.el5"


# --- building a kernel-like package ---------------------------------------------------

def kernel_like_spec() -> str:
    mods = f"%{{buildroot}}/lib/modules/{U}"
    return "\n".join([
        "%define debug_package %{nil}",
        "%define __os_install_post %{nil}",
        "Name: kernel",
        "Version: 2.6.18",
        "Release: 398.el5",
        "Summary: Fake kernel for vmrescue payload tests",
        "License: GPL",
        "AutoReqProv: no",
        "%description",
        "Not a kernel: a test package with a kernel's layout.",
        "%install",
        f"mkdir -p %{{buildroot}}/boot {mods}/kernel/drivers/message/fusion {mods}/extra %{{buildroot}}/sbin",
        f"printf 'vmlinuz {U}\\n' > %{{buildroot}}/boot/vmlinuz-{U}",
        f"seq 1 4000 > %{{buildroot}}/boot/System.map-{U}",        # not a multiple of 4 bytes
        f"printf 'CONFIG_X=y' > %{{buildroot}}/boot/config-{U}",
        f"seq 1 999 > {mods}/kernel/a.ko",
        f"echo mptspi > {mods}/kernel/drivers/message/fusion/mptspi.ko",
        f": > {mods}/modules.order",                                 # an empty file
        f"ln -s ../../../usr/src/kernels/{U} {mods}/build",          # dangling, but inside
        f"ln -s build {mods}/source",
        "echo '#!/bin/sh' > %{buildroot}/sbin/installkernel",
        "ln %{buildroot}/sbin/installkernel %{buildroot}/sbin/new-kernel-pkg",   # a hard link
        "%files",
        f"%attr(0644,root,root) /boot/vmlinuz-{U}",
        f"%attr(0600,root,root) /boot/System.map-{U}",
        f"%attr(0640,root,bin) /boot/config-{U}",
        f"/lib/modules/{U}",
        "%attr(0755,root,root) /sbin/installkernel",
        "%attr(0755,root,root) /sbin/new-kernel-pkg",
    ]) + "\n"


def build_spec(spec: str, top: Path, payload: str) -> Path | None:
    """rpmbuild -bb with the same defines as test_rpm_header.build; None if this rpm cannot."""
    top.mkdir(parents=True)
    (top / "kernel.spec").write_text(spec)
    res = subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}",
                          "--define", "_build_id_links none",
                          "--define", f"_binary_payload {payload}", str(top / "kernel.spec")],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return None
    made = sorted(top.rglob("*.rpm"))
    assert len(made) == 1, made
    return made[0]


# Our package in each compressor vmrescue unpacks, plus the shared packages of test_rpm_header.
OWN = {"kernel-gzip": "w9.gzdio", "kernel-xz": "w6.xzdio", "kernel-bzip2": "w9.bzdio", "kernel-zstd": "w19.zstdio"}
SHARED = {"shared-good": "good", "shared-xz": "xz", "shared-plain": "plain"}


@pytest.fixture(scope="session")
def rpms(tmp_path_factory) -> dict[str, Path | None]:
    shared = shared_rpms(tmp_path_factory)
    top = tmp_path_factory.mktemp("rpmpayload")
    built: dict[str, Path | None] = {key: build_spec(kernel_like_spec(), top / key, payload)
                                     for key, payload in OWN.items()}
    if built["kernel-gzip"] is None:
        pytest.skip("rpmbuild cannot build the kernel-like package here")
    built.update({key: shared[name] for key, name in SHARED.items()})
    return built


def tar_of(rpm: Path, header=None, **kwargs) -> tuple[list[str], tarfile.TarFile]:
    out = io.BytesIO()
    paths = payload_tar(str(rpm), header or read_rpm_header(rpm.read_bytes()), out, **kwargs)
    out.seek(0)
    return paths, tarfile.open(fileobj=out, mode="r:")    # "r:": the tar is not compressed


# --- real packages, checked against rpm itself ------------------------------------------

@dataclass(frozen=True)
class Listed:
    perms: str                  # "-rw-r--r--" as rpm -qlv prints it
    user: str
    group: str
    link: str | None


def rpm_listing(rpm: Path) -> dict[str, Listed]:
    out = subprocess.run(["rpm", "-qlvp", "--nosignature", "--nodigest", str(rpm)],
                         capture_output=True, text=True, check=True).stdout
    listing = {}
    for line in out.splitlines():
        perms, _nlink, user, group, _size, _mon, _day, _time, rest = line.split(maxsplit=8)
        path, _, link = rest.partition(" -> ")
        listing[path] = Listed(perms, user, group, link or None)
    return listing


def cpio_extract(rpm: Path, into: Path) -> Path:
    into.mkdir()
    subprocess.run(f"rpm2cpio '{rpm}' | cpio -idm --quiet --no-absolute-filenames", shell=True,
                   cwd=into, check=True)
    return into


def tar_type(m: tarfile.TarInfo) -> int:
    if m.isdir():
        return stat.S_IFDIR
    if m.issym():
        return stat.S_IFLNK
    assert m.isfile() or m.islnk(), m.type
    return stat.S_IFREG


@needs_rpmbuild
@pytest.mark.parametrize("key", ["kernel-gzip", "kernel-xz", "kernel-bzip2", *SHARED])
def test_tar_agrees_with_rpm(rpms, tmp_path, key):
    rpm = rpms[key]
    if rpm is None:
        pytest.skip(f"rpmbuild cannot write a {OWN[key]} payload here")
    paths, tar = tar_of(rpm)
    members = {"/" + m.name: m for m in tar.getmembers()}
    listing = rpm_listing(rpm)

    # Returned paths are the guest paths, one per member, and exactly rpm's file list.
    assert sorted(paths) == sorted(members) == sorted(listing)
    assert len(paths) == len(set(paths))

    for path, m in members.items():
        want = listing[path]
        assert stat.filemode(tar_type(m) | m.mode) == want.perms, path
        assert (m.uname, m.gname, m.uid, m.gid) == (want.user, want.group, 0, 0), path
        assert (m.linkname if m.issym() else None) == want.link, path

    # Contents agree with cpio's own extraction.
    tree = cpio_extract(rpm, tmp_path / "cpio")
    for path, m in members.items():
        on_disk = tree / path.lstrip("/")
        if m.issym():
            assert os.readlink(on_disk) == m.linkname, path
        elif m.isdir():
            assert on_disk.is_dir() and not on_disk.is_symlink(), path
        else:
            assert tar.extractfile(m).read() == on_disk.read_bytes(), path
    extracted = {"/" + str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_symlink() or not p.is_dir()}
    assert extracted == {p for p, m in members.items() if not m.isdir()}


@needs_rpmbuild
@pytest.mark.parametrize("key", ["kernel-gzip", "kernel-xz", "kernel-bzip2"])
def test_kernel_like_members(rpms, key):
    rpm = rpms[key]
    if rpm is None:
        pytest.skip(f"rpmbuild cannot write a {OWN[key]} payload here")
    paths, tar = tar_of(rpm)
    m = {x.name: x for x in tar.getmembers()}
    # (tar name, type, mode, linkname): the layout the tests above compare wholesale.
    expected = [
        (f"boot/vmlinuz-{U}", tarfile.REGTYPE, 0o644, ""),
        (f"boot/System.map-{U}", tarfile.REGTYPE, 0o600, ""),
        (f"boot/config-{U}", tarfile.REGTYPE, 0o640, ""),
        (f"lib/modules/{U}", tarfile.DIRTYPE, 0o755, ""),
        (f"lib/modules/{U}/extra", tarfile.DIRTYPE, 0o755, ""),
        (f"lib/modules/{U}/kernel/a.ko", tarfile.REGTYPE, 0o644, ""),
        (f"lib/modules/{U}/modules.order", tarfile.REGTYPE, 0o644, ""),
        (f"lib/modules/{U}/build", tarfile.SYMTYPE, 0o777, f"../../../usr/src/kernels/{U}"),
        (f"lib/modules/{U}/source", tarfile.SYMTYPE, 0o777, "build"),
    ]
    for name, typ, mode, link in expected:
        assert (m[name].type, m[name].mode, m[name].linkname) == (typ, mode, link), name
    assert f"/boot/vmlinuz-{U}" in paths
    assert tar.extractfile(m[f"boot/vmlinuz-{U}"]).read() == f"vmlinuz {U}\n".encode()
    assert m[f"boot/config-{U}"].gname == "bin"
    assert m[f"lib/modules/{U}/modules.order"].size == 0
    # newc keeps a hard link's data with its last link only; both names must read the script.
    pair = [m["sbin/installkernel"], m["sbin/new-kernel-pkg"]]
    assert sorted(x.type for x in pair) == sorted([tarfile.REGTYPE, tarfile.LNKTYPE])
    assert [tar.extractfile(x).read() for x in pair] == [b"#!/bin/sh\n"] * 2


@needs_rpmbuild
def test_zstd_payload_is_unsupported(rpms, tmp_path):
    rpm = rpms["kernel-zstd"]
    if rpm is None:
        pytest.skip("rpmbuild cannot write a zstd payload here")
    header = read_rpm_header(rpm.read_bytes())
    assert header.payload_compressor == "zstd"
    with pytest.raises(RescueError) as exc:
        payload_tar(str(rpm), header, io.BytesIO())
    assert (exc.value.code, exc.value.exit_status) == ("RPM_PAYLOAD_UNSUPPORTED", Exit.REFUSED)
    assert "zstd" in exc.value.message and str(rpm) in exc.value.message


# --- hostile payloads: a hand-made cpio spliced into a real RPM ---------------------------

@dataclass(frozen=True)
class Entry:
    name: str
    mode: int = 0o100644
    data: bytes = b""
    size: int | None = None      # declared size; None = len(data)
    ino: int = 0                 # 0 = a fresh one
    nlink: int = 1
    rdev: tuple[int, int] = (0, 0)


def newc(entries: list[Entry], trailer: bool = True) -> bytes:
    """A newc ("070701") cpio archive, as rpm writes its payload."""
    out = bytearray()

    def put(fields: list[int], name: bytes, data: bytes) -> None:
        out.extend(b"070701" + b"".join(b"%08x" % f for f in fields) + name)
        out.extend(b"\0" * (-(110 + len(name)) % 4))
        out.extend(data + b"\0" * (-len(data) % 4))

    for i, e in enumerate(entries, 1):
        name = e.name.encode() + b"\0"
        size = len(e.data) if e.size is None else e.size
        put([e.ino or 1000 + i, e.mode, 0, 0, e.nlink, 0, size, 0, 0, *e.rdev, len(name), 0], name, e.data)
    if trailer:
        put([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0], b"TRAILER!!!\0", b"")
    return bytes(out)


COMPRESS = {"gzip": gzip.compress, "xz": lzma.compress, "bzip2": bz2.compress}
VMLINUZ = Entry(f"./boot/vmlinuz-{U}", data=b"vmlinuz\n")


def noise(n: int) -> bytes:
    return random.Random(n).randbytes(n)


def cut_stream(compressor: str) -> bytes:
    """A member large enough that the compressed stream ends inside its data."""
    whole = COMPRESS[compressor](newc([VMLINUZ, Entry("./boot/big", data=noise(200_000))]))
    return whole[:len(whole) // 2]


# id -> (raw payload for a compressor, limit, words the message must hold)
HOSTILE = {
    "absolute": (lambda c: newc([VMLINUZ, Entry("/etc/shadow", data=b"x")]), None, ["'/etc/shadow'"]),
    "absolute-after-dot": (lambda c: newc([Entry(".//etc/shadow", data=b"x")]), None, ["'.//etc/shadow'"]),
    "dotdot": (lambda c: newc([Entry("../../etc/passwd", data=b"x")]), None, ["'../../etc/passwd'"]),
    "dotdot-inside": (lambda c: newc([Entry("./boot/../../x", data=b"x")]), None, ["'./boot/../../x'"]),
    "the-root-itself": (lambda c: newc([Entry(".", mode=0o040755)]), None, ["unsafe path '.'"]),
    "symlink-absolute-up": (lambda c: newc([Entry("./boot/evil", 0o120777, b"/../../etc")]), None,
                            ["'./boot/evil'", "'/../../etc'"]),
    "symlink-relative-up": (lambda c: newc([Entry("./boot/evil2", 0o120777, b"../../../..")]), None,
                            ["'./boot/evil2'", "'../../../..'"]),
    "symlink-up-then-down": (lambda c: newc([Entry("./boot/evil3", 0o120777, b"../../boot/x")]), None,
                             ["'./boot/evil3'"]),
    "char-device": (lambda c: newc([VMLINUZ, Entry("./boot/mem", 0o020600, rdev=(1, 1))]), None,
                    ["device", "'./boot/mem'"]),
    "block-device": (lambda c: newc([Entry("./boot/sda", 0o060660, rdev=(8, 0))]), None, ["'./boot/sda'"]),
    "fifo": (lambda c: newc([Entry("./boot/fifo", 0o010644)]), None, ["'./boot/fifo'"]),
    "truncated-member": (lambda c: newc([VMLINUZ, Entry("./boot/big", data=noise(5000))])[:3000], None,
                         ["truncated", "'./boot/big'"]),
    "no-trailer": (lambda c: newc([VMLINUZ], trailer=False), None, ["truncated", f"'./boot/vmlinuz-{U}'"]),
    "oversize": (lambda c: newc([VMLINUZ, Entry("./boot/big", size=10_000)]), 4096,
                 ["'./boot/big'", "4096 bytes"]),
    "oversize-in-total": (lambda c: newc([Entry("./boot/a", data=noise(3000)),
                                          Entry("./boot/b", data=noise(3000))]), 4096, ["'./boot/b'"]),
    "huge-name": (lambda c: b"070701" + b"%08x" % 1 + b"%08x" % 0o100644 + b"0" * 72 + b"ffffffff" + b"0" * 8,
                  None, ["member name"]),
    "negative-size": (lambda c: b"070701" + b"-0000001" * 13, None, ["not a cpio archive"]),
    "odc-cpio": (lambda c: b"070707" + b"0" * 200, None, ["not a cpio archive"]),
    "garbage": (lambda c: b"this is not a cpio archive at all, " * 20, None, ["not a cpio archive"]),
    "empty": (lambda c: b"", None, ["not a cpio archive"]),
}
# Payloads that are not even valid compressed data: the compressor's error is refused too.
RAW = {
    "not-compressed": (lambda c: b"\x00garbage, not compressed" * 10, None, ["decompressed"]),
    "cut-stream": (cut_stream, None, ["decompressed", "'./boot/big'"]),
}


@pytest.fixture(scope="session")
def base_rpm(rpms) -> Path:
    return rpms["kernel-gzip"]


def splice(base: Path, payload: bytes, compressor: str, into: Path):
    """`base` with its payload replaced; the header says the payload is `compressor`-compressed."""
    data = base.read_bytes()
    header = read_rpm_header(data)
    into.write_bytes(data[:header.payload_offset] + payload)
    return dataclasses.replace(read_rpm_header(into.read_bytes()), payload_compressor=compressor)


def refused(rpm: Path, header, limit) -> RescueError:
    out = io.BytesIO()
    with pytest.raises(RescueError) as exc:
        payload_tar(str(rpm), header, out, **({"limit": limit} if limit else {}))
    return exc.value


@needs_rpmbuild
@pytest.mark.parametrize("compressor", sorted(COMPRESS))
@pytest.mark.parametrize("case", sorted(HOSTILE) + sorted(RAW))
def test_hostile_payload_is_refused(base_rpm, tmp_path, compressor, case):
    if case in HOSTILE:
        make, limit, words = HOSTILE[case]
        payload = COMPRESS[compressor](make(compressor))
    else:
        make, limit, words = RAW[case]
        payload = make(compressor)
        if compressor == "bzip2":
            # bzip2 decodes whole 900 kB blocks: the cut is met before any member is read.
            words = [w for w in words if "./" not in w]
    rpm = tmp_path / "hostile.rpm"
    err = refused(rpm, splice(base_rpm, payload, compressor, rpm), limit)
    assert (err.code, err.exit_status) == ("RPM_PAYLOAD_UNSAFE", Exit.REFUSED)
    assert err.message.startswith(f"{rpm}: ") and err.message.endswith("nothing was written.")
    for word in words:
        assert word in err.message


@needs_rpmbuild
@pytest.mark.parametrize("compressor", ["zstd", "lzip", "7z"])
def test_unsupported_compressor(base_rpm, tmp_path, compressor):
    rpm = tmp_path / "odd.rpm"
    header = splice(base_rpm, gzip.compress(newc([VMLINUZ])), compressor, rpm)
    err = refused(rpm, header, None)
    assert (err.code, err.exit_status) == ("RPM_PAYLOAD_UNSUPPORTED", Exit.REFUSED)
    assert f"{compressor}-compressed" in err.message and str(rpm) in err.message


@needs_rpmbuild
def test_size_limit_counts_exactly(base_rpm, tmp_path):
    rpm = tmp_path / "exact.rpm"
    header = splice(base_rpm, gzip.compress(newc([Entry("./boot/a", data=noise(4096))])), "gzip", rpm)
    paths, _ = tar_of(rpm, header, limit=4096)
    assert paths == ["/boot/a"]
    assert refused(rpm, header, 4095).code == "RPM_PAYLOAD_UNSAFE"


# Hand-made payloads that are fine: (entries, [(tar name, type, linkname, data)]) in tar order.
ACCEPTED = {
    "names-without-dot": ([Entry("boot/x", data=b"1")], [("boot/x", tarfile.REGTYPE, "", b"1")]),
    "directory-and-link": ([Entry("./usr/src/kernels/R", 0o040755),
                            Entry("./lib/modules/R/build", 0o120777, b"../../../usr/src/kernels/R")],
                           [("usr/src/kernels/R", tarfile.DIRTYPE, "", b""),
                            ("lib/modules/R/build", tarfile.SYMTYPE, "../../../usr/src/kernels/R", b"")]),
    "absolute-link-inside": ([Entry("./etc/localtime", 0o120777, b"/usr/share/zoneinfo/UTC")],
                             [("etc/localtime", tarfile.SYMTYPE, "/usr/share/zoneinfo/UTC", b"")]),
    "redundant-dots": ([Entry("./boot/./a//b/../c", data=b"c")], [("boot/a/c", tarfile.REGTYPE, "", b"c")]),
    "hard-links": ([Entry("./sbin/a", ino=7, nlink=3), Entry("./sbin/b", ino=7, nlink=3),
                    Entry("./sbin/c", ino=7, nlink=3, data=b"tool\n")],
                   [("sbin/c", tarfile.REGTYPE, "", b"tool\n"), ("sbin/a", tarfile.LNKTYPE, "sbin/c", b""),
                    ("sbin/b", tarfile.LNKTYPE, "sbin/c", b"")]),
    "hard-links-of-an-empty-file": ([Entry("./etc/a", ino=9, nlink=2), Entry("./etc/b", ino=9, nlink=2)],
                                    [("etc/a", tarfile.REGTYPE, "", b""), ("etc/b", tarfile.REGTYPE, "", b"")]),
}


@needs_rpmbuild
@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_hand_made_payload_is_kept(base_rpm, tmp_path, case):
    entries, expected = ACCEPTED[case]
    rpm = tmp_path / "made.rpm"
    paths, tar = tar_of(rpm, splice(base_rpm, gzip.compress(newc(entries)), "gzip", rpm))
    assert paths == ["/" + safe_member_path(e.name) for e in entries]     # archive order
    got = [(m.name, m.type, m.linkname, tar.extractfile(m).read() if m.isfile() else b"")
           for m in tar.getmembers()]
    assert got == expected


# --- the pure checks ----------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    ("./boot/vmlinuz-R", "boot/vmlinuz-R"),
    ("boot/vmlinuz-R", "boot/vmlinuz-R"),
    ("./lib/modules/R/kernel/", "lib/modules/R/kernel"),
    ("./a//b/./c", "a/b/c"),
    ("./a/b/../c", "a/c"),
    ("./...", "..."),
    ("./..a/b", "..a/b"),
    ("/etc/shadow", None),
    (".//etc/shadow", None),
    ("./" + "/" * 3 + "etc", None),
    ("../../etc/passwd", None),
    ("./../etc/passwd", None),
    ("./boot/../../x", None),
    ("./a/..", None),
    ("..", None),
    (".", None),
    ("./", None),
    ("", None),
    ("./boot/a\0b", None),
])
def test_safe_member_path(name, expected):
    assert safe_member_path(name) == expected


@pytest.mark.parametrize("member,target,inside", [
    (f"/lib/modules/{U}/build", f"../../../usr/src/kernels/{U}", True),
    (f"/lib/modules/{U}/source", "build", True),
    (f"/lib/modules/{U}/weak-updates/x.ko", f"../../{U}/kernel/x.ko", True),
    ("/boot/x", "./././vmlinuz", True),
    ("/boot/x", "..", True),                       # the tree's root
    ("/a/b/c", "../..", True),
    ("/boot/x", "/etc/passwd", True),               # absolute: the guest's own /etc
    ("/boot/x", "/", True),
    ("/boot/x", "//etc", True),
    (f"/lib/modules/{U}/build", f"../../../../usr/src/kernels/{U}", False),
    ("/boot/evil", "/../../etc", False),
    ("/boot/evil", "/..", False),
    ("/boot/evil2", "../../../..", False),
    ("/boot/x", "../..", False),
    ("/a/b/c", "../../..", False),
    ("/x", "..", False),
    ("/boot/x", "a/../../..", False),
    ("/boot/x", "../boot/../../etc", False),       # climbs out, comes back: still out on the way
    ("/boot/x", "../../boot/x", False),
])
def test_link_stays_inside(member, target, inside):
    assert link_stays_inside(member, target) is inside

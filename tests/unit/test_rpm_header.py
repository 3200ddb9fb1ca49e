"""Tests for rescue.rpmheader: real RPMs from rpmbuild, checked against rpm's
own answers, and hostile RPMs made by editing their bytes or built by hand.

The session fixture `built_rpms` (a fake kernel and its decoys) is shared
with test_rpmverify.py and test_rpmsources.py, which import it from here.
"""
from __future__ import annotations

import hashlib
import io
import random
import shutil
import stat
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rescue.rpm.header import (
    LEAD_SIZE,
    RpmFormatError,
    header_span,
    kernel_uname_r,
    parse_pgp_signature,
    read_rpm_header,
)
from rescue.rpm.digests import verify_digests

TARGET = "2.6.18-274.3.1.el5.centos.plus"
OTHER = "2.6.18-274.el5"

needs_rpmbuild = pytest.mark.skipif(shutil.which("rpmbuild") is None,
                                    reason="rpmbuild is not installed (Debian: apt-get install rpm)")


# --- building real packages (shared with the other rpm test modules) -------------

@dataclass(frozen=True)
class Pkg:
    name: str
    version: str
    release: str
    uname_r: str | None          # what kernel-uname-r / vmlinuz should say
    provide: bool = True         # Provides: kernel-uname-r = uname_r
    target: str | None = None    # rpmbuild --target
    payload: str | None = None   # _binary_payload, e.g. "w2.xzdio"
    kind: str = "kernel"         # "kernel", "devel", "plain", "source"


# key -> package to build. The key names what it is in the tests.
PACKAGES = {
    "good": Pkg("kernel", "2.6.18", "274.3.1.el5.centos.plus", TARGET),
    "i686": Pkg("kernel", "2.6.18", "274.3.1.el5.centos.plus", TARGET, target="i686"),
    "other_version": Pkg("kernel", "2.6.18", "274.el5", OTHER),
    "xz": Pkg("kernel", "2.6.18", "274.el5", OTHER, payload="w2.xzdio"),
    "no_provide": Pkg("kernel-xen", "2.6.18", "274.el5", "2.6.18-274.el5xen", provide=False),
    "noarch": Pkg("kernel", "2.6.18", "274.3.1.el5.centos.plus", TARGET, target="noarch"),
    "devel": Pkg("kernel-devel", "2.6.18", "274.3.1.el5.centos.plus", None, kind="devel"),
    "plain": Pkg("hello", "1.0", "1.el5", None, kind="plain"),
    "source": Pkg("kernel", "2.6.18", "274.3.1.el5.centos.plus", TARGET, kind="source"),
}


def spec_for(p: Pkg) -> str:
    lines = [
        "%define debug_package %{nil}",
        "%define __os_install_post %{nil}",
        f"Name: {p.name}",
        f"Version: {p.version}",
        f"Release: {p.release}",
        f"Summary: Fake {p.name} for vmrescue tests",
        "License: GPL",
        "AutoReqProv: no",
    ]
    if p.target == "noarch":
        lines.append("BuildArch: noarch")
    if p.uname_r and p.provide:
        lines.append(f"Provides: kernel-uname-r = {p.uname_r}")
    lines += ["%description", "Not a kernel: a test package with a kernel's layout.", "%install"]
    if p.kind in ("kernel", "source"):
        u = p.uname_r
        lines += [
            f"mkdir -p %{{buildroot}}/boot %{{buildroot}}/lib/modules/{u}/kernel",
            f"echo vmlinuz-{u} > %{{buildroot}}/boot/vmlinuz-{u}",
            f"echo module > %{{buildroot}}/lib/modules/{u}/kernel/x.ko",
            f"ln -s ../../../boot/vmlinuz-{u} %{{buildroot}}/lib/modules/{u}/vmlinuz.link",
            "%files",
            f"/boot/vmlinuz-{u}",
            f"/lib/modules/{u}",
        ]
    elif p.kind == "devel":
        lines += [
            "mkdir -p %{buildroot}/usr/src/kernels/" + TARGET,
            "echo Makefile > %{buildroot}/usr/src/kernels/" + TARGET + "/Makefile",
            "%files",
            "/usr/src/kernels/" + TARGET,
        ]
    else:
        lines += ["mkdir -p %{buildroot}/usr/bin", "echo hi > %{buildroot}/usr/bin/hello",
                  "%files", "%attr(0755,root,root) /usr/bin/hello"]
    return "\n".join(lines) + "\n"


def build(p: Pkg, top: Path) -> Path:
    top.mkdir(parents=True, exist_ok=True)
    spec = top / f"{p.name}.spec"
    spec.write_text(spec_for(p))
    args = ["rpmbuild", "-bs" if p.kind == "source" else "-bb",
            "--define", f"_topdir {top}",
            "--define", "_wrong_version_format_terminate_build 0",
            "--define", "_build_id_links none",
            "--define", "_source_payload w9.gzdio"]
    if p.target:
        args += ["--target", p.target]
    if p.payload:
        args += ["--define", f"_binary_payload {p.payload}"]
    before = set(top.rglob("*.rpm"))
    res = subprocess.run([*args, str(spec)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"rpmbuild cannot build here: {res.stderr.strip()[-300:]}")
    made = sorted(set(top.rglob("*.rpm")) - before)
    assert len(made) == 1, made
    return made[0]


_BUILT: dict[str, Path] = {}


def shared_rpms(tmp_path_factory) -> dict[str, Path]:
    """Build every package in PACKAGES once per session."""
    if shutil.which("rpmbuild") is None:
        pytest.skip("rpmbuild is not installed (Debian: apt-get install rpm)")
    if not _BUILT:
        top = tmp_path_factory.mktemp("rpmbuild")
        for key, p in PACKAGES.items():
            # Each build gets its own RPMS tree, so identical NVRAs do not collide.
            _BUILT[key] = build(p, top / key)
    return dict(_BUILT)


@pytest.fixture(scope="session")
def built_rpms(tmp_path_factory) -> dict[str, Path]:
    return shared_rpms(tmp_path_factory)


def rpm_query(path: Path, fmt: str) -> str:
    res = subprocess.run(["rpm", "-qp", "--nosignature", "--nodigest", "--qf", fmt, str(path)],
                         capture_output=True, text=True, check=True)
    return res.stdout


# --- real packages, checked against rpm itself --------------------------------------

@needs_rpmbuild
@pytest.mark.parametrize("key", sorted(PACKAGES))
def test_fields_agree_with_rpm(built_rpms, key):
    path = built_rpms[key]
    data = path.read_bytes()
    h = read_rpm_header(data)
    fields = rpm_query(path, "%{name}|%{version}|%{release}|%{arch}|%{os}|%{summary}|"
                             "%{payloadformat}|%{payloadcompressor}|%{longarchivesize}|"
                             "%{longsigsize}|%{sha1header}|%{sha256header}|%{sigmd5}|"
                             "%{payloaddigest}|%{filedigestalgo}|%{sourcerpm}").split("|")
    (name, version, release, arch, os_, summary, pformat, pcomp, asize, ssize,
     sha1, sha256, md5, pdigest, falgo, srpm) = fields
    assert (h.name, h.version, h.release, h.arch, h.os) == (name, version, release, arch, os_)
    assert h.summary == summary
    assert h.epoch is None
    assert h.payload_format == pformat
    assert h.payload_compressor == pcomp
    assert h.archive_size == int(asize)
    assert h.sig_size == int(ssize) == len(data) - h.header_offset
    assert (h.header_sha1, h.header_sha256, h.md5) == (sha1, sha256, md5)
    assert h.payload_digest == (pdigest if pdigest != "(none)" else None)
    assert h.file_digest_algo == (int(falgo) if falgo != "(none)" else 1)
    assert h.is_source == (key == "source")
    assert h.source_rpm == (None if srpm == "(none)" else srpm)
    assert h.signatures == ()
    provides = rpm_query(path, "[%{providename}|%{provideflags}|%{provideversion}\n]").splitlines()
    assert [(p.name, p.flags, p.version) for p in h.provides] == \
        [(n, int(f), v) for n, f, v in (ln.split("|") for ln in provides)]
    requires = rpm_query(path, "[%{requirename}\n]").splitlines()
    assert list(h.requires) == requires


@needs_rpmbuild
@pytest.mark.parametrize("key", ["good", "i686", "xz", "plain", "devel"])
def test_file_list_agrees_with_rpm(built_rpms, key):
    path = built_rpms[key]
    h = read_rpm_header(path.read_bytes())
    rows = rpm_query(path, "[%{filenames}|%{filemodes}|%{filesizes}|%{filelinktos}|"
                           "%{fileusername}|%{filegroupname}|%{filedigests}\n]").splitlines()
    expect = [ln.split("|") for ln in rows]
    assert [(f.path, f.mode, f.size, f.link_target, f.user, f.group, f.digest) for f in h.files] == \
        [(p, int(m), int(s), lt, u, g, d) for p, m, s, lt, u, g, d in expect]


@needs_rpmbuild
def test_kernel_file_details(built_rpms):
    h = read_rpm_header(built_rpms["good"].read_bytes())
    files = {f.path: f for f in h.files}
    vmlinuz = files[f"/boot/vmlinuz-{TARGET}"]
    assert stat.S_ISREG(vmlinuz.mode) and vmlinuz.size == len(f"vmlinuz-{TARGET}\n")
    # The file digest is in the header's file digest algorithm (8 = SHA256).
    assert h.file_digest_algo == 8
    assert vmlinuz.digest == hashlib.sha256(f"vmlinuz-{TARGET}\n".encode()).hexdigest()
    link = files[f"/lib/modules/{TARGET}/vmlinuz.link"]
    assert stat.S_ISLNK(link.mode) and link.link_target == f"../../../boot/vmlinuz-{TARGET}"
    assert stat.S_ISDIR(files[f"/lib/modules/{TARGET}/kernel"].mode)
    assert h.nvra == "kernel-2.6.18-274.3.1.el5.centos.plus.x86_64"
    assert h.evr == "2.6.18-274.3.1.el5.centos.plus"


@needs_rpmbuild
@pytest.mark.parametrize("key,expected", [
    ("good", TARGET),
    ("i686", TARGET),
    ("other_version", OTHER),
    ("no_provide", "2.6.18-274.el5xen"),      # from /boot/vmlinuz-* alone
    ("devel", None),
    ("plain", None),
])
def test_kernel_uname_r(built_rpms, key, expected):
    assert kernel_uname_r(read_rpm_header(built_rpms[key].read_bytes())) == expected


@needs_rpmbuild
@pytest.mark.parametrize("key", sorted(PACKAGES))
def test_header_span_reads_only_the_headers(built_rpms, key):
    data = built_rpms[key].read_bytes()
    span = header_span(data)
    h = read_rpm_header(data[:span])
    assert span == h.payload_offset < len(data)
    # A reader that starts with nothing needs at most three rounds.
    got, rounds = b"", 0
    while (need := header_span(got)) > len(got):
        got = data[:need]
        rounds += 1
    assert rounds <= 3 and len(got) == span
    with pytest.raises(RpmFormatError, match="truncated"):
        read_rpm_header(data[:span - 1])


@needs_rpmbuild
@pytest.mark.parametrize("key", sorted(PACKAGES))
def test_digests_of_untouched_packages(built_rpms, key):
    path = built_rpms[key]
    data = path.read_bytes()
    h = read_rpm_header(data)
    assert verify_digests(h, data) == []
    with open(path, "rb") as f:
        f.read(10)                       # a stream is rewound first
        assert verify_digests(h, f) == []


# --- hostile packages: edited bytes ------------------------------------------------

def flip(data: bytes, offset: int) -> bytes:
    b = bytearray(data)
    b[offset] ^= 0xFF
    return bytes(b)


def put32(data: bytes, offset: int, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(">I", b, offset, value)
    return bytes(b)


SIZE, SHA256, SHA1, PAYLOAD, MD5 = ("size mismatch", "header SHA256 mismatch",
                                   "header SHA1 mismatch", "payload digest mismatch",
                                   "MD5 (header and payload) mismatch")


@needs_rpmbuild
@pytest.mark.parametrize("edit,expected", [
    ("payload_last", [PAYLOAD, MD5]),
    ("payload_first", [PAYLOAD, MD5]),
    ("header_summary", [SHA256, SHA1, MD5]),
    ("truncate_payload", [SIZE, PAYLOAD, MD5]),
    ("append_byte", [SIZE, PAYLOAD, MD5]),
])
def test_digest_mismatches(built_rpms, edit, expected):
    data = built_rpms["good"].read_bytes()
    h = read_rpm_header(data)
    if edit == "payload_last":
        bad = flip(data, len(data) - 1)
    elif edit == "payload_first":
        bad = flip(data, h.payload_offset)
    elif edit == "header_summary":
        bad = flip(data, data.index(b"Fake kernel", h.header_offset))
    elif edit == "truncate_payload":
        bad = data[:-10]
    else:
        bad = data + b"\0"
    # The edit in the summary string leaves a header that still parses.
    problems = verify_digests(read_rpm_header(bad), bad)
    assert [p.split(":")[0] for p in problems] == expected
    if PAYLOAD in expected:
        assert f"recorded {h.payload_digest}," in problems[expected.index(PAYLOAD)]


@needs_rpmbuild
def test_truncated_inside_headers_is_reported_not_raised(built_rpms):
    data = built_rpms["good"].read_bytes()
    h = read_rpm_header(data)
    problems = verify_digests(h, data[:h.payload_offset - 5])
    assert len(problems) == 1 and "truncated" in problems[0]


@needs_rpmbuild
@pytest.mark.parametrize("cut", [0, 3, 50, 95, 96, 100, 111, 112, 200, -1])
def test_truncated_files_raise_format_error(built_rpms, cut):
    data = built_rpms["good"].read_bytes()
    span = header_span(data)
    part = data[:span + cut] if cut < 0 else data[:cut]
    with pytest.raises(RpmFormatError, match="truncated"):
        read_rpm_header(part)


@needs_rpmbuild
@pytest.mark.parametrize("where,value,match", [
    ("main_nindex", 0x10000, "65536 index entries"),
    ("main_nindex", 0xFFFFFFFF, "index entries"),
    ("main_nindex", 0, "0 index entries"),
    ("main_hsize", 0xFFFFFFFF, "data store of 4294967295 bytes"),      # 4 GiB
    ("main_hsize", 0x20000000, "data store"),
    ("sig_nindex", 0x7FFFFFFF, "signature header claims"),
    ("sig_hsize", 0xFFFFFFF0, "signature header claims a data store"),
    ("lead_magic", 0, "not an RPM file"),
    ("sigtype", 1, "signature type 1"),
    ("main_magic", 0, "main header has no header magic"),
])
def test_absurd_sizes_are_refused_before_reading(built_rpms, where, value, match):
    data = built_rpms["good"].read_bytes()
    h = read_rpm_header(data)
    offsets = {"main_nindex": h.header_offset + 8, "main_hsize": h.header_offset + 12,
               "sig_nindex": LEAD_SIZE + 8, "sig_hsize": LEAD_SIZE + 12,
               "lead_magic": 0, "sigtype": 76, "main_magic": h.header_offset}
    bad = put32(data, offsets[where], value)
    start = time.monotonic()
    with pytest.raises(RpmFormatError, match=match):
        header_span(bad)
    with pytest.raises(RpmFormatError, match=match):
        read_rpm_header(bad)
    assert time.monotonic() - start < 1


@needs_rpmbuild
def test_random_corruption_never_escapes_as_another_error(built_rpms):
    data = built_rpms["good"].read_bytes()
    h = read_rpm_header(data)
    rng = random.Random(1234)
    outcomes = {"parsed": 0, "refused": 0}
    start = time.monotonic()
    for _ in range(400):
        b = bytearray(data[:h.payload_offset])
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(LEAD_SIZE, len(b))] = rng.randrange(256)
        try:
            got = read_rpm_header(bytes(b))
        except RpmFormatError:
            outcomes["refused"] += 1
        else:
            outcomes["parsed"] += 1
            kernel_uname_r(got)
            verify_digests(got, bytes(b))
    assert outcomes["parsed"] and outcomes["refused"]
    assert time.monotonic() - start < 20


# --- hostile packages: built by hand ------------------------------------------------

STRING, BIN, STRING_ARRAY, INT32, INT16, I18N = 6, 7, 8, 4, 3, 9


def header_blob(entries: list[tuple[int, int, object]], lie: dict | None = None) -> bytes:
    """A header structure from (tag, type, value); `lie` overrides an
    entry's (offset, count) or type by tag, to make hostile headers."""
    lie = lie or {}
    index, store = [], b""
    for tag, typ, value in entries:
        if typ == INT32:
            store += b"\0" * (-len(store) % 4)
            raw, count = struct.pack(f">{len(value)}I", *value), len(value)
        elif typ == INT16:
            store += b"\0" * (-len(store) % 2)
            raw, count = struct.pack(f">{len(value)}H", *value), len(value)
        elif typ == STRING:
            raw, count = value.encode() + b"\0", 1
        elif typ in (STRING_ARRAY, I18N):
            raw, count = b"".join(v.encode() + b"\0" for v in value), len(value)
        else:
            raw, count = value, len(value)
        offset = len(store)
        store += raw
        typ2, offset, count = lie.get(tag, (typ, offset, count))
        index.append(struct.pack(">IIiI", tag, typ2, offset, count))
    return (b"\x8e\xad\xe8\x01" + b"\0" * 4 + struct.pack(">II", len(index), len(store))
            + b"".join(index) + store)


def make_rpm(main: list, sig: list | None = None, payload: bytes = b"payload",
             lie: dict | None = None) -> bytes:
    lead = b"\xed\xab\xee\xdb\x03\x00" + b"\0" * 72 + struct.pack(">H", 5) + b"\0" * 16
    assert len(lead) == LEAD_SIZE
    header = header_blob(main, lie)
    sig = sig if sig is not None else [(1004, BIN, hashlib.md5(header + payload).digest())]
    sigblob = header_blob(sig)
    sigblob += b"\0" * (-len(sigblob) % 8)
    return lead + sigblob + header + payload


BASE = [(1000, STRING, "kernel"), (1001, STRING, "2.6.9"), (1002, STRING, "89.EL"),
        (1004, I18N, ["An old kernel", "Ein alter Kern"]), (1022, STRING, "i686"),
        (1021, STRING, "linux"), (1044, STRING, "kernel-2.6.9-89.EL.src.rpm")]


def test_hand_made_old_style_file_names():
    # rpm < 4 kept full paths in OLDFILENAMES (1027), with no dirnames.
    data = make_rpm(BASE + [(1027, STRING_ARRAY, ["/boot/vmlinuz-2.6.9-89.EL", "/etc/x"]),
                            (1030, INT16, [0o100644, 0o100600]),
                            (1028, INT32, [10, 20])])
    h = read_rpm_header(data)
    assert h.summary == "An old kernel"
    assert [(f.path, f.mode, f.size) for f in h.files] == \
        [("/boot/vmlinuz-2.6.9-89.EL", 0o100644, 10), ("/etc/x", 0o100600, 20)]
    assert kernel_uname_r(h) == "2.6.9-89.EL"
    assert h.file_digest_algo == 1 and h.payload_compressor == "gzip"
    assert verify_digests(h, data) == []
    assert verify_digests(h, data[:-1] + b"X") == [
        f"MD5 (header and payload) mismatch: recorded {h.md5}, computed "
        f"{hashlib.md5(data[h.header_offset:-1] + b'X').hexdigest()}"]


def test_hand_made_without_any_digest():
    h = read_rpm_header(make_rpm(BASE, sig=[(1000, INT32, [0])]))
    assert verify_digests(h, make_rpm(BASE, sig=[(1000, INT32, [0])])) == [
        f"size mismatch: the signature header records 0 bytes of header and payload, "
        f"the file has {len(header_blob(BASE)) + len(b'payload')}",
        "the package records no header or payload digest, so its integrity cannot be checked"]


def test_hand_made_unknown_payload_digest_algorithm():
    data = make_rpm(BASE + [(5092, STRING_ARRAY, ["ab" * 32]), (5093, INT32, [99])])
    problems = verify_digests(read_rpm_header(data), data)
    assert problems == ["the payload digest uses digest algorithm 99, which vmrescue cannot check"]


@pytest.mark.parametrize("lie,match", [
    ({1000: (STRING, 10_000, 1)}, "outside its"),                 # offset past the store
    ({1000: (STRING, -5, 1)}, "outside its"),
    ({1001: (42, 0, 1)}, "unknown data type 42"),
    ({1117: (STRING_ARRAY, 0, 1_000_000_000)}, "claims 1000000000 strings"),
    ({1116: (INT32, 0, 0x3FFFFFFF)}, "claims 1073741823 integers"),
    ({1000: (INT32, 0, 1)}, "expected a string"),
    ({1003: (STRING, 0, 1)}, "expected an integer"),
])
def test_hand_made_lying_entries(lie, match):
    main = BASE + [(1003, INT32, [0]), (1118, STRING_ARRAY, ["/boot/"]),
                   (1117, STRING_ARRAY, ["vmlinuz-x"]), (1116, INT32, [0])]
    start = time.monotonic()
    with pytest.raises(RpmFormatError, match=match):
        read_rpm_header(make_rpm(main, lie=lie))
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("main,match", [
    (BASE + [(1118, STRING_ARRAY, ["/boot/"]), (1117, STRING_ARRAY, ["a", "b"]),
             (1116, INT32, [0])], "2 file base names but 1 directory indexes"),
    (BASE + [(1118, STRING_ARRAY, ["/boot/"]), (1117, STRING_ARRAY, ["a"]),
             (1116, INT32, [7])], "names directory 7 of 1"),
    ([(1001, STRING, "1")], "no name"),
])
def test_hand_made_inconsistent_headers(main, match):
    with pytest.raises(RpmFormatError, match=match):
        read_rpm_header(make_rpm(main))


def test_hand_made_string_without_terminator():
    data = make_rpm(BASE)
    # Cut the final NUL of the data store while keeping the sizes consistent.
    h = read_rpm_header(data)
    body = bytearray(data[:h.payload_offset])
    assert body[-1] == 0
    body[-1] = ord("X")
    with pytest.raises(RpmFormatError, match="past the end"):
        read_rpm_header(bytes(body))


def test_columns_of_the_wrong_length_are_ignored():
    h = read_rpm_header(make_rpm(BASE + [(1118, STRING_ARRAY, ["/boot/"]),
                                         (1117, STRING_ARRAY, ["a", "b"]),
                                         (1116, INT32, [0, 0]),
                                         (1030, INT16, [0o644])]))
    assert [(f.path, f.mode) for f in h.files] == [("/boot/a", None), ("/boot/b", None)]


@pytest.mark.parametrize("data", [b"", b"\xed\xab", b"hello world" * 20, b"\0" * 200,
                                  b"\xed\xab\xee\xdb" + b"\0" * 92])
def test_garbage(data):
    with pytest.raises(RpmFormatError):
        read_rpm_header(data)


# --- OpenPGP signature packets ------------------------------------------------------

KEYID = bytes.fromhex("aecfabe5171a62e4")
FPR = bytes.fromhex("817f10316e9cd25aadb73208") + KEYID


def subpacket(kind: int, body: bytes) -> bytes:
    return bytes([len(body) + 1, kind]) + body


def v4_packet(hashed: bytes, unhashed: bytes, new_format: bool = False) -> bytes:
    body = bytes([4, 0x00, 1, 8]) + struct.pack(">H", len(hashed)) + hashed \
        + struct.pack(">H", len(unhashed)) + unhashed + b"\xab\xcd" + b"\x00\x08\xff"
    if new_format:
        return bytes([0xC2, len(body)]) + body
    return bytes([0x89]) + struct.pack(">H", len(body)) + body     # old format, 2-byte length


def v3_packet() -> bytes:
    body = bytes([3, 5, 0x00]) + b"\x11\x22\x33\x44" + KEYID + bytes([17, 2]) + b"\xab\xcd"
    return bytes([0x88, len(body)]) + body                          # old format, 1-byte length


def v6_packet() -> bytes:
    fpr6 = bytes(range(32))
    hashed = bytes([34, 33, 6]) + fpr6
    body = bytes([6, 0x00, 27, 10]) + struct.pack(">I", len(hashed)) + hashed \
        + struct.pack(">I", 0) + b"\xab\xcd"
    return bytes([0xC2, len(body)]) + body


@pytest.mark.parametrize("blob,version,pk,hs,key_id", [
    (v3_packet(), 3, "DSA", "sha1", KEYID.hex()),
    (v4_packet(subpacket(2, b"\0\0\0\1"), subpacket(16, KEYID)), 4, "RSA", "sha256", KEYID.hex()),
    (v4_packet(subpacket(2, b"\0\0\0\1") + subpacket(16, KEYID), b""), 4, "RSA", "sha256",
     KEYID.hex()),
    # only the issuer fingerprint (33): a v4 key id is its last 8 bytes
    (v4_packet(subpacket(33, b"\x04" + FPR), b"", new_format=True), 4, "RSA", "sha256",
     KEYID.hex()),
    # a critical issuer subpacket (bit 7 set) is still the issuer
    (v4_packet(subpacket(0x80 | 16, KEYID), b""), 4, "RSA", "sha256", KEYID.hex()),
    # a v6 fingerprint: the key id is its first 8 bytes
    (v6_packet(), 6, "Ed25519", "sha512", bytes(range(8)).hex()),
    (v4_packet(b"", b""), 4, "RSA", "sha256", None),
])
def test_pgp_signature_packets(blob, version, pk, hs, key_id):
    sig = parse_pgp_signature(blob, "RSA")
    assert (sig.version, sig.pubkey_algo, sig.hash_algo, sig.key_id) == (version, pk, hs, key_id)
    if key_id:
        assert sig.short_key_id == key_id[-8:]


@pytest.mark.parametrize("blob", [
    b"", b"\x00", b"\x89", b"\x89\xff\xff",                 # no packet, or a cut length
    bytes([0x98, 3]) + b"abc",                              # old format tag 6 (public key), not a signature
    v3_packet()[:10],
    v4_packet(bytes([200, 16]) + KEYID, b"")[:-3],          # a subpacket longer than its area
    bytes([0xC2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 4, 0]),      # a 4 GiB length claim
    bytes([0x88, 3, 9, 9, 9]),                              # unknown version
])
def test_pgp_garbage_gives_no_key_id(blob):
    assert parse_pgp_signature(blob).key_id is None


def test_signature_blob_in_signature_header():
    data = make_rpm(BASE, sig=[(268, BIN, v4_packet(b"", subpacket(16, KEYID))),
                               (1005, BIN, v3_packet()),
                               (1004, BIN, b"\0" * 16)])
    sigs = read_rpm_header(data).signatures
    assert [(s.tag, s.header_only, s.version, s.key_id) for s in sigs] == [
        ("RSA", True, 4, KEYID.hex()), ("GPG", False, 3, KEYID.hex())]


def test_verify_digests_reads_streams_in_chunks():
    payload = bytes(range(256)) * 20000          # 5 MB: several chunks
    main = BASE + [(5092, STRING_ARRAY, [hashlib.sha256(payload).hexdigest()]),
                   (5093, INT32, [8])]
    header = header_blob(main)
    sig = [(273, STRING, hashlib.sha256(header).hexdigest()),
           (269, STRING, hashlib.sha1(header).hexdigest()),
           (1004, BIN, hashlib.md5(header + payload).digest()),
           (1000, INT32, [len(header) + len(payload)])]
    data = make_rpm(main, sig=sig, payload=payload)
    h = read_rpm_header(data)
    assert verify_digests(h, io.BytesIO(data)) == []
    assert verify_digests(h, memoryview(data)) == []
    assert len(verify_digests(h, io.BytesIO(data[:-1] + b"\1"))) == 2

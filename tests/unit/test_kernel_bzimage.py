"""Tests for rescue.bzimage: the x86 boot protocol version string."""
from __future__ import annotations

import struct

import pytest

from rescue.kernel.bzimage import make_bzimage_header, read_kernel_version, release_of

EL5 = "2.6.18-274.el5 (mockbuild@builder10.centos.org) #1 SMP Fri Jul 22 04:43:29 EDT 2011"
EL6 = "2.6.32-754.35.1.el6.x86_64 (mockbuild@x86-01.bsys.centos.org) #1 SMP Sat Nov 7 12:42:14 UTC 2020"


def patched(blob: bytes, offset: int, fmt: str, value) -> bytes:
    out = bytearray(blob)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize("version", [EL5, EL6, "3.10.0-1160.el7.x86_64 (mockbuild@kbuilder) #1", "x"])
def test_round_trip(version):
    assert read_kernel_version(make_bzimage_header(version)) == version


def test_header_layout():
    blob = make_bzimage_header(EL5)
    assert blob[0x1FE:0x200] == b"\x55\xaa"
    assert blob[0x202:0x206] == b"HdrS"
    assert struct.unpack_from("<H", blob, 0x206)[0] == 0x020A
    ptr = struct.unpack_from("<H", blob, 0x20E)[0]
    assert blob[0x200 + ptr:].startswith(EL5.encode() + b"\0")
    assert len(blob) == (1 + blob[0x1F1]) * 512


def test_trailing_kernel_payload_is_ignored():
    blob = make_bzimage_header(EL6) + b"\x1f\x8b\x08" + bytes(range(256)) * 100
    assert read_kernel_version(blob) == EL6


BASE = make_bzimage_header(EL5)


@pytest.mark.parametrize("data", [
    b"",
    b"\x00" * 0x200,
    b"\x7fELF" + b"\x00" * 1000,                    # an uncompressed vmlinux
    b"\x1f\x8b\x08\x00" + b"\x00" * 1000,           # a gzip'd Image (arm64 style)
    BASE[:0x20F],                                   # cut inside the header
    BASE[:0x300],                                   # cut before the string
    BASE[:0x400 + 5],                               # string without its NUL
    BASE.replace(b"HdrS", b"HdrX"),                  # wrong magic
    patched(BASE, 0x206, "<H", 0x01FF),             # protocol older than 2.00
    patched(BASE, 0x20E, "<H", 0),                  # no version pointer
    patched(BASE, 0x20E, "<H", 0xFFFF),             # pointer past the end
    patched(BASE, 0x400, "<B", 0),                  # empty string
    patched(BASE, 0x400, "<B", 0x07),               # control character
    BASE[:0x400] + b"A" * 4096,                     # runaway, unterminated string
])
def test_not_a_usable_bzimage_gives_none(data):
    assert read_kernel_version(data) is None


@pytest.mark.parametrize("data", [bytearray(BASE), memoryview(BASE)])
def test_accepts_bytes_like(data):
    assert read_kernel_version(data) == EL5


def test_non_ascii_is_replaced_not_raised():
    blob = bytearray(make_bzimage_header("2.6.18-x #1"))
    blob[0x400 + 2] = 0xFF
    assert read_kernel_version(bytes(blob)) == "2.\ufffd.18-x #1"


@pytest.mark.parametrize("version, release", [
    (EL5, "2.6.18-274.el5"),
    (EL6, "2.6.32-754.35.1.el6.x86_64"),
    ("  3.10.0-1160.el7.x86_64   (x)", "3.10.0-1160.el7.x86_64"),
    ("", ""),
    ("   ", ""),
])
def test_release_of(version, release):
    assert release_of(version) == release

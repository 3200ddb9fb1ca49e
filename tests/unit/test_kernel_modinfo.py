"""Tests for rescue.modinfo: `.modinfo` from real gcc objects and hand-made ELF."""
from __future__ import annotations

import gzip
import lzma
import shutil
import struct
import subprocess

import pytest

from rescue.kernel.modinfo import read_modinfo, vermagic_release

MODULE_C = r"""
static const char __vm[] __attribute__((section(".modinfo"), used)) =
    "vermagic=2.6.18-274.el5 SMP mod_unload gcc-4.1";
static const char __lic[] __attribute__((section(".modinfo"), used, aligned(1))) =
    "license=GPL";
static const char __a1[] __attribute__((section(".modinfo"), used, aligned(1))) =
    "alias=pci:v00001AF4d00001000sv*sd*bc*sc*i*";
static const char __a2[] __attribute__((section(".modinfo"), used, aligned(1))) =
    "alias=pci:v00001AF4d00001041sv*sd*bc*sc*i*";
int init_module(void) { return 0; }
"""

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def compile_module(tmp_path, flags: list[str]) -> bytes:
    src = tmp_path / "mod.c"
    src.write_text(MODULE_C)
    obj = tmp_path / "mod.o"
    result = subprocess.run(["gcc", *flags, "-c", str(src), "-o", str(obj)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"gcc {' '.join(flags)} cannot build here: {result.stderr.strip()[:200]}")
    return obj.read_bytes()


@needs_gcc
@pytest.mark.parametrize("flags", [[], ["-m32"], ["-O2", "-g"], ["-ffunction-sections"]])
def test_real_gcc_object(tmp_path, flags):
    info = read_modinfo(compile_module(tmp_path, flags))
    assert info["vermagic"] == ["2.6.18-274.el5 SMP mod_unload gcc-4.1"]
    assert info["license"] == ["GPL"]
    # gcc may reorder the records (-O2 does), so compare as a set.
    assert sorted(info["alias"]) == ["pci:v00001AF4d00001000sv*sd*bc*sc*i*",
                                     "pci:v00001AF4d00001041sv*sd*bc*sc*i*"]
    assert vermagic_release(info) == "2.6.18-274.el5"


@needs_gcc
def test_real_object_compressed_like_el8(tmp_path):
    data = compile_module(tmp_path, [])
    for packed in (lzma.compress(data, format=lzma.FORMAT_XZ), gzip.compress(data)):
        assert vermagic_release(read_modinfo(packed)) == "2.6.18-274.el5"


@needs_gcc
def test_real_object_without_modinfo(tmp_path):
    src = tmp_path / "plain.c"
    src.write_text("int f(void) { return 1; }\n")
    obj = tmp_path / "plain.o"
    subprocess.run(["gcc", "-c", str(src), "-o", str(obj)], check=True)
    assert read_modinfo(obj.read_bytes()) == {}


@needs_gcc
@pytest.mark.parametrize("cut", [16, 52, 64, 200, -1, -40, -64])
def test_real_object_truncated(tmp_path, cut):
    data = compile_module(tmp_path, [])
    info = read_modinfo(data[:cut])
    # The section header table is at the end, so a cut object has no table.
    assert info == {}


# --- hand-made ELF: every class and byte order ------------------------------------

def make_elf(is64: bool, big: bool, sections: list[tuple[str, int, bytes]],
             shstrndx: int | None = None, shnum_override: int | None = None) -> bytes:
    """An ELF relocatable with the given (name, sh_type, data) sections, a
    leading null section and a trailing .shstrtab."""
    e = ">" if big else "<"
    names = [""] + [s[0] for s in sections] + [".shstrtab"]
    strtab = b""
    name_offs = []
    for n in names:
        name_offs.append(len(strtab))
        strtab += n.encode() + b"\0"
    ehsize = 64 if is64 else 52
    shentsize = 64 if is64 else 40
    body = bytearray()
    offsets = []
    for _name, _type, data in sections:
        offsets.append(ehsize + len(body))
        body += data
    strtab_off = ehsize + len(body)
    body += strtab
    while (ehsize + len(body)) % 8:
        body += b"\0"
    shoff = ehsize + len(body)
    headers = [(0, 0, 0, 0)]
    headers += [(name_offs[i + 1], typ, offsets[i], len(data))
                for i, (_n, typ, data) in enumerate(sections)]
    headers.append((name_offs[-1], 3, strtab_off, len(strtab)))
    shnum = len(headers) if shnum_override is None else shnum_override
    index = len(headers) - 1 if shstrndx is None else shstrndx
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big else 1, 1]) + b"\0" * 9
    if is64:
        ehdr = ident + struct.pack(e + "HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0,
                                   ehsize, 0, 0, shentsize, shnum, index)
    else:
        ehdr = ident + struct.pack(e + "HHIIIIIHHHHHH", 1, 3, 1, 0, 0, shoff, 0,
                                   ehsize, 0, 0, shentsize, shnum, index)
    table = b""
    for name, typ, off, size in headers:
        if is64:
            table += struct.pack(e + "IIQQQQIIQQ", name, typ, 0, 0, off, size, 0, 0, 1, 0)
        else:
            table += struct.pack(e + "IIIIIIIIII", name, typ, 0, 0, off, size, 0, 0, 1, 0)
    return ehdr + bytes(body) + table


MODINFO = (b"license=GPL\0\0\0vermagic=3.10.0-1160.el7.x86_64 SMP mod_unload modversions \0"
           b"depends=virtio,virtio_ring\0srcversion=ABC\0")
SECTIONS = [(".text", 1, b"\x90" * 16), (".modinfo", 1, MODINFO), (".data", 1, b"\1\2\3\4")]


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("big", [True, False])
def test_every_class_and_byte_order(is64, big):
    info = read_modinfo(make_elf(is64, big, SECTIONS))
    assert info == {
        "license": ["GPL"],
        "vermagic": ["3.10.0-1160.el7.x86_64 SMP mod_unload modversions "],
        "depends": ["virtio,virtio_ring"],
        "srcversion": ["ABC"],
    }
    assert vermagic_release(info) == "3.10.0-1160.el7.x86_64"


@pytest.mark.parametrize("sections, expected", [
    ([(".modinfo", 1, b"")], {}),                                    # empty section
    ([(".modinfo", 8, b"")], {}),                                    # SHT_NOBITS
    ([(".modinfox", 1, b"a=b\0")], {}),                              # similar name only
    ([(".modinf", 1, b"a=b\0")], {}),
    ([(".modinfo", 1, b"noequals\0=novalue\0k=\0k=v=w\0")], {"k": ["", "v=w"]}),
    ([(".modinfo", 1, b"name=caf\xc3\xa9\0bad=\xff\xfe\0")],
     {"name": ["café"], "bad": ["\ufffd\ufffd"]}),
    ([(".modinfo", 1, b"unterminated=yes")], {"unterminated": ["yes"]}),
])
def test_section_contents(sections, expected):
    assert read_modinfo(make_elf(True, False, sections)) == expected


def corrupt(data: bytes, offset: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


GOOD64 = make_elf(True, False, SECTIONS)
GOOD32 = make_elf(False, False, SECTIONS)


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x7fELF", id="magic-only"),
    pytest.param(b"\x7fELF\x02\x01\x01" + b"\0" * 9, id="ident-only"),
    pytest.param(b"\x7fELF\x03\x01" + GOOD64[6:], id="bad-class"),
    pytest.param(b"\x7fELF\x02\x03" + GOOD64[6:], id="bad-byte-order"),
    pytest.param(b"MZ" + b"\0" * 500, id="pe"),
    pytest.param(bytes(range(256)) * 64, id="byte-ramp"),
    pytest.param(b"\xff" * 4096, id="all-ff"),
    pytest.param(corrupt(GOOD64, 0x28, "<Q", 2**63), id="shoff-past-end"),
    pytest.param(corrupt(GOOD64, 0x28, "<Q", 0), id="no-section-table"),
    pytest.param(corrupt(GOOD64, 0x3A, "<H", 8), id="shentsize-too-small"),
    pytest.param(corrupt(GOOD64, 0x3E, "<H", 0), id="shstrndx-undef"),
    pytest.param(corrupt(GOOD64, 0x3E, "<H", 4000), id="shstrndx-past-shnum"),
    pytest.param(corrupt(GOOD64, 0x3C, "<H", 0), id="shnum-zero-everywhere"),
    pytest.param(corrupt(GOOD32, 0x20, "<I", 0xFFFFFFF0), id="elf32-shoff-past-end"),
    pytest.param(b"\xfd7zXZ\x00" + b"\0" * 100, id="broken-xz"),
    pytest.param(b"\x1f\x8b" + b"\0" * 100, id="broken-gzip"),
    pytest.param(lzma.compress(b"not an elf"), id="xz-of-text"),
])
def test_garbage_gives_empty_dict(data):
    assert read_modinfo(data) == {}


def test_section_count_larger_than_the_file_reads_what_is_there():
    data = make_elf(True, False, SECTIONS, shnum_override=60000)
    assert vermagic_release(read_modinfo(data)) == "3.10.0-1160.el7.x86_64"


def test_section_pointing_past_the_end_is_clamped():
    data = make_elf(True, False, [(".modinfo", 1, b"vermagic=2.6.32-754.el6.x86_64 SMP\0")])
    # Section 1 header: sh_size at +32 within the header; make it enormous.
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    data = corrupt(data, shoff + 64 + 32, "<Q", 2**40)
    info = read_modinfo(data)
    assert vermagic_release(info) == "2.6.32-754.el6.x86_64"


def test_extended_section_count_and_index():
    """e_shnum 0 / e_shstrndx SHN_XINDEX: the real values are in section 0."""
    data = bytearray(make_elf(True, False, SECTIONS))
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shnum = struct.unpack_from("<H", data, 0x3C)[0]
    shstrndx = struct.unpack_from("<H", data, 0x3E)[0]
    struct.pack_into("<Q", data, shoff + 32, shnum)       # section 0 sh_size
    struct.pack_into("<I", data, shoff + 40, shstrndx)    # section 0 sh_link
    struct.pack_into("<H", data, 0x3C, 0)
    struct.pack_into("<H", data, 0x3E, 0xFFFF)
    assert vermagic_release(read_modinfo(bytes(data))) == "3.10.0-1160.el7.x86_64"


@pytest.mark.parametrize("info, expected", [
    ({"vermagic": ["2.6.18-274.el5 SMP mod_unload gcc-4.1"]}, "2.6.18-274.el5"),
    ({"vermagic": ["", "2.6.18-398.el5xen SMP"]}, "2.6.18-398.el5xen"),
    ({"vermagic": ["   "]}, None),
    ({"license": ["GPL"]}, None),
    ({}, None),
])
def test_vermagic_release(info, expected):
    assert vermagic_release(info) == expected

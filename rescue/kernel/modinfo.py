"""Read the `.modinfo` section of a Linux kernel module (.ko), with no I/O.

A module is an ELF relocatable object. Its `.modinfo` section holds
NUL-separated "key=value" records (license=, vermagic=, depends=, alias=
...). `vermagic` starts with the release the module was built for, which
is how a third-party driver built for another kernel is spotted.

The section is found the way the ELF spec says: the ELF header gives the
section header table (e_shoff, e_shentsize, e_shnum) and the index of the
section-name string table (e_shstrndx); each section header's sh_name is
an offset into that table. Every offset read from the file is checked
against its length, so truncated or hostile input yields {}.

EL8+ ships modules as .ko.xz; xz- and gzip-compressed modules are
unpacked first (output capped), anything else unrecognised yields {}.
"""
from __future__ import annotations

import lzma
import struct
import zlib

__all__ = ["read_modinfo", "vermagic_release"]

_ELFMAG = b"\x7fELF"
_ELFCLASS32, _ELFCLASS64 = 1, 2
_ELFDATA2LSB, _ELFDATA2MSB = 1, 2
_SHT_NOBITS = 8
_SHN_UNDEF = 0
_SHN_XINDEX = 0xFFFF
_MAX_SECTIONS = 65536 * 4      # far above any real module; bounds the scan
_MAX_MODULE = 256 * 1024 * 1024  # cap for unpacking compressed modules


def _maybe_decompress(data: bytes) -> bytes:
    try:
        if data[:6] == b"\xfd7zXZ\x00":
            dec = lzma.LZMADecompressor(lzma.FORMAT_XZ)
            return dec.decompress(data, max_length=_MAX_MODULE)
        if data[:2] == b"\x1f\x8b":
            dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return dec.decompress(data, _MAX_MODULE)
    except (lzma.LZMAError, zlib.error, EOFError):
        return b""
    return data


def _sections(data: bytes) -> tuple[list[tuple[int, int, int, int]], int] | None:
    """The section headers as (sh_name, sh_type, sh_offset, sh_size), and
    the index of the section-name string table; None when the ELF header or
    the table is unusable."""
    if len(data) < 16 or data[:4] != _ELFMAG:
        return None
    cls, enc = data[4], data[5]
    if enc not in (_ELFDATA2LSB, _ELFDATA2MSB):
        return None
    end = "<" if enc == _ELFDATA2LSB else ">"
    if cls == _ELFCLASS64:
        ehdr = end + "16xHHIQQQIHHHHHH"      # e_type .. e_shstrndx
        shdr = end + "IIQQQQIIQQ"            # sh_name .. sh_entsize
    elif cls == _ELFCLASS32:
        ehdr = end + "16xHHIIIIIHHHHHH"
        shdr = end + "IIIIIIIIII"
    else:
        return None
    if len(data) < struct.calcsize(ehdr):
        return None
    (_type, _machine, _version, _entry, _phoff, shoff, _flags, _ehsize,
     _phentsize, _phnum, shentsize, shnum, shstrndx) = struct.unpack_from(ehdr, data, 0)
    shdr_size = struct.calcsize(shdr)
    if shoff == 0 or shentsize < shdr_size or shoff + shdr_size > len(data):
        return None

    def read(index: int) -> tuple[int, int, int, int, int]:
        (name, typ, _flags, _addr, offset, size, link, _info, _align,
         _entsize) = struct.unpack_from(shdr, data, shoff + index * shentsize)
        return name, typ, offset, size, link

    # With 0xff00 or more sections, e_shnum is 0 and the real count sits in
    # section 0's sh_size; likewise e_shstrndx == SHN_XINDEX means its sh_link.
    first = read(0)
    if shnum == 0:
        shnum = first[3]
    if shstrndx == _SHN_XINDEX:
        shstrndx = first[4]
    # Only headers that lie wholly inside the data are read.
    shnum = min(shnum, _MAX_SECTIONS, (len(data) - shoff - shdr_size) // shentsize + 1)
    if shstrndx == _SHN_UNDEF or shstrndx >= shnum:
        return None
    return [read(i)[:4] for i in range(shnum)], shstrndx


def _find_modinfo(data: bytes) -> bytes | None:
    parsed = _sections(data)
    if parsed is None:
        return None
    sections, shstrndx = parsed
    _name, typ, str_off, str_size = sections[shstrndx]
    if typ == _SHT_NOBITS or str_off >= len(data):
        return None
    str_end = min(str_off + str_size, len(data))
    for name_off, typ, off, size in sections:
        start = str_off + name_off
        if start >= str_end:
            continue
        stop = data.find(b"\0", start, str_end)
        if stop < 0 or data[start:stop] != b".modinfo":
            continue
        if typ == _SHT_NOBITS or off >= len(data):
            return None
        return data[off:min(off + size, len(data))]
    return None


def read_modinfo(data: bytes) -> dict[str, list[str]]:
    """The `.modinfo` records of a module as {key: [values in order]}.

    Returns {} for anything that is not an ELF module with a readable
    `.modinfo` section. Never raises.
    """
    try:
        data = _maybe_decompress(bytes(data))
        section = _find_modinfo(data)
    except (struct.error, ValueError, TypeError, MemoryError):
        return {}
    info: dict[str, list[str]] = {}
    if not section:
        return info
    for record in section.split(b"\0"):
        # Empty records are alignment padding between entries.
        key, sep, value = record.partition(b"=")
        if not sep or not key:
            continue
        info.setdefault(key.decode("utf-8", "replace"), []).append(
            value.decode("utf-8", "replace"))
    return info


def vermagic_release(info: dict[str, list[str]]) -> str | None:
    """The release a module was built for: the first word of vermagic=."""
    for value in info.get("vermagic", ()):
        words = value.split()
        if words:
            return words[0]
    return None

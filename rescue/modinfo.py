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


def _section_headers(data: bytes):
    """Yield (sh_name, sh_type, sh_offset, sh_size, sh_link) of every section,
    or nothing when the ELF header is not usable."""
    if len(data) < 16 or data[:4] != _ELFMAG:
        return
    cls, enc = data[4], data[5]
    if enc == _ELFDATA2LSB:
        end = "<"
    elif enc == _ELFDATA2MSB:
        end = ">"
    else:
        return
    if cls == _ELFCLASS64:
        ehdr = end + "16xHHIQQQIHHHHHH"      # e_type .. e_shstrndx
        shdr = end + "IIQQQQIIQQ"            # sh_name .. sh_entsize
    elif cls == _ELFCLASS32:
        ehdr = end + "16xHHIIIIIHHHHHH"
        shdr = end + "IIIIIIIIII"
    else:
        return
    if len(data) < struct.calcsize(ehdr):
        return
    (_type, _machine, _version, _entry, _phoff, shoff, _flags, _ehsize,
     _phentsize, _phnum, shentsize, shnum, shstrndx) = struct.unpack_from(ehdr, data, 0)
    shdr_size = struct.calcsize(shdr)
    if shoff == 0 or shentsize < shdr_size or shoff >= len(data):
        return

    def read(index: int):
        off = shoff + index * shentsize
        if off < 0 or off + shdr_size > len(data):
            return None
        (name, typ, _flags, _addr, offset, size, link, _info, _align,
         _entsize) = struct.unpack_from(shdr, data, off)
        return name, typ, offset, size, link

    # With 0xff00 or more sections, e_shnum is 0 and the real count sits in
    # section 0's sh_size; likewise e_shstrndx == SHN_XINDEX means sh_link.
    first = read(0)
    if first is None:
        return
    if shnum == 0:
        shnum = first[3]
    if shstrndx == _SHN_XINDEX:
        shstrndx = first[4]
    shnum = min(shnum, _MAX_SECTIONS, (len(data) - shoff) // shentsize)
    if shstrndx == _SHN_UNDEF or shstrndx >= shnum:
        return
    strtab = read(shstrndx)
    if strtab is None:
        return
    yield ("strtab", strtab)
    for i in range(shnum):
        sec = read(i)
        if sec is None:
            return
        yield ("section", sec)


def _find_modinfo(data: bytes) -> bytes | None:
    strtab = None
    for kind, sec in _section_headers(data):
        if kind == "strtab":
            _name, typ, off, size, _link = sec
            if typ == _SHT_NOBITS or off >= len(data):
                return None
            strtab = (off, min(off + size, len(data)))
            continue
        name_off, typ, off, size, _link = sec
        assert strtab is not None
        s_start = strtab[0] + name_off
        if s_start >= strtab[1]:
            continue
        s_end = data.find(b"\0", s_start, strtab[1])
        if s_end < 0:
            continue
        if data[s_start:s_end] != b".modinfo":
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

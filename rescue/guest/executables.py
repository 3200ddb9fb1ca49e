"""What the kernel needs to run a program as init: an ELF's interpreter, a script's #! line. No I/O.

The kernel's exec (fs/binfmt_elf.c, fs/binfmt_script.c) loads an ELF's
PT_INTERP program (the dynamic loader, e.g. /lib64/ld-linux-x86-64.so.2)
and a script's interpreter from its first line; if either is missing the
exec fails with ENOENT and, for init, the kernel tries the next candidate
and finally panics ("No working init found"). ELF layout from the System V
ABI: e_phoff at 0x20 (64-bit) / 0x1C (32-bit), e_phentsize and e_phnum
after e_flags; PT_INTERP is program header type 3.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

PT_INTERP = 3
HEAD_BYTES = 64 * 1024              # program headers and the interpreter path sit at the start


@dataclass(frozen=True)
class ProgramKind:
    kind: str                       # "elf", "script", "other"
    interpreter: str | None = None  # PT_INTERP or the #! program; None for a static ELF


def program_kind(head: bytes) -> ProgramKind:
    if head[:4] == b"\x7fELF":
        return ProgramKind("elf", elf_interpreter(head))
    if head[:2] == b"#!":
        line = head[2:256].split(b"\n", 1)[0].strip()
        word = line.split()[0].decode("utf-8", "replace") if line.split() else ""
        return ProgramKind("script", word or None)
    return ProgramKind("other")


def elf_interpreter(head: bytes) -> str | None:
    """The PT_INTERP path of an ELF file's first bytes, None for a static one (or one cut short)."""
    if len(head) < 0x34:
        return None
    is64 = head[4] == 2
    endian = "<" if head[5] == 1 else ">"
    try:
        if is64:
            phoff, = struct.unpack_from(endian + "Q", head, 0x20)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 0x36)
        else:
            phoff, = struct.unpack_from(endian + "I", head, 0x1C)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 0x2A)
        for i in range(min(phnum, 64)):
            at = phoff + i * phentsize
            ptype, = struct.unpack_from(endian + "I", head, at)
            if ptype != PT_INTERP:
                continue
            if is64:
                offset, = struct.unpack_from(endian + "Q", head, at + 8)
                size, = struct.unpack_from(endian + "Q", head, at + 32)
            else:
                offset, = struct.unpack_from(endian + "I", head, at + 4)
                size, = struct.unpack_from(endian + "I", head, at + 16)
            raw = head[offset:offset + min(size, 4096)]
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace") or None
    except struct.error:
        return None
    return None

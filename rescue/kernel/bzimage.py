"""Read the version string embedded in an x86 Linux kernel image (bzImage).

The layout is the x86 boot protocol (Documentation/x86/boot.rst):

  0x1F1  u8   setup_sects     size of the real-mode setup, in 512-byte sectors
  0x1FE  u16  boot_flag       0xAA55
  0x200  u16  jump            a short jump over the header
  0x202  u32  header          "HdrS"
  0x206  u16  version         boot protocol version, e.g. 0x020a
  0x20E  u16  kernel_version  pointer to a NUL-terminated version string,
                              minus 0x200; valid from protocol 2.00 when
                              nonzero

The string is what `uname -v` style tools print: its first word is the
release, e.g. "2.6.18-274.el5 (mockbuild@builder10.centos.org) #1 SMP ...".
It tells which kernel a vmlinuz really is, whatever its file name says.
"""
from __future__ import annotations

import struct

__all__ = ["read_kernel_version", "release_of", "make_bzimage_header"]

_HDR_MAGIC_OFF = 0x202
_PROTO_OFF = 0x206
_VERSION_PTR_OFF = 0x20E
_PTR_BASE = 0x200
_MAX_VERSION_LEN = 512   # real strings are ~100 bytes; bounds a hostile one


def read_kernel_version(data: bytes) -> str | None:
    """The kernel version string of a bzImage, or None if `data` is not one
    (or carries no usable string). Never raises."""
    try:
        # The pointer is a u16, so the string lies within this prefix.
        data = bytes(data[:_PTR_BASE + 0x10000 + _MAX_VERSION_LEN])
        if len(data) < _VERSION_PTR_OFF + 2 or data[_HDR_MAGIC_OFF:_HDR_MAGIC_OFF + 4] != b"HdrS":
            return None
        (proto,) = struct.unpack_from("<H", data, _PROTO_OFF)
        (ptr,) = struct.unpack_from("<H", data, _VERSION_PTR_OFF)
        if proto < 0x200 or ptr == 0:
            return None
        start = _PTR_BASE + ptr
        if start >= len(data):
            return None
        end = data.find(b"\0", start, start + _MAX_VERSION_LEN)
        if end < 0:
            return None              # unterminated: not a string we trust
        raw = bytes(data[start:end])
        text = raw.decode("ascii", errors="replace").strip()
        if not text or not all(c.isprintable() for c in text):
            return None
        return text
    except (struct.error, ValueError, TypeError):  # garbage must never crash the caller
        return None


def release_of(version_string: str) -> str:
    """The release, i.e. the first word, of a kernel version string
    ("" if there is none)."""
    words = version_string.split()
    return words[0] if words else ""


def make_bzimage_header(version: str) -> bytes:
    """A minimal blob that `read_kernel_version` accepts, for fixtures.

    It is only a boot-protocol header (boot flag, "HdrS", protocol 2.10, a
    version pointer and the string), padded to the declared setup size.
    It is not a bootable kernel: there is no setup code and no payload.
    """
    setup_sects = 4
    blob = bytearray((1 + setup_sects) * 512)
    blob[0x1F1] = setup_sects
    blob[0x1FE:0x200] = b"\x55\xaa"              # boot_flag 0xAA55, little endian
    blob[0x200:0x202] = b"\xeb\x66"              # jmp over the header, as real kernels do
    blob[_HDR_MAGIC_OFF:_HDR_MAGIC_OFF + 4] = b"HdrS"
    struct.pack_into("<H", blob, _PROTO_OFF, 0x020A)
    encoded = version.encode("ascii", errors="replace")[: _MAX_VERSION_LEN - 1]
    string_at = 0x400                            # inside the setup area, past the header
    struct.pack_into("<H", blob, _VERSION_PTR_OFF, string_at - _PTR_BASE)
    blob[string_at:string_at + len(encoded)] = encoded
    blob[string_at + len(encoded)] = 0
    return bytes(blob)

"""An initramfs unpacked as the kernel unpacks it, to the last byte: damage, /init, modules, tools. No I/O.

The kernel (init/initramfs.c, unpack_to_rootfs) walks the image: NUL bytes
are skipped, a "070701"/"070702" archive is read as it is, anything else
must be a stream it can decompress (lib/decompress.c: gzip, bzip2, lzma,
xz, lzo, lz4, zstd), after which the cpio reader must be between members
("junk at the end of compressed archive" otherwise). dracut puts an
uncompressed early-microcode archive first and appends the compressed main
one. A truncated image (the classic full /boot during an update) makes the
decompressor fail: "Initramfs unpacking failed", then the root never comes.

`rescue.kernel.initramfs` lists names while streaming; this module holds the
members' modes, symlink targets and a few small files, which the diagnosis
needs (/init's kind, the copied lvm.conf). zstd and lz4 are not in Python's
standard library: the caller passes `external(format, data)` that runs the
host's decompressor (None when there is none).
"""
from __future__ import annotations

import bz2
import lzma
import posixpath
import stat
import zlib
from dataclasses import dataclass, field
from typing import Callable

from rescue.kernel.initramfs import releases_in

MAX_OUTPUT = 512 * 1024 * 1024
MAX_KEPT_FILE = 256 * 1024             # a wanted file larger than this is not kept
_HEADER = 110
_TRAILER = "TRAILER!!!"

# magic -> format; the first two bytes are what the kernel looks at
MAGICS = (
    (b"\x1f\x8b", "gzip"), (b"\x1f\x9e", "gzip"), (b"BZh", "bzip2"), (b"\x5d\x00\x00", "lzma"),
    (b"\xfd7zXZ\x00", "xz"), (b"\x89LZO", "lzo"), (b"\x02\x21\x4c\x18", "lz4"), (b"\x28\xb5\x2f\xfd", "zstd"),
)
External = Callable[[str, bytes], "tuple[bytes, bool] | None"]   # (output, complete) or None: no tool


@dataclass(frozen=True)
class Member:
    name: str                 # normalised: no "./" or leading "/"
    mode: int
    size: int
    target: str | None = None  # a symlink's target

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def executable(self) -> bool:
        return stat.S_ISREG(self.mode) and bool(self.mode & 0o111)


@dataclass
class Unpacked:
    formats: list[str] = field(default_factory=list)         # the parts, in order: "cpio", "gzip" ...
    problem: str | None = None                               # why the kernel would fail to unpack it
    unchecked: str | None = None                             # a part vmrescue could not decompress itself
    members: dict[str, Member] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)    # the wanted small files' bodies

    def resolve(self, name: str, hops: int = 8) -> Member | None:
        """The member `name` leads to through symlinks, as the kernel's path walk inside the initramfs does."""
        name = name.lstrip("/")
        for _ in range(hops):
            m = self.members.get(name) or self._via_dir_link(name)
            if m is None or not m.is_link:
                return m
            base = name.rsplit("/", 1)[0] if "/" in name and not m.target.startswith("/") else ""
            name = _normpath(f"{base}/{m.target}" if base else m.target)
        return None

    def _via_dir_link(self, name: str) -> Member | None:
        # usr-merged images: bin -> usr/bin
        head, sep, rest = name.partition("/")
        link = self.members.get(head)
        if sep and link is not None and link.is_link and link.target:
            return self.members.get(_normpath(f"{link.target}/{rest}"))
        return None


def _normpath(path: str) -> str:
    # As the kernel resolves a member's path inside the image: ".." stops at its root.
    return posixpath.normpath("/" + path).lstrip("/")


def _normalise(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _parse_cpio(buf: bytes | memoryview, pos: int, out: Unpacked, wanted: tuple[str, ...]) -> tuple[int, str | None]:
    """Members from `pos` up to and including a TRAILER!!!; (offset after it, problem)."""
    view = memoryview(buf)
    n = len(view)
    while True:
        if pos + _HEADER > n:
            return n, "a cpio member is cut off (the image is truncated)"
        head = bytes(view[pos:pos + _HEADER])
        if head[:6] not in (b"070701", b"070702"):
            return pos, f"no cpio header at byte {pos} of an archive"
        try:
            fields = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            return pos, f"a damaged cpio header at byte {pos}"
        mode, size, namesize = fields[1], fields[6], fields[11]
        data = (pos + _HEADER + namesize + 3) & ~3
        end = (data + size + 3) & ~3
        if namesize < 1 or data + size > n:
            return n, "a cpio member is cut off (the image is truncated)"
        name = bytes(view[pos + _HEADER:pos + _HEADER + namesize - 1]).decode("utf-8", "surrogateescape")
        pos = end
        if name == _TRAILER:
            return min(pos, n), None
        name = _normalise(name)
        if not name or name == ".":
            continue
        target = bytes(view[data:data + size]).decode("utf-8", "surrogateescape") if stat.S_ISLNK(mode) else None
        out.members[name] = Member(name, mode, size, target)
        if name in wanted and stat.S_ISREG(mode) and size <= MAX_KEPT_FILE:
            out.files[name] = bytes(view[data:data + size])


def _parse_stream(data: bytes, out: Unpacked, wanted: tuple[str, ...]) -> str | None:
    """A decompressed stream: cpio archives with NUL padding between them."""
    pos, n = 0, len(data)
    while pos < n:
        while pos < n and data[pos] == 0:
            pos += 1
        if pos >= n:
            return None
        pos, problem = _parse_cpio(data, pos, out, wanted)
        if problem:
            return problem
    return None


def _decompress(fmt: str, data: memoryview) -> tuple[bytes, int, bool]:
    """(output, input bytes used, whether the stream ended properly) for the formats Python reads."""
    if fmt == "gzip":
        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif fmt == "bzip2":
        dec = bz2.BZ2Decompressor()
    elif fmt == "lzma":
        dec = lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    else:
        dec = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    try:
        output = dec.decompress(bytes(data), MAX_OUTPUT)
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError):
        return b"", len(data), False
    if not dec.eof:
        return output, len(data), False
    return output, len(data) - len(dec.unused_data), True


def unpack(image: bytes, wanted: tuple[str, ...] = (), external: External | None = None) -> Unpacked:
    """Walk the whole image as the kernel does; every compressed part is decompressed to its end."""
    out = Unpacked()
    view = memoryview(image)
    pos, n = 0, len(view)
    if n == 0:
        out.problem = "is empty"
        return out
    while pos < n and out.problem is None:
        while pos < n and view[pos] == 0:
            pos += 1
        if pos >= n:
            break
        head = bytes(view[pos:pos + 6])
        if head[:6] in (b"070701", b"070702"):
            out.formats.append("cpio")
            pos, problem = _parse_cpio(view, pos, out, wanted)
            out.problem = problem
            continue
        fmt = next((name for magic, name in MAGICS if head.startswith(magic)), None)
        if fmt is None:
            out.problem = f"holds data the kernel cannot unpack at byte {pos} (invalid magic)"
            break
        out.formats.append(fmt)
        if fmt in ("lz4", "zstd", "lzo"):
            end = stream_end(fmt, view[pos:])
            if end is not None and end > n - pos:
                out.problem = f"its {fmt} stream starting at byte {pos} is cut short (the image is truncated)"
                break
            rest = bytes(view[pos:pos + end] if end is not None else view[pos:])
            got = external(fmt, rest) if external else None
            if got is None:
                out.unchecked = f"its {fmt} part could not be decompressed here (no {fmt} program on this host)"
                break
            output, complete = got
            if not complete:
                out.problem = f"its {fmt} stream is damaged or cut short (the image is truncated)"
            elif (problem := _parse_stream(output, out, wanted)):
                out.problem = problem
            break
        output, used, complete = _decompress(fmt, view[pos:])
        if len(output) >= MAX_OUTPUT:
            out.unchecked = f"its {fmt} part unpacks to more than {MAX_OUTPUT >> 20} MiB; only that much was read"
            break
        if not complete:
            out.problem = f"its {fmt} stream starting at byte {pos} is damaged or cut short (the image is truncated)"
            break
        problem = _parse_stream(output, out, wanted)
        if problem:
            out.problem = f"{problem}, inside its {fmt} stream"
        pos += max(used, 1)
    return out


def stream_end(fmt: str, data: memoryview | bytes) -> int | None:
    """Where a zstd or lz4-legacy stream ends, from its own framing (the decompressor programs refuse
    the NUL padding the kernel allows after it); past len(data) when it is cut short; None: cannot tell."""
    view = memoryview(data)
    if fmt == "lz4":
        # legacy format: magic, then blocks of a u32 size and that many bytes, to the end (or a 0 size)
        pos = 4
        while pos + 4 <= len(view):
            size = int.from_bytes(view[pos:pos + 4], "little")
            if size == 0 or size == 0x184C2102:
                return pos
            pos += 4 + size
        return pos
    if fmt == "zstd":
        return _zstd_end(view)
    return None


def _zstd_end(view: memoryview) -> int:
    """RFC 8878 framing: frames (header, blocks with 3-byte headers, optional checksum) and skippable frames."""
    pos, n = 0, len(view)
    while pos + 4 <= n:
        magic = int.from_bytes(view[pos:pos + 4], "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:
            pos += 8 + int.from_bytes(view[pos + 4:pos + 8], "little")
            continue
        if magic != 0xFD2FB528:
            return pos
        if pos + 5 > n:
            return n + 1
        fhd = view[pos + 4]
        single = fhd >> 5 & 1
        fcs = {0: single, 1: 2, 2: 4, 3: 8}[fhd >> 6]
        pos += 5 + (0 if single else 1) + {0: 0, 1: 1, 2: 2, 3: 4}[fhd & 3] + fcs
        while True:
            if pos + 3 > n:
                return n + 1
            header = int.from_bytes(view[pos:pos + 3], "little")
            kind, size = header >> 1 & 3, header >> 3
            pos += 3 + (1 if kind == 1 else size)
            if header & 1:
                break
        pos += 4 if fhd >> 2 & 1 else 0
    return pos


# --- what the members say ------------------------------------------------------------

MODULE_SUFFIXES = (".ko", ".ko.gz", ".ko.xz", ".ko.zst")


def module_name(path: str) -> str | None:
    base = path.rsplit("/", 1)[-1]
    for suffix in MODULE_SUFFIXES:
        if base.endswith(suffix):
            return base[:-len(suffix)].replace("-", "_")
    return None


def modules(u: Unpacked) -> set[str]:
    """Module names in the image (dashes as underscores, as modprobe compares them)."""
    return {m for name in u.members if (m := module_name(name))}


def module_releases(u: Unpacked) -> set[str]:
    return releases_in(u.members)


def has_program(u: Unpacked, names: tuple[str, ...]) -> bool:
    dirs = ("sbin", "usr/sbin", "bin", "usr/bin")
    return any((m := u.resolve(f"{d}/{n}")) is not None and not m.is_dir for d in dirs for n in names)

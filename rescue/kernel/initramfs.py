"""List the member names of an initramfs image, with no I/O.

An initramfs is what the kernel's init/initramfs.c unpacks: a sequence of
cpio archives in the "newc" ("070701") or "crc" ("070702") format, each
either stored or compressed, with NUL padding allowed between them. dracut
on EL7 writes an uncompressed "early" archive (CPU microcode) followed by
a gzip/xz one; EL5 mkinitrd and EL6 dracut write one gzip (EL6.2+: lzma)
archive. Inside a decompressed stream more archives may follow a
TRAILER!!! entry, again after NUL padding.

Only names are needed, so archives are read as a stream and file bodies
are skipped, never held. Decompressed output is capped (512 MiB in all)
so a hostile image cannot make this run or allocate without bound.

newc header: "070701" then 13 fields of 8 hex digits: ino, mode, uid, gid,
nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
namesize (with the NUL), check; then the name; header+name and the body
are each padded to a multiple of 4 bytes.
"""
from __future__ import annotations

import bz2
import lzma
import zlib
from dataclasses import dataclass, field

__all__ = [
    "list_initrd_paths",
    "lists_modules_for",
    "module_releases",
    "MAX_DECOMPRESSED",
]

MAX_DECOMPRESSED = 512 * 1024 * 1024
_CHUNK = 1 << 20                  # decompress in 1 MiB steps
_HEADER_LEN = 110
_MAX_NAME = 4096                  # PATH_MAX; longer is corruption
_TRAILER = "TRAILER!!!"

_GZIP = b"\x1f\x8b"
_XZ = b"\xfd7zXZ\x00"
_LZMA = b"\x5d\x00\x00"           # lzma "alone": lc=3 lp=0 pb=2, as the kernel checks
_BZIP2 = b"BZh"
# Formats the kernel may accept but the standard library cannot read.
_UNREADABLE = (
    b"\x28\xb5\x2f\xfd",          # zstd
    b"\x02\x21\x4c\x18",          # lz4 legacy
    b"\x04\x22\x4d\x18",          # lz4 frame
    b"\x89\x4c\x5a\x4f",          # lzop
)


@dataclass
class _Listing:
    names: list[str] = field(default_factory=list)
    complete: bool = True        # False once anything was skipped or cut short
    recognised: bool = False     # saw at least one cpio archive
    budget: int = field(default_factory=lambda: MAX_DECOMPRESSED)


def _normalise(name: str) -> str:
    # mkinitrd stores "./lib/...", dracut "lib/..."; the kernel ignores both.
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


class _CpioReader:
    """Incremental newc/crc reader: feed bytes, collect member names.

    One reader serves a whole image, as the kernel keeps one cpio state
    across stored and compressed parts.
    """

    def __init__(self, listing: _Listing, limit: int) -> None:
        self.listing = listing
        self.limit = limit
        self.pending = bytearray()   # a header and name not yet complete
        self.skip = 0                # body and padding bytes still to pass
        self.after_trailer = False   # the last member read was TRAILER!!!
        self.failed = False
        self.full = False

    @property
    def between_members(self) -> bool:
        return not self.pending and not self.skip

    @property
    def clean_end(self) -> bool:
        """Stopped between members, not inside one, and without error."""
        return self.between_members and not self.failed

    def feed(self, chunk: bytes | memoryview, stop_at_trailer: bool = False) -> int:
        """Consume `chunk`; return how many bytes were used. Less than all
        when stopping after a trailer (in a stored archive something else may
        follow), after a format error, or once `limit` names were seen."""
        view = memoryview(chunk)
        pos, n = 0, len(view)
        while pos < n and not (self.failed or self.full):
            if self.skip:
                step = min(self.skip, n - pos)
                self.skip -= step
                pos += step
                continue
            if not self.pending:
                if stop_at_trailer and self.after_trailer:
                    break
                # The kernel skips NUL padding between members and archives.
                while pos < n and view[pos] == 0:
                    pos += 1
                if pos == n:
                    break
            pos = self._fill(view, pos, _HEADER_LEN)
            if len(self.pending) < _HEADER_LEN:
                break
            header = self._header()
            if header is None:
                self.failed = True
                break
            filesize, namesize = header
            pos = self._fill(view, pos, (_HEADER_LEN + namesize + 3) & ~3)
            if len(self.pending) < (_HEADER_LEN + namesize + 3) & ~3:
                break
            raw = bytes(self.pending[_HEADER_LEN:_HEADER_LEN + namesize - 1])
            self.pending.clear()
            self.skip = (filesize + 3) & ~3
            name = raw.decode("utf-8", "surrogateescape")
            self.after_trailer = name == _TRAILER
            if self.after_trailer:
                continue
            name = _normalise(name)
            if name and name != ".":
                self.listing.names.append(name)
                if len(self.listing.names) >= self.limit:
                    self.full = True
        return pos

    def _fill(self, view: memoryview, pos: int, size: int) -> int:
        take = max(0, min(size - len(self.pending), len(view) - pos))
        self.pending += view[pos:pos + take]
        return pos + take

    def _header(self) -> tuple[int, int] | None:
        head = bytes(self.pending[:_HEADER_LEN])
        if head[:6] not in (b"070701", b"070702"):
            return None
        try:
            fields = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            return None
        filesize, namesize = fields[6], fields[11]
        if namesize < 1 or namesize > _MAX_NAME:
            return None
        self.listing.recognised = True
        return filesize, namesize


def _decompressor(head: bytes):
    if head.startswith(_GZIP):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if head.startswith(_XZ):
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)
    if head.startswith(_LZMA):
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    if head.startswith(_BZIP2):
        return bz2.BZ2Decompressor()
    return None


def _inflate_into(data: memoryview, dec, reader: _CpioReader, listing: _Listing) -> int:
    """Run one compressed stream through `reader`; return the input bytes it
    used. A stream that is corrupt, cut short or over budget marks the
    listing incomplete and uses all the input."""
    is_zlib = not hasattr(dec, "needs_input")
    fed = 0
    pending: bytes | memoryview = b""
    idle = 0
    try:
        while not dec.eof:
            if listing.budget <= 0:
                listing.complete = False
                return len(data)
            step = min(_CHUNK, listing.budget)
            took_input = False
            if is_zlib:
                if not pending and fed < len(data):
                    pending = data[fed:fed + _CHUNK]
                    fed += len(pending)
                    took_input = True
                out = dec.decompress(pending, step)
                pending = dec.unconsumed_tail
            elif dec.needs_input:
                if fed >= len(data):
                    break
                chunk = data[fed:fed + _CHUNK]
                fed += len(chunk)
                took_input = True
                out = dec.decompress(chunk, max_length=step)
            else:
                out = dec.decompress(b"", max_length=step)
            # No input left and no output: the stream is cut short.
            idle = 0 if (out or took_input) else idle + 1
            if idle > 2:
                break
            listing.budget -= len(out)
            reader.feed(out)
            if reader.failed or reader.full:
                listing.complete = False
                return len(data)
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError):
        listing.complete = False
        return len(data)
    if not dec.eof:
        listing.complete = False
        return len(data)
    return fed - len(dec.unused_data)


def _scan(data: bytes, limit: int) -> _Listing:
    listing = _Listing()
    reader = _CpioReader(listing, limit)
    view = memoryview(data)
    pos, n = 0, len(view)
    while pos < n and listing.complete:
        while pos < n and view[pos] == 0:         # padding between archives
            pos += 1
        if pos >= n:
            break
        rest = view[pos:]
        head = bytes(rest[:6])
        if head in (b"070701", b"070702"):
            reader.after_trailer = False
            used = reader.feed(rest, stop_at_trailer=True)
            if reader.failed or reader.full or used == 0:
                listing.complete = False
            pos += used
            continue
        if any(head.startswith(m) for m in _UNREADABLE):
            listing.complete = False
            break
        dec = _decompressor(head)
        if dec is None:
            # ext2 initrds (EL4), squashfs, or junk: nothing more to read.
            listing.complete = False
            break
        pos += max(1, _inflate_into(rest, dec, reader, listing))
    if not reader.clean_end:
        listing.complete = False
    return listing


def list_initrd_paths(data: bytes, limit: int = 200000) -> list[str] | None:
    """Member names of an initramfs (normalised: no leading "./" or "/",
    no "." entry), in archive order; at most `limit` names.

    None when no cpio archive could be read at all: zstd/lz4/lzo images,
    EL4-style ext2 initrds, or garbage. A damaged image yields the names
    read before the damage. Never raises.
    """
    try:
        listing = _scan(bytes(data), max(1, limit))
    except MemoryError:
        return None
    return listing.names if listing.recognised else None


def _has_prefix(names: list[str], prefixes: tuple[str, ...]) -> bool:
    return any(name.startswith(prefixes) for name in names)


def module_releases(data: bytes) -> set[str] | None:
    """The releases the image carries a lib/modules/<release>/ tree for
    (also under usr/lib/modules/); None if the image cannot be read."""
    names = list_initrd_paths(data)
    return None if names is None else releases_in(names)


def releases_in(names) -> set[str]:
    """The releases of the lib/modules/<release>/ (or usr/lib/modules/) trees among member names."""
    releases = set()
    for name in names:
        for base in ("lib/modules/", "usr/lib/modules/"):
            if name.startswith(base):
                release, sep, _rest = name[len(base):].partition("/")
                if release and sep:
                    releases.add(release)
    return releases


def lists_modules_for(data: bytes, release: str) -> bool | None:
    """Whether the image holds modules for `release`: some member under
    lib/modules/<release>/ or usr/lib/modules/<release>/.

    None when it cannot tell: the image is unreadable, the listing was cut
    short before a match, or the image has no lib/modules tree at all (EL5
    mkinitrd puts its modules flat in /lib/*.ko, so paths say nothing about
    the release). Never raises.
    """
    try:
        listing = _scan(bytes(data), 1_000_000)
    except MemoryError:
        return None
    if not listing.recognised:
        return None
    wanted = (f"lib/modules/{release}/", f"usr/lib/modules/{release}/")
    if _has_prefix(listing.names, wanted):
        return True
    if not listing.complete:
        return None
    if not _has_prefix(listing.names, ("lib/modules/", "usr/lib/modules/")):
        return None
    return False

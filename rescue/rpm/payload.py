"""An RPM's payload as a tar archive that is safe to unpack into a guest.

Used only when the guest's own rpm cannot run. The payload is a compressed
cpio archive; every member is checked before it is kept: no absolute or `..`
paths, no symlink whose target leaves the guest's tree, no device nodes, and a
cap on the total size so a payload that lies about its size cannot fill the
host's disk. Modes and ownership come from the RPM header, not the archive.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import posixpath
import re
import tarfile
import zlib
from typing import BinaryIO, Iterator

from rescue.errors import Exit, RescueError
from rescue.rpm.header import RpmHeader

MAX_PAYLOAD_BYTES = 2 * 1024 ** 3      # a kernel package unpacks to ~100 MB; 2 GiB is absurd
_NEWC = (b"070701", b"070702")
_TYPE_MASK = 0o170000
_REG, _DIR, _LNK = 0o100000, 0o040000, 0o120000
_HEX_FIELDS = re.compile(rb"[0-9a-fA-F]{104}")   # 13 fields of 8 hex digits, nothing else
_MAX_NAME = 4096                                   # PATH_MAX: a longer name is a lie
_DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)


def _refuse(rpm: str, why: str) -> RescueError:
    return RescueError("RPM_PAYLOAD_UNSAFE", f"{rpm}: {why}; nothing was written.",
                       "The package is damaged or hostile: take the kernel RPM from the distribution's mirror.",
                       Exit.REFUSED)


def _decompressor(stream: BinaryIO, compressor: str, rpm: str) -> BinaryIO:
    if compressor in ("gzip", ""):
        return gzip.GzipFile(fileobj=stream)
    if compressor in ("xz", "lzma"):
        return lzma.LZMAFile(stream)
    if compressor == "bzip2":
        return bz2.BZ2File(stream)
    raise RescueError("RPM_PAYLOAD_UNSUPPORTED", f"{rpm}: its payload is {compressor}-compressed, "
                      "which vmrescue cannot unpack without the guest's rpm.",
                      "Repair the guest's rpm, or unpack the package by hand with rpm2cpio.", Exit.REFUSED)


def safe_member_path(name: str) -> str | None:
    """'./boot/vmlinuz-R' → 'boot/vmlinuz-R'; None for absolute or escaping names."""
    name = name.removeprefix("./")
    if name.startswith("/"):
        return None
    clean = posixpath.normpath(name)
    if clean in (".", "") or clean.startswith("../") or clean == ".." or "\0" in clean:
        return None
    return clean


def link_stays_inside(member: str, target: str) -> bool:
    """A symlink at `member` pointing at `target` resolves inside the tree.

    Walked one component at a time: posixpath.normpath clamps '/..' to '/',
    which hides a target that climbs above the tree's root.
    """
    parts = [] if target.startswith("/") else [p for p in posixpath.dirname(member).split("/") if p]
    for part in target.split("/"):
        if part == "..":
            if not parts:
                return False
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return True


def _cpio_members(stream: BinaryIO, rpm: str, limit: int) -> Iterator[tuple[str, int, bytes, int, int]]:
    """(name, mode, data, ino, nlink) of each newc cpio member; data of a symlink is its target."""
    def read(n: int, where: str) -> bytes:
        try:
            return stream.read(n)
        except _DECOMPRESS_ERRORS as exc:
            raise _refuse(rpm, f"its payload cannot be decompressed {where} ({exc})") from exc

    total, last = 0, None
    while True:
        after = f"after {last!r}" if last else "at its start"
        head = read(110, after)
        if len(head) < 110 or head[:6] not in _NEWC or not _HEX_FIELDS.fullmatch(head[6:]):
            raise _refuse(rpm, f"its payload is not a cpio archive or is truncated {after}")
        fields = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        ino, mode, nlink, filesize, namesize = fields[0], fields[1], fields[4], fields[6], fields[11]
        if namesize > _MAX_NAME:
            raise _refuse(rpm, f"its payload declares a {namesize}-byte member name {after}")
        name = read(namesize, after)[:-1].decode("utf-8", "surrogateescape")
        read((4 - (110 + namesize) % 4) % 4, after)
        if name == "TRAILER!!!":
            return
        total += filesize
        if total > limit:
            cap = f"{limit // 1024 ** 2} MiB" if limit >= 1024 ** 2 else f"{limit} bytes"
            raise _refuse(rpm, f"its payload unpacks to more than {cap} (at {name!r}, {filesize} bytes)")
        data = read(filesize, f"in {name!r}")
        if len(data) != filesize:
            raise _refuse(rpm, f"its payload is truncated in {name!r}")
        read((4 - filesize % 4) % 4, f"after {name!r}")
        last = name
        yield name, mode, data, ino, nlink


def payload_tar(rpm_path: str, header: RpmHeader, out: BinaryIO, limit: int = MAX_PAYLOAD_BYTES) -> list[str]:
    """Write the payload, re-packed as an uncompressed tar, to `out`; return the guest paths it holds."""
    owners = {f.path: (f.user or "root", f.group or "root", f.mode) for f in header.files}
    paths: list[str] = []
    # newc keeps a hard-linked file's data with its last link; the earlier links are
    # empty placeholders, written as tar hard links once the data has been written.
    linked: dict[int, str] = {}                       # ino -> member that holds the data
    waiting: dict[int, list[tarfile.TarInfo]] = {}    # ino -> links seen before the data
    with open(rpm_path, "rb") as raw:
        raw.seek(header.payload_offset)
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
            members = _cpio_members(_decompressor(raw, header.payload_compressor, rpm_path), rpm_path, limit)
            for name, mode, data, ino, nlink in members:
                path = safe_member_path(name)
                if path is None:
                    raise _refuse(rpm_path, f"its payload holds the unsafe path {name!r}")
                kind = mode & _TYPE_MASK
                info = tarfile.TarInfo(path)
                user, group, header_mode = owners.get("/" + path, ("root", "root", mode))
                info.uname, info.gname, info.uid, info.gid = user, group, 0, 0
                info.mode = (header_mode or mode) & 0o7777
                if kind == _DIR:
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == _LNK:
                    target = data.decode("utf-8", "surrogateescape")
                    if not link_stays_inside("/" + path, target):
                        raise _refuse(rpm_path, f"its symlink {name!r} points outside the guest ({target!r})")
                    info.type, info.linkname = tarfile.SYMTYPE, target
                    tar.addfile(info)
                elif kind == _REG and nlink > 1 and not data:
                    if ino in linked:
                        info.type, info.linkname = tarfile.LNKTYPE, linked[ino]
                        tar.addfile(info)
                    else:
                        waiting.setdefault(ino, []).append(info)
                elif kind == _REG:
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                    if nlink > 1:
                        linked[ino] = path
                        for early in waiting.pop(ino, []):
                            early.type, early.linkname = tarfile.LNKTYPE, path
                            tar.addfile(early)
                else:
                    raise _refuse(rpm_path, f"its payload holds a device or special file {name!r}")
                paths.append("/" + path)
            for early in (e for group in waiting.values() for e in group):
                tar.addfile(early)                # every link of an empty file: empty files
    return paths

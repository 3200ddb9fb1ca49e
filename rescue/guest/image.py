"""Safe detection of a disk image's format before libguestfs sees it.

libguestfs would happily probe a raw file, and a guest that writes a qcow2
header at the start of its raw disk could then make us read host files through
a backing-file name it chose. So: ask `qemu-img info` once, refuse images that
reference other host files (backing files, external data files, descriptor
extents outside the image's directory) unless the operator allows it, and pass
the detected format explicitly to `add_drive`.
"""
from __future__ import annotations

import json
import os
import stat
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from rescue.errors import Exit, RescueError
from rescue.run import ToolError, run

KNOWN_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhdx", "vpc", "qed")
MIN_DISK_BYTES = 64 * 1024          # smaller cannot hold a partition table and a filesystem
# What a kernel reinstall may add to the image file, with room to spare: the
# kernel package (30-60 MB on EL5-7) and its installed files (100-200 MB), the
# initrd (10-40 MB), the backups, the filesystem journal and the image
# format's own metadata. Checked against the free space of the host
# filesystem before anything is written: qemu cannot finish a write on a
# full filesystem, and the repair would stop half done.
REPAIR_HEADROOM = 512 * 1024 * 1024


@dataclass(frozen=True)
class ImageInfo:
    path: str
    format: str
    virtual_size: int
    backing_file: str | None = None
    extents: tuple[str, ...] = ()   # host files a vmdk descriptor points at
    in_use: str | None = None       # why a running VM seems to hold it (see in_use_reason)


def _refuse(path: str, code: str, message: str, hint: str) -> RescueError:
    return RescueError(code, f"{path}: {message}", hint, Exit.IMAGE)


def _check_host_file(path: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _refuse(path, "IMAGE_NOT_FOUND", "no such file.", "Check the path of the disk image.")
    except PermissionError:
        raise _refuse(path, "IMAGE_UNREADABLE", "permission denied.", "Run as a user that can read the image (often root).")
    if stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "IMAGE_IS_DIRECTORY", "is a directory, not a disk image.",
                      "Give the image file itself (e.g. the .vmdk descriptor or the .qcow2 file).")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise _refuse(path, "IMAGE_NOT_A_FILE", "is not a regular file or block device.", "Give a disk image file.")
    if not os.access(path, os.R_OK):
        raise _refuse(path, "IMAGE_UNREADABLE", "permission denied.", "Run as a user that can read the image (often root).")
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        raise _refuse(path, "IMAGE_EMPTY", "is an empty file.", "The image holds no disk; check that the copy finished.")


def _qemu_img_info(path: str, fmt: str | None) -> dict:
    cmd = ["qemu-img", "info", "--output=json", "-U"]
    if fmt:
        cmd += ["-f", fmt]
    cmd.append(path)
    try:
        proc = run(cmd, timeout=60)
    except ToolError as exc:
        if exc.kind == "missing":
            raise RescueError("QEMU_IMG_MISSING", "qemu-img is not installed.",
                              "Install it: apt-get install qemu-utils (Debian/Ubuntu) or dnf install qemu-img.",
                              Exit.ENVIRONMENT) from None
        if exc.kind == "timeout":
            raise _refuse(path, "IMAGE_UNREADABLE", "qemu-img did not answer within 60 s.",
                          "Is the image on a hung network filesystem?") from None
        raise _refuse(path, "IMAGE_UNREADABLE", f"qemu-img could not be run: {exc.detail}.",
                      "Check the host's qemu-utils installation.") from None
    if not proc.ok:
        reason = proc.last_error_line()
        if "truncated" in reason.lower():
            raise _refuse(path, "IMAGE_TRUNCATED", f"is truncated: {reason}",
                          "The copy of the image is incomplete; copy it again from the datastore.")
        raise _refuse(path, "IMAGE_UNREADABLE", f"qemu-img cannot open it: {reason}",
                      "Check that the image is complete (not truncated) and that every file it refers to is present.")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise _refuse(path, "IMAGE_UNREADABLE", "qemu-img printed something that is not JSON.", "Run qemu-img info on it by hand.")


def _extent_files(info: dict) -> tuple[str, ...]:
    data = (info.get("format-specific") or {}).get("data") or {}
    return tuple(e["filename"] for e in data.get("extents", []) if e.get("filename"))


def _data_file(info: dict) -> str | None:
    data = (info.get("format-specific") or {}).get("data") or {}
    return data.get("data-file")


def truncation_problem(fmt: str, header: bytes, file_size: int) -> str | None:
    """Cheap check that the metadata a format's header points at lies inside the file.

    qemu-img info reads only the header, so a copy cut short still "opens";
    libguestfs would then fail much later with an I/O error.
    """
    if fmt == "qcow2" and len(header) >= 72:
        l1_entries = struct.unpack(">I", header[36:40])[0]
        l1_offset = struct.unpack(">Q", header[40:48])[0]
        refcount_offset = struct.unpack(">Q", header[48:56])[0]
        end = max(l1_offset + 8 * l1_entries, refcount_offset + 8)
        if end > file_size:
            return f"its tables end at byte {end} but the file has {file_size}"
    if fmt == "vmdk" and header[:4] == b"KDMV" and len(header) >= 64:
        # sparse extent header: grain directory offset in sectors at byte 56
        gd_offset = struct.unpack("<Q", header[56:64])[0]
        if gd_offset != 0xFFFFFFFFFFFFFFFF and gd_offset * 512 > file_size:
            return f"its grain directory starts at byte {gd_offset * 512} but the file has {file_size}"
    return None


def probe(path: str, fmt: str | None = None, allow_backing: bool = False) -> ImageInfo:
    """Detect the image's format and refuse images that reach out to other host files."""
    _check_host_file(path)
    if fmt is not None and fmt not in KNOWN_FORMATS:
        raise RescueError("BAD_FORMAT", f"unknown image format {fmt!r}.",
                          f"Use one of: {', '.join(KNOWN_FORMATS)}.", Exit.USAGE)
    info = _qemu_img_info(path, fmt)
    detected = info.get("format", "raw")
    size = int(info.get("virtual-size", 0))

    backing = info.get("full-backing-filename") or info.get("backing-filename")
    if backing and not allow_backing:
        raise _refuse(path, "BACKING_FILE_REFUSED",
                      f"is a {detected} image whose backing file is {backing!r}.",
                      "A disk image can name any host file as its backing file; if you trust it, "
                      "pass --allow-backing, or flatten it first: qemu-img convert -O qcow2 IMAGE FLAT.qcow2.")
    data_file = _data_file(info)
    if data_file and not allow_backing:
        raise _refuse(path, "BACKING_FILE_REFUSED",
                      f"is a {detected} image with an external data file {data_file!r}.",
                      "If you trust it, pass --allow-backing.")

    extents = _extent_files(info)
    image_dir = Path(path).resolve().parent
    for extent in extents:
        where = (image_dir / extent).resolve()
        if where.parent != image_dir and not allow_backing:
            raise _refuse(path, "BACKING_FILE_REFUSED",
                          f"is a VMware descriptor whose extent {extent!r} lies outside the image's directory.",
                          "Move the extent next to the descriptor, or pass --allow-backing if you trust it.")
    if size < MIN_DISK_BYTES:
        raise _refuse(path, "NOT_A_DISK_IMAGE",
                      f"is not a disk image ({detected}, {size} bytes of disk: too small for a partition table).",
                      "Give the virtual machine's disk file (.vmdk, .qcow2, .img).")
    if os.path.isfile(path):
        with open(path, "rb") as f:
            problem = truncation_problem(detected, f.read(512), os.path.getsize(path))
        if problem:
            raise _refuse(path, "IMAGE_TRUNCATED", f"is truncated: {problem}.",
                          "The copy of the image is incomplete; copy it again from the datastore.")
    info = ImageInfo(path=path, format=detected, virtual_size=size,
                     backing_file=backing, extents=extents)
    return replace(info, in_use=in_use_reason(info))


def in_use_reason(info: ImageInfo) -> str | None:
    """Why a running VM seems to hold the image (VMware's .lck, qemu's lock), or None.

    qemu takes a lock on every image it opens for writing; `qemu-img info`
    without -U (force-share) fails on such an image. libguestfs's read-only
    drives do not hold that lock, so a diagnose running beside does not count.
    """
    for candidate in (info.path, *info.extents):
        lock_dir = Path(str(candidate) + ".lck")
        if lock_dir.exists():
            return f"the VMware lock {lock_dir} exists (the VM looks powered on)"
    try:
        proc = run(["qemu-img", "info", "--output=json", "-f", info.format, info.path], timeout=60)
    except ToolError:
        return None
    if not proc.ok and "lock" in proc.stderr.lower():
        return "another process (a running VM's qemu) holds its write lock"
    return None


def check_not_in_use(info: ImageInfo) -> None:
    """Refuse to write an image that a running VM holds (qemu's lock, VMware's .lck)."""
    reason = in_use_reason(info)
    if reason:
        raise RescueError("IMAGE_IN_USE", f"{info.path}: {reason}; a VM is using it, so it was not written.",
                          "Shut the VM down (for a stale VMware .lck: check that it is off, then remove the "
                          ".lck) and run again.", Exit.REFUSED)


def write_problem(path: str) -> str | None:
    """Why the host file `path` cannot be written, or None. Mode bits count even for root."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"it cannot be examined ({exc.strerror})"
    if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o222:
        return f"the file is read-only (mode {stat.S_IMODE(st.st_mode):04o})"
    try:
        fd = os.open(path, os.O_RDWR)      # opening writes nothing
    except OSError as exc:
        return f"it cannot be opened for writing ({exc.strerror})"
    os.close(fd)
    return None


def space_needed(info: ImageInfo, allocated: int) -> int:
    """Bytes the host filesystem must have free for a repair of an image with `allocated` bytes on disk.

    A fully allocated raw image is written in place; anything else (sparse raw,
    qcow2, vmdk ...) grows with what the repair writes.
    """
    if info.format == "raw" and not info.extents:
        return max(0, min(REPAIR_HEADROOM, info.virtual_size - allocated))
    return REPAIR_HEADROOM


def check_writable(info: ImageInfo) -> None:
    """Refuse, before anything is written, an image that cannot take a repair: read-only, no room."""
    for candidate in (info.path, *info.extents):
        problem = write_problem(candidate)
        if problem:
            raise RescueError("IMAGE_READ_ONLY", f"{info.path}: {problem}; nothing was written.",
                              f"Make it writable (chmod u+w {candidate}), or repair a writable copy of it.",
                              Exit.REFUSED)
    st = os.stat(info.path)
    needed = space_needed(info, st.st_blocks * 512)
    fs = os.statvfs(os.path.dirname(os.path.abspath(info.path)))
    free = fs.f_bavail * fs.f_frsize
    if free < needed:
        raise RescueError(
            "HOST_DISK_FULL",
            f"{info.path}: its filesystem has {free // (1024 * 1024)} MiB free, and a kernel reinstall may "
            f"add up to {needed // (1024 * 1024)} MiB to the image; nothing was written.",
            "Free space on that filesystem (or move the image to a larger one) and run again.", Exit.REFUSED)


def check_can_write(info: ImageInfo) -> None:
    """Every check before a repair opens the image for writing: no running VM, writable, room to grow."""
    check_not_in_use(info)
    check_writable(info)

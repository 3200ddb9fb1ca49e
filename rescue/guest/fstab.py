"""The guest's /etc/fstab: its lines, and the mountpoints they give on this disk. No I/O.

One reader (`parse_fstab_entries`) serves inspection (which mounts the guest
as its own boot would) and the diagnosis (`parse_fstab`, its lines as
(spec, mountpoint, fstype)).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from rescue.guest.devices import Filesystem, resolve_spec

@dataclass(frozen=True)
class FstabEntry:
    spec: str
    mountpoint: str
    fstype: str
    options: str


def parse_fstab_entries(text: str) -> list[FstabEntry]:
    """Every fstab line with at least spec, mountpoint, type; comments and junk skipped."""
    rows = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3:
            rows.append(FstabEntry(fields[0], fields[1], fields[2], fields[3] if len(fields) > 3 else ""))
    return rows


# Mountpoints libguestfs leaves out of inspect_get_mountpoints: pseudo and
# removable filesystems, and anything not backed by a block device.
_SKIP_FSTYPES = {"swap", "proc", "sysfs", "devpts", "tmpfs", "devtmpfs", "nfs", "nfs4", "cifs", "smbfs",
                 "auto", "iso9660", "udf", "usbfs", "binfmt_misc", "securityfs", "debugfs", "cgroup",
                 "none", "ignore", "autofs", "fuse", "rpc_pipefs", "hugetlbfs", "mqueue"}
_SKIP_MOUNTPOINTS = re.compile(r"^/(?:proc|sys|dev|media|mnt/cdrom|selinux)(?:/|$)")


def _canonical_mountpoint(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def mountpoints_from_fstab(text: str, root: str, filesystems: Sequence[Filesystem], lvs: Sequence[str],
                           first_disk: str) -> tuple[tuple[str, str], ...]:
    """(mountpoint, appliance device) of the guest's fstab, "/" first, then shorter paths first.

    "/" is always `root` (the filesystem the fstab was read from). Entries
    whose spec names no filesystem of this disk are left out, as are swap,
    pseudo filesystems and removable media.
    """
    found: dict[str, str] = {"/": root}
    usable = {fs.device for fs in filesystems if fs.fstype not in ("swap", "LVM2_member", "")}
    for entry in parse_fstab_entries(text):
        mountpoint = _canonical_mountpoint(entry.mountpoint)
        if not entry.mountpoint.startswith("/") or mountpoint in found:
            continue
        if entry.fstype in _SKIP_FSTYPES or _SKIP_MOUNTPOINTS.match(mountpoint):
            continue
        if entry.spec.startswith("/dev/fd") or entry.spec.startswith("/dev/cdrom"):
            continue
        device = resolve_spec(entry.spec, list(filesystems), list(lvs), first_disk)
        if device is not None and device in usable:
            found[mountpoint] = device
    return tuple(sorted(found.items(), key=lambda kv: (len(kv[0]), kv[0])))


def btrfs_subvolume_root(text: str) -> bool:
    """True when the guest's "/" is a btrfs subvolume (mounting the top level would be wrong)."""
    for entry in parse_fstab_entries(text):
        if _canonical_mountpoint(entry.mountpoint) == "/" and "subvol" in entry.options:
            return True
    return False


def parse_fstab(text: str) -> tuple[tuple[str, str, str], ...]:
    """(spec, mountpoint, fstype) of each fstab line; comments and junk skipped."""
    return tuple((e.spec, e.mountpoint, e.fstype) for e in parse_fstab_entries(text))


def fstab_mounts(fstab: str, mountpoint: str) -> bool:
    """Whether the fstab text has a line for `mountpoint` (resolvable or not)."""
    return any(_canonical_mountpoint(e.mountpoint) == mountpoint for e in parse_fstab_entries(fstab))

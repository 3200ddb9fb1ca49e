"""Find the Linux root on one disk, fast: vmrescue's own light inspection.

libguestfs's `inspect_os` costs 12-19 s per guest under TCG (augeas parses
fstab, sysconfig and more for every filesystem) and `list_filesystems` about
6 s; `blkid` behind `vfs_type`/`vfs_label`/`vfs_uuid` about 0.15 s a call.
What vmrescue needs is much less, so it is read directly:

1. Which devices belong to the disk: its partitions, and the LVs of the
   volume groups whose physical volumes lie on it.
2. What each holds: its superblock, read raw (two small preads, no blkid):
   ext2/3/4, xfs, btrfs, swap, LVM2 PV, with label, UUID and size. Anything
   else falls back to one `blkid` call.
3. Which one is a root: each candidate (largest first) is mounted read-only
   at "/" in turn and looked at: /etc/fstab and a release file.
4. What the root says: distro and version from the release files (the same
   precedence and names as libguestfs), the architecture from the ELF header
   of /bin/bash, the package format, and the mountpoints from /etc/fstab
   resolved against the table of step 2.

`fast_inspect` returns [] when it finds nothing it is sure of, so the caller
can fall back to libguestfs's inspection. Deciding (the parsers below) is
kept apart from reading (the functions taking a `Guest`), so every rule is
tested on tables without an appliance: the parsers are rescue.guest.superblocks,
rescue.guest.release and rescue.guest.fstab.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

from rescue.errors import Exit, RescueError
from rescue.guest.devices import Filesystem, partition_name
from rescue.guest.fstab import btrfs_subvolume_root, fstab_mounts, mountpoints_from_fstab
from rescue.guest.release import DEB_DISTROS, RPM_DISTROS, choose_release, elf_arch, package_format
from rescue.guest.superblocks import BTRFS_BYTES, BTRFS_OFFSET, HEAD_BYTES, Volume, identify, read_vg_name
from rescue.model import GuestFacts, OsInfo

ROOT_FSTYPES = ("ext2", "ext3", "ext4", "xfs", "btrfs")
# What holds no operating system for libguestfs's inspection either: nothing
# recognisable, swap, an external journal, an LVM PV (its LVs are volumes of
# their own) and LUKS (unreadable without the passphrase). NTFS is looked at
# here for Windows; anything else is left to libguestfs.
NO_ROOT_FSTYPES = frozenset({"", "swap", "jbd", "LVM2_member", "crypto_LUKS"})
WINDOWS_FSTYPES = frozenset({"ntfs"})
TEXT_LIMIT = 64 * 1024          # release files are one line
FSTAB_LIMIT = 1024 * 1024
ELF_BINARIES = ("/bin/bash", "/usr/bin/bash", "/bin/ls", "/usr/bin/ls", "/bin/sh", "/usr/bin/sh")

# --- reading a guest -----------------------------------------------------------------


def disk_devices(partitions: Sequence[str], disk: str) -> list[str]:
    """The partitions of `disk` among the appliance's partitions (/dev/sdb → /dev/sdb1, /dev/sdb2 ...)."""
    pattern = re.compile(rf"^{re.escape(disk)}p?\d+$")
    return [p for p in partitions if pattern.match(p)]


def _probe_device(guest, device: str) -> tuple[Volume, bytes]:
    """What `device` holds, and its first bytes; one or two raw reads, blkid only as a last resort."""
    try:
        head = guest.read_device(device, HEAD_BYTES, 0)
    except RuntimeError:
        head = b""
    volume = identify(head)
    if volume is None and head:
        try:
            volume = identify(head, guest.read_device(device, BTRFS_BYTES, BTRFS_OFFSET))
        except RuntimeError:
            volume = None
    if volume is None:
        info = guest.blkid(device)
        volume = Volume("", info.get("TYPE", ""), info.get("LABEL", ""), info.get("UUID", ""))
    return replace(volume, device=device), head


def scan_disk(guest, disk: str) -> list[Volume]:
    """Every partition of `disk` and every LV whose volume group has a PV on it, identified.

    A PV's volume group is read from its LVM metadata (two small raw reads);
    only if that fails is libguestfs asked (`Guest.disk_of`, several LVM
    calls per LV). Clones sharing a VG name are told apart only if the caller
    lets LVM see one disk at a time (`Guest.lvm_only`).
    """
    partitions = disk_devices(guest.partitions(), disk) or [disk]
    volumes, vgs, unknown_vg = [], set(), False
    for device in partitions:
        volume, head = _probe_device(guest, device)
        volumes.append(volume)
        if volume.fstype == "LVM2_member":
            name = read_vg_name(lambda size, offset, d=device: guest.read_device(d, size, offset), head)
            if name:
                vgs.add(name)
            else:
                unknown_vg = True
    if not vgs and not unknown_vg:
        return volumes              # no PV on this disk: its LVs, if any, are another disk's
    for lv in guest.lvs():
        vg = lv.split("/")[2] if lv.count("/") == 3 else ""
        if vg in vgs or (unknown_vg and guest.disk_of(lv) == disk):
            volumes.append(replace(_probe_device(guest, lv)[0], is_lv=True))
    return volumes


def fast_inspect(guest, disk: str, volumes: Sequence[Volume] | None = None) -> list[OsInfo]:
    """The Linux roots on `disk` (an appliance device such as /dev/sda), without inspect_os.

    `volumes` is `scan_disk(guest, disk)` when the caller already has it.
    Candidates are tried LVs first, then largest first, and a filesystem
    that a found root mounts elsewhere (its /boot ...) is not tried as a
    root. Nothing stays mounted. [] means "not found here": fall back to
    libguestfs (`inspect_disk` does).
    """
    return _fast_roots(guest, disk, volumes)[0]


def _fast_roots(guest, disk: str, volumes: Sequence[Volume] | None = None) -> tuple[list[OsInfo], set[str]]:
    """`fast_inspect`'s roots, and the devices it mounted and rejected although they have an /etc
    (libguestfs's inspection might still make out an operating system there)."""
    volumes = list(volumes) if volumes is not None else scan_disk(guest, disk)
    filesystems = [v.filesystem() for v in volumes]
    lvs = [v.device for v in volumes if v.is_lv]
    # LVs first (an LVM guest's root is an LV, its /boot a partition), then the largest.
    candidates = sorted((v for v in volumes if v.fstype in ROOT_FSTYPES),
                        key=lambda v: (not v.is_lv, -v.size, v.device))
    roots: list[OsInfo] = []
    claimed: set[str] = set()
    unsure: set[str] = set()
    for volume in candidates:
        if volume.device in claimed:
            continue
        found = _probe_root(guest, volume.device, filesystems, lvs, disk, unsure)
        if found is None:
            continue
        roots.append(found)
        claimed.update(device for mountpoint, device in found.mountpoints if mountpoint != "/")
    return roots, unsure - claimed - {r.root for r in roots}


def _probe_root(guest, device: str, filesystems, lvs, disk: str, unsure: set[str] | None = None) -> OsInfo | None:
    try:
        guest.mount_ro(device, "/")
    except RuntimeError:
        return None
    etc: set[str] = set()
    try:
        etc = set(guest.ls("/etc"))
        found = _probe_mounted_root(guest, device, filesystems, lvs, disk, etc)
        if found is None and etc and unsure is not None:
            unsure.add(device)
        return found
    except RuntimeError:
        if etc and unsure is not None:
            unsure.add(device)
        return None
    finally:
        guest.umount_all()


def _probe_mounted_root(guest, device: str, filesystems, lvs, disk: str, etc: set[str]) -> OsInfo | None:
    """The OS whose root is mounted at "/", or None."""
    if "fstab" not in etc or not guest.is_file("/etc/fstab"):
        return None

    def read(path: str) -> str | None:
        if path.rsplit("/", 1)[1] not in etc or not guest.is_file(path):
            return None
        return guest.read(path, TEXT_LIMIT).decode("utf-8", errors="replace")

    release = choose_release(read)
    if release is None:
        return None
    fstab = guest.read(path="/etc/fstab", limit=FSTAB_LIMIT).decode("utf-8", errors="replace")
    if btrfs_subvolume_root(fstab):
        return None             # subvolumes need mount options this probe does not pass
    mountpoints = mountpoints_from_fstab(fstab, device, filesystems, lvs, disk)
    arch = _arch(guest)
    if arch is None and "/usr" in dict(mountpoints):
        try:
            guest.mount_ro(dict(mountpoints)["/usr"], "/usr")
            arch = _arch(guest)
        except RuntimeError:
            pass
    if release.distro in RPM_DISTROS or release.distro in DEB_DISTROS:
        fmt = package_format(release.distro, False, False)
    else:
        fmt = package_format(release.distro, guest.is_dir("/var/lib/rpm"),
                             guest.is_file("/var/lib/dpkg/status"))
    if "/boot" not in dict(mountpoints) and not fstab_mounts(fstab, "/boot"):
        boot = _unlisted_boot(guest, device, filesystems, lvs, mountpoints)
        if boot is not None:
            mountpoints = tuple(sorted((*mountpoints, ("/boot", boot)), key=lambda kv: (len(kv[0]), kv[0])))
    return OsInfo(root=device, distro=release.distro, product=release.product, major=release.major,
                  minor=release.minor, arch=arch or "unknown", package_format=fmt,
                  mountpoints=mountpoints)



def looks_like_boot(names: Sequence[str]) -> bool:
    """Whether a filesystem's top-level names are those of a /boot: a GRUB directory or kernels."""
    return any(n in ("grub", "grub2", "loader") or n.startswith("vmlinuz-") for n in names)


def _unlisted_boot(guest, root: str, filesystems, lvs, mountpoints) -> str | None:
    """The partition GRUB reads /boot from when fstab forgot it: the root's own /boot
    is empty of kernels and GRUB files, and exactly one other partition looks like a /boot.

    GRUB never reads fstab, so such a guest still boots; only the running system
    misses /boot (and the next kernel update lands on the root filesystem).
    """
    if looks_like_boot(guest.ls("/boot")) or not guest.is_dir("/boot"):
        return None
    taken = {device for _, device in mountpoints} | {root}
    found = []
    for fs in filesystems:
        if fs.device in taken or fs.device in lvs or fs.fstype not in ROOT_FSTYPES:
            continue
        try:
            guest.mount_ro(fs.device, "/boot")
        except RuntimeError:
            continue
        try:
            if looks_like_boot(guest.ls("/boot")):
                found.append(fs.device)
        finally:
            guest.umount("/boot")
    return found[0] if len(found) == 1 else None


def _arch(guest) -> str | None:
    for path in ELF_BINARIES:
        try:
            if guest.is_file(path):
                arch = elf_arch(guest.read(path, 64))
                if arch:
                    return arch
        except RuntimeError:
            continue
    return None


# --- the entry point for callers -------------------------------------------------------


@dataclass(frozen=True)
class DiskInspection:
    """What is on one disk: its operating systems and its volumes."""
    disk: str                   # the appliance's device, /dev/sda
    roots: tuple[OsInfo, ...]
    volumes: tuple[Volume, ...]
    fast: bool                  # False: libguestfs's inspect_os had to answer
    windows: str | None = None  # the device of a Windows system found instead of a Linux root
    inspect_error: str | None = None    # libguestfs's inspection failed on the attached disks

    @property
    def filesystems(self) -> list[Filesystem]:
        """The (device, fstype, label, uuid) table for devices.resolve_spec, without list_filesystems."""
        return [v.filesystem() for v in self.volumes]

    @property
    def lvs(self) -> list[str]:
        return [v.device for v in self.volumes if v.is_lv]


def inspect_disk(guest, disk: str) -> DiskInspection:
    """`fast_inspect`, else libguestfs's inspection of the roots on `disk` (the slow, sure way).

    libguestfs is asked only when it could find something `fast_inspect` cannot:
    its inspection costs seconds per filesystem of *every* attached disk, and a
    hostile disk anywhere (a Windows tree it cannot parse) makes it fail for all.
    """
    volumes = tuple(scan_disk(guest, disk))
    found, unsure = _fast_roots(guest, disk, volumes)
    if found:
        return DiskInspection(disk, tuple(found), volumes, fast=True)
    windows = find_windows(guest, volumes)
    if windows is not None or not (unsure or needs_libguestfs(volumes)):
        return DiskInspection(disk, (), volumes, fast=True, windows=windows)
    try:
        roots = [root for root in guest.inspect() if guest.disk_of(root) == disk]
        infos = tuple(guest.os_info(root) for root in roots)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        return DiskInspection(disk, (), volumes, fast=False, inspect_error=lines[0] if lines else "failed")
    return DiskInspection(disk, infos, volumes, fast=False)


def needs_libguestfs(volumes: Sequence[Volume]) -> bool:
    """Whether a volume is of a kind only libguestfs's inspection knows (FAT, UFS, ...)."""
    return any(v.fstype not in NO_ROOT_FSTYPES and v.fstype not in ROOT_FSTYPES
               and v.fstype not in WINDOWS_FSTYPES for v in volumes)


def find_windows(guest, volumes: Sequence[Volume]) -> str | None:
    """The NTFS volume holding \\Windows\\System32, if any (looked up case-insensitively)."""
    for volume in volumes:
        if volume.fstype not in WINDOWS_FSTYPES:
            continue
        try:
            guest.mount_ro(volume.device, "/")
        except RuntimeError:
            continue
        try:
            path = guest.find_nocase("/windows/system32")
            if path is not None and guest.is_dir(path):
                return volume.device
        finally:
            guest.umount_all()
    return None


# --- a disk without a Linux root ---------------------------------------------------------

def no_root_error(image: str, found: DiskInspection) -> RescueError | None:
    """Why a disk without a Linux root cannot be diagnosed at all: Windows, or encryption."""
    if found.roots:
        return None
    if found.windows is not None:
        return RescueError(
            "NOT_LINUX",
            f"{image}: {partition_name(found.windows, found.disk)} holds Windows (\\Windows\\System32); "
            "vmrescue diagnoses and repairs Linux guests only.",
            "Repair a Windows guest with Windows' own tools (boot its installation media: Repair your "
            f"computer); virt-inspector -a {image} lists what the disk holds.", Exit.IMAGE)
    locked = [v.device for v in found.volumes if v.fstype == "crypto_LUKS"]
    if locked:
        where = ", ".join(partition_name(d, found.disk) for d in locked)
        return RescueError(
            "ENCRYPTED",
            f"{image}: {where} {'is' if len(locked) == 1 else 'are'} LUKS-encrypted and no Linux root is "
            "readable outside it; vmrescue cannot open encrypted volumes.",
            f"Unlock it with its passphrase yourself: guestfish --ro -a {image} -i --keys-from-stdin "
            "(or boot the VM and repair it from inside).", Exit.IMAGE)
    return None


def single_root(image: str, found: DiskInspection, *, writing: bool) -> OsInfo | None:
    """The disk's one Linux root; None when it has none. Raises for Windows, encryption, and more than one."""
    refused = no_root_error(image, found)
    if refused is not None:
        raise refused
    if len(found.roots) > 1:
        roots = ", ".join(os_info.root for os_info in found.roots)
        raise RescueError("MULTIPLE_ROOTS",
                          f"{image}: {len(found.roots)} operating systems found ({roots})"
                          + ("; nothing was written." if writing else "."),
                          "vmrescue handles one OS per disk image; inspect the others by hand with virt-inspector.",
                          Exit.IMAGE)
    return found.roots[0] if found.roots else None


def no_root_facts(image: str, found: DiskInspection, in_use: str | None = None) -> GuestFacts:
    """The facts of a disk where no operating system was found, for `rules.rule_no_os`."""
    if found.inspect_error:
        note = f"libguestfs's inspection failed: {found.inspect_error}"
    elif found.fast:
        note = "no filesystem on this disk holds a Linux root (/etc with fstab and a release file)"
    else:
        note = "libguestfs inspection found no operating system on this disk"
    return GuestFacts(image=image, os=None, notes=(note,), in_use=in_use,
                      volumes=tuple((partition_name(v.device, found.disk), v.fstype) for v in found.volumes))

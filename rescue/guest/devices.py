"""Pure device-name logic: the guest's device names, root= and fstab specs, /boot symlinks.

The guest names its disks as its own kernel saw them (/dev/sda, /dev/hda,
/dev/vda, /dev/xvda ...) and the appliance as
/dev/sdX in the order the images were added. These functions translate
between them without touching libguestfs, so they can be tested on tables.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

_GUEST_DISK = re.compile(r"^/dev/(?:sd|hd|vd|xvd)([a-z]+)(\d*)$")


@dataclass(frozen=True)
class Filesystem:
    device: str        # appliance device, e.g. /dev/sda1 or /dev/VolGroup00/LogVol00
    fstype: str
    label: str = ""
    uuid: str = ""




def _disk_letters(index: int) -> str:
    """0 → a, 25 → z, 26 → aa (the kernel's sd naming)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters


def _letters_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - ord("a") + 1)
    return index - 1


def appliance_disk(first_disk: str, offset: int) -> str:
    """The appliance disk `offset` places after `first_disk` (/dev/sdb + 1 → /dev/sdc)."""
    m = re.match(r"^/dev/sd([a-z]+)$", first_disk)
    if not m:
        return first_disk
    return "/dev/sd" + _disk_letters(_letters_index(m.group(1)) + offset)


def guest_device_to_appliance(device: str, first_disk: str) -> str | None:
    """/dev/hda2 or /dev/vda2 in the guest's eyes → /dev/sdX2 in the appliance's."""
    m = _GUEST_DISK.match(device)
    if not m:
        return None
    return appliance_disk(first_disk, _letters_index(m.group(1))) + m.group(2)


def mapper_to_lv(device: str) -> str | None:
    """/dev/mapper/VolGroup00-LogVol00 → /dev/VolGroup00/LogVol00 ('--' is an escaped '-')."""
    if not device.startswith("/dev/mapper/"):
        return None
    name = device[len("/dev/mapper/"):]
    parts = re.split(r"(?<!-)-(?!-)", name)
    if len(parts) != 2:
        return None
    vg, lv = (p.replace("--", "-") for p in parts)
    return f"/dev/{vg}/{lv}"


def resolve_spec(spec: str, filesystems: list[Filesystem], lvs: list[str], first_disk: str) -> str | None:
    """root=/fstab spec → appliance device holding it, None when nothing matches."""
    spec = spec.strip()
    if spec.startswith("LABEL="):
        hits = [fs.device for fs in filesystems if fs.label == spec[6:]]
        return hits[0] if len(hits) == 1 else None
    if spec.startswith("UUID="):
        want = spec[5:].lower()
        hits = [fs.device for fs in filesystems if fs.uuid.lower() == want]
        return hits[0] if len(hits) == 1 else None
    known = {fs.device for fs in filesystems} | set(lvs)
    if spec in lvs:
        return spec
    lv = mapper_to_lv(spec)
    if lv:
        return lv if lv in lvs else None
    appliance = guest_device_to_appliance(spec, first_disk)
    if appliance and appliance in known:
        return appliance
    return None


def guest_path_on(mountpoint: str, path: str) -> str:
    """A path relative to the filesystem mounted at `mountpoint`, as a guest path."""
    if mountpoint == "/":
        return path if path.startswith("/") else "/" + path
    return mountpoint.rstrip("/") + ("" if path.startswith("/") else "/") + path


# --- symlinks under /boot ---------------------------------------------------------

def symlink_target_path(link: str, target: str) -> str:
    """Where a guest symlink points, as a normalised guest path (".." stops at "/")."""
    base = target if target.startswith("/") else posixpath.join(posixpath.dirname(link), target)
    return "/" + posixpath.normpath("/" + base).lstrip("/")


def boot_symlink_problem(link: str, target: str, boot_is_separate: bool) -> str | None:
    """Why GRUB cannot follow the /boot symlink `link` -> `target`, or None when it can.

    "outside": it leads out of /boot (GRUB sees only the /boot filesystem, and
    vmrescue never reads or writes through such a link). "absolute": with a
    separate /boot, GRUB resolves an absolute target on the /boot filesystem
    itself, where "/boot/..." does not exist.
    """
    where = symlink_target_path(link, target)
    if where != "/boot" and not where.startswith("/boot/"):
        return "outside"
    if boot_is_separate and target.startswith("/"):
        return "absolute"
    return None


def partition_name(device: str, disk: str) -> str:
    """An appliance device as the operator knows it: "partition 2", "the whole disk", or an LV's name."""
    if device == disk:
        return "the whole disk"
    m = re.match(rf"^{re.escape(disk)}p?(\d+)$", device)
    return f"partition {m.group(1)}" if m else device

"""GRUB legacy's disk names, (hd0,0), and the guest files they lead to. No I/O.

GRUB legacy counts disks in BIOS order and partitions from 0; the appliance
sees the guest's first disk as `first_disk` (/dev/sda, or a later letter in
a batch of images) and names partitions from 1.
"""
from __future__ import annotations

import re

from rescue.bootloader.grub_legacy.config import parse_grub_device
from rescue.guest.devices import appliance_disk, guest_path_on

__all__ = ["grub_device_to_partition", "grub_root_for", "resolve_grub_path"]


def grub_device_to_partition(grub_device: str, first_disk: str) -> str | None:
    """(hd0,0) → /dev/sda1 when the guest's first disk is the appliance's /dev/sda."""
    parsed = parse_grub_device(grub_device)
    if parsed is None:
        return None
    disk = appliance_disk(first_disk, parsed[0])
    return disk if parsed[1] is None else f"{disk}{parsed[1] + 1}"


def resolve_grub_path(path: str, grub_root: str | None, first_disk: str,
                      mountpoints: tuple[tuple[str, str], ...]) -> str | None:
    """A kernel/initrd path from grub.conf → the guest path GRUB would read.

    GRUB legacy reads paths relative to the filesystem named by `root (hdX,Y)`
    (or a `(hdX,Y)` prefix on the path). With a separate /boot that filesystem
    is mounted at /boot, so `/vmlinuz-R` means `/boot/vmlinuz-R`.
    """
    device_text = grub_root
    m = re.match(r"^(\([^)]*\))(.*)$", path)
    if m:
        device_text, path = m.group(1), m.group(2)
    if not device_text:
        return None
    partition = grub_device_to_partition(device_text, first_disk)
    if partition is None:
        return None
    for mountpoint, device in mountpoints:
        if device == partition:
            return guest_path_on(mountpoint, path)
    return None


def grub_root_for(mountpoints: tuple[tuple[str, str], ...], first_disk: str) -> str:
    """The GRUB device of the filesystem holding /boot: /dev/sda1 → (hd0,0)."""
    device = dict(mountpoints).get("/boot") or dict(mountpoints).get("/", "")
    m = re.match(r"^/dev/sd([a-z])(\d+)$", device)
    if not m:
        return "(hd0,0)"
    disk = ord(m.group(1)) - ord(first_disk[-1])
    return f"(hd{disk},{int(m.group(2)) - 1})"

"""What the name of a file in /boot says: which kind of boot file, for which release. No I/O.

vmlinuz-R, initrd-R.img (mkinitrd, EL5), initramfs-R.img (dracut, EL6+),
initrd.img-R (Debian), System.map-R, config-R; kdump's crash-kernel initrds
and EL7+ rescue images are told apart. Which name a distribution *writes* is
its family's business (`rescue.distro`); this reads every known form.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

__all__ = ["BootName", "initrd_names", "is_kdump_initrd", "parse_boot_name", "release_from_boot_name"]


@dataclass(frozen=True)
class BootName:
    """What a file name in /boot says: which kind of file, for which release."""
    kind: str          # "vmlinuz", "initrd", "system_map", "config"
    release: str
    kdump: bool = False   # an initrd the kdump service built for a crash kernel, not for booting


# Order matters: the kdump forms must be tried before the plain initrd forms.
_BOOT_NAME_PATTERNS = (
    ("initrd", True, re.compile(r"^initrd-(?P<r>.+?)-?kdump\.img$")),
    ("initrd", True, re.compile(r"^initramfs-(?P<r>.+?)-?kdump\.img$")),
    ("initrd", False, re.compile(r"^initrd-(?P<r>.+)\.img$")),
    ("initrd", False, re.compile(r"^initramfs-(?P<r>.+)\.img$")),
    ("initrd", False, re.compile(r"^initrd\.img-(?P<r>.+)$")),     # Debian-style
    ("vmlinuz", False, re.compile(r"^vmlinuz-(?P<r>.+)$")),
    ("system_map", False, re.compile(r"^System\.map-(?P<r>.+)$")),
    ("config", False, re.compile(r"^config-(?P<r>.+)$")),
)
# Suffixes of backups and checksums that sit beside real boot files.
_NOT_BOOT_FILE_SUFFIXES = (".hmac", ".bak", ".old", ".orig", ".rpmsave", ".rpmnew", "~")


def parse_boot_name(filename: str) -> BootName | None:
    """Classify a /boot file name; None for anything that is not a per-release boot file."""
    base = posixpath.basename(filename)
    if base.startswith(".") or base.endswith(_NOT_BOOT_FILE_SUFFIXES):
        return None
    for kind, kdump, pattern in _BOOT_NAME_PATTERNS:
        m = pattern.match(base)
        if m:
            release = m.group("r")
            # EL7+ rescue images ("vmlinuz-0-rescue-<machine-id>") carry no uname -r.
            if not release or release.startswith("0-rescue-"):
                return None
            return BootName(kind, release, kdump)
    return None


def release_from_boot_name(filename: str) -> str | None:
    """Release named by vmlinuz-R, initrd-R.img, initramfs-R.img, System.map-R, config-R.

    None for anything else, including kdump initrds (initrd-Rkdump.img), which
    are built for the crash kernel and are not the initrd of release R.
    """
    parsed = parse_boot_name(filename)
    if parsed is None or parsed.kdump:
        return None
    return parsed.release


def is_kdump_initrd(filename: str) -> bool:
    parsed = parse_boot_name(filename)
    return parsed is not None and parsed.kdump


def initrd_names(names: list[str]) -> list[tuple[str, str]]:
    """(file name, release) of every initrd among /boot's names, in every form the kernel reader knows:
    initrd-R.img, initramfs-R.img, Debian's initrd.img-R, and kdump's (whose release is the crash kernel's)."""
    found = []
    for name in names:
        parsed = parse_boot_name(name)
        if parsed is not None and parsed.kind == "initrd":
            found.append((name, parsed.release))
    return found

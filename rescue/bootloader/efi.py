"""The EFI system partition as the firmware and GRUB-EFI read it. Pure: callers pass the files.

What a UEFI EL guest boots through, all on the ESP (mounted at /boot/efi):

  EFI/BOOT/BOOTX64.EFI     the removable-media fallback: what a VM with fresh NVRAM
                           (a new or converted VM) starts; shim on EL, beside fbx64.efi
  EFI/<vendor>/shimx64.efi, grubx64.efi
                           what the NVRAM entry anaconda made starts; <vendor> is
                           os-release's ID with rhel -> redhat (Oracle Linux: redhat too),
                           so the directories are scanned, not guessed
  EFI/<vendor>/grub.cfg    EL7 and EL8: the whole configuration (and grubenv beside it;
                           EL8's /boot/grub2/grubenv links there). EL9: a stub that finds
                           /boot by UUID and loads /boot/grub2/grub.cfg:
                               search --no-floppy --fs-uuid --set=dev <uuid>
                               set prefix=($dev)/grub2
                               export $prefix
                               configfile $prefix/grub.cfg
                           Writing a full config over the stub breaks the next update
                           (grub2-mkconfig writes /boot/grub2/grub.cfg), so it stays a stub.

FAT is case-insensitive and case-preserving: names are compared without case
and written back in the case found.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from rescue.bootloader.base import ConfigFiles

ESP_MOUNT = "/boot/efi"
ESP_TYPE_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BIOS_BOOT_TYPE_GUID = "21686148-6449-6E6F-744E-656564454649"
ESP_MBR_TYPE = 0xEF
FALLBACK_DIR = "EFI/BOOT"
FALLBACK_LOADER = "BOOTX64.EFI"
LOADERS = ("shimx64.efi", "grubx64.efi")
# os-release ID -> the ESP directory its packages install into (efi-rpm-macros' _efi_vendor_)
VENDOR_OF = {"rhel": "redhat", "ol": "redhat", "oraclelinux": "redhat", "redhat-based": "redhat"}

__all__ = ["ESP_MOUNT", "ESP_TYPE_GUID", "BIOS_BOOT_TYPE_GUID", "EfiStub", "EfiVendor", "EspView", "parse_stub",
           "read_esp", "vendor_for", "firmware_of"]


@dataclass(frozen=True)
class EfiStub:
    """An EL9 ESP grub.cfg that only hands over: which filesystem, and which file on it."""
    uuid: str
    target: str               # on that filesystem, e.g. "/grub2/grub.cfg"


@dataclass(frozen=True)
class EfiVendor:
    directory: str            # guest path, in the case found: /boot/efi/EFI/almalinux
    loaders: tuple[str, ...]  # shimx64.efi, grubx64.efi present (names as found)
    grub_cfg: str | None      # guest path of its grub.cfg
    grubenv: str | None
    stub: EfiStub | None      # grub.cfg is a stub (EL9)


@dataclass(frozen=True)
class EspView:
    fallback: str | None                  # guest path of EFI/BOOT/BOOTX64.EFI, None when absent
    fallback_helpers: tuple[str, ...]     # fbx64.efi, mmx64.efi beside it
    vendors: tuple[EfiVendor, ...]

    @property
    def has_loader(self) -> bool:
        return self.fallback is not None or any(v.loaders for v in self.vendors)


_SEARCH = re.compile(r"^\s*search\b(?P<args>.*)$")
_PREFIX = re.compile(r"^\s*set\s+prefix=\(\$(?P<var>\w+)\)(?P<dir>/\S*)\s*$")
_CONFIGFILE = re.compile(r"^\s*configfile\s+(?P<path>\S+)\s*$")
_ENTRY = re.compile(r"^\s*(menuentry|submenu|blscfg|linux\w*|initrd\w*|chainloader)\b")


def parse_stub(text: str) -> EfiStub | None:
    """The stub's (uuid, target) when `text` is an EL9-style stub; None for a full configuration."""
    uuid = var = directory = path = None
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if _ENTRY.match(line):
            return None
        m = _SEARCH.match(line)
        if m and "--fs-uuid" in m.group("args").split() or m and "-u" in m.group("args").split():
            words = m.group("args").split()
            sets = [w.split("=", 1)[1] for w in words if w.startswith("--set=")]
            plain = [w for w in words if not w.startswith("-")]
            if sets and plain:
                var, uuid = sets[0], plain[-1]
            continue
        m = _PREFIX.match(line)
        if m:
            directory = m.group("dir") if m.group("var") == var else None
            continue
        m = _CONFIGFILE.match(line)
        if m:
            path = m.group("path")
    if not (uuid and directory and path):
        return None
    if path.startswith("$prefix/") or path.startswith("${prefix}/"):
        target = posixpath.join(directory, path.split("/", 1)[1])
    elif path.startswith(f"(${var})/"):
        target = path[len(f"(${var})"):]
    else:
        return None
    return EfiStub(uuid, target)


def _named(names: list[str], wanted: str) -> str | None:
    return next((n for n in names if n.lower() == wanted.lower()), None)


def read_esp(files: ConfigFiles, mount: str = ESP_MOUNT) -> EspView:
    """What the firmware and GRUB-EFI find on the ESP mounted at `mount`."""
    efi = _named(files.names(mount), "EFI")
    if efi is None:
        return EspView(None, (), ())
    top = f"{mount}/{efi}"
    fallback, helpers, vendors = None, (), []
    for name in sorted(files.names(top), key=str.lower):
        directory = f"{top}/{name}"
        inside = files.names(directory)
        if name.upper() == "BOOT":
            boot = _named(inside, FALLBACK_LOADER)
            fallback = f"{directory}/{boot}" if boot else None
            helpers = tuple(n for n in inside if n.lower() in ("fbx64.efi", "mmx64.efi"))
            continue
        cfg = _named(inside, "grub.cfg")
        env = _named(inside, "grubenv")
        loaders = tuple(found for found in (_named(inside, n) for n in LOADERS) if found)
        if not (cfg or loaders):
            continue
        cfg_path = f"{directory}/{cfg}" if cfg else None
        text = files.text(cfg_path) if cfg_path else None
        vendors.append(EfiVendor(directory, loaders, cfg_path, f"{directory}/{env}" if env else None,
                                 parse_stub(text) if text is not None else None))
    return EspView(fallback, helpers, tuple(vendors))


def vendor_for(view: EspView, os_id: str | None) -> EfiVendor | None:
    """The vendor directory the guest's own packages write: its os-release ID's, else the one holding a
    grub.cfg (a converted or renamed guest), else the first with a loader."""
    wanted = VENDOR_OF.get(os_id or "", os_id or "")
    by_name = next((v for v in view.vendors if posixpath.basename(v.directory).lower() == wanted.lower()), None)
    return by_name or next((v for v in view.vendors if v.grub_cfg), None) or \
        (view.vendors[0] if view.vendors else None)


def firmware_of(bios_code: bool, view: EspView | None) -> str | None:
    """Which firmware can start the image: "bios", "uefi", "both", or None (neither finds a loader)."""
    uefi = view is not None and view.has_loader
    if bios_code and uefi:
        return "both"
    return "bios" if bios_code else "uefi" if uefi else None

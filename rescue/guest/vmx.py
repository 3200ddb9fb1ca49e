"""A VMware .vmx beside an image: which firmware the VM starts with.

`firmware = "efi"` means UEFI; no `firmware` key means BIOS (virt-v2v's
input_vmx reads it the same way). Keys are compared without case, as VMware
does. The .vmx is the host file next to the disk that names it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

VMX_LIMIT = 1024 * 1024
_LINE = re.compile(r'^\s*([A-Za-z0-9_.:]+)\s*=\s*"([^"]*)"\s*$')

__all__ = ["parse_vmx", "vmx_firmware", "find_vmx"]


def parse_vmx(text: str) -> dict[str, str]:
    """key = "value" lines, keys lower-cased; other lines are skipped."""
    out = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def vmx_firmware(values: dict[str, str]) -> str:
    """"uefi" or "bios", as the VM's firmware setting says."""
    return "uefi" if values.get("firmware", "").lower() == "efi" else "bios"


def find_vmx(image: str) -> tuple[str, dict[str, str]] | None:
    """The .vmx in the image's directory whose disk entries name the image; None when there is none."""
    path = Path(image)
    try:
        candidates = sorted(path.parent.glob("*.vmx"))
    except OSError:
        return None
    for vmx in candidates:
        try:
            if vmx.stat().st_size > VMX_LIMIT:
                continue
            values = parse_vmx(vmx.read_text(errors="replace"))
        except OSError:
            continue
        disks = {os.path.basename(v) for k, v in values.items() if k.endswith(".filename")}
        if path.name in disks:
            return str(vmx), values
    return None

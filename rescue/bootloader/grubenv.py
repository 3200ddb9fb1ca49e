"""The GRUB 2 environment block (/boot/grub2/grubenv): saved_entry, kernelopts, ... No I/O."""
from __future__ import annotations

__all__ = ["parse_grubenv"]


def parse_grubenv(text: str) -> dict[str, str]:
    """The variables of a GRUB2 environment block (/boot/grub2/grubenv):
    "key=value" lines, with the "#" padding ignored. Never raises."""
    env: dict[str, str] = {}
    for line in text.splitlines() if isinstance(text, str) else ():
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep and key:
            env[key] = value
    return env

"""What the guest's current grub.conf says, as a repair needs it. No I/O.

Which entry GRUB boots unattended (stage2.c's rules for a default past the
end and for fallbacks), which entries still have their files, which entry's
arguments a new entry should copy, and where the surviving entries keep
their files: the judgements `plan.plan_grub_conf` builds on.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rescue.bootloader.grub_legacy.config import GrubConfig, GrubMenuEntry, parse_grub_device, split_grub_path
from rescue.kernel.bootfiles import release_from_boot_name
from rescue.rpm.vercmp import compare_uname_r

HEADER_MARK = "# vmrescue:"   # our own header lines; dropped when we re-read our file
TITLE_LINE = re.compile(r"[ \t]*title(?=[ \t=]|$)[ \t=]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")


def global_comments(text: str) -> list[str]:
    """Comment lines before the first `title` (anaconda's header, "#boot="),
    as GRUB reads lines: CRs dropped, tabs as spaces, backslash-newline
    joined. Our own header lines are left out: they are written afresh."""
    comments: list[str] = []
    buf = ""
    for raw in text.split("\n"):
        raw = raw.replace("\r", "").replace("\t", " ")
        if raw.endswith("\\"):
            buf += raw[:-1] + " "
            continue
        line, buf = (buf + raw).lstrip(" "), ""
        if line.startswith("#"):
            if not line.startswith(HEADER_MARK):
                comments.append(line.rstrip(" "))
        elif TITLE_LINE.match(line):
            return comments
    if buf.lstrip(" ").startswith("#"):
        comments.append(buf.strip(" "))
    return comments


def _numbers(arg: str) -> list[int]:
    """The entry numbers of "fallback 1 2": words up to the first non-number."""
    found = []
    for word in arg.split():
        if not _NUMBER.fullmatch(word):
            break
        found.append(int(word, 16) if word[:2] in ("0x", "0X") else int(word))
    return found


def fallbacks(cfg: GrubConfig) -> list[int]:
    args = [arg for key, arg in cfg.global_lines if key == "fallback"]
    return _numbers(args[-1]) if args else []


def booted_index(cfg: GrubConfig) -> int | None:
    """The entry GRUB boots without a key press (stage2.c: a default past the
    end is replaced by the first valid fallback, else by entry 0). With
    `default saved` the choice is in /boot/grub/default, unknown here: 0."""
    count = len(cfg.entries)
    if not count:
        return None
    if cfg.default is not None and cfg.default < count:
        return cfg.default
    for index in fallbacks(cfg):
        if index < count:
            return index
    return 0


def entry_release(entry: GrubMenuEntry) -> str | None:
    """Release of the Linux kernel an entry boots, from its file name."""
    path = entry.linux_kernel
    if not path:
        return None
    return release_from_boot_name(split_grub_path(path)[1].rsplit("/", 1)[-1])


def entry_device(entry: GrubMenuEntry) -> str | None:
    """The GRUB device an entry's files are read from: a "(hdX,Y)" prefix on
    its kernel path, else its `root`; None means GRUB's own partition."""
    device = split_grub_path(entry.kernel or entry.chainloader or "")[0]
    return device or entry.root


def _sameentry_device(a: str, b: str) -> bool:
    parsed = parse_grub_device(a)
    return parsed is not None and parsed == parse_grub_device(b)


@dataclass(frozen=True)
class Verdict:
    entry: GrubMenuEntry
    action: str                # "keep", "drop", "replace"
    reason: str = ""
    verified: bool = False     # a Linux or Xen entry whose files were all found

    @property
    def alive(self) -> bool:
        return self.verified and self.entry.kind in ("linux", "xen")


def judge(entry: GrubMenuEntry, uname_r: str, grub_root: str,
           file_exists: Callable[[str], bool]) -> Verdict:
    def exists(path: str) -> bool:
        # file_exists resolves paths against the caller's grub_root; a file
        # on another GRUB device is named with that device, as GRUB names it.
        device, rest = split_grub_path(path)
        device = device or entry.root
        if device is not None and not _sameentry_device(device, grub_root):
            return bool(file_exists(device + rest))
        return bool(file_exists(rest))

    if entry.kind == "linux":
        files = [("kernel", entry.kernel)] + ([("initrd", entry.initrd)] if entry.initrd else [])
    elif entry.kind == "xen":
        files = [("hypervisor", entry.kernel)] + [("module", path) for path, _ in entry.modules]
    else:
        # Chainloader entries (another OS) and commands such as "reboot" load
        # nothing vmrescue can check: kept as written.
        return Verdict(entry, "keep")
    missing = [f"{label} {path}" for label, path in files if path and not exists(path)]
    action = "replace" if entry_release(entry) == uname_r else ("drop" if missing else "keep")
    return Verdict(entry, action, "missing " + ", ".join(missing) if missing else "", not missing)


def _newer(a: GrubMenuEntry, b: GrubMenuEntry) -> bool:
    ra, rb = entry_release(a), entry_release(b)
    if ra is None or rb is None:
        return ra is not None and rb is None
    return compare_uname_r(ra, rb) > 0


def args_source(verdicts: list[Verdict], want_kind: str,
                 booted: int | None) -> tuple[GrubMenuEntry | None, bool]:
    """The entry whose arguments the new entry copies, and whether it survives.

    The last entry that worked: among surviving Linux/Xen entries (of the new
    kernel's kind if there is one), the one GRUB booted, else the newest
    kernel. If none survives, the one GRUB booted even though its files are
    gone, else the first Linux/Xen entry at all.
    """
    alive = [v.entry for v in verdicts if v.alive]
    if alive:
        pool = [e for e in alive if e.kind == want_kind] or alive
        for entry in pool:
            if entry.index == booted:
                return entry, True
        best = pool[0]
        for entry in pool[1:]:
            if _newer(entry, best):
                best = entry
        return best, True
    bootable = [v.entry for v in verdicts if v.entry.kind in ("linux", "xen")]
    for entry in bootable:
        if entry.index == booted:
            return entry, False
    return (bootable[0] if bootable else None), False


def layout(source: GrubMenuEntry | None, source_alive: bool, verdicts: list[Verdict],
            grub_root: str, boot_is_separate: bool) -> tuple[str, str]:
    """(GRUB root, path prefix) for the new entry: as the surviving entries
    have them (the args source first), else from the caller."""
    witnesses = ([source] if source is not None and source_alive else [])
    witnesses += [v.entry for v in verdicts if v.alive and v.entry is not source]
    root = next((d for d in map(entry_device, witnesses) if d), grub_root)
    if witnesses:
        path = split_grub_path(witnesses[0].linux_kernel or "")[1]
        prefix = "/boot" if path.startswith("/boot/") else ""
    else:
        prefix = "" if boot_is_separate else "/boot"
    return root, prefix

"""Boot Loader Spec entries (/boot/loader/entries/*.conf), as EL8 and later keep their kernels.

How RHEL's GRUB reads them (its `blscfg` command, grub-core/commands/blscfg.c
of rhboot/grub2, the form of RHEL 8.2+ and 9; read for its semantics, written
here anew):

* each file is "key value" lines, the key ending at the first blank; a line
  with no value (an empty line included) ends GRUB's reading of that file;
* `linux` is required; `title` defaults to it; `initrd` may repeat (each
  value's first word is a file, the rest is left to GRUB's script, e.g.
  "$tuned_initrd"); `options` is the command line, with `$name` expanded
  from the GRUB environment (grubenv, and `set` lines before `blscfg`) and
  unset names dropped;
* the entry's id is its file name without ".conf"; entries are sorted by that
  name split like an RPM's name-version-release (`<machine-id>-<uname -r>`:
  machine-id, then kernel version, then release), compared with rpm's
  version order (with "+" where rpm has "^"), newest first; two names that
  compare equal keep only the first one read.

Paths are relative to the filesystem holding /boot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Callable

from rescue.bootloader.base import (
    BootLayout, BootLoader, BootLoaderPlan, ConfigFiles, KernelEntryRequest, Menu, MenuEntry, on_boot_filesystem,
    split_cr,
)
from rescue.bootloader.cmdline import with_console
from rescue.rpm.vercmp import rpmvercmp

__all__ = ["BLS_DIR", "Bls", "BlsEntry", "BlsFile", "blscfg_order", "expand", "parse_bls_entry", "read_bls_dir",
           "serial_bls", "split_entry_name", "entry_machine_id", "bls_problems", "menu_entry"]

BLS_DIR = "/boot/loader/entries"
_VARIABLE = re.compile(r"\$([A-Za-z0-9_]*)")


@dataclass(frozen=True)
class BlsEntry:
    title: str | None
    version: str | None
    linux: str | None
    initrd: str | None             # the last initrd line (microcode images come first)
    options: str                   # all options lines joined; may hold "$kernelopts"
    initrds: tuple[str, ...] = field(default=(), compare=False)     # every initrd line, in order
    grub_users: str | None = field(default=None, compare=False)
    grub_class: tuple[str, ...] = field(default=(), compare=False)
    grub_arg: tuple[str, ...] = field(default=(), compare=False)
    stopped_at: int | None = field(default=None, compare=False)     # line where GRUB stops reading (keys follow)


def parse_bls_entry(text: str) -> BlsEntry:
    """Parse one /boot/loader/entries/*.conf file as GRUB's blscfg does. Never raises.

    Repeated options lines are joined, as the spec says."""
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {"options": [], "initrd": [], "grub_class": [], "grub_arg": []}
    stopped_at = None
    lines = text.split("\n") if isinstance(text, str) else []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r").lstrip(" \t")
        if line.startswith("#"):
            continue
        key, value = _key_value(line)
        if key is None:
            if any(rest.strip() for rest in lines[number:]):
                stopped_at = number
            break
        if key in lists:
            lists[key].append(value)
        else:
            values.setdefault(key, value)
    return BlsEntry(
        title=values.get("title"), version=values.get("version"), linux=values.get("linux"),
        initrd=lists["initrd"][-1] if lists["initrd"] else None, options=" ".join(lists["options"]),
        initrds=tuple(lists["initrd"]), grub_users=values.get("grub_users"), grub_class=tuple(lists["grub_class"]),
        grub_arg=tuple(lists["grub_arg"]), stopped_at=stopped_at)


def _key_value(line: str) -> tuple[str | None, str]:
    for i, c in enumerate(line):
        if c in " \t":
            value = line[i + 1:].lstrip(" \t")
            return (line[:i], value) if value else (None, "")
    return None, ""


def expand(value: str, variables: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """`$name` replaced from the GRUB environment, as blscfg expands options; (text, names that were unset)."""
    unset: list[str] = []

    def one(m: re.Match) -> str:
        name = m.group(1)
        if name in variables:
            return variables[name]
        unset.append(name)
        return ""

    return " ".join(_VARIABLE.sub(one, value).split()), tuple(unset)


# --- GRUB's order: file names as name-version-release ---------------------------------

def split_entry_name(name: str) -> tuple[str, str | None, str | None]:
    """(name, version, release) of an entry id, as blscfg splits it at its last two "-"."""
    head, sep, release = name.rpartition("-")
    if not sep:
        return name, None, None
    head2, sep2, version = head.rpartition("-")
    if not sep2:
        return head, release, None      # "a-b": name a, version b
    return head2, version, release


def _compare(a: str, b: str) -> int:
    for x, y in zip(split_entry_name(a), split_entry_name(b)):
        if x is None or y is None:
            if x != y:
                return 1 if y is None else -1
            continue
        rc = rpmvercmp(x, y, caret="+")
        if rc:
            return rc
    return 0


def blscfg_order(ids: list[str]) -> tuple[list[str], list[str]]:
    """(ids newest first as GRUB lists them, ids GRUB drops because an equal one came first)."""
    kept: list[str] = []
    dropped: list[str] = []
    for entry_id in ids:
        if any(_compare(entry_id, other) == 0 for other in kept):
            dropped.append(entry_id)
        else:
            kept.append(entry_id)
    return sorted(kept, key=cmp_to_key(_compare), reverse=True), dropped


# --- reading a directory of entries ---------------------------------------------------

@dataclass(frozen=True)
class BlsFile:
    id: str                        # the file name without .conf
    path: str
    entry: BlsEntry


def read_bls_dir(files: ConfigFiles, directory: str = BLS_DIR) -> tuple[list[BlsFile], list[str]]:
    """The entries GRUB lists, in its order, and the ids it drops (ties)."""
    parsed = {}
    for name in sorted(files.names(directory)):
        if name.startswith(".") or len(name) <= 5 or not name.endswith(".conf"):
            continue
        text = files.text(f"{directory}/{name}")
        if text is not None:
            parsed[name[:-len(".conf")]] = BlsFile(name[:-len(".conf")], f"{directory}/{name}",
                                                   parse_bls_entry(text))
    ordered, dropped = blscfg_order(list(parsed))
    return [parsed[i] for i in ordered if parsed[i].entry.linux], dropped


def bls_problems(files: list[BlsFile]) -> tuple[tuple[str, str], ...]:
    """(file, what GRUB trips over in it) for entries GRUB reads only in part."""
    return tuple((f.path, f"line {f.entry.stopped_at} has no value, so GRUB stops reading the file there and "
                          "ignores the lines after it") for f in files if f.entry.stopped_at)


def menu_entry(index: int, bls: BlsFile, variables: dict[str, str]) -> MenuEntry:
    """One BLS entry as a menu entry: options expanded, the initrd's file its first word."""
    options, unset = expand(bls.entry.options, variables)
    initrds = tuple(value.split()[0] for value in bls.entry.initrds if value.split())
    return MenuEntry(index, bls.entry.title or bls.entry.linux or bls.id, "linux", bls.entry.linux, options,
                     initrds[-1] if initrds else None, id=bls.id, source=bls.path, unset=unset,
                     machine_id=entry_machine_id(bls.id, bls.entry.version))


_MACHINE_ID = re.compile(r"^([0-9a-f]{32})-")


def entry_machine_id(entry_id: str, version: str | None) -> str:
    """The machine-id an entry's file is named for: kernel-install names it <machine-id>-<version>.

    Not blscfg's split at the last two "-": a release may hold dashes of its own
    (Debian's 6.1.0-57-amd64, a 0-rescue-<id> entry)."""
    if version and entry_id.endswith("-" + version) and len(entry_id) > len(version) + 1:
        return entry_id[:-len(version) - 1]
    m = _MACHINE_ID.match(entry_id)
    return m.group(1) if m else split_entry_name(entry_id)[0]


class Bls(BootLoader):
    """Entries without a grub.cfg that reads them (kept for completeness; EL guests boot through grub2)."""
    kind = "bls"

    @classmethod
    def find(cls, files: ConfigFiles) -> str | None:
        return BLS_DIR if files.names(BLS_DIR) else None

    def menu(self, files: ConfigFiles) -> Menu:
        ordered, dropped = read_bls_dir(files, self.config)
        entries = tuple(menu_entry(i, bls, {}) for i, bls in enumerate(ordered))
        return Menu(entries, 0 if entries else None, dropped=tuple(dropped), file_problems=bls_problems(ordered))

    def guest_path(self, entry: MenuEntry, path: str, layout: BootLayout) -> str | None:
        return on_boot_filesystem(path, layout)

    def console_edits(self, files: ConfigFiles) -> list[tuple[str, Callable[[str], str]]]:
        return [(f"{BLS_DIR}/{name}", serial_bls) for name in files.names(BLS_DIR) if name.endswith(".conf")]

    def plan_kernel(self, request: KernelEntryRequest, files: ConfigFiles, layout: BootLayout,
                    commands: Callable[[str], str | None]) -> BootLoaderPlan:
        from rescue.bootloader.grub2.plan import plan_bls_entry   # noqa: PLC0415 - grub2 imports this module
        return plan_bls_entry(request, files, layout, grubenv=None)


def serial_bls(text: str) -> str:
    """A Boot Loader Spec entry with the console on its `options` line."""
    out = []
    for line in text.split("\n"):
        body, cr = split_cr(line)
        if body.lstrip().split(None, 1)[:1] == ["options"]:
            line = with_console(body) + cr
        out.append(line)
    return "\n".join(out)

"""Boot Loader Spec entries (/boot/loader/entries/*.conf), as EL8 and later keep their kernels.

Each entry is "key value" lines (title, version, linux, initrd, options);
paths are relative to the filesystem holding /boot. Without a grub.cfg the
entries are read newest file name first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rescue.bootloader.base import (
    BootLayout, BootLoader, BootLoaderPlan, ConfigFiles, KernelEntryRequest, Menu, MenuEntry, on_boot_filesystem,
    split_cr,
)
from rescue.bootloader.grubby import grubby_plan
from rescue.bootloader.cmdline import with_console

__all__ = ["BLS_DIR", "Bls", "BlsEntry", "parse_bls_entry", "serial_bls"]

BLS_DIR = "/boot/loader/entries"


class Bls(BootLoader):
    kind = "bls"

    @classmethod
    def find(cls, files: ConfigFiles) -> str | None:
        return BLS_DIR if files.names(BLS_DIR) else None

    def menu(self, files: ConfigFiles) -> Menu:
        entries: list[MenuEntry] = []
        for name in sorted(files.names(self.config), reverse=True):
            text = files.text(f"{self.config}/{name}")
            if not name.endswith(".conf") or text is None:
                continue
            e = parse_bls_entry(text)
            entries.append(MenuEntry(len(entries), e.title or name, "linux", e.linux, e.options or "", e.initrd))
        return Menu(tuple(entries), 0 if entries else None)

    def guest_path(self, entry: MenuEntry, path: str, layout: BootLayout) -> str | None:
        return on_boot_filesystem(path, layout)

    def console_edits(self, files: ConfigFiles) -> list[tuple[str, Callable[[str], str]]]:
        return [(f"{BLS_DIR}/{name}", serial_bls) for name in files.names(BLS_DIR) if name.endswith(".conf")]

    def plan_kernel(self, request: KernelEntryRequest, files: ConfigFiles, layout: BootLayout,
                    commands: Callable[[str], str | None]) -> BootLoaderPlan:
        return grubby_plan(request, commands)


@dataclass(frozen=True)
class BlsEntry:
    title: str | None
    version: str | None
    linux: str | None
    initrd: str | None             # the last initrd line (microcode images come first)
    options: str                   # all options lines joined; may hold "$kernelopts"


def parse_bls_entry(text: str) -> BlsEntry:
    """Parse one /boot/loader/entries/*.conf file ("key value" lines).
    Repeated options lines are joined, as the spec says. Never raises."""
    values: dict[str, str] = {}
    options: list[str] = []
    for line in text.splitlines() if isinstance(text, str) else ():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "options":
            if value:
                options.append(value)
        else:
            values[key] = value
    return BlsEntry(
        title=values.get("title"),
        version=values.get("version"),
        linux=values.get("linux"),
        initrd=values.get("initrd"),
        options=" ".join(options),
    )


def serial_bls(text: str) -> str:
    """A Boot Loader Spec entry with the console on its `options` line."""
    out = []
    for line in text.split("\n"):
        body, cr = split_cr(line)
        if body.lstrip().split(None, 1)[:1] == ["options"]:
            line = with_console(body) + cr
        out.append(line)
    return "\n".join(out)

"""GRUB 2 (EL7 and later): grub.cfg, the grubenv it loads, and on EL8+ the BLS entries its blscfg reads.

`script` reads grub.cfg without running it, `menu` builds the menu GRUB shows
and the entry it boots, `plan` writes what boots a reinstalled kernel: a BLS
entry and saved_entry where grub.cfg runs blscfg (EL8, EL9), a menuentry in
grub.cfg and saved_entry where it does not (EL7). grub2-mkconfig is never run:
it would drop kernelopts and the custom entries (see plan's docstring).
"""
from __future__ import annotations

from typing import Callable

from rescue.bootloader.base import (
    BootLayout, BootLoader, BootLoaderPlan, ConfigFiles, KernelEntryRequest, Menu, MenuEntry, on_boot_filesystem,
)
from rescue.bootloader.bls import BLS_DIR, serial_bls
from rescue.bootloader.efi import read_esp
from rescue.bootloader.grub2.menu import build_menu, grubenv_path
from rescue.bootloader.grub2.plan import plan_kernel
from rescue.bootloader.grub2.script import parse_grub2_cfg, serial_grub2

__all__ = ["Grub2"]


class Grub2(BootLoader):
    kind = "grub2"
    config_paths = ("/boot/grub2/grub.cfg", "/boot/grub/grub.cfg")

    @classmethod
    def find(cls, files: ConfigFiles) -> str | None:
        # UEFI EL7/EL8 keep the whole configuration on the ESP, and that is what GRUB-EFI reads; an EL9
        # ESP holds a stub that loads /boot/grub2/grub.cfg (rescue.bootloader.efi).
        full = next((v.grub_cfg for v in read_esp(files).vendors if v.grub_cfg and v.stub is None), None)
        return full or super().find(files)
    missing_file_clause = ' (GRUB 2 says "error: file ... not found" and waits at the menu)'
    no_entry_clause = " (GRUB 2 shows an empty menu, or its prompt)"

    def menu(self, files: ConfigFiles) -> Menu:
        return build_menu(self.config, parse_grub2_cfg(files.text(self.config) or ""), files)

    def guest_path(self, entry: MenuEntry, path: str, layout: BootLayout) -> str | None:
        return on_boot_filesystem(path, layout)

    def set_default_hint(self, index: int, entry_id: str | None = None) -> str:
        return (f"grub2-set-default {entry_id or index} (from a rescue shell: it sets saved_entry in "
                f"{grubenv_path(self.config)})")

    def console_edits(self, files: ConfigFiles) -> list[tuple[str, Callable[[str], str]]]:
        # grub.cfg's entries, and the BLS entries its blscfg command reads on EL8+
        edits: list[tuple[str, Callable[[str], str]]] = [
            (path, serial_grub2) for path in dict.fromkeys((self.config, *self.config_paths))]
        edits += [(f"{BLS_DIR}/{name}", serial_bls) for name in files.names(BLS_DIR) if name.endswith(".conf")]
        return edits

    def plan_kernel(self, request: KernelEntryRequest, files: ConfigFiles, layout: BootLayout,
                    commands: Callable[[str], str | None]) -> BootLoaderPlan:
        text = files.text(self.config)
        return plan_kernel(self.config, text, request, files, layout)

"""GRUB legacy (0.97): grub.conf / menu.lst, as EL5 and EL6 boot.

The kind reads the menu (`config`), resolves an entry's paths through GRUB's
own disk names (`devices`), plans the grub.conf of a reinstalled kernel
(`menu` judges the current one, `plan` decides, `render` writes it from the
template and refuses what GRUB could not read back), and puts GRUB and the
kernels on the serial console for boot-check.
"""
from __future__ import annotations

import posixpath
import re
from typing import Callable

from rescue.bootloader.base import (
    BootLayout, BootLoader, BootLoaderPlan, ConfigFiles, FileWrite, KernelEntryRequest, Menu, MenuEntry, backup_name,
    split_cr,
)
from rescue.bootloader.cmdline import MARK, with_console
from rescue.bootloader.grub_legacy.config import parse_grub_legacy, split_grub_path, split_path_args
from rescue.bootloader.grub_legacy.devices import grub_root_for, resolve_grub_path
from rescue.bootloader.grub_legacy.plan import plan_grub_conf
from rescue.bootloader.grub_legacy.render import unified_diff
from rescue.errors import Exit, RescueError

__all__ = ["GrubLegacy", "serial_grub_legacy"]

GRUB_CONF = "/boot/grub/grub.conf"
# The console is set in the files GRUB itself reads (/etc/grub.conf is only a link for tools).
CONSOLE_CONFIGS = ("/boot/grub/grub.conf", "/boot/grub/menu.lst")
GRUB_LEGACY_SERIAL = ("serial --unit=0 --speed=115200", "terminal --timeout=0 serial console")
READ_LIMIT = 4 * 1024 * 1024        # a grub.conf vmrescue rewrites is read whole
SPLASH = "/boot/grub/splash.xpm.gz"


class GrubLegacy(BootLoader):
    kind = "grub-legacy"
    config_paths = ("/boot/grub/grub.conf", "/boot/grub/menu.lst", "/etc/grub.conf")
    missing_file_clause = ' (GRUB 0.97 stops with "Error 15: File not found")'
    no_entry_clause = ' (GRUB 0.97 falls to the menu or stops with "Error 15")'
    mbr_loader = "grub-legacy"
    install_command = "grub-install /dev/sda (or in the grub shell: root (hd0,0), then setup (hd0))"

    def menu(self, files: ConfigFiles) -> Menu:
        config = parse_grub_legacy(files.text(self.config) or "")
        entries = []
        for e in config.entries:
            if e.kind in ("linux", "xen"):
                entries.append(MenuEntry(e.index, e.title, e.kind, e.linux_kernel, e.linux_args or "",
                                         e.linux_initrd, e.root))
            else:
                entries.append(MenuEntry(e.index, e.title, e.kind, e.kernel, e.kernel_args, e.initrd, e.root))
        return Menu(tuple(entries), config.default, config.fallback, tuple(config.errors))

    def guest_path(self, entry: MenuEntry, path: str, layout: BootLayout) -> str | None:
        return resolve_grub_path(path, entry.grub_root, layout.first_disk, layout.mountpoints)

    def console_edits(self, files: ConfigFiles) -> list[tuple[str, Callable[[str], str]]]:
        return [(path, serial_grub_legacy) for path in CONSOLE_CONFIGS]

    def plan_kernel(self, request: KernelEntryRequest, files: ConfigFiles, layout: BootLayout,
                    commands: Callable[[str], str | None]) -> BootLoaderPlan:
        path = files.real_path(GRUB_CONF)
        size = files.size(path)
        if size is not None and size > READ_LIMIT:
            raise RescueError("GRUB_CONF_TOO_LARGE",
                              f"{files.image}: {path} is {size} bytes; vmrescue rewrites only a grub.conf it "
                              f"reads whole ({READ_LIMIT} bytes at most); nothing was written.",
                              f"Cut {path} back to its real entries (or move it away so that a fresh one is "
                              "written) and run again.", Exit.REFUSED)
        current = files.text(path) if size is not None else None
        grub_root = grub_root_for(layout.mountpoints, layout.first_disk)

        def file_exists(grub_path: str) -> bool:
            guest_path = resolve_grub_path(grub_path, grub_root, layout.first_disk, layout.mountpoints)
            return bool(guest_path) and files.is_file(guest_path)

        plan = plan_grub_conf(
            current, uname_r=request.uname_r, el_major=request.release_major,
            boot_is_separate=layout.boot_is_separate, file_exists=file_exists,
            initrd_name=request.initrd_name,
            default_root_args=f"ro root={request.root_spec}" if request.root_spec else "ro",
            grub_root=grub_root, distro_title=request.distro_title, written_by=request.written_by,
            backup_path=(backup_name(path, request.backup_stamp)
                         if current is not None and request.backup_stamp else None),
            splash_exists=files.is_file(SPLASH),
        )
        detail = f"{path}: new default entry {plan.added!r}"
        if plan.dropped:
            detail += "; dropped " + "; ".join(f"{t!r} ({why})" for t, why in plan.dropped)
        return BootLoaderPlan(step="grub.conf", detail=detail, writes=(FileWrite(path, current, plan.text),),
                              notes=plan.notes, diff=unified_diff(current, plan.text, path))


# --- boot-check: the serial console ---------------------------------------------------

def _command(stripped: str) -> str:
    # stage2: the command name ends at a blank or "=" (see config).
    return re.match(r"[^ \t=]*", stripped).group(0)


def serial_grub_legacy(text: str) -> str:
    """grub.conf with GRUB and every entry's kernel on the serial console.

    The serial/terminal lines go first, so GRUB talks on the serial port
    before it draws anything; the guest's own serial, terminal and
    splashimage lines are disabled (GRUB cannot draw a splash there). For a
    Xen entry the console belongs on the dom0 kernel: the first module line.
    """
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")),
                 len(lines))
    out = lines[:first] + [f"# {MARK}: GRUB and the kernels on the serial console"] + list(GRUB_LEGACY_SERIAL)
    in_entry = False
    dom0_pending = False
    for line in lines[first:]:
        body, cr = split_cr(line)
        stripped = body.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            out.append(line)
            continue
        command = _command(stripped)
        if command == "title":
            in_entry, dom0_pending = True, False
        elif not in_entry and command in ("serial", "terminal", "splashimage", "gfxmenu"):
            out.append(f"#{body}  # disabled by {MARK}{cr}")
            continue
        elif in_entry and command == "kernel":
            path, _ = split_path_args(stripped[len(command):].lstrip(" \t="))
            if path and posixpath.basename(split_grub_path(path)[1]).startswith("xen"):
                dom0_pending = True
            else:
                line = with_console(body) + cr
        elif in_entry and command in ("module", "modulenounzip") and dom0_pending:
            dom0_pending = False
            line = with_console(body) + cr
        out.append(line)
    return "\n".join(out)

"""The menu GRUB 2 shows, and the entry it boots unattended. No I/O (the files come through ConfigFiles).

From grub.cfg (`script.parse_grub2_cfg`), the grubenv its `load_env` reads,
and, where grub.cfg runs RHEL's `blscfg`, the Boot Loader Spec entries
(`rescue.bootloader.bls`) inserted at that point of the menu, their options
expanded from the environment GRUB has by then: grubenv's variables, then the
`set` lines of grub.cfg (those inside an `if`, like 10_linux's kernelopts
fallback, only where nothing else set the name).

The default is 00_header's: grubenv's next_entry once (grub2-reboot), else
`set default` with "${saved_entry}" taken from grubenv; the name is matched as
RHEL's GRUB matches it (the patch "Fix menu entry selection based on ID and
title"): an entry's id first, then its title, then a number or a "1>0" path.
A name that matches nothing boots entry 0.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import replace

from rescue.bootloader.base import ConfigFiles, Menu, MenuEntry
from rescue.bootloader.bls import BLS_DIR, bls_problems, menu_entry, read_bls_dir
from rescue.bootloader.grub2.script import Grub2Config, Grub2Entry
from rescue.bootloader.grubenv import read_grubenv
from rescue.model import GrubEnv

__all__ = ["build_menu", "environment", "grubenv_path", "resolve_default"]

_REFERENCE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


def grubenv_path(config: str) -> str:
    """The grubenv 00_header loads: ${config_directory}/grubenv, beside grub.cfg."""
    return posixpath.join(posixpath.dirname(config), "grubenv")


def read_env(files: ConfigFiles, config: str, cfg: Grub2Config) -> GrubEnv | None:
    if not cfg.load_env:
        return None
    path = grubenv_path(config)
    data = files.data(path)
    if data is None:
        return GrubEnv((), 0, "it is missing, so GRUB starts with no saved_entry, kernelopts or boot_success",
                       path=path)
    found = read_grubenv(data)
    return GrubEnv(found.variables, found.size, found.problem, path=path)


def environment(cfg: Grub2Config, env: GrubEnv | None) -> dict[str, str]:
    """The GRUB variables blscfg sees: fallbacks, then grubenv, then grub.cfg's own `set` lines."""
    variables = dict(cfg.fallbacks)
    if env is not None:
        variables.update(env.variables)
    variables.update(cfg.variables)
    return variables


def _static(entry: Grub2Entry, top: int) -> MenuEntry:
    path = f"{top}>{entry.index}" if entry.parent is not None else str(top)
    return MenuEntry(0, entry.title, "linux", entry.kernel, entry.kernel_args or "", entry.initrd,
                     grub_root=entry.root, id=entry.id, path=path)


def build_menu(config: str, cfg: Grub2Config, files: ConfigFiles) -> Menu:
    env = read_env(files, config, cfg)
    variables = environment(cfg, env)
    bls, dropped = read_bls_dir(files, BLS_DIR) if cfg.blscfg_at is not None else ([], [])
    top_of = _top_levels(cfg)
    placed: list[tuple[int, int, MenuEntry]] = []      # (top-level position, order, entry)
    for order, e in enumerate(cfg.entries):
        top = top_of[(e.parent, e.index)]
        if cfg.blscfg_at is not None and top >= cfg.blscfg_at:
            top += len(bls)
        placed.append((top, order, _static(e, top)))
    for i, file in enumerate(bls):
        top = cfg.blscfg_at + i
        entry = menu_entry(0, file, variables)
        placed.append((top, -1, replace(entry, path=str(top))))
    placed.sort(key=lambda item: (item[0], item[1]))
    entries = tuple(replace(e, index=i) for i, (_top, _order, e) in enumerate(placed))
    request, source = requested_default(cfg, env, variables)
    default, found = resolve_default(request, entries)
    return Menu(entries, default, errors=cfg.errors, default_setting=cfg.default, default_request=request,
                default_source=source, default_found=found, env=env, dropped=tuple(dropped),
                file_problems=bls_problems(bls))


def _top_levels(cfg: Grub2Config) -> dict[tuple[int | None, int], int]:
    """Each static entry's top-level position (a submenu's children share the submenu's)."""
    return {(e.parent, e.index): (e.index if e.parent is None else e.parent) for e in cfg.entries}


def requested_default(cfg: Grub2Config, env: GrubEnv | None,
                      variables: dict[str, str]) -> tuple[str | None, str | None]:
    """(the name or number 00_header leaves in `default`, where it comes from): next_entry once, else
    `set default` (a variable there taken from the environment)."""
    if cfg.next_entry and env is not None and env.get("next_entry"):
        return env.get("next_entry"), "next_entry"
    value = cfg.default
    if value is None:
        return None, None
    m = _REFERENCE.match(value)
    if m:
        return variables.get(m.group(1)) or None, m.group(1)
    return value, "grub.cfg"


def resolve_default(request: str | None, entries: tuple[MenuEntry, ...]) -> tuple[int | None, bool]:
    """(the entry GRUB boots, whether `request` named it): id, then title, then number; else entry 0."""
    if not entries:
        return None, request is None
    if request is None or request == "":
        return entries[0].index, True
    for match in (lambda e: e.id == request, lambda e: e.title == request, lambda e: e.path == request):
        hit = next((e for e in entries if match(e)), None)
        if hit is not None:
            return hit.index, True
    return entries[0].index, False

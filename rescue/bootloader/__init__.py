"""Boot loaders: one interface (`base.BootLoader`), one module per kind, chosen by detection.

    grub_legacy   GRUB 0.97 (EL5, EL6): grub.conf / menu.lst
    grub2         GRUB 2 (EL7+): grub.cfg, its grubenv, and on EL8+ the BLS entries its blscfg reads
    bls           Boot Loader Spec entries in /boot/loader/entries, without a grub.cfg

`detect` picks the kind the guest boots with, in the order GRUB's own
installations take precedence (a leftover grub.conf beside a grub.cfg means
an EL6 guest); `kind_named` gives the kind behind a name a diagnosis reported.
Nothing outside this package tests a kind's name: callers ask the kind.
Shared pieces: `cmdline` (the kernel command line), `templates` (the Jinja
templates files are rendered from), `grubenv`.
"""
from __future__ import annotations

from rescue.bootloader.base import (
    BootLayout, BootLoader, BootLoaderPlan, ConfigFiles, FileWrite, KernelEntryRequest, Menu, MenuEntry,
)
from rescue.bootloader.bls import Bls
from rescue.bootloader.grub2 import Grub2
from rescue.bootloader.grub_legacy import GrubLegacy

__all__ = ["BootLayout", "BootLoader", "BootLoaderPlan", "ConfigFiles", "FileWrite", "KernelEntryRequest", "KINDS",
           "Menu", "MenuEntry", "detect", "fresh", "kind_named"]

KINDS: tuple[type[BootLoader], ...] = (GrubLegacy, Grub2, Bls)


def detect(files: ConfigFiles, prefer: str | None = None) -> BootLoader | None:
    """The boot loader the guest boots with, bound to the configuration found; None when there is none.

    `prefer` is the kind the guest's release installs (its family says): tried
    first, so that an EL7 guest's leftover grub.conf does not hide its grub.cfg.
    """
    preferred = kind_named(prefer)
    for kind in ([preferred] if preferred else []) + [k for k in KINDS if k is not preferred]:
        config = kind.find(files)
        if config is not None:
            return kind(config)
    return None


def fresh(name: str) -> BootLoader:
    """A kind bound to its usual configuration, for a guest whose configuration is gone."""
    kind = kind_named(name)
    if kind is None:
        raise ValueError(f"no boot loader kind {name!r}")
    return kind(kind.config_paths[0] if kind.config_paths else "")


def kind_named(name: str | None) -> type[BootLoader] | None:
    """The kind a reported name (`model.Bootloader.kind`) stands for."""
    return next((kind for kind in KINDS if kind.kind == name), None)

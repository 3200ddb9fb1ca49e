"""`vmrescue repair --fix NAME`: the boot-path repairs vmrescue can do safely, decided as a plan value. Pure.

    restore-config   a renamed boot loader configuration (grub.conf.old, grub.cfg.rpmsave ...) put back
                     where GRUB reads it: one rename, nothing rewritten
    rebuild-initrd   the default kernel's initrd made again by the guest's own dracut/mkinitrd, with the
                     drivers its root needs, written beside the old one, checked, then renamed over it
    boot-entry       an entry for the recommended kernel (its vmlinuz and initrd in /boot) rendered from
                     the boot loader's template and made the default, as reinstall-kernel writes it

Everything else the boot-path diagnosis finds needs judgement (fstab, SELinux,
the LVM filter, boot code) and stays a finding with the command to run.
The plan is decided from the diagnosis with the guest mounted read-only
(`fixing.plan_fixes`), printed, then applied by `fixing.apply_fixes`.
"""
from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from rescue.bootloader.base import BootLoaderPlan
from rescue.errors import Exit, RescueError
from rescue.model import Diagnosis

FIXES = ("restore-config", "rebuild-initrd", "boot-entry")
NEW_SUFFIX = ".vmrescue-new"


@dataclass(frozen=True)
class Move:
    source: str                 # the renamed configuration
    target: str                 # where GRUB reads it


@dataclass(frozen=True)
class InitrdRebuild:
    argv: tuple[str, ...]       # the guest's tool, writing `temporary`
    temporary: str
    path: str                   # the initrd the default entry loads, replaced by `temporary` once checked
    release: str
    drivers: tuple[str, ...]    # drivers the new image must hold


@dataclass(frozen=True)
class FixPlan:
    image: str
    fixes: tuple[str, ...]
    backups: tuple[tuple[str, str], ...] = ()
    moves: tuple[Move, ...] = ()
    initrd: InitrdRebuild | None = None
    entry: BootLoaderPlan | None = None     # the boot loader's change for boot-entry
    relabel: str | None = None          # SELinux mode that makes the first boot relabel what was written
    notes: tuple[str, ...] = ()

    def steps(self) -> list[tuple[str, str]]:
        out = []
        if self.backups:
            out.append(("backup", ", ".join(copy for _, copy in self.backups)))
        for m in self.moves:
            out.append(("restore", f"rename {m.source} to {m.target} (one atomic rename; its contents unchanged)"))
        if self.initrd is not None:
            i = self.initrd
            drivers = f" with {', '.join(i.drivers)}" if i.drivers else ""
            out.append(("initrd", f"{shlex.join(i.argv)} (kernel {i.release}{drivers}), then check it unpacks whole "
                                  f"with /init and those drivers, then rename {i.temporary} to {i.path}"))
        if self.entry is not None and self.entry.step:
            out.append((self.entry.step, self.entry.detail))
        if self.relabel:
            out.append(("selinux", f"SELinux is {self.relabel}: /.autorelabel makes the first boot relabel "
                                   "the files vmrescue wrote"))
        return out

    def key(self) -> tuple:
        # without the time stamps of backups and of the "written by" line (to compare two plans)
        def plain(text: str) -> str:
            text = re.sub(r"\.vmrescue-\d{8}-\d{6}", ".vmrescue-STAMP", text)
            return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}( \w+)?", "DATE", text)
        entry = self.entry.diff if self.entry is not None else ""
        return tuple((name, plain(detail)) for name, detail in self.steps()) + (plain(entry),)


def refuse(image: str, fix: str, why: str, hint: str) -> RescueError:
    return RescueError("FIX_NOT_APPLICABLE", f"{image}: --fix {fix}: {why}; nothing was written.", hint, Exit.REFUSED)


def choose_fixes(requested: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [f for f in requested if f not in FIXES]
    if unknown or not requested:
        raise RescueError("UNKNOWN_FIX", f"--fix {' '.join(unknown) or '(none given)'}: vmrescue repairs "
                          f"{', '.join(FIXES)}.", "Name one or more: --fix restore-config --fix rebuild-initrd.",
                          Exit.USAGE)
    chosen = tuple(dict.fromkeys(requested))
    if "restore-config" in chosen and "boot-entry" in chosen:
        raise RescueError("UNKNOWN_FIX", "--fix restore-config and --fix boot-entry both change the boot loader's "
                          "configuration.", "Run one, then vmrescue diagnose, then the other if it is still needed.",
                          Exit.USAGE)
    return chosen


def config_move(d: Diagnosis, config_paths: tuple[str, ...]) -> Move:
    """The leftover to put back, and where: the newest-named one of the configuration the guest lacks."""
    bp = d.facts.bootpath
    if d.facts.bootloader.config is not None:
        raise refuse(d.facts.image, "restore-config", f"the guest has a configuration, {d.facts.bootloader.config}",
                     "Nothing to restore; vmrescue diagnose says what else is wrong.")
    if bp is None or not bp.leftovers:
        raise refuse(d.facts.image, "restore-config", "no renamed configuration (grub.conf.old, grub.cfg.rpmsave "
                     "...) was found", "Write one: vmrescue reinstall-kernel makes an entry for an installed kernel.")
    for source in sorted(bp.leftovers, key=_newest_first):
        target = next((p for p in config_paths if source.startswith(p) and p != source), None)
        if target is not None:
            return Move(source, target)
    raise refuse(d.facts.image, "restore-config", f"{', '.join(bp.leftovers)} name no configuration GRUB reads",
                 "Rename the right one by hand from a rescue shell (virt-rescue).")


def _newest_first(path: str) -> tuple[int, list[int]]:
    # .rpmsave/.old are what the system had last; vmrescue's own dated backups after them, newest first
    name = posixpath.basename(path)
    return (0 if name.endswith((".rpmsave", ".old")) else 1, [-ord(c) for c in name])


def initrd_drivers_needed(d: Diagnosis) -> tuple[str, ...]:
    """Drivers the diagnosis found the default entry's initrd lacking, and those its root needs anyway."""
    bp = d.facts.bootpath
    if bp is None or bp.initrd is None:
        return ()
    return tuple(dict.fromkeys(driver for driver, _ in bp.initrd.missing))


def initrd_target(d: Diagnosis) -> tuple[str, str]:
    """(initrd path, kernel release) of the default entry, refused when there is no kernel to build for."""
    bp, release = d.facts.bootpath, d.default_kernel
    entry = next((e for e in d.facts.bootloader.entries if e.guest_initrd and e.kernel_exists), None) \
        if release else None
    path = bp.initrd.path if bp and bp.initrd else (entry.guest_initrd if entry else None)
    if not release or not path:
        raise refuse(d.facts.image, "rebuild-initrd", "the default entry boots no kernel that is there",
                     "vmrescue diagnose names what the entry lacks; vmrescue reinstall-kernel puts a kernel back.")
    return path, release


def entry_kernel(d: Diagnosis) -> str:
    """The kernel boot-entry writes an entry for: the recommended one, when /boot has its vmlinuz and initrd."""
    ready = [k.uname_r for k in d.facts.kernels if k.vmlinuz is not None and k.initrd is not None]
    wanted = d.recommended_kernel.uname_r if d.recommended_kernel else (ready[0] if len(ready) == 1 else None)
    if wanted is None or wanted not in ready:
        why = (f"kernel {wanted} has no vmlinuz and initrd in /boot" if wanted else
               "there is no kernel with a vmlinuz and an initrd in /boot" if not ready else
               f"vmrescue cannot tell which of {', '.join(ready)} to boot")
        raise refuse(d.facts.image, "boot-entry", why,
                     "vmrescue reinstall-kernel --kernel UNAME_R puts a kernel back and writes its entry.")
    if d.bootable and d.default_kernel == wanted:
        raise refuse(d.facts.image, "boot-entry", f"the default entry already boots {wanted}",
                     "Nothing to rewrite; vmrescue diagnose says what else is wrong.")
    return wanted


__all__ = ["FIXES", "FixPlan", "InitrdRebuild", "Move", "NEW_SUFFIX", "choose_fixes",
           "config_move", "entry_kernel", "initrd_drivers_needed", "initrd_target", "refuse"]

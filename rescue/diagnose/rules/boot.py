"""Rules about the boot loader's configuration and its entries. Pure."""
from __future__ import annotations

import shlex
from collections.abc import Iterable

from rescue import bootloader
from rescue.diagnose.rules.actions import (
    config_name, entry_label, fix_boot_action, reinstall_action, root_spec, severity_for,
)
from rescue.diagnose.rules.facts import (
    LINUX_KINDS, config_link, default_index, entry_at, entry_file_release, entry_problems, is_default, link_paths,
    linux_entries, valid_fallback, entry_release,
)
from rescue.model import BootEntry, Finding, GuestFacts, Severity

ERROR, WARNING = Severity.ERROR, Severity.WARNING
LARGE_CONFIG = 1024 * 1024          # bytes; vmrescue reads no more of a boot loader configuration


def rule_bootloader_config(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    if config_link(facts) is not None:
        return              # BOOT_SYMLINK names the config that GRUB cannot follow
    if bl.kind is None or bl.config is None:
        yield Finding(
            "NO_BOOTLOADER_CONFIG", ERROR,
            "No GRUB configuration (grub.conf, menu.lst or grub.cfg) was found in the guest, "
            "so the boot loader has no kernel to load.",
            fix_boot_action(facts),
        )


def rule_bootloader_damaged(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    if bl.config is None or bl.damaged is None:
        return
    fix = fix_boot_action(facts)
    if bl.size:
        fix = f"Move the damaged file away (virt-rescue: mv {bl.config} {bl.config}.damaged), then: {fix}"
    yield Finding(
        "BOOTLOADER_CONFIG_DAMAGED", ERROR,
        f"{bl.config} {bl.damaged}, so GRUB has no menu and stops at its prompt.", fix)


def rule_bootloader_size(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    if bl.config is None or not (bl.entries_total or (bl.size or 0) > LARGE_CONFIG):
        return
    size = f"{bl.size} bytes" if bl.size is not None else "large"
    read = " in the part vmrescue read" if (bl.size or 0) > LARGE_CONFIG else ""
    entries = (f" with {bl.entries_total} entries{read}; vmrescue checked the first {len(bl.entries)}"
               if bl.entries_total else "")
    yield Finding(
        "BOOTLOADER_CONFIG_TOO_LARGE", WARNING,
        f"{bl.config} is {size}{entries}. anaconda and grubby write a few KiB; a file this size was "
        "grown by a script or a mistake, and GRUB may not show (or reach) entries far into it.",
        f"Cut {bl.config} back to its real entries (a backup such as {bl.config}.rpmsave or "
        f"{bl.config}.vmrescue-* may still hold them).")


def rule_boot_entries(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    if bl.config is not None and not bl.entries and bl.damaged is None:
        if dict(facts.default_grub).get("GRUB_ENABLE_BLSCFG") == "true":
            why = (": it reads them from /boot/loader/entries, and none is there (removing a kernel package "
                   "removes its entry),")
        else:
            why = " (yum removes an erased kernel's entry),"
        yield Finding(
            "NO_BOOT_ENTRIES", ERROR,
            f"{bl.config} has no boot entries left{why} so GRUB stops at its prompt.",
            fix_boot_action(facts),
        )


def _fallback_clause(facts: GuestFacts) -> str:
    fb = valid_fallback(facts)
    if fb is None:
        return ""
    return f"; fallback {entry_label(fb)} can boot {entry_release(facts, fb)}"


def _grub_consequence(facts: GuestFacts, entry: BootEntry | None) -> str:
    """What the boot loader itself does, when it is the boot loader that fails (not the kernel later)."""
    kind = bootloader.kind_named(facts.bootloader.kind)
    if kind is None:
        return ""
    if entry is None:
        return kind.no_entry_clause
    if entry.kind in LINUX_KINDS and (not entry.kernel_exists or (entry.initrd and not entry.initrd_exists)):
        return kind.missing_file_clause
    return ""


def rule_default_entry(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    index = default_index(facts)
    if not bl.entries or index is None:
        return
    entry = entry_at(facts, index)
    if entry is None:
        message = (f"{config_name(facts)} sets default={index} but has only {len(bl.entries)} "
                   f"entries, so no entry boots unattended")
    elif problems := entry_problems(facts, entry):
        message = f"The default {entry_label(entry)} cannot boot because {' and '.join(problems)}"
    else:
        return
    message += f"{_grub_consequence(facts, entry)}{_fallback_clause(facts)}."
    yield Finding("DEFAULT_ENTRY_INVALID", ERROR, message, fix_boot_action(facts))


def rule_entry_files(facts: GuestFacts) -> Iterable[Finding]:
    for e in linux_entries(facts):
        release = entry_file_release(e)
        action = (fix_boot_action(facts) if is_default(facts, e) or not release
                  else reinstall_action(facts, release))
        links = link_paths(facts)      # BOOT_SYMLINK says what is wrong with those
        if e.kernel and not e.kernel_exists and (e.guest_kernel or e.kernel) not in links:
            yield Finding(
                "ENTRY_KERNEL_MISSING", severity_for(facts, e),
                f"Boot {entry_label(e)} loads {e.guest_kernel or e.kernel}, which is not in the guest.",
                action)
        elif not e.kernel:
            yield Finding(
                "ENTRY_KERNEL_MISSING", severity_for(facts, e),
                f"Boot {entry_label(e)} has no kernel line, so GRUB has nothing to load.", action)
        if e.initrd and not e.initrd_exists and (e.guest_initrd or e.initrd) not in links:
            yield Finding(
                "ENTRY_INITRD_MISSING", severity_for(facts, e),
                f"Boot {entry_label(e)} loads the initrd {e.guest_initrd or e.initrd}, which is not in the guest.",
                action)


def rule_root_device(facts: GuestFacts) -> Iterable[Finding]:
    for e in linux_entries(facts):
        if e.root_device and e.root_resolved is None:
            yield Finding(
                "ROOT_DEVICE_UNRESOLVED", severity_for(facts, e),
                f"Boot {entry_label(e)} passes root={e.root_device}, which names no filesystem in the guest, "
                "so the kernel would panic looking for its root.",
                f"Edit {config_name(facts)} and set root={root_spec(facts)} on that entry's kernel line.")


def rule_titles(facts: GuestFacts) -> Iterable[Finding]:
    for e in facts.bootloader.entries:
        if any(ord(c) < 32 or ord(c) == 127 for c in e.title):
            yield Finding(
                "BOOT_ENTRY_TITLE_UNSAFE", WARNING,
                f"Boot {entry_label(e)} has a title with control characters (terminal escape sequences?), "
                "which GRUB prints to the console as they are; vmrescue reinstall-kernel will not rewrite "
                "a grub.conf holding them.",
                f"Edit that title in {config_name(facts)} (virt-edit -a {shlex.quote(facts.image)} "
                f"{config_name(facts)}).")

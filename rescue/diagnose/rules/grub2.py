"""Rules about GRUB 2's own state: grubenv, saved_entry, kernelopts, BLS entries (EL7–EL9). Pure.

The failures users of the peer tools report after a kernel update went wrong:
saved_entry naming an entry that is gone (GRUB then boots entry 0, the
greatest BLS file name), `$kernelopts` with no kernelopts (EL8: no root=),
entries left by an old machine-id sorting first, a grubenv block GRUB cannot
read or rewrite, grub.cfg and /etc/default/grub or the BLS entries telling
different stories, kernel packages with no entry, entries GRUB reads only in
part.
"""
from __future__ import annotations

import shlex
from collections.abc import Iterable

from rescue.diagnose.rules.actions import entry_label, fix_boot_action, reinstall_action, root_spec
from rescue.diagnose.rules.facts import (
    default_entry, entry_problems, entry_release, is_bootable, is_default, kernel_of_entry, linux_entries,
)
from rescue.diagnose.rules.evidence import recommend_kernel
from rescue.model import Finding, GuestFacts, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def _env_path(facts: GuestFacts) -> str:
    env = facts.bootloader.env
    return env.path if env is not None else "/boot/grub2/grubenv"


def _booted_clause(facts: GuestFacts) -> tuple[str, bool]:
    """What the entry GRUB falls back to boots, and whether it can."""
    entry = default_entry(facts)
    if entry is None:
        return "GRUB has no entry to boot instead", False
    problems = entry_problems(facts, entry)
    if problems:
        return f"GRUB boots {entry_label(entry)} instead, which cannot boot because {' and '.join(problems)}", False
    return f"GRUB boots {entry_label(entry)} instead, kernel {entry_release(facts, entry)}", True


def rule_saved_entry(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    if bl.default_found or not bl.default_request:
        return
    clause, works = _booted_clause(facts)
    rec = recommend_kernel(facts)
    wrong = works and rec is not None and entry_release(facts, default_entry(facts)) != rec.uname_r
    source = bl.default_source or "default"
    where = _env_path(facts) if source in ("saved_entry", "next_entry") else bl.config
    yield Finding(
        "SAVED_ENTRY_UNKNOWN", ERROR if not works else (WARNING if wrong else INFO),
        f"{source}={bl.default_request} in {where} names no boot entry (its kernel was removed?), so {clause}.",
        fix_boot_action(facts) if not works or wrong else
        f"grub2-set-default {default_entry(facts).id or default_entry(facts).index} to name that entry "
        "(from a rescue shell), so that the next kernel update does not leave the choice to the sort order.")


def rule_kernelopts(facts: GuestFacts) -> Iterable[Finding]:
    for e in linux_entries(facts):
        if "kernelopts" not in e.unset:
            continue
        args = dict(facts.default_grub).get("GRUB_CMDLINE_LINUX", "")
        value = " ".join(filter(None, [f"root={root_spec(facts)}", "ro", args]))
        yield Finding(
            "KERNELOPTS_MISSING", ERROR if is_default(facts, e) else WARNING,
            f"Boot {entry_label(e)} takes its command line from $kernelopts, but {_env_path(facts)} has no "
            "kernelopts and grub.cfg sets none (an EL8 grubenv rewritten or lost), so the kernel starts with no "
            "root= and panics.",
            f"From a rescue shell: grub2-editenv {_env_path(facts)} set {shlex.quote('kernelopts=' + value)} "
            f"(the values of GRUB_CMDLINE_LINUX in /etc/default/grub and the root of /etc/fstab)")


def rule_grubenv(facts: GuestFacts) -> Iterable[Finding]:
    env = facts.bootloader.env
    if env is None or env.problem is None:
        return
    yield Finding(
        "GRUBENV_DAMAGED", WARNING,
        f"{env.path}: {env.problem}. GRUB keeps saved_entry (and on EL8 kernelopts) there and rewrites it at "
        "every boot.",
        f"vmrescue reinstall-kernel writes it anew (its readable variables kept); by hand: grub2-editenv "
        f"{env.path} create, then grub2-set-default the entry to boot.")


def rule_foreign_machine_id(facts: GuestFacts) -> Iterable[Finding]:
    if not facts.machine_id:
        return
    for e in facts.bootloader.entries:
        if e.machine_id is None or e.machine_id == facts.machine_id:
            continue
        first = is_default(facts, e) and not facts.bootloader.default_found
        yield Finding(
            "BLS_FOREIGN_MACHINE_ID", ERROR if first and entry_problems(facts, e) else WARNING,
            f"Boot {entry_label(e)} is named for the machine-id {e.machine_id}, but /etc/machine-id is "
            f"{facts.machine_id}: it is left from a clone or a reinstall"
            + (", and GRUB boots it because it sorts first and saved_entry names nothing" if first else "")
            + ".",
            f"From a rescue shell, move {e.source} out of /boot/loader/entries (its kernel "
            f"{entry_release(facts, e) or e.kernel} is not this installation's), then check saved_entry.")


def rule_grub_default(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    wanted = dict(facts.default_grub).get("GRUB_DEFAULT")
    if wanted is None or bl.config is None or bl.default_setting is None:
        return
    if wanted == "saved" and "saved_entry" not in bl.default_setting:
        yield Finding(
            "GRUB_DEFAULT_MISMATCH", WARNING,
            f"/etc/default/grub says GRUB_DEFAULT=saved, but {bl.config} sets default={bl.default_setting}: "
            "grub.cfg was generated from another /etc/default/grub, and grub2-set-default has no effect.",
            f"Check /etc/default/grub, then set the default in {bl.config} by hand (grub2-mkconfig would rewrite "
            "the whole file).")
    elif wanted == "saved" and bl.env is not None and bl.env.get("saved_entry") is None and bl.entries:
        entry = default_entry(facts)
        yield Finding(
            "GRUB_DEFAULT_MISMATCH", WARNING if not is_bootable(facts) else INFO,
            f"/etc/default/grub says GRUB_DEFAULT=saved, but {_env_path(facts)} has no saved_entry, so GRUB "
            f"boots {entry_label(entry) if entry else 'its first entry'}, whichever sorts first.",
            "grub2-set-default the entry to boot (vmrescue reinstall-kernel sets saved_entry).")
    elif wanted != "saved" and bl.default_setting != wanted and "saved_entry" in bl.default_setting:
        yield Finding(
            "GRUB_DEFAULT_MISMATCH", INFO,
            f"/etc/default/grub says GRUB_DEFAULT={wanted}, but {bl.config} boots saved_entry: the next "
            "grub2-mkconfig changes which entry boots.",
            "Make GRUB_DEFAULT=saved in /etc/default/grub, or expect the default to change.")


def rule_bls_not_in_menu(facts: GuestFacts) -> Iterable[Finding]:
    """grub.cfg without blscfg while /boot/loader/entries lists kernels: GRUB never shows them."""
    bl = facts.bootloader
    if not facts.bls_entries or any(e.source for e in bl.entries) or bl.config is None:
        return
    shown = {e.kernel for e in bl.entries}
    hidden = [(i, linux) for i, linux in facts.bls_entries if linux and linux not in shown]
    if hidden:
        yield Finding(
            "GRUB_CFG_BLS_DISAGREE", WARNING,
            f"{bl.config} does not run blscfg, so GRUB does not show the Boot Loader Spec entries "
            f"{', '.join(i for i, _ in hidden[:5])} (their kernels {', '.join(k for _, k in hidden[:5])} are in "
            "no menuentry): grub.cfg was generated with GRUB_ENABLE_BLSCFG=false or written by hand.",
            "Set GRUB_ENABLE_BLSCFG=true in /etc/default/grub and regenerate grub.cfg after boot "
            "(grub2-mkconfig -o /boot/grub2/grub.cfg), or add the kernels' entries to grub.cfg.")


def rule_kernel_without_entry(facts: GuestFacts) -> Iterable[Finding]:
    """EL8+: kernel-install writes each kernel's BLS entry; a package with files and no entry is one it missed."""
    bls = bool(facts.bls_entries) or any(e.source for e in facts.bootloader.entries)
    booted = {k.uname_r for e in linux_entries(facts) if (k := kernel_of_entry(facts, e))}
    for k in facts.kernels:
        if k.rpm is None:
            continue
        if bls and k.vmlinuz is not None and k.uname_r not in booted:
            yield Finding(
                "KERNEL_PACKAGE_WITHOUT_ENTRY", WARNING,
                f"{k.rpm.nvra} is installed and {k.vmlinuz.path} is there, but no boot entry boots it "
                "(its kernel-install did not write one).",
                reinstall_action(facts, k.uname_r) + " (it writes the entry)")
        elif k.vmlinuz is None and k.modules is not None and k.modules.has_vmlinuz:
            yield Finding(
                "KERNEL_NOT_IN_BOOT", WARNING,
                f"{k.rpm.nvra} is installed ({k.modules.path}/vmlinuz is there) but /boot/vmlinuz-{k.uname_r} "
                "is not: its kernel-install (which copies the image to /boot) did not run.",
                reinstall_action(facts, k.uname_r))


def rule_bls_files(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    for path, problem in bl.bls_problems:
        yield Finding("BLS_ENTRY_TRUNCATED", WARNING, f"{path}: {problem}.",
                      f"Remove the empty line from {path} (virt-edit), or the keys after it are lost.")
    for entry_id in bl.dropped:
        yield Finding("BLS_ENTRY_DROPPED", WARNING,
                      f"GRUB leaves /boot/loader/entries/{entry_id}.conf out of its menu: its name sorts equal to "
                      "another entry's, and blscfg keeps only the first.",
                      f"Rename or remove /boot/loader/entries/{entry_id}.conf.")

"""Rules about the boot past the boot loader's menu: its files, the command line, the initrd, init. Pure."""
from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable

from rescue.bootloader.cmdline import kernel_words
from rescue.diagnose.rules.actions import config_name, entry_label, severity_for
from rescue.diagnose.rules.facts import LINUX_KINDS, default_entry, linux_entries
from rescue.model import BootEntry, BootPathFacts, EntryLines, Evidence, Finding, GuestFacts, Program, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
# Characters people and tools confuse in kernel file names (vmlinux/vmlinuz, 1/l, 0/O).
LOOKALIKE = {("x", "z"), ("1", "l"), ("0", "o"), ("-", "_"), ("i", "l")}


def repair_action(facts: GuestFacts, fix: str) -> str:
    return f"vmrescue repair {shlex.quote(facts.image)} --fix {fix}"


def _bp(facts: GuestFacts) -> BootPathFacts | None:
    return facts.bootpath if facts.os is not None else None


def _lines(bp: BootPathFacts, entry: BootEntry) -> EntryLines | None:
    return next((x for x in bp.entry_lines if x.entry == entry.index), None)


# --- the configuration file ----------------------------------------------------------

def rule_config_renamed(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None or facts.bootloader.config is not None or not bp.leftovers:
        return
    newest = bp.leftovers[-1]
    yield Finding(
        "BOOTLOADER_CONFIG_RENAMED", ERROR,
        f"The boot loader has no configuration, but {', '.join(bp.leftovers)} {'is' if len(bp.leftovers) == 1 else 'are'} "
        "there: the file was renamed (rpm keeps a changed configuration as .rpmsave when its package goes; an "
        "admin's .old copy), so GRUB stops at its prompt.",
        repair_action(facts, "restore-config") + f" (puts {newest} back in place, after a dry run shows it)",
        tuple(Evidence(p, None, "renamed configuration") for p in bp.leftovers))


def rule_config_dangling(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None:
        return
    for link, target in bp.dangling:
        missing = facts.bootloader.config is None
        yield Finding(
            "BOOTLOADER_CONFIG_DANGLING", ERROR if missing and link.startswith("/boot/") else WARNING,
            f"{link} is a symlink to {target}, which does not exist"
            + (", and no other GRUB configuration is there, so GRUB has no menu." if missing else
               f"; GRUB reads {facts.bootloader.config} instead, but tools that edit {link} (grubby) fail."),
            (repair_action(facts, "restore-config") if missing and bp.leftovers else
             f"Point the link at the real configuration or remove it {_shell(facts)}: ln -sf ./grub.conf {link}"
             if link.endswith("menu.lst") else f"Remove or fix the link {_shell(facts)}: rm {link}"),
            (Evidence(link, None, f"-> {target}"),))


def _shell(facts: GuestFacts) -> str:
    return f"from a rescue shell (virt-rescue -a {shlex.quote(facts.image)})"


def near_miss(wanted: str, files: Iterable[str]) -> tuple[str, str] | None:
    """A file whose name differs from `wanted` by one look-alike character (or one character), and how."""
    directory, name = posixpath.split(wanted)
    best = None
    for path in files:
        d, other = posixpath.split(path)
        if d != directory or other == name or abs(len(other) - len(name)) > 1:
            continue
        if len(other) == len(name):
            diffs = [(a, b) for a, b in zip(name, other) if a != b]
            if len(diffs) == 1:
                a, b = diffs[0]
                how = f"'{b}' where the entry says '{a}'"
                if (a.lower(), b.lower()) in LOOKALIKE or (b.lower(), a.lower()) in LOOKALIKE:
                    return path, how
                best = best or (path, how)
        elif _one_insert(name, other) or _one_insert(other, name):
            best = best or (path, "one character more or less")
    return best


def _one_insert(short: str, long: str) -> bool:
    if len(long) != len(short) + 1:
        return False
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def rule_entry_near_miss(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None:
        return
    for e in linux_entries(facts):
        lines = _lines(bp, e)
        for what, path, exists, line, text in (
                ("kernel", e.guest_kernel, e.kernel_exists, lines and lines.kernel_line, lines and lines.kernel_text),
                ("initrd", e.guest_initrd, e.initrd_exists, lines and lines.initrd_line, lines and lines.initrd_text)):
            if not path or exists:
                continue
            hit = near_miss(path, bp.boot_files)
            if hit is None:
                continue
            other, how = hit
            where = f"line {line} of {lines.path}" if line else config_name(facts)
            yield Finding(
                "ENTRY_FILE_NEAR_MISS", severity_for(facts, e),
                f"Boot {entry_label(e)} loads the {what} {path}, which is not there, but {other} is ({how}): "
                "a typing mistake in the entry.",
                f"Edit {where}: {posixpath.basename(path)} → {posixpath.basename(other)} "
                f"(virt-edit -a {shlex.quote(facts.image)} {lines.path if lines else config_name(facts)}), or have "
                f"vmrescue write a new default entry from its template: {repair_action(facts, 'boot-entry')}.",
                (Evidence(lines.path if lines else config_name(facts), line or None, text or path),))


# --- the kernel command line -------------------------------------------------------------

def _resolved(bp: BootPathFacts, spec: str) -> str | None:
    return next((fstype for s, fstype in bp.specs if s == spec), None)


def _args_evidence(facts: GuestFacts, entry: BootEntry, bp: BootPathFacts, value: str) -> Evidence:
    lines = _lines(bp, entry)
    if lines is None:
        return Evidence(entry.source or config_name(facts), None, value)
    return Evidence(lines.path, lines.kernel_line, value)


def rule_cmdline(facts: GuestFacts) -> Iterable[Finding]:
    bp, entry = _bp(facts), default_entry(facts)
    if bp is None or entry is None or entry.kind not in LINUX_KINDS or not entry.kernel:
        return
    words = kernel_words(entry.kernel_args)
    edit = f"Edit the default entry's kernel line in {entry.source or config_name(facts)}"
    lv_args = [w for w in words if w.startswith(("rd.lvm.lv=", "rd_LVM_LV="))]
    vg_args = [w.split("=", 1)[1] for w in words if w.startswith(("rd.lvm.vg=", "rd_LVM_VG="))]
    root_lv = facts.os.root if facts.os and facts.os.root.count("/") == 3 else None
    listed = {"/dev/" + w.split("=", 1)[1] for w in lv_args}
    root_listed = root_lv in listed or (root_lv is not None and root_lv.split("/")[2] in vg_args)
    if facts.os and facts.os.major >= 6:            # EL5's mkinitrd bakes its LVs in and ignores these
        for w in lv_args:
            lv = "/dev/" + w.split("=", 1)[1]
            if lv in bp.lvs:
                continue
            blocks = root_lv is not None and not root_listed
            yield Finding(
                "CMDLINE_LV_MISSING", ERROR if blocks else WARNING,
                f"The default entry passes {w}, but the disk has no LV {lv}"
                + (f"; dracut activates only the LVs it is given, so the root {root_lv} never appears and the "
                   "boot ends in dracut's emergency shell after its timeout." if blocks else
                   "; dracut cannot activate it (the root is activated by another argument)."),
                f"{edit}: {w} → {w.split('=', 1)[0]}={root_lv[5:] if blocks else '<VG/LV that exists>'} "
                f"(LVs of this disk: {', '.join(bp.lvs) or 'none'}).",
                (_args_evidence(facts, entry, bp, w),))
    for w in words:
        if w.startswith("resume=") and len(w) > 7:
            spec = w[7:]
            fstype = _resolved(bp, spec)
            if fstype == "swap":
                continue
            yield Finding(
                "CMDLINE_RESUME_MISSING", ERROR,
                f"The default entry passes {w}, which names " + (f"a {fstype} volume, not swap" if fstype else
                                                                 "no device of this disk")
                + "; dracut's resume hook waits for it, and the boot stops in its emergency shell after the timeout.",
                f"{edit}: remove {w} or name the swap device (fstab's swap line).",
                (_args_evidence(facts, entry, bp, w),))
    for p in bp.programs:
        if p.role == "init=" and p.state != "ok":
            yield Finding(
                "CMDLINE_INIT_MISSING", ERROR,
                f"The default entry passes init={p.path}, {_program_state(p)}, so the kernel (or dracut: "
                "\"Cannot find init!\") has no init to start.",
                f"{edit}: remove init={p.path} (the system's own is /sbin/init).",
                (_args_evidence(facts, entry, bp, f"init={p.path}"),))


def rule_initrd_line(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None:
        return
    for e in linux_entries(facts):
        lines = _lines(bp, e)
        if lines is None or not lines.initrd_text:
            continue
        extra = [w for w in lines.initrd_text.split()[2:] if not w.startswith(("$", "/", "("))]
        if not extra:
            continue
        kernel_line = next((k for k in e.kernel_args.split() if k.startswith("root=")), None)
        lost = [w for w in extra if w.startswith(("root=", "rd.lvm", "rd_LVM"))]
        severity = severity_for(facts, e) if (lost or not kernel_line) else WARNING
        yield Finding(
            "INITRD_LINE_ARGUMENTS", severity,
            f"Boot {entry_label(e)} has kernel arguments on its initrd line ({' '.join(extra)}): GRUB takes them "
            "as more initrd files (GRUB 2 fails with \"file not found\") or drops them (GRUB legacy), so the kernel "
            "never sees them.",
            f"Edit line {lines.initrd_line} of {lines.path}: move {' '.join(extra)} to the end of the kernel line "
            f"(line {lines.kernel_line}).",
            (Evidence(lines.path, lines.initrd_line, lines.initrd_text),))


# --- the initrd ----------------------------------------------------------------------------

def rule_initrd_image(facts: GuestFacts) -> Iterable[Finding]:
    bp, entry = _bp(facts), default_entry(facts)
    if bp is None or bp.initrd is None or entry is None:
        return
    i = bp.initrd
    rebuild = repair_action(facts, "rebuild-initrd")
    if i.problem:
        yield Finding("INITRD_DAMAGED", ERROR,
                      f"{i.path} ({i.size} bytes) {i.problem}: the kernel stops with \"Initramfs unpacking failed\" "
                      "and cannot mount the root (typical of a /boot that filled up while dracut wrote it).",
                      rebuild, (Evidence(i.path, None, i.problem),))
        return
    if i.unchecked:
        yield Finding("INITRD_UNCHECKED", INFO, f"{i.path}: {i.unchecked}.",
                      "Install zstd and lz4 on this host to have vmrescue check it.", (Evidence(i.path, None, i.unchecked),))
        return
    if i.release and i.module_releases and i.release not in i.module_releases:
        yield Finding("INITRD_WRONG_KERNEL", ERROR,
                      f"{i.path} carries modules for {', '.join(i.module_releases)}, but the default entry boots "
                      f"{i.release}: its drivers do not load into this kernel, so the root disk is not found.",
                      rebuild, (Evidence(i.path, None, "lib/modules/" + ", ".join(i.module_releases)),))
    if i.init != "ok":
        state = {"missing": "has no /init", "dangling": "has an /init symlink that leads nowhere",
                 "not-executable": "has an /init that is not executable"}[i.init]
        yield Finding("INITRD_NO_INIT", ERROR,
                      f"{i.path} {state}: the kernel runs nothing from it and then fails to mount the root itself "
                      "(\"VFS: Unable to mount root fs\").", rebuild, (Evidence(i.path, None, f"/init {i.init}"),))
    for driver, why in i.missing:
        yield Finding("INITRD_DRIVER_MISSING", ERROR,
                      f"{i.path} lacks the {driver} driver, which the boot needs: {why}; without it the initrd "
                      "cannot reach the root filesystem.",
                      rebuild + f" (adds {driver} with --add-drivers)", (Evidence(i.path, None, f"no {driver}.ko"),))
    for program, why in i.missing_tools:
        yield Finding("INITRD_TOOL_MISSING", ERROR,
                      f"{i.path} lacks the {program} program, which the boot needs: {why}.", rebuild,
                      (Evidence(i.path, None, f"no {program}"),))


# --- init and the shell -----------------------------------------------------------------------

def _program_state(p: Program) -> str:
    via = f" (through {p.resolved})" if p.resolved else ""
    return {
        "missing": "which does not exist",
        "dangling": f"a symlink that leads nowhere{via}",
        "not-executable": f"which is not an executable file{via}",
        "interpreter-missing": f"whose interpreter {p.interpreter} is missing{via}",
        "empty": f"which is empty{via}",
    }.get(p.state, p.state)


PROGRAM_CODES = {"missing": "MISSING", "dangling": "DANGLING", "not-executable": "NOT_EXECUTABLE",
                 "interpreter-missing": "INTERPRETER_MISSING", "empty": "NOT_EXECUTABLE"}


def rule_init(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None:
        return
    init_arg = any(p.role == "init=" and p.state == "ok" for p in bp.programs)
    for p in bp.programs:
        if p.state == "ok" or p.role == "init=":
            continue
        if p.role == "init":
            if init_arg:
                continue
            yield Finding(
                f"INIT_{PROGRAM_CODES[p.state]}", ERROR,
                f"{p.path}, {_program_state(p)}: the kernel cannot start the system's init (dracut: \"Cannot find "
                "init!\", then its emergency shell; without an initrd: \"No working init found\").",
                f"Reinstall the init package from a rescue shell (virt-rescue -a {shlex.quote(facts.image)}): "
                "systemd (EL7+) or upstart/SysVinit (EL6/EL5), or restore the file from a backup.",
                (Evidence(p.path, None, p.state + (f" -> {p.resolved}" if p.resolved else "")),))
        else:
            yield Finding(
                f"SHELL_{PROGRAM_CODES[p.state]}", WARNING,
                f"{p.path}, {_program_state(p)}: every #!/bin/sh script of the boot fails, and no emergency or "
                "single-user shell can start.",
                f"Restore /bin/sh from a rescue shell (virt-rescue -a {shlex.quote(facts.image)}): "
                "ln -sf bash /bin/sh, or reinstall bash.",
                (Evidence(p.path, None, p.state),))


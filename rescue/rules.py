"""What is wrong with a guest's boot, and which kernel it should boot.

Pure: `diagnose(facts)` runs a list of small rules over `GuestFacts`, each
yielding `Finding`s, then decides the verdict (`bootable`), the kernel the
default entry boots and the kernel to reinstall. No I/O; tests build facts
by hand.
"""
from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rescue.kernel.inventory import booted_release, is_kernel_package, newest_first
from rescue.kernel.bootfiles import release_from_boot_name
from rescue.model import (
    BootEntry, Diagnosis, Finding, GuestFacts, Kernel, RecommendedKernel, RpmPackage, Severity,
    ThirdPartyModule,
)
from rescue.rpm.vercmp import compare_uname_r
from rescue.distro.redhat_naming import package_file_for, uname_r_for
from rescue.distro.yum import kernel_events, package_from_log, package_name_from_log

Rule = Callable[[GuestFacts], Iterable[Finding]]

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
LINUX_KINDS = ("linux", "xen")
NIC_MODULES = ("vmxnet", "vmxnet3")
RPMS_DIR_PLACEHOLDER = "DIR-WITH-RPMS"


# --- facts looked up by several rules -------------------------------------------

def default_index(facts: GuestFacts) -> int | None:
    """The entry GRUB boots unattended: `default` as configured, 0 when unset."""
    bl = facts.bootloader
    if bl.default is not None:
        return bl.default
    return 0 if bl.entries else None


def entry_at(facts: GuestFacts, index: int | None) -> BootEntry | None:
    if index is None:
        return None
    return next((e for e in facts.bootloader.entries if e.index == index), None)


def default_entry(facts: GuestFacts) -> BootEntry | None:
    return entry_at(facts, default_index(facts))


def is_default(facts: GuestFacts, entry: BootEntry) -> bool:
    return entry.index == default_index(facts)


def kernel_named(facts: GuestFacts, release: str | None) -> Kernel | None:
    return next((k for k in facts.kernels if k.uname_r == release), None)


def entry_file_release(entry: BootEntry) -> str | None:
    """The release an entry's kernel file name carries, whether or not the file exists."""
    path = entry.guest_kernel or entry.kernel
    return release_from_boot_name(path) if path else None


def kernel_of_entry(facts: GuestFacts, entry: BootEntry) -> Kernel | None:
    """The installed kernel an entry boots, matched by the file it points to (not its title)."""
    if not entry.kernel_exists or entry.kind not in LINUX_KINDS:
        return None
    for k in facts.kernels:
        if k.vmlinuz is not None and entry.guest_kernel and k.vmlinuz.path == entry.guest_kernel:
            return k
    k = kernel_named(facts, entry_file_release(entry))
    return k if k is not None and k.vmlinuz is not None else None


def entry_release(facts: GuestFacts, entry: BootEntry) -> str | None:
    """The `uname -r` an entry boots, if its kernel is there."""
    k = kernel_of_entry(facts, entry)
    return booted_release(k) if k else None


def default_kernel(facts: GuestFacts) -> str | None:
    entry = default_entry(facts)
    return entry_release(facts, entry) if entry else None


def default_kernel_record(facts: GuestFacts) -> Kernel | None:
    entry = default_entry(facts)
    return kernel_of_entry(facts, entry) if entry else None


def has_modules_tree(facts: GuestFacts, release: str | None) -> bool:
    k = kernel_named(facts, release)
    return bool(k and k.modules and k.modules.has_kernel_tree)


def _on_lvm(device: str) -> bool:
    # /dev/mapper/VG-LV or /dev/VG/LV: the kernel alone cannot activate LVM.
    return device.startswith("/dev/mapper/") or device.count("/") == 3


def needs_initrd(facts: GuestFacts) -> bool:
    """EL5 and later always boot through an initrd; older ones need it for a root on LVM."""
    if facts.os is None:
        return False
    return facts.os.major >= 5 or _on_lvm(facts.os.root)


def is_complete(facts: GuestFacts, k: Kernel) -> bool:
    """Everything a kernel needs to come up is in the guest: vmlinuz, modules, initrd."""
    return (k.vmlinuz is not None
            and has_modules_tree(facts, booted_release(k))
            and (k.initrd is not None or not needs_initrd(facts)))


def entry_problems(facts: GuestFacts, entry: BootEntry) -> list[str]:
    """Why an entry cannot boot a Linux kernel, as short clauses; empty when it can."""
    if entry.kind not in LINUX_KINDS:
        return [f"it is a {entry.kind} entry, not a Linux kernel"]
    if not entry.kernel:
        return ["it has no kernel line"]
    problems = []
    links = _link_paths(facts)
    if not entry.kernel_exists:
        kernel = entry.guest_kernel or entry.kernel
        problems.append(f"its kernel {kernel} is " + ("a symlink GRUB cannot follow" if kernel in links else "missing"))
    if entry.initrd and not entry.initrd_exists:
        initrd = entry.guest_initrd or entry.initrd
        problems.append(f"its initrd {initrd} is " + ("a symlink GRUB cannot follow" if initrd in links else "missing"))
    if not entry.initrd and needs_initrd(facts):
        problems.append("it has no initrd line")
    release = entry_release(facts, entry)
    # An initrd carries the drivers needed to mount root, so a kernel without
    # /lib/modules still boots to init (only later drivers, e.g. the NIC, fail).
    if release and not has_modules_tree(facts, release) and not (entry.initrd and entry.initrd_exists):
        problems.append(f"/lib/modules/{release} has no kernel modules and no initrd carries them")
    if entry.root_device and entry.root_resolved is None:
        problems.append(f"root={entry.root_device} names no filesystem in the guest")
    return problems


def _link_paths(facts: GuestFacts) -> set[str]:
    return {link.path for link in facts.boot_symlinks}


def entry_can_boot(facts: GuestFacts, entry: BootEntry) -> bool:
    return not entry_problems(facts, entry)


def is_bootable(facts: GuestFacts) -> bool:
    """Strict: the default entry itself must boot (a fallback does not count)."""
    entry = default_entry(facts)
    return facts.os is not None and entry is not None and entry_can_boot(facts, entry)


def valid_fallback(facts: GuestFacts) -> BootEntry | None:
    entry = entry_at(facts, facts.bootloader.fallback)
    return entry if entry is not None and entry_can_boot(facts, entry) else None


def entries_booting(facts: GuestFacts, release: str) -> list[BootEntry]:
    return [e for e in facts.bootloader.entries if entry_release(facts, e) == release]


# --- yum.log evidence -----------------------------------------------------------

@dataclass(frozen=True)
class ErasedKernel:
    when: str
    logged: str              # the package as yum.log wrote it
    name: str
    uname_r: str | None      # None when yum logged only the package name


def erased_kernels(facts: GuestFacts) -> list[ErasedKernel]:
    """Kernel packages yum.log records as Erased, oldest first."""
    major = facts.os.major if facts.os else 0
    found = []
    for ev in kernel_events(facts.yum_events):
        name = package_name_from_log(ev.package)
        if ev.action != "Erased" or not is_kernel_package(name):
            continue
        parsed = package_from_log(ev.package)
        # yum 3.2 on EL5 may log an erasure by name only ("Erased: kernel").
        uname_r = uname_r_for(RpmPackage(*parsed), major) if parsed else None
        found.append(ErasedKernel(ev.when, ev.package, name, uname_r))
    return found


def files_gone(facts: GuestFacts, release: str) -> bool:
    k = kernel_named(facts, release)
    return k is None or k.vmlinuz is None


def newest_complete(facts: GuestFacts) -> str | None:
    complete = [k.uname_r for k in facts.kernels if is_complete(facts, k)]
    ordered = newest_first(complete)
    return ordered[0] if ordered else None


def not_superseded(facts: GuestFacts, release: str) -> bool:
    """No complete kernel newer than `release` is left in the guest.

    Evidence for an older kernel is routine, not a loss: yum erases kernels past
    installonly_limit, and VMware Tools leave their misc/ modules behind in each
    erased kernel's /lib/modules. Only evidence at or above the newest complete
    kernel says which kernel the guest is missing.
    """
    best = newest_complete(facts)
    return best is None or compare_uname_r(release, best) >= 0


# --- the kernel to recommend ----------------------------------------------------

def module_names(modules: Iterable[ThirdPartyModule]) -> list[str]:
    return list(dict.fromkeys(m.name for m in modules))


def observed_release(facts: GuestFacts, computed: str, version: str, release: str) -> str:
    """The release a package really has, when the guest shows it under another name.

    A package's uname -r is computed from its name and EVR by the distro's rule;
    rebuilt or third-party kernels (6.1.0-56-amd64 packaged as kernel-6.1.0-56)
    break that rule. When exactly one release seen in the guest (module vermagic,
    /boot, /lib/modules) extends VERSION-RELEASE, that is the one.
    """
    seen = {m.vermagic_release for m in facts.third_party_modules if m.vermagic_release}
    seen |= {k.uname_r for k in facts.kernels if k.vmlinuz or k.modules}
    if computed in seen:
        return computed
    stem = f"{version}-{release}"
    hits = [r for r in seen if r == stem or r.startswith(stem + "-") or r.startswith(stem + ".")]
    return hits[0] if len(hits) == 1 else computed


def evidence_by_release(facts: GuestFacts) -> dict[str, list[str]]:
    """Every release the guest's own records point at, with the clauses saying why."""
    evidence: dict[str, list[str]] = {}
    for release, mods in third_party_by_vermagic(facts).items():
        evidence.setdefault(release, []).append(f"{', '.join(module_names(mods))} were built for it")
    for k in facts.kernels:
        if k.rpm is not None and k.vmlinuz is None:
            evidence.setdefault(k.uname_r, []).append(
                f"the RPM database lists {k.rpm.nvra} but its files are gone")
    for erased in erased_kernels(facts):
        if erased.uname_r is None:
            continue
        parsed = package_from_log(erased.logged)
        release = observed_release(facts, erased.uname_r, parsed[2], parsed[3]) if parsed else erased.uname_r
        if files_gone(facts, release):
            evidence.setdefault(release, []).append(
                f"yum.log shows {erased.logged} erased on {erased.when}")
    return {r: why for r, why in evidence.items() if not_superseded(facts, r)}


def third_party_by_vermagic(facts: GuestFacts) -> dict[str, list[ThirdPartyModule]]:
    grouped: dict[str, list[ThirdPartyModule]] = {}
    for m in facts.third_party_modules:
        if m.vermagic_release:
            grouped.setdefault(m.vermagic_release, []).append(m)
    return grouped


def recommend_kernel(facts: GuestFacts) -> RecommendedKernel | None:
    """The newest release the evidence points at; else what boots; else the newest complete one."""
    if facts.os is None:
        return None
    evidence = evidence_by_release(facts)
    if evidence:
        release = newest_first(evidence)[0]
        reason = "; ".join(evidence[release])
    elif is_bootable(facts):
        release, reason = default_kernel(facts), "the default entry boots it and nothing points at another kernel"
    else:
        release = newest_complete(facts)
        reason = "it is the newest kernel whose vmlinuz, initrd and modules are all present"
    if release is None:
        return None
    return RecommendedKernel(release, package_file_for(release, facts.os.arch), reason)


def needs_repair(diagnosis: Diagnosis) -> bool:
    """False when the guest boots the recommended kernel by default already."""
    rec = diagnosis.recommended_kernel
    return not (diagnosis.bootable and (rec is None or rec.uname_r == diagnosis.default_kernel))


# --- actions ----------------------------------------------------------------------

def reinstall_action(facts: GuestFacts, release: str) -> str:
    if facts.os is not None and facts.os.package_format != "rpm":
        return (f"Reinstall kernel {release} with the guest's own package manager from a rescue shell "
                f"(virt-rescue -a {shlex.quote(facts.image)}); vmrescue reinstall-kernel repairs RPM-based "
                "guests only.")
    return (f"vmrescue reinstall-kernel {shlex.quote(facts.image)} --kernel {release} "
            f"--from {RPMS_DIR_PLACEHOLDER}")


def fix_boot_action(facts: GuestFacts) -> str:
    """The one step that gets the guest booting the kernel it should."""
    rec = recommend_kernel(facts)
    if rec is None:
        return reinstall_action(facts, "RELEASE") + " (with the release of a kernel package you have)"
    for e in entries_booting(facts, rec.uname_r):
        if entry_can_boot(facts, e) and not is_default(facts, e):
            return f"Set default={e.index} in {config_name(facts)} ({entry_label(e)} boots {rec.uname_r})."
    return reinstall_action(facts, rec.uname_r)


def entry_label(entry: BootEntry) -> str:
    return f"entry {entry.index} ('{entry.title}')"


def severity_for(facts: GuestFacts, entry: BootEntry) -> Severity:
    return ERROR if is_default(facts, entry) else WARNING


def grub_path(facts: GuestFacts, guest_path: str) -> str:
    """A /boot file as GRUB names it: relative to the /boot filesystem when that is separate."""
    if facts.boot_is_separate and guest_path.startswith("/boot/"):
        return guest_path[len("/boot"):]
    return guest_path


def config_name(facts: GuestFacts) -> str:
    return facts.bootloader.config or "the boot loader configuration"


# --- the rules ---------------------------------------------------------------------

def rule_in_use(facts: GuestFacts) -> Iterable[Finding]:
    if facts.in_use:
        yield Finding(
            "IMAGE_IN_USE", ERROR,
            f"{facts.image} is in use: {facts.in_use}. A running VM changes its disk while vmrescue reads it, "
            "so this diagnosis may not match what the disk holds once the VM stops.",
            "Shut the VM down (or diagnose a snapshot of the disk) and run vmrescue diagnose again.")


def _what_disk_holds(volumes: tuple[tuple[str, str], ...]) -> str:
    known = [f"{fstype} on {name}" for name, fstype in volumes if fstype]
    if known:
        return "It holds " + ", ".join(known) + ", but no filesystem with /etc, an fstab and a release file"
    if any(name == "the whole disk" for name, _ in volumes):
        return "It has no partition table and no filesystem: it is blank (or its first sectors were wiped)"
    return "Its partitions hold no filesystem vmrescue recognises"


def rule_no_os(facts: GuestFacts) -> Iterable[Finding]:
    if facts.os is None:
        why = f" {_what_disk_holds(facts.volumes)}." if facts.volumes else ""
        yield Finding(
            "NO_OS", ERROR,
            f"No Linux root filesystem was found in {facts.image}, so there is nothing to boot or repair.{why}",
            "Check that this is the VM's system disk (not a data disk) and that it is not encrypted: "
            f"virt-filesystems -a {shlex.quote(facts.image)} --all --long",
        )


# --- /boot itself ------------------------------------------------------------------

def boot_unreadable(facts: GuestFacts) -> str | None:
    """Why the guest's /boot could not be read, or None: everything about kernels depends on it."""
    if "/boot" in facts.unmounted:
        return "The /boot filesystem could not be mounted"
    spec = next((spec for spec, mountpoint, _ in facts.fstab if mountpoint.rstrip("/") == "/boot"), None)
    if facts.os is not None and spec is not None and "/boot" not in dict(facts.os.mountpoints):
        return f"/etc/fstab mounts /boot from {spec}, which names no readable filesystem on this disk"
    return None


def rule_boot_unreadable(facts: GuestFacts) -> Iterable[Finding]:
    why = boot_unreadable(facts)
    if why is None:
        return
    blank = [name for name, fstype in facts.volumes if not fstype and name.startswith("partition")]
    where = (f"; {', '.join(blank)} {'holds' if len(blank) == 1 else 'hold'} no filesystem vmrescue recognises "
             "(a damaged superblock?)") if blank else ""
    yield Finding(
        "BOOT_UNREADABLE", ERROR,
        f"{why}{where}. GRUB reads its menu and the kernels from /boot, so the guest cannot boot, "
        "and vmrescue cannot see its kernels.",
        "Repair the /boot filesystem from a rescue shell (virt-rescue -a "
        f"{shlex.quote(facts.image)}): e2fsck -b 8193 on the /boot partition uses a backup superblock "
        "(mke2fs -n lists them); then run vmrescue diagnose again.")


def rule_boot_not_in_fstab(facts: GuestFacts) -> Iterable[Finding]:
    if facts.os is None or not facts.boot_is_separate:
        return
    if any(mountpoint.rstrip("/") == "/boot" for _, mountpoint, _ in facts.fstab):
        return
    yield Finding(
        "BOOT_NOT_IN_FSTAB", WARNING,
        "GRUB reads /boot from its own partition, but /etc/fstab has no /boot line, so the running "
        "system does not mount it: the next kernel update writes to the root filesystem's /boot, "
        "where GRUB never looks.",
        "Add the /boot partition to the guest's /etc/fstab (blkid shows its UUID), e.g. "
        "UUID=... /boot ext4 defaults 1 2.")


def _config_link(facts: GuestFacts):
    names = ("grub.conf", "menu.lst", "grub.cfg")
    return next((link for link in facts.boot_symlinks if link.path.rsplit("/", 1)[-1] in names), None)


def rule_boot_symlinks(facts: GuestFacts) -> Iterable[Finding]:
    entry = default_entry(facts)
    default_files = {entry.guest_kernel, entry.guest_initrd} if entry else set()
    config = _config_link(facts)
    for link in facts.boot_symlinks:
        if link.problem == "outside":
            what = (f"{link.path} is a symlink to {link.target}, outside /boot: GRUB cannot follow it, "
                    "and vmrescue neither reads nor writes through it")
        else:
            what = (f"{link.path} is an absolute symlink to {link.target}: GRUB resolves it on the /boot "
                    f"filesystem itself, where {link.target} does not exist")
        blocks = link is config or link.path in default_files
        consequence = (", so GRUB has no menu" if link is config
                       else ", so the default entry cannot load it" if blocks else "")
        yield Finding(
            "BOOT_SYMLINK", ERROR if blocks else WARNING, f"{what}{consequence}.",
            f"Replace the link with the file itself (or a relative link inside /boot) from a rescue shell: "
            f"virt-rescue -a {shlex.quote(facts.image)}, then rm {link.path} and restore the file "
            "(its package or a backup).")


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


def rule_rpmdb(facts: GuestFacts) -> Iterable[Finding]:
    if facts.rpmdb_error and facts.os is not None:
        yield Finding(
            "RPMDB_UNREADABLE", WARNING,
            f"The RPM database cannot be read ({facts.rpmdb_error}), so vmrescue cannot tell which kernels "
            "are packaged, and the guest's own rpm and yum will fail on it too.",
            "After the guest boots: cp -a /var/lib/rpm /var/lib/rpm.broken && rpm --rebuilddb; "
            "if that fails, restore /var/lib/rpm from a backup.")


def rule_bootloader_config(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    if _config_link(facts) is not None:
        return              # BOOT_SYMLINK names the config that GRUB cannot follow
    if bl.kind is None or bl.config is None:
        yield Finding(
            "NO_BOOTLOADER_CONFIG", ERROR,
            "No GRUB configuration (grub.conf, menu.lst or grub.cfg) was found in the guest, "
            "so the boot loader has no kernel to load.",
            fix_boot_action(facts),
        )


def rule_boot_entries(facts: GuestFacts) -> Iterable[Finding]:
    bl = facts.bootloader
    if bl.config is not None and not bl.entries and bl.damaged is None:
        yield Finding(
            "NO_BOOT_ENTRIES", ERROR,
            f"{bl.config} has no boot entries left (yum removes an erased kernel's entry), "
            "so GRUB stops at its prompt.",
            fix_boot_action(facts),
        )


def _fallback_clause(facts: GuestFacts) -> str:
    fb = valid_fallback(facts)
    if fb is None:
        return ""
    return f"; fallback {entry_label(fb)} can boot {entry_release(facts, fb)}"


def _grub_consequence(facts: GuestFacts, entry: BootEntry | None) -> str:
    """What GRUB 0.97 itself does, when it is GRUB that fails (not the kernel later)."""
    if facts.bootloader.kind != "grub-legacy":
        return ""
    if entry is None:
        return ' (GRUB 0.97 falls to the menu or stops with "Error 15")'
    if entry.kind in LINUX_KINDS and (not entry.kernel_exists or (entry.initrd and not entry.initrd_exists)):
        return ' (GRUB 0.97 stops with "Error 15: File not found")'
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


def _linux_entries(facts: GuestFacts) -> list[BootEntry]:
    return [e for e in facts.bootloader.entries if e.kind in LINUX_KINDS]


def rule_entry_files(facts: GuestFacts) -> Iterable[Finding]:
    for e in _linux_entries(facts):
        release = entry_file_release(e)
        action = (fix_boot_action(facts) if is_default(facts, e) or not release
                  else reinstall_action(facts, release))
        links = _link_paths(facts)      # BOOT_SYMLINK says what is wrong with those
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


def _root_spec(facts: GuestFacts) -> str:
    """How the guest itself names its root filesystem: fstab's spec for /, else the device."""
    for spec, mountpoint, _ in facts.fstab:
        if mountpoint == "/":
            return spec
    return facts.os.root if facts.os else "/dev/..."


def rule_root_device(facts: GuestFacts) -> Iterable[Finding]:
    for e in _linux_entries(facts):
        if e.root_device and e.root_resolved is None:
            yield Finding(
                "ROOT_DEVICE_UNRESOLVED", severity_for(facts, e),
                f"Boot {entry_label(e)} passes root={e.root_device}, which names no filesystem in the guest, "
                "so the kernel would panic looking for its root.",
                f"Edit {config_name(facts)} and set root={_root_spec(facts)} on that entry's kernel line.")


def _is_default_kernel(facts: GuestFacts, k: Kernel) -> bool:
    d = default_kernel_record(facts)
    return d is not None and d.uname_r == k.uname_r


def _kernel_severity(facts: GuestFacts, k: Kernel) -> Severity:
    return ERROR if _is_default_kernel(facts, k) else WARNING


def _modules_severity(facts: GuestFacts, k: Kernel) -> Severity:
    """Missing or mismatched modules block boot only when no initrd brings the root drivers."""
    entry = default_entry(facts)
    if not _is_default_kernel(facts, k) or entry is None:
        return WARNING
    return WARNING if (entry.initrd and entry.initrd_exists) else ERROR


def _kernel_action(facts: GuestFacts, k: Kernel) -> str:
    return fix_boot_action(facts) if _is_default_kernel(facts, k) else reinstall_action(facts, k.uname_r)


def rule_kernel_names(facts: GuestFacts) -> Iterable[Finding]:
    for k in facts.kernels:
        v = k.vmlinuz
        if v is not None and v.embedded_release and v.embedded_release != v.name_release:
            yield Finding(
                "KERNEL_NAME_MISMATCH", _modules_severity(facts, k),
                f"{v.path} is really kernel {v.embedded_release} (from its header), "
                f"so it was renamed or copied and will look for /lib/modules/{v.embedded_release}.",
                _kernel_action(facts, k))


def rule_modules(facts: GuestFacts) -> Iterable[Finding]:
    for k in facts.kernels:
        release = booted_release(k)
        if release is None or has_modules_tree(facts, release):
            continue
        leftovers = kernel_named(facts, release)
        why = ("holds only third-party leftovers (no kernel/ tree)"
               if leftovers is not None and leftovers.modules is not None else "does not exist")
        yield Finding(
            "MODULES_MISSING", _modules_severity(facts, k),
            f"Kernel {release} has {k.vmlinuz.path} but /lib/modules/{release} {why}, "
            "so it cannot load its drivers (typical of a kernel copied without its modules).",
            _kernel_action(facts, k))


def _initrds_reported_by_entries(facts: GuestFacts) -> set[str]:
    """Kernels whose missing initrd an entry rule already named."""
    return {k.uname_r for e in _linux_entries(facts)
            if e.initrd and not e.initrd_exists and (k := kernel_of_entry(facts, e))}


def rule_initrds(facts: GuestFacts) -> Iterable[Finding]:
    reported = _initrds_reported_by_entries(facts)
    entry = default_entry(facts)
    k = kernel_of_entry(facts, entry) if entry else None
    if entry is not None and k is not None and not entry.initrd and needs_initrd(facts):
        yield Finding(
            "INITRD_MISSING", ERROR,
            f"The default {entry_label(entry)} boots {booted_release(k)} without an initrd line"
            + (f" although {k.initrd.path} exists" if k.initrd else "")
            + ", and this kernel cannot mount its root filesystem without one.",
            (f"Add 'initrd {grub_path(facts, k.initrd.path)}' to that entry in {config_name(facts)}." if k.initrd
             else fix_boot_action(facts)))
        reported.add(k.uname_r)
    for k in facts.kernels:
        if k.vmlinuz is not None and k.initrd is None and needs_initrd(facts) and k.uname_r not in reported:
            yield Finding(
                "INITRD_MISSING", WARNING,
                f"Kernel {k.uname_r} has no initrd in /boot, so it cannot mount its root filesystem.",
                reinstall_action(facts, k.uname_r))


def rule_rpm_files_missing(facts: GuestFacts) -> Iterable[Finding]:
    links = _link_paths(facts)
    for k in facts.kernels:
        if k.rpm is not None and k.vmlinuz is None and f"/boot/vmlinuz-{k.uname_r}" not in links:
            yield Finding(
                "RPM_KERNEL_FILES_MISSING", WARNING,
                f"The RPM database lists {k.rpm.nvra} but /boot/vmlinuz-{k.uname_r} is gone.",
                reinstall_action(facts, k.uname_r))


def _rpmdb_unread(facts: GuestFacts) -> bool:
    # without the database every kernel would look copied
    return not facts.rpmdb_read


def rule_not_in_rpmdb(facts: GuestFacts) -> Iterable[Finding]:
    if facts.os is None or facts.os.package_format != "rpm" or _rpmdb_unread(facts):
        return
    for k in facts.kernels:
        if k.vmlinuz is not None and k.rpm is None:
            yield Finding(
                "KERNEL_FILES_NOT_IN_RPMDB", WARNING,
                f"{k.vmlinuz.path} belongs to no package in the RPM database, "
                "so it was copied in by hand (yum will neither update nor remove it).",
                reinstall_action(facts, k.uname_r))


def _loads_anyway(m: ThirdPartyModule, release: str) -> bool:
    """weak-updates holds kABI-compatible modules linked in for this very kernel."""
    return "/weak-updates/" in m.path and m.installed_under == f"/lib/modules/{release}"


def _third_party_consequence(names: list[str]) -> str:
    nic = [n for n in names if n in NIC_MODULES]
    if nic:
        return f"so they will not load and the {nic[0]} network interface will not come up"
    return "so they will not load"


def rule_third_party(facts: GuestFacts) -> Iterable[Finding]:
    target = default_kernel(facts)
    severity, against = WARNING, "the default entry boots"
    if target is None:
        rec = recommend_kernel(facts)
        target, severity, against = (rec.uname_r if rec else None), INFO, "the recommended kernel is"
    if target is None:
        return
    for built_for, mods in third_party_by_vermagic(facts).items():
        mods = [m for m in mods if built_for != target and not _loads_anyway(m, target)]
        if not mods:
            continue
        names = module_names(mods)
        where = ", ".join(dict.fromkeys(m.installed_under for m in mods))
        yield Finding(
            "THIRD_PARTY_MODULES_MISMATCH", severity,
            f"The third-party modules {', '.join(names)} (under {where}) were built for {built_for}, "
            f"but {against} {target}, "
            f"{_third_party_consequence(names)}.",
            _third_party_action(facts, built_for, target))


def _third_party_action(facts: GuestFacts, built_for: str, target: str) -> str:
    rec = recommend_kernel(facts)
    if rec is not None and rec.uname_r == built_for:
        return fix_boot_action(facts)
    return f"After booting {target}, rebuild VMware Tools for it: vmware-config-tools.pl -d"


def rule_erased(facts: GuestFacts) -> Iterable[Finding]:
    rec = recommend_kernel(facts)
    for erased in erased_kernels(facts):
        if erased.uname_r is None:
            bootable = is_bootable(facts)
            yield Finding(
                "KERNEL_ERASED_BY_UPDATE", INFO if bootable else WARNING,
                f"yum.log shows a {erased.name} package erased on {erased.when}, without the version.",
                "None needed while the guest boots." if bootable else fix_boot_action(facts))
            continue
        if not files_gone(facts, erased.uname_r):
            continue
        wanted = rec is not None and rec.uname_r == erased.uname_r
        yield Finding(
            "KERNEL_ERASED_BY_UPDATE", WARNING if wanted else INFO,
            f"yum.log shows {erased.logged} erased on {erased.when}, and kernel {erased.uname_r} "
            "is no longer in /boot.",
            fix_boot_action(facts) if wanted
            else "None needed unless you want this kernel back (yum removes kernels past installonly_limit).")


def _kernels_excluded(excludes: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase("kernel", x.strip()) for x in excludes)


def rule_centosplus(facts: GuestFacts) -> Iterable[Finding]:
    yum = facts.yum
    if _kernels_excluded(yum.excludes):
        return
    for repo in yum.repos:
        if not (repo.enabled and "centosplus" in repo.repo_id.lower()):
            continue
        if _kernels_excluded(repo.excludes):
            continue
        if yum.priorities_plugin_enabled and repo.priority is not None:
            continue
        why = ("the priorities plugin is not enabled" if not yum.priorities_plugin_enabled
               else f"[{repo.repo_id}] sets no priority")
        yield Finding(
            "CENTOSPLUS_WITHOUT_PRIORITIES", WARNING,
            f"The {repo.repo_id} repository is enabled in {repo.file} and {why}, "
            "so yum update replaces base packages, the kernel included, with centosplus builds.",
            f"yum install {_priorities_package(facts)}, then set priority=1 on [base] and [updates] and "
            f"priority=2 on [{repo.repo_id}] in {repo.file} (or add exclude=kernel* to [{repo.repo_id}]).")


def _priorities_package(facts: GuestFacts) -> str:
    return "yum-priorities" if facts.os is not None and facts.os.major <= 5 else "yum-plugin-priorities"


RULES: tuple[Rule, ...] = (
    rule_in_use,
    rule_boot_symlinks,
    rule_bootloader_config,
    rule_bootloader_damaged,
    rule_bootloader_size,
    rule_boot_entries,
    rule_default_entry,
    rule_entry_files,
    rule_root_device,
    rule_kernel_names,
    rule_modules,
    rule_initrds,
    rule_rpm_files_missing,
    rule_not_in_rpmdb,
    rule_third_party,
    rule_erased,
    rule_centosplus,
    rule_boot_not_in_fstab,
    rule_titles,
    rule_rpmdb,
)

# What diagnose finds that makes vmrescue refuse to write at all: a running VM,
# a /boot it cannot read, links under /boot that a write would go through.
REPAIR_BLOCKERS = ("IMAGE_IN_USE", "BOOT_UNREADABLE", "BOOT_SYMLINK")


def repair_blocker(diagnosis: Diagnosis) -> Finding | None:
    """The finding that makes a repair unsafe, or None."""
    return next((f for f in diagnosis.findings if f.code in REPAIR_BLOCKERS), None)


LARGE_CONFIG = 1024 * 1024          # bytes; vmrescue reads no more of a boot loader configuration
MAX_FINDINGS_PER_CODE = 10          # a hostile menu of thousands of entries gives one line each


def cap_findings(findings: Iterable[Finding], limit: int = MAX_FINDINGS_PER_CODE) -> tuple[Finding, ...]:
    """At most `limit` findings of each code, then one saying how many more there were."""
    kept: list[Finding] = []
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.code] = counts.get(f.code, 0) + 1
        if counts[f.code] <= limit:
            kept.append(f)
    for code, n in counts.items():
        if n > limit:
            kept.append(Finding(code, INFO, f"There are {n - limit} more {code} findings like the ones above.",
                                "See the report's bootloader entries (--json) for all of them."))
    return tuple(kept)


def diagnose(facts: GuestFacts) -> Diagnosis:
    if facts.os is None:
        return Diagnosis(facts, (*rule_in_use(facts), *rule_no_os(facts)), bootable=False,
                         recommended_kernel=None)
    if boot_unreadable(facts):
        # Every rule about kernels and menus would judge an empty /boot.
        return Diagnosis(facts, (*rule_in_use(facts), *rule_boot_unreadable(facts)), bootable=False,
                         recommended_kernel=None)
    findings = cap_findings(f for rule in RULES for f in rule(facts))
    return Diagnosis(
        facts=facts,
        findings=findings,
        bootable=is_bootable(facts),
        recommended_kernel=recommend_kernel(facts),
        default_kernel=default_kernel(facts),
    )

"""The next step a finding names: the command or edit that fixes it. Pure."""
from __future__ import annotations

import shlex

from rescue import bootloader
from rescue.diagnose.rules.evidence import recommend_kernel
from rescue.diagnose.rules.facts import entries_booting, entry_can_boot, is_default
from rescue.distro import family_for
from rescue.model import BootEntry, GuestFacts, Severity

ERROR, WARNING = Severity.ERROR, Severity.WARNING
RPMS_DIR_PLACEHOLDER = "DIR-WITH-RPMS"


def reinstall_action(facts: GuestFacts, release: str) -> str:
    if facts.os is not None and family_for(facts.os) is None:
        which = ("RPM-based guests" if facts.os.package_format != "rpm"
                 else "Red Hat-family guests (RHEL, CentOS, Rocky, AlmaLinux, Oracle Linux, Fedora)")
        return (f"Reinstall kernel {release} with the guest's own package manager from a rescue shell "
                f"(virt-rescue -a {shlex.quote(facts.image)}); vmrescue reinstall-kernel repairs {which} only.")
    return (f"vmrescue reinstall-kernel {shlex.quote(facts.image)} --kernel {release} "
            f"--from {RPMS_DIR_PLACEHOLDER}")


def fix_boot_action(facts: GuestFacts) -> str:
    """The one step that gets the guest booting the kernel it should."""
    rec = recommend_kernel(facts)
    if rec is None:
        return reinstall_action(facts, "RELEASE") + " (with the release of a kernel package you have)"
    for e in entries_booting(facts, rec.uname_r):
        if entry_can_boot(facts, e) and not is_default(facts, e):
            return f"{set_default_hint(facts, e)} ({entry_label(e)} boots {rec.uname_r})."
    return reinstall_action(facts, rec.uname_r)


def set_default_hint(facts: GuestFacts, entry: BootEntry) -> str:
    kind = bootloader.kind_named(facts.bootloader.kind)
    if kind is None or facts.bootloader.config is None:
        return f"Set default={entry.index} in {config_name(facts)}"
    return kind(facts.bootloader.config).set_default_hint(entry.index, entry.id)


def entry_label(entry: BootEntry) -> str:
    where = f", {entry.source}" if entry.source else ""
    return f"entry {entry.index} ('{entry.title}'{where})"


def severity_for(facts: GuestFacts, entry: BootEntry) -> Severity:
    return ERROR if is_default(facts, entry) else WARNING


def grub_path(facts: GuestFacts, guest_path: str) -> str:
    """A /boot file as GRUB names it: relative to the /boot filesystem when that is separate."""
    if facts.boot_is_separate and guest_path.startswith("/boot/"):
        return guest_path[len("/boot"):]
    return guest_path


def config_name(facts: GuestFacts) -> str:
    return facts.bootloader.config or "the boot loader configuration"


def root_spec(facts: GuestFacts) -> str:
    """How the guest itself names its root filesystem: fstab's spec for /, else the device."""
    for spec, mountpoint, _ in facts.fstab:
        if mountpoint == "/":
            return spec
    return facts.os.root if facts.os else "/dev/..."

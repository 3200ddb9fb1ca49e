"""What is wrong with a guest's boot, and which kernel it should boot.

Pure: `diagnose(facts)` runs a list of small rules over `GuestFacts`, each
yielding `Finding`s, then decides the verdict (`bootable`), the kernel the
default entry boots and the kernel to reinstall. No I/O; tests build facts
by hand. The rules are grouped by what they look at: `guest` (the image and
the guest as a whole), `boot` (the boot loader's configuration and entries),
`grub2` (grubenv, saved_entry, kernelopts, BLS entries), `firmware` (BIOS boot code, the ESP),
`kernels`, `updates` (yum); past the kernel's files, `disk` (boot code,
partition table), `bootpath` (config files, command line, initrd, init) and
`system` (SELinux, fstab, LVM, /boot's room), whose errors stop the boot too;
`facts` holds the look-ups they share, `evidence`
chooses the kernel to recommend, `actions` words the next steps.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from rescue.diagnose.rules.bootpath import (
    rule_cmdline, rule_config_dangling, rule_config_renamed, rule_entry_near_miss, rule_init, rule_initrd_image,
    rule_initrd_line,
)
from rescue.diagnose.rules.disk import (
    rule_boot_code, rule_next_stage, rule_partition_missing, rule_partition_truncated, rule_stage2,
)
from rescue.diagnose.rules.system import rule_boot_space, rule_devices_file, rule_fstab, rule_lvm_filter, rule_selinux
from rescue.diagnose.rules.boot import (
    rule_boot_entries, rule_bootloader_config, rule_bootloader_damaged, rule_bootloader_size, rule_default_entry,
    rule_entry_files, rule_root_device, rule_titles,
)
from rescue.diagnose.rules.evidence import needs_repair, recommend_kernel
from rescue.diagnose.rules.facts import default_kernel, is_bootable
from rescue.diagnose.rules.firmware import firmware_blocker, rule_efi_stub, rule_esp, rule_firmware_setting
from rescue.diagnose.rules.grub2 import (
    rule_bls_files, rule_bls_not_in_menu, rule_foreign_machine_id, rule_grub_default, rule_grubenv, rule_kernel_without_entry,
    rule_kernelopts, rule_saved_entry,
)
from rescue.diagnose.rules.guest import (
    boot_unreadable, rule_boot_not_in_fstab, rule_boot_symlinks, rule_boot_unreadable, rule_in_use, rule_no_os,
    rule_rpmdb,
)
from rescue.diagnose.rules.kernels import (
    rule_initrds, rule_kernel_names, rule_modules, rule_not_in_rpmdb, rule_rpm_files_missing, rule_third_party,
)
from rescue.diagnose.rules.updates import rule_centosplus, rule_erased
from rescue.model import Diagnosis, Finding, GuestFacts, Severity

__all__ = ["BOOTPATH_RULES", "DISK_RULES", "RULES", "Rule", "cap_findings", "diagnose", "needs_repair", "repair_blocker"]

Rule = Callable[[GuestFacts], Iterable[Finding]]
INFO = Severity.INFO


RULES: tuple[Rule, ...] = (
    rule_in_use,
    rule_firmware_setting,
    rule_esp,
    rule_efi_stub,
    rule_boot_symlinks,
    rule_bootloader_config,
    rule_bootloader_damaged,
    rule_bootloader_size,
    rule_boot_entries,
    rule_default_entry,
    rule_entry_files,
    rule_root_device,
    rule_saved_entry,
    rule_kernelopts,
    rule_grubenv,
    rule_foreign_machine_id,
    rule_grub_default,
    rule_bls_not_in_menu,
    rule_bls_files,
    rule_kernel_names,
    rule_modules,
    rule_initrds,
    rule_rpm_files_missing,
    rule_not_in_rpmdb,
    rule_kernel_without_entry,
    rule_third_party,
    rule_erased,
    rule_centosplus,
    rule_boot_not_in_fstab,
    rule_titles,
    rule_rpmdb,
)

# The disk below the filesystems: judged whether or not a Linux root was found.
DISK_RULES: tuple[Rule, ...] = (
    rule_boot_code, rule_next_stage, rule_stage2, rule_partition_missing, rule_partition_truncated,
)

# The rest of the boot path; an error here stops the boot as surely as a missing kernel.
BOOTPATH_RULES: tuple[Rule, ...] = DISK_RULES + (
    rule_config_renamed, rule_config_dangling, rule_entry_near_miss, rule_cmdline, rule_initrd_line,
    rule_initrd_image, rule_init, rule_selinux, rule_fstab, rule_lvm_filter, rule_devices_file, rule_boot_space,
)


# What diagnose finds that makes vmrescue refuse to write at all: a running VM,
# a /boot it cannot read, links under /boot that a write would go through.
REPAIR_BLOCKERS = ("IMAGE_IN_USE", "BOOT_UNREADABLE", "BOOT_SYMLINK")


def repair_blocker(diagnosis: Diagnosis) -> Finding | None:
    """The finding that makes a repair unsafe, or None."""
    return next((f for f in diagnosis.findings if f.code in REPAIR_BLOCKERS), None)


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
    disk = [f for rule in DISK_RULES for f in rule(facts)]
    if facts.os is None:
        return Diagnosis(facts, (*rule_in_use(facts), *rule_no_os(facts), *disk), bootable=False,
                         recommended_kernel=None)
    if boot_unreadable(facts):
        # Every rule about kernels and menus would judge an empty /boot.
        return Diagnosis(facts, (*rule_in_use(facts), *rule_boot_unreadable(facts), *disk), bootable=False,
                         recommended_kernel=None)
    path = [f for rule in BOOTPATH_RULES for f in rule(facts)]
    findings = cap_findings([*(f for rule in RULES for f in rule(facts)), *path])
    return Diagnosis(
        facts=facts,
        findings=findings,
        bootable=(is_bootable(facts) and firmware_blocker(facts) is None
                  and not any(f.severity is Severity.ERROR for f in path)),
        recommended_kernel=recommend_kernel(facts),
        default_kernel=default_kernel(facts),
    )

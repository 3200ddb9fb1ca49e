"""Rules about the kernels themselves: names, modules, initrds, packages, third-party modules. Pure."""
from __future__ import annotations

from collections.abc import Iterable

from rescue.diagnose.rules.actions import entry_label, fix_boot_action, grub_path, config_name, reinstall_action
from rescue.diagnose.rules.evidence import module_names, recommend_kernel, third_party_by_vermagic
from rescue.diagnose.rules.facts import (
    default_entry, default_kernel, default_kernel_record, has_modules_tree, kernel_named, kernel_of_entry,
    link_paths, linux_entries, needs_initrd,
)
from rescue.kernel.inventory import booted_release
from rescue.model import Finding, GuestFacts, Kernel, Severity, ThirdPartyModule

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
NIC_MODULES = ("vmxnet", "vmxnet3")


def _is_default_kernel(facts: GuestFacts, k: Kernel) -> bool:
    d = default_kernel_record(facts)
    return d is not None and d.uname_r == k.uname_r


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
    return {k.uname_r for e in linux_entries(facts)
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
    links = link_paths(facts)
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

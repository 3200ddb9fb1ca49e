"""Rules about what the booted system reads first: SELinux, fstab, LVM's device selection, /boot's room. Pure.

These are findings with the exact command to run, never repairs: each fix
needs the operator's judgement (a mount to drop, a filter to widen).
"""
from __future__ import annotations

import shlex
from collections.abc import Iterable

from rescue.diagnose.rules.facts import default_entry
from rescue.guest import lvmconf, selinux
from rescue.model import BootPathFacts, Evidence, Finding, GuestFacts, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
SELINUX_CONFIG = "/etc/selinux/config"
# fstab types that are not a local block device the boot waits for
NOT_LOCAL = {"proc", "sysfs", "devpts", "tmpfs", "devtmpfs", "nfs", "nfs4", "cifs", "smbfs", "iso9660", "udf",
             "auto", "none", "ignore", "autofs", "fuse", "usbfs", "binfmt_misc", "securityfs", "debugfs", "cgroup",
             "hugetlbfs", "mqueue", "rpc_pipefs", "glusterfs", "ceph", "fuse.sshfs"}
MARGIN = 1.3                         # the new initrd is written before the old kernel goes; sizes vary
INODES_PER_KERNEL = 16


def _bp(facts: GuestFacts) -> BootPathFacts | None:
    return facts.bootpath if facts.os is not None else None


def _shell(facts: GuestFacts) -> str:
    return f"from a rescue shell (virt-rescue -a {shlex.quote(facts.image)})"


# --- SELinux ---------------------------------------------------------------------------------

def rule_selinux(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None or bp.selinux is None:
        return
    s = bp.selinux
    entry = default_entry(facts)
    args = entry.kernel_args if entry else ""
    config = selinux.SelinuxConfig(s.mode, s.mode_value, s.mode_line, s.policy_type, s.type_line)
    mode = selinux.effective_mode(config, args)
    if s.mode_value is not None and s.mode is None:
        yield Finding(
            "SELINUX_CONFIG_INVALID", WARNING,
            f"{SELINUX_CONFIG} says SELINUX={s.mode_value}, which is none of enforcing, permissive and disabled: "
            "libselinux ignores it and the system boots permissive, not as the file meant.",
            f"Set SELINUX=enforcing (or permissive, or disabled) on line {s.mode_line} of {SELINUX_CONFIG} "
            f"{_shell(facts)}: sed -i 's/^SELINUX=.*/SELINUX=enforcing/' {SELINUX_CONFIG}",
            (Evidence(SELINUX_CONFIG, s.mode_line, f"SELINUX={s.mode_value}"),))
    if mode == "disabled" or s.policies:
        if s.autorelabel and mode != "disabled":
            yield _relabel(facts)
        return
    where = f"/etc/selinux/{s.policy_type}/policy/"
    evidence = (Evidence(SELINUX_CONFIG, s.type_line, f"SELINUXTYPE={s.policy_type}"),
                Evidence(where, None, "no policy.N file"))
    if mode == "enforcing":
        yield Finding(
            "SELINUX_POLICY_MISSING", ERROR,
            f"SELinux is enforcing but {where} holds no loadable policy (SELINUXTYPE={s.policy_type}): init halts "
            "(\"Unable to load SELinux Policy. Machine is in enforcing mode. Halting now.\" on EL5/EL6, "
            "\"Failed to load SELinux policy\" and a freeze on EL7+).",
            f"Reinstall selinux-policy-{s.policy_type} {_shell(facts)}, or boot once with enforcing=0 "
            f"and run: yum reinstall selinux-policy-{s.policy_type}; if SELINUXTYPE is a typo, fix line "
            f"{s.type_line or '?'} of {SELINUX_CONFIG}.", evidence)
    else:
        yield Finding(
            "SELINUX_POLICY_MISSING", WARNING,
            f"SELinux is {mode} but {where} holds no loadable policy (SELINUXTYPE={s.policy_type}): the system "
            "boots without a policy, and would halt once switched to enforcing.",
            f"Reinstall selinux-policy-{s.policy_type} after the guest boots, or fix SELINUXTYPE in {SELINUX_CONFIG}.",
            evidence)


def _relabel(facts: GuestFacts) -> Finding:
    return Finding("SELINUX_RELABEL_PENDING", INFO,
                   "/.autorelabel is there: the next boot relabels every file and reboots once more, which takes "
                   "minutes on a large filesystem (not a hang).", "None needed; let the relabel finish.",
                   (Evidence("/.autorelabel", None, "present"),))


# --- fstab --------------------------------------------------------------------------------------

def rule_fstab(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None:
        return
    systemd = facts.os.major >= 7
    for row in bp.fstab:
        options = row.options.split(",")
        if row.found or row.fstype in NOT_LOCAL or "noauto" in options or "nofail" in options \
                or "_netdev" in options or row.mountpoint.rstrip("/") == "/boot":
            continue          # /boot unreadable is BOOT_UNREADABLE's, the only finding then
        swap = row.fstype == "swap"
        if systemd:
            blocks = not swap
            what = ("systemd waits 90 s for the device, then \"Dependency failed for Local File Systems\" "
                    "drops the boot into emergency mode" if blocks else
                    "systemd waits 90 s for the device and boots without it")
        else:
            blocks = row.passno > 0 and not swap
            what = ("rc.sysinit's fsck cannot open it and stops in \"Give root password for maintenance\""
                    if blocks else "its mount fails ([FAILED]) and the boot goes on")
        yield Finding(
            "FSTAB_DEVICE_MISSING", ERROR if blocks else WARNING,
            f"/etc/fstab line {row.line} mounts {row.mountpoint} from {row.spec}, which names no device of this "
            f"disk, without nofail: {what}.",
            f"Edit line {row.line} of /etc/fstab {_shell(facts)}: correct {row.spec} (blkid lists the devices), "
            f"or add nofail to its options ({row.options or 'defaults'},nofail) if the device may be absent.",
            (Evidence("/etc/fstab", row.line, f"{row.spec} {row.mountpoint} {row.fstype} {row.options}"),))


# --- LVM --------------------------------------------------------------------------------------------

def root_pv_names(facts: GuestFacts) -> list[str] | None:
    """Every name the guest's LVM may see the root PV by: the partition under each disk driver's naming,
    and udev's by-id link. None when the root is not on a PV of this disk."""
    bp = _bp(facts)
    if bp is None or bp.disk is None or facts.os is None or facts.os.root.count("/") != 3:
        return None
    vg = facts.os.root.split("/")[2]
    pv = next((p for p in bp.disk.partitions if p.holds == "LVM2_member" and p.vg == vg), None)
    if pv is None:
        return None
    names = [f"/dev/{disk}{pv.number}" for disk in ("sda", "vda", "hda", "xvda")]
    if pv.uuid:
        names.append(f"/dev/disk/by-id/lvm-pv-uuid-{pv.uuid}")
    return names


def rule_lvm_filter(facts: GuestFacts) -> Iterable[Finding]:
    bp, names = _bp(facts), root_pv_names(facts)
    if bp is None or names is None:
        return
    initrd = bp.initrd
    for where, text in (("the initrd's etc/lvm/lvm.conf", initrd.lvm_conf if initrd else None),
                        ("/etc/lvm/lvm.conf", bp.lvm_conf)):
        if not text:
            continue
        settings = lvmconf.parse_lvm_conf(text)
        hit = lvmconf.rejecting(settings, names)
        if hit is None:
            continue
        key, setting = hit
        in_initrd = where.startswith("the initrd")
        path = f"{initrd.path}:etc/lvm/lvm.conf" if in_initrd else "/etc/lvm/lvm.conf"
        pattern = " ".join(f'"{p}"' for p in setting.value)
        yield Finding(
            "LVM_FILTER_REJECTS_ROOT", ERROR if in_initrd else WARNING,
            f"{key} in {where} rejects the root's PV under every name it may have ({', '.join(names[:2])}, ...): "
            + ("the initrd's LVM never sees it, so the root LV never appears and dracut gives up."
               if in_initrd else "LVM in the running system ignores it (LVs the initrd did not start stay down), "
                                 "and the next dracut copies this lvm.conf into the initrd."),
            f"Widen the {key} on line {setting.line} of {'/etc/lvm/lvm.conf' if not in_initrd else 'the guest’s /etc/lvm/lvm.conf'} "
            f"{_shell(facts)} (e.g. {key} = [ \"a|.*|\" ]), then rebuild the initrd: dracut -f"
            + (f" (vmrescue repair {shlex.quote(facts.image)} --fix rebuild-initrd)" if in_initrd else ""),
            (Evidence(path, setting.line, f"{key} = [ {pattern} ]"),))


def rule_devices_file(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None or bp.disk is None or facts.os is None or facts.os.root.count("/") != 3:
        return
    vg = facts.os.root.split("/")[2]
    pv = next((p for p in bp.disk.partitions if p.holds == "LVM2_member" and p.vg == vg), None)
    if pv is None or not pv.uuid:
        return
    settings = lvmconf.parse_lvm_conf(bp.lvm_conf or "")
    if not lvmconf.use_devicesfile(settings, bp.devices_file_default):
        return
    pvid = pv.uuid.replace("-", "")
    for where, text in (("initrd", bp.initrd.devices_file if bp.initrd else None), ("etc", bp.devices_file)):
        if text is None:
            continue
        listed = lvmconf.devices_file_pvids(text)
        if any(p == pvid for p, _ in listed):
            continue
        in_initrd = where == "initrd"
        path = (f"{bp.initrd.path}:etc/lvm/devices/system.devices" if in_initrd
                else "/etc/lvm/devices/system.devices")
        yield Finding(
            "LVM_DEVICES_FILE_STALE", ERROR if in_initrd else WARNING,
            f"{path} lists {len(listed)} device(s), not the root's PV (partition {pv.number}, PVID {pvid}): "
            "LVM uses only the devices it lists (the classic state after cloning or moving a disk), so "
            + ("the initrd never activates the root LV." if in_initrd else
               "LVs the initrd did not activate (swap, data volumes) stay down and their mounts fail."),
            f"Recreate the devices file {_shell(facts)}: rm /etc/lvm/devices/system.devices; vgimportdevices {vg}"
            + ("; then dracut -f" if in_initrd else ""),
            (Evidence(path, None, f"no PVID={pvid}"),))
        return


# --- /boot's room ---------------------------------------------------------------------------

def rule_boot_space(facts: GuestFacts) -> Iterable[Finding]:
    bp = _bp(facts)
    if bp is None or bp.boot_space is None or not bp.kernel_bytes:
        return
    free, free_inodes, total, inodes = bp.boot_space
    need = int(bp.kernel_bytes * MARGIN)
    if free >= need and free_inodes >= INODES_PER_KERNEL:
        return
    mib = 1 << 20
    yield Finding(
        "BOOT_FULL", WARNING,
        f"/boot has {free // mib} MiB and {free_inodes} inodes free of {total // mib} MiB and {inodes}; one more "
        f"kernel needs about {need // mib} MiB (the largest installed takes {bp.kernel_bytes // mib} MiB, plus "
        f"{int((MARGIN - 1) * 100)}% for the initrd built before the old kernel goes): the next kernel update "
        "fails, or leaves a truncated initrd.",
        "After the guest boots, remove old kernels (package-cleanup --oldkernels --count=2, or dnf remove "
        "--oldinstallonly) and set installonly_limit=2 in yum.conf/dnf.conf; or grow /boot.",
        (Evidence("/boot", None, f"{free} bytes, {free_inodes} inodes free; about {need} bytes needed"),))

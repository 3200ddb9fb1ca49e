"""Rules about the disk below the filesystems: boot code, what it loads, the partition table. Pure.

They judge `BootPathFacts.disk` (rescue.diagnose.diskread) and run for every
image, a guest whose root partition is gone included.
"""
from __future__ import annotations

import shlex
from collections.abc import Iterable

from rescue import bootloader
from rescue.model import DiskFacts, DiskPartition, Evidence, Finding, GuestFacts, Severity, StrayVolume

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
SECTOR = 512
FOREIGN = {"syslinux": ("/boot/extlinux", "/boot/syslinux", "/boot/extlinux.conf"),
           "syslinux (GPT)": ("/boot/extlinux", "/boot/syslinux"), "LILO": ("/etc/lilo.conf",)}
LOADER_NAMES = {"grub-legacy": "GRUB legacy (0.9x) stage1", "grub2": "GRUB 2's boot.img", "syslinux": "syslinux's MBR",
                "syslinux (GPT)": "syslinux's GPT MBR", "Windows/DOS": "a Windows/DOS MBR", "LILO": "LILO",
                "none": "no boot code (440 zero bytes)", "unknown": "boot code vmrescue does not recognise"}


def _disk(facts: GuestFacts) -> DiskFacts | None:
    return facts.bootpath.disk if facts.bootpath else None


def _rescue_shell(facts: GuestFacts) -> str:
    return f"from a rescue shell (virt-rescue -a {shlex.quote(facts.image)})"


def install_command(facts: GuestFacts) -> str:
    kind = bootloader.kind_named(facts.bootloader.kind)
    if kind is None:
        return "grub2-install /dev/sda (GRUB 2) or grub-install /dev/sda (GRUB legacy)"
    return kind.install_command


def _mbr(disk: DiskFacts, value: str) -> Evidence:
    return Evidence("MBR (sector 0)", None, value)


def _firmware_judges_the_mbr(facts: GuestFacts) -> bool:
    """rules/firmware.py speaks for the MBR: UEFI starts the guest (its MBR is GPT's protective
    one, boot code or not), or the .vmx sets BIOS and the MBR is empty (BIOS_BOOT_CODE_MISSING)."""
    fw = facts.firmware
    if fw is None:
        return False
    return (fw.needs == "uefi" and fw.vmx_firmware != "bios") or (fw.vmx_firmware == "bios" and not fw.bios_code)


def rule_boot_code(facts: GuestFacts) -> Iterable[Finding]:
    disk = _disk(facts)
    # Without an OS there is nothing for boot code to start: NO_OS says what matters (a data disk).
    if disk is None or facts.os is None or _firmware_judges_the_mbr(facts):
        return
    name = LOADER_NAMES.get(disk.loader, disk.loader)
    fix = f"Reinstall the boot loader {_rescue_shell(facts)}: {install_command(facts)}"
    if not disk.signature:
        yield Finding("MBR_SIGNATURE_MISSING", ERROR,
                      "Sector 0 lacks the 55 AA boot signature, so the BIOS does not boot this disk "
                      "(SeaBIOS: \"Boot failed: not a bootable disk\").", fix,
                      (_mbr(disk, "bytes 0x1FE-0x1FF are not 55 AA"),))
    if disk.loader == "none":
        yield Finding("MBR_BOOT_CODE_MISSING", ERROR,
                      "The MBR's boot code (its first 440 bytes) is all zeros: the BIOS jumps into it and nothing "
                      "runs (\"Booting from Hard Disk...\", then silence).", fix, (_mbr(disk, "440 zero bytes"),))
        return
    expected = bootloader.kind_named(facts.bootloader.kind)
    foreign_files = FOREIGN.get(disk.loader)
    if disk.loader == "Windows/DOS" or (foreign_files is not None and not any(
            f.startswith(foreign_files) for f in (facts.bootpath.boot_files if facts.bootpath else ()))):
        yield Finding("MBR_BOOT_CODE_FOREIGN", ERROR,
                      f"The MBR holds {name}, but the guest boots through "
                      f"{'GRUB' if expected else 'a boot loader'} and has no configuration for that loader, "
                      "so the BIOS runs code that cannot find the guest's kernel.", fix, (_mbr(disk, name),))
        return
    if disk.loader == "unknown":
        yield Finding("MBR_BOOT_CODE_UNKNOWN", WARNING,
                      "The MBR holds boot code that is neither GRUB, syslinux nor a Windows/DOS MBR: if the guest "
                      "does not boot, this is where it stops.", fix, (_mbr(disk, "unrecognised code"),))
        return
    if expected is not None and disk.loader in ("grub-legacy", "grub2") and disk.loader != expected.mbr_loader:
        yield Finding("MBR_BOOT_CODE_FOREIGN", ERROR,
                      f"The MBR holds {name}, but the guest is configured for {facts.bootloader.kind} "
                      f"({facts.bootloader.config}): the boot code of one GRUB cannot load the other.", fix,
                      (_mbr(disk, name),))
        return
    where = f", which loads its {disk.next_stage} from sector {disk.next_sector}" if disk.next_stage else ""
    yield Finding("MBR_BOOT_CODE", INFO, f"The MBR holds {name}{where}.", "None needed.", (_mbr(disk, name),))


def rule_next_stage(facts: GuestFacts) -> Iterable[Finding]:
    disk = _disk(facts)
    if disk is None or disk.problem is None or disk.loader not in ("grub-legacy", "grub2"):
        return
    fix = f"Reinstall the boot loader {_rescue_shell(facts)}: {install_command(facts)}"
    where = Evidence(f"sector {disk.next_sector}", None, disk.found or "")
    if disk.loader == "grub2" and disk.table == "gpt" and not disk.bios_boot:
        yield Finding("BIOS_BOOT_PARTITION_MISSING", ERROR,
                      f"The disk has a GPT table and GRUB 2's boot.img loads core.img from sector {disk.next_sector}, "
                      "but the table has no BIOS boot partition (type 21686148-6449-6E6F-744E-656564454649) where "
                      f"core.img would live, and {disk.problem}.",
                      "Create a 1 MiB BIOS boot partition (sgdisk -n 0:34:2047 -t 0:ef02 /dev/sda, if sectors "
                      f"34-2047 are free), then {install_command(facts)} {_rescue_shell(facts)}.", (where,))
        return
    if disk.loader == "grub2":
        yield Finding("GRUB2_CORE_MISSING", ERROR,
                      f"GRUB 2's boot.img in the MBR loads core.img from sector {disk.next_sector}, but {disk.problem} "
                      "(the gap after the MBR was overwritten?), so the boot stops after \"GRUB \".", fix, (where,))
        return
    yield Finding("GRUB_STAGE_MISSING", ERROR,
                  f"GRUB legacy's stage1 in the MBR loads its {disk.next_stage} from sector {disk.next_sector}, but "
                  f"{disk.problem} (the gap after the MBR was overwritten, or stage2 moved since setup), so the boot "
                  "stops with \"GRUB \" or a \"Read Error\".", fix, (where,))


def rule_stage2(facts: GuestFacts) -> Iterable[Finding]:
    bp, disk = facts.bootpath, _disk(facts)
    if bp is None or bp.stage2 is None:
        return
    path, problem = bp.stage2
    in_use = disk is not None and disk.loader == "grub-legacy"
    yield Finding("GRUB_STAGE2_DAMAGED", ERROR if in_use else INFO,
                  f"{path} {problem}" + (", so GRUB stops with \"Error 6: Mismatched or corrupt version of "
                                          "stage1/stage2\" (or hangs) before its menu." if in_use else
                                          "; the MBR does not hold GRUB legacy, so nothing loads it."),
                  (f"Put back GRUB's own stage files and reinstall it {_rescue_shell(facts)}: "
                   "cp /usr/share/grub/x86_64-redhat/stage2 /boot/grub/stage2 (or reinstall the grub package), "
                   f"then {install_command(facts)}") if in_use else "None needed.",
                  (Evidence(path, None, problem),))


# --- the partition table --------------------------------------------------------------

def _spec(facts: GuestFacts, mountpoint: str) -> str | None:
    return next((spec for spec, mp, _ in facts.fstab if mp.rstrip("/") == mountpoint or mp == mountpoint), None)


def _root_vg(facts: GuestFacts) -> str | None:
    root = facts.os.root if facts.os else ""
    if root.count("/") == 3:
        return root.split("/")[2]
    spec = _spec(facts, "/") or ""
    if spec.startswith("/dev/mapper/"):
        return spec[len("/dev/mapper/"):].split("-")[0]
    return None


def _role(facts: GuestFacts, uuid: str, fstype: str, vg: str | None) -> str | None:
    """What the guest uses a volume for: "/boot", "/", "the root's volume group", or None."""
    for mountpoint in ("/boot", "/"):
        spec = _spec(facts, mountpoint) or ""
        if uuid and spec.upper().startswith("UUID=") and spec[5:].lower() == uuid.lower():
            return mountpoint
    if fstype == "LVM2_member" and vg and vg == _root_vg(facts):
        return f"the root's volume group {vg}"
    if facts.os is None and fstype == "LVM2_member":
        return f"volume group {vg}" if vg else "an LVM volume group"
    return None


def _sfdisk(number: int | str, start: int, sectors: int, ptype: str) -> str:
    return f"echo 'start={start}, size={sectors}, type={ptype}' | sfdisk --no-reread -N {number} /dev/sda"


def rule_partition_missing(facts: GuestFacts) -> Iterable[Finding]:
    disk = _disk(facts)
    if disk is None:
        return
    used = {p.number for p in disk.partitions}
    free = next((n for n in range(1, 5) if n not in used), 4)
    for v in disk.stray:
        role = _role(facts, v.uuid, v.fstype, v.vg)
        what = f"an LVM PV of volume group {v.vg}" if v.vg else f"a{'n' if v.fstype[0] in 'aeiox' else ''} {v.fstype}"
        ident = f" (UUID {v.uuid})" if v.uuid else ""
        sectors = v.content_bytes // SECTOR if v.content_bytes else _room(disk, v.start)
        consequence = (f"; the guest's {role} lives there, so the boot cannot reach it" if role
                       else "; the guest does not name it, so it may be an old filesystem")
        ptype = "8e" if v.fstype == "LVM2_member" else "82" if v.fstype == "swap" else "83"
        yield Finding(
            "PARTITION_MISSING", ERROR if role else WARNING,
            f"{what}{ident} starts at sector {v.start}, where no partition of the table begins"
            f"{consequence} (the partition was deleted or its start changed).",
            f"Put the partition back at its old start {_rescue_shell(facts)} after checking the numbers: "
            f"{_sfdisk(free, v.start, sectors, ptype)} (testdisk /dev/sda finds it too).",
            (Evidence(f"sector {v.start}", None, f"{v.fstype}{ident}"),))


def _room(disk: DiskFacts, start: int) -> int:
    nxt = min((p.start for p in disk.partitions if p.start > start), default=disk.sectors)
    return nxt - start


def rule_partition_truncated(facts: GuestFacts) -> Iterable[Finding]:
    disk = _disk(facts)
    if disk is None:
        return
    for p in disk.partitions:
        if not p.content_bytes or p.content_bytes <= p.sectors * SECTOR:
            continue
        need = -(-p.content_bytes // SECTOR)
        role = _role(facts, p.uuid, p.holds, p.vg)
        if p.holds == "LVM2_member":
            why = ("LVM warns \"Was device resized?\" and cannot map the extents past the partition's end"
                   + ("; the root was still found" if facts.os is not None else ", where the root may lie"))
            severity = ERROR if facts.os is None and role else WARNING
        else:
            why = f"the kernel refuses to mount a {p.holds} filesystem larger than its device"
            severity = ERROR if role else WARNING
        yield Finding(
            "PARTITION_TRUNCATED", severity,
            f"Partition {p.number} is {p.sectors} sectors, but the {p.holds} on it is {need} sectors: {why}"
            + (f" (it holds {role})." if role else "."),
            f"Grow partition {p.number} back to at least {need} sectors {_rescue_shell(facts)}: "
            f"{_sfdisk(p.number, p.start, need, p.type.removeprefix('0x'))}",
            (Evidence(f"partition {p.number}", None, f"{p.sectors} sectors; {p.holds} of {need}"),))


def partition_holding(disk: DiskFacts, number: int) -> DiskPartition | None:
    return next((p for p in disk.partitions if p.number == number), None)


__all__ = ["rule_boot_code", "rule_next_stage", "rule_stage2", "rule_partition_missing", "rule_partition_truncated",
           "StrayVolume", "install_command", "partition_holding"]

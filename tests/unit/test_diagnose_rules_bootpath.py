"""The boot-path rules (rules/disk, rules/bootpath, rules/system) on hand-built facts.

One healthy EL9-like guest (GRUB 2, LVM root on partition 2, XFS) and, per
test, the one fact a breakage changes; the verdict follows the errors.
"""
from __future__ import annotations

import dataclasses

import pytest

from rescue.diagnose.rules import diagnose
from rescue.diagnose.rules.bootpath import near_miss
from rescue.model import (
    BootEntry, Bootloader, BootPathFacts, DiskFacts, DiskPartition, EntryLines, FirmwareFacts, FstabLine, GuestFacts,
    InitrdFacts,
    InitrdFile, Kernel, ModulesDir, OsInfo, Program, RpmPackage, SelinuxFacts, Severity, StrayVolume, VmlinuzFile,
)

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO
R = "5.14.0-427.el9.x86_64"
ROOT = "/dev/almalinux/root"
BOOT_UUID = "5b2f8c1e-1f0a-4d7e-9a8b-0c1d2e3f4a5b"
PV_UUID = "AbCdEf-1234-5678-9abc-def0-1234-567890"
CFG = "/boot/grub2/grub.cfg"
OS = OsInfo(root=ROOT, distro="almalinux", product="AlmaLinux 9.4", major=9, minor=4, arch="x86_64",
            package_format="rpm", mountpoints=(("/", ROOT), ("/boot", "/dev/sda1")))
ARGS = f"root=/dev/mapper/almalinux-root ro rd.lvm.lv=almalinux/root rd.lvm.lv=almalinux/swap resume=/dev/mapper/almalinux-swap"
ENTRY = BootEntry(0, f"AlmaLinux ({R})", "linux", None, f"/vmlinuz-{R}", ARGS, f"/initramfs-{R}.img",
                  f"/boot/vmlinuz-{R}", f"/boot/initramfs-{R}.img", True, True, "/dev/mapper/almalinux-root", ROOT)
KERNEL = Kernel(R, VmlinuzFile(f"/boot/vmlinuz-{R}", R, R, R), InitrdFile(f"/boot/initramfs-{R}.img", R, 30_000_000),
                ModulesDir(R, f"/lib/modules/{R}", True, True), True, True,
                RpmPackage("kernel-core", 0, "5.14.0", "427.el9", "x86_64"))
DISK = DiskFacts(sectors=3_145_728, loader="grub2", signature=True, next_sector=1, next_stage="core.img",
                 found="GRUB 2 core.img", partitions=(
                     DiskPartition(1, 2048, 655360, "0x83", "xfs", BOOT_UUID, 655360 * 512),
                     DiskPartition(2, 657408, 2488320, "0x8e", "LVM2_member", PV_UUID, 2488320 * 512, "almalinux")))
INITRD = InitrdFacts(f"/boot/initramfs-{R}.img", R, 30_000_000, ("cpio", "gzip"), module_releases=(R,))
BP = BootPathFacts(
    disk=DISK, boot_files=(f"/boot/vmlinuz-{R}", f"/boot/initramfs-{R}.img"),
    entry_lines=(EntryLines(0, "/boot/loader/entries/x.conf", 3, f"linux /vmlinuz-{R}", 4, f"initrd /initramfs-{R}.img"),),
    specs=(("/dev/mapper/almalinux-root", "xfs"), (f"UUID={BOOT_UUID}", "xfs"), ("/dev/mapper/almalinux-swap", "swap")),
    lvs=("/dev/almalinux/root", "/dev/almalinux/swap"),
    programs=(Program("/sbin/init", "init", "ok", "/usr/lib/systemd/systemd", "/lib64/ld-linux-x86-64.so.2"),
              Program("/bin/sh", "shell", "ok", "/usr/bin/bash")),
    initrd=INITRD,
    selinux=SelinuxFacts("enforcing", "enforcing", 7, "targeted", 9, ("/etc/selinux/targeted/policy/policy.33",)),
    fstab=(FstabLine(9, "/dev/mapper/almalinux-root", "/", "xfs", "defaults", 0, True),
           FstabLine(10, f"UUID={BOOT_UUID}", "/boot", "xfs", "defaults", 0, True),
           FstabLine(11, "/dev/mapper/almalinux-swap", "none", "swap", "defaults", 0, True)),
    devices_file_default=True, boot_space=(200 << 20, 300_000, 320 << 20, 320_000), kernel_bytes=60 << 20,
    default_args=ARGS,
)
FACTS = GuestFacts(image="/vms/db01.qcow2", os=OS, bootloader=Bootloader("bls", CFG, 0, entries=(ENTRY,)),
                   kernels=(KERNEL,), fstab=(("/dev/mapper/almalinux-root", "/", "xfs"), (f"UUID={BOOT_UUID}", "/boot", "xfs")),
                   boot_is_separate=True, bootpath=BP)


def with_bp(**changes) -> GuestFacts:
    return dataclasses.replace(FACTS, bootpath=dataclasses.replace(BP, **changes))


def found(facts: GuestFacts, code: str):
    d = diagnose(facts)
    return d, [f for f in d.findings if f.code == code]


def test_the_healthy_guest_has_no_error_and_says_which_loader():
    d = diagnose(FACTS)
    assert d.bootable and [f for f in d.findings if f.severity is not I] == []
    (mbr,) = [f for f in d.findings if f.code == "MBR_BOOT_CODE"]
    assert "GRUB 2's boot.img" in mbr.message and mbr.evidence[0].path == "MBR (sector 0)"


def test_facts_without_a_boot_path_judge_nothing_new():
    assert diagnose(dataclasses.replace(FACTS, bootpath=None)).findings == ()


# --- disk -------------------------------------------------------------------------------

@pytest.mark.parametrize("change, code", [
    (dict(loader="none", next_sector=None, next_stage=None, found=None), "MBR_BOOT_CODE_MISSING"),
    (dict(signature=False), "MBR_SIGNATURE_MISSING"),
    (dict(loader="Windows/DOS", next_sector=None, next_stage=None), "MBR_BOOT_CODE_FOREIGN"),
    (dict(loader="syslinux", next_sector=None, next_stage=None), "MBR_BOOT_CODE_FOREIGN"),
    (dict(loader="grub-legacy", next_stage="stage1.5"), "MBR_BOOT_CODE_FOREIGN"),   # a GRUB 2 guest
    (dict(found="zeros", problem="the sector holds zeros"), "GRUB2_CORE_MISSING"),
    (dict(table="gpt", found="zeros", problem="the sector holds zeros", next_sector=34), "BIOS_BOOT_PARTITION_MISSING"),
])
def test_boot_code_errors_stop_the_boot(change, code):
    d, hits = found(with_bp(disk=dataclasses.replace(DISK, **change)), code)
    assert hits and hits[0].severity is E and not d.bootable, d.findings
    assert "install" in hits[0].action or "sgdisk" in hits[0].action


def test_a_uefi_guests_empty_protective_mbr_is_no_error():
    empty = dataclasses.replace(DISK, loader="none", next_sector=None, next_stage=None, found=None, table="gpt")
    esp = FirmwareFacts(partition_table="gpt", bios_code=False, esp="/dev/sda1", esp_fstype="vfat", esp_mounted=True,
                        fstab_esp="UUID=7A1B-2C3D", fallback="/boot/efi/EFI/BOOT/BOOTX64.EFI", needs="uefi")
    d = diagnose(dataclasses.replace(with_bp(disk=empty), firmware=esp))
    assert d.bootable and not [f for f in d.findings if f.code.startswith("MBR_")], d.findings
    # the same disk set to BIOS in its .vmx: one finding, the firmware's, naming the .vmx
    bios = dataclasses.replace(esp, vmx="/vms/db01.vmx", vmx_firmware="bios")
    d = diagnose(dataclasses.replace(with_bp(disk=empty), firmware=bios))
    codes = [f.code for f in d.findings if f.severity is E]
    assert codes == ["BIOS_BOOT_CODE_MISSING"] and not d.bootable, d.findings


def test_syslinux_in_the_mbr_is_fine_for_an_extlinux_guest():
    facts = with_bp(disk=dataclasses.replace(DISK, loader="syslinux", next_sector=None, next_stage=None),
                    boot_files=(*BP.boot_files, "/boot/extlinux/extlinux.conf"))
    assert diagnose(facts).bootable


def test_unknown_boot_code_is_a_warning():
    d, hits = found(with_bp(disk=dataclasses.replace(DISK, loader="unknown", next_sector=None, next_stage=None)),
                    "MBR_BOOT_CODE_UNKNOWN")
    assert hits[0].severity is W and d.bootable


def test_grub_legacy_stage_and_stage2():
    legacy = dataclasses.replace(DISK, loader="grub-legacy", next_stage="stage1.5", found="zeros",
                                 problem="it holds zeros")
    facts = dataclasses.replace(FACTS, bootloader=Bootloader("grub-legacy", "/boot/grub/grub.conf", 0, entries=(ENTRY,)),
                                bootpath=dataclasses.replace(BP, disk=legacy, stage2=("/boot/grub/stage2", "is damaged")))
    d = diagnose(facts)
    codes = {f.code: f for f in d.findings}
    assert codes["GRUB_STAGE_MISSING"].severity is E and "sector 1" in codes["GRUB_STAGE_MISSING"].message
    assert codes["GRUB_STAGE2_DAMAGED"].severity is E and not d.bootable
    # a stage2 left behind on a GRUB 2 disk loads nothing: worth knowing, no more
    _, hits = found(with_bp(stage2=("/boot/grub/stage2", "is damaged")), "GRUB_STAGE2_DAMAGED")
    assert hits[0].severity is I


def test_the_boot_partition_deleted_from_the_table():
    disk = dataclasses.replace(DISK, partitions=DISK.partitions[1:],
                               stray=(StrayVolume(2048, "xfs", BOOT_UUID, "", None, 655360 * 512),))
    d, hits = found(with_bp(disk=disk), "PARTITION_MISSING")
    assert hits[0].severity is E and "sector 2048" in hits[0].message and "/boot" in hits[0].message
    assert "start=2048, size=655360, type=83" in hits[0].action and not d.bootable
    other = dataclasses.replace(DISK, stray=(StrayVolume(3_000_000, "ext4", "1111-2222"),))
    assert found(with_bp(disk=other), "PARTITION_MISSING")[1][0].severity is W


def test_a_root_pv_without_a_partition_when_no_root_was_found():
    disk = dataclasses.replace(DISK, partitions=DISK.partitions[:1],
                               stray=(StrayVolume(657408, "LVM2_member", PV_UUID, "", "almalinux", 0),))
    facts = GuestFacts(image="/vms/db01.qcow2", os=None, bootpath=BootPathFacts(disk=disk))
    d, hits = found(facts, "PARTITION_MISSING")
    assert hits[0].severity is E and "volume group almalinux" in hits[0].message
    assert {f.code for f in d.findings} >= {"NO_OS", "PARTITION_MISSING"}


def test_a_shrunk_partition_is_truncated():
    small = dataclasses.replace(DISK.partitions[0], sectors=400000)
    d, hits = found(with_bp(disk=dataclasses.replace(DISK, partitions=(small, DISK.partitions[1]))),
                    "PARTITION_TRUNCATED")
    assert hits[0].severity is E and "655360 sectors" in hits[0].message and not d.bootable


# --- configuration and command line ------------------------------------------------------------

def test_a_renamed_config_is_found_with_its_repair():
    facts = dataclasses.replace(FACTS, bootloader=Bootloader(None, None, None),
                                bootpath=dataclasses.replace(BP, leftovers=("/boot/grub2/grub.cfg.rpmsave",)))
    _, hits = found(facts, "BOOTLOADER_CONFIG_RENAMED")
    assert hits[0].severity is E and hits[0].action == "vmrescue repair /vms/db01.qcow2 --fix restore-config " \
        "(puts /boot/grub2/grub.cfg.rpmsave back in place, after a dry run shows it)"


def test_a_dangling_menu_lst():
    facts = dataclasses.replace(FACTS, bootloader=Bootloader(None, None, None),
                                bootpath=dataclasses.replace(BP, dangling=(("/boot/grub/menu.lst", "./grub.conf"),)))
    assert found(facts, "BOOTLOADER_CONFIG_DANGLING")[1][0].severity is E


@pytest.mark.parametrize("wanted, files, hit", [
    ("/boot/vmlinux-R", ["/boot/vmlinuz-R"], ("/boot/vmlinuz-R", "'z' where the entry says 'x'")),
    ("/boot/vm1inuz-R", ["/boot/vmlinuz-R", "/boot/config-R"], ("/boot/vmlinuz-R", "'l' where the entry says '1'")),
    ("/boot/initramfs-R.im", ["/boot/initramfs-R.img"], ("/boot/initramfs-R.img", "one character more or less")),
    ("/boot/vmlinuz-R", ["/boot/grub/vmlinuz-R"], None),
    ("/boot/vmlinuz-2", ["/boot/vmlinuz-9-other"], None),
])
def test_near_misses(wanted, files, hit):
    assert near_miss(wanted, files) == hit


def test_an_entry_naming_vmlinux_points_at_vmlinuz():
    bad = dataclasses.replace(ENTRY, kernel=f"/vmlinux-{R}", guest_kernel=f"/boot/vmlinux-{R}", kernel_exists=False)
    facts = dataclasses.replace(FACTS, bootloader=Bootloader("bls", CFG, 0, entries=(bad,)),
                                bootpath=dataclasses.replace(BP, entry_lines=(dataclasses.replace(
                                    BP.entry_lines[0], kernel_text=f"linux /vmlinux-{R}"),)))
    d, hits = found(facts, "ENTRY_FILE_NEAR_MISS")
    assert hits[0].severity is E and f"/boot/vmlinuz-{R}" in hits[0].message
    assert (hits[0].evidence[0].path, hits[0].evidence[0].line) == ("/boot/loader/entries/x.conf", 3)


def _args(args: str, **changes) -> GuestFacts:
    e = dataclasses.replace(ENTRY, kernel_args=args)
    return dataclasses.replace(FACTS, bootloader=Bootloader("bls", CFG, 0, entries=(e,)),
                               bootpath=dataclasses.replace(BP, **changes))


def test_an_lv_the_disk_lacks():
    d, hits = found(_args(ARGS.replace("rd.lvm.lv=almalinux/root", "rd.lvm.lv=almalinux/root0")), "CMDLINE_LV_MISSING")
    assert hits[0].severity is E and not d.bootable and "rd.lvm.lv=almalinux/root" in hits[0].action
    _, swap = found(_args(ARGS.replace("almalinux/swap", "almalinux/swap0")), "CMDLINE_LV_MISSING")
    assert swap[0].severity is W                 # the root still comes up


def test_resume_and_init_targets():
    _, hits = found(_args(ARGS.replace("resume=/dev/mapper/almalinux-swap", "resume=UUID=dead-beef")),
                    "CMDLINE_RESUME_MISSING")
    assert hits[0].severity is E and hits[0].evidence[0].value == "resume=UUID=dead-beef"
    facts = _args(ARGS + " init=/bin/nosuch", programs=(Program("/bin/nosuch", "init=", "missing"), *BP.programs))
    d, hits = found(facts, "CMDLINE_INIT_MISSING")
    assert hits[0].severity is E and not d.bootable


def test_arguments_on_the_initrd_line():
    lines = dataclasses.replace(BP.entry_lines[0], initrd_text=f"initrd /initramfs-{R}.img rd.lvm.lv=almalinux/root")
    _, hits = found(with_bp(entry_lines=(lines,)), "INITRD_LINE_ARGUMENTS")
    assert hits[0].severity is E and hits[0].evidence[0].line == 4
    tuned = dataclasses.replace(BP.entry_lines[0], initrd_text=f"initrd /initramfs-{R}.img $tuned_initrd")
    assert found(with_bp(entry_lines=(tuned,)), "INITRD_LINE_ARGUMENTS")[1] == []


# --- initrd and init ------------------------------------------------------------------------------

@pytest.mark.parametrize("change, code", [
    (dict(problem="its gzip stream starting at byte 0 is damaged or cut short (the image is truncated)"), "INITRD_DAMAGED"),
    (dict(module_releases=("4.18.0-553.el8_10.x86_64",)), "INITRD_WRONG_KERNEL"),
    (dict(init="missing"), "INITRD_NO_INIT"),
    (dict(missing=(("xfs", "the root filesystem is xfs"),)), "INITRD_DRIVER_MISSING"),
    (dict(missing_tools=(("lvm", "the root filesystem is on LVM"),)), "INITRD_TOOL_MISSING"),
])
def test_initrd_breakages(change, code):
    d, hits = found(with_bp(initrd=dataclasses.replace(INITRD, **change)), code)
    assert hits[0].severity is E and not d.bootable
    assert hits[0].action.startswith("vmrescue repair /vms/db01.qcow2 --fix rebuild-initrd")


@pytest.mark.parametrize("state, code", [("missing", "INIT_MISSING"), ("dangling", "INIT_DANGLING"),
                                         ("not-executable", "INIT_NOT_EXECUTABLE"),
                                         ("interpreter-missing", "INIT_INTERPRETER_MISSING")])
def test_init_states(state, code):
    programs = (Program("/sbin/init", "init", state, None, "/lib64/ld-linux-x86-64.so.2"), BP.programs[1])
    d, hits = found(with_bp(programs=programs), code)
    assert hits[0].severity is E and not d.bootable


def test_a_missing_shell_is_a_warning():
    d, hits = found(with_bp(programs=(BP.programs[0], Program("/bin/sh", "shell", "dangling"))), "SHELL_DANGLING")
    assert hits[0].severity is W and d.bootable


# --- selinux, fstab, lvm, /boot -------------------------------------------------------------------

def test_selinux():
    none = dataclasses.replace(BP.selinux, policies=())
    d, hits = found(with_bp(selinux=none), "SELINUX_POLICY_MISSING")
    assert hits[0].severity is E and not d.bootable
    assert found(_args(ARGS + " enforcing=0", selinux=none), "SELINUX_POLICY_MISSING")[1][0].severity is W
    typo = dataclasses.replace(BP.selinux, mode=None, mode_value="enforcin")
    _, hits = found(with_bp(selinux=typo), "SELINUX_CONFIG_INVALID")
    assert hits[0].severity is W and hits[0].evidence[0].line == 7
    relabel = dataclasses.replace(BP.selinux, autorelabel=True)
    assert found(with_bp(selinux=relabel), "SELINUX_RELABEL_PENDING")[1][0].severity is I


def test_fstab_entries_the_disk_lacks():
    data = FstabLine(12, "UUID=0000-dead", "/data", "xfs", "defaults", 0, False)
    d, hits = found(with_bp(fstab=(*BP.fstab, data)), "FSTAB_DEVICE_MISSING")
    assert hits[0].severity is E and not d.bootable and hits[0].evidence[0].line == 12
    assert found(with_bp(fstab=(*BP.fstab, dataclasses.replace(data, options="defaults,nofail"))),
                 "FSTAB_DEVICE_MISSING")[1] == []
    swap = FstabLine(13, "/dev/sdb1", "swap", "swap", "defaults", 0, False)
    assert found(with_bp(fstab=(*BP.fstab, swap)), "FSTAB_DEVICE_MISSING")[1][0].severity is W
    el6 = dataclasses.replace(with_bp(fstab=(*BP.fstab, data)), os=dataclasses.replace(OS, major=6))
    assert found(el6, "FSTAB_DEVICE_MISSING")[1][0].severity is W           # passno 0: mount fails, boot goes on


FILTER = 'devices {\n    filter = [ "a|^/dev/vda2$|", "r|.*|" ]\n}\n'


def test_an_lvm_filter_rejecting_the_root_pv():
    # /dev/vda2 is the root PV's name on a virtio disk: not rejected under every name
    assert found(with_bp(initrd=dataclasses.replace(INITRD, lvm_conf=FILTER)), "LVM_FILTER_REJECTS_ROOT")[1] == []
    strict = 'devices {\n    filter = [ "a|^/dev/sdb2$|", "r|.*|" ]\n}\n'
    d, hits = found(with_bp(initrd=dataclasses.replace(INITRD, lvm_conf=strict), lvm_conf=strict),
                    "LVM_FILTER_REJECTS_ROOT")
    assert [f.severity for f in hits] == [E, W] and not d.bootable
    assert hits[0].evidence[0].line == 2


def test_a_devices_file_without_the_root_pv():
    stale = "VERSION=1.1.2\nIDTYPE=sys_wwid IDNAME=naa.6000 DEVNAME=/dev/sda2 PVID=Zz9xXxXxXxXxXxXxXxXxXxXxXxXxXxXx PART=2\n"
    _, hits = found(with_bp(devices_file=stale), "LVM_DEVICES_FILE_STALE")
    assert hits[0].severity is W and "vgimportdevices almalinux" in hits[0].action
    listed = stale.replace("Zz9xXxXxXxXxXxXxXxXxXxXxXxXxXxXx", PV_UUID.replace("-", ""))
    assert found(with_bp(devices_file=listed), "LVM_DEVICES_FILE_STALE")[1] == []
    off = with_bp(devices_file=stale, lvm_conf="devices {\n use_devicesfile = 0\n}\n")
    assert found(off, "LVM_DEVICES_FILE_STALE")[1] == []


def test_boot_full_is_a_warning_with_numbers():
    d, hits = found(with_bp(boot_space=(20 << 20, 300_000, 320 << 20, 320_000)), "BOOT_FULL")
    assert hits[0].severity is W and d.bootable
    assert "20 MiB" in hits[0].message and "78 MiB" in hits[0].message
    assert found(with_bp(boot_space=(500 << 20, 4, 1 << 30, 1000)), "BOOT_FULL")[1]


def test_every_new_finding_is_a_sentence_with_an_action():
    facts = with_bp(disk=dataclasses.replace(DISK, loader="none"), initrd=dataclasses.replace(INITRD, init="missing"),
                    fstab=(FstabLine(12, "UUID=0", "/data", "xfs", "defaults", 0, False),),
                    boot_space=(1, 1, 1, 1))
    for f in diagnose(facts).findings:
        assert f.message.endswith(".") and f.action, f


def test_a_disk_without_an_os_gets_no_boot_code_finding():
    # a data disk: NO_OS says what matters, its empty MBR has nothing to start
    empty = dataclasses.replace(DISK, loader="none", next_sector=None, next_stage=None, found=None)
    d = diagnose(dataclasses.replace(with_bp(disk=empty), os=None))
    assert not [f for f in d.findings if f.code.startswith("MBR_")], d.findings

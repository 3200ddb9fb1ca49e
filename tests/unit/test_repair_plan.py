"""rescue.repair's pure decisions: the target kernel, the initrd's root drivers,
the GRUB root device and backup names, on hand-built facts and real-world
modprobe.conf texts and initrd listings."""
from __future__ import annotations

import re
import time
from datetime import datetime

import pytest

from rescue.errors import Exit, RescueError
from rescue.model import Diagnosis, Finding, GuestFacts, OsInfo, RecommendedKernel, Severity
from rescue.bootloader.base import backup_name
from rescue.repair.plan import choose_target, initrd_drivers, missing_from_initrd
from rescue.bootloader.grub_legacy.devices import grub_root_for

IMAGE = "/images/web01.vmdk"
PLUS = "2.6.18-274.3.1.el5.centos.plus"
EL5 = "2.6.18-398.el5"
EL7 = "3.10.0-1160.el7.x86_64"
LV_ROOT = "/dev/VolGroup00/LogVol00"


# --- initrd_drivers ----------------------------------------------------------------

# CentOS 5 installed on VMware with the LSI Logic controller, as anaconda wrote it.
CENTOS5_VMWARE = """\
alias eth0 pcnet32
alias scsi_hostadapter mptbase
alias scsi_hostadapter1 mptspi
alias scsi_hostadapter2 ata_piix
alias snd-card-0 snd-ens1371
options snd-card-0 index=0
options snd-ens1371 index=0
remove snd-ens1371 { /usr/sbin/alsactl store 0 >/dev/null 2>&1 || : ; }; /sbin/modprobe -r --ignore-remove snd-ens1371
alias usb-controller ehci-hcd
alias usb-controller1 uhci-hcd
"""

# An older VMware guest on the BusLogic controller.
BUSLOGIC = """\
alias eth0 pcnet32
alias scsi_hostadapter BusLogic
"""

# EL6, modprobe.d style (/etc/modprobe.d/anaconda.conf) on a paravirtual controller.
PVSCSI_MODPROBE_D = """\
# Module options and blacklists written by anaconda
alias scsi_hostadapter vmw_pvscsi
alias scsi_hostadapter1 ata_piix
alias eth0 vmxnet3
blacklist pcspkr
"""

# Controllers that were removed, left as comments, and odd but valid spacing.
COMMENTED = """\
# alias scsi_hostadapter BusLogic
#alias scsi_hostadapter1 mptspi
   alias\tscsi_hostadapter2\tata_piix   # IDE disk
alias eth0 e1000
"""

# The same driver named twice, and with '-' where the module file has '_'.
REPEATED = """\
alias scsi_hostadapter mptspi
alias scsi_hostadapter1 mptspi
alias scsi_hostadapter2 ata-piix
"""

EL5_MODULES = {"mptbase", "mptscsih", "mptspi", "scsi_transport_spi", "ata_piix", "libata", "BusLogic",
               "ext3", "jbd", "ext2", "dm-mod", "pcnet32", "e1000", "xenblk"}
EL6_MODULES = {"vmw_pvscsi", "mptspi", "mptbase", "ata_piix", "ext4", "jbd2", "dm-mod", "vmxnet3", "xfs"}


@pytest.mark.parametrize("conf,fstype,lvm,available,expected", [
    # Everything the guest names is shipped: controllers in file order, then root fs, then LVM.
    (CENTOS5_VMWARE, "ext3", True, EL5_MODULES, ["mptbase", "mptspi", "ata_piix", "ext3", "dm-mod"]),
    (CENTOS5_VMWARE, "ext3", False, EL5_MODULES, ["mptbase", "mptspi", "ata_piix", "ext3"]),
    # A kernel that lacks some of them (a Xen kernel has no LSI or IDE drivers): they are dropped.
    (CENTOS5_VMWARE, "ext3", True, {"xenblk", "ext3", "jbd", "dm-mod"}, ["ext3", "dm-mod"]),
    (CENTOS5_VMWARE, "ext3", True, EL5_MODULES - {"mptbase", "ata_piix"}, ["mptspi", "ext3", "dm-mod"]),
    # dm-mod / dm_mod: either spelling matches, the kernel's own spelling is kept.
    (CENTOS5_VMWARE, "ext3", True, (EL5_MODULES - {"dm-mod"}) | {"dm_mod"},
     ["mptbase", "mptspi", "ata_piix", "ext3", "dm_mod"]),
    (BUSLOGIC, "ext3", True, EL5_MODULES, ["BusLogic", "ext3", "dm-mod"]),
    (BUSLOGIC, "ext3", False, EL5_MODULES - {"BusLogic"}, ["ext3"]),
    (BUSLOGIC, "ext2", False, EL5_MODULES, ["BusLogic", "ext2"]),
    (PVSCSI_MODPROBE_D, "ext4", True, EL6_MODULES, ["vmw_pvscsi", "ata_piix", "ext4", "dm-mod"]),
    (PVSCSI_MODPROBE_D, "xfs", False, EL6_MODULES, ["vmw_pvscsi", "ata_piix", "xfs"]),
    (PVSCSI_MODPROBE_D, "xfs", False, EL6_MODULES - {"xfs"}, ["vmw_pvscsi", "ata_piix"]),
    (COMMENTED, "ext3", False, EL5_MODULES, ["ata_piix", "ext3"]),
    (REPEATED, "ext3", False, EL5_MODULES, ["mptspi", "ata_piix", "ext3"]),
    # Network aliases are not root drivers, even when the kernel ships them.
    ("alias eth0 e1000\nalias eth1 pcnet32\n", "ext3", False, EL5_MODULES, ["ext3"]),
    # No modprobe.conf, an unknown root fs, nothing shipped.
    ("", "ext4", True, EL6_MODULES, ["ext4", "dm-mod"]),
    ("", None, False, EL6_MODULES, []),
    (CENTOS5_VMWARE, "ext3", True, set(), []),
])
def test_initrd_drivers(conf, fstype, lvm, available, expected):
    assert initrd_drivers(conf, fstype, lvm, available) == expected


# --- missing_from_initrd -------------------------------------------------------------

# mkinitrd (EL5): a flat lib/ of modules, as cpio lists it.
EL5_INITRD = ["init", "bin", "bin/nash", "bin/insmod", "lib", "lib/mptbase.ko", "lib/mptscsih.ko",
              "lib/scsi_transport_spi.ko", "./lib/mptspi.ko", "lib/jbd.ko", "lib/ext3.ko", "lib/dm-mod.ko",
              "lib/dm-snapshot.ko", "etc/lvm/lvm.conf", "sbin/lvm"]

# dracut (EL7): the kernel's tree, compressed modules, and decoys that are not modules.
DRACUT_INITRD = [f"usr/lib/modules/{EL7}", f"usr/lib/modules/{EL7}/modules.dep",
                 f"usr/lib/modules/{EL7}/kernel/drivers/message/fusion",
                 f"usr/lib/modules/{EL7}/kernel/drivers/message/fusion/mptbase.ko.xz",
                 f"usr/lib/modules/{EL7}/kernel/drivers/message/fusion/mptspi.ko.xz",
                 f"usr/lib/modules/{EL7}/kernel/drivers/md/dm-mod.ko.xz",
                 f"usr/lib/modules/{EL7}/kernel/fs/xfs/xfs.ko.xz",
                 "usr/lib/firmware/vmw_pvscsi.bin", "usr/lib/dracut/hooks/ata_piix"]

# dracut (EL6): uncompressed modules under lib/.
DRACUT_EL6_INITRD = ["lib/modules/2.6.32-754.el6.x86_64/kernel/drivers/scsi/vmw_pvscsi.ko",
                     "lib/modules/2.6.32-754.el6.x86_64/kernel/fs/ext4/ext4.ko"]


@pytest.mark.parametrize("paths,drivers,expected", [
    (EL5_INITRD, ["mptbase", "mptspi", "ata_piix", "ext3", "dm-mod"], ["ata_piix"]),
    (EL5_INITRD, ["mptspi", "ext3", "dm_mod"], []),
    (EL5_INITRD, ["BusLogic", "ext3"], ["BusLogic"]),
    (DRACUT_INITRD, ["mptspi", "vmw_pvscsi", "ata_piix", "xfs", "dm_mod"], ["vmw_pvscsi", "ata_piix"]),
    (DRACUT_INITRD, ["mptbase", "mptspi", "xfs", "dm-mod"], []),
    (DRACUT_EL6_INITRD, ["vmw_pvscsi", "ata_piix", "ext4"], ["ata_piix"]),
    (EL5_INITRD, [], []),
    ([], ["mptspi", "ext3"], ["mptspi", "ext3"]),
])
def test_missing_from_initrd(paths, drivers, expected):
    assert missing_from_initrd(paths, drivers) == expected


# --- grub_root_for -----------------------------------------------------------------

def os_with(*mountpoints: tuple[str, str]) -> OsInfo:
    return OsInfo(root=mountpoints[0][1], distro="centos", product="CentOS release 5.11 (Final)",
                  major=5, minor=11, arch="x86_64", package_format="rpm", mountpoints=mountpoints)


@pytest.mark.parametrize("mountpoints,first_disk,expected", [
    ((("/", LV_ROOT), ("/boot", "/dev/sda1")), "/dev/sda", "(hd0,0)"),
    ((("/", "/dev/sda3"), ("/boot", "/dev/sda2")), "/dev/sda", "(hd0,1)"),
    ((("/", "/dev/sda1"),), "/dev/sda", "(hd0,0)"),                       # no separate /boot
    ((("/", "/dev/sda2"),), "/dev/sda", "(hd0,1)"),
    ((("/", LV_ROOT),), "/dev/sda", "(hd0,0)"),                           # LVM root, no /boot: the default
    ((("/", LV_ROOT), ("/boot", "/dev/sda10")), "/dev/sda", "(hd0,9)"),
    ((("/", LV_ROOT), ("/home", "/dev/sdb1"), ("/boot", "/dev/sda1")), "/dev/sda", "(hd0,0)"),
    # A guest that is the second disk of a batch: its first disk is GRUB's hd0.
    ((("/", LV_ROOT), ("/boot", "/dev/sdb1")), "/dev/sdb", "(hd0,0)"),
    ((("/", "/dev/sdb2"),), "/dev/sdb", "(hd0,1)"),
    # /boot on the guest's own second disk.
    ((("/", LV_ROOT), ("/boot", "/dev/sdb1")), "/dev/sda", "(hd1,0)"),
])
def test_grub_root_for(mountpoints, first_disk, expected):
    assert grub_root_for(os_with(*mountpoints).mountpoints, first_disk) == expected


# --- choose_target -----------------------------------------------------------------

def diagnosis(recommended: RecommendedKernel | None) -> Diagnosis:
    facts = GuestFacts(image=IMAGE, os=os_with(("/", LV_ROOT), ("/boot", "/dev/sda1")))
    finding = Finding("ENTRY_KERNEL_MISSING", Severity.ERROR, "The default entry's kernel is missing.", "")
    return Diagnosis(facts=facts, findings=(finding,), bootable=False, recommended_kernel=recommended)


RECOMMENDED = RecommendedKernel(PLUS, f"kernel-{PLUS}.x86_64.rpm",
                                f"/lib/modules/{PLUS}/misc/vmxnet.ko was built for it (vermagic)")


@pytest.mark.parametrize("recommended,requested,expected", [
    (RECOMMENDED, EL5, (EL5, "given with --kernel")),
    (None, EL5, (EL5, "given with --kernel")),
    (RECOMMENDED, None, (PLUS, RECOMMENDED.reason)),
    (RECOMMENDED, "", (PLUS, RECOMMENDED.reason)),
])
def test_choose_target(recommended, requested, expected):
    assert choose_target(diagnosis(recommended), requested) == expected


@pytest.mark.parametrize("requested", [None, ""])
def test_choose_target_without_evidence(requested):
    with pytest.raises(RescueError) as exc:
        choose_target(diagnosis(None), requested)
    err = exc.value
    assert (err.code, err.exit_status) == ("NO_TARGET_KERNEL", Exit.USAGE)
    assert IMAGE in err.message and "--kernel" in err.hint


# --- backup_name -------------------------------------------------------------------

@pytest.mark.parametrize("path,stamp,expected", [
    ("/boot/grub/grub.conf", "20240131-235959", "/boot/grub/grub.conf.vmrescue-20240131-235959"),
    ("/etc/modprobe.conf", "20110912-100122", "/etc/modprobe.conf.vmrescue-20110912-100122"),
    (f"/boot/initrd-{EL5}.img", "20240101-000000", f"/boot/initrd-{EL5}.img.vmrescue-20240101-000000"),
])
def test_backup_name(path, stamp, expected):
    assert backup_name(path, stamp) == expected


def test_backup_name_with_a_real_stamp():
    # The stamp as the repair makes it: time.strftime("%Y%m%d-%H%M%S").
    name = backup_name("/boot/grub/grub.conf", time.strftime("%Y%m%d-%H%M%S"))
    m = re.fullmatch(r"/boot/grub/grub\.conf\.vmrescue-(\d{8}-\d{6})", name)
    assert m is not None, name
    assert abs((datetime.strptime(m.group(1), "%Y%m%d-%H%M%S") - datetime.now()).total_seconds()) < 60

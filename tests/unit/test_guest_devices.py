import pytest

from rescue.bootloader.cmdline import lvm_volume_from_args
from rescue.bootloader.grub_legacy.devices import grub_device_to_partition, resolve_grub_path
from rescue.guest.devices import Filesystem, appliance_disk, guest_device_to_appliance, mapper_to_lv, resolve_spec
from rescue.guest.fstab import parse_fstab

FILESYSTEMS = [
    Filesystem("/dev/sda1", "ext3", "/boot", "0b6d1c2e-9f1a-4a53-8a8e-1d2f3c4b5a69"),
    Filesystem("/dev/VolGroup00/LogVol00", "ext3", "", "7f4e2a10-1111-4c3b-9d2e-000000000001"),
    Filesystem("/dev/VolGroup00/LogVol01", "swap", "", ""),
]
LVS = ["/dev/VolGroup00/LogVol00", "/dev/VolGroup00/LogVol01"]
SEPARATE_BOOT = (("/", "/dev/VolGroup00/LogVol00"), ("/boot", "/dev/sda1"))
BOOT_ON_ROOT = (("/", "/dev/sda1"),)


@pytest.mark.parametrize("first, offset, expected", [
    ("/dev/sda", 0, "/dev/sda"),
    ("/dev/sda", 1, "/dev/sdb"),
    ("/dev/sdz", 1, "/dev/sdaa"),
    ("/dev/sdc", 2, "/dev/sde"),
])
def test_appliance_disk(first, offset, expected):
    assert appliance_disk(first, offset) == expected


@pytest.mark.parametrize("grub, first, expected", [
    ("(hd0,0)", "/dev/sda", "/dev/sda1"),
    ("(hd0,1)", "/dev/sda", "/dev/sda2"),
    ("(hd1,0)", "/dev/sda", "/dev/sdb1"),
    ("(hd0,0)", "/dev/sdc", "/dev/sdc1"),   # third image of a batch
    ("(hd0)", "/dev/sda", "/dev/sda"),
    ("(fd0)", "/dev/sda", None),
    ("hd0,0", "/dev/sda", None),
])
def test_grub_device_to_partition(grub, first, expected):
    assert grub_device_to_partition(grub, first) == expected


@pytest.mark.parametrize("device, expected", [
    ("/dev/sda1", "/dev/sda1"), ("/dev/hda2", "/dev/sda2"), ("/dev/vda1", "/dev/sda1"),
    ("/dev/xvdb1", "/dev/sdb1"), ("/dev/cciss/c0d0p1", None), ("LABEL=/", None),
])
def test_guest_device_to_appliance(device, expected):
    assert guest_device_to_appliance(device, "/dev/sda") == expected


@pytest.mark.parametrize("device, expected", [
    ("/dev/mapper/VolGroup00-LogVol00", "/dev/VolGroup00/LogVol00"),
    ("/dev/mapper/centos-root", "/dev/centos/root"),
    ("/dev/mapper/vg--data-lv--root", "/dev/vg-data/lv-root"),
    ("/dev/mapper/luks-1234", "/dev/luks/1234"),
    ("/dev/sda1", None),
])
def test_mapper_to_lv(device, expected):
    assert mapper_to_lv(device) == expected


@pytest.mark.parametrize("spec, expected", [
    ("/dev/VolGroup00/LogVol00", "/dev/VolGroup00/LogVol00"),
    ("/dev/mapper/VolGroup00-LogVol00", "/dev/VolGroup00/LogVol00"),
    ("LABEL=/boot", "/dev/sda1"),
    ("UUID=7F4E2A10-1111-4C3B-9D2E-000000000001", "/dev/VolGroup00/LogVol00"),
    ("UUID=deadbeef", None),
    ("LABEL=/", None),                   # CentOS 5 root labelled "/" that no longer exists
    ("/dev/hda1", "/dev/sda1"),
    ("/dev/sda3", None),
    ("/dev/VolGroup01/LogVol00", None),
])
def test_resolve_spec(spec, expected):
    assert resolve_spec(spec, FILESYSTEMS, LVS, "/dev/sda") == expected


def test_resolve_spec_refuses_ambiguous_label():
    twins = FILESYSTEMS + [Filesystem("/dev/sdb1", "ext3", "/boot", "x")]
    assert resolve_spec("LABEL=/boot", twins, LVS, "/dev/sda") is None


@pytest.mark.parametrize("path, root, mountpoints, expected", [
    ("/vmlinuz-2.6.18-274.el5", "(hd0,0)", SEPARATE_BOOT, "/boot/vmlinuz-2.6.18-274.el5"),
    ("/boot/vmlinuz-2.6.18-274.el5", "(hd0,0)", BOOT_ON_ROOT, "/boot/vmlinuz-2.6.18-274.el5"),
    ("(hd0,0)/vmlinuz-X", None, SEPARATE_BOOT, "/boot/vmlinuz-X"),
    ("(hd0,0)/vmlinuz-X", "(hd0,1)", SEPARATE_BOOT, "/boot/vmlinuz-X"),   # explicit prefix wins
    ("/vmlinuz-X", "(hd0,1)", SEPARATE_BOOT, None),     # (hd0,1) is the LVM PV: GRUB cannot read it
    ("/vmlinuz-X", None, SEPARATE_BOOT, None),          # no root: GRUB has nothing to read
    ("/vmlinuz-X", "(hd1,0)", SEPARATE_BOOT, None),
])
def test_resolve_grub_path(path, root, mountpoints, expected):
    assert resolve_grub_path(path, root, "/dev/sda", mountpoints) == expected


def test_parse_fstab_centos5():
    text = """LABEL=/boot  /boot  ext3  defaults 1 2
/dev/VolGroup00/LogVol00 /                       ext3    defaults        1 1
tmpfs                   /dev/shm                tmpfs   defaults        0 0
# a comment
garbage
/dev/VolGroup00/LogVol01 swap                    swap    defaults        0 0
"""
    assert parse_fstab(text) == (
        ("LABEL=/boot", "/boot", "ext3"),
        ("/dev/VolGroup00/LogVol00", "/", "ext3"),
        ("tmpfs", "/dev/shm", "tmpfs"),
        ("/dev/VolGroup00/LogVol01", "swap", "swap"),
    )


def test_lvm_volume_from_args():
    args = "ro root=/dev/mapper/vg_c6-lv_root rd_LVM_LV=vg_c6/lv_root rd_LVM_LV=vg_c6/lv_swap rd.lvm.lv=centos/root"
    assert lvm_volume_from_args(args) == ["/dev/vg_c6/lv_root", "/dev/vg_c6/lv_swap", "/dev/centos/root"]


# --- symlinks under /boot and names for the operator -------------------------------

@pytest.mark.parametrize("link, target, separate, problem", [
    ("/boot/grub/grub.conf", "/etc/shadow", True, "outside"),
    ("/boot/grub/grub.conf", "/etc/shadow", False, "outside"),
    ("/boot/vmlinuz-x", "/../../../etc/passwd", True, "outside"),    # ".." stops at "/"
    ("/boot/grub/x", "../../etc/shadow", True, "outside"),
    ("/boot/x", "..", True, "outside"),
    ("/boot/initramfs-a.img", "/boot/initramfs-b.img", True, "absolute"),
    ("/boot/initramfs-a.img", "/boot/initramfs-b.img", False, None),  # GRUB reads the root fs: it exists
    ("/boot/grub/menu.lst", "./grub.conf", True, None),
    ("/boot/vmlinuz", "vmlinuz-2.6.32-431.el6.x86_64", True, None),
    ("/boot/grub/x", "../grub2/../grub/grub.conf", True, None),
])
def test_boot_symlink_problem(link, target, separate, problem):
    from rescue.guest.devices import boot_symlink_problem
    assert boot_symlink_problem(link, target, separate) == problem


@pytest.mark.parametrize("device, disk, name", [
    ("/dev/sdc2", "/dev/sdc", "partition 2"), ("/dev/sdc", "/dev/sdc", "the whole disk"),
    ("/dev/vg_centos6/lv_root", "/dev/sdc", "/dev/vg_centos6/lv_root"), ("/dev/sdaa12", "/dev/sdaa", "partition 12"),
])
def test_partition_name(device, disk, name):
    from rescue.guest.devices import partition_name
    assert partition_name(device, disk) == name

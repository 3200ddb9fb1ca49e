"""Tests for rescue.inspection's pure parts: superblocks (checked against the
host's blkid on filesystems made by the real mkfs tools), LVM labels, release
files, ELF headers and fstab; and the probing logic on a fake guest."""
from __future__ import annotations

import shutil
import struct
import subprocess
import uuid as uuidlib
from pathlib import Path

import pytest

from rescue.guest.devices import Filesystem
from rescue.guest.inspect import (
    BTRFS_BYTES,
    BTRFS_OFFSET,
    HEAD_BYTES,
    Volume,
    choose_release,
    disk_devices,
    elf_arch,
    fast_inspect,
    identify,
    mountpoints_from_fstab,
    package_format,
    read_vg_name,
    scan_disk,
)
from rescue.guest.release import Release, parse_debian_version, parse_os_release, parse_redhat_release
from rescue.guest.superblocks import pv_metadata_areas, vg_name_from_metadata

# --- superblocks, against blkid ------------------------------------------------------------


def _blkid(path: Path) -> dict[str, str]:
    out = subprocess.run(["blkid", "-p", "-o", "export", str(path)], capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _identify_file(path: Path) -> Volume | None:
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        f.seek(BTRFS_OFFSET)
        return identify(head, f.read(BTRFS_BYTES))


MKFS = [
    # (tool, argv builder, size in MiB)
    ("mke2fs", lambda p: ["mke2fs", "-q", "-F", "-t", "ext2", "-L", "old", str(p)], 8),
    ("mke2fs", lambda p: ["mke2fs", "-q", "-F", "-t", "ext3", "-L", "/boot", "-b", "1024", "-I", "128", str(p)], 8),
    ("mke2fs", lambda p: ["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^metadata_csum,^64bit", str(p)], 8),
    ("mke2fs", lambda p: ["mke2fs", "-q", "-F", "-t", "ext4", "-O", "64bit", "-L", "root", str(p)], 8),
    ("mkfs.xfs", lambda p: ["mkfs.xfs", "-q", "-f", "-L", "xroot", str(p)], 320),
    ("mkswap", lambda p: ["mkswap", "-L", "SWAP-sda3", str(p)], 4),
    ("mkfs.btrfs", lambda p: ["mkfs.btrfs", "-q", "-f", "-L", "fedora", str(p)], 128),
]


@pytest.mark.parametrize("tool, argv, mib", MKFS, ids=[" ".join(m[1](Path("x"))[1:-1]) for m in MKFS])
def test_identify_agrees_with_blkid(tmp_path, tool, argv, mib):
    if shutil.which(tool) is None or shutil.which("blkid") is None:
        pytest.skip(f"{tool} or blkid is not installed")
    image = tmp_path / "fs.img"
    with open(image, "wb") as f:
        f.truncate(mib * 1024 * 1024)
    subprocess.run(argv(image), check=True, capture_output=True)
    want = _blkid(image)
    got = _identify_file(image)
    assert got is not None
    assert (got.fstype, got.label, got.uuid) == (want["TYPE"], want.get("LABEL", ""), want.get("UUID", ""))
    if got.fstype != "swap":
        assert 0 < got.size <= mib * 1024 * 1024


def test_identify_unknown_and_ambiguous():
    assert identify(bytes(HEAD_BYTES)) is None
    # a stale XFS signature under an ext superblock: two answers, so none (blkid decides)
    head = bytearray(HEAD_BYTES)
    head[:4] = b"XFSB"
    head[1024 + 56:1024 + 58] = b"\x53\xef"
    assert identify(bytes(head)) is None
    assert identify(b"") is None


def test_identify_ext_flavours_by_feature_bits():
    def ext(compat=0, incompat=0, ro=0, flags=0):
        head = bytearray(HEAD_BYTES)
        sb = 1024
        head[sb + 56:sb + 58] = b"\x53\xef"
        struct.pack_into("<III", head, sb + 92, compat, incompat, ro)
        struct.pack_into("<I", head, sb + 0x160, flags)
        return identify(bytes(head)).fstype

    assert ext() == "ext2"
    assert ext(compat=0x4, incompat=0x2) == "ext3"
    assert ext(compat=0x4, incompat=0x2 | 0x40) == "ext4"          # extents
    assert ext(compat=0x4, ro=0x8) == "ext4"                        # huge_file
    assert ext(compat=0x4, incompat=0x40, flags=0x4) == "ext4dev"
    assert ext(incompat=0x8) == "jbd"


# --- LVM labels ------------------------------------------------------------------------------

MDA_MAGIC = b" LVM2 x[5A%r0N*>"


def pv_image(vg_text: bytes, *, label_sector=1, text_offset=0x1000, area_size=0x100000, wrap_at=None):
    """A PV's first MiB laid out as LVM2 writes it (lvm2 lib/format_text/layout.h):
    label in sector `label_sector`, one metadata area at 4096 of `area_size`."""
    dev = bytearray(0x1000 + area_size)
    at = label_sector * 512
    dev[at:at + 8] = b"LABELONE"
    struct.pack_into("<QII", dev, at + 8, label_sector, 0, 32)
    dev[at + 24:at + 32] = b"LVM2 001"
    pv = at + 32
    dev[pv:pv + 32] = b"pVN9LaubCcSXoDslGM4rleZPX9iOUTsq"
    struct.pack_into("<Q", dev, pv + 32, 512 * 1024 * 1024)
    # data areas: one, then the terminator; metadata areas: one, then the terminator
    struct.pack_into("<QQQQ", dev, pv + 40, 0x100000, 0, 0, 0)
    struct.pack_into("<QQQQ", dev, pv + 72, 0x1000, area_size, 0, 0)
    mda = 0x1000
    dev[mda + 4:mda + 20] = MDA_MAGIC
    struct.pack_into("<IQQ", dev, mda + 20, 1, mda, area_size)
    struct.pack_into("<QQII", dev, mda + 40, text_offset, len(vg_text), 0, 0)
    if wrap_at is None:
        dev[mda + text_offset:mda + text_offset + len(vg_text)] = vg_text
    else:   # the circular buffer: the text runs to the area's end, then resumes after the 512-byte header
        first = area_size - text_offset
        dev[mda + text_offset:mda + area_size] = vg_text[:first]
        dev[mda + 512:mda + 512 + len(vg_text) - first] = vg_text[first:]
    return bytes(dev)


VG_TEXT = b'VolGroup00 {\nid = "0t2tSn-GF0F-p8RU-LgaK-n54j-j024-szAbUc"\nseqno = 3\n}\n'


def _reader(dev: bytes):
    return lambda size, offset: dev[offset:offset + size]


def test_read_vg_name_from_a_pv_label():
    dev = pv_image(VG_TEXT)
    assert pv_metadata_areas(dev[:HEAD_BYTES]) == [(0x1000, 0x100000)]
    assert read_vg_name(_reader(dev), dev[:HEAD_BYTES]) == "VolGroup00"
    assert identify(dev[:HEAD_BYTES]).fstype == "LVM2_member"
    assert identify(dev[:HEAD_BYTES]).uuid == "pVN9La-ubCc-SXoD-slGM-4rle-ZPX9-iOUTsq"


def test_read_vg_name_label_in_another_sector_and_wrapped_text():
    dev = pv_image(VG_TEXT, label_sector=0)
    assert read_vg_name(_reader(dev), dev[:HEAD_BYTES]) == "VolGroup00"
    area = 0x2000
    dev = pv_image(VG_TEXT, text_offset=area - 5, area_size=area, wrap_at=True)
    assert read_vg_name(_reader(dev), dev[:HEAD_BYTES]) == "VolGroup00"


@pytest.mark.parametrize("text, name", [
    (b"vg_centos6 {\nid = \"x\"\n", "vg_centos6"),
    (b"# comment\n\ncentos {\n", "centos"),
    (b"bad name {\n", None),
    (b"{\n", None),
    (b"\xff\xfe", None),
    (b"", None),
])
def test_vg_name_from_metadata(text, name):
    assert vg_name_from_metadata(text) == name


def test_hostile_pv_labels_give_no_name():
    dev = bytearray(pv_image(VG_TEXT))
    dev[0x1000 + 4] ^= 0xFF                      # mda magic broken
    assert read_vg_name(_reader(bytes(dev)), bytes(dev[:HEAD_BYTES])) is None
    dev = bytearray(pv_image(VG_TEXT))
    struct.pack_into("<I", dev, 512 + 20, 480)   # pv_header runs past the label sector
    assert pv_metadata_areas(bytes(dev[:HEAD_BYTES])) == []
    dev = bytearray(pv_image(VG_TEXT))
    struct.pack_into("<Q", dev, 0x1000 + 40, 1 << 60)    # text offset outside the area
    assert read_vg_name(_reader(bytes(dev)), bytes(dev[:HEAD_BYTES])) is None
    # no terminator in the area lists: bounded, no name
    dev = bytearray(pv_image(VG_TEXT))
    for i in range(20):
        struct.pack_into("<QQ", dev, 512 + 72 + 16 * i, 0x1000, 0x1000)
    assert read_vg_name(_reader(bytes(dev)), bytes(dev[:HEAD_BYTES])) in (None, "VolGroup00")


# --- release files ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, distro, major, minor", [
    ("CentOS release 5.11 (Final)", "centos", 5, 11),
    ("CentOS release 6.10 (Final)", "centos", 6, 10),
    ("CentOS release 6.5 (Final)", "centos", 6, 5),
    ("CentOS Linux release 7.9.2009 (Core)", "centos", 7, 9),
    ("CentOS Stream release 8", "centos", 8, 0),
    ("CentOS release 4.9 (Final)", "centos", 4, 9),
    ("Red Hat Enterprise Linux Server release 5.11 (Tikanga)", "rhel", 5, 11),
    ("Red Hat Enterprise Linux Server release 7.9 (Maipo)", "rhel", 7, 9),
    ("Red Hat Enterprise Linux AS release 4 (Nahant Update 9)", "rhel", 4, 9),
    ("Red Hat Enterprise Linux release 8.10 (Ootpa)", "rhel", 8, 10),
    ("Scientific Linux release 6.10 (Carbon)", "scientificlinux", 6, 10),
    ("Scientific Linux SL release 5.5 (Boron)", "scientificlinux", 5, 5),
    ("Oracle Linux Server release 7.9", "oraclelinux", 7, 9),
    ("Enterprise Linux Enterprise Linux Server release 5.8 (Carthage)", "oraclelinux", 5, 8),
    ("Fedora release 20 (Heisenbug)", "fedora", 20, 0),
    ("Rocky Linux release 8.9 (Green Obsidian)", "rocky", 8, 9),
    ("AlmaLinux release 9.3 (Shamrock Pampas Cat)", "almalinux", 9, 3),
    ("Foo Linux release 3.2 (Bar)", "redhat-based", 3, 2),
])
def test_parse_redhat_release(line, distro, major, minor):
    assert parse_redhat_release(line + "\n") == Release(distro, line, major, minor)


def test_parse_redhat_release_junk():
    assert parse_redhat_release("") is None
    assert parse_redhat_release("\n\n") is None
    assert parse_redhat_release("hello world") is None


OS_RELEASE_EL7 = '''NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
'''
OS_RELEASE_RHEL9 = 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nVERSION_ID="9.4"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n'
OS_RELEASE_DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
OS_RELEASE_UBUNTU = "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME='Ubuntu 22.04.4 LTS'\n"


@pytest.mark.parametrize("text, want", [
    (OS_RELEASE_EL7, Release("centos", "CentOS Linux 7 (Core)", 7, 0)),
    (OS_RELEASE_RHEL9, Release("rhel", "Red Hat Enterprise Linux 9.4 (Plow)", 9, 4)),
    (OS_RELEASE_DEBIAN, Release("debian", "Debian GNU/Linux 12 (bookworm)", 12, 0)),
    (OS_RELEASE_UBUNTU, Release("ubuntu", "Ubuntu 22.04.4 LTS", 22, 4)),
    ("ID=ol\nVERSION_ID=8.9\n", Release("oraclelinux", "ol", 8, 9)),
    ("ID=somethingnew\nNAME=New\n", Release("unknown", "New", 0, 0)),
    ("NAME=x\n", None),
    ("", None),
])
def test_parse_os_release(text, want):
    assert parse_os_release(text) == want


@pytest.mark.parametrize("text, want", [
    ("12.5\n", (12, 5)),
    ("10.13", (10, 13)),
    ("4.0", (4, 0)),
    ("bookworm/sid\n", None),
])
def test_parse_debian_version(text, want):
    got = parse_debian_version(text)
    assert (got and (got.distro, got.major, got.minor)) == (want and ("debian", *want))


def test_choose_release_follows_libguestfs_precedence():
    el7 = {"/etc/os-release": OS_RELEASE_EL7, "/etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n",
           "/etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n"}
    # CentOS's os-release has no minor version: the release file decides
    assert choose_release(el7.get) == Release("centos", "CentOS Linux release 7.9.2009 (Core)", 7, 9)
    # RHEL's has one: os-release decides
    rhel = {"/etc/os-release": OS_RELEASE_RHEL9, "/etc/redhat-release": "Red Hat Enterprise Linux release 9.4 (Plow)"}
    assert choose_release(rhel.get).product == "Red Hat Enterprise Linux 9.4 (Plow)"
    # Oracle's redhat-release claims Red Hat; oracle-release comes first
    ol = {"/etc/redhat-release": "Red Hat Enterprise Linux Server release 6.10 (Santiago)",
          "/etc/oracle-release": "Oracle Linux Server release 6.10"}
    assert choose_release(ol.get).distro == "oraclelinux"
    # Debian: os-release's major only, debian_version's full version
    deb = {"/etc/os-release": OS_RELEASE_DEBIAN, "/etc/debian_version": "12.5\n"}
    assert (choose_release(deb.get).major, choose_release(deb.get).minor) == (12, 5)
    # Debian testing: debian_version says nothing numeric, os-release is kept
    deb = {"/etc/os-release": OS_RELEASE_DEBIAN, "/etc/debian_version": "trixie/sid\n"}
    assert choose_release(deb.get).distro == "debian"
    # EL5: no os-release at all
    assert choose_release({"/etc/redhat-release": "CentOS release 5.11 (Final)"}.get) == Release(
        "centos", "CentOS release 5.11 (Final)", 5, 11)
    assert choose_release({}.get) is None


def test_choose_release_reads_only_until_decided():
    asked = []
    files = {"/etc/redhat-release": "CentOS release 6.10 (Final)", "/etc/system-release": "x"}

    def read(path):
        asked.append(path)
        return files.get(path)

    choose_release(read)
    assert asked[-1] == "/etc/redhat-release"


@pytest.mark.parametrize("distro, rpmdb, dpkg, want", [
    ("centos", False, False, "rpm"), ("debian", True, False, "deb"), ("unknown", True, False, "rpm"),
    ("unknown", False, True, "deb"), ("unknown", False, False, "unknown"),
])
def test_package_format(distro, rpmdb, dpkg, want):
    assert package_format(distro, rpmdb, dpkg) == want


# --- ELF ---------------------------------------------------------------------------------------

def _elf(bits, order, machine):
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if order == "<" else 2, 1]) + bytes(9)
    return ident + struct.pack(order + "HH", 2, machine) + bytes(44)


@pytest.mark.parametrize("bits, order, machine, arch", [
    (64, "<", 0x3E, "x86_64"), (32, "<", 0x03, "i386"), (64, "<", 0xB7, "aarch64"),
    (64, "<", 0x15, "ppc64le"), (64, ">", 0x15, "ppc64"), (64, ">", 0x16, "s390x"), (32, "<", 0x28, "arm"),
    (64, "<", 0xF3, "riscv64"), (32, ">", 0x08, "mips"), (64, "<", 0x08, "mips64el"), (64, "<", 0x9999, None),
])
def test_elf_arch(bits, order, machine, arch):
    assert elf_arch(_elf(bits, order, machine)) == arch


def test_elf_arch_of_a_real_binary_and_junk():
    assert elf_arch(Path("/bin/sh").read_bytes()[:64]) in ("x86_64", "aarch64", "i386", "ppc64le", "s390x")
    assert elf_arch(b"#!/bin/sh\n") is None
    assert elf_arch(b"\x7fELF\x03\x01" + bytes(58)) is None
    assert elf_arch(b"") is None


# --- fstab -------------------------------------------------------------------------------------

EL5_FSTAB = """/dev/VolGroup00/LogVol00 /                       ext3    defaults        1 1
LABEL=/boot             /boot                   ext3    defaults        1 2
tmpfs                   /dev/shm                tmpfs   defaults        0 0
devpts                  /dev/pts                devpts  gid=5,mode=620  0 0
sysfs                   /sys                    sysfs   defaults        0 0
proc                    /proc                   proc    defaults        0 0
/dev/VolGroup00/LogVol01 swap                   swap    defaults        0 0
/dev/hdc                /media/cdrom            auto    noauto,ro       0 0
"""
EL5_FS = [
    Filesystem("/dev/sda1", "ext3", "/boot", "d98c1997-8631-52b9-a5a1-18402d827f86"),
    Filesystem("/dev/sda2", "LVM2_member", "", "pVN9La-ubCc"),
    Filesystem("/dev/VolGroup00/LogVol00", "ext3", "", "fb06f3dc-b6be-5b38-af64-5b06a1ae17b1"),
    Filesystem("/dev/VolGroup00/LogVol01", "swap", "", "7fedf75c-39f7-4d4a-b47f-60f6654b97d8"),
]
EL5_LVS = ["/dev/VolGroup00/LogVol00", "/dev/VolGroup00/LogVol01"]


def test_mountpoints_el5():
    got = mountpoints_from_fstab(EL5_FSTAB, "/dev/VolGroup00/LogVol00", EL5_FS, EL5_LVS, "/dev/sda")
    assert got == (("/", "/dev/VolGroup00/LogVol00"), ("/boot", "/dev/sda1"))


def test_mountpoints_resolve_uuid_mapper_and_guest_disk_names():
    fs = [Filesystem("/dev/sdb1", "xfs", "", "385F6AB5-50F6-5990-A05A-AD2E80AE5ECF"),
          Filesystem("/dev/sdb3", "ext4", "", ""),
          Filesystem("/dev/centos/root", "xfs", "", "15f7"),
          Filesystem("/dev/centos/home", "xfs", "", "")]
    fstab = """
/dev/mapper/centos-root /                       xfs     defaults        0 0
UUID=385f6ab5-50f6-5990-a05a-ad2e80ae5ecf /boot xfs     defaults        0 0
/dev/mapper/centos-home /home//                 xfs     defaults        0 0
/dev/vda3               /srv                    ext4    defaults        0 0
/dev/vda9               /gone                   ext4    defaults        0 0
LABEL=nothing           /data                   ext4    defaults        0 0
server:/export          /net                    nfs     defaults        0 0
"""
    got = mountpoints_from_fstab(fstab, "/dev/centos/root", fs, ["/dev/centos/root", "/dev/centos/home"], "/dev/sdb")
    assert got == (("/", "/dev/centos/root"), ("/srv", "/dev/sdb3"), ("/boot", "/dev/sdb1"),
                   ("/home", "/dev/centos/home"))


def test_mountpoints_root_is_the_probed_filesystem_whatever_fstab_says():
    got = mountpoints_from_fstab("LABEL=/ / ext3 defaults 1 1\n", "/dev/sda2",
                                 [Filesystem("/dev/sda2", "ext3", "", "")], [], "/dev/sda")
    assert got == (("/", "/dev/sda2"),)


def test_disk_devices():
    parts = ["/dev/sda1", "/dev/sda2", "/dev/sdb1", "/dev/sdaa1", "/dev/sda10"]
    assert disk_devices(parts, "/dev/sda") == ["/dev/sda1", "/dev/sda2", "/dev/sda10"]
    assert disk_devices(parts, "/dev/sdc") == []


# --- the probing logic, on a fake guest ------------------------------------------------------

def _ext_head(label="", size_blocks=1000, fs_uuid=None):
    head = bytearray(HEAD_BYTES)
    sb = 1024
    struct.pack_into("<I", head, sb + 4, size_blocks)
    struct.pack_into("<I", head, sb + 24, 2)                 # 4 KiB blocks
    head[sb + 56:sb + 58] = b"\x53\xef"
    struct.pack_into("<III", head, sb + 92, 0x4, 0x2, 0x1)  # ext3
    head[sb + 104:sb + 120] = (fs_uuid or uuidlib.uuid4()).bytes
    head[sb + 120:sb + 120 + len(label)] = label.encode()
    return bytes(head)


class FakeGuest:
    """Just enough of rescue.appliance.Guest: devices with raw bytes, and trees to mount."""

    def __init__(self, devices: dict[str, bytes], trees: dict[str, dict[str, bytes]], lvs=()):
        self.devices_ = devices
        self.trees = trees
        self.lvs_ = list(lvs)
        self.mounted: dict[str, str] = {}
        self.mount_log: list[str] = []

    def partitions(self):
        return [d for d in self.devices_ if d.count("/") == 2]

    def lvs(self):
        return self.lvs_

    def devices(self):
        return ["/dev/sda"]

    def read_device(self, device, size, offset=0):
        return self.devices_[device][offset:offset + size]

    def blkid(self, device):
        return {}

    def disk_of(self, device):
        return "/dev/sda"

    def mount_ro(self, device, mountpoint):
        if device not in self.trees:
            raise RuntimeError(f"mount: {device}: wrong fs type")
        self.mounted[mountpoint] = device
        self.mount_log.append(device)

    def umount_all(self):
        self.mounted.clear()

    def _file(self, path):
        tree = self.trees[self.mounted["/"]]
        return tree.get(path)

    def ls(self, path):
        prefix = path.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.trees[self.mounted["/"]] if p.startswith(prefix)})

    def is_file(self, path):
        return self._file(path) is not None

    def is_dir(self, path):
        return any(p.startswith(path.rstrip("/") + "/") for p in self.trees[self.mounted["/"]])

    def read(self, path, limit=4 * 1024 * 1024, offset=0):
        data = self._file(path)
        if data is None:
            raise RuntimeError(f"{path}: No such file or directory")
        return data[offset:offset + limit]


def test_fast_inspect_on_a_fake_el5_guest():
    root_uuid = uuidlib.uuid4()
    devices = {
        "/dev/sda1": _ext_head("/boot", 25_000),
        "/dev/sda2": pv_image(VG_TEXT)[:0x100000],
        "/dev/VolGroup00/LogVol00": _ext_head("", 80_000, root_uuid),
        "/dev/VolGroup00/LogVol01": bytes(4086) + b"SWAPSPACE2" + bytes(4096),
        "/dev/OtherVG/lv": _ext_head("", 999_999),            # another disk's LV: never probed
    }
    trees = {
        "/dev/VolGroup00/LogVol00": {
            "/etc/fstab": EL5_FSTAB.encode(),
            "/etc/redhat-release": b"CentOS release 5.11 (Final)\n",
            "/bin/bash": _elf(64, "<", 0x3E),
            "/var/lib/rpm/rpmdb.sqlite": b"x",
        },
        "/dev/sda1": {"/grub/grub.conf": b""},
        "/dev/OtherVG/lv": {"/etc/fstab": b"", "/etc/redhat-release": b"Fedora release 20"},
    }
    guest = FakeGuest(devices, trees, lvs=[*EL5_LVS, "/dev/OtherVG/lv"])
    volumes = scan_disk(guest, "/dev/sda")
    assert [v.device for v in volumes] == ["/dev/sda1", "/dev/sda2", *EL5_LVS]
    assert [v.fstype for v in volumes] == ["ext3", "LVM2_member", "ext3", "swap"]
    roots = fast_inspect(guest, "/dev/sda", volumes)
    assert len(roots) == 1
    os_info = roots[0]
    assert (os_info.root, os_info.distro, os_info.product, os_info.major, os_info.minor, os_info.arch,
            os_info.package_format) == ("/dev/VolGroup00/LogVol00", "centos", "CentOS release 5.11 (Final)",
                                        5, 11, "x86_64", "rpm")
    assert os_info.mountpoints == (("/", "/dev/VolGroup00/LogVol00"), ("/boot", "/dev/sda1"))
    # the root LV is tried first, and /boot, which the root's fstab names, is never mounted as a candidate
    assert guest.mount_log == ["/dev/VolGroup00/LogVol00"]
    assert guest.mounted == {}


def test_fast_inspect_finds_nothing_without_fstab_or_release():
    devices = {"/dev/sda1": _ext_head("", 1000)}
    assert fast_inspect(FakeGuest(devices, {"/dev/sda1": {"/etc/fstab": b""}}), "/dev/sda") == []
    assert fast_inspect(FakeGuest(devices, {"/dev/sda1": {"/etc/redhat-release": b"CentOS release 6.10"}}),
                        "/dev/sda") == []
    assert fast_inspect(FakeGuest(devices, {}), "/dev/sda") == []          # mount fails


def test_fast_inspect_gives_up_on_btrfs_subvolume_roots():
    devices = {"/dev/sda2": _ext_head("", 1000)}
    tree = {"/etc/fstab": b"UUID=x / btrfs subvol=root 0 0\n", "/etc/os-release": b"ID=fedora\nVERSION_ID=39\n"}
    assert fast_inspect(FakeGuest(devices, {"/dev/sda2": tree}), "/dev/sda") == []


def test_inspect_disk_falls_back_to_libguestfs():
    from rescue.guest.inspect import inspect_disk
    from rescue.model import OsInfo

    class Slow(FakeGuest):
        # an /etc without fstab and release files: not a root for fast_inspect, maybe one for libguestfs
        def __init__(self, tree=None):
            super().__init__({"/dev/sda1": _ext_head("", 1000)},
                             {"/dev/sda1": {"/etc/hosts": b"127.0.0.1 localhost\n"} if tree is None else tree})
            self.asked = []

        def inspect(self):
            self.asked.append("inspect")
            return ["/dev/sda1", "/dev/sdb1"]

        def disk_of(self, device):
            return device[:-1]

        def os_info(self, root):
            return OsInfo(root, "sles", "SLES 15", 15, 5, "x86_64", "rpm", (("/", root),))

    guest = Slow()
    got = inspect_disk(guest, "/dev/sda")
    assert not got.fast and guest.asked == ["inspect"]
    assert [r.root for r in got.roots] == ["/dev/sda1"]
    assert got.filesystems == [Filesystem("/dev/sda1", "ext3", "", got.volumes[0].uuid)]

    # A filesystem without /etc holds no root for libguestfs either: it is not asked.
    data_disk = Slow(tree={"/projects/README": b"data\n"})
    got = inspect_disk(data_disk, "/dev/sda")
    assert got.roots == () and data_disk.asked == []


def test_inspect_disk_fast_path_never_asks_libguestfs():
    from rescue.guest.inspect import inspect_disk
    devices = {"/dev/sda1": _ext_head("", 1000)}
    tree = {"/etc/fstab": b"/dev/sda1 / ext3 defaults 1 1\n", "/etc/redhat-release": b"CentOS release 6.10 (Final)\n",
            "/bin/bash": _elf(64, "<", 0x3E)}
    guest = FakeGuest(devices, {"/dev/sda1": tree})
    got = inspect_disk(guest, "/dev/sda")        # FakeGuest has no inspect(): calling it would fail
    assert got.fast and [(r.root, r.version, r.mountpoints) for r in got.roots] == \
        [("/dev/sda1", "6.10", (("/", "/dev/sda1"),))]
    assert got.lvs == []


# --- disks without a Linux root (issue 7) -------------------------------------------------

def _found(volumes, **kw):
    from rescue.guest.inspect import DiskInspection
    return DiskInspection("/dev/sdb", (), tuple(volumes), fast=True, **kw)


def test_windows_and_luks_are_refused_with_what_they_are():
    from rescue.errors import Exit
    from rescue.guest.inspect import no_root_error
    win = no_root_error("w.qcow2", _found([Volume("/dev/sdb1", "ntfs")], windows="/dev/sdb1"))
    assert win.code == "NOT_LINUX" and "partition 1 holds Windows" in win.message and win.exit_status == Exit.IMAGE
    luks = no_root_error("l.qcow2", _found([Volume("/dev/sdb1", "ext4"), Volume("/dev/sdb2", "crypto_LUKS")]))
    assert luks.code == "ENCRYPTED" and "partition 2 is LUKS-encrypted" in luks.message
    assert "--keys-from-stdin" in luks.hint
    assert no_root_error("d.qcow2", _found([Volume("/dev/sdb1", "ext4")])) is None


def test_no_root_facts_name_the_volumes():
    from rescue.guest.inspect import no_root_facts
    facts = no_root_facts("d.qcow2", _found([Volume("/dev/sdb", "")]), in_use="locked")
    assert facts.os is None and facts.volumes == (("the whole disk", ""),) and facts.in_use == "locked"
    failed = no_root_facts("d.qcow2", _found([Volume("/dev/sdb1", "vfat")], inspect_error="unknown architecture"))
    assert "libguestfs's inspection failed: unknown architecture" in failed.notes[0]


@pytest.mark.parametrize("fstypes, needed", [
    ((), False), (("",), False), (("ext4", "swap", "LVM2_member", "crypto_LUKS", "ntfs"), False),
    (("vfat",), True), (("ufs",), True),
])
def test_libguestfs_is_asked_only_about_what_fast_inspect_cannot_judge(fstypes, needed):
    from rescue.guest.inspect import needs_libguestfs
    assert needs_libguestfs([Volume(f"/dev/sda{i}", t) for i, t in enumerate(fstypes, 1)]) == needed


def test_boot_partition_helpers():
    from rescue.guest.inspect import fstab_mounts, looks_like_boot
    assert looks_like_boot(["grub", "lost+found"]) and looks_like_boot(["vmlinuz-3.10.0-1160.el7.x86_64"])
    assert not looks_like_boot(["lost+found", "projects"]) and not looks_like_boot([])
    fstab = "/dev/mapper/vg-root / ext4 defaults 1 1\nUUID=gone /boot/ ext4 defaults 1 2\n"
    assert fstab_mounts(fstab, "/boot") and not fstab_mounts(fstab, "/var")

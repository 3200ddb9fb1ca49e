"""Find the Linux root on one disk, fast: vmrescue's own light inspection.

libguestfs's `inspect_os` costs 12-19 s per guest under TCG (augeas parses
fstab, sysconfig and more for every filesystem) and `list_filesystems` about
6 s; `blkid` behind `vfs_type`/`vfs_label`/`vfs_uuid` about 0.15 s a call.
What vmrescue needs is much less, so it is read directly:

1. Which devices belong to the disk: its partitions, and the LVs of the
   volume groups whose physical volumes lie on it.
2. What each holds: its superblock, read raw (two small preads, no blkid):
   ext2/3/4, xfs, btrfs, swap, LVM2 PV, with label, UUID and size. Anything
   else falls back to one `blkid` call.
3. Which one is a root: each candidate (largest first) is mounted read-only
   at "/" in turn and looked at: /etc/fstab and a release file.
4. What the root says: distro and version from the release files (the same
   precedence and names as libguestfs), the architecture from the ELF header
   of /bin/bash, the package format, and the mountpoints from /etc/fstab
   resolved against the table of step 2.

`fast_inspect` returns [] when it finds nothing it is sure of, so the caller
can fall back to libguestfs's inspection. Deciding (the parsers below) is
kept apart from reading (the functions taking a `Guest`), so every rule is
tested on tables without an appliance.
"""
from __future__ import annotations

import re
import struct
import uuid as uuidlib
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from rescue.devices import Filesystem, partition_name, resolve_spec
from rescue.errors import Exit, RescueError
from rescue.model import GuestFacts, OsInfo

ROOT_FSTYPES = ("ext2", "ext3", "ext4", "xfs", "btrfs")
# What holds no operating system for libguestfs's inspection either: nothing
# recognisable, swap, an external journal, an LVM PV (its LVs are volumes of
# their own) and LUKS (unreadable without the passphrase). NTFS is looked at
# here for Windows; anything else is left to libguestfs.
NO_ROOT_FSTYPES = frozenset({"", "swap", "jbd", "LVM2_member", "crypto_LUKS"})
WINDOWS_FSTYPES = frozenset({"ntfs"})
TEXT_LIMIT = 64 * 1024          # release files are one line
FSTAB_LIMIT = 1024 * 1024
ELF_BINARIES = ("/bin/bash", "/usr/bin/bash", "/bin/ls", "/usr/bin/ls", "/bin/sh", "/usr/bin/sh")

# --- 1/2. what a device holds: superblocks, read raw --------------------------------


@dataclass(frozen=True)
class Volume:
    """One partition or LV of a disk and what its first bytes say it holds."""
    device: str
    fstype: str             # "ext4", "xfs", "swap", "LVM2_member", ... "" when unknown
    label: str = ""
    uuid: str = ""
    size: int = 0           # filesystem size in bytes when the superblock says, else 0
    is_lv: bool = False

    def filesystem(self) -> Filesystem:
        return Filesystem(self.device, self.fstype, self.label, self.uuid)


HEAD_BYTES = 8192               # ext (1024), xfs (0), swap (4086), LVM label (sectors 0-3) and,
                                # usually, the LVM metadata area header (4096)
BTRFS_OFFSET = 64 * 1024
BTRFS_BYTES = 1024

# ext feature flags (e2fsprogs lib/ext2fs/ext2_fs.h) and blkid's ext2/ext3/ext4 rules
# (util-linux libblkid/src/superblocks/ext.c): ext2 and ext3 support only a few
# incompat/ro_compat features; any other makes the filesystem ext4.
_EXT_COMPAT_HAS_JOURNAL = 0x0004
_EXT_INCOMPAT_JOURNAL_DEV = 0x0008
_EXT_INCOMPAT_64BIT = 0x0080
_EXT2_INCOMPAT_SUPP = 0x0002 | 0x0010            # filetype, meta_bg
_EXT3_INCOMPAT_SUPP = 0x0002 | 0x0004 | 0x0010   # filetype, recover, meta_bg
_EXT3_RO_COMPAT_SUPP = 0x0001 | 0x0002 | 0x0004  # sparse_super, large_file, btree_dir
_EXT_FLAGS_TEST_FILESYS = 0x0004


def _cstring(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _uuid(data: bytes) -> str:
    return "" if data == bytes(16) else str(uuidlib.UUID(bytes=bytes(data)))


def _ext(head: bytes) -> Volume | None:
    sb = head[1024:2048]
    if len(sb) < 1024 or sb[56:58] != b"\x53\xef":
        return None
    compat, incompat, ro_compat = struct.unpack_from("<III", sb, 92)
    if incompat & _EXT_INCOMPAT_JOURNAL_DEV:
        return Volume("", "jbd", _cstring(sb[120:136]), _uuid(sb[104:120]))
    if incompat & ~_EXT3_INCOMPAT_SUPP or ro_compat & ~_EXT3_RO_COMPAT_SUPP:
        s_flags, = struct.unpack_from("<I", sb, 0x160)
        fstype = "ext4dev" if s_flags & _EXT_FLAGS_TEST_FILESYS else "ext4"
    elif compat & _EXT_COMPAT_HAS_JOURNAL:
        fstype = "ext3"
    elif incompat & ~_EXT2_INCOMPAT_SUPP:
        fstype = "ext4"          # "needs recovery" without a journal: blkid calls it neither ext2 nor ext3
    else:
        fstype = "ext2"
    blocks, = struct.unpack_from("<I", sb, 4)
    if incompat & _EXT_INCOMPAT_64BIT:
        blocks |= struct.unpack_from("<I", sb, 0x150)[0] << 32
    log_block, = struct.unpack_from("<I", sb, 24)
    size = blocks * (1024 << log_block) if log_block < 7 else 0
    return Volume("", fstype, _cstring(sb[120:136]), _uuid(sb[104:120]), size)


def _xfs(head: bytes) -> Volume | None:
    if head[:4] != b"XFSB" or len(head) < 120:
        return None
    blocksize, dblocks = struct.unpack_from(">IQ", head, 4)
    return Volume("", "xfs", _cstring(head[108:120]), _uuid(head[32:48]), blocksize * dblocks)


def _swap(head: bytes) -> Volume | None:
    if head[4086:4096] not in (b"SWAPSPACE2", b"SWAP-SPACE"):
        return None
    return Volume("", "swap", _cstring(head[1052:1068]), _uuid(head[1036:1052]))


def _lvm_label_at(head: bytes) -> int | None:
    """Offset of the LVM2 label ("LABELONE" ... "LVM2 001") in sectors 0-3, or None."""
    for sector in range(4):
        at = sector * 512
        if head[at:at + 8] == b"LABELONE" and head[at + 24:at + 32] == b"LVM2 001":
            return at
    return None


def _lvm(head: bytes) -> Volume | None:
    at = _lvm_label_at(head)
    if at is None:
        return None
    offset, = struct.unpack_from("<I", head, at + 20)
    pv_uuid = head[at + offset:at + offset + 32].decode("ascii", errors="replace") if offset < 512 else ""
    return Volume("", "LVM2_member", "", _lvm_uuid(pv_uuid))


def _lvm_uuid(raw: str) -> str:
    """LVM prints its 32-character ids in groups of 6-4-4-4-4-4-6."""
    if len(raw) != 32:
        return raw
    cuts = (6, 4, 4, 4, 4, 4, 6)
    parts, pos = [], 0
    for n in cuts:
        parts.append(raw[pos:pos + n])
        pos += n
    return "-".join(parts)


def _btrfs(block: bytes) -> Volume | None:
    # superblock at 64 KiB: csum(32) fsid(16) bytenr(8) flags(8) magic(8) ... total_bytes at 0x70, label at 0x12b
    if block[64:72] != b"_BHRfS_M" or len(block) < 0x12B + 256:
        return None
    total, = struct.unpack_from("<Q", block, 0x70)
    return Volume("", "btrfs", _cstring(block[0x12B:0x12B + 256]), _uuid(block[32:48]), total)


def identify(head: bytes, btrfs_block: bytes = b"") -> Volume | None:
    """What a device's first 4 KiB or more (and the 1 KiB at 64 KiB, for btrfs) say it holds.

    None when nothing or more than one signature is recognised (a stale
    signature under a newer filesystem): the caller then asks blkid.
    """
    found = [v for v in (_ext(head), _xfs(head), _swap(head), _lvm(head)) if v is not None]
    if btrfs_block:
        found += [v for v in (_btrfs(btrfs_block),) if v is not None]
    return found[0] if len(found) == 1 else None


# --- LVM: which volume group a physical volume belongs to -----------------------------

_MDA_MAGIC = b" LVM2 x[5A%r0N*>"
_MDA_HEADER_SIZE = 512
_VG_NAME = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$")


def pv_metadata_areas(head: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the metadata areas a PV label lists (lvm2 lib/format_text/layout.h).

    The label's pv_header holds the PV uuid (32), the device size (8), then
    two lists of (offset u64, size u64) each ended by a zero entry: data
    areas, then metadata areas. Little-endian.
    """
    at = _lvm_label_at(head)
    if at is None:
        return []
    offset, = struct.unpack_from("<I", head, at + 20)
    pos = at + offset + 32 + 8
    lists: list[list[tuple[int, int]]] = [[], []]
    for which in (0, 1):
        for _ in range(16):                     # a PV has one or two areas of each kind
            if pos + 16 > at + 512:
                return []
            loc_offset, loc_size = struct.unpack_from("<QQ", head, pos)
            pos += 16
            if loc_offset == 0:
                break
            lists[which].append((loc_offset, loc_size))
    return lists[1]


def mda_text_location(mda_header: bytes) -> tuple[int, int, int] | None:
    """(offset of the text within the area, its size, the area's size) from an mda header."""
    if len(mda_header) < 64 or mda_header[4:20] != _MDA_MAGIC:
        return None
    _start, area_size = struct.unpack_from("<QQ", mda_header, 24)
    text_offset, text_size = struct.unpack_from("<QQ", mda_header, 40)
    if text_offset == 0 or text_size == 0 or not _MDA_HEADER_SIZE <= text_offset < area_size:
        return None
    return text_offset, text_size, area_size


def vg_name_from_metadata(text: bytes) -> str | None:
    """The VG name a metadata text starts with: `VolGroup00 {` ..."""
    for line in text.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].strip()
        return name if "{" in line and _VG_NAME.match(name) else None
    return None


def read_vg_name(read: Callable[[int, int], bytes], head: bytes) -> str | None:
    """The VG of the PV whose first bytes are `head`; `read(size, offset)` reads more of the device."""
    for area_offset, _area_size in pv_metadata_areas(head):
        if area_offset + _MDA_HEADER_SIZE <= len(head):
            mda_header = head[area_offset:area_offset + _MDA_HEADER_SIZE]
        else:
            mda_header = read(_MDA_HEADER_SIZE, area_offset)
        location = mda_text_location(mda_header)
        if location is None:
            continue
        text_offset, text_size, area_size = location
        want = min(text_size, 512)
        first = min(want, area_size - text_offset)
        text = read(first, area_offset + text_offset)
        if first < want:                       # the circular buffer wraps after its header
            text += read(want - first, area_offset + _MDA_HEADER_SIZE)
        name = vg_name_from_metadata(text)
        if name:
            return name
    return None


# --- 4. what a root says: release files, ELF, fstab ----------------------------------


@dataclass(frozen=True)
class Release:
    distro: str                 # libguestfs's name: centos, rhel, fedora, debian, ...
    product: str
    major: int
    minor: int


# /etc/os-release ID → libguestfs distro name (libguestfs daemon/inspect_fs_unix.ml)
OS_RELEASE_IDS = {
    "almalinux": "almalinux", "alpine": "alpinelinux", "altlinux": "altlinux", "arch": "archlinux",
    "centos": "centos", "circle": "circle", "clear-linux-os": "clearlinux", "debian": "debian",
    "fedora": "fedora", "frugalware": "frugalware", "gentoo": "gentoo", "kali": "kalilinux",
    "linuxmint": "linuxmint", "mageia": "mageia", "neokylin": "neokylin", "ol": "oraclelinux",
    "openmandriva": "openmandriva", "opensuse": "opensuse", "opensuse-leap": "opensuse",
    "opensuse-tumbleweed": "opensuse", "rhel": "rhel", "rocky": "rocky", "scientific": "scientificlinux",
    "sled": "sles", "sles": "sles", "ubuntu": "ubuntu", "void": "voidlinux", "cirros": "cirros",
}
RPM_DISTROS = {"almalinux", "altlinux", "centos", "fedora", "mageia", "openmandriva", "opensuse",
               "oraclelinux", "redhat-based", "rhel", "rocky", "scientificlinux", "sles", "neokylin"}
DEB_DISTROS = {"debian", "ubuntu", "linuxmint", "kalilinux"}

# First line of /etc/redhat-release and friends: product prefix → distro.
_REDHAT_PRODUCTS = (
    ("Fedora", "fedora"),
    ("Red Hat Enterprise Linux", "rhel"),
    ("CentOS", "centos"),
    ("Scientific Linux", "scientificlinux"),
    ("Oracle Linux", "oraclelinux"),
    ("Enterprise Linux Enterprise Linux", "oraclelinux"),   # Oracle EL5's /etc/enterprise-release
    ("Rocky Linux", "rocky"),
    ("AlmaLinux", "almalinux"),
)
_RELEASE_UPDATE = re.compile(r"release (\d+)\D.*Update (\d+)")      # RHEL 4: "release 4 (Nahant Update 9)"
_RELEASE_VERSION = re.compile(r"release (\d+)(?:\.(\d+))?")


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0].strip()


def parse_redhat_release(text: str) -> Release | None:
    """ "CentOS Linux release 7.9.2009 (Core)" → centos 7.9; unknown products → redhat-based."""
    line = _first_line(text)
    if not line:
        return None
    distro = next((d for prefix, d in _REDHAT_PRODUCTS if line.startswith(prefix)), "redhat-based")
    m = _RELEASE_UPDATE.search(line) or _RELEASE_VERSION.search(line)
    if m is None:
        return Release(distro, line, 0, 0) if distro != "redhat-based" else None
    return Release(distro, line, int(m.group(1)), int(m.group(2) or 0))


def parse_os_release(text: str) -> Release | None:
    """ID, VERSION_ID and PRETTY_NAME of /etc/os-release (shell-style assignments)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if m:
            value = m.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[m.group(1)] = value
    os_id = values.get("ID", "").lower()
    if not os_id:
        return None
    distro = OS_RELEASE_IDS.get(os_id, "unknown")
    m = re.match(r"^(\d+)(?:\.(\d+))?", values.get("VERSION_ID", ""))
    major, minor = (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)
    product = values.get("PRETTY_NAME") or values.get("NAME") or os_id
    return Release(distro, product, major, minor)


def parse_debian_version(text: str) -> Release | None:
    """ "12.5" → debian 12.5; "bookworm/sid" (testing, or Ubuntu's) → None."""
    line = _first_line(text)
    m = re.match(r"^(\d+)(?:\.(\d+))?", line)
    if not m:
        return None
    return Release("debian", f"Debian GNU/Linux {line}", int(m.group(1)), int(m.group(2) or 0))


# In libguestfs's order: os-release wins unless it gives CentOS or Debian
# without a minor version (their VERSION_ID is the major only), then the
# specific release files before the generic redhat-release (Oracle's
# redhat-release claims to be Red Hat).
RELEASE_FILES: tuple[tuple[str, Callable[[str], Release | None]], ...] = (
    ("/etc/os-release", parse_os_release),
    ("/etc/oracle-release", parse_redhat_release),
    ("/etc/enterprise-release", parse_redhat_release),
    ("/etc/fedora-release", parse_redhat_release),
    ("/etc/redhat-release", parse_redhat_release),
    ("/etc/centos-release", parse_redhat_release),
    ("/etc/system-release", parse_redhat_release),
    ("/etc/debian_version", parse_debian_version),
)


def choose_release(read: Callable[[str], str | None]) -> Release | None:
    """The release the guest's release files describe; `read(path)` gives a file's text or None.

    Files are read in order and only until one decides (a dict's `get` will do in tests).
    """
    fallback = None
    for path, parse in RELEASE_FILES:
        text = read(path)
        release = parse(text) if text is not None else None
        if release is None:
            continue
        if path == "/etc/os-release" and (release.distro == "unknown"
                                          or (release.distro in ("centos", "debian") and release.minor == 0)):
            fallback = release
            continue
        return release
    return fallback


# ELF e_machine → libguestfs's architecture name (ELF gABI machine numbers).
_ELF_MACHINES: dict[int, Callable[[int, str], str]] = {
    0x03: lambda bits, order: "i386",
    0x3E: lambda bits, order: "x86_64",
    0xB7: lambda bits, order: "aarch64",
    0x28: lambda bits, order: "arm",
    0x15: lambda bits, order: "ppc64le" if order == "<" else "ppc64",
    0x14: lambda bits, order: "ppc",
    0x16: lambda bits, order: "s390x" if bits == 64 else "s390",
    0x2B: lambda bits, order: "sparc64",
    0x02: lambda bits, order: "sparc",
    0x32: lambda bits, order: "ia64",
    0xF3: lambda bits, order: "riscv64" if bits == 64 else "riscv32",
    0x08: lambda bits, order: ("mips64" if bits == 64 else "mips") + ("el" if order == "<" else ""),
    0x102: lambda bits, order: "loongarch64",
}


def elf_arch(header: bytes) -> str | None:
    """The architecture of an ELF file from its first 20 bytes (e_ident, e_type, e_machine)."""
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] not in (1, 2) or header[5] not in (1, 2):
        return None
    bits = 32 if header[4] == 1 else 64
    order = "<" if header[5] == 1 else ">"
    machine, = struct.unpack_from(order + "H", header, 18)
    name = _ELF_MACHINES.get(machine)
    return name(bits, order) if name else None


def package_format(distro: str, has_rpmdb: bool, has_dpkg: bool) -> str:
    if distro in RPM_DISTROS:
        return "rpm"
    if distro in DEB_DISTROS:
        return "deb"
    if has_rpmdb:
        return "rpm"
    if has_dpkg:
        return "deb"
    return "unknown"


@dataclass(frozen=True)
class FstabEntry:
    spec: str
    mountpoint: str
    fstype: str
    options: str


def parse_fstab_entries(text: str) -> list[FstabEntry]:
    """Every fstab line with at least spec, mountpoint, type; comments and junk skipped."""
    rows = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3:
            rows.append(FstabEntry(fields[0], fields[1], fields[2], fields[3] if len(fields) > 3 else ""))
    return rows


# Mountpoints libguestfs leaves out of inspect_get_mountpoints: pseudo and
# removable filesystems, and anything not backed by a block device.
_SKIP_FSTYPES = {"swap", "proc", "sysfs", "devpts", "tmpfs", "devtmpfs", "nfs", "nfs4", "cifs", "smbfs",
                 "auto", "iso9660", "udf", "usbfs", "binfmt_misc", "securityfs", "debugfs", "cgroup",
                 "none", "ignore", "autofs", "fuse", "rpc_pipefs", "hugetlbfs", "mqueue"}
_SKIP_MOUNTPOINTS = re.compile(r"^/(?:proc|sys|dev|media|mnt/cdrom|selinux)(?:/|$)")


def _canonical_mountpoint(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def mountpoints_from_fstab(text: str, root: str, filesystems: Sequence[Filesystem], lvs: Sequence[str],
                           first_disk: str) -> tuple[tuple[str, str], ...]:
    """(mountpoint, appliance device) of the guest's fstab, "/" first, then shorter paths first.

    "/" is always `root` (the filesystem the fstab was read from). Entries
    whose spec names no filesystem of this disk are left out, as are swap,
    pseudo filesystems and removable media.
    """
    found: dict[str, str] = {"/": root}
    usable = {fs.device for fs in filesystems if fs.fstype not in ("swap", "LVM2_member", "")}
    for entry in parse_fstab_entries(text):
        mountpoint = _canonical_mountpoint(entry.mountpoint)
        if not entry.mountpoint.startswith("/") or mountpoint in found:
            continue
        if entry.fstype in _SKIP_FSTYPES or _SKIP_MOUNTPOINTS.match(mountpoint):
            continue
        if entry.spec.startswith("/dev/fd") or entry.spec.startswith("/dev/cdrom"):
            continue
        device = resolve_spec(entry.spec, list(filesystems), list(lvs), first_disk)
        if device is not None and device in usable:
            found[mountpoint] = device
    return tuple(sorted(found.items(), key=lambda kv: (len(kv[0]), kv[0])))


def btrfs_subvolume_root(text: str) -> bool:
    """True when the guest's "/" is a btrfs subvolume (mounting the top level would be wrong)."""
    for entry in parse_fstab_entries(text):
        if _canonical_mountpoint(entry.mountpoint) == "/" and "subvol" in entry.options:
            return True
    return False


# --- reading a guest -----------------------------------------------------------------


def disk_devices(partitions: Sequence[str], disk: str) -> list[str]:
    """The partitions of `disk` among the appliance's partitions (/dev/sdb → /dev/sdb1, /dev/sdb2 ...)."""
    pattern = re.compile(rf"^{re.escape(disk)}p?\d+$")
    return [p for p in partitions if pattern.match(p)]


def _probe_device(guest, device: str) -> tuple[Volume, bytes]:
    """What `device` holds, and its first bytes; one or two raw reads, blkid only as a last resort."""
    try:
        head = guest.read_device(device, HEAD_BYTES, 0)
    except RuntimeError:
        head = b""
    volume = identify(head)
    if volume is None and head:
        try:
            volume = identify(head, guest.read_device(device, BTRFS_BYTES, BTRFS_OFFSET))
        except RuntimeError:
            volume = None
    if volume is None:
        info = guest.blkid(device)
        volume = Volume("", info.get("TYPE", ""), info.get("LABEL", ""), info.get("UUID", ""))
    return replace(volume, device=device), head


def scan_disk(guest, disk: str) -> list[Volume]:
    """Every partition of `disk` and every LV whose volume group has a PV on it, identified.

    A PV's volume group is read from its LVM metadata (two small raw reads);
    only if that fails is libguestfs asked (`Guest.disk_of`, several LVM
    calls per LV). Clones sharing a VG name are told apart only if the caller
    lets LVM see one disk at a time (`Guest.lvm_only`).
    """
    partitions = disk_devices(guest.partitions(), disk) or [disk]
    volumes, vgs, unknown_vg = [], set(), False
    for device in partitions:
        volume, head = _probe_device(guest, device)
        volumes.append(volume)
        if volume.fstype == "LVM2_member":
            name = read_vg_name(lambda size, offset, d=device: guest.read_device(d, size, offset), head)
            if name:
                vgs.add(name)
            else:
                unknown_vg = True
    if not vgs and not unknown_vg:
        return volumes              # no PV on this disk: its LVs, if any, are another disk's
    for lv in guest.lvs():
        vg = lv.split("/")[2] if lv.count("/") == 3 else ""
        if vg in vgs or (unknown_vg and guest.disk_of(lv) == disk):
            volumes.append(replace(_probe_device(guest, lv)[0], is_lv=True))
    return volumes


def fast_inspect(guest, disk: str, volumes: Sequence[Volume] | None = None) -> list[OsInfo]:
    """The Linux roots on `disk` (an appliance device such as /dev/sda), without inspect_os.

    `volumes` is `scan_disk(guest, disk)` when the caller already has it.
    Candidates are tried LVs first, then largest first, and a filesystem
    that a found root mounts elsewhere (its /boot ...) is not tried as a
    root. Nothing stays mounted. [] means "not found here": fall back to
    libguestfs (`inspect_disk` does).
    """
    return _fast_roots(guest, disk, volumes)[0]


def _fast_roots(guest, disk: str, volumes: Sequence[Volume] | None = None) -> tuple[list[OsInfo], set[str]]:
    """`fast_inspect`'s roots, and the devices it mounted and rejected although they have an /etc
    (libguestfs's inspection might still make out an operating system there)."""
    volumes = list(volumes) if volumes is not None else scan_disk(guest, disk)
    filesystems = [v.filesystem() for v in volumes]
    lvs = [v.device for v in volumes if v.is_lv]
    # LVs first (an LVM guest's root is an LV, its /boot a partition), then the largest.
    candidates = sorted((v for v in volumes if v.fstype in ROOT_FSTYPES),
                        key=lambda v: (not v.is_lv, -v.size, v.device))
    roots: list[OsInfo] = []
    claimed: set[str] = set()
    unsure: set[str] = set()
    for volume in candidates:
        if volume.device in claimed:
            continue
        found = _probe_root(guest, volume.device, filesystems, lvs, disk, unsure)
        if found is None:
            continue
        roots.append(found)
        claimed.update(device for mountpoint, device in found.mountpoints if mountpoint != "/")
    return roots, unsure - claimed - {r.root for r in roots}


def _probe_root(guest, device: str, filesystems, lvs, disk: str, unsure: set[str] | None = None) -> OsInfo | None:
    try:
        guest.mount_ro(device, "/")
    except RuntimeError:
        return None
    etc: set[str] = set()
    try:
        etc = set(guest.ls("/etc"))
        found = _probe_mounted_root(guest, device, filesystems, lvs, disk, etc)
        if found is None and etc and unsure is not None:
            unsure.add(device)
        return found
    except RuntimeError:
        if etc and unsure is not None:
            unsure.add(device)
        return None
    finally:
        guest.umount_all()


def _probe_mounted_root(guest, device: str, filesystems, lvs, disk: str, etc: set[str]) -> OsInfo | None:
    """The OS whose root is mounted at "/", or None."""
    if "fstab" not in etc or not guest.is_file("/etc/fstab"):
        return None

    def read(path: str) -> str | None:
        if path.rsplit("/", 1)[1] not in etc or not guest.is_file(path):
            return None
        return guest.read(path, TEXT_LIMIT).decode("utf-8", errors="replace")

    release = choose_release(read)
    if release is None:
        return None
    fstab = guest.read(path="/etc/fstab", limit=FSTAB_LIMIT).decode("utf-8", errors="replace")
    if btrfs_subvolume_root(fstab):
        return None             # subvolumes need mount options this probe does not pass
    mountpoints = mountpoints_from_fstab(fstab, device, filesystems, lvs, disk)
    arch = _arch(guest)
    if arch is None and "/usr" in dict(mountpoints):
        try:
            guest.mount_ro(dict(mountpoints)["/usr"], "/usr")
            arch = _arch(guest)
        except RuntimeError:
            pass
    if release.distro in RPM_DISTROS or release.distro in DEB_DISTROS:
        fmt = package_format(release.distro, False, False)
    else:
        fmt = package_format(release.distro, guest.is_dir("/var/lib/rpm"),
                             guest.is_file("/var/lib/dpkg/status"))
    if "/boot" not in dict(mountpoints) and not fstab_mounts(fstab, "/boot"):
        boot = _unlisted_boot(guest, device, filesystems, lvs, mountpoints)
        if boot is not None:
            mountpoints = tuple(sorted((*mountpoints, ("/boot", boot)), key=lambda kv: (len(kv[0]), kv[0])))
    return OsInfo(root=device, distro=release.distro, product=release.product, major=release.major,
                  minor=release.minor, arch=arch or "unknown", package_format=fmt,
                  mountpoints=mountpoints)


def fstab_mounts(fstab: str, mountpoint: str) -> bool:
    """Whether the fstab text has a line for `mountpoint` (resolvable or not)."""
    return any(_canonical_mountpoint(e.mountpoint) == mountpoint for e in parse_fstab_entries(fstab))


def looks_like_boot(names: Sequence[str]) -> bool:
    """Whether a filesystem's top-level names are those of a /boot: a GRUB directory or kernels."""
    return any(n in ("grub", "grub2", "loader") or n.startswith("vmlinuz-") for n in names)


def _unlisted_boot(guest, root: str, filesystems, lvs, mountpoints) -> str | None:
    """The partition GRUB reads /boot from when fstab forgot it: the root's own /boot
    is empty of kernels and GRUB files, and exactly one other partition looks like a /boot.

    GRUB never reads fstab, so such a guest still boots; only the running system
    misses /boot (and the next kernel update lands on the root filesystem).
    """
    if looks_like_boot(guest.ls("/boot")) or not guest.is_dir("/boot"):
        return None
    taken = {device for _, device in mountpoints} | {root}
    found = []
    for fs in filesystems:
        if fs.device in taken or fs.device in lvs or fs.fstype not in ROOT_FSTYPES:
            continue
        try:
            guest.mount_ro(fs.device, "/boot")
        except RuntimeError:
            continue
        try:
            if looks_like_boot(guest.ls("/boot")):
                found.append(fs.device)
        finally:
            guest.umount("/boot")
    return found[0] if len(found) == 1 else None


def _arch(guest) -> str | None:
    for path in ELF_BINARIES:
        try:
            if guest.is_file(path):
                arch = elf_arch(guest.read(path, 64))
                if arch:
                    return arch
        except RuntimeError:
            continue
    return None


# --- the entry point for callers -------------------------------------------------------


@dataclass(frozen=True)
class DiskInspection:
    """What is on one disk: its operating systems and its volumes."""
    disk: str                   # the appliance's device, /dev/sda
    roots: tuple[OsInfo, ...]
    volumes: tuple[Volume, ...]
    fast: bool                  # False: libguestfs's inspect_os had to answer
    windows: str | None = None  # the device of a Windows system found instead of a Linux root
    inspect_error: str | None = None    # libguestfs's inspection failed on the attached disks

    @property
    def filesystems(self) -> list[Filesystem]:
        """The (device, fstype, label, uuid) table for devices.resolve_spec, without list_filesystems."""
        return [v.filesystem() for v in self.volumes]

    @property
    def lvs(self) -> list[str]:
        return [v.device for v in self.volumes if v.is_lv]


def inspect_disk(guest, disk: str) -> DiskInspection:
    """`fast_inspect`, else libguestfs's inspection of the roots on `disk` (the slow, sure way).

    libguestfs is asked only when it could find something `fast_inspect` cannot:
    its inspection costs seconds per filesystem of *every* attached disk, and a
    hostile disk anywhere (a Windows tree it cannot parse) makes it fail for all.
    """
    volumes = tuple(scan_disk(guest, disk))
    found, unsure = _fast_roots(guest, disk, volumes)
    if found:
        return DiskInspection(disk, tuple(found), volumes, fast=True)
    windows = find_windows(guest, volumes)
    if windows is not None or not (unsure or needs_libguestfs(volumes)):
        return DiskInspection(disk, (), volumes, fast=True, windows=windows)
    try:
        roots = [root for root in guest.inspect() if guest.disk_of(root) == disk]
        infos = tuple(guest.os_info(root) for root in roots)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        return DiskInspection(disk, (), volumes, fast=False, inspect_error=lines[0] if lines else "failed")
    return DiskInspection(disk, infos, volumes, fast=False)


def needs_libguestfs(volumes: Sequence[Volume]) -> bool:
    """Whether a volume is of a kind only libguestfs's inspection knows (FAT, UFS, ...)."""
    return any(v.fstype not in NO_ROOT_FSTYPES and v.fstype not in ROOT_FSTYPES
               and v.fstype not in WINDOWS_FSTYPES for v in volumes)


def find_windows(guest, volumes: Sequence[Volume]) -> str | None:
    """The NTFS volume holding \\Windows\\System32, if any (looked up case-insensitively)."""
    for volume in volumes:
        if volume.fstype not in WINDOWS_FSTYPES:
            continue
        try:
            guest.mount_ro(volume.device, "/")
        except RuntimeError:
            continue
        try:
            path = guest.find_nocase("/windows/system32")
            if path is not None and guest.is_dir(path):
                return volume.device
        finally:
            guest.umount_all()
    return None


# --- a disk without a Linux root ---------------------------------------------------------

def no_root_error(image: str, found: DiskInspection) -> RescueError | None:
    """Why a disk without a Linux root cannot be diagnosed at all: Windows, or encryption."""
    if found.roots:
        return None
    if found.windows is not None:
        return RescueError(
            "NOT_LINUX",
            f"{image}: {partition_name(found.windows, found.disk)} holds Windows (\\Windows\\System32); "
            "vmrescue diagnoses and repairs Linux guests only.",
            "Repair a Windows guest with Windows' own tools (boot its installation media: Repair your "
            f"computer); virt-inspector -a {image} lists what the disk holds.", Exit.IMAGE)
    locked = [v.device for v in found.volumes if v.fstype == "crypto_LUKS"]
    if locked:
        where = ", ".join(partition_name(d, found.disk) for d in locked)
        return RescueError(
            "ENCRYPTED",
            f"{image}: {where} {'is' if len(locked) == 1 else 'are'} LUKS-encrypted and no Linux root is "
            "readable outside it; vmrescue cannot open encrypted volumes.",
            f"Unlock it with its passphrase yourself: guestfish --ro -a {image} -i --keys-from-stdin "
            "(or boot the VM and repair it from inside).", Exit.IMAGE)
    return None


def no_root_facts(image: str, found: DiskInspection, in_use: str | None = None) -> GuestFacts:
    """The facts of a disk where no operating system was found, for `rules.rule_no_os`."""
    if found.inspect_error:
        note = f"libguestfs's inspection failed: {found.inspect_error}"
    elif found.fast:
        note = "no filesystem on this disk holds a Linux root (/etc with fstab and a release file)"
    else:
        note = "libguestfs inspection found no operating system on this disk"
    return GuestFacts(image=image, os=None, notes=(note,), in_use=in_use,
                      volumes=tuple((partition_name(v.device, found.disk), v.fstype) for v in found.volumes))

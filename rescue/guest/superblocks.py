"""What a partition or LV holds, from its first bytes: superblocks and LVM labels. No I/O.

The reader (`rescue.guest.inspect`) hands over a device's first 8 KiB (and the
1 KiB at 64 KiB, for btrfs); `identify` says whether it is ext2/3/4, xfs,
btrfs, swap or an LVM2 physical volume, with label, UUID and size, and the
LVM metadata functions find the volume group a PV belongs to. Two small
raw reads instead of libguestfs's blkid (0.15 s a call under TCG).
"""
from __future__ import annotations

import re
import struct
import uuid as uuidlib
from dataclasses import dataclass
from typing import Callable

from rescue.guest.devices import Filesystem

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


def _fat(head: bytes) -> Volume | None:
    # FAT boot sector: the type string at 54 (FAT12/16) or 82 (FAT32), the volume serial (which blkid
    # prints as the UUID, XXXX-XXXX) and label after it; an EFI system partition is one.
    if len(head) < 512 or head[510:512] != b"\x55\xaa":
        return None
    for type_at, serial_at, label_at in ((82, 67, 71), (54, 39, 43)):
        if head[type_at:type_at + 3] == b"FAT":
            serial, = struct.unpack_from("<I", head, serial_at)
            label = head[label_at:label_at + 11].decode("ascii", errors="replace").strip()
            bytes_per_sector, = struct.unpack_from("<H", head, 11)
            total16, = struct.unpack_from("<H", head, 19)
            total32, = struct.unpack_from("<I", head, 32)
            size = (total16 or total32) * bytes_per_sector
            return Volume("", "vfat", "" if label == "NO NAME" else label, f"{serial >> 16:04X}-{serial & 0xFFFF:04X}",
                          size)
    return None


def identify(head: bytes, btrfs_block: bytes = b"") -> Volume | None:
    """What a device's first 4 KiB or more (and the 1 KiB at 64 KiB, for btrfs) say it holds.

    None when nothing or more than one signature is recognised (a stale
    signature under a newer filesystem): the caller then asks blkid.
    """
    found = [v for v in (_ext(head), _xfs(head), _swap(head), _lvm(head), _fat(head)) if v is not None]
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

"""The partition table, read raw: MBR (with its extended chain) or GPT, and the starts no entry covers. No I/O.

MBR entries (16 bytes at 0x1BE): status, CHS, type at +4, start LBA u32 at +8,
sector count u32 at +12. Logical partitions follow a chain of EBRs inside
the extended partition (types 0x05, 0x0F, 0x85), each EBR's second entry
pointing at the next one relative to the extended partition's start.
GPT (UEFI 2.x, 5.3): the header at LBA 1 ("EFI PART", entries' LBA at 0x48,
count at 0x50, entry size at 0x54), 128-byte entries with type GUID, first
and last LBA (inclusive); GUIDs stored mixed-endian.
"""
from __future__ import annotations

import struct
import uuid as uuidlib
from dataclasses import dataclass

SECTOR = 512
EXTENDED_TYPES = (0x05, 0x0F, 0x85)
GPT_PROTECTIVE = 0xEE
MAX_LOGICAL = 64                       # an EBR chain longer than this is a loop or junk
BIOS_BOOT_GUID = "21686148-6449-6e6f-744e-656564454649"
GPT_TYPES = {
    BIOS_BOOT_GUID: "BIOS boot",
    "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI System",
    "0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
    "e6d6d379-f507-44c2-a23c-238f2a3df928": "Linux LVM",
    "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "Linux swap",
    "a19d880f-05fc-4d3b-a006-743f0f84911e": "Linux RAID",
    "bc13c2ff-59e6-4262-a352-b275fd6f7172": "Linux /boot (XBOOTLDR)",
}


@dataclass(frozen=True)
class TableEntry:
    number: int                 # as the kernel numbers it: 1-4 primary, 5+ logical; GPT in table order
    start: int                  # first sector
    sectors: int
    type: str                   # "0x83", or the GPT type's name (its GUID when unknown)

    @property
    def end(self) -> int:
        """The sector after the last one."""
        return self.start + self.sectors


def mbr_entries(sector0: bytes) -> list[TableEntry]:
    """The four primary entries that are in use (type not 0, size not 0)."""
    found = []
    if len(sector0) < SECTOR or sector0[0x1FE:0x200] != b"\x55\xaa":
        return found
    for i in range(4):
        raw = sector0[0x1BE + 16 * i:0x1BE + 16 * (i + 1)]
        ptype = raw[4]
        start, count = struct.unpack_from("<II", raw, 8)
        if ptype and count:
            found.append(TableEntry(i + 1, start, count, f"0x{ptype:02x}"))
    return found


def is_gpt(entries: list[TableEntry]) -> bool:
    return any(e.type == f"0x{GPT_PROTECTIVE:02x}" for e in entries)


def extended(entries: list[TableEntry]) -> TableEntry | None:
    return next((e for e in entries if int(e.type, 16) in EXTENDED_TYPES), None)


def ebr_entries(ebr: bytes, ext_start: int, this_start: int, number: int) -> tuple[TableEntry | None, int | None]:
    """One EBR: its logical partition (start relative to this EBR) and the next EBR's sector, if any."""
    if len(ebr) < SECTOR or ebr[0x1FE:0x200] != b"\x55\xaa":
        return None, None
    ptype = ebr[0x1BE + 4]
    start, count = struct.unpack_from("<II", ebr, 0x1BE + 8)
    logical = TableEntry(number, this_start + start, count, f"0x{ptype:02x}") if ptype and count else None
    next_type = ebr[0x1CE + 4]
    next_start, next_count = struct.unpack_from("<II", ebr, 0x1CE + 8)
    following = ext_start + next_start if next_type in EXTENDED_TYPES and next_count else None
    return logical, following


@dataclass(frozen=True)
class GptHeader:
    entries_lba: int
    count: int
    entry_size: int
    first_usable: int
    last_usable: int


def gpt_header(sector1: bytes) -> GptHeader | None:
    if len(sector1) < 92 or sector1[:8] != b"EFI PART":
        return None
    first, last = struct.unpack_from("<QQ", sector1, 0x28)
    entries_lba, count, size = struct.unpack_from("<QII", sector1, 0x48)
    if size < 128 or count == 0:
        return None
    return GptHeader(entries_lba, min(count, 256), size, first, last)


def gpt_entries(header: GptHeader, data: bytes) -> list[TableEntry]:
    found = []
    for i in range(header.count):
        raw = data[i * header.entry_size:i * header.entry_size + 128]
        if len(raw) < 128 or not any(raw[:16]):
            continue
        type_guid = str(uuidlib.UUID(bytes_le=bytes(raw[:16])))
        first, last = struct.unpack_from("<QQ", raw, 0x20)
        if last >= first:
            found.append(TableEntry(i + 1, first, last - first + 1, GPT_TYPES.get(type_guid, type_guid)))
    return found


def covered(entries: list[TableEntry], sector: int) -> bool:
    return any(e.start <= sector < e.end for e in entries if int_type(e) not in EXTENDED_TYPES)


def int_type(e: TableEntry) -> int:
    return int(e.type, 16) if e.type.startswith("0x") else -1


def uncovered_starts(entries: list[TableEntry], disk_sectors: int, limit: int = 64) -> list[int]:
    """Sectors where a filesystem or PV may start that no partition covers, the likeliest first.

    What installers and TestDisk try: 63 (DOS alignment), 2048 and every
    other 1 MiB boundary in a stretch no partition holds, and the sector after
    each partition's end (a partition removed from after another).
    """
    used = sorted((e.start, e.end) for e in entries if int_type(e) not in EXTENDED_TYPES)
    candidates: list[int] = [63, 2048]
    candidates += [end for _, end in used]
    gaps, pos = [], 1
    for start, end in used:
        if start > pos:
            gaps.append((pos, start))
        pos = max(pos, end)
    if pos < disk_sectors:
        gaps.append((pos, disk_sectors))
    for start, end in gaps:
        aligned = (start + 2047) // 2048 * 2048
        candidates += list(range(aligned, end, 2048))[:limit]
    seen: list[int] = []
    for c in candidates:
        if 0 < c < disk_sectors - 8 and c not in seen and not covered(entries, c):
            seen.append(c)
    return seen[:limit]


def pv_device_bytes(head: bytes) -> int:
    """The device size an LVM2 PV label records (pv_header: uuid, then u64 device size); 0 if none."""
    for sector in range(4):
        at = sector * SECTOR
        if head[at:at + 8] == b"LABELONE" and head[at + 24:at + 32] == b"LVM2 001":
            offset, = struct.unpack_from("<I", head, at + 20)
            if offset + 40 <= SECTOR:
                return struct.unpack_from("<Q", head, at + offset + 32)[0]
    return 0

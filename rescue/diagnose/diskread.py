"""The disk below the filesystems, read raw and bounded: boot code, what it loads, the partition table.

A few sectors each: sector 0, the two sectors the boot code loads next, the
GPT header and entries or the EBR chain, 8 KiB at each partition's start
and at each likely start no partition covers. The pure readers
(`rescue.guest.bootcode`, `partitions`, `superblocks`) say what the bytes
are; this module only fetches them, and works with or without a Linux root
found (a deleted root partition is exactly when it matters).
"""
from __future__ import annotations

from rescue.errors import first_line
from rescue.guest import bootcode, partitions
from rescue.guest.session import Guest
from rescue.guest.superblocks import HEAD_BYTES, identify, read_vg_name
from rescue.model import DiskFacts, DiskPartition, StrayVolume

SECTOR = 512
HEAD_SECTORS = 64                       # 32 KiB: MBR, GPT header and entries, core.img's first sectors


class DiskReader:
    def __init__(self, guest: Guest, disk: str, notes: list[str]):
        self.guest = guest
        self.disk = disk
        self.notes = notes
        self._head_bytes: bytes | None = None

    def _read(self, sector: int, count: int) -> bytes:
        # one read serves sector 0, the GPT and the gap's first sectors: each appliance call costs (TCG)
        if sector + count <= HEAD_SECTORS:
            if self._head_bytes is None:
                self._head_bytes = self._raw(0, HEAD_SECTORS)
            if len(self._head_bytes) >= (sector + count) * SECTOR:
                return self._head_bytes[sector * SECTOR:(sector + count) * SECTOR]
        return self._raw(sector, count)

    def _raw(self, sector: int, count: int) -> bytes:
        try:
            return self.guest.read_device(self.disk, count * SECTOR, sector * SECTOR)
        except RuntimeError as exc:
            self.notes.append(f"could not read sector {sector} of the disk: {first_line(exc)}")
            return b""

    def read(self) -> DiskFacts | None:
        try:
            sectors = self.guest.device_bytes(self.disk) // SECTOR
        except RuntimeError as exc:
            self.notes.append(f"could not read the disk's size: {first_line(exc)}")
            return None
        mbr = self._read(0, 1)
        if len(mbr) < SECTOR:
            return None
        code = bootcode.classify_mbr(mbr)
        entries, table = self._table(mbr)
        found = problem = None
        if code.next_sector is not None and code.next_stage is not None:
            if code.next_sector + 2 > sectors:
                found, problem = "nothing", f"sector {code.next_sector} is past the end of the disk"
            else:
                pair = self._read(code.next_sector, 2)
                found = bootcode.gap_stage(pair[:SECTOR], pair[SECTOR:])
                if not bootcode.stage_matches(code, found):
                    problem = (bootcode.core_img_problem(pair[:SECTOR], pair[SECTOR:])
                               if code.next_stage == "core.img" else f"it holds {found}")
        parts = tuple(self._partition(e) for e in entries if partitions.int_type(e) not in partitions.EXTENDED_TYPES)
        stray = tuple(_alone(list(self._stray(entries, sectors)), parts))
        return DiskFacts(sectors=sectors, loader=code.loader, signature=code.signature,
                         next_sector=code.next_sector, next_stage=code.next_stage, found=found, problem=problem,
                         table=table, partitions=parts, stray=stray,
                         bios_boot=any(e.type == "BIOS boot" for e in entries))

    def _table(self, mbr: bytes) -> tuple[list[partitions.TableEntry], str]:
        entries = partitions.mbr_entries(mbr)
        if not entries:
            return [], "none"
        if partitions.is_gpt(entries):
            header = partitions.gpt_header(self._read(1, 1))
            if header is None:
                self.notes.append("the MBR says GPT, but sector 1 holds no GPT header")
                return entries, "gpt"
            data = self._read(header.entries_lba, (header.count * header.entry_size + SECTOR - 1) // SECTOR)
            return partitions.gpt_entries(header, data), "gpt"
        ext = partitions.extended(entries)
        if ext is not None:
            current, number = ext.start, 5
            for _ in range(partitions.MAX_LOGICAL):
                logical, following = partitions.ebr_entries(self._read(current, 1), ext.start, current, number)
                if logical is not None:
                    entries.append(logical)
                    number += 1
                if following is None or following == current:
                    break
                current = following
        return entries, "msdos"

    def _head(self, sector: int) -> bytes:
        return self._read(sector, HEAD_BYTES // SECTOR)

    def _partition(self, e: partitions.TableEntry) -> DiskPartition:
        head = self._head(e.start)
        volume = identify(head) if head else None
        if volume is None:
            return DiskPartition(e.number, e.start, e.sectors, e.type)
        size = volume.size or partitions.pv_device_bytes(head)
        return DiskPartition(e.number, e.start, e.sectors, e.type, volume.fstype, volume.uuid, size,
                             self._vg(e.start, head) if volume.fstype == "LVM2_member" else None)

    def _vg(self, start: int, head: bytes) -> str | None:
        try:
            return read_vg_name(lambda size, offset: self.guest.read_device(self.disk, size, start * SECTOR + offset),
                                head)
        except RuntimeError:
            return None

    def _stray(self, entries: list[partitions.TableEntry], sectors: int):
        for start in partitions.uncovered_starts(entries, sectors):
            head = self._head(start)
            volume = identify(head) if head else None
            if volume is None or not volume.fstype or volume.fstype == "swap" and not volume.uuid:
                continue
            vg = self._vg(start, head) if volume.fstype == "LVM2_member" else None
            size = volume.size or partitions.pv_device_bytes(head)
            yield StrayVolume(start, volume.fstype, volume.uuid, volume.label, vg, size)


def _alone(stray: list[StrayVolume], parts: tuple[DiskPartition, ...]) -> list[StrayVolume]:
    """Strays that are volumes of their own: not a backup superblock of a filesystem a partition holds
    (XFS and ext keep copies at their allocation-group starts), nor something inside an earlier stray
    (a root LV's filesystem inside its PV)."""
    known = {p.uuid for p in parts if p.uuid}
    kept: list[StrayVolume] = []
    for v in sorted(stray, key=lambda v: v.start):
        if v.uuid and v.uuid in known:
            continue
        if any(k.content_bytes and k.start <= v.start < k.start + k.content_bytes // SECTOR for k in kept):
            continue
        kept.append(v)
        if v.uuid:
            known.add(v.uuid)
    return kept

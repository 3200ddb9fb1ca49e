"""rescue.guest.bootcode and rescue.guest.partitions on sectors composed here.

The sectors are our own compositions in the shapes GRUB writes: legacy
0.97's stage1.h/shared.h offsets (jmp EB 48, COMPAT_VERSION 3.2 at 0x3E,
load address 0x42, stage sector 0x44; the stage header at file offset
0x200), GRUB 2's boot.h (jmp EB 63, kernel_sector u64 at 0x5C) and
diskboot.S (block list ending at 0x1FF, segment 0x0820); syslinux 6.04's
mbr.bin messages; the MBR and GPT layouts of the UEFI specification (5.2, 5.3).
"""
from __future__ import annotations

import struct
import uuid

import pytest

from rescue.guest import bootcode, partitions

SECTOR = 512


def sector(**at: bytes) -> bytes:
    s = bytearray(SECTOR)
    for offset, data in at.items():
        o = int(offset[1:], 16)
        s[o:o + len(data)] = data
    return bytes(s)


def with_sig(s: bytes) -> bytes:
    return s[:0x1FE] + b"\x55\xaa"


def legacy_stage1(address=0x2000, lba=1):
    return with_sig(sector(x0=b"\xeb\x48\x90", x3e=b"\x03\x02\xff\x00", x42=struct.pack("<HIH", address, lba, 0x200),
                           x17f=b"GRUB \0Geom\0Hard Disk\0Read\0 Error\0"))


def grub2_boot(lba=1):
    return with_sig(sector(x0=b"\xeb\x63\x90", x5a=struct.pack("<HQ", 0x8000, lba),
                           x180=b"GRUB \0Geom\0Hard Disk\0Read\0 Error\r\n\0"))


def stage_sectors(stage_id=2, compat=b"\x03\x02", version=b"0.97"):
    first = sector(x0=b"\x52\x56\xbe", x103=b"Loading stage1.5\0", x1f8=struct.pack("<IHH", 2, 18, 0x220))
    second = sector(x0=b"\xea\x70\x22\x00\x00\x00" + compat, x10=bytes([stage_id, 0]) + version + b"\0")
    return first, second


def core_sectors(count=290, segment=0x820, compressed=23662, uncompressed=45992):
    first = sector(x0=b"\x52\x56\xbe", x1f4=struct.pack("<QHH", 2, count, segment))
    second = sector(x0=b"\xea\x1c\x82\x00\x00", x8=struct.pack("<II", compressed, uncompressed))
    return first, second


@pytest.mark.parametrize("mbr, loader, nxt, stage", [
    (legacy_stage1(), "grub-legacy", 1, "stage1.5"),
    (legacy_stage1(address=0x8000, lba=4096), "grub-legacy", 4096, "stage2"),
    (grub2_boot(), "grub2", 1, "core.img"),
    (grub2_boot(lba=34), "grub2", 34, "core.img"),
    # GRUB 2 over GRUB legacy keeps the old BPB-area bytes at 0x3E: the jump decides
    (with_sig(sector(x0=b"\xeb\x63\x90", x3e=b"\x03\x02\xff\x00\x00\x80\x01\x00", x5c=struct.pack("<Q", 2048))),
     "grub2", 2048, "core.img"),
    (with_sig(sector(x0=b"\x33\xc0\xfa\x8e\xd8", x5e=b"Missing operating system.\r\n",
                     x175=b"Operating system load error.\r\n")), "syslinux", None, None),
    (with_sig(sector(x0=b"\x33\xc0\x8e\xd0\xbc\x00\x7c", x10b=b"Invalid partition table\0Error loading operating system")),
     "Windows/DOS", None, None),
    (with_sig(sector(x0=b"\xfa\xeb\x21\x01\xb4\x01LILO")), "LILO", None, None),
    (with_sig(bytes(SECTOR)), "none", None, None),
    (with_sig(sector(x0=b"\xfa\x31\xc0\x8e\xd0\xbc")), "unknown", None, None),
])
def test_mbr_is_classified_by_its_loader(mbr, loader, nxt, stage):
    code = bootcode.classify_mbr(mbr)
    assert (code.loader, code.next_sector, code.next_stage, code.signature) == (loader, nxt, stage, True)


def test_a_sector_without_55aa_has_no_signature():
    assert bootcode.classify_mbr(legacy_stage1()[:0x1FE] + b"\0\0").signature is False


@pytest.mark.parametrize("pair, found", [
    (stage_sectors(), "GRUB 0.97 e2fs_stage1_5"),
    (stage_sectors(stage_id=0), "GRUB 0.97 stage2"),
    (core_sectors(), "GRUB 2 core.img"),
    ((bytes(SECTOR), bytes(SECTOR)), "zeros"),
    ((b"\x55" * SECTOR, b"\xaa" * SECTOR), "other data"),
    ((b"", b""), "nothing (past the end of the disk)"),
])
def test_what_sits_where_the_boot_code_looks(pair, found):
    assert bootcode.gap_stage(*pair) == found


@pytest.mark.parametrize("pair, problem", [
    (core_sectors(), None),
    ((bytes(SECTOR), bytes(SECTOR)), "zeros"),
    (core_sectors(segment=0x800), "no block list"),
    (core_sectors(count=0), "no block list"),
    (core_sectors(compressed=0), "implausible"),
    (core_sectors(compressed=50000, uncompressed=100), "implausible"),
])
def test_core_img_problems(pair, problem):
    found = bootcode.core_img_problem(*pair)
    assert found is None if problem is None else problem in found


def _stage2(stage_id=0, compat=b"\x03\x02", version=b"0.97", size=104000):
    first, second = stage_sectors(stage_id, compat, version)
    return (first + second + b"\x90" * (size - 2 * SECTOR))[:size]


@pytest.mark.parametrize("data, problem", [
    (_stage2(), None),
    (_stage2(size=700), "shorter than its two header sectors"),
    (_stage2(compat=b"\x02\x01"), "compatibility version 2.1"),
    (_stage2(stage_id=2), "is a e2fs_stage1_5, not a stage2"),
    (_stage2(version=b"2.06"), "GRUB version '2.06'"),
    (bytes(104000), "holds no GRUB stage header"),
])
def test_stage2_damage(data, problem):
    found = bootcode.legacy_stage2_problem(data[:1024], len(data))
    assert found is None if problem is None else problem in found


def test_stage_matches_what_the_code_loads():
    legacy, grub2 = bootcode.classify_mbr(legacy_stage1()), bootcode.classify_mbr(grub2_boot())
    assert bootcode.stage_matches(legacy, "GRUB 0.97 e2fs_stage1_5")
    assert not bootcode.stage_matches(legacy, "GRUB 2 core.img")
    assert bootcode.stage_matches(grub2, "GRUB 2 core.img")
    assert not bootcode.stage_matches(grub2, "zeros")


# --- partition tables -------------------------------------------------------------------

def mbr_table(*entries, sig=True):
    s = bytearray(SECTOR)
    for i, (ptype, start, count) in enumerate(entries):
        s[0x1BE + 16 * i + 4] = ptype
        struct.pack_into("<II", s, 0x1BE + 16 * i + 8, start, count)
    if sig:
        s[0x1FE:] = b"\x55\xaa"
    return bytes(s)


def test_primary_entries_in_use():
    entries = partitions.mbr_entries(mbr_table((0x83, 2048, 409600), (0x8e, 411648, 1000000), (0, 0, 0)))
    assert [(e.number, e.start, e.sectors, e.type) for e in entries] == [
        (1, 2048, 409600, "0x83"), (2, 411648, 1000000, "0x8e")]
    assert partitions.mbr_entries(mbr_table((0x83, 2048, 100), sig=False)) == []


def test_logical_partitions_follow_the_ebr_chain():
    # extended at 100000; first EBR: logical at +63, next EBR at ext+5000
    ebr = bytearray(mbr_table((0x83, 63, 1000), (0x05, 5000, 2000)))
    logical, following = partitions.ebr_entries(bytes(ebr), 100000, 100000, 5)
    assert (logical.number, logical.start, logical.sectors) == (5, 100063, 1000) and following == 105000
    last, end = partitions.ebr_entries(mbr_table((0x82, 63, 500)), 100000, 105000, 6)
    assert (last.start, end) == (105063, None)


def test_gpt_entries_and_their_types():
    header = bytearray(SECTOR)
    header[:8] = b"EFI PART"
    struct.pack_into("<QQ", header, 0x28, 34, 131038)
    struct.pack_into("<QII", header, 0x48, 2, 128, 128)
    h = partitions.gpt_header(bytes(header))
    data = bytearray(128 * 128)
    bios = uuid.UUID(partitions.BIOS_BOOT_GUID).bytes_le
    lvm = uuid.UUID("e6d6d379-f507-44c2-a23c-238f2a3df928").bytes_le
    assert bios == b"Hah!IdontNeedEFI"
    data[0:16] = bios
    struct.pack_into("<QQ", data, 0x20, 34, 2047)
    data[128:144] = lvm
    struct.pack_into("<QQ", data, 128 + 0x20, 2048, 131038)
    entries = partitions.gpt_entries(h, bytes(data))
    assert [(e.number, e.start, e.sectors, e.type) for e in entries] == [
        (1, 34, 2014, "BIOS boot"), (2, 2048, 128991, "Linux LVM")]
    assert partitions.gpt_header(bytes(SECTOR)) is None
    assert partitions.is_gpt(partitions.mbr_entries(mbr_table((0xEE, 1, 131071))))


def test_starts_no_partition_covers_are_tried_likeliest_first():
    table = partitions.mbr_entries(mbr_table((0x8e, 411648, 1000000)))     # /boot at 2048 deleted
    starts = partitions.uncovered_starts(table, 2_000_000)
    assert starts[:2] == [63, 2048]
    assert 411648 not in starts and 1411648 in starts          # the end of the PV: a partition after it
    assert all(not partitions.covered(table, s) for s in starts)
    assert all(s < 2_000_000 - 8 for s in starts) and len(starts) <= 64


def test_pv_label_records_the_device_size():
    head = bytearray(8192)
    head[512:520] = b"LABELONE"
    struct.pack_into("<I", head, 512 + 20, 32)
    head[512 + 24:512 + 32] = b"LVM2 001"
    head[512 + 32:512 + 64] = b"A" * 32
    struct.pack_into("<Q", head, 512 + 64, 1_000_000 * 512)
    assert partitions.pv_device_bytes(bytes(head)) == 512_000_000
    assert partitions.pv_device_bytes(bytes(8192)) == 0

"""Boot code: which loader the MBR holds, and whether what it loads next is where it looks. No I/O.

The field offsets are GRUB's own: legacy 0.97 `stage1/stage1.h` and
`stage2/shared.h` (COMPAT_VERSION 3.2 at stage1 0x3E, the stage2/stage1.5
sector at 0x44, load address 0x42, the stage header at file offset 0x200
with its version at +0x06, id at +0x10, version string at +0x12), and GRUB 2
`include/grub/i386/pc/boot.h` (kernel_sector, the LBA of core.img, at 0x5C)
and `offsets.h` (core.img's second sector: compressed and uncompressed
sizes at 0x08/0x0C). The first two bytes tell the two GRUBs apart: a GRUB 2
installed over GRUB legacy keeps the old BPB-area bytes at 0x3E-0x49
(grub-install copies 0x03-0x59 from the sector it overwrites), never the jump.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

SECTOR = 512
CODE_BYTES = 440                        # the MBR's boot code; the disk signature and the table follow

# GRUB legacy stage ids (shared.h, STAGE2_ID_*): which filesystem a stage1.5 reads.
LEGACY_STAGE_IDS = {0: "stage2", 1: "ffs_stage1_5", 2: "e2fs_stage1_5", 3: "fat_stage1_5", 4: "minix_stage1_5",
                    5: "reiserfs_stage1_5", 6: "vstafs_stage1_5", 7: "jfs_stage1_5", 8: "xfs_stage1_5",
                    9: "iso9660_stage1_5", 10: "ufs2_stage1_5"}
LEGACY_COMPAT = b"\x03\x02"

# Strings of boot code that is not GRUB (syslinux 6.04 mbr/*.bin, Windows and DOS MBRs).
_OTHER_LOADERS = (
    ("syslinux", (b"Missing operating system.", b"Operating system load error.")),
    ("syslinux (GPT)", (b"Missing OS", b"Multiple active partitions")),
    ("Windows/DOS", (b"Invalid partition table", b"Error loading operating system")),
)


@dataclass(frozen=True)
class MbrCode:
    """What sector 0's boot code is."""
    loader: str                  # "grub-legacy", "grub2", "syslinux", "Windows/DOS", "LILO", "none", "unknown"
    signature: bool              # 55 AA at 0x1FE: without it the BIOS does not boot the disk
    next_sector: int | None = None   # the LBA the code loads next (GRUB)
    next_stage: str | None = None    # what it expects there: "stage1.5", "stage2", "core.img"

    @property
    def known(self) -> bool:
        return self.loader not in ("none", "unknown")


def classify_mbr(sector: bytes) -> MbrCode:
    """The loader sector 0 belongs to, from its jump, fields and strings."""
    signature = sector[0x1FE:0x200] == b"\x55\xaa"
    code = bytes(sector[:CODE_BYTES])
    if len(code) < CODE_BYTES or not any(code):
        return MbrCode("none", signature)
    if code[:2] == b"\xeb\x48" and code[0x3E:0x40] == LEGACY_COMPAT:
        address, = struct.unpack_from("<H", code, 0x42)
        lba, = struct.unpack_from("<I", code, 0x44)
        return MbrCode("grub-legacy", signature, lba, "stage1.5" if address == 0x2000 else "stage2")
    if code[:2] == b"\xeb\x63":
        lba, = struct.unpack_from("<Q", code, 0x5C)
        return MbrCode("grub2", signature, lba, "core.img")
    if code[6:10] == b"LILO":
        return MbrCode("LILO", signature)
    for name, strings in _OTHER_LOADERS:
        if all(s in code for s in strings):
            return MbrCode(name, signature)
    return MbrCode("unknown", signature)


# --- what sits where the MBR code looks ---------------------------------------------

@dataclass(frozen=True)
class LegacyStage:
    """The header of a GRUB legacy stage2 or stage1.5 (its second sector)."""
    compat: tuple[int, int]      # COMPAT_VERSION major, minor: 3.2 for every 0.9x
    stage_id: int                # 0 stage2, 2 e2fs_stage1_5 ...
    version: str                 # "0.97"

    @property
    def name(self) -> str:
        return LEGACY_STAGE_IDS.get(self.stage_id, f"stage id {self.stage_id}")


def legacy_stage_header(second_sector: bytes) -> LegacyStage | None:
    """The stage header GRUB legacy's start.S jumps to: ljmp (EA), then version, id, version string."""
    if len(second_sector) < 0x20 or second_sector[0] != 0xEA:
        return None
    version = second_sector[0x12:0x1A].split(b"\0", 1)[0].decode("ascii", errors="replace")
    return LegacyStage((second_sector[6], second_sector[7]), second_sector[0x10], version)


def legacy_stage2_problem(data: bytes, size: int) -> str | None:
    """Why /boot/grub/stage2 (its first 1 KiB or more, and its size) would not load, or None.

    stage1.5 reads stage2 by name and refuses it unless its header carries
    COMPAT_VERSION 3.2 ("Error 6: Mismatched or corrupt version of stage1/stage2").
    """
    if size < 2 * SECTOR:
        return f"is {size} bytes, shorter than its two header sectors"
    header = legacy_stage_header(data[SECTOR:2 * SECTOR])
    if header is None:
        return "holds no GRUB stage header at its second sector (damaged or overwritten)"
    if header.compat != (3, 2):
        return (f"has compatibility version {header.compat[0]}.{header.compat[1]} where GRUB 0.9x expects 3.2 "
                "(damaged, or from another GRUB)")
    if header.stage_id != 0:
        return f"is a {header.name}, not a stage2"
    if not header.version.startswith("0.9"):
        return f"says it is GRUB version {header.version!r}"
    return None


def gap_stage(first: bytes, second: bytes) -> str:
    """What two sectors where boot code looks next hold: a GRUB stage, core.img, zeros or other data."""
    if len(first) < SECTOR:
        return "nothing (past the end of the disk)"
    if not any(first) and not any(second):
        return "zeros"
    header = legacy_stage_header(second)
    if header is not None and header.compat == (3, 2) and b"Loading stage" in first:
        return f"GRUB {header.version} {header.name}"
    if core_img_problem(first, second) is None:
        return "GRUB 2 core.img"
    return "other data"


def core_img_problem(diskboot: bytes, decompressor: bytes) -> str | None:
    """Why the two sectors at boot.img's kernel_sector are not the start of a GRUB 2 core.img, or None.

    Sector 0 is diskboot.img, ending in its block list (start LBA u64 at 0x1F4,
    count u16 at 0x1FC, segment 0x0820 at 0x1FE); sector 1 starts the
    decompressor with an ljmp and the payload's sizes at 0x08/0x0C.
    """
    if len(diskboot) < SECTOR or len(decompressor) < 0x18:
        return "the disk ends before it"
    if not any(diskboot):
        return "the sector holds zeros"
    count, segment = struct.unpack_from("<HH", diskboot, 0x1FC)
    if segment != 0x0820 or count == 0:
        return "the sector is not GRUB 2's diskboot (no block list with segment 0x0820)"
    if decompressor[0] != 0xEA:
        return "the sector after diskboot is not GRUB 2's decompressor"
    compressed, uncompressed = struct.unpack_from("<II", decompressor, 0x08)
    if compressed == 0 or uncompressed < compressed:
        return f"the decompressor's sizes are implausible ({compressed} compressed, {uncompressed} uncompressed)"
    return None


def expected_stage(code: MbrCode) -> str:
    """How `gap_stage` names what `code` needs at its next sector."""
    return {"stage2": "GRUB stage2", "stage1.5": "GRUB stage1_5", "core.img": "GRUB 2 core.img"}.get(
        code.next_stage or "", "")


def stage_matches(code: MbrCode, found: str) -> bool:
    """Whether what sits at the MBR code's next sector is what it loads."""
    if code.next_stage == "core.img":
        return found == "GRUB 2 core.img"
    if code.next_stage == "stage1.5":
        return found.startswith("GRUB ") and "stage1_5" in found
    if code.next_stage == "stage2":
        return found.startswith("GRUB ") and found.endswith(" stage2")
    return True

"""Many images in one command: which files, how many appliances, which image in which.

Pure planning, no libguestfs: the appliance launch is the cost that matters
(12-20 s under TCG, a few seconds with KVM), so images share launches, and
launches run side by side only when cores, memory and the number of images make
it pay.
"""
from __future__ import annotations

import glob
import math
import os
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from rescue.errors import Exit, RescueError

# What a directory argument picks up: the disk formats vmrescue opens.
IMAGE_SUFFIXES = (".img", ".raw", ".qcow2", ".qcow", ".vmdk", ".vdi", ".vhd", ".vhdx", ".qed", ".dsk")

# VMware files beside a descriptor that are not disks of their own: extents
# (flat, sparse slices, ESX delta/sesparse) and change-tracking files.
_VMWARE_EXTENT = re.compile(r"-(flat|delta|sesparse|ctk|rdm|rdmp|s\d{3}|f\d{3})\.vmdk$", re.IGNORECASE)

# One appliance's memory (libguestfs's default 1280 MiB + qemu) with headroom.
APPLIANCE_BYTES = 1536 * 1024 * 1024

# A launch costs about as much as inspecting 3-4 images, so a second appliance
# only pays once each one gets at least this many images.
MIN_IMAGES_PER_JOB = 4


def expand_images(arguments: Sequence[str]) -> list[str]:
    """Files, directories (their disk images, not recursive) and quoted globs → image paths.

    Order is kept (a directory's images sorted by name); the same file named
    twice is diagnosed once. Paths that do not exist are passed on unchanged so
    that the format probe reports them with the other unusable images.
    """
    paths: list[str] = []
    for argument in arguments:
        if os.path.isdir(argument):
            found = images_in_directory(argument)
            if not found:
                raise RescueError("NO_IMAGES", f"{argument}: is a directory with no disk images in it "
                                  f"(looked for {', '.join(IMAGE_SUFFIXES)}).",
                                  "Name the image files themselves, or rename them to a known suffix.", Exit.IMAGE)
            paths.extend(found)
        elif not os.path.exists(argument) and glob.has_magic(argument):
            matched = sorted(p for p in glob.glob(argument) if os.path.isfile(p) and not _is_vmware_extent(p))
            if not matched:
                raise RescueError("NO_IMAGES", f"{argument}: the pattern matches no image files.",
                                  "Check the pattern; quote it so that vmrescue, not the shell, expands it.",
                                  Exit.USAGE)
            paths.extend(matched)
        else:
            paths.append(argument)
    return _unique(paths)


def images_in_directory(directory: str) -> list[str]:
    names = sorted(os.listdir(directory))
    return [os.path.join(directory, name) for name in names
            if name.lower().endswith(IMAGE_SUFFIXES) and not _is_vmware_extent(name)
            and os.path.isfile(os.path.join(directory, name))]


def _is_vmware_extent(path: str) -> bool:
    return bool(_VMWARE_EXTENT.search(os.path.basename(path)))


def _unique(paths: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def default_jobs(images: int, cpus: int | None, available_memory: int | None) -> int:
    """How many appliances to run at once when --jobs is not given.

    Each appliance keeps about one core busy (TCG more so) and needs
    APPLIANCE_BYTES; a launch only pays for MIN_IMAGES_PER_JOB images or more.
    """
    by_cpu = max(1, cpus or 1)
    by_memory = max(1, (available_memory or APPLIANCE_BYTES) // APPLIANCE_BYTES)
    by_images = max(1, images // MIN_IMAGES_PER_JOB)
    return min(by_cpu, by_memory, by_images)


def plan_batches(count: int, jobs: int, max_disks: int) -> list[range]:
    """Split images 0..count-1 into contiguous batches, one appliance launch each.

    At least `jobs` batches (so every job has work) and none larger than
    `max_disks` (libguestfs's limit for one handle); sizes differ by at most one.
    """
    if count <= 0:
        return []
    if jobs < 1 or max_disks < 1:
        raise ValueError("jobs and max_disks must be at least 1")
    batches = min(count, max(jobs, math.ceil(count / max_disks)))
    size, extra = divmod(count, batches)
    plan, start = [], 0
    for i in range(batches):
        end = start + size + (1 if i < extra else 0)
        plan.append(range(start, end))
        start = end
    return plan


def short_names(paths: Sequence[str]) -> tuple[str, list[str]]:
    """(common directory, each path relative to it): a fleet's table shows vm07.qcow2, not /srv/.../vm07.qcow2."""
    if len(paths) < 2:
        return "", list(paths)
    directories = {os.path.dirname(os.path.abspath(p)) for p in paths}
    if len(directories) != 1:
        return "", list(paths)
    directory = directories.pop()
    return directory, [os.path.basename(p) for p in paths]


def foreign_devices(devices: Sequence[str], disk: str, disk_of: Callable[[str], str | None]) -> list[str]:
    """The devices among `devices` that are on a disk other than `disk`.

    A guest's fstab resolved by libguestfs's inspection with several clones
    attached can name another clone's /boot (same LABEL= or UUID=); its own
    disk never does that. Devices whose disk is unknown are not counted.
    """
    return [device for device in devices if disk_of(device) not in (disk, None)]


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass(frozen=True)
class SummaryRow:
    """One line of the table printed after a multi-image diagnose."""
    image: str
    verdict: str            # "bootable", "NOT BOOTABLE", "error"
    kernel: str             # the recommended kernel, or what to do
    problems: str           # error codes, or the error message


def summary_row(result) -> SummaryRow:
    """`result` is shaped like operations.ImageResult (path, diagnosis or error)."""
    if result.error is not None:
        return SummaryRow(result.path, "error", "-", f"{result.error.code}: {result.error.message}")
    diagnosis = result.diagnosis
    errors = [f.code for f in diagnosis.findings if f.severity.value == "error"]
    warnings = [f.code for f in diagnosis.findings if f.severity.value == "warning"]
    rec = diagnosis.recommended_kernel
    kernel = rec.uname_r if rec else ("-" if diagnosis.facts.os else "no OS")
    if diagnosis.bootable:
        verdict = "bootable"
    else:
        verdict = "NOT BOOTABLE"
    problems = ", ".join(errors) or (f"warnings: {', '.join(warnings)}" if warnings else "-")
    return SummaryRow(result.path, verdict, kernel, problems)

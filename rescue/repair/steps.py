"""The steps of a kernel reinstall, each one function that takes what it needs and acts.

They run in the order `RepairPlan.steps` prints, on a guest mounted
read-write (the throw-away overlay in a dry run). What a step finds on the
way (the guest's rpm failing after all, an initrd missing a driver) goes into
the `Outcome`, which the report prints after the plan.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rescue.bootloader.base import BootLoaderPlan
from rescue.errors import Exit, RescueError
from rescue.guest.session import Guest
from rescue.kernel.initramfs import list_initrd_paths
from rescue.repair.plan import InitrdBuild, PackageChoice, missing_from_initrd
from rescue.rpm.payload import payload_tar

GUEST_TMP_RPM = "/tmp/vmrescue-kernel.rpm"
INITRD_READ_LIMIT = 256 * 1024 * 1024

# Test hook for the fault-injection tests: VMRESCUE_TEST_KILL_AT=<point> makes
# vmrescue SIGKILL itself there, as a power cut or an OOM kill would.
_KILL_POINT = os.environ.get("VMRESCUE_TEST_KILL_AT")


def checkpoint(point: str) -> None:
    if _KILL_POINT == point:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Outcome:
    """What the steps did, in order: for the report, and for an interrupted run's message."""
    done: list[tuple[str, str]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def back_up(guest: Guest, backups: tuple[tuple[str, str], ...], outcome: Outcome) -> None:
    for path, copy in backups:
        guest.copy_preserving(path, copy)
        outcome.backups.append(copy)
    if backups:
        outcome.done.append(("backup", ", ".join(outcome.backups)))


def install(guest: Guest, package: PackageChoice, argv: tuple[str, ...] | None, workdir: Path,
            outcome: Outcome) -> None:
    """The package with the guest's own rpm, else unpacked by vmrescue (and said so)."""
    header = package.verified.header
    if argv is not None:
        # Stale Berkeley DB environment files from the interrupted yum run lock the database.
        for stale in guest.glob("/var/lib/rpm/__db.*"):
            guest.remove(stale)
        guest.mkdir_p("/tmp")
        guest.upload(str(package.path), GUEST_TMP_RPM)
        try:
            guest.command([*argv[:-1], GUEST_TMP_RPM])
        except RuntimeError as exc:
            outcome.notes.append(f"the guest's rpm failed ({last_line(exc)}); "
                                 "the package was unpacked by vmrescue instead")
        else:
            outcome.done.append(("install", " ".join(argv)))
            outcome.written.extend(header.file_paths)
            return
        finally:
            guest.remove(GUEST_TMP_RPM)
    tar_path = workdir / "payload.tar"
    with open(tar_path, "wb") as out:
        paths = payload_tar(str(package.path), header, out)
    guest.tar_in(str(tar_path), "/")
    tar_path.unlink()
    outcome.done.append(("install", f"unpacked {len(paths)} files of {package.path.name}"))
    outcome.notes.append(f"the guest's RPM database was NOT updated; after boot run: "
                         f"rpm -ivh --justdb --nodeps {package.path.name}")
    outcome.written.extend(paths)


def depmod(guest: Guest, argv: tuple[str, ...] | None, outcome: Outcome) -> None:
    if argv is None:
        return
    try:
        guest.command(list(argv))
    except RuntimeError as exc:
        outcome.notes.append(f"depmod -a {argv[-1]} failed: {last_line(exc)}")
        return
    outcome.done.append(("depmod", " ".join(argv)))


def build_initrd(guest: Guest, build: InitrdBuild, status: Callable[[str], None], outcome: Outcome) -> None:
    """The guest's own dracut/mkinitrd; refused with INITRD_FAILED when it leaves no initrd."""
    command = " ".join(build.argv)
    status(f"Rebuilding the initrd with the guest's {os.path.basename(build.argv[0])}")
    try:
        guest.command(list(build.argv))
    except RuntimeError as exc:
        raise RescueError("INITRD_FAILED", f"{command} failed in the guest: {last_line(exc)}",
                          "Run vmrescue -v to see the tool's output.", Exit.NOT_BOOTABLE)
    if not guest.is_file(build.path) or guest.size(build.path) == 0:
        raise RescueError("INITRD_FAILED", f"{command} left no initrd at {build.path}.",
                          "Run vmrescue -v to see the tool's output.", Exit.NOT_BOOTABLE)
    listing = list_initrd_paths(guest.read(build.path, INITRD_READ_LIMIT)) or []
    missing = missing_from_initrd(listing, list(build.drivers))
    outcome.done.append(("initrd", f"{command} ({guest.size(build.path)} bytes)"))
    if missing:
        outcome.notes.append(f"{build.path} does not list {', '.join(missing)}: the guest may not find its root disk")
    outcome.written.append(build.path)


def write_bootloader(guest: Guest, plan: BootLoaderPlan, outcome: Outcome) -> None:
    """Every file the boot loader's plan writes (atomically, keeping owner, mode and label), then its commands."""
    for write in plan.writes:
        guest.replace_file(write.path, write.new.encode(), before_rename=lambda: checkpoint("grub.conf-rename"))
        outcome.written.append(write.path)
    for argv in plan.commands:
        guest.command(list(argv))
    if plan.step:
        outcome.done.append((plan.step, plan.detail))
    outcome.notes.extend(plan.notes)


def relabel(guest: Guest, mode: str | None, outcome: Outcome) -> None:
    if mode is None:
        return
    guest.write_file("/.autorelabel", b"")
    outcome.done.append(("selinux", "/.autorelabel"))


def last_line(exc: Exception) -> str:
    """The last line a guest program printed: where rpm and dracut say what went wrong."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__

"""The steps of a kernel reinstall, each one function that takes what it needs and acts.

They run in the order `RepairPlan.steps` prints, on a guest mounted
read-write (the throw-away overlay in a dry run). What a step finds on the
way (the guest's rpm failing after all, an initrd missing a driver) goes into
the `Outcome`, which the report prints after the plan.
"""
from __future__ import annotations

import os
import posixpath
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

GUEST_TMP_DIR = "/tmp/vmrescue-packages"
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


def uploaded_paths(packages: tuple[PackageChoice, ...]) -> list[str]:
    """Where the packages are put in the guest for its rpm (the install command names them)."""
    return [f"{GUEST_TMP_DIR}/{choice.path.name}" for choice in packages]


def install(guest: Guest, packages: tuple[PackageChoice, ...], argv: tuple[str, ...] | None, workdir: Path,
            outcome: Outcome) -> None:
    """The packages with the guest's own rpm, in one transaction; else unpacked by vmrescue (and said so)."""
    uploaded = uploaded_paths(packages)
    if argv is not None:
        # Stale Berkeley DB environment files from the interrupted yum run lock the database.
        for stale in guest.glob("/var/lib/rpm/__db.*"):
            guest.remove(stale)
        guest.mkdir_p(GUEST_TMP_DIR)
        for choice, path in zip(packages, uploaded):
            guest.upload(str(choice.path), path)
        try:
            guest.command(list(argv))
        except RuntimeError as exc:
            outcome.notes.append(f"the guest's rpm failed ({last_line(exc)}); "
                                 "the package was unpacked by vmrescue instead")
        else:
            outcome.done.append(("install", " ".join(argv)))
            for choice in packages:
                outcome.written.extend(choice.verified.header.file_paths)
            return
        finally:
            for path in uploaded:
                guest.remove(path)
    for choice in packages:
        tar_path = workdir / "payload.tar"
        with open(tar_path, "wb") as out:
            paths = payload_tar(str(choice.path), choice.verified.header, out)
        guest.tar_in(str(tar_path), "/")
        tar_path.unlink()
        outcome.done.append(("install", f"unpacked {len(paths)} files of {choice.path.name}"))
        outcome.notes.append(f"the guest's RPM database was NOT updated; after boot run: "
                             f"rpm -ivh --justdb --nodeps {choice.path.name}")
        outcome.written.extend(paths)


def copy_boot_files(guest: Guest, copies: tuple[tuple[str, str], ...], outcome: Outcome) -> None:
    """The /boot copies of what the package keeps in /lib/modules (its kernel-install's work)."""
    for src, dst in copies:
        guest.copy_preserving(src, dst)
        outcome.written.append(dst)
    if copies:
        outcome.done.append(("boot files", ", ".join(dst for _, dst in copies)))


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
    """The boot loader's change: files put aside, files written (atomically, keeping owner, mode and
    label; a new one's directory made), then its commands."""
    for old, new in plan.moves:
        guest.rename(old, new)
        outcome.written.append(new)
    for write in plan.writes:
        directory = posixpath.dirname(write.path)
        if not guest.is_dir(directory):
            guest.mkdir_p(directory)
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

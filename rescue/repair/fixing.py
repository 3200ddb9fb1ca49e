"""`vmrescue repair`: plan the named fixes read-only, print the plan, then apply it, in one launch.

    inspect → mount read-only → diagnose → plan (rescue.repair.fixes) → (the plan is printed)
    → back up → restore / rebuild → relabel → diagnose again

As with reinstall-kernel, everything up to the printed plan only reads; a
dry run applies the same plan to libguestfs's throw-away overlay. A rebuilt
initrd is written beside the old one and replaces it only once it unpacks
whole, with /init and the drivers the plan asked for.
"""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import Callable

from rescue import __version__, bootloader
from rescue.bootloader.base import BootLayout, KernelEntryRequest, backup_name
from rescue.diagnose import rules
from rescue.diagnose.bootpath import host_decompress
from rescue.diagnose.gather import Gatherer
from rescue.distro import family_for
from rescue.errors import Exit, RescueError
from rescue.guest import inspect
from rescue.guest.files import GuestConfigFiles
from rescue.guest.session import Guest
from rescue.kernel import initrd_image
from rescue.model import Diagnosis
from rescue.repair import fixes
from rescue.repair.reinstall import guest_initrd_drivers, refuse_unsafe
from rescue.repair import steps
from rescue.repair.steps import Outcome, last_line

Status = Callable[[str], None]
INITRD_READ_LIMIT = 256 * 1024 * 1024


@dataclass(frozen=True)
class FixOptions:
    fixes: tuple[str, ...]
    add_drivers: tuple[str, ...] = ()
    backup: bool = True
    dry_run: bool = False
    confirmed: tuple | None = None      # FixPlan.key() the operator confirmed after a dry run


@dataclass(frozen=True)
class FixResult:
    image: str
    plan: fixes.FixPlan
    before: Diagnosis
    after: Diagnosis
    outcome: Outcome
    dry_run: bool

    @property
    def success(self) -> bool:
        return self.after.bootable


class Fixing:
    """The fixes of one guest, mounted read-only on a launched `Guest` until the plan is printed."""

    def __init__(self, guest: Guest, image: str, os_info, disk: inspect.DiskInspection, options: FixOptions,
                 status: Status):
        self.guest, self.image, self.os, self.disk = guest, image, os_info, disk
        self.options = options
        self.status = status
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.outcome = Outcome()

    def diagnose(self) -> Diagnosis:
        return rules.diagnose(Gatherer(self.guest, self.image, self.os, self.disk).gather_mounted())

    def run(self, shown: Callable[[fixes.FixPlan], None]) -> FixResult:
        before = self.diagnose()
        refuse_unsafe(self.image, before)
        plan = self.plan(before)
        shown(plan)
        if self.options.confirmed is not None and plan.key() != self.options.confirmed:
            raise RescueError("PLAN_CHANGED", f"{self.image}: the repair would now differ from the plan confirmed "
                              "after the dry run; nothing was written.", "Was the image changed meanwhile? "
                              "Run vmrescue repair again.", Exit.REFUSED)
        self.apply(plan)
        return FixResult(self.image, plan, before, self.diagnose(), self.outcome, self.options.dry_run)

    # --- deciding (read-only) --------------------------------------------------------

    def plan(self, before: Diagnosis) -> fixes.FixPlan:
        chosen = fixes.choose_fixes(self.options.fixes)
        moves, backups, notes, rebuild, entry = [], [], [], None, None
        if "restore-config" in chosen:
            paths = tuple(p for kind in bootloader.KINDS for p in kind.config_paths)
            moves.append(fixes.config_move(before, paths))
        if "rebuild-initrd" in chosen:
            rebuild = self._initrd(before, notes)
            if self.options.backup and self.guest.is_file(rebuild.path):
                backups.append((rebuild.path, backup_name(rebuild.path, self.stamp)))
            elif not self.options.backup:
                notes.append("--no-backup: the old initrd is not kept")
        if "boot-entry" in chosen:
            entry = self._entry(before)
            if self.options.backup:
                backups += [(path, backup_name(path, self.stamp)) for path in entry.backups
                            if self.guest.is_file(path) and not self.guest.is_symlink(path)]
        sel = before.facts.bootpath.selinux if before.facts.bootpath else None
        relabel = sel.mode if sel is not None and sel.mode in ("enforcing", "permissive") else None
        return fixes.FixPlan(self.image, chosen, tuple(backups), tuple(moves), rebuild, entry, relabel,
                              tuple(notes))

    def _initrd(self, before: Diagnosis, notes: list[str]) -> fixes.InitrdRebuild:
        family = family_for(self.os)
        if family is None:
            raise fixes.refuse(self.image, "rebuild-initrd", f"vmrescue knows no initrd tool for {self.os.product}",
                               "Rebuild it with the guest's own tool from a rescue shell (virt-rescue).")
        tool = next((path for name in family.initrd_tools if (path := self.guest.which([name]))), None)
        if tool is None:
            raise fixes.refuse(self.image, "rebuild-initrd", f"the guest has neither {' nor '.join(family.initrd_tools)}",
                               "Install the guest's initrd tool first.")
        path, release = fixes.initrd_target(before)
        bp = before.facts.bootpath
        available = set(bp.kernel_modules) if bp else set()
        drivers = guest_initrd_drivers(self.guest, self.os, self.disk, available)
        wanted = [*fixes.initrd_drivers_needed(before), *self.options.add_drivers]
        for driver in wanted:
            norm = driver.replace("-", "_")
            if norm not in available:
                notes.append(f"kernel {release} has no {driver} module; the new initrd cannot carry it")
            elif norm not in {d.replace("-", "_") for d in drivers}:
                drivers.append(driver)
        if bp and bp.boot_space and bp.initrd and bp.boot_space[0] < bp.initrd.size * 2:
            notes.append(f"/boot has {bp.boot_space[0] >> 20} MiB free: the new initrd is written beside the old "
                         "one first, and dracut fails if it does not fit")
        temporary = path + fixes.NEW_SUFFIX
        argv = tuple(family.initrd_command(tool, temporary, release, drivers))
        return fixes.InitrdRebuild(argv, temporary, path, release, tuple(drivers))

    def _entry(self, before: Diagnosis):
        """The boot loader's change that boots the recommended kernel by default (its template's entry)."""
        target = fixes.entry_kernel(before)
        family = family_for(self.os)
        if family is None:
            raise fixes.refuse(self.image, "boot-entry", f"vmrescue knows no boot loader template for {self.os.product}",
                               "Write the entry by hand from a rescue shell (virt-rescue).")
        files = GuestConfigFiles(self.guest, self.image)
        loader = bootloader.detect(files, prefer=family.bootloader_kind()) or bootloader.fresh(family.bootloader_kind())
        root_spec = next((spec for spec, mountpoint, _ in before.facts.fstab if mountpoint == "/"), None)
        request = KernelEntryRequest(
            uname_r=target, initrd_name=family.initrd_name(target), distro_title=family.title(),
            release_major=self.os.major, root_spec=root_spec,
            written_by=f"vmrescue {__version__} repair, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
            backup_stamp=self.stamp if self.options.backup else None)
        layout = BootLayout(self.disk.disk, self.os.mountpoints, tuple(self.disk.filesystems))
        return loader.plan_kernel(request, files, layout, lambda name: self.guest.which([name]))

    # --- acting --------------------------------------------------------------------------

    def apply(self, plan: fixes.FixPlan) -> None:
        self.guest.remount_writable(self.os)
        for path, copy in plan.backups:
            self.guest.copy_preserving(path, copy)
            self.outcome.backups.append(copy)
        for move in plan.moves:
            self.guest.rename(move.source, move.target)
            self.outcome.done.append(("restore", f"{move.source} → {move.target}"))
            self.outcome.written.append(move.target)
        if plan.initrd is not None:
            self._rebuild(plan.initrd)
        if plan.entry is not None:
            steps.write_bootloader(self.guest, plan.entry, self.outcome)
        if plan.relabel:
            self.guest.write_file("/.autorelabel", b"")
            self.outcome.done.append(("selinux", "/.autorelabel"))
        self.guest.sync()

    def _rebuild(self, build: fixes.InitrdRebuild) -> None:
        command = shlex.join(build.argv)
        self.status(f"Rebuilding {build.path} with the guest's {build.argv[0].rsplit('/', 1)[-1]}")
        try:
            self.guest.command(list(build.argv))
            problem = self._check(build)
        except RuntimeError as exc:
            problem = f"{command} failed in the guest: {last_line(exc)}"
        if problem is not None:
            self.guest.remove(build.temporary)
            raise RescueError("INITRD_FAILED", f"{self.image}: {problem}; the old initrd was left in place.",
                              "Run vmrescue -v to see the tool's output.", Exit.NOT_BOOTABLE)
        self.guest.rename(build.temporary, build.path)
        self.outcome.done.append(("initrd", f"{command} ({self.guest.size(build.path)} bytes), renamed to {build.path}"))
        self.outcome.written.append(build.path)

    def _check(self, build: fixes.InitrdRebuild) -> str | None:
        """Why the new initrd must not replace the old one, or None."""
        if not self.guest.is_file(build.temporary) or self.guest.size(build.temporary) == 0:
            return f"{shlex.join(build.argv)} left no initrd at {build.temporary}"
        u = initrd_image.unpack(self.guest.read(build.temporary, INITRD_READ_LIMIT), (), host_decompress)
        if u.problem:
            return f"the new initrd {u.problem}"
        init = u.resolve("init")
        if u.unchecked is None and (init is None or not init.executable):
            return "the new initrd has no executable /init"
        have = initrd_image.modules(u)
        lacking = [d for d in build.drivers if u.unchecked is None and d.replace("-", "_") not in have]
        if lacking:
            self.outcome.notes.append(f"the new initrd does not list {', '.join(lacking)} (built into the kernel?)")
        return None


def repair(guest: Guest, image: str, options: FixOptions, status: Status,
           shown: Callable[[fixes.FixPlan], None]) -> FixResult:
    """The one Linux guest of `guest`'s only image: its fixes planned read-only, shown, applied."""
    found = inspect.inspect_disk(guest, guest.devices()[0])
    os_info = inspect.single_root(image, found, writing=True)
    if os_info is None:
        raise RescueError("NO_OS", f"{image}: no operating system found; nothing was written.",
                          "vmrescue repairs one Linux guest per disk image; vmrescue diagnose says what the disk holds.",
                          Exit.IMAGE)
    with guest.mounted(os_info, writable=False) as unmounted:
        if unmounted:
            raise RescueError("MOUNT_FAILED", f"{image}: could not mount {'; '.join(unmounted)}; nothing was written.",
                              "Check the filesystem with e2fsck/xfs_repair first.", Exit.IMAGE)
        return Fixing(guest, image, os_info, found, options, status).run(shown)

"""reinstall-kernel: plan the whole repair read-only, print it, then apply it, in one launch.

    diagnose → choose the kernel → find and verify its package → plan the
    install, depmod, the initrd and the boot loader change → (the plan is
    printed) → back up → install → depmod → initrd → boot loader → relabel →
    diagnose again

Everything up to the printed plan only reads (the guest is mounted read-only):
a refusal there leaves the image's bytes as they were. A dry run applies the
same plan to libguestfs's throw-away overlay.
"""
from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rescue import __version__, bootloader
from rescue.bootloader.base import BootLayout, KernelEntryRequest, backup_name
from rescue.diagnose import report, rules
from rescue.diagnose.gather import Gatherer
from rescue.distro import Family, family_for
from rescue.errors import Exit, RescueError
from rescue.guest import inspect
from rescue.guest.files import GuestConfigFiles
from rescue.guest.session import Guest
from rescue.model import Diagnosis, GuestFacts, OsInfo
from rescue.repair import steps
from rescue.repair.packages import find_packages
from rescue.repair.plan import InitrdBuild, RepairPlan, choose_target, initrd_drivers, kernel_modules
from rescue.repair.steps import Outcome, checkpoint

Status = Callable[[str], None]
PlanShown = Callable[[RepairPlan], None]


@dataclass(frozen=True)
class ReinstallOptions:
    kernel: str | None = None           # target uname_r; None = diagnose's recommendation
    rpms: tuple[Path, ...] = ()
    dirs: tuple[Path, ...] = ()
    repo: str | None = None
    nosignature: bool = False
    backup: bool = True
    dry_run: bool = False
    confirmed: tuple | None = None      # RepairPlan.key() the operator confirmed after a dry run


@dataclass(frozen=True)
class ReinstallResult:
    image: str
    plan: RepairPlan
    before: Diagnosis
    after: Diagnosis
    outcome: Outcome
    dry_run: bool

    @property
    def target(self) -> str:
        return self.plan.target

    @property
    def success(self) -> bool:
        return self.after.bootable and self.after.default_kernel == self.target


class RepairInterrupted(RescueError):
    """Ctrl-C during a repair: say what was done and where the backups are."""

    def __init__(self, image: str, outcome: Outcome, dry_run: bool):
        done = "; ".join(f"{name}: {detail}" for name, detail in outcome.done) or "nothing"
        where = "the throw-away overlay (the image was not touched)" if dry_run else image
        hint = ("Backups: " + ", ".join(outcome.backups) + ". " if outcome.backups else "No file had been overwritten. ")
        hint += "grub.conf is replaced atomically, so it is either the old or the new one; run diagnose to see."
        super().__init__("INTERRUPTED", f"Interrupted. Done on {where} before the interruption: {done}.",
                         hint, Exit.INTERRUPTED)


class KernelReinstall:
    """One reinstall on a launched `Guest` whose one Linux guest is mounted read-only."""

    def __init__(self, guest: Guest, image: str, os_info: OsInfo, family: Family, disk: inspect.DiskInspection,
                 options: ReinstallOptions, status: Status, workdir: Path):
        self.guest = guest
        self.image = image
        self.os = os_info
        self.family = family
        self.disk = disk        # volumes found once by rescue.guest.inspect: never scanned again
        self.layout = BootLayout(disk.disk, os_info.mountpoints, tuple(disk.filesystems))
        self.options = options
        self.status = status
        self.workdir = workdir
        self.started = time.localtime()
        self.stamp = time.strftime("%Y%m%d-%H%M%S", self.started)
        self.outcome = Outcome()

    def run(self, shown: PlanShown) -> ReinstallResult:
        try:
            before = self.diagnose()
            plan = self.plan(before)
            shown(plan)
            if self.options.confirmed is not None and plan.key() != self.options.confirmed:
                raise RescueError("PLAN_CHANGED", f"{self.image}: the repair would now differ from the plan "
                                  "confirmed after the dry run; nothing was written.",
                                  "Was the image changed meanwhile? Run reinstall-kernel again.", Exit.REFUSED)
            self.apply(plan)
            return ReinstallResult(self.image, plan, before, self.diagnose(), self.outcome, self.options.dry_run)
        except KeyboardInterrupt:
            raise RepairInterrupted(self.image, self.outcome, self.options.dry_run) from None

    def diagnose(self) -> Diagnosis:
        return rules.diagnose(Gatherer(self.guest, self.image, self.os, self.disk).gather_mounted())

    # --- deciding (read-only) ------------------------------------------------------

    def plan(self, before: Diagnosis) -> RepairPlan:
        refuse_unsafe(self.image, before)
        target, why = choose_target(before, self.options.kernel)
        self.status(f"Looking for the RPM of kernel {target}")
        notes: list[str] = []
        packages = find_packages(self.guest, self.family, target, rpms=self.options.rpms, dirs=self.options.dirs,
                                 repo=self.options.repo, nosignature=self.options.nosignature,
                                 workdir=self.workdir, notes=notes)
        package_files = tuple(p for choice in packages for p in choice.verified.header.file_paths)
        install, install_why = self._install_command(packages, notes)
        boot_files = tuple((src, dst) for src, dst in self.family.boot_files(target) if src in package_files)
        depmod = self._depmod(target, notes)
        initrd = self._initrd(target, package_files)
        loader_plan = self._bootloader(target, before.facts)
        overwritten = [p for p in package_files if p.startswith("/boot/")] + [dst for _, dst in boot_files]
        backups = self._backups(overwritten + list(loader_plan.backups), notes)
        return RepairPlan(self.image, target, why, packages, backups, install, install_why, boot_files, depmod,
                          initrd, loader_plan, self._selinux_mode(), tuple(notes))

    def _install_command(self, packages, notes: list[str]) -> tuple[tuple[str, ...] | None, str]:
        rpm = self.guest.which(["rpm"])
        if rpm is None:
            return None, "the guest has no rpm program"
        try:
            self.guest.command([rpm, "--version"])
        except RuntimeError as exc:
            notes.append(f"the guest's rpm does not run ({steps.last_line(exc)}); "
                         "the package is unpacked by vmrescue instead")
            return None, "the guest's rpm does not run"
        return tuple(self.family.install_command(rpm, steps.uploaded_paths(packages))), "the guest's own rpm"

    def _depmod(self, target: str, notes: list[str]) -> tuple[str, ...] | None:
        depmod = self.guest.which(["depmod"])
        if depmod is None:
            notes.append("the guest has no depmod; modules.dep is not regenerated")
            return None
        return depmod, "-a", target

    def _initrd(self, target: str, package_files: tuple[str, ...]) -> InitrdBuild:
        tool = next((path for name in self.family.initrd_tools if (path := self.guest.which([name]))), None)
        if tool is None:
            raise RescueError("NO_INITRD_TOOL",
                              f"{self.image}: the guest has neither {' nor '.join(self.family.initrd_tools)}, so "
                              "the new kernel's initrd could not be built; nothing was written.",
                              f"Install the guest's initrd tool ({' or '.join(self.family.initrd_tools)}) first.",
                              Exit.REFUSED)
        path = f"/boot/{self.family.initrd_name(target)}"
        drivers = guest_initrd_drivers(self.guest, self.os, self.disk, kernel_modules(package_files, target))
        return InitrdBuild(tuple(self.family.initrd_command(tool, path, target, drivers)), path, tuple(drivers))

    def _bootloader(self, target: str, facts: GuestFacts):
        files = GuestConfigFiles(self.guest, self.image)
        # the boot loader the guest has; for a guest whose configuration is gone, its release's own
        loader = bootloader.detect(files, prefer=self.family.bootloader_kind()) or \
            bootloader.fresh(self.family.bootloader_kind())
        root_spec = next((spec for spec, mountpoint, _ in facts.fstab if mountpoint == "/"), None)
        request = KernelEntryRequest(
            uname_r=target, initrd_name=self.family.initrd_name(target), distro_title=self.family.title(),
            release_major=self.os.major, root_spec=root_spec,
            written_by=f"vmrescue {__version__} reinstall-kernel, {time.strftime('%Y-%m-%d %H:%M:%S %Z', self.started)}",
            backup_stamp=self.stamp if self.options.backup else None)
        return loader.plan_kernel(request, files, self.layout, lambda name: self.guest.which([name]))

    def _backups(self, overwritten: list[str], notes: list[str]) -> tuple[tuple[str, str], ...]:
        if not self.options.backup:
            notes.append("--no-backup: overwritten files are not saved")
            return ()
        found = []
        for path in overwritten:
            if path and self.guest.is_file(path) and not self.guest.is_symlink(path):
                found.append((path, backup_name(path, self.stamp)))
        return tuple(dict.fromkeys(found))

    def _selinux_mode(self) -> str | None:
        config = self.guest.read_text("/etc/selinux/config") if self.guest.is_file("/etc/selinux/config") else ""
        mode = re.search(r"^\s*SELINUX\s*=\s*(\w+)", config, re.MULTILINE)
        return None if not mode or mode.group(1) == "disabled" else mode.group(1)

    # --- acting ------------------------------------------------------------------------

    def apply(self, plan: RepairPlan) -> None:
        self.guest.remount_writable(self.os)
        checkpoint("backup")
        steps.back_up(self.guest, plan.backups, self.outcome)
        checkpoint("install")
        self.status(f"Installing {', '.join(choice.verified.header.nvra for choice in plan.packages)}")
        steps.install(self.guest, plan.packages, plan.install, self.workdir, self.outcome)
        steps.copy_boot_files(self.guest, plan.boot_files, self.outcome)
        steps.depmod(self.guest, plan.depmod, self.outcome)
        checkpoint("initrd")
        steps.build_initrd(self.guest, plan.initrd, self.status, self.outcome)
        checkpoint("grub.conf")
        steps.write_bootloader(self.guest, plan.bootloader, self.outcome)
        steps.relabel(self.guest, plan.relabel, self.outcome)
        self.guest.sync()


def guest_initrd_drivers(guest: Guest, os_info: OsInfo, disk: inspect.DiskInspection, available: set[str]) -> list[str]:
    """initrd_drivers for the mounted guest: its modprobe.conf aliases, its root's filesystem and LVM."""
    texts = []
    for path in ["/etc/modprobe.conf"] + [f"/etc/modprobe.d/{n}" for n in guest.ls("/etc/modprobe.d")]:
        if guest.is_file(path):
            texts.append(guest.read_text(path, 256 * 1024))
    root = dict(os_info.mountpoints).get("/")
    fstype = next((fs.fstype for fs in disk.filesystems if fs.device == root), None)
    return initrd_drivers("\n".join(texts), fstype, (root or "") in disk.lvs, available)


def refuse_unsafe(image: str, before: Diagnosis) -> None:
    """Refuse, while nothing is written, a guest diagnose found unsafe to write (rules.repair_blocker)."""
    blocker = rules.repair_blocker(before)
    if blocker is not None:
        # the message quotes guest text (symlink targets): made inert for the terminal
        raise RescueError("REPAIR_REFUSED", f"{image}: {report.clean(blocker.message)} Nothing was written.",
                          report.clean(blocker.action), Exit.REFUSED)


def reinstall(guest: Guest, image: str, options: ReinstallOptions, status: Status,
              shown: PlanShown) -> ReinstallResult:
    """Inspect the single OS on `guest`'s only image, plan its repair read-only, show the plan, apply it."""
    found = inspect.inspect_disk(guest, guest.devices()[0])
    os_info = inspect.single_root(image, found, writing=True)    # Windows, LUKS: say so, not just "no OS"
    if os_info is None:
        raise RescueError("NO_OS", f"{image}: no operating system found; nothing was written.",
                          "vmrescue repairs one Linux guest per disk image.", Exit.IMAGE)
    family = family_for(os_info)
    if family is None:
        if os_info.package_format != "rpm":
            raise RescueError("NOT_AN_RPM_GUEST", f"{image}: {os_info.product} is not an RPM-based guest; "
                              "nothing was written.", "reinstall-kernel repairs CentOS/RHEL-family guests.",
                              Exit.REFUSED)
        raise RescueError("UNKNOWN_FAMILY", f"{image}: vmrescue knows no distribution family for "
                          f"{os_info.product}; nothing was written.",
                          "reinstall-kernel repairs CentOS/RHEL-family guests.", Exit.REFUSED)
    with guest.mounted(os_info, writable=False) as unmounted:
        if unmounted:
            raise RescueError("MOUNT_FAILED", f"{image}: could not mount {'; '.join(unmounted)}; nothing was written.",
                              "Check the filesystem with e2fsck/xfs_repair first.", Exit.IMAGE)
        with tempfile.TemporaryDirectory(prefix="vmrescue-") as work:
            return KernelReinstall(guest, image, os_info, family, found, options, status, Path(work)).run(shown)


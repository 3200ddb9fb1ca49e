"""reinstall-kernel: the repair as a short list of named steps, in one launch.

    diagnose → choose the kernel → find and verify its RPM → back up →
    install (guest rpm, else host extraction) → depmod → rebuild the initrd
    with the guest's own tool → rewrite grub.conf → relabel → diagnose again

Every step records what it did in a `RepairLog`, so a dry run (the same steps
on libguestfs's throw-away overlay) prints exactly what a real run would write.
Deciding (which kernel, which drivers, which grub.conf) is done by pure
functions; this module only sequences them and talks to the `Guest`.
"""
from __future__ import annotations

import os
import posixpath
import re
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rescue import __version__, grubrender, report, rules
from rescue.guest import inspect as inspection
from rescue.kernel import initramfs as initrd
from rescue.guest.session import Guest
from rescue.guest.devices import resolve_grub_path
from rescue.errors import Exit, RescueError
from rescue.gather import Gatherer
from rescue.model import Diagnosis, GuestFacts, OsInfo
from rescue.rpm.header import RpmFormatError, header_span, kernel_uname_r, read_rpm_header
from rescue.rpm.payload import payload_tar
from rescue.rpm.sources import FoundRpm, scan_paths, select
from rescue.rpm.repodata import find_in_repo
from rescue.rpm.verify import VerifiedRpm, check_candidate, split_armored_keys, verify_rpm

GRUB_CONF = "/boot/grub/grub.conf"
GUEST_TMP_RPM = "/tmp/vmrescue-kernel.rpm"
GUEST_YUM_CACHE = "/var/cache/yum"
GUEST_KEYS_DIR = "/etc/pki/rpm-gpg"
GRUB_CONF_READ_LIMIT = 4 * 1024 * 1024
_ALIAS = re.compile(r"^\s*alias\s+(scsi_hostadapter\d*|eth\d+)\s+(\S+)", re.MULTILINE)

Status = Callable[[str], None]


@dataclass(frozen=True)
class ReinstallOptions:
    kernel: str | None = None           # target uname_r; None = diagnose's recommendation
    rpms: tuple[Path, ...] = ()
    dirs: tuple[Path, ...] = ()
    repo: str | None = None
    nosignature: bool = False
    backup: bool = True
    dry_run: bool = False


@dataclass
class RepairLog:
    """What the repair did, in order: the plan a dry run prints."""
    steps: list[tuple[str, str]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def step(self, name: str, detail: str) -> None:
        self.steps.append((name, detail))


@dataclass(frozen=True)
class ReinstallResult:
    image: str
    target: str
    target_reason: str
    rpm: str
    install_method: str                 # "guest-rpm" or "host-extract"
    before: Diagnosis
    after: Diagnosis
    grub_diff: str
    log: RepairLog
    dry_run: bool

    @property
    def success(self) -> bool:
        return self.after.bootable and self.after.default_kernel == self.target


class RepairInterrupted(RescueError):
    """Ctrl-C during a repair: say what was done and where the backups are."""

    def __init__(self, image: str, log: RepairLog, dry_run: bool):
        done = "; ".join(f"{name}: {detail}" for name, detail in log.steps) or "nothing"
        where = "the throw-away overlay (the image was not touched)" if dry_run else image
        hint = ("Backups: " + ", ".join(log.backups) + ". " if log.backups else "No file had been overwritten. ")
        hint += "grub.conf is replaced atomically, so it is either the old or the new one; run diagnose to see."
        super().__init__("INTERRUPTED", f"Interrupted. Done on {where} before the interruption: {done}.",
                         hint, Exit.INTERRUPTED)


# Test hook for the fault-injection tests: VMRESCUE_TEST_KILL_AT=<point> makes
# vmrescue SIGKILL itself there, as a power cut or an OOM kill would.
_KILL_POINT = os.environ.get("VMRESCUE_TEST_KILL_AT")


def _checkpoint(point: str) -> None:
    if _KILL_POINT == point:
        os.kill(os.getpid(), signal.SIGKILL)


# --- pure decisions ------------------------------------------------------------

def choose_target(before: Diagnosis, requested: str | None) -> tuple[str, str]:
    """(uname_r, why): the operator's --kernel, else diagnose's recommendation."""
    if requested:
        return requested, "given with --kernel"
    rec = before.recommended_kernel
    if rec is None:
        raise RescueError("NO_TARGET_KERNEL",
                          f"{before.facts.image}: diagnose found no evidence of which kernel this guest needs.",
                          "Name it: --kernel UNAME_R (e.g. the release in /lib/modules/*/misc/vmxnet.ko's vermagic).",
                          Exit.USAGE)
    return rec.uname_r, rec.reason


def initrd_drivers(modprobe_conf: str, root_fstype: str | None, root_on_lvm: bool,
                   available: set[str]) -> list[str]:
    """Drivers the initrd needs to reach root: scsi_hostadapter aliases, the root fs, LVM.

    Only modules the new kernel actually ships are named (dracut and mkinitrd
    fail on unknown ones); names compare with '-' and '_' alike, as modprobe does.
    """
    def norm(name: str) -> str:
        return name.replace("-", "_")

    have = {norm(m): m for m in available}
    wanted = [m for key, m in _ALIAS.findall(modprobe_conf) if key.startswith("scsi_hostadapter")]
    if root_fstype in ("ext3", "ext4", "xfs", "ext2"):
        wanted.append(root_fstype)
    if root_on_lvm:
        wanted.append("dm-mod")
    seen, drivers = set(), []
    for m in wanted:
        if norm(m) in have and norm(m) not in seen:
            seen.add(norm(m))
            drivers.append(have[norm(m)])
    return drivers


def missing_from_initrd(paths: list[str], drivers: list[str]) -> list[str]:
    names = {posixpath.basename(p).split(".ko")[0].replace("-", "_") for p in paths if ".ko" in p}
    return [d for d in drivers if d.replace("-", "_") not in names]


def grub_root_for(os_info: OsInfo, first_disk: str) -> str:
    """The GRUB device of the filesystem holding /boot: /dev/sda1 → (hd0,0)."""
    device = dict(os_info.mountpoints).get("/boot") or dict(os_info.mountpoints).get("/", "")
    m = re.match(r"^/dev/sd([a-z])(\d+)$", device)
    if not m:
        return "(hd0,0)"
    disk = ord(m.group(1)) - ord(first_disk[-1])
    return f"(hd{disk},{int(m.group(2)) - 1})"


def backup_name(path: str, stamp: str) -> str:
    return f"{path}.vmrescue-{stamp}"


# --- the repair ----------------------------------------------------------------

class KernelReinstall:
    """One reinstall on a launched `Guest` whose guest is mounted read-write."""

    def __init__(self, guest: Guest, image: str, os_info: OsInfo, disk: inspection.DiskInspection,
                 options: ReinstallOptions, status: Status, workdir: Path):
        self.guest = guest
        self.image = image
        self.os = os_info
        self.first_disk = disk.disk
        self.disk = disk        # volumes found once by rescue.inspection: never scanned again
        self.options = options
        self.status = status
        self.workdir = workdir
        self.log = RepairLog()
        self.stamp = time.strftime("%Y%m%d-%H%M%S")

    def run(self) -> ReinstallResult:
        try:
            return self._run()
        except KeyboardInterrupt:
            raise RepairInterrupted(self.image, self.log, self.options.dry_run) from None

    def _run(self) -> ReinstallResult:
        before = self._diagnose()
        self._refuse_unsafe(before)
        target, why = choose_target(before, self.options.kernel)
        self.log.step("target", f"kernel {target} ({why})")
        rpm = self._find_and_verify(target)
        initrd_tool = self._initrd_tool()
        self._preflight_grub_conf(target, before.facts)
        # Everything above only read (the guest is mounted read-only): a refusal
        # leaves the image's bytes as they were. From here on we write.
        self.guest.remount_writable(self.os)
        _checkpoint("backup")
        self._back_up(rpm)
        _checkpoint("install")
        method = self._install(rpm)
        self._depmod(target)
        _checkpoint("initrd")
        self._rebuild_initrd(target, initrd_tool)
        _checkpoint("grub.conf")
        diff = self._rewrite_bootloader(target, before.facts)
        self._relabel()
        self.guest.sync()
        after = self._diagnose()
        return ReinstallResult(self.image, target, why, str(rpm.path), method, before, after, diff,
                               self.log, self.options.dry_run)

    def _diagnose(self) -> Diagnosis:
        facts = Gatherer(self.guest, self.image, self.os, self.disk).gather_mounted()
        return rules.diagnose(facts)

    # --- finding the package ----------------------------------------------------

    def _find_and_verify(self, target: str) -> VerifiedRpm:
        self.status(f"Looking for the RPM of kernel {target}")
        notes: list[str] = []
        found = scan_paths(list(self.options.rpms), list(self.options.dirs), notes)
        best, rejected = select(found, target, self.os.arch)
        source = "the given files and directories"
        if best is None and self.options.repo:
            best, repo_rejected = find_in_repo(self.options.repo, target, self.os.arch, self.workdir)
            rejected = [*rejected, *((r, why) for r, why in repo_rejected)]
            source = self.options.repo
        if best is None:
            best = self._from_guest_cache(target)
            source = "the guest's yum cache"
        if best is None:
            reasons = "; ".join(f"{getattr(r, 'path', r)}: {why}" for r, why in rejected[:6])
            raise RescueError(
                "RPM_NOT_FOUND",
                f"No RPM of kernel {target} for {self.os.arch} was found"
                + (f" (looked at: {reasons})" if reasons else "") + "; nothing was written.",
                f"Download the package (e.g. {rules_package(target, self.os.arch)}) from the distribution's "
                "mirror or vault and pass --from DIR or --rpm FILE.",
                Exit.REFUSED)
        keys = self._guest_keys()
        verified = verify_rpm(best.path, target, self.os.arch, keys, self.options.nosignature)
        sig = verified.signature
        signed = (f"signature {sig.status}" + (f" (key {sig.key_id})" if sig.key_id else "")) if sig else \
            "signature not checked (--nosignature)"
        self.log.step("package", f"{best.path} from {source}: {verified.header.nvra}, digests ok, {signed}")
        if sig is not None and sig.status != "ok":
            self.log.notes.append(f"{verified.header.nvra}: {sig.detail}")
        for note in notes:
            self.log.notes.append(note)
        return verified

    def _from_guest_cache(self, target: str) -> FoundRpm | None:
        for rel in self.guest.find(GUEST_YUM_CACHE):
            if not rel.endswith(".rpm"):
                continue
            path = f"{GUEST_YUM_CACHE}/{rel}"
            if not self.guest.is_file(path):    # a FIFO named *.rpm would block the read for ever
                continue
            try:
                data = self.guest.read(path, 64 * 1024)
                need = header_span(data)
                if need > len(data):
                    data = self.guest.read(path, need)
                header = read_rpm_header(data)
            except (RuntimeError, RpmFormatError):
                continue
            if kernel_uname_r(header) != target or check_candidate(path, header, target, self.os.arch):
                continue
            local = self.workdir / posixpath.basename(path)
            self.guest.download(path, str(local))
            return FoundRpm(local, header)
        return None

    def _guest_keys(self) -> list[bytes]:
        keys: list[bytes] = []
        for name in self.guest.ls(GUEST_KEYS_DIR):
            path = f"{GUEST_KEYS_DIR}/{name}"
            if self.guest.is_file(path):
                keys.extend(split_armored_keys(self.guest.read(path, 1024 * 1024)))
        return keys

    # --- writing ----------------------------------------------------------------

    def _back_up(self, rpm: VerifiedRpm) -> None:
        if not self.options.backup:
            self.log.notes.append("--no-backup: overwritten files were not saved")
            return
        candidates = [f.path for f in rpm.header.files if f.path.startswith("/boot/")]
        candidates.append(self._grub_conf_path())
        for path in candidates:
            if path and self.guest.is_file(path) and not self.guest.is_symlink(path):
                copy = backup_name(path, self.stamp)
                self.guest.copy_preserving(path, copy)
                self.log.backups.append(copy)
        if self.log.backups:
            self.log.step("backup", ", ".join(self.log.backups))

    def _install(self, rpm: VerifiedRpm) -> str:
        self.status(f"Installing {rpm.header.nvra}")
        if self._install_with_guest_rpm(rpm):
            return "guest-rpm"
        self._install_by_extraction(rpm)
        return "host-extract"

    def _install_with_guest_rpm(self, rpm: VerifiedRpm) -> bool:
        rpm_bin = self.guest.which(["rpm"])
        if rpm_bin is None:
            self.log.notes.append("the guest has no rpm program; the package was unpacked by vmrescue instead")
            return False
        try:
            self.guest.command([rpm_bin, "--version"])
        except RuntimeError as exc:
            self.log.notes.append(f"the guest's rpm does not run ({_first_line(exc)}); "
                                  "the package was unpacked by vmrescue instead")
            return False
        # Stale Berkeley DB environment files from the interrupted yum run lock the database.
        for stale in self.guest.glob("/var/lib/rpm/__db.*"):
            self.guest.remove(stale)
        self.guest.mkdir_p("/tmp")
        self.guest.upload(str(rpm.path), GUEST_TMP_RPM)
        # --noscripts: the kernel's %post (new-kernel-pkg/grubby) would run the
        # appliance's view of the world; vmrescue does its steps explicitly below.
        # --nodeps: a half-updated guest may not satisfy them, and they name the
        # very tools (mkinitrd/dracut) checked for below.
        argv = [rpm_bin, "-ivh", "--force", "--noscripts", "--nodeps", GUEST_TMP_RPM]
        try:
            self.guest.command(argv)
        except RuntimeError as exc:
            self.log.notes.append(f"the guest's rpm failed ({_first_line(exc)}); "
                                  "the package was unpacked by vmrescue instead")
            return False
        finally:
            self.guest.remove(GUEST_TMP_RPM)
        self.log.step("install", f"{' '.join(argv[:-1])} {rpm.path.name} (the guest's own rpm; "
                                 "its RPM database now lists the package)")
        self.log.written.extend(rpm.header.file_paths)
        return True

    def _install_by_extraction(self, rpm: VerifiedRpm) -> None:
        tar_path = self.workdir / "payload.tar"
        with open(tar_path, "wb") as out:
            paths = payload_tar(str(rpm.path), rpm.header, out)
        self.guest.tar_in(str(tar_path), "/")
        tar_path.unlink()
        self.log.step("install", f"unpacked {len(paths)} files of {rpm.path.name} into the guest "
                                 "(the guest's rpm could not run)")
        self.log.notes.append(f"the guest's RPM database was NOT updated; after boot run: "
                              f"rpm -ivh --justdb --nodeps {rpm.path.name}")
        self.log.written.extend(paths)

    def _depmod(self, target: str) -> None:
        depmod = self.guest.which(["depmod"])
        if depmod is None:
            self.log.notes.append("the guest has no depmod; modules.dep was not regenerated")
            return
        try:
            self.guest.command([depmod, "-a", target])
        except RuntimeError as exc:
            self.log.notes.append(f"depmod -a {target} failed: {_first_line(exc)}")
            return
        self.log.step("depmod", f"{depmod} -a {target}")

    def _initrd_tool(self) -> str:
        """The guest's own initrd builder: dracut (EL6+), else mkinitrd (EL5)."""
        tool = self.guest.which(["dracut"]) or self.guest.which(["mkinitrd"])
        if tool is None:
            raise RescueError("NO_INITRD_TOOL",
                              f"{self.image}: the guest has neither dracut nor mkinitrd, so the new kernel's initrd "
                              "could not be built; nothing was written.",
                              "Install the guest's initrd tool (dracut or mkinitrd) first.", Exit.REFUSED)
        return tool

    def _rebuild_initrd(self, target: str, tool: str) -> None:
        name = grubrender.default_initrd_name(target, self.os.major)
        path = f"/boot/{name}"
        drivers = initrd_drivers(self._modprobe_conf(), self._root_fstype(), self._root_on_lvm(),
                                 self._available_modules(target))
        if posixpath.basename(tool) == "dracut":
            argv = [tool, "-f"] + (["--add-drivers", " ".join(drivers)] if drivers else []) + [path, target]
        else:
            argv = [tool, "-f"] + [f"--with={d}" for d in drivers] + [path, target]
        self.status(f"Rebuilding the initrd with the guest's {posixpath.basename(argv[0])}")
        try:
            self.guest.command(argv)
        except RuntimeError as exc:
            raise RescueError("INITRD_FAILED", f"{' '.join(argv)} failed in the guest: {_first_line(exc)}",
                              "Run vmrescue -v to see the tool's output.", Exit.NOT_BOOTABLE)
        if not self.guest.is_file(path) or self.guest.size(path) == 0:
            raise RescueError("INITRD_FAILED", f"{' '.join(argv)} left no initrd at {path}.",
                              "Run vmrescue -v to see the tool's output.", Exit.NOT_BOOTABLE)
        listing = initrd.list_initrd_paths(self.guest.read(path, 256 * 1024 * 1024)) or []
        missing = missing_from_initrd(listing, drivers)
        self.log.step("initrd", f"{' '.join(argv)} ({self.guest.size(path)} bytes"
                                + (f"; root drivers: {', '.join(drivers)}" if drivers else "") + ")")
        if missing:
            self.log.notes.append(f"{path} does not list {', '.join(missing)}: the guest may not find its root disk")
        self.log.written.append(path)

    def _grub_conf_path(self) -> str:
        if self.guest.exists(GRUB_CONF) or self.guest.is_symlink(GRUB_CONF):
            try:
                return self.guest.realpath(GRUB_CONF)
            except RuntimeError:
                return GRUB_CONF
        return GRUB_CONF

    def _refuse_unsafe(self, before: Diagnosis) -> None:
        """Refuse, while nothing is written, a guest diagnose found unsafe to write (rules.repair_blocker)."""
        blocker = rules.repair_blocker(before)
        if blocker is not None:
            # the message quotes guest text (symlink targets): made inert for the terminal
            raise RescueError("REPAIR_REFUSED", f"{self.image}: {report.clean(blocker.message)} Nothing was written.",
                              report.clean(blocker.action), Exit.REFUSED)

    def _preflight_grub_conf(self, target: str, facts: GuestFacts) -> None:
        """Plan grub.conf before writing anything, so that what the plan refuses is refused in time."""
        if not (facts.bootloader.kind == "grub2" or self.os.major >= 7):
            self._plan_grub_conf(target, facts)

    def _plan_grub_conf(self, target: str, facts: GuestFacts):
        """(path, current text, plan) of the new grub.conf; raises what the plan refuses."""
        path = self._grub_conf_path()
        if self.guest.is_file(path) and self.guest.size(path) > GRUB_CONF_READ_LIMIT:
            raise RescueError("GRUB_CONF_TOO_LARGE",
                              f"{self.image}: {path} is {self.guest.size(path)} bytes; vmrescue rewrites only a "
                              f"grub.conf it reads whole ({GRUB_CONF_READ_LIMIT} bytes at most); nothing was written.",
                              f"Cut {path} back to its real entries (or move it away so that a fresh one is "
                              "written) and run again.", Exit.REFUSED)
        current = self.guest.read_text(path, GRUB_CONF_READ_LIMIT) if self.guest.is_file(path) else None
        grub_root = grub_root_for(self.os, self.first_disk)
        root_spec = next((spec for spec, mp, _ in facts.fstab if mp == "/"), None)
        backup = backup_name(path, self.stamp) if backup_name(path, self.stamp) in self.log.backups else None

        def file_exists(grub_path: str) -> bool:
            guest_path = resolve_grub_path(grub_path, grub_root, self.first_disk, self.os.mountpoints)
            return bool(guest_path) and self.guest.is_file(guest_path)

        plan = grubrender.plan_grub_conf(
            current, uname_r=target, el_major=self.os.major, boot_is_separate=facts.boot_is_separate,
            file_exists=file_exists, initrd_name=grubrender.default_initrd_name(target, self.os.major),
            default_root_args=f"ro root={root_spec}" if root_spec else "ro",
            grub_root=grub_root, distro_title=_distro_title(self.os),
            written_by=f"vmrescue {__version__} reinstall-kernel, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
            backup_path=backup, splash_exists=self.guest.is_file("/boot/grub/splash.xpm.gz"),
        )
        return path, current, plan

    def _rewrite_bootloader(self, target: str, facts: GuestFacts) -> str:
        if facts.bootloader.kind == "grub2" or self.os.major >= 7:
            return self._grub2(target)
        path, current, plan = self._plan_grub_conf(target, facts)
        # Atomic replace: a run killed at any moment leaves the old or the new file, never half of one.
        tmp = posixpath.join(posixpath.dirname(path), ".grub.conf.vmrescue-tmp")
        self.guest.write_file(tmp, plan.text.encode())
        _checkpoint("grub.conf-rename")
        self.guest.rename(tmp, path)
        self.log.written.append(path)
        detail = f"{path}: new default entry {plan.added!r}"
        if plan.dropped:
            detail += "; dropped " + "; ".join(f"{t!r} ({why})" for t, why in plan.dropped)
        self.log.step("grub.conf", detail)
        self.log.notes.extend(plan.notes)
        return grubrender.unified_diff(current, plan.text, path)

    def _grub2(self, target: str) -> str:
        grubby = self.guest.which(["grubby"])
        if grubby is None:
            self.log.notes.append("GRUB2 guest without grubby: add the entry with "
                                  "`grub2-mkconfig -o /boot/grub2/grub.cfg` after boot from rescue media")
            return ""
        initrd_path = f"/boot/{grubrender.default_initrd_name(target, self.os.major)}"
        argv = [grubby, f"--add-kernel=/boot/vmlinuz-{target}", f"--initrd={initrd_path}",
                f"--title={_distro_title(self.os)} ({target})", "--copy-default", "--make-default"]
        self.guest.command(argv)
        self.log.step("grub2", " ".join(argv))
        return ""

    def _relabel(self) -> None:
        config = self.guest.read_text("/etc/selinux/config") if self.guest.is_file("/etc/selinux/config") else ""
        mode = re.search(r"^\s*SELINUX\s*=\s*(\w+)", config, re.MULTILINE)
        if not mode or mode.group(1) == "disabled":
            return
        self.guest.write_file("/.autorelabel", b"")
        self.log.step("selinux", f"SELinux is {mode.group(1)}: /.autorelabel makes the first boot relabel "
                                 "the files vmrescue wrote")

    # --- small readers ------------------------------------------------------------

    def _modprobe_conf(self) -> str:
        texts = []
        for path in ["/etc/modprobe.conf"] + [f"/etc/modprobe.d/{n}" for n in self.guest.ls("/etc/modprobe.d")]:
            if self.guest.is_file(path):
                texts.append(self.guest.read_text(path, 256 * 1024))
        return "\n".join(texts)

    def _root_fstype(self) -> str | None:
        device = dict(self.os.mountpoints).get("/")
        return next((fs.fstype for fs in self.disk.filesystems if fs.device == device), None)

    def _root_on_lvm(self) -> bool:
        return dict(self.os.mountpoints).get("/", "") in self.disk.lvs

    def _available_modules(self, target: str) -> set[str]:
        return {posixpath.basename(p).split(".ko")[0] for p in self.guest.find(f"/lib/modules/{target}")
                if ".ko" in p}


def rules_package(uname_r: str, arch: str) -> str:
    from rescue.distro.redhat_naming import package_file_for
    try:
        return package_file_for(uname_r, arch)
    except ValueError:
        return f"kernel-{uname_r}.rpm"


def _distro_title(os_info: OsInfo) -> str:
    return {"centos": "CentOS", "rhel": "Red Hat Enterprise Linux", "scientificlinux": "Scientific Linux",
            "oraclelinux": "Oracle Linux", "fedora": "Fedora"}.get(os_info.distro, os_info.distro.title())


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def reinstall(guest: Guest, image: str, options: ReinstallOptions, status: Status) -> ReinstallResult:
    """Inspect the single OS on `guest`'s only image, mount it read-write and repair it."""
    found = inspection.inspect_disk(guest, guest.devices()[0])
    roots = [os_info.root for os_info in found.roots]
    refused = inspection.no_root_error(image, found)     # Windows, LUKS: say so, not just "no OS"
    if refused is not None:
        raise refused
    if len(roots) != 1:
        raise RescueError("NO_OS" if not roots else "MULTIPLE_ROOTS",
                          f"{image}: {'no operating system' if not roots else f'{len(roots)} operating systems'} "
                          "found; nothing was written.",
                          "vmrescue repairs one Linux guest per disk image.", Exit.IMAGE)
    os_info = found.roots[0]
    if os_info.package_format != "rpm":
        raise RescueError("NOT_AN_RPM_GUEST", f"{image}: {os_info.product} is not an RPM-based guest; "
                          "nothing was written.", "reinstall-kernel repairs CentOS/RHEL-family guests.", Exit.REFUSED)
    with guest.mounted(os_info, writable=False) as unmounted:
        if unmounted:
            raise RescueError("MOUNT_FAILED", f"{image}: could not mount {'; '.join(unmounted)}; nothing was written.",
                              "Check the filesystem with e2fsck/xfs_repair first.", Exit.IMAGE)
        with tempfile.TemporaryDirectory(prefix="vmrescue-") as work:
            return KernelReinstall(guest, image, os_info, found, options, status, Path(work)).run()

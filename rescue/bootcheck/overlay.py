"""The throw-away overlay, made ready to boot on the serial console (one appliance launch).

The guest's boot loader kind (rescue.bootloader) says which of its files to
rewrite and how (the serial console, without rhgb/quiet, loglevel=7); a
sysvinit guest gets a getty on ttyS0; the probe (rescue.bootcheck.probe)
goes where the guest's init runs local start-up commands; and the facts the
hardware choice and the driver check need are read: the default entry's
initrd drivers, its kernel's modules, the third-party modules diagnose
lists, whether the MBR holds boot code.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from rescue import bootloader
from rescue.bootcheck import probe
from rescue.bootcheck.hardware import (
    DEFAULT_DISK, DEFAULT_NIC, DISK_CONTROLLERS, NICS, Hardware, choose_hardware, module_names,
)
from rescue.bootloader.cmdline import MARK, console_changes
from rescue.bootloader.efi import read_esp
from rescue.guest import inspect
from rescue.guest.files import GuestConfigFiles
from rescue.errors import first_line
from rescue.guest.session import Guest
from rescue.kernel import thirdparty
from rescue.kernel.bootfiles import release_from_boot_name
from rescue.kernel.initramfs import list_initrd_paths
from rescue.model import ThirdPartyModule

CONFIG_LIMIT = 1024 * 1024
INITRD_LIMIT = 256 * 1024 * 1024         # larger initrds are not opened (the choice falls back to IDE)
MODULE_LIMIT = 16 * 1024 * 1024
# Files whose SELinux label the probe's new files take: what init runs as local start-up commands.
SCRIPT_LABEL_LIKE = probe.RC_LOCALS
UNIT_LABEL_LIKE = ("/usr/lib/systemd/system/rc-local.service", "/lib/systemd/system/rc-local.service",
                   "/usr/lib/systemd/system/getty@.service", "/lib/systemd/system/getty@.service")


def serial_inittab(text: str, getty: str) -> str | None:
    """/etc/inittab with a getty on ttyS0, for sysvinit guests (EL5) that have
    none: without it the serial console never shows a login prompt. None when
    nothing is to be done (upstart's and systemd's inittab start no gettys,
    and they start one on the console by themselves)."""
    entries = [line.split(":", 3) for line in text.splitlines()
               if line.strip() and not line.lstrip().startswith("#") and line.count(":") >= 3]
    if not any(e[2] == "respawn" for e in entries):
        return None
    if any("ttyS0" in e[3] for e in entries):
        return None
    ids = {e[0] for e in entries}
    ident = next(i for i in ("S0", "vr", "v0", "v1", "v2") if i not in ids)
    sep = "" if text.endswith("\n") or not text else "\n"
    return f"{text}{sep}# {MARK}: a login prompt on the serial console\n{ident}:2345:respawn:{getty} ttyS0 115200 vt100\n"


@dataclass(frozen=True)
class OverlayFacts:
    os_found: bool = False
    product: str | None = None
    bootloader: str | None = None              # "grub-legacy", "grub2", "bls", None
    configured: tuple[str, ...] = ()           # guest files edited on the overlay
    default_release: str | None = None         # release of the default entry's kernel
    initrd_modules: frozenset[str] | None = None   # modules in its initrd (None: unknown)
    kernel_modules: frozenset[str] = frozenset()   # its /lib/modules tree
    builtin_modules: frozenset[str] = frozenset()  # its modules.builtin
    mbr_boot_code: bool | None = None          # the first 440 bytes are not all zero
    esp_loader: bool = False                   # the mounted ESP holds a loader (fallback or vendor)
    esp_fallback: bool = False                 # ... at EFI/BOOT/BOOTX64.EFI, what fresh NVRAM starts
    modules_dir: bool | None = None            # /lib/modules/<default_release> exists
    third_party: tuple[ThirdPartyModule, ...] = ()   # what diagnose lists in misc/, extra/, updates/ ...
    args_removed: tuple[str, ...] = ()         # from the booted entry's kernel arguments
    args_added: tuple[str, ...] = ()
    probe: str | None = None                   # how the probe was added: "systemd", "rc.local", None
    notes: tuple[str, ...] = ()


def _read_config(guest: Guest, path: str) -> str:
    # surrogateescape: bytes that are not UTF-8 (a Latin-1 title) survive the round trip
    return guest.read(path, CONFIG_LIMIT).decode("utf-8", "surrogateescape")


def _rewrite(guest: Guest, path: str, rewrite: Callable[[str], str | None]) -> tuple[str, bool]:
    text = _read_config(guest, path)
    new = rewrite(text)
    if new is None or new == text:
        return text, False
    guest.replace_file(path, new.encode("utf-8", "surrogateescape"))
    return text, True


def _real_files(guest: Guest, paths: Iterable[str]) -> list[str]:
    """Each existing file once, symlinks resolved inside the guest (menu.lst -> grub.conf)."""
    found = []
    for path in paths:
        if guest.is_file(path):
            real = guest.realpath(path)
            if real not in found:
                found.append(real)
    return found


class _OverlayEditor:
    def __init__(self, guest: Guest):
        self.guest = guest
        self.notes: list[str] = []
        self.configured: list[str] = []
        self.default_kernel: str | None = None
        self.default_initrd: str | None = None
        self.args: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self.probe: str | None = None

    def _edit(self, path: str, rewrite: Callable[[str], str | None]) -> str | None:
        try:
            text, changed = _rewrite(self.guest, path, rewrite)
        except RuntimeError as exc:
            self.notes.append(f"could not edit {path} on the overlay: {first_line(exc)}")
            return None
        if changed:
            self.configured.append(path)
        return text

    def boot_loader(self) -> str | None:
        """Put the guest's boot loader and kernels on the serial console; the kind, None when none is found."""
        files = GuestConfigFiles(self.guest, "the overlay")
        loader = bootloader.detect(files)
        if loader is not None:
            booted = loader.menu(files).booted()
            if booted is not None:
                self.default_kernel, self.default_initrd = booted.kernel, booted.initrd
                removed, added = console_changes(booted.kernel_args)
                self.args = (tuple(removed), tuple(added))
            for path, rewrite in loader.console_edits(files):
                for real in _real_files(self.guest, [path]):
                    if real not in self.configured:
                        self._edit(real, rewrite)
        if loader is None or not self.configured:
            self.notes.append("no GRUB configuration was found to put on the serial console: only what the "
                              "firmware and the boot loader print by themselves can be seen")
            return None
        return loader.kind

    def serial_getty(self) -> None:
        if not self.guest.is_file("/etc/inittab"):
            return
        getty = self.guest.which(["agetty"]) or "/sbin/agetty"
        self._edit("/etc/inittab", lambda text: serial_inittab(text, getty))

    def add_probe(self, modules: list[str]) -> None:
        """The probe, where the guest's init runs local start-up commands (probe.plan_probe decides)."""
        g = self.guest
        init_real = g.realpath("/sbin/init") if g.exists("/sbin/init") else None
        rc_locals = {path: g.realpath(path) for path in probe.RC_LOCALS if g.is_file(path)}
        plan = probe.plan_probe(init_real, rc_locals, g.is_dir("/etc/rc.d"), modules)
        if plan.note:
            self.notes.append(plan.note)
        try:
            for path, text, mode in plan.creates:
                like = UNIT_LABEL_LIKE if path.endswith(".service") else SCRIPT_LABEL_LIKE
                g.mkdir_p(posixpath.dirname(path))
                g.create_file(path, text.encode(), mode, next((p for p in like if g.is_file(p)), None))
                self.configured.append(path)
            for link, target in plan.links:
                g.mkdir_p(posixpath.dirname(link))
                g.symlink(target, link)
                self.configured.append(link)
            if plan.rc_local is not None:
                if g.is_file(plan.rc_local):
                    self._edit(plan.rc_local, probe.with_probe_line)
                else:
                    g.create_file(plan.rc_local, probe.with_probe_line("").encode(), 0o755, None)
                    self.configured.append(plan.rc_local)
                g.chmod(0o755, plan.rc_local)      # EL7+ ship it not executable, and then nothing runs it
        except RuntimeError as exc:
            self.notes.append(f"could not add the driver probe to the overlay: {first_line(exc)}")
            return
        self.probe = plan.how

    def third_party(self) -> tuple[ThirdPartyModule, ...]:
        try:
            return tuple(thirdparty.list_modules(self.guest, lambda path: self.guest.read(path, MODULE_LIMIT)))
        except RuntimeError as exc:
            self.notes.append(f"could not list the third-party modules: {first_line(exc)}")
            return ()

    def release(self) -> str | None:
        if not self.default_kernel:
            return None          # no entry to boot: GRUB stops before any driver matters
        release = release_from_boot_name(posixpath.basename(self.default_kernel))
        if release:
            return release
        releases = sorted(self.guest.ls("/lib/modules"))
        if releases:
            self.notes.append(f"the default entry names no kernel release; reading the drivers of {releases[-1]}")
            return releases[-1]
        return None

    def initrd_modules(self) -> frozenset[str] | None:
        if not self.default_initrd:
            return None
        path = "/boot/" + posixpath.basename(self.default_initrd)
        try:
            if not self.guest.is_file(path):
                return None
            if self.guest.size(path) > INITRD_LIMIT:
                self.notes.append(f"{path} is larger than {INITRD_LIMIT >> 20} MiB: its drivers were not read")
                return None
            names = list_initrd_paths(self.guest.read(path, INITRD_LIMIT))
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {first_line(exc)}")
            return None
        if names is None:
            self.notes.append(f"{path} could not be read as an initramfs: its drivers are unknown")
            return None
        return module_names(names)

    def kernel_modules(self, release: str | None) -> tuple[frozenset[str], frozenset[str]]:
        if not release:
            return frozenset(), frozenset()
        top = f"/lib/modules/{release}"
        try:
            modules = module_names(self.guest.find(top))
            builtin = (module_names(_read_config(self.guest, f"{top}/modules.builtin").splitlines())
                       if self.guest.is_file(f"{top}/modules.builtin") else frozenset())
        except RuntimeError as exc:
            self.notes.append(f"could not list {top}: {first_line(exc)}")
            return frozenset(), frozenset()
        return modules, builtin


def prepare_overlay(guest: Guest) -> OverlayFacts:
    """Put the guest on the serial console (on the overlay) and read what choose_hardware needs."""
    disk = guest.devices()[0]
    mbr_code = any(guest.read_device(disk, 440))
    found = inspect.inspect_disk(guest, disk)
    roots = [os_info.root for os_info in found.roots]
    if not roots:
        return OverlayFacts(mbr_boot_code=mbr_code, notes=(
            "libguestfs found no operating system on the disk: the console was not configured, so only what "
            "the firmware and the boot loader print by themselves can be seen",))
    os_info = found.roots[0]
    editor = _OverlayEditor(guest)
    if len(roots) > 1:
        editor.notes.append(f"{len(roots)} operating systems found; configured the console of {roots[0]}")
    with guest.mounted(os_info) as unmounted:
        editor.notes.extend(f"could not mount {failure}" for failure in unmounted)
        kind = editor.boot_loader()
        editor.serial_getty()
        release = editor.release()
        in_initrd = editor.initrd_modules()
        modules, builtin = editor.kernel_modules(release)
        modules_dir = guest.is_dir(f"/lib/modules/{release}") if release else None
        third_party = editor.third_party()
        # every driver the hardware choice may pick, and the third-party ones: the probe names built-ins
        editor.add_probe(sorted({m.name for m in third_party} | {mod for mod, _ in DISK_CONTROLLERS + NICS}))
        esp = read_esp(GuestConfigFiles(guest, "the overlay"))
    return OverlayFacts(
        os_found=True, product=os_info.product, bootloader=kind, configured=tuple(editor.configured),
        default_release=release, initrd_modules=in_initrd, kernel_modules=modules, builtin_modules=builtin,
        mbr_boot_code=mbr_code, esp_loader=esp.has_loader, esp_fallback=esp.fallback is not None,
        modules_dir=modules_dir, third_party=third_party, args_removed=editor.args[0],
        args_added=editor.args[1], probe=editor.probe, notes=tuple(editor.notes),
    )


def hardware_for(facts: OverlayFacts, firmware: str = "bios", notes: tuple[str, ...] = ()) -> Hardware:
    """The drivers' hardware (choose_hardware) under `firmware`, with what was said choosing it."""
    drivers = _drivers_for(facts)
    return replace(drivers, firmware=firmware, notes=(*notes, *drivers.notes))


def _drivers_for(facts: OverlayFacts) -> Hardware:
    available = facts.kernel_modules | facts.builtin_modules
    in_initrd = None if facts.initrd_modules is None else facts.initrd_modules | facts.builtin_modules
    if not available and in_initrd is None:
        note = () if not facts.os_found else (       # no OS: the overlay's note says it all
            "No kernel of the boot loader's default entry whose drivers could be read; booting with IDE and e1000.",)
        return Hardware(DEFAULT_DISK, DEFAULT_NIC, notes=note)
    return choose_hardware(available, in_initrd)

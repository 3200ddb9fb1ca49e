"""`vmrescue boot-check`: boot the image for real and read its serial console.

The image itself is never written. The steps, in order:

1. `check_tools` and `probe`: qemu is installed; the image is what it says it
   is and names no other host file (the same detection every command uses).
2. `create_overlay`: a qcow2 in a temporary directory backed by the image;
   qemu opens a backing file read-only, so every write lands in the overlay.
3. `overlay.prepare_overlay`: one appliance launch on the overlay. The boot
   loader's files get a serial console (GRUB on the serial port, the kernel's
   console on ttyS0, without "quiet"/"rhgb", loglevel=7), a sysvinit guest
   gets a getty on ttyS0, the probe goes where init runs local start-up
   commands, and the facts for the next steps are read.
4. `hardware.choose_hardware` (pure): the disk controller and NIC qemu should
   emulate so that the guest finds its disk with the drivers it has.
5. `hardware.choose_firmware` (pure): BIOS or UEFI, from --firmware, the VM's
   .vmx, or what the disk holds (an ESP with a loader: UEFI).
6. `qemu.boot_overlay`: qemu boots the overlay through SeaBIOS and the guest's
   own boot code in its MBR, or through OVMF (a private copy of its variables:
   fresh NVRAM) and the ESP's fallback loader — never -kernel, which would skip
   exactly what a repair fixed — KVM when it works and TCG otherwise, bounded
   by the timeout.
7. `drivers.judge` (pure): whether the third-party modules and the emulated
   hardware's drivers loaded under the booted kernel, from the console.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from rescue.bootcheck import console, drivers
from rescue.bootcheck.console import BootResult
from rescue.bootcheck.drivers import Driver, ProbeReport
from rescue.bootcheck.hardware import FIRMWARE_CHOICES, Hardware, choose_firmware, drivers_of
from rescue.bootcheck.overlay import OverlayFacts, hardware_for, prepare_overlay
from rescue.bootcheck.qemu import LOG_LIMIT, boot_overlay
from rescue.errors import Exit, RescueError, first_line
from rescue.guest.hypervisor import DEFAULT_LAUNCH_TIMEOUT, resolve_accel
from rescue.guest.image import ImageInfo, probe
from rescue.guest.session import Guest
from rescue.guest.vmx import find_vmx, vmx_firmware
from rescue.run import ToolError, run

Status = Callable[[str], None]

DEFAULT_TIMEOUT = 300.0
DEFAULT_MEMORY_MB = 1024
MIN_MEMORY_MB = 128
TAIL_LINES = 15


@dataclass(frozen=True)
class BootOptions:
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    expect_kernel: str | None = None
    keep_log: str | None = None
    fmt: str | None = None
    allow_backing: bool = False
    accel: str | None = None
    verbose: bool = False
    launch_timeout: float = DEFAULT_LAUNCH_TIMEOUT
    firmware: str = "auto"          # "auto", "bios", "uefi"


@dataclass(frozen=True)
class BootCheck:
    image: str
    format: str
    options: BootOptions
    result: BootResult
    ended: str
    accel: str                       # what the test boot ran under: "kvm" or "tcg"
    hardware: Hardware
    overlay: OverlayFacts
    console_log: str | None          # where the (cleaned) console log was saved
    console_tail: tuple[str, ...]
    log_truncated: bool
    prepare_seconds: float           # the appliance launch that configured the overlay
    boot_seconds: float
    notes: tuple[str, ...] = ()
    drivers: tuple[Driver, ...] = ()
    probe: ProbeReport | None = None             # the probe's report, None when it never printed one

    @property
    def exit_status(self) -> Exit:
        return Exit.OK if self.result.ok else Exit.NOT_BOOTABLE


def qemu_binary() -> str:
    return os.environ.get("VMRESCUE_QEMU") or "qemu-system-x86_64"


def check_tools() -> str:
    """The qemu program to boot with (VMRESCUE_QEMU, else qemu-system-x86_64); qemu-img must exist too."""
    qemu = shutil.which(qemu_binary())
    if qemu is None:
        raise RescueError("QEMU_MISSING", f"{qemu_binary()} is not installed: boot-check boots the image in qemu.",
                          "Install it: apt-get install qemu-system-x86 (Debian/Ubuntu) or dnf install qemu-kvm.",
                          Exit.ENVIRONMENT)
    if shutil.which("qemu-img") is None:
        raise RescueError("QEMU_IMG_MISSING", "qemu-img is not installed.",
                          "Install it: apt-get install qemu-utils (Debian/Ubuntu) or dnf install qemu-img.",
                          Exit.ENVIRONMENT)
    return qemu


# Debian's ovmf package: the 4 MiB pair, as /usr/share/qemu/firmware/60-edk2-x86_64.json pairs them
# (the 4M code with the 2M variables never saves them; the 2M code with 4M variables crashes).
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def ovmf_files(workdir: str) -> tuple[str, str]:
    """OVMF's code and a private copy of its variables store (VMRESCUE_OVMF_CODE/_VARS override)."""
    code = os.environ.get("VMRESCUE_OVMF_CODE") or OVMF_CODE
    template = os.environ.get("VMRESCUE_OVMF_VARS") or OVMF_VARS
    for path in (code, template):
        if not os.path.isfile(path):
            raise RescueError("OVMF_MISSING", f"{path} is missing: boot-check boots UEFI guests with OVMF.",
                              "Install it: apt-get install ovmf (Debian/Ubuntu) or dnf install edk2-ovmf; or pass "
                              "--firmware bios to try the disk's BIOS boot code.", Exit.ENVIRONMENT)
    private = os.path.join(workdir, "ovmf-vars.fd")
    shutil.copyfile(template, private)     # fresh NVRAM: the boot starts the fallback loader, as a new VM does
    return code, private


def check_options(options: BootOptions) -> None:
    if options.firmware not in FIRMWARE_CHOICES:
        raise RescueError("BAD_FIRMWARE", f"unknown firmware {options.firmware!r}.",
                          f"Use one of: {', '.join(FIRMWARE_CHOICES)}.", Exit.USAGE)
    if not options.timeout > 0:
        raise RescueError("BAD_TIMEOUT", f"--timeout must be a positive number of seconds, not {options.timeout}.",
                          "A TCG boot of an EL5/EL6 guest takes one to three minutes.", Exit.USAGE)
    if options.memory_mb < MIN_MEMORY_MB:
        raise RescueError("BAD_MEMORY", f"--memory {options.memory_mb} MB is too little to boot a Linux guest.",
                          f"Give at least {MIN_MEMORY_MB} MB; the default is {DEFAULT_MEMORY_MB}.", Exit.USAGE)
    if options.keep_log is not None:
        parent = os.path.dirname(os.path.abspath(options.keep_log))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise RescueError("BAD_LOG_PATH", f"--keep-log {options.keep_log}: cannot write in {parent}.",
                              "Give a file in an existing, writable directory.", Exit.USAGE)
        if os.path.isdir(options.keep_log):
            raise RescueError("BAD_LOG_PATH", f"--keep-log {options.keep_log} is a directory.",
                              "Give a file name.", Exit.USAGE)


def create_overlay(info: ImageInfo, workdir: str) -> ImageInfo:
    """A qcow2 over the image: qemu opens the backing image read-only, the overlay takes every write."""
    path = os.path.join(workdir, "overlay.qcow2")
    backing = os.path.abspath(info.path)
    try:
        proc = run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", info.format, "-b", backing, path], timeout=120)
        reason = None if proc.ok else proc.last_error_line()
    except ToolError as exc:
        reason = exc.detail
    if reason is not None:
        raise RescueError("OVERLAY_FAILED", f"{info.path}: cannot put a throw-away overlay over it: {reason}",
                          "Is a virtual machine running on this image? Shut it down first.", Exit.IMAGE)
    return ImageInfo(path=path, format="qcow2", virtual_size=info.virtual_size, backing_file=backing)


def _save_log(text: str, path: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", errors="replace") as f:
        f.write(text)
    os.replace(tmp, path)


def boot_check(image: str, options: BootOptions, status: Status) -> BootCheck:
    """Boot `image` on a throw-away overlay and report how far it got (see the module docstring)."""
    check_options(options)
    qemu = check_tools()
    accel = resolve_accel(options.accel)
    info = probe(image, options.fmt, options.allow_backing)
    if info.in_use:
        # a second copy of a running VM would boot from a disk changing under it
        raise RescueError("IMAGE_IN_USE", f"{image}: {info.in_use}; boot-check does not boot a running VM's disk.",
                          "Shut the VM down first, or boot-check a copy taken while it was off.", Exit.IMAGE)
    workdir = tempfile.mkdtemp(prefix="vmrescue-boot-check-")
    notes: list[str] = []
    log_path = None
    try:
        overlay = create_overlay(info, workdir)
        started = time.monotonic()
        with Guest([overlay], write=True, accel=accel, verbose=options.verbose, status=status,
                   launch_timeout=options.launch_timeout) as guest:
            status("Putting the guest's console on the serial port (in a throw-away overlay)")
            try:
                facts = prepare_overlay(guest)
            except RuntimeError as exc:    # libguestfs failed on the guest's disk
                raise RescueError(
                    "OVERLAY_PREPARE_FAILED",
                    f"{image}: could not inspect the guest to put its console on the serial port: {first_line(exc)}",
                    "Run `vmrescue diagnose` on the image; vmrescue -v shows the appliance's log.",
                    Exit.IMAGE) from None
            appliance_accel = guest.used_accel
        prepare_seconds = time.monotonic() - started
        vmx = find_vmx(image)
        firmware, said = choose_firmware(options.firmware, facts.mbr_boot_code, facts.esp_fallback, facts.esp_loader,
                                         vmx_firmware(vmx[1]) if vmx else None, vmx[0] if vmx else None)
        hardware = hardware_for(facts, firmware, said)
        ovmf = ovmf_files(workdir) if firmware == "uefi" else None
        # The appliance already found KVM broken (and said so): do not try it again.
        modes = ["kvm", "tcg"] if accel == "auto" and appliance_accel == "kvm" else \
            ["tcg"] if accel == "auto" else [accel]
        booted, used = boot_overlay(qemu, overlay.path, hardware, modes=modes, timeout=options.timeout,
                                    memory_mb=options.memory_mb, expect_kernel=options.expect_kernel,
                                    workdir=workdir, status=status, ovmf=ovmf, wait_probe=facts.probe is not None)
        log_path = os.path.abspath(options.keep_log) if options.keep_log else os.path.join(workdir, "console.log")
        try:
            _save_log(console.clean(booted.log), log_path)
        except OSError as exc:
            notes.append(f"could not save the console log to {log_path}: {exc.strerror}")
            log_path = None
    finally:
        for name in ("overlay.qcow2", "qemu.err", "ovmf-vars.fd"):
            try:
                os.unlink(os.path.join(workdir, name))
            except FileNotFoundError:
                pass
        if log_path is None or not log_path.startswith(workdir + os.sep):
            shutil.rmtree(workdir, ignore_errors=True)
    if booted.truncated:
        notes.append(f"the guest printed more than {LOG_LIMIT >> 20} MiB on its console; the rest was not kept")
    found, report = check_drivers(facts, hardware, booted.result, booted.log)
    return BootCheck(
        image=image, format=info.format, options=options, result=booted.result, ended=booted.ended, accel=used,
        hardware=hardware, overlay=facts, console_log=log_path, console_tail=tuple(console.last_lines(booted.log, TAIL_LINES)),
        log_truncated=booted.truncated, prepare_seconds=prepare_seconds, boot_seconds=booted.seconds, notes=tuple(notes),
        drivers=tuple(found), probe=report,
    )


def check_drivers(facts: OverlayFacts, hardware: Hardware, result: BootResult,
                  log: str) -> tuple[list[Driver], ProbeReport | None]:
    """The third-party modules and the emulated hardware's drivers: loaded under the booted kernel?"""
    disk, nic = drivers_of(hardware)
    expected = drivers.expected_drivers(facts.third_party, disk, hardware.disk_if, nic, hardware.nic_model,
                                        facts.default_release)
    booted = result.kernel_version
    # what the overlay read is about the default entry's kernel; it is the booted one when the console says so
    missing = facts.modules_dir is False and booted is not None and booted == facts.default_release
    return drivers.judge(expected, console.console_lines(log), booted, missing)

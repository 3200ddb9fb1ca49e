"""`vmrescue boot-check`: boot the image for real and read its serial console.

The image itself is never written. The steps, in order:

1. `check_tools` and `probe`: qemu is installed; the image is what it says it
   is and names no other host file (the same detection every command uses).
2. `create_overlay`: a qcow2 in a temporary directory backed by the image;
   qemu opens a backing file read-only, so every write lands in the overlay.
3. `prepare_overlay`: one appliance launch on the overlay. The boot loader
   configuration gets a serial console (GRUB on the serial port, the kernel's
   console on ttyS0, without "quiet"/"rhgb"), a sysvinit guest gets a getty on
   ttyS0, and the facts for the next step are read: the disk drivers in the
   default entry's initrd, the kernel's modules, whether the MBR holds code.
4. `choose_hardware` (pure): the disk controller and NIC qemu should emulate
   so that the guest finds its disk with the drivers it has.
5. `boot_overlay`: qemu boots the overlay through SeaBIOS and the guest's own
   boot loader in its MBR (never -kernel, which would skip exactly what a
   repair fixed), KVM when it works and TCG otherwise, bounded by the timeout.
   The console is read as it arrives and analysed by `rescue.console`; the
   boot ends as soon as the verdict is known. qemu is always killed and reaped.

Deciding is kept apart from acting: `choose_hardware`, `qemu_command` and the
`serial_*` config rewriters are pure and unit-tested.
"""
from __future__ import annotations

import codecs
import ctypes
import os
import posixpath
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from rescue import console, grubconf
from rescue.guest import inspect as inspection
from rescue.kernel import bootfiles as kernels, initramfs as initrd
from rescue.guest.session import DEFAULT_LAUNCH_TIMEOUT, Guest, resolve_accel
from rescue.guest.hypervisor import broken_kvm_reason
from rescue.console import BootResult
from rescue.errors import Exit, RescueError
from rescue.guest.image import ImageInfo, probe

Status = Callable[[str], None]

SCHEMA = "vmrescue.boot-check/1"
DEFAULT_TIMEOUT = 300.0
DEFAULT_MEMORY_MB = 1024
MIN_MEMORY_MB = 128

# The kernel's console: the screen and the first serial port, the serial port
# last so that it is /dev/console (init's messages and prompts go there).
CONSOLE_ARGS = ("console=tty0", "console=ttyS0,115200")
# Arguments that hide the kernel and initramfs messages the stages are read from.
QUIET_ARGS = frozenset({"quiet", "rhgb", "splash"})
GRUB_LEGACY_SERIAL = ("serial --unit=0 --speed=115200", "terminal --timeout=0 serial console")
GRUB2_SERIAL = ("serial --unit=0 --speed=115200", "terminal_input serial console", "terminal_output serial console")
MARK = "vmrescue boot-check"             # in comments of every line the overlay edit adds or disables

GRUB_LEGACY_CONFIGS = ("/boot/grub/grub.conf", "/boot/grub/menu.lst")
GRUB2_CONFIGS = ("/boot/grub2/grub.cfg", "/boot/grub/grub.cfg")
BLS_DIR = "/boot/loader/entries"
CONFIG_LIMIT = 1024 * 1024
INITRD_LIMIT = 256 * 1024 * 1024         # larger initrds are not opened (the choice falls back to IDE)
LOG_LIMIT = 16 * 1024 * 1024             # console bytes kept; a guest flooding its console is cut here
POLL_SECONDS = 0.25
ANALYSE_EVERY = 0.5
HEARTBEAT_SECONDS = 15.0
TAIL_LINES = 15


# --- 4. hardware (pure) ----------------------------------------------------------------

@dataclass(frozen=True)
class Hardware:
    disk_if: str                      # qemu controller: see DISK_CONTROLLERS
    nic_model: str                    # qemu NIC device
    disk_driver: str | None = None    # the guest module that drives it (None: nothing matched)
    nic_driver: str | None = None
    notes: tuple[str, ...] = ()


# (guest module, qemu controller), in order of preference. IDE first: SeaBIOS
# boots it natively, libata names the disk sda as VMware's SCSI controllers
# did, and nearly every initrd that was not built host-only carries ata_piix.
# Then the SCSI controllers qemu emulates that VMware guests use (PVSCSI, LSI
# SAS), the other LSI models, AHCI, and virtio last (the disk becomes vda,
# which root=/dev/sda2 style kernel lines do not survive).
DISK_CONTROLLERS = (
    ("ata_piix", "ide"),
    ("vmw_pvscsi", "pvscsi"),
    ("mptsas", "mptsas1068"),
    ("sym53c8xx", "lsi53c895a"),
    ("megaraid_sas", "megasas"),
    ("ahci", "ahci"),
    ("virtio_scsi", "virtio-scsi"),
    ("virtio_blk", "virtio"),
)
# (guest module, qemu NIC): VMware's own models first, as the guest's network
# configuration expects them. Only the driver binding matters for the boot.
NICS = (
    ("vmxnet3", "vmxnet3"),
    ("e1000", "e1000"),
    ("e1000e", "e1000e"),
    ("pcnet32", "pcnet"),
    ("virtio_net", "virtio-net-pci"),
    ("8139too", "rtl8139"),
)
# VMware hardware qemu has no model of.
NO_QEMU_MODEL = {
    "mptspi": "VMware's LSI Logic parallel SCSI (mptspi)",
    "BusLogic": "VMware's BusLogic SCSI",
    "vmxnet": "VMware's vmxnet (v1/v2) NIC",
}
DEFAULT_DISK, DEFAULT_NIC = "ide", "e1000"


def module_names(paths: Iterable[str]) -> frozenset[str]:
    """Module names ("ata_piix") from paths of .ko files (any compression), as modprobe spells them."""
    names = set()
    for path in paths:
        m = re.match(r"(.+)\.ko(?:\.(?:gz|xz|zst))?$", posixpath.basename(path.strip()))
        if m:
            names.add(m.group(1).replace("-", "_"))
    return frozenset(names)


def choose_hardware(available_modules: set[str] | frozenset[str],
                    in_initrd: set[str] | frozenset[str] | None = None) -> Hardware:
    """The disk controller and NIC to emulate for a guest with these drivers.

    `available_modules` are the kernel's modules and built-ins; the disk driver
    must be in `in_initrd` (the default entry's initrd, plus built-ins) when it
    is known, because the initrd is what finds the root disk.
    """
    boot = available_modules if in_initrd is None else in_initrd
    notes = []
    disk = next(((mod, qemu) for mod, qemu in DISK_CONTROLLERS if mod in boot), None)
    if disk is None:
        where = "its initrd" if in_initrd is not None else "its kernel"
        unsupported = [label for mod, label in NO_QEMU_MODEL.items() if mod in boot and mod != "vmxnet"]
        has = f" ({where} only has {', '.join(unsupported)})" if unsupported else ""
        notes.append(f"The guest has no driver in {where} for a disk controller qemu emulates{has}; booting from "
                     "IDE: if the boot stops where the root device is looked for, that says nothing about the kernel.")
        disk = (None, DEFAULT_DISK)
    nic = next(((mod, qemu) for mod, qemu in NICS if mod in available_modules), None)
    if nic is None:
        notes.append("The guest has no driver for a NIC qemu emulates; using e1000 (it does not matter for booting).")
        nic = (None, DEFAULT_NIC)
    return Hardware(disk_if=disk[1], nic_model=nic[1], disk_driver=disk[0], nic_driver=nic[0], notes=tuple(notes))


def qemu_command(qemu: str, overlay: str, hardware: Hardware, accel: str, memory_mb: int) -> list[str]:
    """qemu booting the overlay through SeaBIOS and the disk's own MBR, console on stdout.

    -nographic makes SeaBIOS mirror the screen to the serial port, so what the
    BIOS and GRUB's first stages print reaches the log too. User networking is
    restricted (no host, no outside); the NIC's boot ROM is left out so that
    nothing but the disk is tried.
    """
    drive = overlay.replace(",", ",,")
    argv = [qemu, "-name", "vmrescue-boot-check", "-machine", f"pc,accel={accel}",
            "-m", str(memory_mb), "-smp", "1",
            "-nodefaults", "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio",
            "-boot", "strict=on",
            "-drive", f"file={drive},format=qcow2,if=none,id=disk0,cache=unsafe"]
    if accel == "kvm":
        argv += ["-cpu", "host"]      # as libguestfs does; broken nested KVM fails at once with it
    disk = hardware.disk_if
    if disk == "ide":
        argv += ["-device", "ide-hd,drive=disk0,bus=ide.0,bootindex=0"]
    elif disk == "ahci":
        argv += ["-device", "ahci,id=ahci0", "-device", "ide-hd,drive=disk0,bus=ahci0.0,bootindex=0"]
    elif disk == "virtio":
        argv += ["-device", "virtio-blk-pci,drive=disk0,bootindex=0"]
    else:
        controller = "virtio-scsi-pci" if disk == "virtio-scsi" else disk
        argv += ["-device", f"{controller},id=scsi0", "-device", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]
    argv += ["-netdev", "user,id=net0,restrict=on", "-device", f"{hardware.nic_model},netdev=net0,romfile="]
    return argv


# --- 3. the overlay's boot configuration (pure rewriters) --------------------------------

def _with_console(line: str) -> str:
    """A kernel (or dom0 module) line with the serial console and without quiet/rhgb."""
    body = line.rstrip()
    indent = body[:len(body) - len(body.lstrip())]
    words = body.split()
    kept = words[:1] + [w for w in words[1:] if w not in QUIET_ARGS and not w.startswith("console=")]
    return indent + " ".join(kept + list(CONSOLE_ARGS))


def _grub_legacy_command(stripped: str) -> str:
    # stage2: the command name ends at a blank or "=" (see grubconf).
    return re.match(r"[^ \t=]*", stripped).group(0)


def _split_cr(line: str) -> tuple[str, str]:
    return (line[:-1], "\r") if line.endswith("\r") else (line, "")


def serial_grub_legacy(text: str) -> str:
    """grub.conf with GRUB and every entry's kernel on the serial console.

    The serial/terminal lines go first, so GRUB talks on the serial port
    before it draws anything; the guest's own serial, terminal and
    splashimage lines are disabled (GRUB cannot draw a splash there). For a
    Xen entry the console belongs on the dom0 kernel: the first module line.
    """
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")),
                 len(lines))
    out = lines[:first] + [f"# {MARK}: GRUB and the kernels on the serial console"] + list(GRUB_LEGACY_SERIAL)
    in_entry = False
    dom0_pending = False
    for line in lines[first:]:
        body, cr = _split_cr(line)
        stripped = body.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            out.append(line)
            continue
        command = _grub_legacy_command(stripped)
        if command == "title":
            in_entry, dom0_pending = True, False
        elif not in_entry and command in ("serial", "terminal", "splashimage", "gfxmenu"):
            out.append(f"#{body}  # disabled by {MARK}{cr}")
            continue
        elif in_entry and command == "kernel":
            path, _ = grubconf._split_path_args(stripped[len(command):].lstrip(" \t="))
            if path and grubconf.split_grub_path(path)[1].rsplit("/", 1)[-1].startswith("xen"):
                dom0_pending = True
            else:
                line = _with_console(body) + cr
        elif in_entry and command in ("module", "modulenounzip") and dom0_pending:
            dom0_pending = False
            line = _with_console(body) + cr
        out.append(line)
    return "\n".join(out)


def serial_grub2(text: str) -> str:
    """grub.cfg with GRUB 2 on the serial console and `console=` on every linux line.

    The guest's own terminal commands are rewritten in place rather than
    removed, since removing one could leave an empty if-block.
    """
    out = [f"# {MARK}: GRUB and the kernels on the serial console", *GRUB2_SERIAL]
    for line in text.split("\n"):
        body, cr = _split_cr(line)
        stripped = body.lstrip()
        indent = body[:len(body) - len(stripped)]
        word = stripped.split(None, 1)[0] if stripped else ""
        if word == "serial":
            line = indent + GRUB2_SERIAL[0] + cr
        elif word in ("terminal_input", "terminal_output"):
            line = f"{indent}{word} serial console{cr}"
        elif word in ("linux", "linux16", "linuxefi"):
            line = _with_console(body) + cr
        out.append(line)
    return "\n".join(out)


def serial_bls(text: str) -> str:
    """A Boot Loader Spec entry with the console on its `options` line."""
    out = []
    for line in text.split("\n"):
        body, cr = _split_cr(line)
        if body.lstrip().split(None, 1)[:1] == ["options"]:
            line = _with_console(body) + cr
        out.append(line)
    return "\n".join(out)


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


# --- 3. the overlay (acting: one appliance launch) -------------------------------------

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

    def _edit(self, path: str, rewrite: Callable[[str], str | None]) -> str | None:
        try:
            text, changed = _rewrite(self.guest, path, rewrite)
        except RuntimeError as exc:
            self.notes.append(f"could not edit {path} on the overlay: {_first_line(exc)}")
            return None
        if changed:
            self.configured.append(path)
        return text

    def boot_loader(self) -> str | None:
        for path in _real_files(self.guest, GRUB_LEGACY_CONFIGS):
            text = self._edit(path, serial_grub_legacy)
            if text is not None and self.default_kernel is None:
                cfg = grubconf.parse_grub_legacy(text)
                entry = cfg.default_entry or (cfg.entries[0] if cfg.entries else None)
                if entry is not None:
                    self.default_kernel, self.default_initrd = entry.linux_kernel, entry.linux_initrd
        if self.configured:
            return "grub-legacy"
        for path in _real_files(self.guest, GRUB2_CONFIGS):
            text = self._edit(path, serial_grub2)
            if text is not None and self.default_kernel is None:
                cfg = grubconf.parse_grub2_cfg(text)
                if cfg.entries:
                    self.default_kernel, self.default_initrd = cfg.entries[0].kernel, cfg.entries[0].initrd
        for name in self.guest.ls(BLS_DIR):
            if name.endswith(".conf"):
                self._edit(f"{BLS_DIR}/{name}", serial_bls)
        if any(p.startswith(BLS_DIR) for p in self.configured):
            return "bls"
        if self.configured:
            return "grub2"
        self.notes.append("no GRUB configuration was found to put on the serial console: only what the "
                          "firmware and the boot loader print by themselves can be seen")
        return None

    def serial_getty(self) -> None:
        if not self.guest.is_file("/etc/inittab"):
            return
        getty = self.guest.which(["agetty"]) or "/sbin/agetty"
        self._edit("/etc/inittab", lambda text: serial_inittab(text, getty))

    def release(self) -> str | None:
        if not self.default_kernel:
            return None          # no entry to boot: GRUB stops before any driver matters
        release = kernels.release_from_boot_name(posixpath.basename(self.default_kernel))
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
            names = initrd.list_initrd_paths(self.guest.read(path, INITRD_LIMIT))
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {_first_line(exc)}")
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
            self.notes.append(f"could not list {top}: {_first_line(exc)}")
            return frozenset(), frozenset()
        return modules, builtin


def prepare_overlay(guest: Guest) -> OverlayFacts:
    """Put the guest on the serial console (on the overlay) and read what choose_hardware needs."""
    disk = guest.devices()[0]
    mbr_code = any(guest.read_device(disk, 440))
    found = inspection.inspect_disk(guest, disk)
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
        bootloader = editor.boot_loader()
        editor.serial_getty()
        release = editor.release()
        in_initrd = editor.initrd_modules()
        modules, builtin = editor.kernel_modules(release)
    return OverlayFacts(
        os_found=True, product=os_info.product, bootloader=bootloader, configured=tuple(editor.configured),
        default_release=release, initrd_modules=in_initrd, kernel_modules=modules, builtin_modules=builtin,
        mbr_boot_code=mbr_code, notes=tuple(editor.notes),
    )


def hardware_for(facts: OverlayFacts) -> Hardware:
    available = facts.kernel_modules | facts.builtin_modules
    in_initrd = None if facts.initrd_modules is None else facts.initrd_modules | facts.builtin_modules
    if not available and in_initrd is None:
        note = () if not facts.os_found else (       # no OS: the overlay's note says it all
            "No kernel of the boot loader's default entry whose drivers could be read; booting with IDE and e1000.",)
        return Hardware(DEFAULT_DISK, DEFAULT_NIC, notes=note)
    return choose_hardware(available, in_initrd)


# --- 5. booting ------------------------------------------------------------------------

@dataclass(frozen=True)
class BootRun:
    result: BootResult
    ended: str              # "verdict" (the console decided), "exited" (qemu stopped), "timeout"
    seconds: float
    log: str                # the raw console, decoded
    truncated: bool
    stderr: str
    returncode: int | None


def _die_with_parent() -> None:
    """In the qemu child: be killed if vmrescue dies without reaping it (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def run_qemu(argv: list[str], *, timeout: float, expect_kernel: str | None, stderr_path: str,
             progress: Callable[[str | None, float], None]) -> BootRun:
    """Run qemu, reading and analysing its console until a verdict, its exit or the timeout.

    qemu runs in its own session (a Ctrl-C on the terminal reaches only us),
    and is killed and reaped in every case, KeyboardInterrupt included.
    """
    started = time.monotonic()
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True, preexec_fn=_die_with_parent)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    chunks: list[str] = []
    kept = 0
    truncated = False
    last_output = last_analysis = started
    result = console.analyse("", expect_kernel)
    ended = "timeout"
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        fresh = False
        while True:
            now = time.monotonic()
            left = timeout - (now - started)
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], min(POLL_SECONDS, left))
            if ready:
                data = os.read(fd, 65536)
                if not data:
                    proc.wait()
                    ended = "exited"
                    break
                last_output = time.monotonic()
                if kept < LOG_LIMIT:
                    chunks.append(decoder.decode(data))
                    kept += len(data)
                    fresh = True
                else:
                    truncated = True      # keep draining, so the guest does not block on its UART
            now = time.monotonic()
            if now - last_analysis >= ANALYSE_EVERY and (fresh or now - last_output >= 1.0):
                text = "".join(chunks)
                if now - last_output < 1.0:
                    # a line still arriving is judged once complete ("kernel=6.1.0-56-amd" is not the kernel)
                    text = text[:text.rfind("\n") + 1]
                result = console.analyse(text, expect_kernel, idle=now - last_output)
                last_analysis, fresh = now, False
                progress(result.stage_reached, now - started)
                if result.decided:
                    ended = "verdict"
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    log = "".join(chunks) + decoder.decode(b"", final=True)
    if ended != "verdict":
        result = console.analyse(log, expect_kernel, ended=ended)
    with open(stderr_path, "rb") as f:
        stderr = f.read(64 * 1024).decode("utf-8", "replace")
    return BootRun(result=result, ended=ended, seconds=time.monotonic() - started, log=log,
                   truncated=truncated, stderr=stderr, returncode=proc.returncode)


def _progress_reporter(status: Status, label: str) -> Callable[[str | None, float], None]:
    shown = {"stage": "", "at": -HEARTBEAT_SECONDS}

    def progress(stage: str | None, elapsed: float) -> None:
        name = stage or "firmware"
        if name != shown["stage"] or elapsed - shown["at"] >= HEARTBEAT_SECONDS:
            shown["stage"], shown["at"] = name, elapsed
            status(f"Booting the guest ({label}): stage {name} after {elapsed:.0f} s")
    return progress


def boot_overlay(qemu: str, overlay: str, hardware: Hardware, *, modes: list[str], timeout: float,
                 memory_mb: int, expect_kernel: str | None, workdir: str, status: Status) -> tuple[BootRun, str]:
    """Boot under the first accelerator of `modes` that works; (run, accelerator used)."""
    for mode in modes:
        label = "KVM" if mode == "kvm" else "TCG, software emulation"
        status(f"Booting the guest ({label}), at most {timeout:.0f} s")
        run = run_qemu(qemu_command(qemu, overlay, hardware, mode, memory_mb), timeout=timeout,
                       expect_kernel=expect_kernel, stderr_path=os.path.join(workdir, "qemu.err"),
                       progress=_progress_reporter(status, label))
        if run.ended == "exited" and not run.log.strip():
            reason = broken_kvm_reason(run.stderr)
            if mode == "kvm" and reason and mode != modes[-1]:
                status(f"KVM is not usable here ({reason}); booting under software emulation (TCG), "
                       "which is slower.")
                continue
            if run.returncode != 0:
                detail = (run.stderr.strip().splitlines() or ["no message"])[-1].removeprefix("qemu-system-x86_64: ")
                raise RescueError(
                    "QEMU_FAILED", f"qemu could not start the test boot under {mode.upper()}: {detail}",
                    "Try --accel tcg; check that qemu-system-x86_64 runs on this host.", Exit.ENVIRONMENT)
        return run, mode
    raise AssertionError("no accelerator to try")   # modes is never empty


# --- the whole check ----------------------------------------------------------------------

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


def check_options(options: BootOptions) -> None:
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
    proc = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", info.format, "-b", backing, path],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1].removeprefix("qemu-img: ")
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
                    f"{image}: could not inspect the guest to put its console on the serial port: {_first_line(exc)}",
                    "Run `vmrescue diagnose` on the image; vmrescue -v shows the appliance's log.",
                    Exit.IMAGE) from None
            appliance_accel = guest.used_accel
        prepare_seconds = time.monotonic() - started
        hardware = hardware_for(facts)
        # The appliance already found KVM broken (and said so): do not try it again.
        modes = ["kvm", "tcg"] if accel == "auto" and appliance_accel == "kvm" else \
            ["tcg"] if accel == "auto" else [accel]
        run, used = boot_overlay(qemu, overlay.path, hardware, modes=modes, timeout=options.timeout,
                                 memory_mb=options.memory_mb, expect_kernel=options.expect_kernel,
                                 workdir=workdir, status=status)
        log_path = os.path.abspath(options.keep_log) if options.keep_log else os.path.join(workdir, "console.log")
        try:
            _save_log(console.clean(run.log), log_path)
        except OSError as exc:
            notes.append(f"could not save the console log to {log_path}: {exc.strerror}")
            log_path = None
    finally:
        for name in ("overlay.qcow2", "qemu.err"):
            try:
                os.unlink(os.path.join(workdir, name))
            except FileNotFoundError:
                pass
        if log_path is None or not log_path.startswith(workdir + os.sep):
            shutil.rmtree(workdir, ignore_errors=True)
    if run.truncated:
        notes.append(f"the guest printed more than {LOG_LIMIT >> 20} MiB on its console; the rest was not kept")
    return BootCheck(
        image=image, format=info.format, options=options, result=run.result, ended=run.ended, accel=used,
        hardware=hardware, overlay=facts, console_log=log_path, console_tail=tuple(console.last_lines(run.log, TAIL_LINES)),
        log_truncated=run.truncated, prepare_seconds=prepare_seconds, boot_seconds=run.seconds, notes=tuple(notes),
    )


# --- reporting (pure) ---------------------------------------------------------------------

def _error_dict(result: BootResult) -> dict | None:
    if result.error is None:
        return None
    code, line = result.error
    message, hint = console.ERRORS.get(code, ("The boot failed.", "Read the console log."))
    return {"code": code, "message": message, "hint": hint, "line": line}


def to_json_document(check: BootCheck) -> dict:
    """The --json report (schema vmrescue.boot-check/1, see docs/boot-check.md)."""
    r = check.result
    return {
        "schema": SCHEMA,
        "image": check.image,
        "format": check.format,
        "ok": r.ok,
        "exit_status": int(check.exit_status),
        "stage_reached": r.stage_reached,
        "stages": [{"stage": stage, "line": line} for stage, line in r.stages],
        "error": _error_dict(r),
        "problems": [{"code": code, "line": line} for code, line in r.problems],
        "kernel": {"booted": r.kernel_version, "expected": check.options.expect_kernel},
        "boot": {
            "accel": check.accel,
            "ended": check.ended,
            "seconds": round(check.boot_seconds, 1),
            "timeout": check.options.timeout,
            "memory_mb": check.options.memory_mb,
            "disk": check.hardware.disk_if,
            "disk_driver": check.hardware.disk_driver,
            "nic": check.hardware.nic_model,
            "nic_driver": check.hardware.nic_driver,
        },
        "overlay": {
            "seconds": round(check.prepare_seconds, 1),
            "os": check.overlay.product,
            "bootloader": check.overlay.bootloader,
            "configured": list(check.overlay.configured),
            "default_release": check.overlay.default_release,
            "mbr_boot_code": check.overlay.mbr_boot_code,
        },
        "console_log": check.console_log,
        "console_tail": list(check.console_tail),
        "notes": [*check.hardware.notes, *check.overlay.notes, *check.notes],
    }


def render_text(check: BootCheck) -> list[str]:
    """The human report, line by line (the CLI prints it)."""
    r = check.result
    accel = "KVM" if check.accel == "kvm" else "TCG"
    lines = []
    if r.ok:
        lines.append(f"{check.image}: BOOTS: login reached in {check.boot_seconds:.0f} s ({accel}), "
                     f"kernel {r.kernel_version or 'unknown'}")
    else:
        where = f"stopped at stage {r.stage_reached}" if r.stage_reached else "did not reach the boot loader"
        lines.append(f"{check.image}: DOES NOT BOOT: {where} ({accel}, {check.boot_seconds:.0f} s)")
        error = _error_dict(r)
        if error:
            lines.append(f"  {error['code']}: {error['message']}")
            if error["line"]:
                lines.append(f"    console: {error['line']}")
            if error["code"] == "BOOT_CODE_SILENT" and check.overlay.mbr_boot_code is False:
                lines.append("    the first 440 bytes of the disk (the MBR's boot code) are all zeros")
            lines.append(f"  next: {error['hint']}")
    proved = dict(r.stages)
    for stage in console.STAGES:
        if stage in proved:
            lines.append(f"  {stage:<13} {proved[stage]}")
        elif r.stage_reached and console.STAGES.index(stage) < console.STAGES.index(r.stage_reached):
            lines.append(f"  {stage:<13} (passed, no console line shows it)")
        else:
            lines.append(f"  {stage:<13} -")
    others = [p for p in r.problems if p != r.error]
    for code, line in others:
        lines.append(f"  also seen: {code}: {line}")
    hw = check.hardware
    lines.append(f"  hardware: disk {hw.disk_if}" + (f" ({hw.disk_driver})" if hw.disk_driver else "")
                 + f", NIC {hw.nic_model}" + (f" ({hw.nic_driver})" if hw.nic_driver else ""))
    for note in (*hw.notes, *check.overlay.notes, *check.notes):
        lines.append(f"  note: {note}")
    if not r.ok and check.console_tail:
        lines.append("  last console lines:")
        lines.extend(f"    | {line}" for line in check.console_tail)
    if check.console_log:
        lines.append(f"  console log: {check.console_log}")
    return lines


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def error_document(image: str, exc: RescueError) -> dict:
    """The --json report when the check could not run (bad image, no qemu, appliance failure)."""
    return {
        "schema": SCHEMA, "image": image, "format": None, "ok": False, "exit_status": int(exc.exit_status),
        "stage_reached": None, "stages": [], "error": {**exc.as_dict(), "line": None}, "problems": [],
        "kernel": None, "boot": None, "overlay": None, "console_log": None, "console_tail": [], "notes": [],
    }

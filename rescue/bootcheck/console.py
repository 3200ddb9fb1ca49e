"""Read a guest's serial console log and say how far the boot got. No I/O.

A boot passes through stages, each proved by a line the console shows:

  bootloader    GRUB ran ("GNU GRUB  version 0.97", "Booting 'CentOS (...)'")
  kernel        the kernel started ("Linux version 2.6.32-431.el6.x86_64 (...)")
  initrd        the initramfs ran ("Freeing initrd memory", "dracut: ...", nash)
  root-mounted  the root filesystem is mounted ("EXT4-fs (dm-0): mounted filesystem")
  init          the real root's init runs ("INIT: version 2.86 booting")
  login         a login prompt ("localhost login:"), or the test fixtures' marker

and can stop on the way: SeaBIOS finds nothing to boot, GRUB cannot find a
file or has no entry and waits at its prompt, the kernel panics, dracut gives
up and drops to a shell, modules were built for another kernel.

Problems come in two kinds. A *fatal* one means the guest will not get any
further by itself (a panic, a shell waiting for a root password, GRUB's
prompt). A *symptom* is evidence of what went wrong that the guest may still
survive (GRUB's "Error 15" before it falls back to another entry, a module
that does not load). When the boot fails, the reported error is the earliest
symptom seen in the stage where the boot stopped, because it names the cause
(the module mismatch, not the panic it led to); otherwise the fatal line.

The log is cleaned first: GRUB draws its menu with ANSI escape sequences and
SeaBIOS's serial console clears the screen, so escape sequences and control
characters are removed and cursor movements become line breaks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "STAGES",
    "FINAL_STAGE",
    "BootResult",
    "ERRORS",
    "analyse",
    "clean",
    "last_lines",
]

STAGES = ("bootloader", "kernel", "initrd", "root-mounted", "init", "login")
FINAL_STAGE = STAGES[-1]
MARKER = "VMRESCUE-BOOT-OK"          # printed by the bootable test fixture's /sbin/init

# How long a silent console means "stuck" rather than "busy" (seconds).
HANDOFF_GRACE = 20.0     # after SeaBIOS's "Booting from Hard Disk...": boot code prints at once
GRUB_ERROR_GRACE = 10.0  # after a GRUB error: a fallback entry would have started by then

_MAX_EVIDENCE = 200      # characters of a console line quoted as evidence


@dataclass(frozen=True)
class BootResult:
    stage_reached: str | None                    # furthest stage proved, None: not even the bootloader
    stages: tuple[tuple[str, str], ...]          # (stage, the console line proving it), in stage order
    error: tuple[str, str] | None                # (code, console line) why the boot failed
    kernel_version: str | None                   # from "Linux version VER" (or the fixture's marker)
    ok: bool                                     # the final stage was reached with the expected kernel
    problems: tuple[tuple[str, str], ...] = ()   # every problem seen, in order, fatal or not

    @property
    def decided(self) -> bool:
        """Nothing more the guest prints can change the verdict."""
        return self.ok or self.error is not None


# --- what the codes mean (for people) ---------------------------------------------

# code → (what happened, what to do next)
ERRORS: dict[str, tuple[str, str]] = {
    "NO_BOOTABLE_DEVICE": (
        "The BIOS found no bootable disk: the disk has no boot signature in its first sector.",
        "Install the boot loader into the MBR (from a rescue system: grub-install /dev/sda, "
        "or in the grub shell: root (hd0,0); setup (hd0))."),
    "BOOT_CODE_SILENT": (
        "The BIOS handed over to the disk's boot code and nothing happened: the MBR holds no "
        "working boot loader (often all zeros).",
        "Install the boot loader into the MBR (grub-install /dev/sda, or in the grub shell: "
        "root (hd0,0); setup (hd0))."),
    "GRUB_STAGE1_ERROR": (
        "GRUB's first stage could not load the rest of GRUB from the disk.",
        "Reinstall GRUB into the MBR (grub-install /dev/sda, or setup (hd0) in the grub shell)."),
    "GRUB_FILE_NOT_FOUND": (
        "GRUB could not find a file the boot entry names (kernel or initrd).",
        "Run `vmrescue diagnose` on the image: the entry points at a file that is not there."),
    "GRUB_ERROR": (
        "GRUB failed to load the boot entry.",
        "Run `vmrescue diagnose` on the image to check the entry's root, kernel and initrd."),
    "GRUB_PROMPT": (
        "GRUB stopped at its command prompt: its configuration has no entry it can show "
        "(or could not be read).",
        "Run `vmrescue diagnose`; a kernel whose entry was removed is put back with "
        "`vmrescue reinstall-kernel`."),
    "GRUB_RESCUE": (
        "GRUB 2 stopped at its rescue prompt: it cannot find its own modules or /boot.",
        "Reinstall GRUB 2 (grub2-install /dev/sda) from a rescue system."),
    "KERNEL_VERSION_UNEXPECTED": (
        "A different kernel booted than the one expected.",
        "Check the default entry of the boot loader configuration (vmrescue diagnose)."),
    "MODULE_VERSION_MISMATCH": (
        "Kernel modules were built for another kernel and do not load.",
        "Rebuild the initrd for the running kernel, or reinstall the kernel package whose "
        "modules these are (vmrescue reinstall-kernel)."),
    "ROOT_DEVICE_MISSING": (
        "The initramfs did not find the root device.",
        "The initrd lacks the disk driver or the root= / rd_LVM_LV= arguments name a device "
        "that does not exist; rebuild the initrd (dracut -f) and check the kernel arguments."),
    "ROOT_FS_UNMOUNTABLE": (
        "The kernel could not mount the root filesystem.",
        "The initrd is missing or lacks the disk or filesystem driver; rebuild it for this "
        "kernel, and check root= on the kernel line."),
    "INITRAMFS_SHELL": (
        "The initramfs gave up and dropped to a shell.",
        "Look at the lines before it in the console log; usually the root device was not found."),
    "DRACUT_FATAL": (
        "dracut's initramfs stopped with a fatal error.",
        "Read the dracut line quoted; check root= and the rd_* / rd.* kernel arguments."),
    "NO_INIT": (
        "The kernel found no init program to run on the root filesystem.",
        "The root filesystem is damaged or is not the system's root; check root=."),
    "KERNEL_PANIC": (
        "The kernel panicked.",
        "Read the panic line and the lines before it in the console log."),
    "MAINTENANCE_SHELL": (
        "The system stopped in a maintenance shell (a filesystem check failed or a "
        "filesystem in /etc/fstab could not be mounted).",
        "Check /etc/fstab and run fsck on the filesystems from a rescue system."),
    "GUEST_STOPPED": (
        "The virtual machine stopped (reset or powered off) before a login prompt.",
        "A reset right after the boot loader often means the kernel does not run on this CPU "
        "or is damaged; read the end of the console log."),
    "BOOT_TIMEOUT": (
        "No login prompt before the time limit.",
        "Read the end of the console log; give a longer --timeout if the guest was still busy."),
}


# --- cleaning ---------------------------------------------------------------------

# Cursor positioning and screen erasing: GRUB and SeaBIOS draw with these, so
# they separate text that belongs on different lines.
_MOVES = re.compile(r"\x1b\[[0-9;?]*[HfJdE]")
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_ESC_OTHER = re.compile(r"\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_=>78c]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PRINTK_TIME = re.compile(r"^\[\s*\d+\.\d+\]\s?")


def clean(log: str) -> str:
    """The console log as plain lines: no escape sequences or control characters,
    carriage returns as line breaks, tabs as spaces, trailing blanks removed."""
    text = _MOVES.sub("\n", log)
    text = _OSC.sub("", text)
    text = _CSI.sub("", text)
    text = _ESC_OTHER.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _evidence(line: str) -> str:
    line = line.strip()
    return line if len(line) <= _MAX_EVIDENCE else line[:_MAX_EVIDENCE - 3] + "..."


def last_lines(log: str, count: int = 15) -> list[str]:
    """The last `count` non-blank lines of the cleaned log."""
    lines = [line for line in clean(log).split("\n") if line.strip()]
    return lines[-count:]


# --- stage evidence ---------------------------------------------------------------
#
# Patterns are matched against a line without its printk timestamp. Some
# lines prove a stage only once an earlier stage is proved: with an initramfs,
# "Freeing unused kernel memory" and "Run /init" happen before the root is
# mounted, and EL7's initramfs runs systemd ("systemd[1]:", "Welcome to ...
# (Initramfs)!") before switching root. nash's "Switching to new root and
# running init." proves nothing: EL5 prints it even when mounting the root
# failed.

_BOOTLOADER = re.compile(
    r"GNU GRUB\s+version"                    # GRUB legacy and GRUB 2 menu headers
    r"|^\s*Booting '.*'"                     # GRUB legacy: "  Booting 'CentOS (2.6.18-...)'"
    r"|^\s*Booting `.*'"                     # GRUB 2: "Booting `CentOS Linux ...'"
    r"|^\s*Booting a command list"
    r"|Press any key to enter the menu"      # GRUB legacy hiddenmenu (Red Hat)
    r"|Press `ESC' to enter the menu"        # GRUB legacy hiddenmenu (Debian)
    r"|^\s*GRUB Loading stage"               # GRUB legacy stage1 / stage1.5
    r"|^\s*Welcome to GRUB!"                 # GRUB 2 core
    r"|Booting the kernel"                   # the kernel's decompressor, loaded by the boot loader
)
_LINUX_VERSION = re.compile(r"Linux version (\S+)")
_INITRD = re.compile(
    r"Freeing initrd memory"
    r"|^dracut(?:-[\w.-]+)?(?:\[\d+\])?:"    # "dracut: ...", "dracut-initqueue[218]: ..."
    r"|Unpacking initramfs"
    r"|Trying to unpack rootfs image as initramfs"
    r"|^RAMDISK: (?!\[mem)"                   # an initrd image; not "RAMDISK: [mem ...]" (memory map)
    r"|Red Hat nash version"                 # EL5 mkinitrd's init
    r"|Loading, please wait"                 # initramfs-tools
    r"|Run /init as init process"
    r"|Loading .*initramfs"
)
_ROOT_MOUNTED = re.compile(
    r"EXT[234]-fs\b.*mounted filesystem"     # "EXT3-fs: mounted filesystem with ordered data mode."
    r"|XFS \([\w-]+\): (?:Mounting|Ending clean mount)"
    r"|Mounted root"                         # "dracut: Mounted root filesystem /dev/mapper/..."
    r"|VFS: Mounted root"
    r"|Mounted /sysroot"                     # systemd in the initramfs
    r"|[Ss]witching root"
)
_INIT_ANYTIME = re.compile(
    r"INIT: version"                         # sysvinit
    r"|Run (?!/init\b)\S+ as init process"   # the kernel starting the real root's init
    r"|init started"                         # busybox init
)
_INIT_AFTER_ROOT = re.compile(
    r"^systemd\[1\]:"
    r"|Welcome to (?!GRUB)(?!.*\(Initramfs\))"
    r"|Freeing unused kernel memory"
    r"|^Starting [\w ./-]+:"                    # init scripts: "Starting udev: [  OK  ]"
)
_LOGIN = re.compile(r"\S login:\s*$|^login:\s*$|" + MARKER)
_MARKER_KERNEL = re.compile(MARKER + r" kernel=(\S+)")

# --- problems ---------------------------------------------------------------------

_FATAL, _SYMPTOM = "fatal", "symptom"

# GRUB legacy's numbered errors (stage2/char_io.c err_list) worth a name of their own.
_GRUB_LEGACY_CODES = {15: "GRUB_FILE_NOT_FOUND"}

# Problems that only GRUB (or the BIOS) prints: matched only before the kernel
# started, because "Error ..." and "error: ..." mean other things later.
_BOOT_PROBLEMS: tuple[tuple[re.Pattern, str, str], ...] = (
    (re.compile(r"No bootable device"), "NO_BOOTABLE_DEVICE", _FATAL),
    (re.compile(r"\bGRUB (?:Hard Disk|Read|Geom) Error"), "GRUB_STAGE1_ERROR", _FATAL),
    (re.compile(r"^\s*grub rescue>"), "GRUB_RESCUE", _FATAL),
    (re.compile(r"^\s*grub>"), "GRUB_PROMPT", _FATAL),
    (re.compile(r"^\s*Error (\d+): \S"), "GRUB_ERROR", _SYMPTOM),                # GRUB legacy
    (re.compile(r"^\s*error: file .*not found"), "GRUB_FILE_NOT_FOUND", _SYMPTOM),  # GRUB 2
    (re.compile(r"^\s*error: \S"), "GRUB_ERROR", _SYMPTOM),
)
# "Press any key to continue..." after a GRUB error: no fallback entry, GRUB waits.
_GRUB_WAITS = re.compile(r"Press any key to continue")

_KERNEL_PROBLEMS: tuple[tuple[re.Pattern, str, str], ...] = (
    (re.compile(r"Kernel panic - not syncing: VFS: Unable to mount root fs"), "ROOT_FS_UNMOUNTABLE", _FATAL),
    (re.compile(r"Kernel panic - not syncing: No (?:working )?init found"), "NO_INIT", _FATAL),
    (re.compile(r"Kernel panic - not syncing"), "KERNEL_PANIC", _FATAL),
    (re.compile(r"No (?:working )?init found"), "NO_INIT", _SYMPTOM),
    (re.compile(r"disagrees about version of symbol|Invalid module format|version magic '.*' should be"),
     "MODULE_VERSION_MISMATCH", _SYMPTOM),
    (re.compile(r"dracut:? ?FATAL"), "DRACUT_FATAL", _FATAL),
    (re.compile(r"Warning: /dev/\S+ does not exist"
                r"|No root device .* found"
                r"|Unable to find root device|[Cc]annot find root device"), "ROOT_DEVICE_MISSING", _SYMPTOM),
    (re.compile(r"mount: could not find filesystem|VFS: Cannot open root device"), "ROOT_FS_UNMOUNTABLE", _SYMPTOM),
    (re.compile(r"Dropping to (?:a |the )?(?:debug )?shell|Entering emergency mode|^\(initramfs\)\s*$"),
     "INITRAMFS_SHELL", _FATAL),
    (re.compile(r"Give root password for maintenance|An error occurred during the file system check"),
     "MAINTENANCE_SHELL", _FATAL),
)

_HANDOFF = re.compile(r"^Booting from (?:Hard Disk|Floppy|DVD/CD)")


class _Scan:
    """One pass over the cleaned lines, in order."""

    def __init__(self, expect_kernel: str | None):
        self.expect_kernel = expect_kernel
        self.proved: dict[str, str] = {}
        self.stage_of_problem: list[str | None] = []
        self.problems: list[tuple[str, str]] = []
        self.fatal: int | None = None          # index into problems
        self.kernel_version: str | None = None
        self.marker_kernel: str | None = None
        self.last_line = ""
        self.grub_error_pending = False        # a GRUB error not yet followed by a new attempt
        self.grub_error_index = 0

    @property
    def reached(self) -> str | None:
        for stage in reversed(STAGES):
            if stage in self.proved:
                return stage
        return None

    def _prove(self, stage: str) -> None:
        self.proved.setdefault(stage, _evidence(self.last_line))

    def _problem(self, code: str, kind: str, line: str | None = None) -> None:
        self.problems.append((code, _evidence(self.last_line if line is None else line)))
        self.stage_of_problem.append(self.reached)
        if kind == _FATAL and self.fatal is None:
            self.fatal = len(self.problems) - 1

    def feed(self, raw: str) -> None:
        line = _PRINTK_TIME.sub("", raw).strip()
        if not line:
            return
        self.last_line = raw.strip()
        if "kernel" not in self.proved:
            if self._bootloader_line(line):
                return
            m = _LINUX_VERSION.search(line)
            if m:
                self.kernel_version = m.group(1)
                self.grub_error_pending = False
                self._prove("kernel")
                if self.expect_kernel is not None and self.kernel_version != self.expect_kernel:
                    self._problem("KERNEL_VERSION_UNEXPECTED", _FATAL)
                return
        # Stage evidence first: "dracut: FATAL: ..." also proves the initramfs ran.
        m = _MARKER_KERNEL.search(line)
        if m:
            self.marker_kernel = m.group(1)
        if "kernel" in self.proved and _INITRD.search(line):
            self._prove("initrd")
        if _ROOT_MOUNTED.search(line):
            self._prove("root-mounted")
        if _INIT_ANYTIME.search(line) or ("root-mounted" in self.proved and _INIT_AFTER_ROOT.search(line)):
            self._prove("init")
        if _LOGIN.search(line):
            self._prove("login")
        if "kernel" in self.proved:
            for pattern, code, kind in _KERNEL_PROBLEMS:
                if pattern.search(line):
                    self._problem(code, kind)
                    break

    def _bootloader_line(self, line: str) -> bool:
        """BIOS and GRUB lines; True when the line was a problem."""
        for pattern, code, kind in _BOOT_PROBLEMS:
            m = pattern.search(line)
            if not m:
                continue
            if code == "GRUB_ERROR" and m.groups():
                code = _GRUB_LEGACY_CODES.get(int(m.group(1)), code)
            if code.startswith("GRUB_"):
                self._prove("bootloader")
            self._problem(code, kind)
            if code.startswith("GRUB_") and kind == _SYMPTOM:
                self.grub_error_pending = True
                self.grub_error_index = len(self.problems) - 1
            return True
        if self.grub_error_pending and _GRUB_WAITS.search(line):
            # No fallback entry: GRUB waits for a key that nobody will press.
            self.fatal = self.grub_error_index
            return False
        if _BOOTLOADER.search(line):
            if re.search(r"Booting ['`]", line):
                self.grub_error_pending = False     # GRUB falls back to another entry
            self._prove("bootloader")
        return False

    def cause(self) -> tuple[str, str] | None:
        """The earliest symptom seen in the stage where the boot stopped, else the fatal problem."""
        if self.fatal is None:
            return None
        fatal_stage = self.stage_of_problem[self.fatal]
        if self.problems[self.fatal][0] == "KERNEL_VERSION_UNEXPECTED":
            return self.problems[self.fatal]
        for i in range(self.fatal):
            if self.stage_of_problem[i] == fatal_stage:
                return self.problems[i]
        return self.problems[self.fatal]

    def symptom_cause(self) -> tuple[str, str] | None:
        """For GRUB stuck after an error: the earliest symptom in the last stage."""
        stage = self.reached
        for problem, where in zip(self.problems, self.stage_of_problem):
            if where == stage:
                return problem
        return None


def analyse(log: str, expect_kernel: str | None = None, *, ended: str | None = None,
            idle: float = 0.0) -> BootResult:
    """How far the boot in `log` (a raw serial console capture) got.

    `expect_kernel` is the `uname -r` that must boot. While qemu still runs,
    `idle` is how long the console has been silent; a silent console after the
    BIOS handed over to the disk, or after a GRUB error, is a verdict of its
    own. `ended` says why the capture ended: "exited" (qemu stopped: the guest
    reset or powered off) or "timeout"; either way the result is then final.
    """
    scan = _Scan(expect_kernel)
    for raw in clean(log).split("\n"):
        scan.feed(raw)
        if scan.fatal is not None:
            break

    kernel = scan.kernel_version or scan.marker_kernel
    reached = scan.reached
    if scan.fatal is None and expect_kernel is not None and kernel is not None and kernel != expect_kernel:
        # Only the fixture's marker named the kernel (no "Linux version" line seen).
        scan._problem("KERNEL_VERSION_UNEXPECTED", _FATAL, scan.proved.get("login", kernel))
    ok = scan.fatal is None and reached == FINAL_STAGE

    error = scan.cause()
    if error is None and not ok:
        if scan.grub_error_pending and idle >= GRUB_ERROR_GRACE:
            error = scan.symptom_cause()
        elif reached is None and _HANDOFF.search(scan.last_line) and idle >= HANDOFF_GRACE:
            error = ("BOOT_CODE_SILENT", _evidence(scan.last_line))
        elif ended is not None:
            # Symptoms seen on the way stay in `problems`: without a fatal line
            # after them, they are not known to be why the boot went no further.
            fallback = "GUEST_STOPPED" if ended == "exited" else "BOOT_TIMEOUT"
            error = (scan.symptom_cause() if scan.grub_error_pending else None) or \
                (fallback, _evidence(scan.last_line))

    stages = tuple((stage, scan.proved[stage]) for stage in STAGES if stage in scan.proved)
    return BootResult(stage_reached=reached, stages=stages, error=error, kernel_version=kernel,
                      ok=ok, problems=tuple(scan.problems))

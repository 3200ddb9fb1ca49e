"""Read a guest's serial console log and say how far the boot got. No I/O.

A boot passes through stages (rescue.bootcheck.evidence.STAGES), each proved
by a line any Linux guest prints on its console:

  firmware      SeaBIOS or OVMF ran ("SeaBIOS (version ...)", "BdsDxe: loading Boot0001 ...")
  efi-loader    UEFI only: OVMF started the ESP's loader ("BdsDxe: starting Boot0001 ...")
  bootloader    GRUB ran ("GNU GRUB  version 0.97", "Booting 'CentOS (...)'", "Welcome to GRUB!")
  kernel        the kernel started ("Linux version 2.6.32-431.el6.x86_64 (...)")
  initrd        the initramfs ran ("Freeing initrd memory", "dracut: ...", nash)
  root-mounted  the root filesystem is mounted ("EXT4-fs (dm-0): mounted filesystem")
  init          the real root's init runs ("INIT: version 2.86 booting", "Welcome to
                CentOS Linux 7 (Core)!", boot-check's own probe, a clean power-off)
  login         a getty's prompt ("web01 login: ")

and can stop on the way: SeaBIOS finds nothing to boot, OVMF finds no loader
and starts its shell, GRUB cannot find a
file or has no entry and waits at its prompt, the kernel panics, dracut gives
up and drops to a shell, systemd enters emergency mode, init powers off.

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

from rescue.bootcheck import evidence as ev
from rescue.bootcheck.codes import ERRORS
from rescue.bootcheck.evidence import FATAL, PRECURSOR, STAGES, SYMPTOM

__all__ = ["STAGES", "FINAL_STAGE", "BootResult", "ERRORS", "analyse", "clean", "console_lines", "last_lines"]

FINAL_STAGE = STAGES[-1]

# How long a silent console means "stuck" rather than "busy" (seconds).
HANDOFF_GRACE = 20.0     # after SeaBIOS's "Booting from Hard Disk...": boot code prints at once
GRUB_ERROR_GRACE = 10.0  # after a GRUB error: a fallback entry would have started by then
# GRUB 2's "Press any key to continue..." gives up after 10 s and goes on (the
# entry's kernel may boot without its initrd): its errors get longer.
GRUB2_ERROR_GRACE = 25.0

_MAX_EVIDENCE = 200      # characters of a console line quoted as evidence


@dataclass(frozen=True)
class BootResult:
    stage_reached: str | None                    # furthest stage proved, None: not even the bootloader
    stages: tuple[tuple[str, str], ...]          # (stage, the console line proving it), in stage order
    error: tuple[str, str] | None                # (code, console line) why the boot failed
    kernel_version: str | None                   # from "Linux version VER"
    ok: bool                                     # the final stage was reached with the expected kernel
    problems: tuple[tuple[str, str], ...] = ()   # every problem seen, in order, fatal or not
    command_line: str | None = None              # the kernel's "Kernel command line: ..."

    @property
    def decided(self) -> bool:
        """Nothing more the guest prints can change the verdict."""
        return self.ok or self.error is not None


# --- cleaning ---------------------------------------------------------------------

# Cursor positioning and screen erasing: GRUB and SeaBIOS draw with these, so
# they separate text that belongs on different lines.
_MOVES = re.compile(r"\x1b\[[0-9;?]*[HfJdE]")
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_ESC_OTHER = re.compile(r"\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_=>78c]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


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


# A printk timestamp inside a line: kernel messages interleave with what user
# space writes ("[  OK  ] Started Create Static Device Nodes.[    4.561633] random: ...").
_EMBEDDED_TIME = re.compile(r"(?<=\S)(?=\[\s*\d+\.\d{3,}\])")


def console_lines(log: str) -> list[str]:
    """The cleaned log's lines, kernel messages split off user space output they interleave with."""
    return [part for line in clean(log).split("\n") for part in _EMBEDDED_TIME.split(line)]


def last_lines(log: str, count: int = 15) -> list[str]:
    """The last `count` non-blank lines of the cleaned log."""
    lines = [line for line in clean(log).split("\n") if line.strip()]
    return lines[-count:]


class _Scan:
    """One pass over the cleaned lines, in order."""

    def __init__(self, expect_kernel: str | None):
        self.expect_kernel = expect_kernel
        self.proved: dict[str, str] = {}
        self.stage_of_problem: list[str | None] = []
        self.problems: list[tuple[str, str]] = []
        self.kinds: list[str] = []
        self.fatal: int | None = None          # index into problems
        self.kernel_version: str | None = None
        self.command_line: str | None = None
        self.last_line = ""
        self.grub_error_pending = False        # a GRUB error not yet followed by a new attempt
        self.grub_error_index = 0
        self.grub_error_legacy = False         # GRUB legacy's "Error NN" (it waits for a key for ever)
        self.systemd_initrd = False            # a systemd initramfs runs: its systemd lines are not init's
        self.switched = False                  # the initramfs handed over to the real root
        self.init_tentative = False            # init proved only by "Run /sbin/init as init process"

    @property
    def reached(self) -> str | None:
        for stage in reversed(STAGES):
            if stage in self.proved:
                return stage
        return None

    def _prove(self, stage: str) -> None:
        if stage not in self.proved:
            self.proved[stage] = _evidence(self.last_line)
            if stage == "init":
                self.init_tentative = False

    def _problem(self, code: str, kind: str, line: str | None = None) -> None:
        self.problems.append((code, _evidence(self.last_line if line is None else line)))
        self.stage_of_problem.append(self.reached)
        self.kinds.append(kind)
        if kind == FATAL and self.fatal is None:
            self.fatal = len(self.problems) - 1

    def feed(self, raw: str) -> None:
        line = ev.PRINTK_TIME.sub("", raw).strip()
        if not line:
            return
        self.last_line = raw.strip()
        if self.reached in (None, "firmware", "efi-loader", "bootloader"):
            if self._bootloader_line(line):
                return
        if self.kernel_version is None:
            m = ev.LINUX_VERSION.search(line)
            if m:
                self.kernel_version = m.group(1)
                self.grub_error_pending = False
                self._prove("kernel")
                if self.expect_kernel is not None and self.kernel_version != self.expect_kernel:
                    self._problem("KERNEL_VERSION_UNEXPECTED", FATAL)
                return
        m = ev.COMMAND_LINE.search(line)
        if m and self.command_line is None:
            self.command_line = m.group(1).strip()
        # Stage evidence first: "dracut: FATAL: ..." also proves the initramfs ran.
        self._stage_line(line)
        for pattern, code, kind, proves in ev.KERNEL_PROBLEMS:
            if pattern.search(line):
                if proves is not None:       # "You are in emergency mode" is the real root's systemd
                    self._prove(proves)
                if self.init_tentative and ev.INIT_NEVER_RAN.search(line):
                    del self.proved["init"]      # the kernel could not run it after all
                    self.init_tentative = False
                self._problem(code, kind)
                return
        if ev.POWER_OFF.search(line) and "root-mounted" in self.proved and "login" not in self.proved:
            # Only user space asks for a clean power-off or reboot: init ran.
            self._prove("init")
            self._problem("GUEST_POWERED_OFF_AFTER_INIT", FATAL)

    def _stage_line(self, line: str) -> None:
        before_root = "root-mounted" not in self.proved
        if ev.SYSTEMD_INITRD.search(line) and before_root:
            self.systemd_initrd = True
        if before_root and ev.INITRD.search(line):
            self._prove("initrd")
        if ev.ROOT_MOUNTED.search(line):
            self._prove("root-mounted")
        if ev.SWITCH_ROOT.search(line):
            self.switched = True
            return
        after_root = "root-mounted" in self.proved
        in_real_root = after_root and (self.switched or not self.systemd_initrd)
        if ev.INIT_ANYTIME.search(line) \
                or (after_root and ev.INIT_AFTER_ROOT.search(line)) \
                or (in_real_root and ev.INIT_SYSTEMD.search(line)):
            self._prove("init")
        elif after_root and ev.INIT_EXEC.search(line) and "init" not in self.proved:
            self._prove("init")
            self.init_tentative = True
        m = ev.LOGIN.search(line)
        if m and (m.group(1) or "").lower() != "last":      # "Last login: ..." follows a login
            self._prove("login")

    def _bootloader_line(self, line: str) -> bool:
        """BIOS and GRUB lines; True when the line was a problem."""
        for pattern, code, kind in ev.BOOT_PROBLEMS:
            m = pattern.search(line)
            if not m:
                continue
            if code == "GRUB_ERROR" and m.groups():
                code = ev.GRUB_LEGACY_CODES.get(int(m.group(1)), code)
            if code.startswith("GRUB_"):
                self._prove("bootloader")
            elif code.startswith("EFI_"):
                self._prove("firmware")
            self._problem(code, kind)
            if code.startswith("GRUB_") and kind == SYMPTOM:
                self.grub_error_pending = True
                self.grub_error_index = len(self.problems) - 1
                self.grub_error_legacy = bool(m.groups())
            return True
        if self.grub_error_pending and self.grub_error_legacy and ev.GRUB_WAITS.search(line):
            # No fallback entry: GRUB waits for a key that nobody will press.
            self.fatal = self.grub_error_index
            return False
        if ev.FIRMWARE.search(line):
            self._prove("firmware")
            if ev.EFI_LOADER.search(line):
                self._prove("efi-loader")
            return False
        if ev.BOOTLOADER.search(line):
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
        same_stage = [i for i in range(self.fatal) if self.stage_of_problem[i] == fatal_stage]
        for wanted in (SYMPTOM, PRECURSOR):
            for i in same_stage:
                if self.kinds[i] == wanted:
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
    for raw in console_lines(log):
        scan.feed(raw)
        if scan.fatal is not None:
            break

    reached = scan.reached
    ok = scan.fatal is None and reached == FINAL_STAGE

    error = scan.cause()
    if error is None and not ok:
        grace = GRUB_ERROR_GRACE if scan.grub_error_legacy else GRUB2_ERROR_GRACE
        if scan.grub_error_pending and idle >= grace:
            error = scan.symptom_cause()
        elif reached in (None, "firmware") and ev.HANDOFF.search(scan.last_line) and idle >= HANDOFF_GRACE:
            error = ("BOOT_CODE_SILENT", _evidence(scan.last_line))
        elif ended is not None:
            # Symptoms seen on the way stay in `problems`: without a fatal line
            # after them, they are not known to be why the boot went no further.
            fallback = "GUEST_STOPPED" if ended == "exited" else "BOOT_TIMEOUT"
            error = (scan.symptom_cause() if scan.grub_error_pending else None) or \
                (fallback, _evidence(scan.last_line))

    stages = tuple((stage, scan.proved[stage]) for stage in STAGES if stage in scan.proved)
    return BootResult(stage_reached=reached, stages=stages, error=error, kernel_version=scan.kernel_version,
                      ok=ok, problems=tuple(scan.problems), command_line=scan.command_line)

"""The hypervisor under the libguestfs appliance: KVM or TCG, and killing what we started.

Broken KVM (nested clouds, CPUs whose MSRs the host hypervisor refuses) is
recognised from qemu's own words, so both the appliance (`rescue.guest.session`)
and boot-check's qemu can fall back to software emulation and say so.
"""
from __future__ import annotations

import os
import re
import signal

from rescue.errors import Exit, RescueError

ACCEL_CHOICES = ("auto", "kvm", "tcg")
DEFAULT_LAUNCH_TIMEOUT = 600.0   # seconds; TCG on a loaded host can take minutes, never forever

# What qemu prints when /dev/kvm exists but cannot run this guest (nested
# clouds, CPUs whose MSRs the host hypervisor refuses).
BROKEN_KVM = re.compile(
    r"failed to set MSR|kvm_buf_set_msrs|failed to initialize kvm|Could not access KVM"
    r"|KVM_CREATE_VM|kvm run failed|KVM internal error|/dev/kvm",
    re.IGNORECASE,
)


def resolve_accel(accel: str | None) -> str:
    """--accel, else $VMRESCUE_ACCEL, else libguestfs's own force_tcg setting, else auto."""
    choice = accel or os.environ.get("VMRESCUE_ACCEL") or ""
    if not choice and "force_tcg" in os.environ.get("LIBGUESTFS_BACKEND_SETTINGS", ""):
        choice = "tcg"
    choice = choice or "auto"
    if choice not in ACCEL_CHOICES:
        raise RescueError("BAD_ACCEL", f"unknown accelerator {choice!r}.",
                          f"Use one of: {', '.join(ACCEL_CHOICES)}.", Exit.USAGE)
    return choice



def abort_appliances() -> None:
    """Kill the qemu of every appliance this process started (Ctrl-C with several running)."""
    for hypervisor in set(HYPERVISORS):
        kill_children_running(hypervisor)


HYPERVISORS: set[str] = set()   # hypervisor programs of the handles made here


def broken_kvm_reason(log: str) -> str | None:
    """The line of a qemu log that says KVM is broken here (see _BROKEN_KVM), for rescue.bootcheck."""
    return first_match_line(log)


def first_match_line(log: str) -> str | None:
    for line in log.splitlines():
        if BROKEN_KVM.search(line):
            return line.strip().removeprefix("qemu-system-x86_64: ").removeprefix("error: ")
    return None



def _process_table() -> dict[int, tuple[int, list[bytes]]]:
    """pid → (parent pid, first two argv words) for every readable process."""
    table = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")[:2]
        except (OSError, ValueError, IndexError):
            continue
        table[int(pid)] = (parent, argv)
    return table


def kill_children_running(program: str) -> None:
    """Kill our children running `program`, and their descendants (the watchdog's last resort).

    The handle cannot be asked for qemu's pid while launch() holds it, so the
    process table is searched for children whose command line starts with the
    hypervisor libguestfs was configured with (a wrapper script counts).
    """
    table = _process_table()
    doomed = [pid for pid, (parent, argv) in table.items()
              if parent == os.getpid() and program.encode() in argv]
    i = 0
    while i < len(doomed):
        doomed.extend(pid for pid, (parent, _) in table.items() if parent == doomed[i])
        i += 1
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

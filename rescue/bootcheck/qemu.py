"""Booting the overlay in qemu, reading its serial console until the verdict, the exit or the timeout.

qemu runs in its own session (rescue.run.spawn) and is killed and reaped in
every case, KeyboardInterrupt included; the console is analysed as it arrives
(rescue.bootcheck.console) and the boot ends as soon as the verdict is known.
"""
from __future__ import annotations

import codecs
import os
import select
import subprocess
import time
from dataclasses import dataclass
from typing import Callable

from rescue.bootcheck import console, probe
from rescue.bootcheck.console import BootResult
from rescue.bootcheck.hardware import Hardware, qemu_command
from rescue.errors import Exit, RescueError
from rescue.guest.hypervisor import broken_kvm_reason
from rescue.run import spawn

Status = Callable[[str], None]

LOG_LIMIT = 16 * 1024 * 1024             # console bytes kept; a guest flooding its console is cut here
POLL_SECONDS = 0.25
ANALYSE_EVERY = 0.5
HEARTBEAT_SECONDS = 15.0
# After the verdict, how long to wait for the probe's report to end: init runs it
# before the gettys, so it is normally complete by then.
PROBE_GRACE = 20.0


@dataclass(frozen=True)
class BootRun:
    result: BootResult
    ended: str              # "verdict" (the console decided), "exited" (qemu stopped), "timeout"
    seconds: float
    log: str                # the raw console, decoded
    truncated: bool
    stderr: str
    returncode: int | None


def run_qemu(argv: list[str], *, timeout: float, expect_kernel: str | None, stderr_path: str,
             progress: Callable[[str | None, float], None], wait_probe: bool = False) -> BootRun:
    """Run qemu, reading and analysing its console until a verdict, its exit or the timeout.

    With `wait_probe`, a successful verdict waits (at most PROBE_GRACE seconds)
    for the end of the probe's report, which the driver check reads.

    qemu runs in its own session (a Ctrl-C on the terminal reaches only us),
    and is killed and reaped in every case, KeyboardInterrupt included.
    """
    started = time.monotonic()
    with open(stderr_path, "wb") as err:
        proc = spawn(argv, stdout=subprocess.PIPE, stderr=err)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    chunks: list[str] = []
    kept = 0
    truncated = False
    last_output = last_analysis = started
    result = console.analyse("", expect_kernel)
    ended = "timeout"
    decided_at: float | None = None
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
                    decided_at = decided_at or now
                    if not (wait_probe and result.ok) or probe.END in text or now - decided_at >= PROBE_GRACE:
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
                 memory_mb: int, expect_kernel: str | None, workdir: str, status: Status,
                 ovmf: tuple[str, str] | None = None, wait_probe: bool = False) -> tuple[BootRun, str]:
    """Boot under the first accelerator of `modes` that works; (run, accelerator used)."""
    for mode in modes:
        label = "KVM" if mode == "kvm" else "TCG, software emulation"
        status(f"Booting the guest ({label}), at most {timeout:.0f} s")
        run = run_qemu(qemu_command(qemu, overlay, hardware, mode, memory_mb, ovmf), timeout=timeout,
                       expect_kernel=expect_kernel, stderr_path=os.path.join(workdir, "qemu.err"),
                       progress=_progress_reporter(status, label), wait_probe=wait_probe)
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

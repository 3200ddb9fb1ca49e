"""The one way vmrescue runs a host program (qemu-img, rpmkeys, qemu).

`run` waits for a program and hands back what it printed; `spawn` starts one
that streams (qemu's serial console) in a session of its own, killed with
vmrescue if vmrescue dies without reaping it. Callers turn a `ToolError` or a
failed `Completed` into a `RescueError` that names the program and the next step.
"""
from __future__ import annotations

import ctypes
import signal
import subprocess
from dataclasses import dataclass
from typing import IO, Mapping, Sequence


class ToolError(Exception):
    """The program could not be run to completion: missing, or out of time."""

    def __init__(self, argv: Sequence[str], kind: str, detail: str):
        super().__init__(f"{argv[0]}: {detail}")
        self.argv = list(argv)
        self.kind = kind            # "missing", "timeout", "oserror"
        self.detail = detail


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_error_line(self, default: str = "unknown error") -> str:
        """The last line the program printed on stderr, without its "program: " prefix."""
        lines = self.stderr.strip().splitlines()
        if not lines:
            return default
        name = self.argv[0].rsplit("/", 1)[-1]
        return lines[-1].strip().removeprefix(f"{name}: ")


def run(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None) -> Completed:
    """Run `argv` to completion (stdin closed, output captured as text); ToolError if it cannot."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, errors="replace", timeout=timeout,
                              stdin=subprocess.DEVNULL, env=dict(env) if env is not None else None)
    except FileNotFoundError:
        raise ToolError(argv, "missing", "not installed") from None
    except subprocess.TimeoutExpired:
        raise ToolError(argv, "timeout", f"did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise ToolError(argv, "oserror", exc.strerror or str(exc)) from None
    return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def _die_with_parent() -> None:
    """In the child: be killed if vmrescue dies without reaping it (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def spawn(argv: Sequence[str], *, stdout: int | IO, stderr: int | IO) -> subprocess.Popen:
    """Start `argv` in its own session (a Ctrl-C on the terminal reaches only vmrescue)."""
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            start_new_session=True, preexec_fn=_die_with_parent)


def pipe(argv: Sequence[str], data: bytes, *, timeout: float, limit: int) -> tuple[bytes, int]:
    """Feed `data` to `argv` and take at most `limit` bytes of what it writes (a decompressor);
    (output, exit status). ToolError if it cannot run."""
    try:
        proc = subprocess.run(list(argv), input=data, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise ToolError(argv, "missing", "not installed") from None
    except subprocess.TimeoutExpired:
        raise ToolError(argv, "timeout", f"did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise ToolError(argv, "oserror", exc.strerror or str(exc)) from None
    return proc.stdout[:limit], proc.returncode

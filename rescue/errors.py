"""One error type for everything the operator can act on, and its exit codes.

Anything raised as `RescueError` is printed as one line plus a hint by the CLI;
anything else is a bug and shows a traceback only with --debug.
"""
from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0              # every image bootable, no errors
    NOT_BOOTABLE = 1    # some image will not boot (or the repair did not make it bootable)
    USAGE = 2           # bad command line
    IMAGE = 3           # an image could not be opened or inspected
    ENVIRONMENT = 4     # the host lacks something: libguestfs, qemu, a working appliance
    REFUSED = 5         # a write was refused before anything was changed
    INTERRUPTED = 130   # Ctrl-C


class RescueError(Exception):
    """An error the operator can act on: stable code, one-line message, hint."""

    def __init__(self, code: str, message: str, hint: str = "", exit_status: Exit = Exit.IMAGE):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.exit_status = exit_status

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (libguestfs's can run to pages), or its type's name."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__

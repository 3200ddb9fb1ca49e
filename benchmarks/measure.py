"""Run one measured thing in this process and write what it cost to a JSON file.

    measure.py RESULT floor IMAGE          bare appliance: probe, launch, shut down
    measure.py RESULT cli ARGS...          `vmrescue ARGS...`, in-process

RESULT gets {"exit", "seconds", "maxrss_kib", "children_maxrss_kib"}: the
peak RSS of this Python process (vmrescue itself) and of its largest
finished child (the appliance's qemu). Wall time is also taken by the caller,
which includes interpreter start-up.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

STARTED = time.monotonic()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write(result_path: str, code: int) -> None:
    with open(result_path, "w") as f:
        json.dump({
            "exit": code,
            "seconds": time.monotonic() - STARTED,
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        }, f)


def floor(image: str) -> int:
    from rescue.guest.session import Guest  # noqa: PLC0415
    from rescue.guest.image import probe  # noqa: PLC0415
    with Guest([probe(image)]):
        pass
    return 0


def cli(args: list[str]) -> int:
    from rescue import cli as rescue_cli   # noqa: PLC0415
    sys.argv = ["vmrescue", *args]
    try:
        rescue_cli.main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def main() -> None:
    result_path, mode, *rest = sys.argv[1:]
    if mode == "floor":
        code = floor(rest[0])
    elif mode == "cli":
        code = cli(rest)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    _write(result_path, code)
    sys.exit(code)


if __name__ == "__main__":
    main()

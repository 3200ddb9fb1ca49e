"""The `vmrescue` command line: parse, call an operation, print. Nothing else."""
from __future__ import annotations

import json
import sys
import time
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from rescue import __version__, operations, report
from rescue.errors import Exit, RescueError

EXIT_CODES_HELP = (
    "Exit status: 0 every image bootable with no errors; 1 some image is not bootable; "
    "2 usage error; 3 an image could not be opened or inspected; 4 the host lacks "
    "libguestfs/qemu or the appliance failed; 5 a write was refused; 130 interrupted."
)

app = typer.Typer(
    name="vmrescue",
    help="Offline boot-image rescue for Linux virtual machines: diagnose why a powered-off "
         "guest will not boot, reinstall the matching kernel, prove it boots. " + EXIT_CODES_HELP,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    verbose = False
    debug = False
    accel: Optional[str] = None
    launch_timeout = 600.0


def _version(value: bool) -> None:
    if value:
        out.print(f"vmrescue {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show libguestfs's verbose log and trace (like virt-* -v -x)."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback for internal errors."),
    accel: Optional[str] = typer.Option(
        None, "--accel", envvar="VMRESCUE_ACCEL",
        help="Appliance accelerator: auto (KVM, falling back to TCG when KVM is broken), kvm, tcg."),
    launch_timeout: float = typer.Option(600.0, "--launch-timeout", help="Seconds to wait for the appliance to start."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    State.verbose, State.debug, State.accel, State.launch_timeout = verbose, debug, accel, launch_timeout


class StatusLine:
    """Progress for the long appliance start: a spinner on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self._status = None
        self._started = time.monotonic()

    def __call__(self, message: str) -> None:
        if err.is_terminal:
            if self._status is None:
                self._status = err.status(escape(message) + " …")
                self._status.start()
            else:
                self._status.update(escape(message) + " …")
            if message.startswith("KVM is not usable"):
                err.print(f"[yellow]{escape(message)}[/yellow]")
        else:
            err.print(f"[{time.monotonic() - self._started:5.1f}s] {escape(message)}")

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _options() -> operations.ApplianceOptions:
    return operations.ApplianceOptions(accel=State.accel, verbose=State.verbose, launch_timeout=State.launch_timeout)


def _fail(exc: RescueError) -> None:
    err.print(f"[bold red]vmrescue: error:[/bold red] {escape(exc.message)}")
    if exc.hint:
        err.print(f"  hint: {escape(exc.hint)}")


@app.command(epilog=EXIT_CODES_HELP)
def diagnose(
    images: List[str] = typer.Argument(..., metavar="IMAGE...", help="Disk images (raw, qcow2, vmdk ...). Opened read-only."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON report (schema vmrescue.report/1)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Image format, instead of detecting it (raw, qcow2, vmdk ...)."),
    allow_backing: bool = typer.Option(False, "--allow-backing", help="Accept images that refer to other host files (backing files, extents elsewhere)."),
) -> None:
    """Read-only: find why a guest will not boot and which kernel it needs."""
    status = StatusLine()
    try:
        infos, failed = operations.probe_all(images, fmt, allow_backing)
        results = operations.diagnose_images(infos, _options(), status)
    finally:
        status.stop()
    by_path = {r.path: r for r in failed + results}
    ordered = [by_path[p] for p in images if p in by_path]
    if json_output:
        out.print_json(json.dumps(report.to_json_document(ordered)))
    else:
        for result in ordered:
            if result.error:
                _fail(result.error)
            else:
                report.render_text(result.diagnosis, out)
    raise typer.Exit(int(operations.exit_status(ordered)))


def main() -> None:
    """Console-script entry: every RescueError is one message and an exit code."""
    try:
        app()
    except RescueError as exc:
        _fail(exc)
        if State.debug:
            raise
        sys.exit(int(exc.exit_status))
    except KeyboardInterrupt:
        err.print("vmrescue: interrupted; the appliance was shut down and nothing more was done.")
        sys.exit(int(Exit.INTERRUPTED))
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        if State.debug:
            raise
        err.print(f"[bold red]vmrescue: internal error:[/bold red] {escape(type(exc).__name__)}: {escape(str(exc))}")
        err.print("  hint: run again with --debug for the traceback, and report it.")
        sys.exit(70)

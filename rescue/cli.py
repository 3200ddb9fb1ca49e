"""The `vmrescue` command line: parse, call an operation, print. Nothing else."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
import threading
import time
from contextlib import contextmanager
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from rescue import __version__, operations
from rescue.diagnose import fleet, report
from rescue import bootcheck
from rescue.errors import Exit, RescueError
from rescue.repair.plan import RepairPlan
from rescue.repair.fixes import choose_fixes
from rescue.repair.fixing import FixOptions, FixResult
from rescue.repair.reinstall import ReinstallOptions, ReinstallResult

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

# Piped output (logs, CI, `| less`) gets room for the kernel table instead of rich's 80 columns.
out = Console(highlight=False, soft_wrap=True,
              width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 132))
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
    """Progress for the long appliance start: a spinner on a terminal, plain lines otherwise.

    With several images (`images` > 1) it also counts them: a bar over all
    images on a terminal, a "[3/8] image: verdict" line per image otherwise.
    Called from the appliance threads of `diagnose --jobs`, hence the lock.
    """

    def __init__(self, images: int = 1) -> None:
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._images = images
        self._done = 0
        self._said: set[str] = set()
        self._live = None       # rich Status (one image) or Progress (several)
        self._task = None

    def __call__(self, message: str) -> None:
        self.status(message)

    def status(self, message: str) -> None:
        with self._lock:
            if message.startswith("KVM is not usable"):
                # every parallel appliance finds out; say it once
                if message not in self._said:
                    self._said.add(message)
                    err.print(f"[yellow]{escape(message)}[/yellow]")
                return
            if not err.is_terminal:
                err.print(f"[{self._elapsed()}] {escape(message)}")
            elif self._images > 1:
                self._bar().update(self._task, description=escape(message))
            elif self._live is None:
                self._live = err.status(escape(message) + " …")
                self._live.start()
            else:
                self._live.update(escape(message) + " …")

    def image_done(self, result: operations.ImageResult) -> None:
        with self._lock:
            self._done += 1
            row = fleet.summary_row(result)
            line = f"[{self._done}/{self._images}] {result.path}: {row.verdict}"
            if err.is_terminal and self._images > 1:
                self._bar().update(self._task, completed=self._done)
                self._bar().console.print(escape(line))
            elif self._images > 1:
                err.print(f"[{self._elapsed()}] {escape(line)}")

    def _bar(self) -> Progress:
        if self._live is None:
            self._live = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)
            self._task = self._live.add_task("", total=self._images)
            self._live.start()
        return self._live

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self._started:5.1f}s"

    def stop(self) -> None:
        with self._lock:
            if self._live is not None:
                self._live.stop()
                self._live = None


@contextmanager
def _interruptible(aftermath: str) -> Iterator[None]:
    """Ctrl-C as one line and exit 130 (typer would exit 130 silently)."""
    try:
        yield
    except KeyboardInterrupt:
        raise RescueError("INTERRUPTED", f"interrupted; {aftermath}", "", Exit.INTERRUPTED) from None


def _options() -> operations.ApplianceOptions:
    return operations.ApplianceOptions(accel=State.accel, verbose=State.verbose, launch_timeout=State.launch_timeout)


def _fail(exc: RescueError) -> None:
    # messages can quote the guest (tool output, file names): control characters made inert
    err.print(f"[bold red]vmrescue: error:[/bold red] {escape(report.clean(exc.message))}")
    if exc.hint:
        err.print(f"  hint: {escape(report.clean(exc.hint))}")


@app.command(epilog=EXIT_CODES_HELP)
def diagnose(
    images: List[str] = typer.Argument(..., metavar="IMAGE...",
                                       help="Disk images (raw, qcow2, vmdk ...), directories of images, or quoted globs. "
                                            "Opened read-only."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON report (schema vmrescue.report/1)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Image format, instead of detecting it (raw, qcow2, vmdk ...)."),
    allow_backing: bool = typer.Option(False, "--allow-backing", help="Accept images that refer to other host files (backing files, extents elsewhere)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, metavar="N",
                                       help="Appliances to run in parallel (default: from cores, memory and the number of images)."),
) -> None:
    """Read-only: find why a guest will not boot and which kernel it needs."""
    paths = fleet.expand_images(images)
    infos, failed = operations.probe_all(paths, fmt, allow_backing)
    if jobs is None:
        jobs = fleet.default_jobs(len(infos), os.cpu_count(), fleet.available_memory())
    progress = StatusLine(images=len(paths))
    for result in failed:
        progress.image_done(result)
    try:
        with _interruptible("every appliance was stopped; diagnose only reads, so no image was changed."):
            results = operations.diagnose_images(infos, _options(), progress, jobs=jobs)
    finally:
        progress.stop()
    by_path = {r.path: r for r in failed + results}
    ordered = [by_path[p] for p in paths if p in by_path]
    if json_output:
        out.print_json(json.dumps(report.to_json_document(ordered)))
    else:
        for result in ordered:
            if result.error:
                _fail(result.error)
            else:
                report.render_text(result.diagnosis, out)
        if len(ordered) > 1:
            out.print(_summary_table(ordered))
    raise typer.Exit(int(operations.exit_status(ordered)))


def _summary_table(results: list[operations.ImageResult]) -> Table:
    rows = [fleet.summary_row(r) for r in results]
    directory, names = fleet.short_names([row.image for row in rows])
    bootable = sum(row.verdict == "bootable" for row in rows)
    title = f"{len(rows)} images{' in ' + directory if directory else ''}: {bootable} bootable, {len(rows) - bootable} not"
    table = Table(title=escape(report.clean(title)), title_justify="left")
    for column in ("Image", "Verdict", "Recommended kernel", "Errors"):
        table.add_column(column, overflow="fold")
    for name, row in zip(names, rows):
        colour = {"bootable": "green", "NOT BOOTABLE": "red"}.get(row.verdict, "red")
        table.add_row(escape(report.clean(name)), f"[{colour}]{row.verdict}[/{colour}]",
                      escape(report.clean(row.kernel)), escape(report.clean(row.problems)))
    return table


def _render_plan(plan: "RepairPlan", dry_run: bool) -> None:
    """The plan, printed before anything is written (the same for a dry run and a real one)."""
    where = "the throw-away overlay" if dry_run else "the image"
    out.print(f"[bold]Plan:[/bold] {escape(plan.image)} → kernel {escape(plan.target)} "
              f"(decided with the guest read-only; next, applied to {where})")
    for name, detail in plan.steps():
        out.print(f"  [cyan]{name:>10}[/cyan]  {escape(report.clean(detail))}")
    for note in plan.notes:
        out.print(f"[yellow]note:[/yellow] {escape(report.clean(note))}")
    diff = plan.bootloader.diff
    if diff:
        out.print(escape(diff), end="" if diff.endswith("\n") else "\n")


def _render_repair(result: "ReinstallResult") -> None:
    head = "DRY RUN (nothing was written to the image)" if result.dry_run else "Repaired"
    out.print(f"[bold]{head}:[/bold] {escape(result.image)} → kernel {escape(result.target)}")
    if result.outcome.backups:
        out.print("Backups:")
        for path in result.outcome.backups:
            out.print(f"  {escape(path)}")
    for note in result.outcome.notes:
        out.print(f"[yellow]note:[/yellow] {escape(report.clean(note))}")
    out.print(("Would be: " if result.dry_run else "Now: ") + report.verdict_markup(result.after))


@app.command("reinstall-kernel", epilog=EXIT_CODES_HELP)
def reinstall_kernel(
    image: str = typer.Argument(..., metavar="IMAGE", help="The powered-off guest's disk image."),
    kernel: Optional[str] = typer.Option(None, "--kernel", metavar="UNAME_R",
                                         help="Kernel release to install (default: what diagnose recommends)."),
    rpm: List[Path] = typer.Option([], "--rpm", metavar="FILE", help="A kernel RPM to consider (repeatable)."),
    from_dirs: List[Path] = typer.Option([], "--from", metavar="DIR", help="A directory searched recursively for RPMs (repeatable)."),
    repo: Optional[str] = typer.Option(None, "--repo", metavar="DIR|URL", help="A yum repository (with repodata/)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Do the whole repair on a throw-away overlay; print the plan and the grub.conf diff."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before writing."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Do not keep *.vmrescue-DATE copies of overwritten files."),
    nosignature: bool = typer.Option(False, "--nosignature", help="Accept an unsigned RPM or one signed by a key the guest lacks."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Image format, instead of detecting it."),
    allow_backing: bool = typer.Option(False, "--allow-backing", help="Accept images that refer to other host files."),
) -> None:
    """Install the matching kernel RPM offline, rebuild its initrd, rewrite grub.conf."""
    info = operations.probe_all([image], fmt, allow_backing)
    if info[1]:
        raise info[1][0].error
    options = ReinstallOptions(kernel=kernel, rpms=tuple(rpm), dirs=tuple(from_dirs), repo=repo,
                               nosignature=nosignature, backup=not no_backup, dry_run=dry_run)
    _confirmed(image, info[0][0], options, yes, _run_repair, _render_repair)


def _confirmed(image: str, info, options, yes: bool, run, render) -> None:
    """Run a repair; without --yes, first its dry run and the operator's yes on a terminal."""
    if not options.dry_run and not yes:
        if not sys.stdin.isatty():
            raise RescueError("CONFIRMATION_NEEDED", f"{image}: not writing without confirmation.",
                              "Run with --dry-run to see the plan, then with --yes to apply it.", Exit.REFUSED)
        # Show exactly what would happen (a dry run on an overlay), then ask; the real
        # run must come to the same plan, or it writes nothing.
        result = run(info, dataclasses.replace(options, dry_run=True))
        render(result)
        if not typer.confirm(f"Apply this repair to {image}?", default=False):
            err.print("Nothing was written.")
            raise typer.Exit(int(Exit.REFUSED))
        options = dataclasses.replace(options, confirmed=result.plan.key())
    result = run(info, options)
    render(result)
    raise typer.Exit(int(Exit.OK if result.success else Exit.NOT_BOOTABLE))


def _run_repair(info, options: ReinstallOptions) -> "ReinstallResult":
    status = StatusLine()

    def shown(plan: "RepairPlan") -> None:
        if options.confirmed is None:      # a confirmed plan was printed by its dry run already
            status.stop()
            _render_plan(plan, options.dry_run)

    try:
        # after the repair started writing, RepairInterrupted says what was done instead
        with _interruptible("the appliance was stopped before anything was written to the image."):
            return operations.reinstall_kernel(info, options, _options(), status, shown)
    finally:
        status.stop()


@app.command("repair", epilog=EXIT_CODES_HELP)
def repair(
    image: str = typer.Argument(..., metavar="IMAGE", help="The powered-off guest's disk image."),
    fix: List[str] = typer.Option([], "--fix", metavar="NAME",
                                  help="restore-config (put a renamed grub.conf/grub.cfg back), rebuild-initrd "
                                       "(the default kernel's, with the guest's dracut/mkinitrd), boot-entry (an entry "
                                       "for the recommended kernel from the template, made the default). Repeatable."),
    add_drivers: List[str] = typer.Option([], "--add-drivers", metavar="MODULE", help="A driver the rebuilt initrd must carry (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Do the repair on a throw-away overlay and print the plan."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before writing."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Do not keep a *.vmrescue-DATE copy of a replaced initrd."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Image format, instead of detecting it."),
    allow_backing: bool = typer.Option(False, "--allow-backing", help="Accept images that refer to other host files."),
) -> None:
    """Repair the boot path where vmrescue has a safe step; everything else diagnose names with its command."""
    choose_fixes(tuple(fix))                    # a wrong name is refused before anything is opened
    info = operations.probe_all([image], fmt, allow_backing)
    if info[1]:
        raise info[1][0].error
    options = FixOptions(fixes=tuple(fix), add_drivers=tuple(add_drivers), backup=not no_backup, dry_run=dry_run)
    _confirmed(image, info[0][0], options, yes, _run_fixes, _render_fixes)


def _run_fixes(info, options: FixOptions) -> FixResult:
    status = StatusLine()

    def shown(plan) -> None:
        if options.confirmed is None:
            status.stop()
            where = "the throw-away overlay" if options.dry_run else "the image"
            out.print(f"[bold]Plan:[/bold] {escape(plan.image)}: {', '.join(plan.fixes)} (decided with the guest "
                      f"read-only; next, applied to {where})")
            for name, detail in plan.steps():
                out.print(f"  [cyan]{name:>10}[/cyan]  {escape(report.clean(detail))}")
            for note in plan.notes:
                out.print(f"[yellow]note:[/yellow] {escape(report.clean(note))}")
            if plan.entry is not None and plan.entry.diff:
                out.print(escape(plan.entry.diff), end="" if plan.entry.diff.endswith("\n") else "\n")

    try:
        with _interruptible("the appliance was stopped; a rename is atomic and a rebuilt initrd replaces the old "
                            "one only once checked."):
            return operations.repair_fixes(info, options, _options(), status, shown)
    finally:
        status.stop()


def _render_fixes(result: FixResult) -> None:
    head = "DRY RUN (nothing was written to the image)" if result.dry_run else "Repaired"
    out.print(f"[bold]{head}:[/bold] {escape(result.image)}: {', '.join(result.plan.fixes)}")
    for name, detail in result.outcome.done:
        out.print(f"  [cyan]{name:>10}[/cyan]  {escape(report.clean(detail))}")
    for path in result.outcome.backups:
        out.print(f"  backup: {escape(path)}")
    for note in result.outcome.notes:
        out.print(f"[yellow]note:[/yellow] {escape(report.clean(note))}")
    out.print(("Would be: " if result.dry_run else "Now: ") + report.verdict_markup(result.after))
    for f in report.sorted_findings(result.after.findings):
        if f.severity.value == "error":
            out.print(report.finding_markup(f))


BOOT_CHECK_EXIT_HELP = (
    "Exit status: 0 the guest reached a login prompt (with the expected kernel); 1 it did not; 2 usage error; "
    "3 the image could not be opened; 4 qemu or libguestfs is missing or failed; 130 interrupted."
)


@app.command("boot-check", epilog=BOOT_CHECK_EXIT_HELP)
def boot_check(
    image: str = typer.Argument(..., metavar="IMAGE", help="The guest's disk image. Never written: the boot runs on a throw-away overlay."),
    timeout: float = typer.Option(bootcheck.DEFAULT_TIMEOUT, "--timeout", metavar="S", help="Give the boot at most S seconds."),
    memory: int = typer.Option(bootcheck.DEFAULT_MEMORY_MB, "--memory", metavar="MB", help="Guest memory in MB."),
    keep_log: Optional[Path] = typer.Option(None, "--keep-log", metavar="FILE", help="Save the console log (escape sequences removed) to FILE."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON report (schema vmrescue.boot-check/1)."),
    expect_kernel: Optional[str] = typer.Option(None, "--expect-kernel", metavar="UNAME_R", help="Fail unless this kernel release boots."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Image format, instead of detecting it."),
    allow_backing: bool = typer.Option(False, "--allow-backing", help="Accept images that refer to other host files."),
    firmware: str = typer.Option("auto", "--firmware", metavar="auto|bios|uefi",
                                 help="Boot with SeaBIOS or OVMF; auto: the VM's .vmx, else what the disk holds."),
) -> None:
    """Boot the image in qemu through its own boot loader; report how far it gets."""
    options = bootcheck.BootOptions(
        timeout=timeout, memory_mb=memory, expect_kernel=expect_kernel, keep_log=str(keep_log) if keep_log else None,
        fmt=fmt, allow_backing=allow_backing, accel=State.accel, verbose=State.verbose,
        launch_timeout=State.launch_timeout, firmware=firmware)
    status = StatusLine()
    try:
        with _interruptible("qemu was stopped; the boot ran on a throw-away overlay, the image is unchanged."):
            check = bootcheck.boot_check(image, options, status)
    except RescueError as exc:
        if not json_output:
            raise
        status.stop()
        _fail(exc)
        out.print_json(json.dumps(bootcheck.error_document(image, exc)))
        raise typer.Exit(int(exc.exit_status))
    finally:
        status.stop()
    if json_output:
        out.print_json(json.dumps(bootcheck.to_json_document(check)))
    else:
        lines = bootcheck.render_text(check)
        out.print(f"[bold {'green' if check.result.ok else 'red'}]{escape(lines[0])}[/]")
        for line in lines[1:]:
            out.print(escape(line))
    raise typer.Exit(int(check.exit_status))


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

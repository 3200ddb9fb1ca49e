"""What each command does, between the CLI (which parses and prints) and the
pure modules (which decide). One appliance launch per command."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from rescue.diagnose import fleet, rules
from rescue.guest import hypervisor, inspect as inspection
from rescue.guest.session import max_disks as appliance_max_disks
from rescue.guest.session import Guest
from rescue.errors import Exit, RescueError
from rescue.diagnose.gather import Gatherer, with_disk_facts
from rescue.guest.image import ImageInfo, check_can_write, probe
from rescue.model import Diagnosis
from rescue.repair.fixing import FixOptions, FixResult, repair
from rescue.repair.reinstall import PlanShown, ReinstallOptions, ReinstallResult, reinstall


@dataclass(frozen=True)
class ImageResult:
    """The outcome for one image: a diagnosis, or the error that stopped it."""
    path: str
    format: str | None
    diagnosis: Diagnosis | None = None
    error: RescueError | None = None


@dataclass(frozen=True)
class ApplianceOptions:
    accel: str | None = None
    verbose: bool = False
    launch_timeout: float = 600.0


def probe_all(paths: Sequence[str], fmt: str | None, allow_backing: bool) -> tuple[list[ImageInfo], list[ImageResult]]:
    """Safe format detection for every image; failures become results, not exceptions."""
    ok, failed = [], []
    for path in paths:
        try:
            ok.append(probe(path, fmt, allow_backing))
        except RescueError as exc:
            if exc.exit_status == Exit.USAGE or exc.exit_status == Exit.ENVIRONMENT:
                raise
            failed.append(ImageResult(path=path, format=None, error=exc))
    return ok, failed


class Progress(Protocol):
    """What a long command reports while it runs (the CLI draws it)."""

    def status(self, message: str) -> None: ...

    def image_done(self, result: ImageResult) -> None: ...


def diagnose_images(infos: Sequence[ImageInfo], options: ApplianceOptions, progress: Progress,
                    jobs: int = 1, max_disks: int | None = None) -> list[ImageResult]:
    """Diagnose every image: one appliance launch per batch, `jobs` appliances at a time.

    One job and fewer images than the appliance's drive limit is one launch.
    Images of one batch are read one disk at a time with LVM limited to that
    disk, so clones whose volume groups, UUIDs and labels collide never mix.
    """
    if not infos:
        return []
    limit = max_disks or (appliance_max_disks() if len(infos) > 1 else 1)
    batches = fleet.plan_batches(len(infos), max(1, jobs), limit)
    if len(batches) == 1:
        return _diagnose_batch(list(infos), options, progress)
    results: list[list[ImageResult]] = [[] for _ in batches]
    cancelled = threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="appliance") as pool:
        futures = {pool.submit(_diagnose_batch, [infos[i] for i in batch], options, progress, cancelled): n
                   for n, batch in enumerate(batches)}
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            # Ctrl-C or a failed launch: stop the other appliances now instead of
            # letting them finish their batches.
            cancelled.set()
            for future in futures:
                future.cancel()
            hypervisor.abort_appliances()
            raise
    return [result for batch in results for result in batch]


def _diagnose_batch(infos: list[ImageInfo], options: ApplianceOptions, progress: Progress,
                    cancelled: threading.Event | None = None) -> list[ImageResult]:
    """One appliance launch for `infos`."""
    results, alone = [], []
    with Guest(infos, accel=options.accel, verbose=options.verbose, status=progress.status,
               launch_timeout=options.launch_timeout) as guest:
        for info, disk in zip(infos, guest.devices()):
            if cancelled is not None and cancelled.is_set():
                break
            progress.status(f"Inspecting {info.path}")
            if len(infos) > 1:
                guest.lvm_only(disk)
            found = inspection.inspect_disk(guest, disk)
            if len(infos) > 1 and not found.fast and _borrows_from_other_disks(guest, found):
                # libguestfs resolved this guest's fstab on another image (clones
                # sharing filesystem UUIDs or labels): read it again on its own
                progress.status(f"{info.path} shares filesystem labels or UUIDs with another image: "
                                "diagnosing it in an appliance of its own")
                alone.append(info)
                continue
            result = _diagnose_one(guest, info, found)
            progress.image_done(result)
            results.append(result)
    for info in alone:
        if cancelled is None or not cancelled.is_set():
            results.extend(_diagnose_batch([info], options, progress, cancelled))
    return results


def _borrows_from_other_disks(guest: Guest, found: inspection.DiskInspection) -> bool:
    """Whether a root's mountpoints, as libguestfs's inspection resolved them, lie on another disk."""
    devices = [device for os_info in found.roots for _, device in os_info.mountpoints]
    return bool(fleet.foreign_devices(devices, found.disk, guest.disk_of))


def _diagnose_one(guest: Guest, info: ImageInfo, found: inspection.DiskInspection) -> ImageResult:
    try:
        os_info = inspection.single_root(info.path, found, writing=False)
    except RescueError as err:                        # Windows, LUKS, several roots: nothing to diagnose
        return ImageResult(info.path, info.format, error=err)
    if os_info is None:
        facts = with_disk_facts(guest, inspection.no_root_facts(info.path, found, info.in_use), found.disk)
        return ImageResult(info.path, info.format, diagnosis=rules.diagnose(facts))
    facts = Gatherer(guest, info.path, os_info, found).gather()
    return ImageResult(info.path, info.format, diagnosis=rules.diagnose(facts))


def exit_status(results: Sequence[ImageResult]) -> Exit:
    if any(r.error for r in results):
        return Exit.IMAGE
    if any(r.diagnosis and not r.diagnosis.bootable for r in results):
        return Exit.NOT_BOOTABLE
    if any(r.diagnosis and any(f.severity.value == "error" for f in r.diagnosis.findings) for r in results):
        return Exit.NOT_BOOTABLE
    return Exit.OK


def reinstall_kernel(info: ImageInfo, repair: ReinstallOptions, options: ApplianceOptions,
                     status: Callable[[str], None], shown: PlanShown) -> ReinstallResult:
    """The whole repair in one appliance launch; a dry run writes only to a throw-away overlay.

    `shown` gets the plan once it is decided, before anything is written."""
    if not repair.dry_run:
        check_can_write(info)
    with Guest([info], write=not repair.dry_run, accel=options.accel, verbose=options.verbose,
               status=status, launch_timeout=options.launch_timeout) as guest:
        status("Inspecting " + info.path)
        return reinstall(guest, info.path, repair, status, shown)


def repair_fixes(info: ImageInfo, options: FixOptions, appliance: ApplianceOptions, status: Callable[[str], None],
                 shown: Callable) -> FixResult:
    """`vmrescue repair`: the named fixes in one appliance launch; a dry run writes only to the throw-away overlay."""
    if not options.dry_run:
        check_can_write(info)
    with Guest([info], write=not options.dry_run, accel=appliance.accel, verbose=appliance.verbose,
               status=status, launch_timeout=appliance.launch_timeout) as guest:
        status("Inspecting " + info.path)
        return repair(guest, info.path, options, status, shown)

"""The guest session: the one place that talks to libguestfs.

`Guest` owns a libguestfs handle for the duration of one command: it adds the
drives (read-only unless the caller asks for write access), launches the
appliance once (KVM, falling back to TCG where KVM is broken), inspects, mounts
and reads. Everything else in vmrescue receives a `Guest` and never imports
guestfs itself.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from rescue.errors import Exit, RescueError, first_line
from rescue.guest.files import GuestFiles
from rescue.guest.hypervisor import (
    BROKEN_KVM, DEFAULT_LAUNCH_TIMEOUT, HYPERVISORS, first_match_line, kill_children_running, resolve_accel,
)
from rescue.guest.image import ImageInfo
from rescue.model import OsInfo
# killer or a crash of qemu would.
Status = Callable[[str], None]

# Test hook for the fault-injection tests: VMRESCUE_TEST_KILL_APPLIANCE_AT=<point>
# ("launched", "mounted") SIGKILLs the appliance's qemu there, as the host's OOM
# killer or a crash of qemu would.
_KILL_APPLIANCE_AT = os.environ.get("VMRESCUE_TEST_KILL_APPLIANCE_AT")
_READY = 2          # guestfs_get_state(): the appliance is up and answering


def _import_guestfs():
    try:
        import guestfs  # noqa: PLC0415 - only this module may import it
    except ImportError:
        raise RescueError(
            "LIBGUESTFS_MISSING",
            "The libguestfs Python binding (module 'guestfs') cannot be imported.",
            "Install the distribution package: apt-get install python3-guestfs libguestfs-tools "
            "(Fedora/RHEL: dnf install python3-libguestfs), and run vmrescue from a Python that sees it "
            "(a venv needs --system-site-packages).",
            Exit.ENVIRONMENT,
        )
    return guestfs


def max_disks() -> int:
    """How many drives one appliance takes (libguestfs asks the backend; no launch)."""
    g = _import_guestfs().GuestFS(python_return_dict=True, close_on_exit=False)
    try:
        if not os.environ.get("LIBGUESTFS_BACKEND"):
            g.set_backend("direct")
        return int(g.max_disks())
    finally:
        g.close()


class Guest(GuestFiles):
    """One libguestfs appliance with one or more disk images attached."""

    def __init__(self, images: Sequence[ImageInfo], *, write: bool = False, accel: str | None = None,
                 verbose: bool = False, status: Status | None = None,
                 launch_timeout: float = DEFAULT_LAUNCH_TIMEOUT):
        self.images = list(images)
        self.write = write
        self.accel = resolve_accel(accel)
        self.verbose = verbose
        self.status = status or (lambda message: None)
        self.launch_timeout = launch_timeout
        self.used_accel: str | None = None
        self.launches = 0
        self._log: deque[str] = deque(maxlen=200)
        self._g = None
        self._gfs = _import_guestfs()

    # --- lifecycle -----------------------------------------------------------

    def __enter__(self) -> "Guest":
        self.launch()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def launch(self) -> None:
        modes = ["kvm", "tcg"] if self.accel == "auto" else [self.accel]
        for mode in modes:
            self._g = self._new_handle(mode)
            try:
                self._launch_bounded(mode)
                self.used_accel = mode
                self._checkpoint("launched")
                return
            except RuntimeError as exc:
                log = "\n".join(self._log)
                self._close_handle()
                if mode == "kvm" and self.accel == "auto" and BROKEN_KVM.search(log):
                    reason = first_match_line(log) or "qemu could not start under KVM"
                    self.status(f"KVM is not usable here ({reason}); using software emulation (TCG), "
                                "which is slower: expect 15-60 s to start.")
                    continue
                raise self._launch_error(mode, exc, log)

    def close(self) -> None:
        if self._g is not None:
            try:
                self._g.shutdown()
            except RuntimeError:
                pass   # the appliance may already be gone; closing still reaps qemu
            self._close_handle()

    def _close_handle(self) -> None:
        if self._g is not None:
            self._g.close()
            self._g = None

    def _new_handle(self, mode: str):
        gfs = self._gfs
        g = gfs.GuestFS(python_return_dict=True, close_on_exit=True)
        if self.verbose:
            g.set_verbose(True)
            g.set_trace(True)
        # direct backend: we choose the accelerator ourselves instead of libvirt
        if not os.environ.get("LIBGUESTFS_BACKEND"):
            g.set_backend("direct")
        settings = [s for s in g.get_backend_settings() if s != "force_tcg"]
        if mode == "tcg":
            settings.append("force_tcg")
        g.set_backend_settings(settings)
        HYPERVISORS.add(g.get_hv())
        self._log.clear()
        # Guest programs linked against old glibc (CentOS 5/6 rpm, mkinitrd) use the
        # legacy vsyscall page, which current appliance kernels no longer map.
        g.set_append("vsyscall=emulate")
        # qemu's default on a write error is to pause the VM when the host filesystem
        # is full, and libguestfs then waits for ever: make it an I/O error instead.
        g.config("-global", "scsi-hd.werror=report")
        g.config("-global", "scsi-hd.rerror=report")
        g.set_event_callback(self._on_event, gfs.EVENT_APPLIANCE | gfs.EVENT_LIBRARY | gfs.EVENT_WARNING)
        for image in self.images:
            g.add_drive_opts(image.path, format=image.format, readonly=not self.write)
        return g

    def _on_event(self, event, event_handle, buf, array) -> None:
        for line in buf.splitlines():
            if line.strip():
                self._log.append(line)

    def _launch_bounded(self, mode: str) -> None:
        """Launch, killing qemu if the appliance does not come up in time."""
        timed_out = threading.Event()
        hypervisor = self._g.get_hv()

        def watchdog() -> None:
            timed_out.set()
            kill_children_running(hypervisor)

        timer = threading.Timer(self.launch_timeout, watchdog)
        timer.daemon = True
        self.status(f"Starting the libguestfs appliance ({'KVM' if mode == 'kvm' else 'TCG, software emulation'})")
        timer.start()
        try:
            self.launches += 1
            self._g.launch()
        except RuntimeError:
            if timed_out.is_set():
                raise RescueError(
                    "APPLIANCE_TIMEOUT",
                    f"The libguestfs appliance did not start within {self.launch_timeout:.0f} s.",
                    "Run `libguestfs-test-tool` to see why; on a slow or nested host try --accel tcg "
                    "and a larger --launch-timeout.",
                    Exit.ENVIRONMENT,
                )
            raise
        finally:
            timer.cancel()

    def _launch_error(self, mode: str, exc: Exception, log: str) -> RescueError:
        if isinstance(exc, RescueError):
            return exc
        detail = first_match_line(log) or (log.strip().splitlines() or [""])[-1]
        if "Permission denied" in log or "permission denied" in log:
            hint = "Check that you can read and (for repairs) write the image, and that /boot/vmlinuz-* is readable."
        elif "lock" in log.lower():
            hint = "Another program (a running VM?) holds the image; shut the VM down first."
        else:
            hint = "Run `libguestfs-test-tool`, or vmrescue -v for the appliance's log."
        where = "under KVM" if mode == "kvm" else "under TCG"
        return RescueError("APPLIANCE_FAILED",
                           f"The libguestfs appliance failed to start {where}" + (f": {detail}" if detail else "."),
                           hint, Exit.ENVIRONMENT)

    @property
    def g(self):
        if self._g is None:
            raise RuntimeError("Guest used before launch() or after close()")
        return _Checked(self._g, self)

    def _appliance_died(self, call: str) -> RescueError | None:
        """The error to raise when the appliance is gone after a failed `call`; None while it lives."""
        try:
            if self._g is None or self._g.get_state() == _READY:
                return None
        except RuntimeError:
            pass
        log = "\n".join(list(self._log)[-5:])
        detail = next((line.strip() for line in reversed(log.splitlines()) if "qemu" in line.lower()), "")
        return RescueError(
            "APPLIANCE_DIED",
            "The libguestfs appliance (its qemu) stopped while vmrescue was working (at the libguestfs call "
            f"{call}): it was killed or crashed, so vmrescue could not finish" + (f" ({detail})" if detail else "") + ".",
            "Run the command again; if it fails again, check the host's memory (the kernel's OOM killer: dmesg) "
            "and run with -v for the appliance's log. A repair replaces grub.conf atomically: "
            "vmrescue diagnose shows the image's state.",
            Exit.ENVIRONMENT)

    def _checkpoint(self, point: str) -> None:
        if _KILL_APPLIANCE_AT == point and self._g is not None:
            kill_children_running(self._g.get_hv())

    # --- inspection ----------------------------------------------------------

    def devices(self) -> list[str]:
        return self.g.list_devices()

    def partitions(self) -> list[str]:
        return self.g.list_partitions()

    def inspect(self) -> list[str]:
        """Roots of the operating systems found on the attached disks."""
        return self.g.inspect_os()

    def os_info(self, root: str) -> OsInfo:
        g = self.g
        mountpoints = g.inspect_get_mountpoints(root)
        ordered = sorted(mountpoints.items(), key=lambda kv: (len(kv[0]), kv[0]))
        return OsInfo(
            root=root,
            distro=g.inspect_get_distro(root),
            product=g.inspect_get_product_name(root),
            major=g.inspect_get_major_version(root),
            minor=g.inspect_get_minor_version(root),
            arch=g.inspect_get_arch(root),
            package_format=g.inspect_get_package_format(root),
            mountpoints=tuple(ordered),
        )

    def applications(self, root: str) -> list[dict]:
        return self.g.inspect_list_applications2(root)

    @contextmanager
    def mounted(self, os_info: OsInfo, writable: bool | None = None) -> Iterator[list[str]]:
        """Mount the guest's filesystems; yields what could not be mounted.

        Read-only unless `writable` (default: whether the drives are writable).
        A dry run mounts read-write over read-only drives: the writes land in
        libguestfs's throw-away overlay, never in the image.
        """
        failed: list[str] = []
        writable = self.write if writable is None else writable
        for mountpoint, device in os_info.mountpoints:
            try:
                if writable:
                    self.g.mount(device, mountpoint)
                else:
                    self.g.mount_ro(device, mountpoint)
            except RuntimeError as exc:
                failed.append(f"{mountpoint} ({device}): {first_line(exc)}")
        self._checkpoint("mounted")
        try:
            yield failed
        finally:
            try:
                self.g.umount_all()
            except RescueError:
                pass    # the appliance is gone; the error that found it out is on its way

    def remount_writable(self, os_info: OsInfo) -> None:
        """Switch the mounted guest to read-write (the overlay takes the writes in a dry run)."""
        for mountpoint, device in os_info.mountpoints:
            self.g.mount_options("remount,rw", device, mountpoint)

    def lvm_only(self, disk: str | None) -> None:
        """Let LVM see only `disk` (None: every disk again).

        Clones of one template carry the same VG name and PV UUIDs; with all of
        them visible LVM would pick one at random. One disk at a time keeps each
        guest's volumes its own.
        """
        if disk is None:
            self.g.lvm_clear_filter()
            return
        self._deactivate_hidden_lvs()
        self.g.lvm_set_filter([disk])

    def _deactivate_hidden_lvs(self) -> None:
        """Deactivate LVs that the current filter hides but are still mapped.

        lvm_set_filter deactivates only the LVs the old filter shows. libguestfs's
        own inspection (the fallback of rescue.inspection) activates volume groups
        whatever the filter says, and a clone's LV left mapped to another disk would
        be read under the next disk's name: another image's data in this image's report.
        """
        # list_dm_devices leaves out the LVs the filter shows: what remains is mapped behind its back.
        try:
            mapped = bool(self.g.list_dm_devices())
        except RuntimeError:
            # it stats every LV LVM lists; with clones of one VG (same name, same UUIDs) one may
            # have no /dev/VG/LV node: then nothing can be told apart, so deactivate everything
            mapped = True
        if not mapped:
            return
        try:
            self.g.lvm_clear_filter()
        except RuntimeError:
            pass        # clones' duplicate PVs make its re-activation fail; the filter is cleared all the same
        self.g.vg_activate_all(False)

    def disk_of(self, device: str) -> str | None:
        """The appliance disk a partition, whole disk or LV lives on (first PV's disk for an LV)."""
        g = self.g
        if device in g.list_devices():
            return device
        if device in g.list_partitions():
            return g.part_to_dev(device)
        parts = device.split("/")
        if len(parts) == 4 and parts[1] == "dev":
            try:
                wanted = set(g.vgpvuuids(parts[2]))
            except RuntimeError:
                return None
            for pv in g.pvs():
                if g.pvuuid(pv) in wanted:
                    return self.disk_of(g.canonical_device_name(pv))
        return None

    def lvs(self) -> list[str]:
        return self.g.lvs()

    def partition_types(self, disk: str) -> tuple[str | None, list[tuple[str, str]]]:
        """The disk's label ("gpt", "msdos") and (partition, type): a GPT type GUID, or an MBR id as "ef"."""
        g = self.g
        try:
            table = g.part_get_parttype(disk)
        except RuntimeError:
            return None, []
        out = []
        for part in g.list_partitions():
            if g.part_to_dev(part) != disk:
                continue
            n = g.part_to_partnum(part)
            try:
                out.append((part, g.part_get_gpt_type(disk, n).upper() if table == "gpt"
                            else f"{g.part_get_mbr_id(disk, n):02x}"))
            except RuntimeError:
                out.append((part, ""))
        return table, out

    def vfs_label(self, device: str) -> str:
        try:
            return self.g.vfs_label(device)
        except RuntimeError:
            return ""

    def vfs_uuid(self, device: str) -> str:
        try:
            return self.g.vfs_uuid(device)
        except RuntimeError:
            return ""

    # --- probing one filesystem at a time (rescue.guest.inspect) ---------------

    def mount_ro(self, device: str, mountpoint: str) -> None:
        """Mount one filesystem read-only (a probe; callers unmount with umount_all)."""
        self.g.mount_ro(device, mountpoint)

    def umount_all(self) -> None:
        self.g.umount_all()

    def umount(self, mountpoint: str) -> None:
        self.g.umount(mountpoint)

    def blkid(self, device: str) -> dict[str, str]:
        """blkid's TYPE, LABEL, UUID ... of a device in one call; {} when it cannot tell."""
        try:
            return dict(self.g.blkid(device))
        except RuntimeError:
            return {}



class _Checked:
    """The guestfs handle, whose calls turn "the appliance is gone" into one RescueError.

    When qemu dies, every later call fails with a RuntimeError that callers
    reading a guest treat as "this file could not be read" - a report built on
    nothing. Checked here once, for every call.
    """

    def __init__(self, handle, guest: "Guest"):
        self._handle = handle
        self._guest = guest

    def __getattr__(self, name: str):
        attr = getattr(self._handle, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except RuntimeError:
                died = self._guest._appliance_died(name)
                if died is not None:
                    raise died from None
                raise
        return call

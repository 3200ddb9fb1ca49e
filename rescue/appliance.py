"""The one place that talks to libguestfs.

`Guest` owns a libguestfs handle for the duration of one command: it adds the
drives (read-only unless the caller asks for write access), launches the
appliance once (KVM, falling back to TCG where KVM is broken), inspects, mounts
and reads. Everything else in vmrescue receives a `Guest` and never imports
guestfs itself.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from rescue.errors import Exit, RescueError
from rescue.imageformat import ImageInfo
from rescue.model import OsInfo

ACCEL_CHOICES = ("auto", "kvm", "tcg")
DEFAULT_LAUNCH_TIMEOUT = 600.0   # seconds; TCG on a loaded host can take minutes, never forever

# What qemu prints when /dev/kvm exists but cannot run this guest (nested
# clouds, CPUs whose MSRs the host hypervisor refuses).
_BROKEN_KVM = re.compile(
    r"failed to set MSR|kvm_buf_set_msrs|failed to initialize kvm|Could not access KVM"
    r"|KVM_CREATE_VM|kvm run failed|KVM internal error|/dev/kvm",
    re.IGNORECASE,
)

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


def max_disks() -> int:
    """How many drives one appliance takes (libguestfs asks the backend; no launch)."""
    g = _import_guestfs().GuestFS(python_return_dict=True, close_on_exit=False)
    try:
        if not os.environ.get("LIBGUESTFS_BACKEND"):
            g.set_backend("direct")
        return int(g.max_disks())
    finally:
        g.close()


def abort_appliances() -> None:
    """Kill the qemu of every appliance this process started (Ctrl-C with several running)."""
    for hypervisor in set(_HYPERVISORS):
        _kill_children_running(hypervisor)


_HYPERVISORS: set[str] = set()   # hypervisor programs of the handles made here


class Guest:
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
        self.launch_seconds: float | None = None
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
                if mode == "kvm" and self.accel == "auto" and _BROKEN_KVM.search(log):
                    reason = _first_match_line(log) or "qemu could not start under KVM"
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
        _HYPERVISORS.add(g.get_hv())
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
            _kill_children_running(hypervisor)

        timer = threading.Timer(self.launch_timeout, watchdog)
        timer.daemon = True
        started = time.monotonic()
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
        self.launch_seconds = time.monotonic() - started

    def _launch_error(self, mode: str, exc: Exception, log: str) -> RescueError:
        if isinstance(exc, RescueError):
            return exc
        detail = _first_match_line(log) or (log.strip().splitlines() or [""])[-1]
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
            _kill_children_running(self._g.get_hv())

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
                failed.append(f"{mountpoint} ({device}): {_short(exc)}")
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

    def canonical_device(self, device: str) -> str:
        return self.g.canonical_device_name(device)

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
        if not self.g.list_dm_devices():
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

    # --- files inside the mounted guest ----------------------------------------

    def exists(self, path: str) -> bool:
        return bool(self.g.exists(path))

    def is_file(self, path: str) -> bool:
        return bool(self.g.is_file(path, followsymlinks=True))

    def is_dir(self, path: str) -> bool:
        return bool(self.g.is_dir(path, followsymlinks=True))

    def is_symlink(self, path: str) -> bool:
        return bool(self.g.is_symlink(path))

    def readlink(self, path: str) -> str:
        return self.g.readlink(path)

    def readlinks(self, directory: str, names: list[str]) -> list[str]:
        """The target of each `directory/name` that is a symlink, "" for the others (one call per 500)."""
        targets: list[str] = []
        for start in range(0, len(names), 500):
            targets.extend(self.g.readlinklist(directory, names[start:start + 500]))
        return targets

    def find_nocase(self, path: str) -> str | None:
        """The guest path matching `path` case-insensitively (NTFS, FAT), or None."""
        try:
            found = self.g.case_sensitive_path(path)
        except RuntimeError:
            return None
        return found if self.g.exists(found) else None

    def size(self, path: str) -> int:
        return self.g.filesize(path)

    def ls(self, path: str) -> list[str]:
        try:
            return self.g.ls(path)
        except RuntimeError:
            return []

    def find(self, path: str) -> list[str]:
        """Every path below `path`, relative to it; [] when it does not exist."""
        if not self.g.is_dir(path, followsymlinks=True):
            return []
        return self.g.find(path)

    def read(self, path: str, limit: int = 4 * 1024 * 1024, offset: int = 0) -> bytes:
        """At most `limit` bytes of a guest file (a hostile guest's files can be huge)."""
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            # the daemon caps one pread below 4 MiB
            chunk = self.g.pread(path, min(left, 2 * 1024 * 1024), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def read_text(self, path: str, limit: int = 4 * 1024 * 1024) -> str:
        return self.read(path, limit).decode("utf-8", errors="replace")

    # --- for boot-check (rescue.bootcheck): editing the throw-away overlay ------

    def write_atomic(self, path: str, data: bytes) -> None:
        """Replace a guest file: write a sibling temporary file with the same mode, rename it over."""
        tmp = f"{path}.vmrescue-tmp"
        mode = self.g.statns(path)["st_mode"] & 0o7777 if self.g.exists(path) else 0o644
        self.g.write(tmp, data)
        self.g.chmod(mode, tmp)
        self.g.mv(tmp, path)

    def read_device(self, device: str, size: int, offset: int = 0) -> bytes:
        """Raw bytes of an appliance device (e.g. the MBR of /dev/sda)."""
        return self.g.pread_device(device, size, offset)

    # --- changing the mounted guest (repairs, dry runs) -------------------------

    def command(self, argv: list[str]) -> str:
        """Run a guest program chrooted into the guest (its own rpm, dracut, depmod)."""
        return self.g.command(argv)

    def which(self, names: Sequence[str], dirs: Sequence[str] = ("/sbin", "/usr/sbin", "/bin", "/usr/bin")) -> str | None:
        """The first guest program found among `names` (guest path), or None."""
        for name in names:
            for d in dirs:
                path = f"{d}/{name}"
                if self.is_file(path):
                    return path
        return None

    def upload(self, host_path: str, guest_path: str) -> None:
        self.g.upload(host_path, guest_path)

    def download(self, guest_path: str, host_path: str) -> None:
        self.g.download(guest_path, host_path)

    def tar_in(self, host_tar: str, guest_dir: str) -> None:
        self.g.tar_in(host_tar, guest_dir, xattrs=False, selinux=False, acls=False)

    def write_file(self, path: str, data: bytes) -> None:
        self.g.write(path, data)

    def rename(self, old: str, new: str) -> None:
        self.g.rename(old, new)

    def copy_preserving(self, src: str, dest: str) -> None:
        self.g.cp_a(src, dest)

    def remove(self, path: str) -> None:
        self.g.rm_f(path)

    def remove_tree(self, path: str) -> None:
        self.g.rm_rf(path)

    def mkdir_p(self, path: str) -> None:
        self.g.mkdir_p(path)

    def realpath(self, path: str) -> str:
        return self.g.realpath(path)

    def glob(self, pattern: str) -> list[str]:
        return self.g.glob_expand(pattern)

    def chmod(self, mode: int, path: str) -> None:
        self.g.chmod(mode, path)

    def sync(self) -> None:
        self.g.sync()

    # --- for rescue.inspection (fast inspection without inspect_os) -------------
    # Added as one block; nothing above depends on it.

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

    # --- end of the rescue.inspection block ------------------------------------


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


def broken_kvm_reason(log: str) -> str | None:
    """The line of a qemu log that says KVM is broken here (see _BROKEN_KVM), for rescue.bootcheck."""
    return _first_match_line(log)


def _first_match_line(log: str) -> str | None:
    for line in log.splitlines():
        if _BROKEN_KVM.search(line):
            return line.strip().removeprefix("qemu-system-x86_64: ").removeprefix("error: ")
    return None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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


def _kill_children_running(program: str) -> None:
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

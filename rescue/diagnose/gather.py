"""Read every fact about one guest, once, into `GuestFacts`.

This is the only module that turns a mounted guest into data. It reads through
a `Guest` (never guestfs directly), caps every read (a hostile guest's files can
be huge), hands the bytes to the pure parsers, and records what it could not
read in `notes` instead of failing.
"""
from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import Iterable

from rescue.bootloader.base import BootLayout
from rescue.diagnose.bootmenu import read_bootloader
from rescue.diagnose.firmware import read_firmware
from rescue.diagnose.bootpath import BootPathReader
from rescue.diagnose.diskread import DiskReader
from rescue.diagnose.reader import GuestReader
from rescue.errors import first_line
from rescue.distro import family_for, yum
from rescue.guest.devices import boot_symlink_problem, partition_name
from rescue.bootloader.bls import read_bls_dir
from rescue.bootloader.grub2.script import default_grub
from rescue.guest.fstab import parse_fstab
from rescue.guest.inspect import DiskInspection
from rescue.guest.session import Guest
from rescue.kernel import bzimage, initramfs, inventory, thirdparty
from rescue.kernel.bootfiles import initrd_names
from rescue.model import (
    BootPathFacts, BootSymlink, GuestFacts, InitrdFile, ModulesDir, OsInfo, RpmPackage, ThirdPartyModule, VmlinuzFile, YumConfig,
)
from rescue.rpm import database

LOG_LIMIT = 8 * 1024 * 1024
PACKAGE_LOGS = ("/var/log/yum.log", "/var/log/dnf.rpm.log")
VMLINUZ_HEADER_BYTES = 64 * 1024        # the version string sits in the setup code
INITRD_SCAN_LIMIT = 64 * 1024 * 1024    # larger initrds are not opened (cost, not safety)
MODULE_LIMIT = 16 * 1024 * 1024
MAX_BOOT_FILES = 10_000                 # /boot entries looked at for symlinks


class Gatherer:
    """Facts about one OS root of an image attached to `guest`."""

    def __init__(self, guest: Guest, image: str, os_info: OsInfo, disk: DiskInspection):
        self.guest = guest
        self.image = image
        self.os = os_info
        self.first_disk = disk.disk
        # the disk's volumes as rescue.inspection found them: no second scan
        self.filesystems = disk.filesystems
        self.lvs = disk.lvs
        # True after inspection's fast path, where libguestfs's inspect_os
        # (which inspect_list_applications2 needs) did not run.
        self.read_rpmdb = disk.fast
        self.family = family_for(os_info)
        self.notes: list[str] = []
        self.reader = GuestReader(guest, image, self.notes)
        self.rpmdb_error: str | None = None
        self.boot_symlinks: tuple[BootSymlink, ...] = ()

    def gather(self) -> GuestFacts:
        """Mount the guest read-only, read everything, unmount."""
        with self.guest.mounted(self.os) as unmounted:
            return self.gather_mounted(unmounted)

    def gather_mounted(self, unmounted: list[str] = ()) -> GuestFacts:
        """Read everything from a guest the caller has already mounted."""
        self.notes[:] = [f"could not mount {failure}" for failure in unmounted]
        self.reader = GuestReader(self.guest, self.image, self.notes)
        self.boot_symlinks = self._boot_symlinks()
        self._bad_links = self.reader.bad_links = {link.path for link in self.boot_symlinks}
        filesystems, lvs = self.filesystems, self.lvs
        packages, rpmdb_read = self._kernel_packages()
        vmlinuz = self._vmlinuz_files()
        facts = GuestFacts(
            image=self.image,
            os=self.os,
            bootloader=read_bootloader(self.reader, BootLayout(self.first_disk, self.os.mountpoints),
                                       filesystems, lvs, self.family.bootloader_kind() if self.family else None),
            kernels=inventory.join_kernels(
                vmlinuz=vmlinuz,
                initrds=self._initrd_files(),
                modules=self._modules_dirs(),
                system_maps=self._boot_releases("System.map-"),
                configs=self._boot_releases("config-"),
                packages=packages,
                naming=self.family,
            ),
            third_party_modules=tuple(self._third_party_modules()),
            kernel_packages=tuple(packages),
            yum_events=self._yum_events(),
            yum=self._yum_config(),
            fstab=self._fstab(),
            boot_is_separate=any(mp == "/boot" for mp, _ in self.os.mountpoints),
            rpmdb_read=rpmdb_read,
            notes=(),
            volumes=tuple((partition_name(fs.device, self.first_disk), fs.fstype) for fs in filesystems),
            unmounted=tuple(failure.split(" (", 1)[0] for failure in unmounted),
            boot_symlinks=self.boot_symlinks,
            in_use=image_in_use(self.guest, self.image),
            rpmdb_error=self.rpmdb_error,
            machine_id=(self.reader.read_text("/etc/machine-id", 4096) or "").strip() or None,
            default_grub=tuple(default_grub(self.reader.read_text("/etc/default/grub") or "").items()),
            bls_entries=tuple((f.id, f.entry.linux or "") for f in read_bls_dir(self.reader)[0]),
            firmware=read_firmware(self.guest, self.reader, self.image, self.first_disk, self.os, filesystems,
                                   self._fstab(), tuple(failure.split(" (", 1)[0] for failure in unmounted)),
        )
        facts = replace(facts, bootpath=BootPathReader(self.guest, self.reader, self.first_disk, filesystems, lvs,
                                                       self.notes).read(facts))
        return _with_notes(facts, self.notes)

    # --- /boot ---------------------------------------------------------------

    def _boot_names(self) -> list[str]:
        return sorted(self.guest.ls("/boot"))

    def _boot_releases(self, prefix: str) -> list[str]:
        return [name[len(prefix):] for name in self._boot_names() if name.startswith(prefix)]

    def _boot_symlinks(self) -> tuple[BootSymlink, ...]:
        """Symlinks under /boot that GRUB cannot follow; vmrescue reads nothing through them."""
        separate = any(mp == "/boot" for mp, _ in self.os.mountpoints)
        paths = self.guest.find("/boot")
        if len(paths) > MAX_BOOT_FILES:
            self.notes.append(f"/boot holds {len(paths)} files; only the first {MAX_BOOT_FILES} were checked")
            paths = paths[:MAX_BOOT_FILES]
        by_dir: dict[str, list[str]] = {}
        for rel in paths:
            directory, name = posixpath.split(posixpath.normpath("/boot/" + rel))   # find gives "/grub/..."
            by_dir.setdefault(directory, []).append(name)
        found = []
        for directory, names in by_dir.items():
            try:
                targets = self.guest.readlinks(directory, names)
            except RuntimeError as exc:
                self.notes.append(f"could not read the symlinks in {directory}: {first_line(exc)}")
                continue
            for name, target in zip(names, targets):
                path = posixpath.join(directory, name)
                problem = boot_symlink_problem(path, target, separate) if target else None
                if problem:
                    found.append(BootSymlink(path, target, problem))
        return tuple(sorted(found, key=lambda link: link.path))

    # --- kernels ------------------------------------------------------------

    def _vmlinuz_files(self) -> list[VmlinuzFile]:
        found = []
        for name in self._boot_names():
            if not name.startswith("vmlinuz-"):
                continue
            path = f"/boot/{name}"
            if path in self._bad_links or not self.guest.is_file(path):
                continue
            header = self.reader.read_bytes(path, VMLINUZ_HEADER_BYTES) or b""
            version = bzimage.read_kernel_version(header)
            found.append(VmlinuzFile(
                path=path,
                name_release=name[len("vmlinuz-"):],
                embedded_version=version,
                embedded_release=bzimage.release_of(version) if version else None,
            ))
        return found

    def _initrd_files(self) -> list[InitrdFile]:
        found = []
        for name, release in initrd_names(self._boot_names()):
            path = f"/boot/{name}"
            if path in self._bad_links or not self.guest.is_file(path):
                continue
            size = self.guest.size(path)
            has_modules = None
            if 0 < size <= INITRD_SCAN_LIMIT:
                data = self.reader.read_bytes(path, INITRD_SCAN_LIMIT)
                if data is not None:
                    has_modules = initramfs.lists_modules_for(data, release)
            found.append(InitrdFile(path=path, name_release=release, size=size, has_modules_for=has_modules))
        return found

    def _modules_dirs(self) -> list[ModulesDir]:
        found = []
        for release in sorted(self.guest.ls("/lib/modules")):
            path = f"/lib/modules/{release}"
            if not self.guest.is_dir(path):
                continue
            found.append(ModulesDir(
                release=release,
                path=path,
                has_modules_dep=self.guest.is_file(f"{path}/modules.dep"),
                has_kernel_tree=self.guest.is_dir(f"{path}/kernel"),
                has_vmlinuz=self.guest.is_file(f"{path}/vmlinuz"),
            ))
        return found

    def _third_party_modules(self) -> Iterable[ThirdPartyModule]:
        return thirdparty.list_modules(self.guest, lambda path: self.reader.read_bytes(path, MODULE_LIMIT))

    def _kernel_packages(self) -> tuple[list[RpmPackage], bool]:
        """Kernel packages in the RPM database, and whether it could be read at all.

        Read directly (rescue.rpmdb: sqlite or Berkeley DB); libguestfs's
        inspect_list_applications2 would need inspect_os first.
        """
        if self.os.package_format != "rpm" or self.family is None:
            return [], False
        if not self.read_rpmdb:
            return self._kernel_packages_from_libguestfs()
        try:
            installed = database.read_guest_rpmdb(self.guest)
        except (database.RpmDbError, RuntimeError) as exc:
            self.rpmdb_error = first_line(exc)
            self.notes.append(f"could not read the RPM database: {self.rpmdb_error}")
            return [], False
        if installed is None:       # no sqlite or Berkeley DB database (SUSE's ndb ...): ask libguestfs
            return self._kernel_packages_from_libguestfs()
        if installed.skipped:
            self.notes.append(f"{installed.path}: {installed.skipped} damaged package record(s) were skipped")
        if not installed.packages:
            self.notes.append("the RPM database lists no packages at all: it is missing, empty or unreadable")
            return [], False
        return list(installed.kernel_packages(self.family.is_kernel_package)), True

    def _kernel_packages_from_libguestfs(self) -> tuple[list[RpmPackage], bool]:
        """Needs libguestfs's inspect_os to have run on this root (inspection's slow path)."""
        try:
            apps = self.guest.applications(self.os.root)
        except RuntimeError as exc:
            self.notes.append(f"could not read the RPM database: {first_line(exc)}")
            return [], False
        if not apps:
            # librpm in the appliance yields nothing (rather than failing) for a database it cannot open
            self.notes.append("the RPM database lists no packages at all: it is missing, empty or unreadable")
            return [], False
        return [
            RpmPackage(name=a["app2_name"], epoch=int(a["app2_epoch"] or 0), version=a["app2_version"],
                       release=a["app2_release"], arch=a["app2_arch"])
            for a in apps if self.family.is_kernel_package(a["app2_name"])
        ], True

    # --- evidence -----------------------------------------------------------

    def _yum_events(self):
        # yum (EL5-EL7) and dnf (EL8+) log each package they touch; an upgraded
        # guest may have both, yum's being the older.
        events = []
        for path in PACKAGE_LOGS:
            text = self.reader.read_text(path, LOG_LIMIT)
            if text:
                events.extend(yum.parse_yum_log(text, posixpath.basename(path)))
        return tuple(events)

    def _yum_config(self) -> YumConfig:
        repos = []
        for name in sorted(self.guest.ls("/etc/yum.repos.d")):
            if name.endswith(".repo"):
                path = f"/etc/yum.repos.d/{name}"
                text = self.reader.read_text(path)
                if text:
                    repos.extend(yum.parse_repo_file(path, text))
        plugins, excludes = yum.parse_yum_conf(self.reader.read_text("/etc/yum.conf") or "")
        priorities = False
        for conf in ("/etc/yum/pluginconf.d/priorities.conf",):
            text = self.reader.read_text(conf)
            priorities = priorities or (plugins and text is not None and yum.parse_plugin_conf(text))
        sysconfig = self.reader.read_text("/etc/sysconfig/kernel")
        return YumConfig(
            repos=tuple(repos),
            priorities_plugin_enabled=bool(priorities),
            excludes=excludes,
            default_kernel=yum.parse_sysconfig_kernel(sysconfig) if sysconfig else None,
        )

    def _fstab(self):
        text = self.reader.read_text("/etc/fstab")
        return parse_fstab(text) if text else ()


def with_disk_facts(guest: Guest, facts: GuestFacts, disk: str) -> GuestFacts:
    """A guest without a readable Linux root still has boot code and a partition table to judge."""
    notes = list(facts.notes)
    return replace(facts, bootpath=BootPathFacts(disk=DiskReader(guest, disk, notes).read()), notes=tuple(notes))


def image_in_use(guest: Guest, image: str) -> str | None:
    """Why `image` looked held by a running VM when it was probed (rescue.imageformat), if it did."""
    info = next((i for i in getattr(guest, "images", ()) if i.path == image), None)
    return getattr(info, "in_use", None)


def _with_notes(facts: GuestFacts, notes: list[str]) -> GuestFacts:
    return replace(facts, notes=tuple(notes))

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

from rescue import grubconf
from rescue.distro import yum as yumconf
from rescue.distro.redhat_naming import is_kernel_package
from rescue.kernel import bzimage, initramfs as initrd, inventory as kernels, modinfo
from rescue.kernel.bootfiles import release_from_boot_name
from rescue.rpm import database as rpmdb
from rescue.guest.session import Guest
from rescue.guest.inspect import DiskInspection
from rescue.guest.devices import (
    Filesystem,
    boot_symlink_problem,
    partition_name,
    resolve_grub_path,
    resolve_spec,
    symlink_target_path,
)
from rescue.guest.fstab import parse_fstab
from rescue.model import (
    Bootloader, BootEntry, BootSymlink, GuestFacts, InitrdFile, ModulesDir, OsInfo, RpmPackage,
    ThirdPartyModule, VmlinuzFile, YumConfig,
)

GRUB_LEGACY_CONFIGS = ("/boot/grub/grub.conf", "/boot/grub/menu.lst", "/etc/grub.conf")
GRUB2_CONFIGS = ("/boot/grub2/grub.cfg", "/boot/grub/grub.cfg")
BLS_DIR = "/boot/loader/entries"
THIRD_PARTY_DIRS = ("misc", "extra", "updates", "weak-updates")

CONFIG_LIMIT = 1024 * 1024              # no real grub.conf is near this
LOG_LIMIT = 8 * 1024 * 1024
VMLINUZ_HEADER_BYTES = 64 * 1024        # the version string sits in the setup code
INITRD_SCAN_LIMIT = 64 * 1024 * 1024    # larger initrds are not opened (cost, not safety)
MODULE_LIMIT = 16 * 1024 * 1024
MAX_ENTRIES = 100                       # entries resolved against the guest; a menu past this is junk
MAX_BOOT_FILES = 10_000                 # /boot entries looked at for symlinks
SYMLINK_HOPS = 8


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
        self.notes: list[str] = []
        self.rpmdb_error: str | None = None
        self.boot_symlinks: tuple[BootSymlink, ...] = ()
        self._bad_links: set[str] = set()

    def gather(self) -> GuestFacts:
        """Mount the guest read-only, read everything, unmount."""
        with self.guest.mounted(self.os) as unmounted:
            return self.gather_mounted(unmounted)

    def gather_mounted(self, unmounted: list[str] = ()) -> GuestFacts:
        """Read everything from a guest the caller has already mounted."""
        self.notes = [f"could not mount {failure}" for failure in unmounted]
        self.boot_symlinks = self._boot_symlinks()
        self._bad_links = {link.path for link in self.boot_symlinks}
        filesystems, lvs = self.filesystems, self.lvs
        packages, rpmdb_read = self._kernel_packages()
        vmlinuz = self._vmlinuz_files()
        facts = GuestFacts(
            image=self.image,
            os=self.os,
            bootloader=self._bootloader(filesystems, lvs),
            kernels=kernels.join_kernels(
                vmlinuz=vmlinuz,
                initrds=self._initrd_files(),
                modules=self._modules_dirs(),
                system_maps=self._boot_releases("System.map-"),
                configs=self._boot_releases("config-"),
                packages=packages,
                el_major=self.os.major,
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
        )
        return _with_notes(facts, self.notes)

    # --- small readers ------------------------------------------------------

    def _read_text(self, path: str, limit: int = CONFIG_LIMIT) -> str | None:
        """A guest text file, or None when absent/unreadable (noted)."""
        try:
            if not self.guest.is_file(path):
                return None
            data = self.guest.read(path, limit)
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {_first_line(exc)}")
            return None
        if len(data) >= limit:
            self.notes.append(f"{path} is larger than {limit // 1024} KiB; only its start was read")
        return data.decode("utf-8", errors="replace")

    def _read_bytes(self, path: str, limit: int) -> bytes | None:
        try:
            return self.guest.read(path, limit)
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {_first_line(exc)}")
            return None

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
                self.notes.append(f"could not read the symlinks in {directory}: {_first_line(exc)}")
                continue
            for name, target in zip(names, targets):
                path = posixpath.join(directory, name)
                problem = boot_symlink_problem(path, target, separate) if target else None
                if problem:
                    found.append(BootSymlink(path, target, problem))
        return tuple(sorted(found, key=lambda link: link.path))

    def _readable_config(self, path: str) -> bool:
        """Whether `path` reaches a file in /boot through symlinks GRUB can follow.

        A grub.conf that is a symlink to /etc/shadow must not be read (nor its
        lines quoted in a report); GRUB could not read it either.
        """
        current = path
        for _ in range(SYMLINK_HOPS):
            if current in self._bad_links:
                return False
            if not self.guest.is_symlink(current):
                break
            current = symlink_target_path(current, self.guest.readlink(current))
        else:
            return False
        try:
            return self.guest.realpath(path).startswith("/boot/")
        except RuntimeError:
            return False

    # --- kernels ------------------------------------------------------------

    def _vmlinuz_files(self) -> list[VmlinuzFile]:
        found = []
        for name in self._boot_names():
            if not name.startswith("vmlinuz-"):
                continue
            path = f"/boot/{name}"
            if path in self._bad_links or not self.guest.is_file(path):
                continue
            header = self._read_bytes(path, VMLINUZ_HEADER_BYTES) or b""
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
        for name in self._boot_names():
            release = release_from_boot_name(name)
            if release is None or not (name.startswith("initrd-") or name.startswith("initramfs-")):
                continue
            path = f"/boot/{name}"
            if path in self._bad_links or not self.guest.is_file(path):
                continue
            size = self.guest.size(path)
            has_modules = None
            if 0 < size <= INITRD_SCAN_LIMIT:
                data = self._read_bytes(path, INITRD_SCAN_LIMIT)
                if data is not None:
                    has_modules = initrd.lists_modules_for(data, release)
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
            ))
        return found

    def _third_party_modules(self) -> Iterable[ThirdPartyModule]:
        for release in sorted(self.guest.ls("/lib/modules")):
            for sub in THIRD_PARTY_DIRS:
                top = f"/lib/modules/{release}/{sub}"
                for rel in self.guest.find(top):
                    if not rel.endswith(".ko"):
                        continue
                    path = f"{top}/{rel}"
                    if not self.guest.is_file(path):   # dangling weak-updates symlink
                        continue
                    data = self._read_bytes(path, MODULE_LIMIT) or b""
                    info = modinfo.read_modinfo(data)
                    yield ThirdPartyModule(
                        path=path,
                        name=(info.get("name") or [posixpath.basename(rel)[:-3]])[0],
                        vermagic_release=modinfo.vermagic_release(info),
                        installed_under=f"/lib/modules/{release}",
                    )

    def _kernel_packages(self) -> tuple[list[RpmPackage], bool]:
        """Kernel packages in the RPM database, and whether it could be read at all.

        Read directly (rescue.rpmdb: sqlite or Berkeley DB); libguestfs's
        inspect_list_applications2 would need inspect_os first.
        """
        if self.os.package_format != "rpm":
            return [], False
        if not self.read_rpmdb:
            return self._kernel_packages_from_libguestfs()
        try:
            installed = rpmdb.read_guest_rpmdb(self.guest)
        except (rpmdb.RpmDbError, RuntimeError) as exc:
            self.rpmdb_error = _first_line(exc)
            self.notes.append(f"could not read the RPM database: {self.rpmdb_error}")
            return [], False
        if installed is None:       # no sqlite or Berkeley DB database (SUSE's ndb ...): ask libguestfs
            return self._kernel_packages_from_libguestfs()
        if installed.skipped:
            self.notes.append(f"{installed.path}: {installed.skipped} damaged package record(s) were skipped")
        if not installed.packages:
            self.notes.append("the RPM database lists no packages at all: it is missing, empty or unreadable")
            return [], False
        return list(installed.kernel_packages()), True

    def _kernel_packages_from_libguestfs(self) -> tuple[list[RpmPackage], bool]:
        """Needs libguestfs's inspect_os to have run on this root (inspection's slow path)."""
        try:
            apps = self.guest.applications(self.os.root)
        except RuntimeError as exc:
            self.notes.append(f"could not read the RPM database: {_first_line(exc)}")
            return [], False
        if not apps:
            # librpm in the appliance yields nothing (rather than failing) for a database it cannot open
            self.notes.append("the RPM database lists no packages at all: it is missing, empty or unreadable")
            return [], False
        return [
            RpmPackage(name=a["app2_name"], epoch=int(a["app2_epoch"] or 0), version=a["app2_version"],
                       release=a["app2_release"], arch=a["app2_arch"])
            for a in apps if is_kernel_package(a["app2_name"])
        ], True

    # --- bootloader ---------------------------------------------------------

    def _config_bytes(self, path: str) -> bytes | None:
        """A boot loader configuration file's bytes, None when absent or behind a symlink out of /boot."""
        try:
            if not self.guest.is_file(path) or not self._readable_config(path):
                return None
        except RuntimeError as exc:
            self.notes.append(f"could not read {path}: {_first_line(exc)}")
            return None
        return self._read_bytes(path, CONFIG_LIMIT)

    def _config(self, path: str, data: bytes, parsed: Bootloader) -> Bootloader:
        size = self.guest.size(path)
        if size > CONFIG_LIMIT:
            self.notes.append(f"{path} is {size} bytes; only its first {CONFIG_LIMIT // 1024} KiB were read")
        return replace(parsed, size=size, damaged=grubconf.not_a_config(data))

    def _bootloader(self, filesystems: list[Filesystem], lvs: list[str]) -> Bootloader:
        for path in GRUB_LEGACY_CONFIGS:
            data = self._config_bytes(path)
            if data is not None:
                text = data.decode("utf-8", errors="replace")
                return self._config(path, data, self._grub_legacy(path, text, filesystems, lvs))
        for path in GRUB2_CONFIGS:
            data = self._config_bytes(path)
            if data is not None:
                text = data.decode("utf-8", errors="replace")
                return self._config(path, data, self._grub2(path, text, filesystems, lvs))
        if self.guest.ls(BLS_DIR):
            return self._bls(filesystems, lvs)
        return Bootloader(kind=None, config=None, default=None)

    def _entry(self, index: int, title: str, kind: str, grub_root: str | None, kernel: str | None,
               args: str, initrd_path: str | None, filesystems, lvs, *, by_grub_root: bool) -> BootEntry:
        if by_grub_root:
            guest_kernel = resolve_grub_path(kernel, grub_root, self.first_disk, self.os.mountpoints) if kernel else None
            guest_initrd = resolve_grub_path(initrd_path, grub_root, self.first_disk, self.os.mountpoints) if initrd_path else None
        else:
            # GRUB2 and BLS paths are relative to the filesystem holding /boot
            boot_mp = "/boot" if any(mp == "/boot" for mp, _ in self.os.mountpoints) else "/"
            guest_kernel = _on_boot(kernel, boot_mp)
            guest_initrd = _on_boot(initrd_path, boot_mp)
        root_device = grubconf.kernel_arg(args, "root")
        return BootEntry(
            index=index, title=title, kind=kind, grub_root=grub_root, kernel=kernel, kernel_args=args,
            initrd=initrd_path, guest_kernel=guest_kernel, guest_initrd=guest_initrd,
            kernel_exists=self._loadable(guest_kernel),
            initrd_exists=self._loadable(guest_initrd),
            root_device=root_device,
            root_resolved=resolve_spec(root_device, filesystems, lvs, self.first_disk) if root_device else None,
        )

    def _loadable(self, guest_path: str | None) -> bool:
        """A file GRUB can load: present, and not behind a symlink it cannot follow."""
        return bool(guest_path) and guest_path not in self._bad_links and self.guest.is_file(guest_path)

    def _grub_legacy(self, path: str, text: str, filesystems, lvs) -> Bootloader:
        config = grubconf.parse_grub_legacy(text)
        entries = []
        for e in config.entries[:MAX_ENTRIES]:
            kind = e.kind
            if kind == "chainloader" or kind == "other":
                entries.append(BootEntry(index=e.index, title=e.title, kind=kind, grub_root=e.root,
                                         kernel=e.kernel, kernel_args=e.kernel_args, initrd=e.initrd))
                continue
            entries.append(self._entry(e.index, e.title, kind, e.root, e.linux_kernel, e.linux_args or "",
                                       e.linux_initrd, filesystems, lvs, by_grub_root=True))
        return Bootloader(kind="grub-legacy", config=path, default=config.default, fallback=config.fallback,
                          entries=tuple(entries), parse_errors=tuple(config.errors),
                          entries_total=_total_if_capped(len(config.entries)))

    def _grub2(self, path: str, text: str, filesystems, lvs) -> Bootloader:
        config = grubconf.parse_grub2_cfg(text)
        entries = tuple(
            self._entry(e.index, e.title, "linux", None, e.kernel, e.kernel_args or "", e.initrd,
                        filesystems, lvs, by_grub_root=False)
            for e in config.entries[:MAX_ENTRIES]
        )
        default = _grub2_default(config.default, entries)
        return Bootloader(kind="grub2", config=path, default=default, entries=entries,
                          entries_total=_total_if_capped(len(config.entries)))

    def _bls(self, filesystems, lvs) -> Bootloader:
        entries = []
        for index, name in enumerate(sorted(self.guest.ls(BLS_DIR), reverse=True)):
            text = self._read_text(f"{BLS_DIR}/{name}")
            if not name.endswith(".conf") or text is None:
                continue
            e = grubconf.parse_bls_entry(text)
            entries.append(self._entry(len(entries), e.title or name, "linux", None, e.linux, e.options or "",
                                       e.initrd, filesystems, lvs, by_grub_root=False))
        return Bootloader(kind="bls", config=BLS_DIR, default=0 if entries else None, entries=tuple(entries))

    # --- evidence -----------------------------------------------------------

    def _yum_events(self):
        text = self._read_text("/var/log/yum.log", LOG_LIMIT)
        return yumconf.parse_yum_log(text) if text else ()

    def _yum_config(self) -> YumConfig:
        repos = []
        for name in sorted(self.guest.ls("/etc/yum.repos.d")):
            if name.endswith(".repo"):
                path = f"/etc/yum.repos.d/{name}"
                text = self._read_text(path)
                if text:
                    repos.extend(yumconf.parse_repo_file(path, text))
        plugins, excludes = yumconf.parse_yum_conf(self._read_text("/etc/yum.conf") or "")
        priorities = False
        for conf in ("/etc/yum/pluginconf.d/priorities.conf",):
            text = self._read_text(conf)
            priorities = priorities or (plugins and text is not None and yumconf.parse_plugin_conf(text))
        sysconfig = self._read_text("/etc/sysconfig/kernel")
        return YumConfig(
            repos=tuple(repos),
            priorities_plugin_enabled=bool(priorities),
            excludes=excludes,
            default_kernel=yumconf.parse_sysconfig_kernel(sysconfig) if sysconfig else None,
        )

    def _fstab(self):
        text = self._read_text("/etc/fstab")
        return parse_fstab(text) if text else ()


def _on_boot(path: str | None, boot_mountpoint: str) -> str | None:
    if not path:
        return None
    if boot_mountpoint == "/boot" and not path.startswith("/boot/"):
        return "/boot" + (path if path.startswith("/") else "/" + path)
    return path if path.startswith("/") else "/" + path


def _grub2_default(default: str | None, entries: tuple[BootEntry, ...]) -> int | None:
    if default is None or default == "":
        return 0 if entries else None
    if default.isdigit():
        return int(default)
    for e in entries:
        if e.title == default:
            return e.index
    return 0 if entries else None


def _total_if_capped(total: int) -> int | None:
    return total if total > MAX_ENTRIES else None


def image_in_use(guest: Guest, image: str) -> str | None:
    """Why `image` looked held by a running VM when it was probed (rescue.imageformat), if it did."""
    info = next((i for i in getattr(guest, "images", ()) if i.path == image), None)
    return getattr(info, "in_use", None)


def _with_notes(facts: GuestFacts, notes: list[str]) -> GuestFacts:
    return replace(facts, notes=tuple(notes))


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__

"""The boot path past the kernel's files, read once into `BootPathFacts`: disk, initrd, init, config.

Called by `gather.Gatherer` with the guest mounted read-only and the facts
gathered so far (the menu, fstab, kernels). Every read is capped and goes
through the session or the `GuestReader`; the pure readers decide what the
bytes are. What could not be read becomes a note, never a failure.
"""
from __future__ import annotations

import os
import posixpath
import stat

from rescue import bootloader
from rescue.diagnose.diskread import DiskReader
from rescue.diagnose.reader import GuestReader
from rescue.diagnose.rules.facts import default_entry, kernel_of_entry
from rescue.errors import first_line
from rescue.guest import bootcode, controllers, executables, selinux
from rescue.guest.devices import Filesystem, resolve_spec, symlink_target_path
from rescue.guest.fstab import parse_fstab_entries
from rescue.guest.session import Guest
from rescue.kernel import initrd_image
from rescue.kernel.inventory import booted_release
from rescue.model import (
    BootPathFacts, EntryLines, FstabLine, GuestFacts, InitrdFacts, Program, SelinuxFacts,
)
from rescue.run import ToolError, pipe

INITRD_LIMIT = 256 * 1024 * 1024
TEXT_LIMIT = 256 * 1024
HOPS = 8
CONFIG_SUFFIXES = (".old", ".rpmsave", ".rpmnew", ".bak", ".orig", ".save", "~")
INITRD_FILES = ("etc/lvm/lvm.conf", "etc/lvm/devices/system.devices")
HOST_DECOMPRESSORS = {"zstd": ["zstd", "-dcq"], "lz4": ["lz4", "-dcq"], "lzo": ["lzop", "-dcq"]}
FS_DRIVERS = {"ext2": ("ext2", "ext4"), "ext3": ("ext3", "ext4"), "ext4": ("ext4",), "xfs": ("xfs",),
              "btrfs": ("btrfs",)}


def host_decompress(fmt: str, data: bytes) -> tuple[bytes, bool] | None:
    """zstd/lz4/lzo with the host's own program (Python has none); None when it is not installed."""
    try:
        out, status = pipe(HOST_DECOMPRESSORS[fmt], data, timeout=120, limit=initrd_image.MAX_OUTPUT)
    except ToolError:
        return None
    return out, status == 0


class BootPathReader:
    def __init__(self, guest: Guest, reader: GuestReader, disk: str, filesystems: list[Filesystem],
                 lvs: list[str], notes: list[str]):
        self.guest = guest
        self.reader = reader
        self.disk = disk
        self.filesystems = filesystems
        self.lvs = lvs
        self.notes = notes
        self._controller_found: tuple | None = None
        self._controller_read = False

    def read(self, facts: GuestFacts) -> BootPathFacts:
        entry = default_entry(facts)
        kernel = kernel_of_entry(facts, entry) if entry else None
        release = booted_release(kernel) if kernel else None
        args = entry.kernel_args if entry else ""
        modules, builtin = self._kernel_modules(release)
        return BootPathFacts(
            disk=DiskReader(self.guest, self.disk, self.notes).read(),
            stage2=self._stage2(),
            leftovers=self._leftovers(),
            dangling=self._dangling(),
            boot_files=tuple(self._boot_files()),
            entry_lines=self._entry_lines(facts),
            specs=self._specs(facts, args),
            lvs=tuple(self.lvs),
            programs=self._programs(args),
            initrd=self._initrd(facts, release, modules, builtin) if entry and entry.initrd_exists else None,
            selinux=self._selinux(),
            fstab=self._fstab(),
            lvm_conf=self.reader.read_text("/etc/lvm/lvm.conf", TEXT_LIMIT),
            devices_file=self.reader.read_text("/etc/lvm/devices/system.devices", TEXT_LIMIT),
            devices_file_default=facts.os is not None and facts.os.package_format == "rpm" and facts.os.major >= 9,
            boot_space=self._boot_space(),
            kernel_bytes=self._kernel_bytes(facts),
            controller=self._controller(facts.image),
            kernel_modules=tuple(sorted(modules)), builtin=tuple(sorted(builtin)),
            default_args=args,
        )

    # --- the boot loader's files --------------------------------------------------

    def _stage2(self) -> tuple[str, str] | None:
        path = "/boot/grub/stage2"
        if not self.guest.is_file(path):
            return None
        data = self.reader.read_bytes(path, 2 * bootcode.SECTOR) or b""
        problem = bootcode.legacy_stage2_problem(data, self.guest.size(path))
        return (path, problem) if problem else None

    def _config_paths(self) -> list[str]:
        return [p for kind in bootloader.KINDS for p in kind.config_paths if p.startswith("/boot/")]

    def _leftovers(self) -> tuple[str, ...]:
        found = []
        for path in dict.fromkeys(self._config_paths()):
            directory, name = posixpath.split(path)
            for other in sorted(self.guest.ls(directory)):
                rest = other[len(name):]
                if other.startswith(name) and (rest in CONFIG_SUFFIXES or rest.startswith(".vmrescue-")) \
                        and self.reader.loadable(f"{directory}/{other}"):
                    found.append(f"{directory}/{other}")
        return tuple(found)

    def _dangling(self) -> tuple[tuple[str, str], ...]:
        found = []
        for path in dict.fromkeys([*self._config_paths(), "/etc/grub.conf", "/etc/grub2.cfg"]):
            if self.guest.is_symlink(path) and not self.guest.exists(path):
                found.append((path, self.guest.readlink(path)))
        return tuple(found)

    def _boot_files(self) -> list[str]:
        names = [f"/boot/{n}" for n in self.guest.ls("/boot")]
        return sorted(n for n in names if not self.guest.is_dir(n))

    def _entry_lines(self, facts: GuestFacts) -> tuple[EntryLines, ...]:
        """Each entry's kernel and initrd lines, found in the text of the file it comes from."""
        found, stanza_of = [], {}
        config = facts.bootloader.config
        for e in facts.bootloader.entries:
            path = e.source or config
            nth = 0
            if path and not e.source:
                nth = stanza_of.get(path, 0)
                stanza_of[path] = nth + 1
            if not path or not e.kernel:
                continue
            text = self.reader.text(path) if path.startswith("/boot/") else None
            if text is None:
                continue
            lines = text.splitlines()
            starts = [i for i, line in enumerate(lines) if line.lstrip().startswith(("title ", "title\t", "menuentry "))]
            lo = starts[nth] if nth < len(starts) else 0
            hi = starts[nth + 1] if nth + 1 < len(starts) else len(lines)
            k = i = None
            for n in range(lo, hi):
                word = lines[n].split()[0] if lines[n].split() else ""
                if word in ("kernel", "linux", "linux16", "linuxefi") and e.kernel in lines[n] and k is None:
                    k = n
                elif word in ("initrd", "initrd16", "initrdefi") and i is None:
                    i = n
            found.append(EntryLines(e.index, path, k + 1 if k is not None else None,
                                    lines[k].strip() if k is not None else "",
                                    i + 1 if i is not None else None, lines[i].strip() if i is not None else ""))
        return tuple(found)

    # --- devices --------------------------------------------------------------------

    def _specs(self, facts: GuestFacts, args: str) -> tuple[tuple[str, str], ...]:
        wanted = [spec for spec, _, _ in facts.fstab]
        for word in args.split():
            if word.startswith(("root=", "resume=")):
                wanted.append(word.split("=", 1)[1])
        out = []
        for spec in dict.fromkeys(wanted):
            device = resolve_spec(spec, self.filesystems, self.lvs, self.disk)
            if device is not None:
                out.append((spec, next((fs.fstype for fs in self.filesystems if fs.device == device), "")))
        return tuple(out)

    def _fstab(self) -> tuple[FstabLine, ...]:
        text = self.reader.read_text("/etc/fstab") or ""
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            entries = parse_fstab_entries(line)
            if not entries:
                continue
            e = entries[0]
            fields = line.split("#", 1)[0].split()
            passno = int(fields[5]) if len(fields) > 5 and fields[5].isdigit() else 0
            found = resolve_spec(e.spec, self.filesystems, self.lvs, self.disk) is not None
            rows.append(FstabLine(number, e.spec, e.mountpoint, e.fstype, e.options, passno, found))
        return tuple(rows)

    # --- programs ----------------------------------------------------------------------

    def _programs(self, args: str) -> tuple[Program, ...]:
        init = next((w.split("=", 1)[1] for w in reversed(args.split()) if w.startswith("init=")), None)
        out = []
        if init:
            out.append(self._program(init, "init="))
        out.append(self._program("/sbin/init", "init"))
        out.append(self._program("/bin/sh", "shell"))
        return tuple(out)

    def _follow(self, path: str) -> tuple[str | None, int | None]:
        """The path a chain of links leads to and its mode; (None, None) for a loop."""
        current = path
        for _ in range(HOPS):
            mode = self.guest.lstat_mode(current)
            if mode is None or not stat.S_ISLNK(mode):
                return current, mode
            current = symlink_target_path(current, self.guest.readlink(current))
        return None, None

    def _program(self, path: str, role: str, interpreter_of: bool = True) -> Program:
        if not path.startswith("/"):
            return Program(path, role, "missing")
        try:
            final, mode = self._follow(path)
        except RuntimeError as exc:
            self.notes.append(f"could not look at {path}: {first_line(exc)}")
            return Program(path, role, "ok")
        if final is None:
            return Program(path, role, "dangling", None)
        if mode is None:
            return Program(path, role, "dangling" if final != path else "missing", final if final != path else None)
        resolved = final if final != path else None
        if not stat.S_ISREG(mode) or not mode & 0o111:
            return Program(path, role, "not-executable", resolved)
        head = self.reader.read_bytes(final, executables.HEAD_BYTES) or b""
        if not head:
            return Program(path, role, "empty", resolved)
        kind = executables.program_kind(head)
        if kind.interpreter and interpreter_of:
            # the interpreter's own state: a missing loader fails the exec with ENOENT as a missing init would
            inner = self._program(kind.interpreter, role, interpreter_of=False)
            if inner.state != "ok":
                return Program(path, role, "interpreter-missing", resolved, kind.interpreter)
        return Program(path, role, "ok", resolved, kind.interpreter)

    # --- the initrd ---------------------------------------------------------------------

    def _kernel_modules(self, release: str | None) -> tuple[set[str], set[str]]:
        if not release:
            return set(), set()
        base = f"/lib/modules/{release}"
        names, builtin = set(), set()
        dep = self.reader.read_text(f"{base}/modules.dep", 8 * 1024 * 1024) or ""
        for line in dep.splitlines():
            name = initrd_image.module_name(line.split(":", 1)[0])
            if name:
                names.add(name)
        for line in (self.reader.read_text(f"{base}/modules.builtin", 1024 * 1024) or "").splitlines():
            name = initrd_image.module_name(line.strip())
            if name:
                builtin.add(name)
        return names, builtin

    def _initrd(self, facts: GuestFacts, release: str | None, modules: set[str], builtin: set[str]) -> InitrdFacts | None:
        entry = default_entry(facts)
        path = entry.guest_initrd
        size = self.guest.size(path)
        if size > INITRD_LIMIT:
            self.notes.append(f"{path} is {size} bytes; vmrescue does not unpack initrds over {INITRD_LIMIT >> 20} MiB")
            return None
        data = self.reader.read_bytes(path, INITRD_LIMIT)
        if data is None:
            return None
        u = initrd_image.unpack(data, INITRD_FILES, host_decompress)
        init = u.resolve("init")
        link = u.members.get("init")
        init_state = ("ok" if init is not None and init.executable else
                      "dangling" if link is not None and link.is_link else
                      "missing" if init is None else "not-executable")
        have = initrd_image.modules(u)
        missing, tools = [], []
        if u.problem is None and u.unchecked is None and release:
            for driver, why in self._root_drivers(facts):
                names = [driver] if isinstance(driver, str) else list(driver)
                norm = [n.replace("-", "_") for n in names]
                if any(n in have or n in builtin for n in norm):
                    continue
                if any(n in modules for n in norm) or not modules:
                    missing.append((names[0], why))
                elif why.startswith("the VM's disk controller"):
                    missing.append((names[0], why + f"; kernel {release} has no such module either"))
            if _on_lvm(facts) and not initrd_image.has_program(u, ("lvm",)):
                tools.append(("lvm", f"the root filesystem is on LVM ({facts.os.root})"))
        return InitrdFacts(path=path, release=release or "", size=size, formats=tuple(u.formats), problem=u.problem,
                           unchecked=u.unchecked, init=init_state,
                           module_releases=tuple(sorted(initrd_image.module_releases(u))), missing=tuple(missing),
                           missing_tools=tuple(tools), lvm_conf=_text(u.files.get(INITRD_FILES[0])),
                           devices_file=_text(u.files.get(INITRD_FILES[1])))

    def _root_drivers(self, facts: GuestFacts):
        """(driver or alternatives, why) the initrd needs to mount the root."""
        root = dict(facts.os.mountpoints).get("/") if facts.os else None
        fstype = next((fs.fstype for fs in self.filesystems if fs.device == root), "")
        if fstype in FS_DRIVERS:
            yield FS_DRIVERS[fstype], f"the root filesystem is {fstype}"
        if _on_lvm(facts):
            yield "dm_mod", f"the root filesystem is on LVM ({facts.os.root})"
        controller = self._controller(facts.image)
        if controller is not None:
            yield controller[0], f"the VM's disk controller ({controller[3]} in {controller[1]})"

    # --- configuration --------------------------------------------------------------------

    def _selinux(self) -> SelinuxFacts | None:
        text = self.reader.read_text("/etc/selinux/config", TEXT_LIMIT)
        if text is None:
            return None
        config = selinux.parse_selinux_config(text)
        directory = f"/etc/selinux/{config.policy_type}/policy"
        policies = []
        if "/" not in config.policy_type and config.policy_type not in ("", ".", ".."):
            for name in sorted(self.guest.ls(directory)):
                path = f"{directory}/{name}"
                if name.startswith("policy.") and self.guest.is_file(path) and \
                        selinux.is_policy(self.reader.read_bytes(path, 64) or b""):
                    policies.append(path)
        return SelinuxFacts(config.mode, config.mode_value, config.mode_line, config.policy_type, config.type_line,
                            tuple(policies), self.guest.exists("/.autorelabel"))

    def _boot_space(self) -> tuple[int, int, int, int] | None:
        try:
            st = self.guest.statvfs("/boot")
        except RuntimeError as exc:
            self.notes.append(f"could not read /boot's free space: {first_line(exc)}")
            return None
        frsize = st.get("frsize") or st.get("bsize") or 0
        return st["bavail"] * frsize, st["ffree"], st["blocks"] * frsize, st["files"]

    def _kernel_bytes(self, facts: GuestFacts) -> int:
        """What the largest installed kernel takes in /boot: the room the next one needs."""
        largest = 0
        for k in facts.kernels:
            total = sum(self.guest.size(p) for p in (
                k.vmlinuz.path if k.vmlinuz else None, k.initrd.path if k.initrd else None,
                f"/boot/System.map-{k.uname_r}", f"/boot/config-{k.uname_r}") if p and self.guest.is_file(p))
            largest = max(largest, total)
        return largest

    def _controller(self, image: str) -> tuple[str, str, int | None, str] | None:
        if not self._controller_read:
            self._controller_found, self._controller_read = self._read_controller(image), True
        return self._controller_found

    def _read_controller(self, image: str) -> tuple[str, str, int | None, str] | None:
        vmx = _vmx_beside(image)
        if vmx is not None:
            try:
                with open(vmx, encoding="utf-8", errors="replace") as f:
                    found = controllers.vmx_controller(controllers.parse_vmx(f.read(TEXT_LIMIT)), image, vmx)
            except OSError as exc:
                self.notes.append(f"could not read {vmx}: {exc.strerror}")
                found = None
            if found is not None:
                return found.driver, found.source, found.line, found.said
        files = {}
        for path in ["/etc/modprobe.conf", *[f"/etc/modprobe.d/{n}" for n in sorted(self.guest.ls("/etc/modprobe.d"))],
                     "/etc/dracut.conf", *[f"/etc/dracut.conf.d/{n}" for n in sorted(self.guest.ls("/etc/dracut.conf.d"))]]:
            text = self.reader.read_text(path, TEXT_LIMIT) if path.endswith((".conf", "modprobe.conf")) else None
            if text:
                files[path] = text
        found = controllers.guest_controllers(files)
        return (found[0].driver, found[0].source, found[0].line, found[0].said) if found else None


def _vmx_beside(image: str) -> str | None:
    """The VMware configuration of the VM whose disk `image` is: <name>.vmx, or a .vmx beside it naming it."""
    directory = os.path.dirname(os.path.abspath(image))
    base = os.path.basename(image)
    named = os.path.join(directory, os.path.splitext(base)[0] + ".vmx")
    if os.path.isfile(named):
        return named
    try:
        others = sorted(n for n in os.listdir(directory) if n.endswith(".vmx"))[:20]
    except OSError:
        return None
    for name in others:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
                if f'"{base}"' in f.read(TEXT_LIMIT):
                    return os.path.join(directory, name)
        except OSError:
            continue
    return None


def _on_lvm(facts: GuestFacts) -> bool:
    root = facts.os.root if facts.os else ""
    return root.count("/") == 3 and not root.startswith("/dev/md")


def _text(data: bytes | None) -> str | None:
    return data.decode("utf-8", "replace") if data is not None else None

"""The interface every boot loader kind implements, and the plain data it works with.

A kind (GRUB legacy, GRUB 2, Boot Loader Spec entries) answers the same
questions, as virt-v2v's bootloader classes do:

* where its configuration is (`find`), and what it boots: its menu entries and
  the entry it boots unattended (`menu`), with each path the entry names turned
  into the guest path the boot loader really reads (`guest_path`);
* how to boot a reinstalled kernel: `plan_kernel` returns the change (files
  to write, or a guest command to run) before anything is written;
* which of its files boot-check rewrites on the throw-away overlay, and how
  (`console_edits`), so that it and the kernel talk on the serial port.

Kinds reach the guest only through `ConfigFiles`, a read-only view that the
caller implements with its own safety rules (caps, symlinks out of /boot);
their decisions are pure functions of what they read.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Protocol

from rescue.guest.devices import Filesystem
from rescue.model import GrubEnv


# --- what a kind reads and returns ----------------------------------------------

class ConfigFiles(Protocol):
    """The guest's files as a boot loader kind may read them (read-only)."""

    image: str                          # the disk image, for messages

    def text(self, path: str) -> str | None:
        """A configuration file's text; None when absent, unreadable or not followable."""

    def data(self, path: str) -> bytes | None:
        """A configuration file's bytes (grubenv); None as for `text`."""

    def names(self, directory: str) -> list[str]:
        """The names in a directory ([] when there is none)."""

    def is_file(self, path: str) -> bool:
        """Whether a file is there (following symlinks inside the guest)."""

    def real_path(self, path: str) -> str:
        """Where a (possibly linked) file really is inside the guest; `path` when it is no link."""

    def size(self, path: str) -> int | None:
        """A file's size in bytes, None when it is not a file."""


@dataclass(frozen=True)
class MenuEntry:
    """One entry of a boot menu, as the configuration writes it."""
    index: int
    title: str
    kind: str                          # "linux", "xen", "chainloader", "other"
    kernel: str | None                 # the Linux kernel as written (Xen: the dom0 kernel module)
    kernel_args: str = ""
    initrd: str | None = None
    grub_root: str | None = None       # GRUB legacy: the device the entry's paths are read from
    id: str | None = None              # GRUB 2's --id; a BLS entry's file name without .conf
    source: str | None = None          # the file it comes from, when not the configuration (a BLS entry)
    unset: tuple[str, ...] = ()        # $variables of its command line that expanded to nothing
    machine_id: str | None = None      # a BLS entry's machine-id prefix
    path: str | None = None            # how GRUB 2's `default` counts it: "2", "1>0" in a submenu


@dataclass(frozen=True)
class Menu:
    entries: tuple[MenuEntry, ...] = ()
    default: int | None = None         # the entry booted unattended, as configured (may be past the end)
    fallback: int | None = None
    errors: tuple[str, ...] = ()       # what the boot loader would trip over, one sentence each
    default_setting: str | None = None     # `set default=` as written ("${saved_entry}", "0", a title)
    default_request: str | None = None     # what names the default ("${saved_entry}" resolved), when it is a name
    default_source: str | None = None      # where it comes from: "saved_entry", "next_entry", the configuration
    default_found: bool = True         # False: the request names no entry, and GRUB boots entry 0
    env: GrubEnv | None = None         # the grubenv the configuration loads
    dropped: tuple[str, ...] = ()      # entries the boot loader leaves out of its menu (BLS ids that tie)
    file_problems: tuple[tuple[str, str], ...] = ()    # (file of an entry, what the boot loader trips over)

    def entry_at(self, index: int | None) -> MenuEntry | None:
        return next((e for e in self.entries if e.index == index), None)

    def booted(self) -> MenuEntry | None:
        """The entry booted without a key press: the default, else the first."""
        return self.entry_at(self.default) or (self.entries[0] if self.entries else None)


@dataclass(frozen=True)
class BootLayout:
    """Where a guest's boot files live: what a kind needs to name them."""
    first_disk: str                                 # the appliance's device of the guest's first disk
    mountpoints: tuple[tuple[str, str], ...]        # (mountpoint, appliance device), "/" first
    filesystems: tuple[Filesystem, ...] = ()        # the disk's filesystems (type, label, UUID)

    def filesystem(self, mountpoint: str) -> Filesystem | None:
        """The filesystem mounted at `mountpoint` ("/boot" falls back to "/")."""
        device = dict(self.mountpoints).get(mountpoint) or (dict(self.mountpoints).get("/")
                                                            if mountpoint == "/boot" else None)
        return next((fs for fs in self.filesystems if fs.device == device), None)

    @property
    def boot_is_separate(self) -> bool:
        return any(mountpoint == "/boot" for mountpoint, _ in self.mountpoints)


# --- a change to boot a reinstalled kernel -------------------------------------

@dataclass(frozen=True)
class KernelEntryRequest:
    """The entry to add and make the default: what the repair asks of a kind."""
    uname_r: str
    initrd_name: str                   # file name in /boot, as the distribution names it
    distro_title: str                  # "CentOS", "Red Hat Enterprise Linux" ...
    release_major: int                 # the guest's release (GRUB legacy only exists up to EL6)
    root_spec: str | None              # how the guest names its root (fstab), for a fresh entry
    written_by: str                    # "vmrescue 0.1.0 reinstall-kernel, <date>"
    backup_stamp: str | None           # suffix of the backups this repair makes; None: no backups


@dataclass(frozen=True)
class FileWrite:
    path: str
    old: str | None                    # None: the file does not exist yet
    new: str


@dataclass(frozen=True)
class BootLoaderPlan:
    """What a kind will change, decided before anything is written."""
    step: str                          # its name in the repair plan ("grub.conf", "grub2"); "" when nothing is done
    detail: str                        # one line for the plan
    writes: tuple[FileWrite, ...] = ()
    moves: tuple[tuple[str, str], ...] = ()         # files put aside (renamed), before the writes
    commands: tuple[tuple[str, ...], ...] = ()     # guest programs to run, in order
    notes: tuple[str, ...] = ()
    diff: str = ""                     # unified diff of every write

    @property
    def backups(self) -> tuple[str, ...]:
        """The files this change overwrites (to be backed up first)."""
        return tuple(w.path for w in self.writes if w.old is not None)


# --- the interface ------------------------------------------------------------------

class BootLoader(ABC):
    """One boot loader kind, as found in one guest (`config` is the file or directory found)."""

    kind: ClassVar[str]                        # "grub-legacy", "grub2", "bls": reported, never tested outside
    config_paths: ClassVar[tuple[str, ...]] = ()
    # What the boot loader itself does when the default entry's files are
    # missing, or when no entry is left: a clause for the diagnosis ("" when
    # it is the kernel that fails later, not the boot loader).
    missing_file_clause: ClassVar[str] = ""
    no_entry_clause: ClassVar[str] = ""
    # The boot code it puts in the MBR (rescue.guest.bootcode's name for it), and
    # the command that puts it back from a rescue shell.
    mbr_loader: ClassVar[str] = "grub2"
    install_command: ClassVar[str] = "grub2-install /dev/sda"

    def __init__(self, config: str):
        self.config = config

    @classmethod
    def find(cls, files: ConfigFiles) -> str | None:
        """The configuration this kind boots from, if the guest has one."""
        return next((path for path in cls.config_paths if files.text(path) is not None), None)

    @abstractmethod
    def menu(self, files: ConfigFiles) -> Menu:
        """The entries and the default, read from the configuration."""

    @abstractmethod
    def guest_path(self, entry: MenuEntry, path: str, layout: BootLayout) -> str | None:
        """The guest path of a file an entry names, as this boot loader resolves it."""

    def set_default_hint(self, index: int, entry_id: str | None = None) -> str:
        """The operator's step to make entry `index` (of id `entry_id`, where it has one) the default."""
        return f"Set default={index} in {self.config}"

    @abstractmethod
    def console_edits(self, files: ConfigFiles) -> list[tuple[str, Callable[[str], str]]]:
        """(file, rewrite) pairs that put the boot loader and the kernel on the serial console."""

    @abstractmethod
    def plan_kernel(self, request: KernelEntryRequest, files: ConfigFiles, layout: BootLayout,
                    commands: Callable[[str], str | None]) -> BootLoaderPlan:
        """The change that boots `request.uname_r` by default; raises RescueError when refused.

        `commands(name)` is the guest path of a guest program, None when absent.
        """


def backup_name(path: str, stamp: str) -> str:
    """Where a repair keeps the file it overwrites: beside it, stamped."""
    return f"{path}.vmrescue-{stamp}"


def not_a_config(data: bytes) -> str | None:
    """Why the bytes of a boot loader configuration file are no configuration at all, or None.

    An empty file, or one holding NUL bytes or mostly control characters: blocks
    of another file after a crash, or a file overwritten by mistake. Such a file
    is reported as damaged rather than parsed into "no entries".
    """
    if not data:
        return "is empty (0 bytes)"
    sample = data[:64 * 1024]
    nuls = sample.count(0)
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13)) + sample.count(127)
    if nuls or controls * 20 > len(sample):
        what = f"{nuls} NUL bytes" if nuls else f"{controls} control characters"
        return f"holds binary data, not text ({what} in its first {len(sample)} bytes)"
    return None


def on_boot_filesystem(path: str | None, layout: BootLayout) -> str | None:
    """A path relative to the filesystem holding /boot (GRUB 2, BLS) as a guest path."""
    if not path:
        return None
    if layout.boot_is_separate and not path.startswith("/boot/"):
        return "/boot" + (path if path.startswith("/") else "/" + path)
    return path if path.startswith("/") else "/" + path


def split_cr(line: str) -> tuple[str, str]:
    """A line and its CR, so that a rewrite keeps a CRLF file's line endings."""
    return (line[:-1], "\r") if line.endswith("\r") else (line, "")


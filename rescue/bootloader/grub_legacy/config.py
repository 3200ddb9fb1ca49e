"""Read a GRUB legacy (0.97) grub.conf / menu.lst. No I/O.

The GRUB legacy reader follows what stage2 itself does when it reads the
menu file (stage2.c get_line_from_config, cmdline.c skip_to):

* carriage returns are dropped, tabs become spaces, and a backslash at the
  end of a line joins it to the next;
* a "#" is a comment only as the first non-blank character of a line;
* the command name ends at a blank or "="; blanks and "=" signs after it
  are skipped, so "default=0", "default 0" and "default = 0" are the same;
* lines before the first "title" are global settings; from "title" on,
  lines belong to that menu entry; unknown commands are skipped by GRUB.

Nothing here raises on bad input: whatever parses is returned, and what
GRUB would trip over is described in `errors`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GrubConfig", "GrubMenuEntry", "parse_grub_legacy", "parse_grub_device", "split_grub_path",
           "split_path_args"]

# GRUB 0.97 builtins plus the distribution patches seen on EL guests
# (splashimage, foreground, background) and SUSE (gfxmenu).
_KNOWN_COMMANDS = frozenset("""
    blocklist boot bootp cat chainloader clear cmp color configfile debug
    default device dhcp displayapm displaymem dump embed fallback find fstest
    geometry halt help hiddenmenu hide ifconfig impsprobe initrd install
    ioprobe kernel lock makeactive map md5crypt module modulenounzip pager
    partnew parttype password pause quit rarp read reboot root rootnoverify
    savedefault serial setkey setup terminal terminfo testload testvbe
    tftpserver timeout title unhide uppermem vbeprobe
    splashimage foreground background gfxmenu
""".split())

# Commands that only make sense inside a menu entry: before the first
# "title" GRUB does not run them at boot.
_ENTRY_ONLY = frozenset({"kernel", "initrd", "module", "modulenounzip",
                         "chainloader", "boot", "makeactive", "savedefault"})

_MAX_TEXT = 4 * 1024 * 1024     # a real grub.conf is a few KiB
_MAX_ERRORS = 50
_GRUB_LINE_MAX = 1500           # stage2 reads config lines into a 1500-byte buffer
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class GrubMenuEntry:
    index: int
    title: str
    root: str | None = None        # device set by root/rootnoverify when the image loads
    kernel: str | None = None      # path as written; Xen: the hypervisor (xen.gz)
    kernel_args: str = ""
    initrd: str | None = None
    modules: tuple[tuple[str, str], ...] = ()   # (path, args) of module lines
    chainloader: str | None = None
    rootnoverify: str | None = None
    savedefault: bool = False
    lines: tuple[tuple[str, str], ...] = ()     # every command, in order
    kind: str = "other"            # "linux", "xen", "chainloader", "other"

    @property
    def linux_kernel(self) -> str | None:
        """The Linux kernel this entry boots: the kernel line, or for Xen
        the dom0 kernel (first module). None for other kinds."""
        if self.kind == "linux":
            return self.kernel
        if self.kind == "xen":
            return self.modules[0][0] if self.modules else None
        return None

    @property
    def linux_args(self) -> str:
        """The Linux command line (for Xen, the first module's arguments)."""
        if self.kind == "linux":
            return self.kernel_args
        if self.kind == "xen":
            return self.modules[0][1] if self.modules else ""
        return ""

    @property
    def linux_initrd(self) -> str | None:
        """The Linux initrd (for Xen, the second module)."""
        if self.kind == "linux":
            return self.initrd
        if self.kind == "xen":
            return self.modules[1][0] if len(self.modules) > 1 else None
        return None


@dataclass(frozen=True)
class GrubConfig:
    default: int | None = None
    default_saved: bool = False        # "default saved": the index is in /boot/grub/default
    fallback: int | None = None
    timeout: int | None = None
    hiddenmenu: bool = False
    splashimage: str | None = None
    password: str | None = None        # raw arguments, e.g. "--md5 $1$..."
    serial: str | None = None
    terminal: str | None = None
    global_lines: tuple[tuple[str, str], ...] = ()
    entries: tuple[GrubMenuEntry, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def default_entry(self) -> GrubMenuEntry | None:
        """The entry `default` names, if it exists. (GRUB itself boots
        entry 0 when the default is past the end.)"""
        if self.default is None or not 0 <= self.default < len(self.entries):
            return None
        return self.entries[self.default]


def _logical_lines(text: str):
    """Yield (line number, line) as stage2 sees them: CRs dropped, tabs as
    spaces, backslash-newline joined, leading blanks stripped."""
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), 1):
        raw = raw.replace("\r", "").replace("\t", " ")
        if not buf:
            start = number
        if raw.endswith("\\"):
            buf.append(raw[:-1] + " ")
            continue
        buf.append(raw)
        yield start, "".join(buf).lstrip(" ")
        buf = []
    if buf:
        yield start, "".join(buf).lstrip(" ")


def _split_command(line: str) -> tuple[str, str]:
    # skip_to(1, ...): the name ends at a blank or "="; blanks and "=" after
    # it are skipped.
    m = re.match(r"([^ =]*)[ =]*", line)
    assert m is not None  # the pattern matches every string
    return m.group(1), line[m.end():].rstrip(" ")


def _parse_number(arg: str) -> int | None:
    # safe_parse_maxint: decimal, or hex with 0x; stops at the first non-digit.
    word = arg.split(" ", 1)[0] if arg else ""
    m = re.match(r"0[xX]([0-9a-fA-F]+)|([0-9]+)", word)
    if not m:
        return None
    return int(m.group(1), 16) if m.group(1) else int(m.group(2))


def _first_word(arg: str) -> str:
    return arg.split(" ", 1)[0] if arg else ""


def split_path_args(arg: str) -> tuple[str | None, str]:
    """(file, rest) of "kernel [--opt ...] file args": leading --options
    (--type=..., --no-mem-option, --force) are GRUB's, not the path."""
    rest = arg.strip(" ")
    while rest.startswith("--"):
        _opt, _, rest = rest.partition(" ")
        rest = rest.lstrip(" ")
    if not rest:
        return None, ""
    path, _, args = rest.partition(" ")
    return path, args.strip(" ")


class _EntryBuilder:
    def __init__(self, index: int, title: str) -> None:
        self.index = index
        self.title = title
        self.lines: list[tuple[str, str]] = []
        self.root: str | None = None
        self.root_at_load: str | None = None
        self.loaded = False
        self.rootnoverify: str | None = None
        self.kernel: str | None = None
        self.kernel_args = ""
        self.initrd: str | None = None
        self.modules: list[tuple[str, str]] = []
        self.chainloader: str | None = None
        self.savedefault = False

    def _mark_load(self) -> None:
        # The root that resolves a path is the one set before the command.
        if not self.loaded:
            self.loaded = True
            self.root_at_load = self.root

    def add(self, key: str, arg: str, err) -> None:
        self.lines.append((key, arg))
        if key == "root":
            self.root = _first_word(arg) or None
        elif key == "rootnoverify":
            self.rootnoverify = _first_word(arg) or None
            self.root = self.rootnoverify
        elif key == "kernel":
            self._mark_load()
            path, args = split_path_args(arg)
            if path is None:
                err("'kernel' without a file")
            if self.kernel is not None:
                err("a second 'kernel' line replaces the first")
            self.kernel, self.kernel_args = path, args
        elif key == "initrd":
            path = _first_word(arg)
            if not path:
                err("'initrd' without a file")
            self.initrd = path or None
        elif key in ("module", "modulenounzip"):
            path, args = split_path_args(arg)
            if path is None:
                err(f"'{key}' without a file")
            else:
                self.modules.append((path, args))
        elif key == "chainloader":
            self._mark_load()
            path, _args = split_path_args(arg)
            self.chainloader = path
        elif key == "savedefault":
            self.savedefault = True

    def build(self) -> GrubMenuEntry:
        if self.chainloader is not None:
            kind = "chainloader"
        elif self.kernel is not None:
            base = split_grub_path(self.kernel)[1].rsplit("/", 1)[-1]
            kind = "xen" if base.startswith("xen") else "linux"
        else:
            kind = "other"
        return GrubMenuEntry(
            index=self.index,
            title=self.title,
            root=self.root_at_load if self.loaded else self.root,
            kernel=self.kernel,
            kernel_args=self.kernel_args,
            initrd=self.initrd,
            modules=tuple(self.modules),
            chainloader=self.chainloader,
            rootnoverify=self.rootnoverify,
            savedefault=self.savedefault,
            lines=tuple(self.lines),
            kind=kind,
        )


def parse_grub_legacy(text: str) -> GrubConfig:
    """Parse a GRUB legacy grub.conf / menu.lst. Never raises.

    `default` is reported as written, even past the last entry. An entry's
    `root` is the device set (by root or rootnoverify) before its kernel or
    chainloader line, i.e. the one GRUB resolves that path against; None
    when the path is resolved against GRUB's own boot partition.
    """
    errors: list[str] = []
    dropped = 0

    def error(message: str) -> None:
        nonlocal dropped
        if len(errors) < _MAX_ERRORS:
            errors.append(message)
        else:
            dropped += 1

    if not isinstance(text, str):
        return GrubConfig(errors=("configuration is not text",))
    if len(text) > _MAX_TEXT:
        error(f"file is {len(text)} characters long; only the first {_MAX_TEXT} were read")
        text = text[:_MAX_TEXT]
    if "\x00" in text:
        error("file contains NUL bytes: it may be damaged (e.g. zeroed blocks after a crash)")

    settings: dict = {}        # GrubConfig fields set by global commands
    global_lines: list[tuple[str, str]] = []
    entries: list[GrubMenuEntry] = []
    current: _EntryBuilder | None = None

    for number, line in _logical_lines(text):
        if not line or line.startswith("#"):
            continue
        key, arg = _split_command(line)
        if _CONTROL.search(line):
            if key != "title":
                error(f"line {number}: control characters or binary data; line skipped")
                continue
            # GRUB shows such a title as it is: the entry still begins here, or
            # its kernel line would be taken for the previous entry's.
            error(f"line {number}: the title holds control characters (terminal escapes?)")
        if len(line) > _GRUB_LINE_MAX:
            error(f"line {number}: {len(line)} characters long; GRUB reads only the "
                  f"first {_GRUB_LINE_MAX}")

        def err(message: str, number: int = number) -> None:
            error(f"line {number}: {message}")

        if key == "title":
            if current is not None:
                entries.append(current.build())
            current = _EntryBuilder(len(entries), arg)
            continue
        if key not in _KNOWN_COMMANDS:
            err(f"unknown command '{key[:40]}' (GRUB skips it)")
        if current is not None:
            current.add(key, arg, err)
            continue

        global_lines.append((key, arg))
        if key in _ENTRY_ONLY:
            err(f"'{key}' before the first 'title' belongs to no entry; GRUB ignores it")
        elif key == "default":
            saved = _first_word(arg) == "saved"
            settings["default_saved"] = saved
            settings["default"] = None if saved else _parse_number(arg)
            if not saved and settings["default"] is None:
                err(f"default '{arg[:40]}' is not a number")
        elif key in ("timeout", "fallback"):
            value = _parse_number(arg)
            if value is None:
                err(f"{key} '{arg[:40]}' is not a number")
            settings[key] = value
        elif key == "hiddenmenu":
            settings["hiddenmenu"] = True
        elif key == "splashimage":
            settings["splashimage"] = _first_word(arg) or None
        elif key in ("password", "serial", "terminal"):
            settings[key] = arg

    if current is not None:
        entries.append(current.build())
    if dropped:
        errors.append(f"... and {dropped} more problems not listed")

    return GrubConfig(**settings, global_lines=tuple(global_lines),
                      entries=tuple(entries), errors=tuple(errors))


_DEVICE_RE = re.compile(r"\(hd(\d+)(?:,(\d+))?(?:,[a-h])?\)")


def parse_grub_device(text: str) -> tuple[int, int | None] | None:
    """(disk, partition or None) of a GRUB legacy hard-disk name:
    "(hd0,0)" -> (0, 0), "(hd1)" -> (1, None); None for anything else
    (floppies, network, garbage). Partitions count from 0 in GRUB legacy."""
    m = _DEVICE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        return None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else None)


def split_grub_path(path: str) -> tuple[str | None, str]:
    """Split a GRUB file name into its device and path:
    "(hd0,0)/vmlinuz" -> ("(hd0,0)", "/vmlinuz"); "/vmlinuz" -> (None, "/vmlinuz");
    "(hd0,0)+1" -> ("(hd0,0)", "+1")."""
    if path.startswith("("):
        end = path.find(")")
        if end > 0:
            return path[:end + 1], path[end + 1:]
    return None, path

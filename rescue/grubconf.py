"""Read boot loader configuration: GRUB legacy (0.97) grub.conf/menu.lst, a
minimal GRUB2 grub.cfg, Boot Loader Spec entries and grubenv. No I/O.

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

__all__ = [
    "GrubConfig",
    "GrubMenuEntry",
    "parse_grub_legacy",
    "parse_grub_device",
    "split_grub_path",
    "kernel_arg",
    "Grub2Config",
    "Grub2Entry",
    "parse_grub2_cfg",
    "BlsEntry",
    "parse_bls_entry",
    "parse_grubenv",
]

# --- GRUB legacy -------------------------------------------------------------

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


def _split_path_args(arg: str) -> tuple[str | None, str]:
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
            path, args = _split_path_args(arg)
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
            path, args = _split_path_args(arg)
            if path is None:
                err(f"'{key}' without a file")
            else:
                self.modules.append((path, args))
        elif key == "chainloader":
            self._mark_load()
            path, _args = _split_path_args(arg)
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


def _kernel_words(args: str) -> list[str]:
    # The kernel's next_arg(): blanks separate words except inside double
    # quotes; the quotes themselves are removed.
    words, word, quoted, in_word = [], [], False, False
    for c in args:
        if c == '"':
            quoted = not quoted
            in_word = True
            continue
        if c.isspace() and not quoted:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            continue
        word.append(c)
        in_word = True
    if in_word:
        words.append("".join(word))
    return words


def kernel_arg(args: str, name: str) -> str | None:
    """The value of kernel parameter `name` in a command line, e.g.
    kernel_arg("ro root=/dev/VolGroup00/LogVol00 rhgb", "root").

    The last occurrence wins, as in the kernel. A bare flag ("ro", "single")
    gives ""; an absent one None. Words after "--" belong to init, not the
    kernel, and are not searched.
    """
    name = name.rstrip("=")
    value = None
    for word in _kernel_words(args or ""):
        if word == "--":
            break
        key, sep, val = word.partition("=")
        if key == name:
            value = val if sep else ""
    return value


# --- GRUB2 ---------------------------------------------------------------------

@dataclass(frozen=True)
class Grub2Entry:
    index: int                     # position in its menu (top level, or its submenu)
    title: str
    kernel: str | None
    kernel_args: str
    initrd: str | None             # the last initrd file (microcode images come first)
    parent: int | None = None      # top-level index of the submenu holding it
                                   # (GRUB names it "parent>index")


@dataclass(frozen=True)
class Grub2Config:
    default: str | None            # as written: "0", "1>2", a title, "${saved_entry}"
    entries: tuple[Grub2Entry, ...] = ()
    errors: tuple[str, ...] = ()


def _script_words(line: str) -> list[tuple[str, bool]]:
    """Split a grub.cfg line into (word, was_quoted) pairs: single quotes are
    literal, double quotes and backslashes escape, "#" at a word start
    begins a comment, an unquoted ";" is its own word."""
    words: list[tuple[str, bool]] = []
    word: list[str] = []
    quoted = in_word = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal word, quoted, in_word
        if in_word:
            words.append(("".join(word), quoted))
        word, quoted, in_word = [], False, False

    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n:
            word.append(line[i + 1])
            in_word = True
            i += 2
            continue
        if c == "'":
            end = line.find("'", i + 1)
            end = n if end < 0 else end
            word.append(line[i + 1:end])
            quoted = in_word = True
            i = end + 1
            continue
        if c == '"':
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] in '"\\$':
                    i += 1
                word.append(line[i])
                i += 1
            quoted = in_word = True
            i += 1
            continue
        if c.isspace():
            flush()
        elif c == "#" and not in_word:
            break
        elif c == ";":
            flush()
            words.append((";", False))
        else:
            word.append(c)
            in_word = True
        i += 1
    flush()
    return words


def _commands(words: list[tuple[str, bool]]):
    """Split a line's words into commands at ";", after an opening "{" and
    around a closing "}", so one-line blocks ("menuentry 'x' { linux /v; }")
    read like multi-line ones."""
    command: list[tuple[str, bool]] = []
    for w in words:
        if w == (";", False):
            if command:
                yield command
            command = []
        elif w == ("{", False):
            command.append(w)
            yield command
            command = []
        elif w == ("}", False):
            if command:
                yield command
            yield [w]
            command = []
        else:
            command.append(w)
    if command:
        yield command


_LINUX_CMDS = frozenset({"linux", "linux16", "linuxefi"})
_INITRD_CMDS = frozenset({"initrd", "initrd16", "initrdefi"})


def parse_grub2_cfg(text: str) -> Grub2Config:
    """A minimal grub.cfg reader: the menuentry (and submenu) blocks with
    their linux/initrd lines, and `set default=`. Scripting (if, functions,
    variables) is not evaluated; `${...}` values are returned as written.
    When several `set default=` lines exist, the last one wins, except the
    one-shot "${next_entry}" of grub2-reboot. Never raises."""
    default: str | None = None
    entries: list[Grub2Entry] = []
    errors: list[str] = []
    # Each open block: [kind, info]; kind is "menuentry", "submenu" or "other".
    stack: list[list] = []
    top_index = 0

    def in_kind(kind: str) -> list | None:
        for block in reversed(stack):
            if block[0] == kind:
                return block
        return None

    if not isinstance(text, str):
        return Grub2Config(None, (), ("configuration is not text",))
    for number, line in enumerate(text[:_MAX_TEXT].splitlines(), 1):
        for cmd in _commands(_script_words(line)):
            name, name_quoted = cmd[0]
            opens = len(cmd) > 1 and cmd[-1] == ("{", False)
            if name == "}" and not name_quoted:
                if stack:
                    finished = stack.pop()
                    if finished[0] == "menuentry":
                        entries.append(Grub2Entry(**finished[1]))
                else:
                    errors.append(f"line {number}: '}}' without an open block")
                continue
            if name in ("menuentry", "submenu") and not name_quoted:
                title = cmd[1][0] if len(cmd) > 1 and cmd[1] != ("{", False) else ""
                parent_sub = in_kind("submenu")
                if in_kind("menuentry"):
                    errors.append(f"line {number}: {name} inside a menuentry")
                if parent_sub is not None:
                    index = parent_sub[1]["children"]
                    parent_sub[1]["children"] += 1
                    parent = parent_sub[1]["index"]
                else:
                    index, parent = top_index, None
                    top_index += 1
                if name == "menuentry":
                    info = dict(index=index, title=title, kernel=None, kernel_args="",
                                initrd=None, parent=parent)
                else:
                    info = dict(index=index, children=0)
                if opens:
                    stack.append([name, info])
                else:
                    errors.append(f"line {number}: {name} without '{{' on the same line")
                continue
            if opens:
                stack.append(["other", None])      # function bodies and the like
                continue
            entry = in_kind("menuentry")
            if name in _LINUX_CMDS and entry is not None and len(cmd) > 1:
                entry[1]["kernel"] = cmd[1][0]
                entry[1]["kernel_args"] = " ".join(w for w, _q in cmd[2:])
            elif name in _INITRD_CMDS and entry is not None and len(cmd) > 1:
                entry[1]["initrd"] = cmd[-1][0]
            elif name == "set" and len(cmd) > 1 and cmd[1][0].startswith("default="):
                value = cmd[1][0][len("default="):]
                if value != "${next_entry}":
                    default = value
    if stack:
        errors.append(f"{len(stack)} block(s) not closed at the end of the file")
        for block in stack:
            if block[0] == "menuentry":
                entries.append(Grub2Entry(**block[1]))
    return Grub2Config(default, tuple(entries), tuple(errors))


# --- Boot Loader Spec entries and grubenv -------------------------------------

@dataclass(frozen=True)
class BlsEntry:
    title: str | None
    version: str | None
    linux: str | None
    initrd: str | None             # the last initrd line (microcode images come first)
    options: str                   # all options lines joined; may hold "$kernelopts"


def parse_bls_entry(text: str) -> BlsEntry:
    """Parse one /boot/loader/entries/*.conf file ("key value" lines).
    Repeated options lines are joined, as the spec says. Never raises."""
    values: dict[str, str] = {}
    options: list[str] = []
    for line in text.splitlines() if isinstance(text, str) else ():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "options":
            if value:
                options.append(value)
        else:
            values[key] = value
    return BlsEntry(
        title=values.get("title"),
        version=values.get("version"),
        linux=values.get("linux"),
        initrd=values.get("initrd"),
        options=" ".join(options),
    )


def parse_grubenv(text: str) -> dict[str, str]:
    """The variables of a GRUB2 environment block (/boot/grub2/grubenv):
    "key=value" lines, with the "#" padding ignored. Never raises."""
    env: dict[str, str] = {}
    for line in text.splitlines() if isinstance(text, str) else ():
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep and key:
            env[key] = value
    return env

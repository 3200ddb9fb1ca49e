"""grub.cfg read without running it: the menu's blocks and the script around them. No I/O.

GRUB 2's script is a small shell: this reader tokenises it (quotes, escapes,
";", one-line blocks) and keeps what decides the boot, without evaluating
conditions or expanding variables:

* menuentry and submenu blocks (title, --id or $menuentry_id_option 'id',
  --class), with their linux/linux16/linuxefi and initrd/initrd16/initrdefi
  lines, `set root=` and `search ... --set=root`;
* `set default=` (a number, a title, an id, "${saved_entry}", "1>2" paths into
  submenus) and whether the grub2-reboot one-shot ("${next_entry}") is handled;
* `load_env` (the grubenv next to grub.cfg is read), `set name=value` lines
  before the menu (those inside an `if` count only when nothing else set the
  name, as 10_linux's `if [ -z "${kernelopts}" ]` fallback), and where
  RHEL's `blscfg` command adds the Boot Loader Spec entries;
* `search --set=VAR` and `configfile` at the top level: the EL9 ESP stub.

Nothing here raises on bad input: whatever parses is returned, and what GRUB
would trip over is described in `errors`.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from rescue.bootloader.base import split_cr
from rescue.bootloader.cmdline import MARK, with_console

__all__ = ["Grub2Config", "Grub2Entry", "Search", "default_grub", "parse_grub2_cfg", "serial_grub2", "GRUB2_SERIAL"]

GRUB2_SERIAL = ("serial --unit=0 --speed=115200", "terminal_input serial console", "terminal_output serial console")
_MAX_TEXT = 4 * 1024 * 1024
_LINUX_CMDS = frozenset({"linux", "linux16", "linuxefi"})
_INITRD_CMDS = frozenset({"initrd", "initrd16", "initrdefi"})
_SEARCH_KINDS = {"--fs-uuid": "fs-uuid", "-u": "fs-uuid", "--label": "label", "-l": "label",
                 "--file": "file", "-f": "file"}


@dataclass(frozen=True)
class Search:
    """A `search` command: which filesystem it looks for, and the variable it sets."""
    kind: str                      # "fs-uuid", "label", "file"
    value: str                     # the UUID, label or file name
    sets: str = "root"


@dataclass(frozen=True)
class Grub2Entry:
    index: int                     # position in its menu (top level, or its submenu)
    title: str
    kernel: str | None
    kernel_args: str
    initrd: str | None             # the last initrd file (microcode images come first)
    parent: int | None = None      # top-level index of the submenu holding it
                                   # (GRUB names it "parent>index")
    id: str | None = field(default=None, compare=False)           # --id / $menuentry_id_option 'id'
    initrds: tuple[str, ...] = field(default=(), compare=False)   # every initrd file, in order
    root: str | None = field(default=None, compare=False)         # set root='hd0,msdos1'
    search: Search | None = field(default=None, compare=False)    # search ... --set=root inside the entry
    linux_command: str | None = field(default=None, compare=False)  # "linux16", "linuxefi" ...
    span: tuple[int, int] = field(default=(0, 0), compare=False)    # first and last line (1-based)

    @property
    def path(self) -> str:
        """How GRUB's `default` names it: "2", or "1>0" inside a submenu."""
        return str(self.index) if self.parent is None else f"{self.parent}>{self.index}"


@dataclass(frozen=True)
class Grub2Config:
    default: str | None            # as written: "0", "1>2", a title, "${saved_entry}"
    entries: tuple[Grub2Entry, ...] = ()
    errors: tuple[str, ...] = ()
    next_entry: bool = False       # 00_header's one-shot `set default="${next_entry}"` is there
    load_env: bool = False         # `load_env` reads the grubenv beside grub.cfg
    variables: tuple[tuple[str, str], ...] = ()     # top-level `set name=value`, in no `if`
    fallbacks: tuple[tuple[str, str], ...] = ()     # top-level `set` inside an `if`: when nothing else sets it
    blscfg_at: int | None = None   # top-level entries before RHEL's `blscfg` command; None: no blscfg
    searches: tuple[Search, ...] = ()               # top-level search commands (10_linux's, the ESP stub's)
    configfile: str | None = None  # a top-level `configfile PATH` (the EL9 ESP stub)
    prefix: str | None = None      # a top-level `set prefix=...`
    default_lines: tuple[int, ...] = ()             # lines of the `set default=` that `default` comes from


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
    """Read grub.cfg's menu and the script lines that decide it (see the module docstring). Never raises.

    When several `set default=` lines exist, the last one wins, except the
    one-shot "${next_entry}" of grub2-reboot, which is recorded as `next_entry`.
    """
    if not isinstance(text, str):
        return Grub2Config(None, (), ("configuration is not text",))
    reader = _Reader()
    for number, line in enumerate(text[:_MAX_TEXT].splitlines(), 1):
        for cmd in _commands(_script_words(line)):
            reader.command(number, cmd)
    return reader.finish()


class _Reader:
    def __init__(self) -> None:
        self.default: str | None = None
        self.next_entry = False
        self.load_env = False
        self.entries: list[Grub2Entry] = []
        self.errors: list[str] = []
        self.stack: list[list] = []          # open blocks: [kind, info]; kind "menuentry", "submenu", "other"
        self.top_index = 0
        self.if_depth = 0
        self.sets: dict[str, str] = {}
        self.fallbacks: dict[str, str] = {}  # set inside an if: applies when nothing else set the name
        self.blscfg_at: int | None = None
        self.searches: list[Search] = []
        self.configfile: str | None = None
        self.prefix: str | None = None
        self.default_lines: list[int] = []
        self.number = 0

    def in_kind(self, kind: str) -> list | None:
        return next((block for block in reversed(self.stack) if block[0] == kind), None)

    def command(self, number: int, cmd: list[tuple[str, bool]]) -> None:
        self.number = number
        name, name_quoted = cmd[0]
        opens = len(cmd) > 1 and cmd[-1] == ("{", False)
        if name == "}" and not name_quoted:
            self._close(number)
        elif name in ("menuentry", "submenu") and not name_quoted:
            self._open_entry(number, name, cmd, opens)
        elif opens:
            self.stack.append(["other", None])      # function bodies and the like
        elif name == "if" and not name_quoted:
            self.if_depth += 1
        elif name == "fi" and not name_quoted:
            self.if_depth = max(0, self.if_depth - 1)
        elif self.in_kind("menuentry") is not None:
            self._entry_command(name, cmd)
        elif not self.in_kind("other") and not self.in_kind("submenu"):
            self._top_command(name, cmd)

    def _close(self, number: int) -> None:
        if not self.stack:
            self.errors.append(f"line {number}: '}}' without an open block")
            return
        finished = self.stack.pop()
        if finished[0] == "menuentry":
            finished[1]["span"] = (finished[1]["span"][0], number)
            self.entries.append(Grub2Entry(**finished[1]))

    def _open_entry(self, number: int, name: str, cmd: list[tuple[str, bool]], opens: bool) -> None:
        args = [w for w, _q in cmd[1:-1 if opens else None]]
        title = args[0] if args else ""
        parent_sub = self.in_kind("submenu")
        if self.in_kind("menuentry"):
            self.errors.append(f"line {number}: {name} inside a menuentry")
        if parent_sub is not None:
            index = parent_sub[1]["children"]
            parent_sub[1]["children"] += 1
            parent = parent_sub[1]["index"]
        else:
            index, parent = self.top_index, None
            self.top_index += 1
        if name == "menuentry":
            info = dict(index=index, title=title, kernel=None, kernel_args="", initrd=None, parent=parent,
                        id=_entry_id(args[1:]), initrds=(), root=None, search=None, linux_command=None,
                        span=(number, number))
        else:
            info = dict(index=index, children=0)
        if opens:
            self.stack.append([name, info])
        else:
            self.errors.append(f"line {number}: {name} without '{{' on the same line")

    def _entry_command(self, name: str, cmd: list[tuple[str, bool]]) -> None:
        entry = self.in_kind("menuentry")[1]
        words = [w for w, _q in cmd]
        if name in _LINUX_CMDS and len(cmd) > 1:
            entry["kernel"] = words[1]
            entry["kernel_args"] = " ".join(words[2:])
            entry["linux_command"] = name
        elif name in _INITRD_CMDS and len(cmd) > 1:
            entry["initrd"] = words[-1]
            entry["initrds"] = tuple(words[1:])
        elif name == "set" and len(words) > 1 and words[1].startswith("root="):
            entry["root"] = words[1][len("root="):]
        elif name == "search":
            found = _search(words)
            if found is not None and found.sets == "root":
                entry["search"] = found

    def _top_command(self, name: str, cmd: list[tuple[str, bool]]) -> None:
        words = [w for w, _q in cmd]
        if name == "set" and len(words) > 1 and "=" in words[1]:
            key, _, value = words[1].partition("=")
            if key == "default":
                if value == "${next_entry}":
                    self.next_entry = True
                else:
                    self.default = value
                    self.default_lines.append(self.number)
            elif key == "prefix":
                self.prefix = value
            elif self.if_depth:
                self.fallbacks.setdefault(key, value)
            else:
                self.sets[key] = value
        elif name == "load_env":
            self.load_env = True
        elif name == "blscfg" and self.blscfg_at is None:
            self.blscfg_at = self.top_index
        elif name == "search":
            found = _search(words)
            if found is not None:
                self.searches.append(found)
        elif name == "configfile" and len(words) > 1:
            self.configfile = words[1]

    def finish(self) -> Grub2Config:
        if self.stack:
            self.errors.append(f"{len(self.stack)} block(s) not closed at the end of the file")
            for block in self.stack:
                if block[0] == "menuentry":
                    block[1]["span"] = (block[1]["span"][0], self.number)
                    self.entries.append(Grub2Entry(**block[1]))
        return Grub2Config(self.default, tuple(self.entries), tuple(self.errors), self.next_entry, self.load_env,
                           tuple(self.sets.items()), tuple(self.fallbacks.items()), self.blscfg_at,
                           tuple(self.searches), self.configfile, self.prefix, tuple(self.default_lines))


def _entry_id(args: list[str]) -> str | None:
    """The id a menuentry's arguments give: --id X, --id=X, or 10_linux's $menuentry_id_option 'X'."""
    for i, word in enumerate(args):
        if word in ("--id", "$menuentry_id_option", "${menuentry_id_option}") and i + 1 < len(args):
            return args[i + 1]
        if word.startswith("--id="):
            return word[len("--id="):]
    return None


def _search(words: list[str]) -> Search | None:
    """search [--no-floppy] --fs-uuid|--label|--file [--set=VAR] [--hint...] VALUE."""
    kind, sets, value = "file", "root", None
    i = 1
    while i < len(words):
        word = words[i]
        if word in _SEARCH_KINDS:
            kind = _SEARCH_KINDS[word]
        elif word.startswith("--set="):
            sets = word[len("--set="):]
        elif word in ("--set", "-s"):
            if i + 1 < len(words) and not words[i + 1].startswith("-"):
                sets = words[i + 1]
                i += 1
        elif not word.startswith("-"):
            value = word
        i += 1
    return Search(kind, value, sets) if value else None


def default_grub(text: str) -> dict[str, str]:
    """/etc/default/grub's assignments, unquoted (nothing is evaluated: GRUB_DISTRIBUTOR is a command)."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and re.fullmatch(r"GRUB_[A-Z_]+", name):
            try:
                words = shlex.split(value, posix=True)
            except ValueError:
                continue
            values[name] = " ".join(words)
    return values


def serial_grub2(text: str) -> str:
    """grub.cfg with GRUB 2 on the serial console and `console=` on every linux line.

    The guest's own terminal commands are rewritten in place rather than
    removed, since removing one could leave an empty if-block.
    """
    out = [f"# {MARK}: GRUB and the kernels on the serial console", *GRUB2_SERIAL]
    for line in text.split("\n"):
        body, cr = split_cr(line)
        stripped = body.lstrip()
        indent = body[:len(body) - len(stripped)]
        word = stripped.split(None, 1)[0] if stripped else ""
        if word == "serial":
            line = indent + GRUB2_SERIAL[0] + cr
        elif word in ("terminal_input", "terminal_output"):
            line = f"{indent}{word} serial console{cr}"
        elif word in ("linux", "linux16", "linuxefi"):
            line = with_console(body) + cr
        out.append(line)
    return "\n".join(out)

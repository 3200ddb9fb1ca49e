"""GRUB 2: grub.cfg as grub2-mkconfig writes it (EL7), read without running its script.

The reader (`parse_grub2_cfg`) takes the menuentry and submenu blocks with
their linux/initrd lines and `set default=`; paths are relative to the
filesystem holding /boot. A reinstalled kernel's entry is added by the
guest's own grubby, as its kernel package's scriptlet would have.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rescue.bootloader.base import (
    BootLayout, BootLoader, BootLoaderPlan, ConfigFiles, KernelEntryRequest, Menu, MenuEntry, on_boot_filesystem,
    split_cr,
)
from rescue.bootloader.bls import BLS_DIR, serial_bls
from rescue.bootloader.grubby import grubby_plan
from rescue.bootloader.cmdline import MARK, with_console

__all__ = ["Grub2", "Grub2Config", "Grub2Entry", "parse_grub2_cfg", "serial_grub2"]

GRUB2_SERIAL = ("serial --unit=0 --speed=115200", "terminal_input serial console", "terminal_output serial console")
_MAX_TEXT = 4 * 1024 * 1024


class Grub2(BootLoader):
    kind = "grub2"
    config_paths = ("/boot/grub2/grub.cfg", "/boot/grub/grub.cfg")

    def menu(self, files: ConfigFiles) -> Menu:
        config = parse_grub2_cfg(files.text(self.config) or "")
        entries = tuple(MenuEntry(e.index, e.title, "linux", e.kernel, e.kernel_args or "", e.initrd)
                        for e in config.entries)
        return Menu(entries, default_index(config.default, entries), errors=config.errors)

    def guest_path(self, entry: MenuEntry, path: str, layout: BootLayout) -> str | None:
        return on_boot_filesystem(path, layout)

    def console_edits(self, files: ConfigFiles) -> list[tuple[str, Callable[[str], str]]]:
        # grub.cfg's entries, and the BLS entries its blscfg command reads on EL8+
        edits: list[tuple[str, Callable[[str], str]]] = [(path, serial_grub2) for path in self.config_paths]
        edits += [(f"{BLS_DIR}/{name}", serial_bls) for name in files.names(BLS_DIR) if name.endswith(".conf")]
        return edits

    def plan_kernel(self, request: KernelEntryRequest, files: ConfigFiles, layout: BootLayout,
                    commands: Callable[[str], str | None]) -> BootLoaderPlan:
        return grubby_plan(request, commands)


def default_index(default: str | None, entries: tuple[MenuEntry, ...]) -> int | None:
    """The entry `set default=` names: a number, or a title; the first when unset or unknown."""
    if default is None or default == "":
        return 0 if entries else None
    if default.isdigit():
        return int(default)
    for e in entries:
        if e.title == default:
            return e.index
    return 0 if entries else None


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

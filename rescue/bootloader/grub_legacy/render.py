"""Render a planned grub.conf safely, and show the change as a diff. No I/O.

Safety of the rendering:

* Guest text (titles, arguments, paths, comments) only ever reaches the
  template as *values*; it is never template source. A title such as
  "{{ 7*7 }}" is written as those nine characters.
* GRUB 0.97 reads its menu one line at a time (stage2.c
  get_line_from_config): a newline in a value would start a new command, and
  a backslash at the end of a line joins the next line to it. Values with a
  control character (newline, carriage return, NUL, ESC, ...) are refused
  with `UNSAFE_GRUB_VALUE`, and so is any rendered line that ends with a
  backslash or is longer than the 1500-byte buffer stage2 reads lines into.
  Tabs in lines kept from the guest's file become spaces, as GRUB reads them.
"""
from __future__ import annotations

import difflib
import re

from rescue.bootloader import templates
from rescue.bootloader.templates import UNSAFE, UNSAFE_OR_TAB, char_name, shown, unsafe

__all__ = ["GRUB_LINE_MAX", "TEMPLATE_NAME", "check_guest_text", "check_value", "finish", "shown",
           "unified_diff", "unsafe"]

TEMPLATE_NAME = "grub.conf.j2"
GRUB_LINE_MAX = 1500          # stage2 reads config lines into a 1500-byte buffer

_TITLE_LINE = re.compile(r"[ \t]*title(?=[ \t=]|$)[ \t=]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
# Global commands anaconda writes as "key=value"; the others as "key value".

def check_value(value: str, what: str, where: str) -> None:
    """Refuse a value that could break a grub.conf line or a terminal."""
    bad = UNSAFE_OR_TAB.search(value)
    if bad:
        raise unsafe(f"{where}: {what} {shown(value)!r} contains {char_name(bad.group())}; "
                      f"GRUB reads one command per line, so it cannot be written into grub.conf.")
    if value.endswith("\\"):
        raise unsafe(f"{where}: {what} {shown(value)!r} ends with a backslash, which would join "
                      f"the next line of grub.conf to it.")


def check_guest_text(text: str) -> None:
    """Refuse a grub.conf whose kept lines hold control characters.

    The parser skips such lines (GRUB would trip on them), so rendering from
    the parsed model would silently lose them: refuse instead, naming the line
    and the entry. A CR before the newline (a file saved with CRLF endings) is
    a line ending, not data; comments inside the menu are not carried over and
    are not checked.
    """
    title: str | None = None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        stripped = line.lstrip(" \t")
        if stripped.startswith("#") and title is not None:
            continue
        m = _TITLE_LINE.match(line)
        if m:
            title = line[m.end():].rstrip(" \t\r")
        bad = UNSAFE.search(line)
        if bad:
            where = "the global settings" if title is None else f'entry "{shown(title)}"'
            raise unsafe(f"grub.conf line {number} (in {where}) contains {char_name(bad.group())}: "
                          f"{shown(line)!r}. It may be damaged (zeroed blocks after a crash) or "
                          f"hostile; vmrescue does not rewrite it.")


def _finalize(value):
    """Last guard on every value the template prints (see _check_value)."""
    if isinstance(value, str):
        bad = UNSAFE_OR_TAB.search(value)
        if bad:
            raise unsafe(f"a value for grub.conf contains {char_name(bad.group())}: "
                          f"{shown(value)!r}.")
    return value


def _check_rendered(text: str) -> None:
    title = None
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith("title"):
            title = line[len("title"):].strip()
        where = "the global settings" if title is None else f'entry "{shown(title)}"'
        size = len(line.encode("utf-8", "surrogateescape"))
        if size > GRUB_LINE_MAX:
            raise unsafe(f"line {number} of the new grub.conf (in {where}) is {size} bytes long; "
                          f"GRUB 0.97 reads only the first {GRUB_LINE_MAX}.")
        if line.endswith("\\"):
            raise unsafe(f"line {number} of the new grub.conf (in {where}) ends with a backslash, "
                          f"which would join the next line to it.")



# --- the template ---------------------------------------------------------------

def _environment():
    return templates.environment(_finalize)


def _render(context: dict) -> str:
    return _environment().get_template(TEMPLATE_NAME).render(**context)


def finish(context: dict) -> str:
    text = _render(context)
    _check_rendered(text)
    return text



# --- showing the change -------------------------------------------------------------

def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines also breaks at \x0b, \x1c, U+2028 ...
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def unified_diff(old: str | None, new: str, path: str) -> str:
    """A unified diff from the current file (None or "" when it is gone) to
    the planned one, as `diff -u` prints it; "" when they are the same."""
    out = []
    for line in difflib.unified_diff(_lines(old or ""), _lines(new),
                                     fromfile=path if old is not None else "/dev/null",
                                     tofile=path, fromfiledate="current",
                                     tofiledate="planned by vmrescue"):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)

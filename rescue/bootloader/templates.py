"""The Jinja templates boot loader files are rendered from (templates/ in the source tree).

The top-level `templates/` directory is the source; a built wheel ships it as
the package data `rescue/templates/` (pyproject.toml maps it there), found
with importlib.resources. A checkout or an editable install has no such
directory inside the package and reads the source directory itself.

Guest text only ever reaches a template as values, never as template source;
`finalize` is the last guard on every value a template prints.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import jinja2

from rescue.errors import Exit, RescueError

__all__ = ["TEMPLATES_DIR", "UNSAFE", "UNSAFE_OR_TAB", "char_name", "environment", "refuse_controls", "shown",
           "unsafe"]

# Control characters (C0 but TAB, DEL, C1) and the Unicode line and paragraph
# separators, which some readers take for line breaks.
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
UNSAFE_OR_TAB = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CHAR_NAMES = {"\x00": "a NUL byte", "\n": "a newline", "\r": "a carriage return",
               "\t": "a tab", "\x1b": "an escape character (ESC)"}


def _templates_dir() -> Path:
    packaged = resources.files("rescue").joinpath("templates")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "templates"


TEMPLATES_DIR = _templates_dir()


def _spaced(value: str) -> str:
    """" value" when there is a value, "" otherwise: `kernel /v{{ args|spaced }}`."""
    return f" {value}" if value else ""


@functools.lru_cache(maxsize=None)
def environment(finalize: Callable[[Any], Any]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=False,                 # boot loader files are not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters["spaced"] = _spaced
    return env


def shown(text: str, limit: int = 60) -> str:
    """A value as it can be quoted in a message: control characters, and the bidi overrides
    and other format characters that would reorder the terminal's line, as '?'."""
    text = UNSAFE_OR_TAB.sub("?", text)
    text = "".join("?" if unicodedata.category(c) in ("Cf", "Zl", "Zp") else c for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def char_name(char: str) -> str:
    return _CHAR_NAMES.get(char, f"the control character U+{ord(char):04X}")


def unsafe(message: str) -> RescueError:
    return RescueError(
        "UNSAFE_GRUB_VALUE", message,
        "Nothing was written. Fix the value (for a line of the guest's grub.conf: edit it "
        "with virt-edit, or move the file away so that a fresh one is written) and run again.",
        Exit.REFUSED)


def refuse_controls(value):
    """A template's `finalize` for files GRUB reads a line at a time: a value with a line break
    or another control character is refused (UNSAFE_GRUB_VALUE), never written."""
    if isinstance(value, str):
        bad = UNSAFE_OR_TAB.search(value)
        if bad:
            raise unsafe(f"a value for a boot loader file contains {char_name(bad.group())}: {shown(value)!r}.")
    return value

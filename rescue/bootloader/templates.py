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
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import jinja2

__all__ = ["TEMPLATES_DIR", "environment"]


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
